import Foundation
import Manifests
import ModelplaneAPI
import Testing

let valid = """
    apiVersion: modelplane.dev/v1alpha1
    kind: ModelDeployment
    metadata:
      name: fraud-detector
    spec:
      model:
        name: fraud
        version: "3"
      backend:
        triton:
          url: http://127.0.0.1:8000
    """

func problems(_ yaml: String) -> [String] {
    ManifestReader().parse(yaml, file: "md.yaml").problems.map(\.description)
}

@Suite struct ManifestReaderTests {
    @Test func readsAValidManifest() throws {
        let set = ManifestReader().parse(valid, file: "md.yaml")
        #expect(set.problems == [])
        let md = try #require(set.deployments.first).deployment
        #expect(md.metadata.name == "fraud-detector")
        #expect(md.spec.model.version == "3")
        #expect(md.spec.backend.triton?.url == "http://127.0.0.1:8000")
        #expect(set.deployments.first?.location.description == "md.yaml:1:1")
    }

    @Test func readsEveryExample() {
        let set = ManifestReader().read(paths: [repositoryRoot + "/manifests/examples"])
        #expect(set.problems.map(\.description) == [])
        #expect(set.deployments.count >= 3)
    }

    @Test func readsMultipleDocumentsAndSkipsEmptyOnes() {
        let two = valid + "\n---\n---\n" + valid.replacingOccurrences(of: "fraud-detector", with: "second") + "\n---\n"
        let set = ManifestReader().parse(two, file: "md.yaml")
        #expect(set.problems == [])
        #expect(set.deployments.map(\.deployment.metadata.name) == ["fraud-detector", "second"])
        #expect(set.deployments[1].location.line == 14)
    }

    @Test func unknownFieldPointsAtTheKey() {
        let yaml = valid.replacingOccurrences(of: "    version: \"3\"", with: "    version: \"3\"\n    verison: \"4\"")
        #expect(problems(yaml) == ["md.yaml:9:5: spec.model.verison: unknown field: field not declared in schema (known fields: name, version, uri)"])
    }

    @Test func wrongTypeSaysWhatWasExpected() {
        let yaml = valid.replacingOccurrences(of: "version: \"3\"", with: "version: 3")
        #expect(problems(yaml) == ["md.yaml:8:14: spec.model.version: Invalid type: expected string, got integer 3 (quote it: \"3\")"])
    }

    @Test func yaml11BooleansAreBooleansLikeKubectl() {
        let yaml = valid.replacingOccurrences(of: "name: fraud\n", with: "name: yes\n")
        #expect(problems(yaml) == ["md.yaml:7:11: spec.model.name: Invalid type: expected string, got boolean"])
    }

    @Test func missingRequiredFieldPointsAtTheParent() {
        let yaml = valid.replacingOccurrences(of: "    version: \"3\"\n", with: "")
        #expect(problems(yaml).first?.hasPrefix("md.yaml:7:5: spec.model.version: Required value") == true)
    }

