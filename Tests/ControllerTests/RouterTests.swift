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
        let router = try await world.routerURL()
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

extension RouterTests {
    /// A thousand malformed requests (bad JSON, truncated bodies, huge headers, stalled senders,
    /// nonsense binary lengths) each get a refusal or a closed connection, never an answer from
    /// the model; the router keeps serving, and its memory stays bounded.
    @Test func malformedRequestsAreRefusedAndLeaveTheRouterServing() async throws {
        let world = try await TritonControllerTests.World(
            models: [TritonControllerTests.echo], serveArguments: ["--router-idle-timeout", "2s", "--router-max-header-bytes", "16Ki"])
        let router = try await world.routerURL()
        _ = try await world.kube.create(world.deployment("scorer", model: "echo", version: "2"))
        try await world.wait("scorer") { $0.status?.phase == .ready }
        try await world.waitForRouter(router)
        #expect(try await world.infer(router, "scorer", x: 1).status == 200)
        let before = try Self.residentMiB(world.serve.pid)

        let result = try await CommandResult.run(Peers.python, [Peers.script("router_abuse.py"), router, "scorer", "170"])
        #expect(result.status == 0, "\(result.stderr)")
        let said = try JSONValue(parsing: Data(result.stdout.utf8))
        #expect(said["bad_json"] == ["400": 170], "\(said)")
        #expect(said["huge_header"]?.objectValue?.keys.allSatisfy { $0 == "431" || $0 == "400" || $0 == "closed" } == true, "\(said)")
        for kind in ["truncated", "slow"] {
            #expect(said[kind]?.objectValue?.keys.allSatisfy { $0 == "closed" || $0 == "400" || $0 == "408" } == true, "\(kind): \(said)")
        }
        // A stalled sender is let go after the idle timeout, not held forever.
        let slowest = said["seconds"]?["slow"].flatMap { value -> Double? in
            if case .double(let d) = value { return d }
            return value.int64Value.map(Double.init)
        }
        #expect((slowest ?? 99) < 10, "\(said)")
        // Binary lengths that make no sense: the JSON part is all there is, or the request is refused.
        #expect(said["bad_binary"] == ["200": 170], "an unreadable length is ignored: \(said)")
        #expect(said["binary_past_end"] == ["200": 170], "a length past the body is the whole body: \(said)")

        #expect(try await world.infer(router, "scorer", x: 1).status == 200, "still serving")
        let after = try Self.residentMiB(world.serve.pid)
        #expect(after - before < 64, "resident memory grew from \(before) to \(after) MiB")
    }

    static func residentMiB(_ pid: Int32) throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0) / 1024
    }
}

extension TritonControllerTests.World {
    /// The inference router's URL, as serve announces it.
    func routerURL() async throws -> String { try await serve.routerURL() }

