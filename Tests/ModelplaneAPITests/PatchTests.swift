import ModelplaneAPI
import Testing

@Suite struct MergePatchTests {
    /// The examples of RFC 7386, appendix A.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, #"null"#, #"null"#),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func rfc7386Examples(original: String, patch: String, expected: String) throws {
        #expect(applyMergePatch(try parse(patch), to: try parse(original)).canonicalText == expected)
    }
}

@Suite struct JSONPatchTests {
    let document: JSONValue = ["spec": ["model": ["version": "1"]], "metadata": ["labels": ["app/name": "x"], "finalizers": ["a", "b"]]]

    func apply(_ operations: String) throws -> JSONValue {
        guard case .array(let ops) = try parse(operations) else {
            Issue.record("a JSON patch is an array")
            return document
        }
        return try applyJSONPatch(ops, to: document)
    }

    @Test func appliesEachOperation() throws {
        let result = try apply(
            #"""
            [{"op":"replace","path":"/spec/model/version","value":"2"},
             {"op":"add","path":"/metadata/finalizers/-","value":"c"},
             {"op":"add","path":"/metadata/finalizers/0","value":"z"},
             {"op":"remove","path":"/metadata/labels/app~1name"},
             {"op":"copy","from":"/spec/model","path":"/spec/copied"},
             {"op":"move","from":"/spec/copied/version","path":"/spec/moved"},
             {"op":"test","path":"/spec/moved","value":"2"}]
            """#)
        #expect(result.canonicalText == #"{"metadata":{"finalizers":["z","a","b","c"],"labels":{}},"spec":{"copied":{},"model":{"version":"2"},"moved":"2"}}"#)
    }

    @Test(arguments: [
        #"[{"op":"test","path":"/spec/model/version","value":"9"}]"#,
        #"[{"op":"replace","path":"/spec/missing","value":1}]"#,
        #"[{"op":"remove","path":"/metadata/finalizers/5"}]"#,
        #"[{"op":"add","path":"/nope/deeper","value":1}]"#,
        #"[{"op":"frobnicate","path":"/spec"}]"#,
        #"[{"op":"add","path":"spec","value":1}]"#,
        #"[{"op":"move","from":"/spec","path":"/spec/model/inner"}]"#,
    ])
    func failuresLeaveNothingHalfDone(operations: String) {
        #expect(throws: PatchError.self) { _ = try apply(operations) }
    }

    @Test func aFailedTestStopsEverything() throws {
        let ops = #"[{"op":"replace","path":"/spec/model/version","value":"2"},{"op":"test","path":"/spec/model/version","value":"1"}]"#
        #expect { _ = try apply(ops) } throws: { ($0 as? PatchError)?.operation == 1 }
        #expect(document["spec"]?["model"]?["version"] == "1")
    }
}

func parse(_ text: String) throws -> JSONValue {
    try JSONDecoderShim.decode(text)
}