    @Test func semanticErrorsPointAtTheValue() {
        let yaml = valid.replacingOccurrences(of: "name: fraud-detector", with: "name: Fraud_Detector")
        let found = problems(yaml)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("md.yaml:4:9: metadata.name: Invalid value: \"Fraud_Detector\": a lowercase RFC 1123 label") == true)
    }

    @Test func enumErrorsListTheChoices() {
        let yaml = valid + "\n  rollout:\n    strategy: Rolling\n"
        #expect(
            problems(yaml) == [
                "md.yaml:13:15: spec.rollout.strategy: Unsupported value: \"Rolling\": supported values: \"Immediate\", \"BlueGreen\", \"Canary\""
            ])
    }

    @Test func duplicateKeysAreErrors() {
        let yaml = valid.replacingOccurrences(of: "    version: \"3\"", with: "    version: \"3\"\n    version: \"4\"")
        #expect(problems(yaml) == ["md.yaml:9:5: spec.model.version: duplicate field \"version\""])
    }

    @Test func malformedYAMLGivesLineAndColumn() {
        let found = problems("apiVersion: modelplane.dev/v1alpha1\nkind: [ModelDeployment\nmetadata: {}\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("md.yaml:3:") == true, "\(found)")
    }

    @Test func otherKindsAreRefusedClearly() {
        let found = problems("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
        #expect(found == ["md.yaml:1:13: unsupported object apps/v1, Kind=Deployment: Modelplane reads modelplane.dev/v1alpha1 ModelDeployment objects"])
        #expect(problems("- a\n- b\n") == ["md.yaml:1:1: expected a Kubernetes object (a mapping with apiVersion and kind), got array"])
    }

    @Test func everyProblemInADocumentIsReported() {
        let yaml =
            valid
            .replacingOccurrences(of: "version: \"3\"", with: "version: 3")
            .replacingOccurrences(of: "      url: http://127.0.0.1:8000", with: "      url: http://127.0.0.1:8000\n      port: 8000")
        #expect(problems(yaml).count == 2)
    }

    @Test func schemaAndSemanticProblemsAreReportedTogetherInDocumentOrder() {
        let yaml =
            valid
            .replacingOccurrences(of: "name: fraud-detector", with: "name: Fraud_Detector")
            .replacingOccurrences(of: "    version: \"3\"", with: "    version: \"3\"\n    verison: \"4\"")
            .replacingOccurrences(of: "url: http://127.0.0.1:8000", with: "url: http://admin:hunter2@127.0.0.1:8000")
        let found = problems(yaml)
        #expect(found.map { $0.split(separator: ":").prefix(3).joined(separator: ":") } == ["md.yaml:4:9", "md.yaml:9:5", "md.yaml:12:12"])
        #expect(!found.joined().contains("hunter2"), "credentials must never be echoed")
        #expect(found.last?.contains("\"http://***@127.0.0.1:8000\"") == true)
    }

    @Test func duplicateObjectsAcrossFilesAreReported() throws {
        let dir = try TemporaryDirectory()
        try valid.write(toFile: dir.path + "/a.yaml", atomically: true, encoding: .utf8)
        try valid.write(toFile: dir.path + "/b.yml", atomically: true, encoding: .utf8)
        try "not: a manifest".write(toFile: dir.path + "/notes.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.path + "/nested/deeper", withIntermediateDirectories: true)
        try valid.replacingOccurrences(of: "fraud-detector", with: "nested").write(
            toFile: dir.path + "/nested/deeper/c.json.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/nested/link.yaml", withDestinationPath: dir.path + "/nested/deeper/c.json.yaml")
        let set = ManifestReader().read(paths: [dir.path])
        #expect(set.deployments.map(\.deployment.metadata.name) == ["fraud-detector", "nested"])
        #expect(
            set.problems.map(\.description) == [
                "\(dir.path)/b.yml:1:1: metadata.name: duplicate ModelDeployment default/fraud-detector; first defined at \(dir.path)/a.yaml:1:1",
                "\(dir.path)/nested/link.yaml:1:1: metadata.name: duplicate ModelDeployment default/nested; first defined at \(dir.path)/nested/deeper/c.json.yaml:1:1",
            ])
    }

    @Test func missingPathIsAProblem() {
        let set = ManifestReader().read(paths: ["/nonexistent/x.yaml"])
        // A file-level problem: no line and column.
        #expect(set.problems.map(\.description) == ["/nonexistent/x.yaml: no such file or directory"])
    }

    @Test func jsonIsAccepted() {
        let json =
            #"{"apiVersion":"modelplane.dev/v1alpha1","kind":"ModelDeployment","metadata":{"name":"a"},"spec":{"model":{"name":"m","version":"1"},"backend":{"triton":{"url":"http://h:1"}}}}"#
        #expect(ManifestReader().parse(json, file: "a.json").deployments.count == 1)
    }

    @Test func modelConfigKeepsArbitraryJSON() throws {
        let yaml = valid + "\n      modelConfig:\n        max_batch_size: 8\n        parameters: {k: {string_value: v}}\n"
        let set = ManifestReader().parse(yaml, file: "md.yaml")
        #expect(set.problems == [])
        let config = try #require(set.deployments.first?.deployment.spec.backend.triton?.modelConfig)
        #expect(config["max_batch_size"] == .int(8))
        #expect(config["parameters"]?["k"]?["string_value"] == "v")
    }
}

@Suite struct HostileInputTests {
    @Test func billionLaughsIsRefusedFast() {
        var yaml = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            yaml += "a\(i): &a\(i) [\(refs)]\n"
        }
        let start = ContinuousClock.now
        let found = problems(yaml)
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(found.count == 1)
        #expect(found.first?.contains("possible alias bomb") == true, "\(found)")
    }

    /// A large manifest without aliases is no bomb: a List of 8,000 deployments (what `kubectl
    /// get -o json` writes; ~200,000 nodes) is read whole, and past the node limit a document is
    /// refused naming that limit, not aliases.
    @Test func largePlainJSONIsReadAndTheNodeLimitIsNamed() {
        let items = (0..<8_000).map { i in
            #"{"apiVersion": "modelplane.dev/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": "m\#(i)", "labels": {"team": "a"}}, "#
                + #""spec": {"model": {"name": "m\#(i)", "version": "1"}, "backend": {"triton": {"url": "http://triton:8000"}}, "#
                + #""rollout": {"strategy": "Immediate"}}}"#
        }
        let list = #"{"apiVersion": "v1", "kind": "List", "items": ["# + items.joined(separator: ",") + "]}"
        let set = ManifestReader().parse(list, file: "md.json")
        #expect(set.problems == [])
        #expect(set.deployments.count == 8_000 && set.deployments.last?.deployment.metadata.name == "m7999")
        // One small alias in so large a document is no bomb either (an unknown field, here, is
        // what it gets refused for).
        let aliased = list.replacingOccurrences(
            of: #"{"apiVersion": "v1", "kind": "List", "#, with: #"{"x-labels": &l {"team": "a"}, "x-again": *l, "apiVersion": "v1", "kind": "List", "#)
        #expect(ManifestReader().parse(aliased, file: "md.json").problems.filter { $0.message.contains("alias") } == [])

        let numbers = Array(repeating: "1", count: 1_000_001).joined(separator: ",")
        let found = problems(#"{"apiVersion": "modelplane.dev/v1alpha1", "kind": "ModelDeployment", "data": [\#(numbers)]}"#)
        #expect(found.count == 1)
        #expect(found.first?.contains("more than 1000000 nodes (the limit for one document)") == true, "\(found)")
        #expect(found.first?.contains("alias") == false, "\(found)")
    }

    @Test func listItemsAreReadWithTheirOwnPositions() {
        let yaml = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: modelplane.dev/v1alpha1
              kind: ModelDeployment
              metadata: {name: a}
              spec: {model: {name: a, version: "1"}, backend: {triton: {url: "http://triton:8000"}}}
            - apiVersion: modelplane.dev/v1alpha1
              kind: ModelDeployment
              metadata: {name: b}
              spec: {model: {name: b, version: "1"}, backend: {triton: {url: "http://triton:8000"}}, bogus: 1}
            """
        #expect(
            problems(yaml) == [
                "md.yaml:11:90: spec.bogus: unknown field: field not declared in schema (known fields: model, backend, rollout, revisionHistoryLimit, shadow, capture)"
            ])
        // A List whose items are not a list is an error, not an empty List (a sync would prune).
        #expect(problems("apiVersion: v1\nkind: List\nitems: {a: 1}\n") == ["md.yaml:3:8: items: expected a list of objects"])
        #expect(problems("apiVersion: v1\nkind: List\nitems: []\n") == [])
    }

    @Test func modestAliasesAreFine() {
        let yaml = valid.replacingOccurrences(of: "name: fraud\n", with: "name: &n fraud\n") + "\n  rollout: {}\n"
        #expect(problems(yaml) == [])
    }

    @Test func deepNestingIsRefused() {
        let yaml = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let found = problems(yaml)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("md.yaml:1:") == true)
        #expect(found.first?.hasSuffix("nesting deeper than 64 levels") == true, "\(found)")
        let moderate = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        #expect(problems(moderate) == ["md.yaml:1:65: nesting deeper than 64 levels"])
    }

    @Test func hugeFilesAreRefusedWithoutReadingThemWhole() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/huge.yaml"
        let line = Data("# \(String(repeating: "x", count: 1021))\n".utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        for _ in 0..<(9 * 1024) { handle.write(line) }
        try handle.close()
        let found = ManifestReader().read(paths: [path]).problems.map(\.description)
        #expect(found == ["\(path): larger than the 8 MiB limit for one manifest file; split it"])
    }

    @Test func nonUTF8BytesArePinpointed() {
        var bytes = Array(valid.utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "f"))!  // "fraud-detector", line 4
        bytes[at] = 0xFF
        let found = ManifestReader().parse(bytes, file: "md.yaml").problems.map(\.description)
        #expect(found == ["md.yaml:4:9: invalid UTF-8 byte sequence: manifests must be UTF-8 text"])
    }

    @Test func controlCharactersAreRejected() {
        let found = problems("a: \u{7}\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("md.yaml:1:") == true)
    }

    @Test func tooManyDocumentsAreRefused() {
        var limits = ManifestLimits()
        limits.maxDocuments = 3
        let found = ManifestReader(limits: limits).parse(String(repeating: "---\na: 1\n", count: 5), file: "md.yaml").problems
        #expect(found.map(\.message) == ["more than 3 documents in one file"])
    }
}
