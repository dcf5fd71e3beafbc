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
