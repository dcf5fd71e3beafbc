import Foundation
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

/// `modelplane controller` limited to namespaces and a label selector, and sharded across replicas.
@Suite(.timeLimit(.minutes(3))) struct ScopeTests {
    final class World {
        let directory = NSTemporaryDirectory() + "modelplane-scope-" + UUID().uuidString
        let serve: PeerProcess
        let kube: KubernetesClient

        init() async throws {
            serve = try await PeerProcess.modelplaneServe(data: directory)
            kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
        }

        func controller(_ arguments: [String]) async throws -> PeerProcess {
            try await PeerProcess.start(
                Peers.modelplane,
                ["controller", "--kubeconfig", directory + "/kubeconfig", "--audit-log", directory + "/audit-\(UUID().uuidString).log"] + arguments
            ) { $0.hasPrefix("modelplane: controller running") ? 0 : nil }
        }

        /// A deployment whose Triton is unreachable: a controller that takes it writes a status
        /// (BackendUnavailable) and an event naming itself.
        func create(_ name: String, namespace: String, labels: [String: String] = [:]) async throws {
            var md = ModelDeployment(
                name: name, namespace: namespace, spec: .init(model: .init(name: name, version: "1"), backend: .init(triton: .init(url: "http://127.0.0.1:9"))))
            md.metadata.labels = labels
            _ = try await kube.create(md)
        }

        func reconciled(_ name: String, _ namespace: String) async throws -> Bool {
            try await kube.get(ModelDeployment.self, name: name, namespace: namespace).status?.phase != nil
        }

        deinit {
            kube.shutdown()
            serve.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func namespacesAndALabelSelectorLimitWhatIsReconciled() async throws {
        let world = try await World()
        try await world.create("x1", namespace: "a", labels: ["team": "x"])
        try await world.create("y1", namespace: "a", labels: ["team": "y"])
        try await world.create("x2", namespace: "b", labels: ["team": "x"])
        try await world.create("x3", namespace: "c", labels: ["team": "x"])
        let controller = try await world.controller(["-n", "a", "-n", "b", "-l", "team=x", "--no-leader-elect", "--http-address", "127.0.0.1:0"])
        defer { controller.stop() }
        #expect(controller.log.contains("namespaces a, b, labels team=x"), "\(controller.log)")
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let first = try await world.reconciled("x1", "a")
            let second = try await world.reconciled("x2", "b")
            if first && second { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await world.reconciled("x1", "a"))
        #expect(try await world.reconciled("x2", "b"))
        // A sentinel in scope, created after everything out of scope: once it is reconciled, the
        // controller has seen all that came before it, and would have taken those by now.
        try await world.create("sentinel", namespace: "a", labels: ["team": "x"])
        while try await !world.reconciled("sentinel", "a"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await world.reconciled("sentinel", "a"))
        #expect(try await !world.reconciled("y1", "a"), "another label")
        #expect(try await !world.reconciled("x3", "c"), "another namespace")
        // Both ended Degraded (their Triton is unreachable): the metric counts them by reason.
        let metrics = try await LeaderElectionTests.probe(controller, "/metrics").1
        #expect(metrics.contains(#"modelplane_reconcile_errors_total{reason="BackendUnavailable"}"#), "\(metrics)")
    }

    @Test func shardsSplitTheDeploymentsAndEachElectsItsOwnLeader() async throws {
        let world = try await World()
        let names = (0..<12).map { "m\($0)" }
        for name in names { try await world.create(name, namespace: "shard") }
        let zero = try await world.controller(["-n", "shard", "--shard", "0/2"])
        defer { zero.stop() }
        let one = try await world.controller(["-n", "shard", "--shard", "1/2"])
        defer { one.stop() }
        let deadline = ContinuousClock.now + .seconds(30)
        var done = false
        while !done, ContinuousClock.now < deadline {
            var all = true
            for name in names where try await !world.reconciled(name, "shard") { all = false }
            done = all
            if !done { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(done, "every deployment reconciled by one of the shards")
        // Each deployment's events come from exactly one replica; both replicas have some.
        let events = try await world.kube.listAll(Event.self, namespace: "shard").items
        var instances: [String: Set<String>] = [:]
        for event in events { instances[event.regarding.name ?? "", default: []].insert(event.reportingInstance) }
        #expect(names.allSatisfy { instances[$0]?.count == 1 }, "\(instances)")
        let byReplica = Set(instances.values.compactMap(\.first).map { $0.hasSuffix("-\(zero.pid)") ? "zero" : $0.hasSuffix("-\(one.pid)") ? "one" : $0 })
        #expect(byReplica == ["zero", "one"], "\(byReplica)")
        for lease in ["modelplane-controller-shard-0-of-2", "modelplane-controller-shard-1-of-2"] {
            let held = try await world.kube.get(Lease.self, name: lease, namespace: "default")
            #expect(held.spec?.holderIdentity?.isEmpty == false, "\(lease)")
        }
    }
}
