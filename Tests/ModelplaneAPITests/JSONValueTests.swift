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
}
