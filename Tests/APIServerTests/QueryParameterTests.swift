import APIServer
import Foundation
import ModelplaneAPI
import ModelplaneTestSupport
import ResourceStore
import Testing

/// List and watch parameters read as kube-apiserver reads them: numbers strictly (a malformed one
/// is a 400 naming it), booleans in every spelling clients send.
@Suite struct QueryParameterTests {
    static let collection = "/apis/modelplane.dev/v1alpha1/namespaces/default/modeldeployments"

    let store: ResourceStore
    let api: KubernetesAPI

    init() throws {
        store = try ResourceStore(path: NSTemporaryDirectory() + "modelplane-query-" + UUID().uuidString + ".db")
        api = KubernetesAPI(store: store, tokens: nil)
        _ = try store.create(.modelDeployments, namespace: "default", JSONValueCoding.encode(deployment("a")))
    }

    func get(_ query: [String: String]) -> APIResponse {
        api.handle(APIRequest(method: "GET", path: Self.collection, query: query))
    }

    @Test(arguments: ["1", "true", "True", "TRUE", "t", "yes", ""]) func watchInAnySpellingWatches(_ value: String) {
        let response = get(["watch": value, "timeoutSeconds": "1"])
        guard case .stream = response.body else {
            Issue.record("watch=\(value) answered \(response.status) without a stream")
            return
        }
    }

    @Test(arguments: ["0", "false", "False", "FALSE"]) func watchFalseInAnySpellingLists(_ value: String) throws {
        let response = get(["watch": value, "allowWatchBookmarks": value])
        guard case .data(let data) = response.body else { throw PeerError("watch=\(value) answered a stream") }
        #expect(response.status == 200)
        #expect(try JSONValue(parsing: data)["kind"] == "ModelDeploymentList")
    }

    /// A namespace that is not a DNS label cannot exist: 404, for a list as for a namespace read.
    @Test func aNamespaceThatCannotExistIsNotFound() throws {
        let response = api.handle(APIRequest(method: "GET", path: "/apis/modelplane.dev/v1alpha1/namespaces/null,null/modeldeployments"))
        guard case .data(let data) = response.body else { throw PeerError("no body") }
        #expect(response.status == 404)
        #expect(try JSONValue(parsing: data)["message"] == #"namespaces "null,null" not found"#)
    }

    @Test(arguments: [("limit", "-1"), ("limit", "ten"), ("limit", "1.5"), ("timeoutSeconds", "-5"), ("timeoutSeconds", "")])
    func malformedNumbersAreRefusedByName(_ name: String, _ value: String) throws {
        let response = get([name: value])
        guard case .data(let data) = response.body else { throw PeerError("no body") }
        #expect(response.status == 400)
        let status = try JSONValue(parsing: data)
        #expect(status["reason"] == "BadRequest")
        #expect(status["message"]?.stringValue?.hasPrefix("\(name): ") == true, "\(status)")
    }
}

/// Request bodies as kube-apiserver takes them: JSON, or YAML for a create or an update (read as
/// manifests are: bounded, with the line of a problem); anything else a 415 naming what is taken.
@Suite struct ContentTypeTests {
    static let collection = QueryParameterTests.collection
    let api = KubernetesAPI(
        store: try! ResourceStore(path: NSTemporaryDirectory() + "modelplane-content-" + UUID().uuidString + ".db"), tokens: nil)

    func send(_ method: String, _ path: String, _ contentType: String, _ body: String) throws -> (Int, JSONValue) {
        let response = api.handle(APIRequest(method: method, path: path, headers: ["content-type": contentType], body: Data(body.utf8)))
        guard case .data(let data) = response.body else { throw PeerError("no body") }
        return (response.status, try JSONValue(parsing: data))
    }

    static let yaml = """
        apiVersion: modelplane.dev/v1alpha1
        kind: ModelDeployment
        metadata: {name: from-yaml}
        spec:
          model: {name: m, version: "1"}
          backend: {triton: {url: "http://triton:8000"}}
        """

    @Test func yamlCreatesAndUpdates() throws {
        var (status, object) = try send("POST", Self.collection, "application/yaml; charset=utf-8", Self.yaml)
        #expect(status == 201, "\(object)")
        #expect(object["spec"]?["model"]?["version"] == "1")
        let version = try #require(object["metadata"]?["resourceVersion"]?.stringValue)
        let update = Self.yaml.replacingOccurrences(of: "version: \"1\"", with: "version: \"2\"")
            .replacingOccurrences(of: "metadata: {name: from-yaml}", with: "metadata: {name: from-yaml, resourceVersion: \"\(version)\"}")
        (status, object) = try send("PUT", Self.collection + "/from-yaml", "application/yaml", update)
        #expect(status == 200 && object["spec"]?["model"]?["version"] == "2", "\(object)")
    }

    @Test func badYAMLIsA400WithItsLineAndAnAliasBombIsRefused() throws {
        var (status, object) = try send("POST", Self.collection, "application/yaml", "metadata: {name: x\nspec: [")
        #expect(status == 400 && object["message"]?.stringValue?.contains("not valid YAML: line ") == true, "\(object)")
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { bomb += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        (status, object) = try send("POST", Self.collection, "application/yaml", bomb)
        #expect(status == 400 && object["message"]?.stringValue?.contains("alias bomb") == true, "\(object)")
    }

    @Test func otherContentTypesAreA415NamingWhatIsTaken() throws {
        let (status, object) = try send("POST", Self.collection, "text/plain", Self.yaml)
        #expect(status == 415)
        #expect(object["reason"] == "UnsupportedMediaType")
        #expect(object["message"] == #"the content type "text/plain" is not supported: send application/json or application/yaml"#)
        // JSON, said or not, as before.
        let json =
            #"{"apiVersion": "modelplane.dev/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": "j"}, "spec": {"model": {"name": "m", "version": "1"}, "backend": {"triton": {"url": "http://triton:8000"}}}}"#
        #expect(try send("POST", Self.collection, "", json).0 == 201)
    }
}
