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
    static func oracle(_ value: JSONValue) -> ModelDeployment? {
        try? JSONValueDecoder(directReading: false).decode(ModelDeployment.self, from: value)
    }

    static func foundationAccepts(_ value: JSONValue) -> Bool {
        (try? JSONDecoder().decode(ModelDeployment.self, from: Data(value.canonicalBytes))) != nil
    }

    static func direct(_ value: JSONValue) -> ModelDeployment? { try? ModelDeployment(direct: value) }

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

    @Test func acceptsAndRefusesExactlyWhatDecodableDoes() throws {
        let value = try JSONValueCoding.encode(SchemaConformanceTests.everyFieldSet())
        let mutations = Self.mutations(of: value)
        #expect(mutations.count > 1_000)
        var disagreements: [String] = []
        for (label, mutated) in mutations {
            let expected = Self.oracle(mutated)
            if Self.direct(mutated) != expected { disagreements.append(label) }
            if Self.foundationAccepts(mutated) != (expected != nil) { disagreements.append("Foundation: \(label)") }
            // Through the decoder (direct first, Decodable when it declines) the answer is the same.
            if (try? JSONValueCoding.decode(ModelDeployment.self, from: mutated)) != expected { disagreements.append("decoder: \(label)") }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(20))")
    }

    /// The direct writers (`DirectWriting.swift`) against Foundation's `JSONEncoder`, for every
    /// deployment the mutations above leave readable: each optional present or absent somewhere.
    @Test func writesWhatEncodableWrites() throws {
        let value = try JSONValueCoding.encode(SchemaConformanceTests.everyFieldSet())
        var compared = 0
        var disagreements: [String] = []
        for (label, mutated) in Self.mutations(of: value) {
            guard let md = Self.oracle(mutated) else { continue }
            compared += 1
            // Through text on both sides: a free-form 7.0 is the JSON number 7 either way.
            let ours = try JSONValue(parsing: JSONValueEncoder().encode(md).canonicalBytes)
            if try ours != JSONValue(parsing: JSONEncoder().encode(md)) { disagreements.append(label) }
        }
        #expect(compared > 100)
        #expect(disagreements.isEmpty, "\(disagreements.prefix(20))")
    }
}
