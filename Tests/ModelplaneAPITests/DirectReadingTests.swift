import Foundation
import Testing

@testable import ModelplaneAPI

/// The direct readers must accept exactly what the synthesized `Decodable` conformances accept,
/// and read it the same. The oracles are the synthesized conformances themselves, run by our
/// decoder with direct reading off (the values) and by Foundation's `JSONDecoder` over the same
/// text (what is accepted; it reads free-form numbers as doubles, so its values are not compared):
/// every member of a deployment with every field set is removed, nulled, given each wrong type,
/// or joined by an unknown sibling, and all must agree on each result.
@Suite struct DirectReadingTests {
    static func oracle<T: Decodable>(_ value: JSONValue, as type: T.Type = ModelDeployment.self) -> T? {
        try? JSONValueDecoder(directReading: false).decode(type, from: value)
    }

    static func foundationAccepts<T: Decodable>(_ value: JSONValue, as type: T.Type = ModelDeployment.self) -> Bool {
        (try? JSONDecoder().decode(type, from: Data(value.canonicalBytes))) != nil
    }

    static func direct<T: DirectlyReadable>(_ value: JSONValue, as type: T.Type = ModelDeployment.self) -> T? { try? T(direct: value) }

    /// Every (path, mutated document) pair: each member at any depth, and each array element.
    static func mutations(of value: JSONValue, at path: [String] = []) -> [(String, JSONValue)] {
        let replacements: [JSONValue] = [.null, "text", 7, 7.0, 7.5, -1, true, [], [:], ["x"], ["k": "v"]]
        var result: [(String, JSONValue)] = []
        func replacing(_ child: JSONValue, with build: (JSONValue?) -> JSONValue, label: String) {
            result.append(("\(label) removed", build(nil)))
            for replacement in replacements { result.append(("\(label) = \(replacement.canonicalText)", build(replacement))) }
            for (inner, mutated) in mutations(of: child, at: [label]) { result.append((inner, build(mutated))) }
        }
        switch value {
        case .object(let members):
            result.append(("\(path.joined(separator: ".")) + unknown member", .object(members.merging(["zzUnknown": 1]) { a, _ in a })))
            for (key, child) in members {
                replacing(
                    child,
                    with: { replacement in
                        var copy = members
                        copy[key] = replacement
                        return .object(copy)
                    }, label: (path + [key]).joined(separator: "."))
            }
        case .array(let items):
            for (index, child) in items.enumerated() {
                replacing(
                    child,
                    with: { replacement in
                        var copy = items
                        if let replacement { copy[index] = replacement } else { copy.remove(at: index) }
                        return .array(copy)
                    }, label: (path + ["[\(index)]"]).joined(separator: "."))
            }
        default: break
        }
        return result
    }

    @Test func readsWhatDecodableReads() throws {
        var md = SchemaConformanceTests.everyFieldSet()
        md.status?.conditions?.append(
            Condition(type: "Degraded", status: .unknown, lastTransitionTime: "2026-01-01T00:00:00Z", reason: "Waiting", message: "…"))
        let value = try JSONValueCoding.encode(md)
        #expect(Self.direct(value) == md)
        #expect(try JSONValueCoding.decode(ModelDeployment.self, from: value) == md)
        #expect(try JSONValueDecoder(directReading: false).decode(ModelDeployment.self, from: value) == md)
        for fixture in [Fixtures.triton(), Fixtures.sagemaker()] {
            #expect(Self.direct(try JSONValueCoding.encode(fixture)) == fixture)
        }
    }

    /// An Event (what the controller records on every transition) with every field set.
    static func everyEventFieldSet() -> Event {
        let regarding = ObjectReference(
            apiVersion: "modelplane.dev/v1alpha1", kind: "ModelDeployment", namespace: "team", name: "fraud", uid: "u-1", resourceVersion: "12")
        var event = Event(
            metadata: ObjectMeta(name: "fraud.1f", namespace: "team", labels: ["a": "b"]), eventTime: "2026-11-28T10:00:00.000000Z",
            reportingController: "modelplane.dev/controller", reportingInstance: "host-1", action: "Load", reason: "Loaded", regarding: regarding,
            note: "loaded fraud versions 2", type: .warning)
        event.regarding.fieldPath = "spec.model"
        event.series = Event.Series(count: 3, lastObservedTime: "2026-11-28T10:05:00.000000Z")
        event.related = ObjectReference(kind: "Lease", name: "modelplane")
        return event
    }

    static func checkAcceptsAndRefuses<T: Codable & Equatable & DirectlyReadable>(_ value: T, minimum: Int) throws {
        let mutations = Self.mutations(of: try JSONValueCoding.encode(value))
        #expect(mutations.count > minimum)
        var disagreements: [String] = []
        for (label, mutated) in mutations {
            let expected = Self.oracle(mutated, as: T.self)
            if Self.direct(mutated, as: T.self) != expected { disagreements.append(label) }
            if Self.foundationAccepts(mutated, as: T.self) != (expected != nil) { disagreements.append("Foundation: \(label)") }
            // Through the decoder (direct first, Decodable when it declines) the answer is the same.
            if (try? JSONValueCoding.decode(T.self, from: mutated)) != expected { disagreements.append("decoder: \(label)") }
        }
        #expect(disagreements.isEmpty, "\(T.self): \(disagreements.prefix(20))")
    }

    @Test func acceptsAndRefusesExactlyWhatDecodableDoes() throws {
        try Self.checkAcceptsAndRefuses(SchemaConformanceTests.everyFieldSet(), minimum: 1_000)
        try Self.checkAcceptsAndRefuses(Self.everyEventFieldSet(), minimum: 300)
        #expect(Self.direct(try JSONValueCoding.encode(Self.everyEventFieldSet()), as: Event.self) == Self.everyEventFieldSet())
    }

    /// The direct writers (`DirectWriting.swift`) against Foundation's `JSONEncoder`, for every
    /// value the mutations above leave readable: each optional present or absent somewhere.
    static func checkWrites<T: Codable>(_ value: T, minimum: Int) throws {
        var compared = 0
        var disagreements: [String] = []
        for (label, mutated) in Self.mutations(of: try JSONValueCoding.encode(value)) {
            guard let decoded = Self.oracle(mutated, as: T.self) else { continue }
            compared += 1
            // Through text on both sides: a free-form 7.0 is the JSON number 7 either way.
            let ours = try JSONValue(parsing: JSONValueEncoder().encode(decoded).canonicalBytes)
            if try ours != JSONValue(parsing: JSONEncoder().encode(decoded)) { disagreements.append(label) }
        }
        #expect(compared > minimum)
        #expect(disagreements.isEmpty, "\(T.self): \(disagreements.prefix(20))")
    }

    @Test func writesWhatEncodableWrites() throws {
        try Self.checkWrites(SchemaConformanceTests.everyFieldSet(), minimum: 100)
        try Self.checkWrites(Self.everyEventFieldSet(), minimum: 30)
    }
}
