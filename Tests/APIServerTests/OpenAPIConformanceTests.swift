import Foundation
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

/// A third party's reading of the OpenAPI documents: schemathesis runs against every group-version
/// `modelplane serve` lists (Tests/Peers/openapi_conformance.py), with positive and negative data,
/// every check (no 5xx, status codes, content types and bodies as documented, invalid data
/// refused, valid data taken, 405 with `Allow` for undocumented methods) and the stateful phase,
/// which follows a create's links to read, replace, patch and delete what it made.
@Suite(.timeLimit(.minutes(10))) struct OpenAPIConformanceTests {
    @Test func schemathesisFindsNothingInAnyDocument() async throws {
        let directory = NSTemporaryDirectory() + "modelplane-openapi-" + UUID().uuidString
        let server = try await PeerProcess.modelplaneServe(data: directory)
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let result = try await CommandResult.run(
            try Peers.schemathesisPython, [Peers.script("openapi_conformance.py"), directory, "https://127.0.0.1:\(server.port)"])
        let report = try? JSONValue(parsing: Data(result.stdout.utf8))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        // Every group the server serves was run, each to a clean end.
        #expect(
            report?.objectValue.map { $0.keys.sorted() } == ["api/v1", "apis/coordination.k8s.io/v1", "apis/events.k8s.io/v1", "apis/modelplane.dev/v1alpha1"],
            "\(result.stdout)\(result.stderr)")
        for (document, outcome) in report?.objectValue ?? [:] {
            #expect(outcome["exit"] == 0, "\(document): \(outcome["output"]?.stringValue ?? "")")
            // The stateful phase made objects and followed links from them to the item operations
            // (how many of the links depends on how often random data makes a valid object: all of
            // them for leases and events, usually most for ModelDeployments, whose rules a schema
            // states only in part).
            // (core/v1 is read-only here: its Events are a view, its Namespaces are not stored.)
            if document == "api/v1" {
                #expect(outcome["links"] == .null, "\(document): \(outcome)")
                continue
            }
            let links = outcome["links"]?.arrayValue ?? []
            #expect(links.count == 2 && links.first != 0, "\(document): links \(links)")
        }
    }
}