    /// Waits until the router has read the deployments.
    func waitForRouter(_ router: String) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? await http.execute(HTTPRequest(url: router + "/v2/health/ready")).status) != 200, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// One inference through the router: the version that answered (its header) and the output.
    func infer(_ router: String, _ name: String, x: Double, version: String? = nil) async throws -> (status: Int, version: String?, output: Double?) {
        let body: JSONValue = ["inputs": [["name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [.double(x)]]]]
        let path = version.map { "/v2/models/\(name)/versions/\($0)/infer" } ?? "/v2/models/\(name)/infer"
        let response = try await http.execute(
            HTTPRequest(method: "POST", url: router + path, headers: ["Content-Type": "application/json"], body: Data(body.canonicalText.utf8)))
        let document = try? JSONValue(parsing: response.body)
        let output: Double? =
            switch document?["outputs"]?.arrayValue?.first?["data"]?.arrayValue?.first {
            case .double(let d)?: d
            case .int(let i)?: Double(i)
            default: nil
            }
        return (response.status, response.headers["Modelplane-Version"], output)
    }

    /// `modelplane ARGS` against this serve.
    /// The versions of `model` Triton holds ready, once they are `expected` (a version leaving the
    /// routing table unloads a moment later: the routers follow the table first); what they are
    /// after 30 s otherwise.
    func settledVersions(_ model: String, _ expected: Set<String>) async throws -> Set<String> {
        let deadline = ContinuousClock.now + .seconds(30)
        var ready = try await readyVersions(model)
        while ready != expected, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            ready = try await readyVersions(model)
        }
        return ready
    }

    func modelplane(_ arguments: String...) async throws -> CommandResult {
        try await CommandResult.run(Peers.modelplane, arguments + ["--kubeconfig", directory + "/kubeconfig"])
    }
}

/// Canary steps, weighted splits and shadow traffic through the router, against a real
/// tritonserver holding several versions at once.
@Suite(.timeLimit(.minutes(5))) struct CanaryRouterTests {
    /// Version V answers x·V, so an answer says which version gave it.
    static let scorer = TritonPeer.Model(name: "scorer", versions: [1, 2, 3, 4])

    static func canary(_ world: TritonControllerTests.World, version: String, steps: [ModelDeployment.CanaryStep]) -> ModelDeployment {
        var md = world.deployment("scorer", model: "scorer", version: version, strategy: .canary)
        md.spec.rollout?.canary = .init(steps: steps)
        return md
    }

    @Test func aCanaryFollowsItsStepsSplitsTrafficAndIsPromotedAbortedAndRetried() async throws {
        let world = try await TritonControllerTests.World(models: [Self.scorer])
        let router = try await world.routerURL()
        let steps: [ModelDeployment.CanaryStep] = [.weight(25), .pause(), .weight(50), .pause("2s")]
        _ = try await world.kube.create(Self.canary(world, version: "1", steps: steps))
        // The first version has nothing to replace: it serves at once.
        var md = try await world.wait("scorer") { $0.status?.phase == .ready }
        #expect(md.status?.trafficSummary == "1:100" && md.status?.canary == nil)

        // Version 2: loaded beside 1, a quarter of the requests, then waiting for a person.
        try await world.change("scorer") { md in
            var md = md
            md.spec.model.version = "2"
            return md
        }
        md = try await world.wait("scorer") { $0.status?.canary?.phase == .paused }
        #expect(md.status?.trafficSummary == "1:75 2:25", "\(String(describing: md.status))")
        #expect(md.status?.servingVersion == "1" && md.status?.phase == .progressing)
        #expect(md.status?.conditions?[type: "Progressing"]?.reason == "CanaryPaused")
        #expect(try await world.readyVersions("scorer") == ["1", "2"])
        try await world.waitForRouter(router)
        var answered: [String: Int] = [:]
        for _ in 0..<200 {
            let (status, version, output) = try await world.infer(router, "scorer", x: 1)
            #expect(status == 200)
            #expect(output == version.flatMap(Double.init), "the answer is the version's own")
            answered[version ?? "none", default: 0] += 1
        }
        #expect(answered == ["1": 150, "2": 50], "a smooth 75/25 split: exact over a multiple of four")
        // Pinned to the canary (or the stable version) bypasses the split; another version is refused.
        #expect(try await world.infer(router, "scorer", x: 2, version: "2").output == 4)
        #expect(try await world.infer(router, "scorer", x: 2, version: "3").status == 404)

        // promote: past the open pause to 50 %, then the timed pause ends by itself, and the canary
        // takes everything: version 1 unloads.
        var result = try await world.modelplane("promote", "scorer")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("modeldeployment.modelplane.dev/scorer promoted: canary 2 takes 50 %"), "\(result.stdout)")
        md = try await world.wait("scorer", timeout: .seconds(30)) { $0.status?.canary == nil && $0.status?.servingVersion == "2" }
        #expect(md.status?.trafficSummary == "2:100", "the routing table moves first")
        #expect(try await world.settledVersions("scorer", ["2"]) == ["2"], "then version 1 unloads")
        md = try await world.wait("scorer") { $0.status?.phase == .ready }
        #expect(try await world.infer(router, "scorer", x: 1).version == "2")

        // Version 3, then abort at the open pause: version 2 alone again, Degraded saying so, until retry.
        try await world.change("scorer") { md in
            var md = md
            md.spec.model.version = "3"
            return md
        }
        md = try await world.wait("scorer") { $0.status?.canary?.phase == .paused }
        #expect(md.status?.trafficSummary == "2:75 3:25")
        result = try await world.modelplane("abort", "scorer")
        #expect(result.status == 0 && result.stdout.contains("aborted: stable 2 takes every request"), "\(result.stdout)\(result.stderr)")
        md = try await world.wait("scorer") { $0.status?.canary?.phase == .aborted && $0.status?.trafficSummary == "2:100" }
        #expect(md.status?.phase == .degraded && md.status?.conditions?[type: "Degraded"]?.reason == "CanaryAborted")
        #expect(try await world.settledVersions("scorer", ["2"]) == ["2"], "the canary is unloaded")
        result = try await world.modelplane("promote", "scorer")
        #expect(result.status == 1 && result.stderr.contains("was aborted; `modelplane retry scorer` starts it again"), "\(result.stderr)")
        result = try await world.modelplane("retry", "scorer")
        #expect(result.status == 0, "\(result.stderr)")
        md = try await world.wait("scorer") { $0.status?.canary?.phase == .paused }
        #expect(md.status?.trafficSummary == "2:75 3:25")

        // Paused, then promoted to the end at once: version 3 alone, and the pause ends with the canary.
        result = try await world.modelplane("pause", "scorer")
        #expect(result.status == 0, "\(result.stderr)")
        result = try await world.modelplane("promote", "scorer", "--full")
        #expect(result.status == 0 && result.stdout.contains("promoted: version 3 serves alone"), "\(result.stdout)\(result.stderr)")
        md = try await world.wait("scorer") { $0.status?.canary == nil && $0.status?.trafficSummary == "3:100" }
        #expect(try await world.settledVersions("scorer", ["3"]) == ["3"])
        md = try await world.wait("scorer") { $0.metadata.annotations?[ModelDeployment.rolloutPausedAnnotation] == nil }

        // Back to 2 is a canary too; the spec returning to 3 drops it.
        try await world.change("scorer") { md in
            var md = md
            md.spec.model.version = "2"
            return md
        }
        md = try await world.wait("scorer") { $0.status?.canary?.phase == .paused }
        #expect(md.status?.trafficSummary == "3:75 2:25")
        try await world.change("scorer") { md in
            var md = md
            md.spec.model.version = "3"
            return md
        }
        md = try await world.wait("scorer") { $0.status?.canary == nil && $0.status?.trafficSummary == "3:100" }
        #expect(try await world.settledVersions("scorer", ["3"]) == ["3"])
        result = try await world.modelplane("promote", "scorer")
        #expect(result.status == 1 && result.stderr.contains("has no canary in progress, version 3 serves alone"), "\(result.stderr)")

        // Every request the controller acted on is in the audit trail; the requests are gone.
        let audit = try String(contentsOfFile: world.directory + "/audit.log", encoding: .utf8)
        for action in ["promote", "abort", "retry"] { #expect(audit.contains(#""action":"\#(action)""#), "\(action): \(audit)") }
        #expect(md.metadata.annotations?[ModelDeployment.rolloutRequestAnnotation] == nil)
    }

    @Test func captureWritesASampleWithinItsBudget() async throws {
        let world = try await TritonControllerTests.World(models: [TritonControllerTests.echo])
        let router = try await world.routerURL()
        var md = world.deployment("scorer", model: "echo", version: "2")
        md.spec.capture = .init(sampleRate: 1, maxBytes: "4Ki")
        _ = try await world.kube.create(md)
        try await world.wait("scorer") { $0.status?.phase == .ready }
        try await world.waitForRouter(router)
        for index in 1...60 {
            let body: JSONValue = [
                "id": .string("req-\(index)"), "inputs": [["name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [.int(Int64(index))]]],
            ]
            let answer = try await world.http.execute(
                HTTPRequest(
                    method: "POST", url: router + "/v2/models/scorer/infer", headers: ["Content-Type": "application/json"], body: Data(body.canonicalText.utf8))
            )
            #expect(answer.status == 200)
        }
        // Written by one task beside the requests: wait for the last line.
        let folder = world.directory + "/capture/default/scorer"
        var records: [JSONValue] = []
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            try await Task.sleep(for: .milliseconds(100))
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }
            records = files.flatMap { file in
                ((try? String(contentsOfFile: folder + "/" + file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                    try? JSONValue(parsing: Data($0.utf8))
                }
            }
        } while records.last?["id"] != "req-60" && ContinuousClock.now < deadline
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        let total = try files.reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: folder + "/" + $1)[.size] as? Int) ?? 0) }
        #expect(total <= 4096 && files.count <= 4, "\(files): \(total) bytes")
        #expect(records.last?["id"] == "req-60", "the newest are kept: \(records.map { $0["id"] })")
        #expect(records.count > 10 && records.count < 60, "the oldest went: \(records.count)")
        let last = try #require(records.last)
        #expect(last["deployment"] == "scorer" && last["version"] == "2" && last["revision"] == "1" && last["status"] == 200)
        #expect(last["inputs"]?.arrayValue?.first?["data"] == [60], "\(last)")
        let output = last["outputs"]?.arrayValue?.first?["data"]?.arrayValue?.first
        #expect(output == 120 || output == 120.0, "\(last)")
        #expect(last["latencyMs"]?.int64Value != nil || { if case .double = last["latencyMs"] { return true } else { return false } }())
    }

    @Test func aShadowIsComparedAndNeverInTheWay() async throws {
        // Version 3 takes 1.5 s per request; version 4 fails every one.
        let model = TritonPeer.Model(name: "scorer", versions: [2, 3, 4], failsInference: [4], slowInference: [3: 1.5])
        let world = try await TritonControllerTests.World(models: [model])
        let router = try await world.routerURL()
        var md = Self.canary(world, version: "2", steps: [])
        md.spec.shadow = .init(version: "3", compare: .init(mode: .absolute, tolerance: 0.5))
        _ = try await world.kube.create(md)
        md = try await world.wait("scorer") { $0.status?.trafficSummary == "2:100 +3 shadow" }
        #expect(try await world.readyVersions("scorer") == ["2", "3"])
        try await world.waitForRouter(router)

        // Version 2 answers 2x, the shadow 3x: |difference| = x, over the tolerance when x > 0.5.
        let inputs: [Double] = (1...12).map { Double($0) / 4 }
        let started = ContinuousClock.now
        for x in inputs {
            let (status, version, output) = try await world.infer(router, "scorer", x: x)
            #expect(status == 200 && version == "2" && output == 2 * x)
        }
        #expect(ContinuousClock.now - started < .seconds(12), "twelve answers never wait for a 1.5 s shadow")
        md = try await world.wait("scorer", timeout: .seconds(60)) { ($0.status?.shadow?.compared ?? 0) >= Int64(inputs.count) }
        let shadow = try #require(md.status?.shadow)
        let agreeing = inputs.filter { $0 <= 0.5 }.count
        #expect(shadow.version == "3" && shadow.mirrored == Int64(inputs.count) && shadow.dropped == 0 && shadow.errors == 0)
        #expect(shadow.agreement == Double(agreeing) / Double(inputs.count), "\(shadow)")
        let meanAbsDiff = inputs.reduce(0, +) / Double(inputs.count)
        #expect(abs((shadow.meanAbsDiff ?? 0) - meanAbsDiff) < 1e-6, "\(shadow)")
        // The primary never waits for the shadow: even its slowest answer beats the shadow's
        // typical one (on a loaded machine both stretch; their order does not).
        #expect((shadow.latency?.shadowP50Ms ?? 0) >= 1500 && (shadow.latency?.primaryP99Ms ?? .infinity) < (shadow.latency?.shadowP50Ms ?? 0), "\(shadow)")
        let described = try await world.modelplane("describe", "scorer")
        #expect(described.stdout.contains("Shadow:     version 3 since"), "\(described.stdout)")

        // A shadow that fails every request: errors counted, production answers untouched.
        try await world.change("scorer") { md in
            var md = md
            md.spec.shadow?.version = "4"
            return md
        }
        md = try await world.wait("scorer") { $0.status?.trafficSummary == "2:100 +4 shadow" }
        for x in inputs {
            let (status, _, output) = try await world.infer(router, "scorer", x: x)
            #expect(status == 200 && output == 2 * x)
        }
        md = try await world.wait("scorer", timeout: .seconds(30)) { ($0.status?.shadow?.errors ?? 0) >= Int64(inputs.count) }
        #expect(md.status?.shadow?.version == "4" && md.status?.shadow?.compared == 0)

        // The shadow removed: unloaded, and its figures gone.
        try await world.change("scorer") { md in
            var md = md
            md.spec.shadow = nil
            return md
        }
        md = try await world.wait("scorer") { $0.status?.trafficSummary == "2:100" }
        #expect(md.status?.shadow == nil)
        #expect(try await world.settledVersions("scorer", ["2"]) == ["2"])
    }

    /// Two `modelplane router` replicas apart from the controller (as the chart runs them): the
    /// controller asks each for its shadow figures (`--router-stats`, one of them named `localhost`,
    /// resolved to its addresses) and `status.shadow` counts every replica's copies.
    @Test func shadowFiguresOfRoutersApartAreAddedUpInTheStatus() async throws {
        let (first, second) = (Peers.freePort(), Peers.freePort())
        let world = try await TritonControllerTests.World(
            models: [TritonPeer.Model(name: "scorer", versions: [2, 3])],
            serveArguments: ["--no-router", "--router-stats", "http://localhost:\(first)", "--router-stats", "http://127.0.0.1:\(second)"])
        var md = Self.canary(world, version: "2", steps: [])
        md.spec.shadow = .init(version: "3", compare: .init(mode: .absolute, tolerance: 0.5))
        _ = try await world.kube.create(md)
        _ = try await world.wait("scorer") { $0.status?.trafficSummary == "2:100 +3 shadow" }
        var routers: [(process: PeerProcess, url: String)] = []
        for port in [first, second] {
            let router = try await PeerProcess.start(
                Peers.modelplane,
                ["router", "--kubeconfig", world.directory + "/kubeconfig", "--listen", "127.0.0.1:0", "--http-address", "127.0.0.1:\(port)"],
                readyPort: PeerProcess.routerLine)
            routers.append((router, "http://127.0.0.1:\(router.port)"))
            try await world.waitForRouter("http://127.0.0.1:\(router.port)")
        }
        defer { for router in routers { router.process.stop() } }

        // Version 2 answers 2x, the shadow 3x: they agree when x ≤ 0.5. Requests alternate replicas.
        let inputs: [Double] = (1...10).map { Double($0) / 4 }
        for (index, x) in inputs.enumerated() {
            let (status, version, output) = try await world.infer(routers[index % 2].url, "scorer", x: x)
            #expect(status == 200 && version == "2" && output == 2 * x)
        }
        md = try await world.wait("scorer", timeout: .seconds(60)) { ($0.status?.shadow?.compared ?? 0) >= Int64(inputs.count) }
        let shadow = try #require(md.status?.shadow)
        #expect(shadow.version == "3" && shadow.mirrored == Int64(inputs.count) && shadow.errors == 0, "\(shadow)")
        #expect(shadow.agreement == Double(inputs.filter { $0 <= 0.5 }.count) / Double(inputs.count), "\(shadow)")
        #expect(abs((shadow.meanAbsDiff ?? 0) - inputs.reduce(0, +) / Double(inputs.count)) < 1e-6, "\(shadow)")
        #expect(shadow.latency != nil)
    }
}
