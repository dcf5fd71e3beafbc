import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing
import Triton

/// Several `modelplane controller` processes against one embedded API server and one real Triton:
/// exactly one reconciles, a killed leader is replaced within the lease, a paused one stops acting
/// when it wakes, and no backend action is done twice.
@Suite(.timeLimit(.minutes(5))) struct LeaderElectionTests {
    /// An embedded API server, a real Triton, and controllers started on demand.
    final class Cluster {
        let directory = NSTemporaryDirectory() + "modelplane-election-" + UUID().uuidString
        let triton: TritonPeer
        let serve: PeerProcess
        let kube: KubernetesClient

        init() async throws {
            triton = try await TritonPeer.start(models: [.init(name: "echo", versions: [1, 2, 3])])
            serve = try await PeerProcess.modelplaneServe(data: directory)
            kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
        }

        /// Short timings so the test is quick: lease 3 s, renew deadline 2 s, retry 0.5 s.
        func startController(_ name: String, lease: String = "3s") async throws -> PeerProcess {
            try await PeerProcess.start(
                Peers.modelplane,
                [
                    "controller", "--kubeconfig", directory + "/kubeconfig", "--audit-log", "\(directory)/audit-\(name).log", "--resync", "1",
                    "--leader-elect-lease-duration", lease, "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "500ms",
                    "--http-address", "127.0.0.1:0",
                ]
            ) { $0.hasPrefix("modelplane: controller running") ? 0 : nil }
        }

        func audit(_ name: String) -> [String] {
            ((try? String(contentsOfFile: "\(directory)/audit-\(name).log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        func serving(_ version: String) async throws -> Bool {
            let md = try await kube.get(ModelDeployment.self, name: "echo", namespace: "default")
            return md.status?.observedGeneration == md.metadata.generation && md.status?.phase == .ready && md.status?.servingVersion == version
        }

        /// Polls until the deployment serves `version`.
        func waitServing(_ version: String) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if try await serving(version) { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }

        func change(to version: String) async throws {
            for _ in 0..<10 {
                var md = try await kube.get(ModelDeployment.self, name: "echo", namespace: "default")
                md.spec.model.version = version
                // The controllers write status meanwhile: a conflict means read again.
                if (try? await kube.update(md)) != nil { return }
            }
        }

        deinit {
            kube.shutdown()
            serve.stop()
            triton.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// GET `path` from a controller's probe server: status and body.
    static func probe(_ controller: PeerProcess, _ path: String) async throws -> (Int, String) {
        guard await controller.waitForOutput({ $0.contains("probes and metrics on http://127.0.0.1:") }),
            let line = controller.log.split(separator: "\n").first(where: { $0.contains("probes and metrics on") }),
            let port = line.split(separator: ":").last?.split(separator: " ").first
        else { throw PeerError("no probe server: \(controller.log)") }
        let http = HTTPClient()
        defer { http.shutdown() }
        let response = try await http.execute(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)\(path)"))
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    /// Polls `process`'s output until it contains `text`.
    static func waitFor(_ text: String, in process: PeerProcess, timeout: Duration = .seconds(20)) async -> Bool {
        await process.waitForOutput(timeout: timeout) { $0.contains(text) }
    }

    @Test func onlyTheLeaderActsAndLeadershipMovesWhenItDiesOrStalls() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.startController("a")
        defer { a.stop() }
        #expect(await Self.waitFor("modelplane: leading", in: a), "\(a.log)")
        let b = try await cluster.startController("b")
        defer { b.stop() }
        _ = try await cluster.kube.create(
            ModelDeployment(name: "echo", spec: .init(model: .init(name: "echo", version: "1"), backend: .init(triton: .init(url: cluster.triton.url)))))
        #expect(try await cluster.waitServing("1"))
        #expect(!b.log.contains("leading"), "only one leads")
        #expect(cluster.audit("b").isEmpty, "the standby did nothing: \(cluster.audit("b"))")
        let lease = try await cluster.kube.get(Lease.self, name: "modelplane-controller", namespace: "default")
        #expect(lease.spec?.holderIdentity?.isEmpty == false && lease.spec?.leaseDurationSeconds == 3)

        // Both are alive and ready (the standby to take over); only the leader reconciled.
        for controller in [a, b] {
            #expect(try await Self.probe(controller, "/healthz").0 == 200)
            #expect(try await Self.probe(controller, "/readyz").0 == 200)
        }
        let (status, metrics) = try await Self.probe(a, "/metrics")
        #expect(status == 200 && metrics.contains("modelplane_leader 1"), "\(metrics)")
        #expect(metrics.contains(#"modelplane_reconcile_total{outcome="converged"}"#), "\(metrics)")
        #expect(metrics.contains("modelplane_reconcile_duration_seconds_bucket"), "\(metrics)")
        let standby = try await Self.probe(b, "/metrics").1
        #expect(standby.contains("modelplane_leader 0") && !standby.contains("modelplane_reconcile_total"), "\(standby)")

        // The leader dies: the standby takes over once the lease has gone unrenewed for its 3 s
        // (plus up to a retry period). How long that takes is the benchmark's to measure, never a
        // test's to assert.
        a.stop()
        #expect(await Self.waitFor("modelplane: leading", in: b), "\(b.log)")
        try await cluster.change(to: "2")
        #expect(try await cluster.waitServing("2"))

        // The leader stalls (SIGSTOP, as a frozen node): a new replica takes over and acts; when
        // the stalled one wakes it does nothing more and exits, since it could not renew in time.
        let actionsBeforeStall = cluster.audit("b").count
        b.signal(SIGSTOP)
        let c = try await cluster.startController("c")
        defer { c.stop() }
        #expect(await Self.waitFor("modelplane: leading", in: c), "\(c.log)")
        try await cluster.change(to: "3")
        #expect(try await cluster.waitServing("3"))
        b.signal(SIGCONT)
        let deadline = ContinuousClock.now + .seconds(10)
        while b.exitStatus == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(b.exitStatus == 1, "the stalled leader exits: \(b.log)")
        #expect(cluster.audit("b").count == actionsBeforeStall, "no action after the stall: \(cluster.audit("b").suffix(3))")
        #expect(try await cluster.serving("3"))

        // Every action exactly once, across all replicas: version 1 loaded by a, 2 by b, 3 by c.
        let all = cluster.audit("a") + cluster.audit("b") + cluster.audit("c")
        let loads = all.filter { $0.contains(#""action":"load""#) && $0.contains(#""outcome":"ok""#) }
        #expect(loads.count == 3, "\(loads)")
        #expect(cluster.audit("a").filter { $0.contains(#""action":"load""#) }.count == 1)
        #expect(cluster.audit("c").filter { $0.contains(#""action":"load""#) }.count == 1)
        let http = HTTPClient()
        defer { http.shutdown() }
        let ready = try await TritonClient(baseURL: cluster.triton.url, http: http).index().filter { $0.state == .ready }.compactMap(\.version)
        #expect(ready == ["3"])
    }

    @Test func sigtermReleasesTheLeaseSoTheNextLeaderNeedNotWait() async throws {
        let cluster = try await Cluster()
        // A long lease: a successor would wait 60 s unless the lease is released.
        let first = try await cluster.startController("first", lease: "60s")
        defer { first.stop() }
        #expect(await Self.waitFor("leading", in: first))
        first.signal(SIGTERM)
        #expect(await first.waitForExit(timeout: .seconds(20)) == 0, "a clean stop: \(first.log)")
        let lease = try await cluster.kube.get(Lease.self, name: "modelplane-controller", namespace: "default")
        #expect(lease.spec?.holderIdentity == nil, "released")

        let second = try await cluster.startController("second", lease: "60s")
        defer { second.stop() }
        #expect(await Self.waitFor("leading", in: second, timeout: .seconds(10)), "took over at once, not after 60 s")
    }
}
