import Foundation
import ModelplaneAPI
import Testing

@Suite struct JSONParserTests {
    @Test func parsesWhatJSONDecoderParses() throws {
        let text = #"""
            {"a": [1, -2, 3.5, 1e3, -0.25E-2, 9223372036854775807, 18446744073709551616],
             "b": {"nested": [true, false, null, {}, []]},
             "s": "tab\t nl\n quote\" back\\ slash\/ é \u00e9 \ud83d\ude00 \u0001",
             "empty": ""}
            """#
        let ours = try JSONValue(parsing: text)
        let theirs = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        // Foundation reads 1e3 as an integer, we as a double; the JSON they write is the same.
        #expect(ours.canonicalText == theirs.canonicalText)
        #expect(ours["a"] == [1, -2, 3.5, 1000.0, -0.0025, .int(Int64.max), 18446744073709551616.0])
        #expect(ours["s"]?.stringValue == "tab\t nl\n quote\" back\\ slash/ é é 😀 \u{1}")
    }

    @Test func roundTripsCanonicalText() throws {
        let value = SchemaConformanceTests.everyFieldSet()
        let json = try JSONValueCoding.encode(value)
        #expect(try JSONValue(parsing: json.canonicalText) == json)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "1.", "-", "1e", "tru", "\"unterminated", "\"bad \\x escape\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"raw \u{1} control\"", "[1] 2", "{'a': 1}", "NaN", "[1 2]",
    ])
    func refusesInvalidJSON(text: String) {
        #expect(throws: JSONParseError.self) { _ = try JSONValue(parsing: text) }
    }

    @Test func refusesDeepNestingQuickly() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect { _ = try JSONValue(parsing: deep) } throws: { ($0 as? JSONParseError)?.message == "nesting deeper than 512 levels" }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { _ = try JSONValue(parsing: fine) }
    }

    @Test func readsIntegersAtEveryLength() throws {
        // The parser reads up to 18 characters itself and hands longer ones to Int64(_:).
        var digits = ""
        for length in 1...19 {
            digits += String(length % 10)
            for text in [digits, "-" + digits] {
                #expect(try JSONValue(parsing: text) == .int(Int64(text)!), "\(text)")
            }
        }
        #expect(try JSONValue(parsing: "-0") == .int(0))
        #expect(try JSONValue(parsing: "-9223372036854775808") == .int(.min))
        #expect(try JSONValue(parsing: "9223372036854775808") == .double(9223372036854775808.0))
    }

    @Test func nestedMembersAndItemsStayWithTheirParents() throws {
        // Members and items of every level share one scratch stack each.
        let text = #"{"a": [{"x": 1, "y": [2, {"z": []}]}, 3], "b": {"c": {"d": "e"}, "f": [[], [4]]}, "a2": 5, "a": "last wins"}"#
        let expected: JSONValue = [
            "a": "last wins", "b": ["c": ["d": "e"], "f": [[], [4]]], "a2": 5,
        ]
        #expect(try JSONValue(parsing: text) == expected)
        #expect(try JSONValue(parsing: #"[{"x": [1, {"y": 2}]}, [3, [4]], {}]"#) == [["x": [1, ["y": 2]]], [3, [4]], [:]])
        #expect(try JSONValue(parsing: Data(#"{"k": "caf\u00e9 \u00e9t\u00e9", "s": "é"}"#.utf8)) == ["k": "café été", "s": "é"])
    }

    @Test func refusesInvalidUTF8InStrings() {
        #expect(throws: JSONParseError.self) { _ = try JSONValue(parsing: [0x22, 0xFF, 0x22]) }
    }
}
