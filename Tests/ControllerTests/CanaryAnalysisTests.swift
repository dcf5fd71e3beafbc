import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Synchronization
import Testing

/// Progressive delivery that decides by itself, against a real tritonserver behind the router:
/// model versions the test makes pass a shadow gate and an analysis step and are promoted, fail
/// requests and are aborted by the error rate while the stable version keeps answering, or
/// disagree at the shadow gate and never get a request. `modelplane rollout status --watch`
/// waits on each and exits as a CI pipeline needs.
@Suite(.timeLimit(.minutes(5))) struct CanaryAnalysisTests {
    /// Version V answers x·V; version 3 fails every inference.
    static let scorer = TritonPeer.Model(name: "scorer", versions: [1, 2, 3, 4], failsInference: [3])

    /// Requests sent through the router for as long as it runs, and what answered them.
    final class Load: Sendable {
        struct Tally {
            var answers: [String: Int] = [:]
            var failures = 0
            var firstFailure: ContinuousClock.Instant?
            var lastFailure: ContinuousClock.Instant?
            /// What the last failure said (status and body, or the client's error).
            var lastFailureText = ""
        }

        let tally = Mutex(Tally())
        let task: Mutex<Task<Void, Never>?> = Mutex(nil)

        let http = HTTPClient()

        func start(_ router: String) {
            let http = http
            task.withLock {
                $0 = Task {
                    let body = Data(#"{"inputs":[{"name":"INPUT0","shape":[1],"datatype":"FP32","data":[1.0]}]}"#.utf8)
                    while !Task.isCancelled {
                        let result: Result<HTTPResponse, any Error>
                        do {
                            result = .success(
                                try await http.execute(
                                    HTTPRequest(
                                        method: "POST", url: router + "/v2/models/scorer/infer", headers: ["Content-Type": "application/json"], body: body,
                                        timeout: .seconds(10))))
                        } catch { result = .failure(error) }
                        let answer = try? result.get()
                        let now = ContinuousClock.now
                        self.tally.withLock { tally in
                            if let answer, answer.status == 200 {
                                tally.answers[answer.headers["Modelplane-Version"] ?? "?", default: 0] += 1
                            } else {
                                tally.failures += 1
                                tally.firstFailure = tally.firstFailure ?? now
                                tally.lastFailure = now
                                switch result {
                                case .success(let response):
                                    tally.lastFailureText = "\(response.status) \(String(decoding: response.body.prefix(300), as: UTF8.self))"
                                case .failure(let error): tally.lastFailureText = "\(error)"
                                }
                            }
                        }
                        try? await Task.sleep(for: .milliseconds(15))
                    }
                }
            }
        }

        func reset() { tally.withLock { $0 = Tally() } }
        func stop() {
            task.withLock { $0?.cancel() }
            http.shutdown()
        }
    }

    /// Creates `md` (version 1), waits until it serves and the router has read it, and starts
    /// sending it requests.
    static func serveWithLoad(_ world: TritonControllerTests.World, _ md: ModelDeployment, _ router: String) async throws -> Load {
        _ = try await world.kube.create(md)
        try await world.wait("scorer") { $0.status?.phase == .ready && $0.status?.servingVersion == "1" }
        try await world.waitForRouter(router)
        let load = Load()
        load.start(router)
        return load
    }

    static func change(_ world: TritonControllerTests.World, version: String, steps: [ModelDeployment.CanaryStep]) async throws {
        try await world.change("scorer") { md in
            var md = md
            md.spec.model.version = version
            md.spec.rollout?.canary?.steps = steps
            return md
        }
    }

    @Test func analysisPromotesAGoodCanaryAndAbortsABadOneByItself() async throws {
        let world = try await TritonControllerTests.World(models: [Self.scorer])
        let router = try await world.routerURL()
        var md = world.deployment("scorer", model: "scorer", version: "1", strategy: .canary)
        let gate = ModelDeployment.CanaryStep.shadowGate(.init(minRequests: 20, minAgreement: 0.9, compare: .init(mode: .argmax)))
        md.spec.rollout?.canary = .init(
            steps: [gate, .weight(50), .analysis(["errors"], count: 2)],
            analysis: .init(
                interval: "1s", metrics: [.init(name: "errors", router: .errorRate, minRequests: 3, max: 0.05)],
                // A loaded machine may send fewer than 3 requests to the canary in a second now and then.
                inconclusiveLimit: 5))
        let load = try await Self.serveWithLoad(world, md, router)
        defer { load.stop() }

        // A good version: copies at the gate (argmax of one element always agrees), half the
        // requests, two clean measurements, then it serves alone; `rollout status` exits 0.
        try await Self.change(world, version: "2", steps: [gate, .weight(50), .analysis(["errors"], count: 2)])
        let good = try await world.modelplane("rollout", "status", "scorer", "--watch", "--timeout", "2m")
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("✔ Complete") && good.stdout.contains("✔ 3. analysis: errors x2"), "\(good.stdout)")
        md = try await world.wait("scorer") { $0.status?.trafficSummary == "2:100" }
        let runs = md.status?.analysis?.runs ?? []
        #expect(runs.first { $0.name == "step 1" }?.phase == .successful, "the shadow gate: \(runs)")
        #expect(runs.first { $0.name == "step 3" }?.phase == .successful, "the analysis step: \(runs)")
        #expect(runs.first { $0.name == "background" }?.phase == .successful, "the background analysis ends with the canary: \(runs)")
        #expect(load.tally.withLock { $0.failures } == 0)

        // A version that fails every request: at half the traffic, the error rate aborts it within
        // an interval or two, the stable version takes everything back, and keeps answering.
        try await Self.change(world, version: "3", steps: [.weight(50), .pause()])
        load.reset()
        let aborted = try await world.modelplane("rollout", "status", "scorer", "--watch", "--timeout", "2m")
        #expect(aborted.status == 1, "\(aborted.stdout)\(aborted.stderr)")
        #expect(aborted.stdout.contains("✖ Aborted"), "\(aborted.stdout)")
        md = try await world.wait("scorer") { $0.status?.trafficSummary == "2:100" }
        let message = md.status?.conditions?[type: "Degraded"]?.message ?? ""
        #expect(md.status?.phase == .degraded && md.status?.conditions?[type: "Degraded"]?.reason == "CanaryAborted")
        #expect(message.hasPrefix("aborted by the background analysis at step 2 of 2: errors is 1, above its maximum 0.05"), "\(message)")
        let reaction = load.tally.withLock { tally in tally.firstFailure.flatMap { first in tally.lastFailure.map { $0 - first } } }
        print("canary analysis: from the canary's first failed request to its last one (aborted): \(reaction.map { "\($0)" } ?? "none")")
        // (Requests sent before the router read the new table may still be answered by the canary.)
        try await Task.sleep(for: .seconds(1))
        load.reset()
        try await Task.sleep(for: .seconds(1))
        #expect(
            load.tally.withLock { $0.failures } == 0, "after the abort, the stable version answers every request: \(load.tally.withLock { $0.lastFailureText })"
        )
        #expect(try await world.settledVersions("scorer", ["2"]) == ["2"], "the canary is unloaded")
        let events = try await world.kube.listAll(Event.self, namespace: "default").items.filter { $0.regarding.name == "scorer" }
        #expect(events.contains { $0.reason == "AnalysisFailed" && $0.type == .warning }, "\(events.map(\.reason))")
        let audit = try String(contentsOfFile: world.directory + "/audit.log", encoding: .utf8)
        #expect(audit.contains(#""cause":"analysis""#), "\(audit)")
        let described = try await world.modelplane("describe", "scorer")
        #expect(described.stdout.contains("background of canary 3: Failed: errors is 1, above its maximum 0.05"), "\(described.stdout)")

        // A version that disagrees at the shadow gate (x·4 against x·2): aborted before it takes
        // a single request.
        try await Self.change(world, version: "4", steps: [.shadowGate(.init(minRequests: 20, minAgreement: 0.9)), .weight(50)])
        load.reset()
        let refused = try await world.modelplane("rollout", "status", "scorer", "--watch", "--timeout", "2m")
        #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
        md = try await world.wait("scorer") { $0.status?.canary?.phase == .aborted && $0.status?.trafficSummary == "2:100" }
        #expect(md.status?.canary?.message?.contains("shadow-agreement is 0, below its minimum 0.9") == true, "\(String(describing: md.status?.canary))")
        #expect(load.tally.withLock { $0.answers["4"] } == nil, "the canary answered no one")
        // Without --watch: the state now, and the same exit status.
        let now = try await world.modelplane("rollout", "status", "scorer")
        #expect(now.status == 1 && now.stdout.contains("✖ 1. shadow gate: 20 answers compared, agreement at least 0.9"), "\(now.stdout)")
        let verify = try await CommandResult.run(Peers.modelplane, ["audit", "verify", "--file", world.directory + "/audit.log"])
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    /// A p99 through a real Prometheus scraping the router: a slow version is aborted by it; with
    /// Prometheus stopped mid-analysis the canary holds where it is (never aborted, never
    /// promoted), and goes on by itself once Prometheus is back.
    @Test func prometheusJudgesLatencyAndAnOutageHoldsTheCanary() async throws {
        let world = try await TritonControllerTests.World(
            models: [TritonPeer.Model(name: "scorer", versions: [1, 2, 3], slowInference: [2: 0.4])], serveArguments: ["--http-address", "127.0.0.1:0"])
        let router = try await world.routerURL()
        #expect(await world.serve.waitForOutput { $0.contains("probes and metrics on http://127.0.0.1:") })
        let metricsPort = try #require(
            world.serve.log.split(separator: "\n").first { $0.hasPrefix("modelplane: probes and metrics on") }
                .flatMap { $0.split(separator: " ")[5].split(separator: ":").last }.flatMap { Int($0) })
        let config = world.directory + "/prometheus.yml"
        try """
        global: {scrape_interval: 1s, scrape_timeout: 1s}
        scrape_configs:
        - {job_name: modelplane, static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let port = Peers.freePort()
        var prometheus = try await PrometheusTests.prometheus(config: config, directory: world.directory, port: port)
        defer { prometheus.stop() }

        var md = world.deployment("scorer", model: "scorer", version: "1", strategy: .canary)
        let query =
            #"histogram_quantile(0.99, sum(rate(modelplane_router_request_duration_seconds_bucket{namespace="{{namespace}}",deployment="{{deployment}}",revision="{{revision}}"}[10s])) by (le))"#
        md.spec.rollout?.canary = .init(
            steps: [.weight(50), .pause()],
            analysis: .init(
                interval: "2s", metrics: [.init(name: "p99", prometheus: .init(address: "http://127.0.0.1:\(port)", query: query), max: 0.2)],
                // Before the first scrapes the quantile is NaN (inconclusive); an outage is held.
                inconclusiveLimit: 10, consecutiveErrorLimit: 1000))
        let load = try await Self.serveWithLoad(world, md, router)
        defer { load.stop() }

        // Version 2 answers in 0.4 s: its p99, through Prometheus, is above 0.2 s.
        try await Self.change(world, version: "2", steps: [.weight(50), .pause()])
        let slow = try await world.modelplane("rollout", "status", "scorer", "--watch", "--timeout", "3m")
        #expect(slow.status == 1, "\(slow.stdout)\(slow.stderr)")
        md = try await world.wait("scorer") { $0.status?.trafficSummary == "1:100" }
        let message = md.status?.conditions?[type: "Degraded"]?.message ?? ""
        #expect(message.contains("p99 is 0.") && message.contains("above its maximum 0.2"), "\(message)")

        // Version 3 is fast, but Prometheus goes away while it is measured: the canary holds at
        // its step (it would otherwise complete after 15 s) and goes on once Prometheus is back.
        try await Self.change(world, version: "3", steps: [.weight(50), .pause("15s")])
        md = try await world.wait("scorer") { $0.status?.canary?.canaryVersion == "3" && $0.status?.canary?.weight == 50 }
        prometheus.stop()
        md = try await world.wait("scorer", timeout: .seconds(30)) {
            $0.status?.canary?.message?.hasPrefix("holding at step 2 of 2: p99 cannot be measured") == true
        }
        #expect(md.status?.canary?.phase == .paused && md.status?.trafficSummary == "1:50 3:50", "\(String(describing: md.status?.canary))")
        #expect(md.status?.conditions?[type: "Progressing"]?.reason == "CanaryPaused")
        try await Task.sleep(for: .seconds(20))
        md = try await world.wait("scorer") { _ in true }
        #expect(md.status?.canary?.canaryVersion == "3" && md.status?.canary?.step == 1, "held: the 15 s pause did not end it")
        prometheus = try await PrometheusTests.prometheus(config: config, directory: world.directory, port: port)
        let back = try await world.modelplane("rollout", "status", "scorer", "--watch", "--timeout", "2m")
        #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
        md = try await world.wait("scorer") { $0.status?.trafficSummary == "3:100" }
        let events = try await world.kube.listAll(Event.self, namespace: "default").items.filter { $0.regarding.name == "scorer" }
        #expect(events.contains { $0.reason == "AnalysisError" } && events.contains { $0.reason == "Resumed" }, "\(events.map(\.reason))")
    }

    /// `modelplane controller` killed with -9 in the middle of an analysis, with the router in
    /// `serve` apart from it (its figures collected through `--router-stats`): a fresh controller
    /// resumes the run from the status, aborts the failing canary once, and the audit chain holds.
    @Test func aControllerKilledMidAnalysisResumesAndAbortsOnce() async throws {
        let directory = NSTemporaryDirectory() + "modelplane-analysis-crash-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let triton = try await TritonPeer.start(models: [Self.scorer])
        defer { triton.stop() }
        let serve = try await PeerProcess.modelplaneServe(data: directory, extraArguments: ["--http-address", "127.0.0.1:0"])
        defer { serve.stop() }
        #expect(await serve.waitForOutput { $0.contains("probes and metrics on http://127.0.0.1:") })
        let probes = try #require(
            serve.log.split(separator: "\n").first { $0.hasPrefix("modelplane: probes and metrics on") }.map { String($0.split(separator: " ")[5]) })
        let router = try await serve.routerURL()
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
        defer { kube.shutdown() }
        let audit = directory + "/audit.log"
        func startController() async throws -> PeerProcess {
            try await PeerProcess.start(
                Peers.modelplane,
                [
                    "controller", "--kubeconfig", directory + "/kubeconfig", "--audit-log", audit, "--resync", "2", "--no-leader-elect", "--router-stats",
                    probes,
                ]
            ) { $0.hasPrefix("modelplane: controller running") ? 0 : nil }
        }
        func wait(timeout: Duration = .seconds(60), _ condition: (ModelDeployment) -> Bool) async throws -> ModelDeployment {
            let deadline = ContinuousClock.now + timeout
            var last: ModelDeployment?
            while ContinuousClock.now < deadline {
                last = try await kube.get(ModelDeployment.self, name: "scorer", namespace: "default")
                if let md = last, md.status?.observedGeneration == md.metadata.generation, condition(md) { return md }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw PeerError("scorer did not get there; last status: \(String(describing: last?.status))")
        }
        var controller = try await startController()
        var md = ModelDeployment(
            name: "scorer", spec: .init(model: .init(name: "scorer", version: "1"), backend: .init(triton: .init(url: triton.url))))
        // (The collector asks the router every 5 s: an interval longer than that sees new figures.)
        md.spec.rollout = .init(
            strategy: .canary,
            canary: .init(
                steps: [.weight(50), .pause()],
                analysis: .init(interval: "6s", metrics: [.init(name: "errors", router: .errorRate, minRequests: 3, max: 0.05)], inconclusiveLimit: 3)))
        _ = try await kube.create(md)
        _ = try await wait { $0.status?.phase == .ready && $0.status?.servingVersion == "1" }
        let load = Load()
        load.start(router)
        defer { load.stop() }

        var current = try await kube.get(ModelDeployment.self, name: "scorer", namespace: "default")
        current.spec.model.version = "3"
        _ = try await kube.update(current)
        // The background run has begun and taken its first look: then the controller dies.
        _ = try await wait { $0.status?.analysis?.runs.first { $0.name == "background" }?.metrics.first?.message != nil }
        controller.stop()  // SIGKILL
        controller = try await startController()
        defer { controller.stop() }
        md = try await wait { $0.status?.canary?.phase == .aborted && $0.status?.trafficSummary == "1:100" }
        let runs = md.status?.analysis?.runs.filter { $0.name == "background" } ?? []
        #expect(runs.count == 1 && runs.first?.phase == .failed, "the run resumed, not begun again: \(runs)")
        try await Task.sleep(for: .seconds(4))
        let trail = try String(contentsOfFile: audit, encoding: .utf8)
        #expect(trail.components(separatedBy: #""cause":"analysis""#).count - 1 == 1, "one abort by analysis: \(trail)")
        let verify = try await CommandResult.run(Peers.modelplane, ["audit", "verify", "--file", audit])
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    /// BlueGreen with analysis on real Triton: the new version is tested on copies, takes every
    /// request with the old one still loaded, and must pass its post-promotion analysis; one that
    /// fails it is switched back, the old version never having left.
    @Test func blueGreenSwitchesAfterItsGateAndBackWhenThePostPromotionAnalysisFails() async throws {
        let world = try await TritonControllerTests.World(models: [Self.scorer])
        let router = try await world.routerURL()
        var md = world.deployment("scorer", model: "scorer", version: "1", strategy: .blueGreen)
        md.spec.rollout?.blueGreen = .init(
            prePromotionAnalysis: .init(shadow: .init(minRequests: 20, minAgreement: 0.9, compare: .init(mode: .argmax))),
            postPromotionAnalysis: .init(metrics: ["errors"], count: 2),
            analysis: .init(interval: "1s", metrics: [.init(name: "errors", router: .errorRate, minRequests: 3, max: 0.05)], inconclusiveLimit: 5))
        let load = try await Self.serveWithLoad(world, md, router)
        defer { load.stop() }

        try await world.change("scorer") { md in
            var md = md
            md.spec.model.version = "2"
            return md
        }
        let good = try await world.modelplane("rollout", "status", "scorer", "--watch", "--timeout", "2m")
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("✔ 1. shadow gate") && good.stdout.contains("✔ 2. setWeight 100%"), "\(good.stdout)")
        md = try await world.wait("scorer") { $0.status?.trafficSummary == "2:100" && $0.status?.canary == nil }
        #expect(try await world.settledVersions("scorer", ["2"]) == ["2"], "the old version goes once the analysis passed")

        // Version 3 fails every request. Without a gate (which would count its errors as
        // disagreements), it switches, fails its post-promotion analysis and is switched back.
        try await world.change("scorer") { md in
            var md = md
            md.spec.model.version = "3"
            md.spec.rollout?.blueGreen?.prePromotionAnalysis = nil
            return md
        }
        let failed = try await world.modelplane("rollout", "status", "scorer", "--watch", "--timeout", "2m")
        #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
        md = try await world.wait("scorer") { $0.status?.trafficSummary == "2:100" && $0.status?.canary?.phase == .aborted }
        #expect(md.status?.canary?.message?.contains("errors is 1, above its maximum 0.05") == true, "\(String(describing: md.status?.canary))")
        #expect(try await world.settledVersions("scorer", ["2"]) == ["2"])
    }
}
