import Foundation
import ModelplaneAPI
import Testing

@Suite struct JSONValueDecoderTests {
    @Test func decodesWhatJSONDecoderDecodes() throws {
        let md = SchemaConformanceTests.everyFieldSet()
        let value = try JSONValueCoding.encode(md)
        #expect(try JSONValueDecoder().decode(ModelDeployment.self, from: value) == md)
        #expect(try JSONDecoder().decode(ModelDeployment.self, from: JSONEncoder().encode(md)) == md)
    }

    @Test func reportsTypeMismatchesWithTheirPath() {
        let value: JSONValue = [
            "apiVersion": "modelplane.dev/v1alpha1", "kind": "ModelDeployment", "metadata": [:],
            "spec": ["model": ["name": "m", "version": 3], "backend": [:]],
        ]
        #expect {
            _ = try JSONValueDecoder().decode(ModelDeployment.self, from: value)
        } throws: { error in
            guard case DecodingError.typeMismatch(_, let context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["spec", "model", "version"]
        }
    }

    @Test func decodesArraysIntegersAndNulls() throws {
        struct Sample: Decodable, Equatable {
            var list: [Int32]
            var nested: [[String]]
            var missing: String?
            var explicitNull: String?
            var number: Double
        }
        let value: JSONValue = ["list": [1, 2, 3], "nested": [["a"], []], "explicitNull": nil, "number": 2]
        #expect(
            try JSONValueDecoder().decode(Sample.self, from: value)
                == Sample(list: [1, 2, 3], nested: [["a"], []], missing: nil, explicitNull: nil, number: 2))
        #expect(throws: DecodingError.self) {
            try JSONValueDecoder().decode(Sample.self, from: ["list": [.int(Int64(Int32.max) + 1)], "nested": [], "number": 1])
        }
    }

    @Test func canonicalTextIsStableAndEscaped() {
        let value: JSONValue = ["b": [true, nil, 1.5], "a": "line\n\"quoted\"\u{1}"]
        #expect(value.canonicalText == #"{"a":"line\n\"quoted\"\u0001","b":[true,null,1.5]}"#)
    }

    /// The store encodes an object with a gap where its resourceVersion goes: whatever fills the
    /// gap, the text is that object's canonical text.
    @Test func canonicalTextSplitAtAPathLeavesAGapForItsValue() throws {
        var object = try JSONValueCoding.encode(Fixtures.triton())
        object["metadata"]?["resourceVersion"] = ""
        object["metadata"]?["zzz"] = "after"
        let (before, after) = try #require(object.canonicalText(splitAt: ["metadata", "resourceVersion"]))
        for value: JSONValue in ["12345", "", 7, ["nested": "x"]] {
            object["metadata"]?["resourceVersion"] = value
            #expect(before + value.canonicalText + after == object.canonicalText)
        }
        #expect(object.canonicalText(splitAt: ["metadata", "missing"]) == nil)
        #expect(object.canonicalText(splitAt: ["spec", "model", "name", "deeper"]) == nil)
    }

    /// The in-process transport checks the request size limit on this count instead of writing the
    /// text: it must be the exact length of the text.
    @Test func canonicalByteCountIsTheTextsLength() throws {
        var values: [JSONValue] = [
            nil, true, false, 0, -1, .int(Int64.min), .int(Int64.max), 1.5, -0.25, 3.0, 1e20, -1e-7, "", "é😀", "tab\t cr\r nl\n \u{0} \u{1f} \" \\ /",
            [], [:], [[], [:], [nil]], ["k\n\"": ["nested": [1, "two", 3.5]]],
        ]
        values.append(try JSONValueCoding.encode(Fixtures.triton()))
        values.append(try JSONValueCoding.encode(Fixtures.sagemaker()))
        for value in values { #expect(value.canonicalByteCount == value.canonicalBytes.count, "\(value.canonicalText)") }
    }
}

@Suite struct JSONValueEncoderTests {
    /// Foundation's encoder is the oracle: the same value, whatever the key order.
    static func viaFoundation<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONValue(parsing: JSONEncoder().encode(value))
    }

    @Test func encodesWhatJSONEncoderEncodes() throws {
        var md = SchemaConformanceTests.everyFieldSet()
        md.status = ModelDeployment.Status()
        md.status?.phase = .degraded
        md.status?.conditions = [Condition(type: "Ready", status: .false, lastTransitionTime: "2026-11-28T00:00:00Z", reason: "LoadFailed", message: "x")]
        md.status?.revisions = [.init(revision: 1, hash: "h", version: "1", createdAt: "t", cause: "created", spec: md.spec.servingRelevantJSON)]
        md.status?.sagemaker = .init(region: "us-east-1", endpoint: "e", resources: [.init(name: "n", version: "1")])
        #expect(try JSONValueEncoder().encode(md) == Self.viaFoundation(md))
        #expect(try JSONValueCoding.decode(ModelDeployment.self, json: JSONValueCoding.json(md)) == md)
        for fixture in [Fixtures.triton(), Fixtures.sagemaker()] {
            #expect(try JSONValueEncoder().encode(fixture) == Self.viaFoundation(fixture))
        }
    }

    @Test func leavesOutNilsAndKeepsExplicitNulls() throws {
        struct Sample: Encodable {
            var present: String? = "x"
            var absent: Int64? = nil
            var empty: [String: Int] = [:]
            var nested: [[Int8]] = [[1, -2], []]
            var big: UInt64 = 7
            var float: Float = 0.5
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Key.self)
                try container.encodeIfPresent(present, forKey: .present)
                try container.encodeIfPresent(absent, forKey: .absent)
                try container.encodeNil(forKey: .explicit)
                try container.encode(empty, forKey: .empty)
                try container.encode(nested, forKey: .nested)
                try container.encode(big, forKey: .big)
                try container.encode(float, forKey: .float)
                var more = container.nestedUnkeyedContainer(forKey: .more)
                var inner = more.nestedContainer(keyedBy: Key.self)
                try inner.encode("deep", forKey: .present)
            }
            enum Key: String, CodingKey { case present, absent, explicit, empty, nested, big, float, more }
        }
        let value = try JSONValueEncoder().encode(Sample())
        #expect(try value == Self.viaFoundation(Sample()))
        #expect(value == ["present": "x", "explicit": nil, "empty": [:], "nested": [[1, -2], []], "big": 7, "float": 0.5, "more": [["present": "deep"]]])
    }

    @Test func refusesWhatJSONCannotHold() {
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode(["x": Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode([UInt64.max]) }
        #expect(throws: EncodingError.self) { try JSONEncoder().encode(["x": Double.nan]) }
    }

    @Test func anObjectThatEncodesNothingIsEmpty() throws {
        struct Nothing: Encodable { func encode(to encoder: any Encoder) throws {} }
        #expect(try JSONValueEncoder().encode(["a": Nothing()]) == ["a": [:]])
        #expect(try Self.viaFoundation(["a": Nothing()]) == ["a": [:]])
    }
}
