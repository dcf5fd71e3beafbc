import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

/// The inference router inside a real `modelplane serve`, in front of a real tritonserver: the
/// controller publishes status.traffic, the router follows it; the official tritonclient[http]
/// works against it unchanged.
@Suite(.timeLimit(.minutes(5))) struct RouterTests {
    @Test func routesKServeV2RequestsToTheServingVersion() async throws {
        let world = try await TritonControllerTests.World(models: [TritonControllerTests.echo])
        let announced = await world.serve.waitForOutput(timeout: .seconds(30)) { $0.contains("inference router on http://127.0.0.1:") }
        #expect(announced, "\(world.serve.log)\(world.serve.errorLog)")
        let line = world.serve.log.split(separator: "\n").first { $0.contains("inference router on") } ?? ""
        let routerPort = try #require(line.split(separator: " ").first { $0.hasPrefix("http://") }?.split(separator: ":").last.flatMap { Int($0) }, "\(line)")
        let router = "http://127.0.0.1:\(routerPort)"
        // The deployment's name is what clients call; Triton's model is "echo".
        _ = try await world.kube.create(world.deployment("scorer", model: "echo", version: "2"))
        let ready = try await world.wait("scorer") { $0.status?.phase == .ready }
        #expect(ready.status?.traffic == [.init(revision: "1", version: "2", weight: 100, role: .stable)])

        let http = HTTPClient()
        defer { http.shutdown() }
        func infer(_ path: String, _ body: JSONValue, headers: HTTPHeaders = [:]) async throws -> HTTPResponse {
            var request = HTTPRequest(method: "POST", url: router + path, headers: headers, body: Data(body.canonicalText.utf8))
            request.headers.set("Content-Type", "application/json")
            return try await http.execute(request)
        }
        let input: JSONValue = ["inputs": [["name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [3.0]]]]
        // The router is ready once it has read the deployments (and while it reads them again).
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? await http.execute(HTTPRequest(url: router + "/v2/health/ready")).status) != 200, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        var answer = try await infer("/v2/models/scorer/infer", input, headers: ["X-Request-Id": "abc-1"])
        var document = try JSONValue(parsing: answer.body)
        #expect(answer.status == 200, "\(document)")
        #expect(document["model_name"] == "scorer" && document["model_version"] == "2" && document["id"] == "abc-1", "\(document)")
        let output = document["outputs"]?.arrayValue?.first?["data"]?.arrayValue?.first
        #expect(output == 6.0 || output == 6, "version 2 doubles: \(document)")
        #expect(answer.headers["Modelplane-Version"] == "2" && answer.headers["Modelplane-Revision"] == "1" && answer.headers["X-Request-Id"] == "abc-1")

        // Pinned to the version serving; a version that takes no traffic, an unknown deployment,
        // a body that is no inference request: KServe's {"error": ...} with the right status.
        answer = try await infer("/v2/models/scorer/versions/2/infer", input)
        #expect(answer.status == 200 && answer.headers["Modelplane-Version"] == "2")
        document = try JSONValue(parsing: answer.body)
        #expect(document["id"]?.stringValue?.isEmpty == false, "an id is made when none is given")
        answer = try await infer("/v2/models/scorer/versions/1/infer", input)
        document = try JSONValue(parsing: answer.body)
        #expect(answer.status == 404 && document["error"] == "version 1 of scorer takes no traffic", "\(document)")
        answer = try await infer("/v2/models/nobody/infer", input)
        document = try JSONValue(parsing: answer.body)
        #expect(answer.status == 404 && document["error"] == "no ModelDeployment default/nobody", "\(document)")
        answer = try await http.execute(HTTPRequest(method: "POST", url: router + "/v2/models/scorer/infer", body: Data("not json".utf8)))
        #expect(answer.status == 400)

        // The official client, with binary tensors both ways.
        let result = try await CommandResult.run(Peers.python, [Peers.script("router_client.py"), router, "scorer", "4"])
        #expect(result.status == 0, "\(result.stderr)")
        let said = try JSONValue(parsing: Data(result.stdout.utf8))
        #expect(said["metadata"]?["name"] == "scorer" && said["metadata"]?["versions"] == ["2"], "\(said)")
        #expect(said["model_name"] == "scorer" && said["model_version"] == "2" && said["id"] == "req-42", "\(said)")
        #expect(said["output"] == [8.0] || said["output"] == [8], "\(said)")

        // The router's metrics, through serve's /metrics: requests by deployment, revision, version,
        // role and code; an unknown deployment counted without a name.
        let token = try String(contentsOfFile: world.directory + "/token", encoding: .utf8)
        var tls = HTTPClientConfiguration()
        tls.tls = TLSConfiguration(certificateAuthority: .file(world.directory + "/ca.crt"))
        let secure = HTTPClient(configuration: tls)
        defer { secure.shutdown() }
        let metrics = String(
            decoding: try await secure.execute(
                HTTPRequest(
                    url: world.serve.baseURL.replacingOccurrences(of: "http://", with: "https://") + "/metrics", headers: ["Authorization": "Bearer \(token)"])
            ).body,
            as: UTF8.self)
        let served = metrics.split(separator: "\n").first {
            $0.hasPrefix(#"modelplane_router_requests_total{namespace="default",deployment="scorer",revision="1",version="2",role="stable",code="200"}"#)
        }
        #expect(served.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0 >= 3, "\(metrics)")
        #expect(metrics.contains(#"modelplane_router_requests_total{namespace="",deployment="",revision="",version="",role="",code="404"}"#), "\(metrics)")
        #expect(metrics.contains(#"modelplane_router_request_duration_seconds_bucket{namespace="default",deployment="scorer",revision="1""#))

        // Triton down: 503 at once, never a hang.
        try await world.triton.kill()
        let started = ContinuousClock.now
        answer = try await infer("/v2/models/scorer/infer", input)
        #expect(answer.status == 503, "\(String(decoding: answer.body, as: UTF8.self))")
        #expect(ContinuousClock.now - started < .seconds(30))
    }
}
