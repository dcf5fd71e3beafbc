import Controller
import Foundation
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing
import Triton
import TritonBackend

/// The same reconciler scenarios through every backend behind the `ServingBackend` seam: Triton
/// (in memory), and the test-only scripted backend, synchronous and asynchronous. The scripted
/// one is nothing the controller knows by name: it is selected by a label and keeps its record
/// in `status.extensions`, which is what proves the seam. Each scenario runs the in-process
/// reconciler against a real `modelplane serve` and asserts the ordered audit trail (and, for
/// the scripted backend, the ordered calls it received).
@Suite(.timeLimit(.minutes(2))) struct ReconcilerScenarioTests {
    enum Backend {
        case triton, scripted, scriptedAsync
    }

    final class World: @unchecked Sendable {
        let directory = NSTemporaryDirectory() + "modelplane-scenario-" + UUID().uuidString
        let serve: PeerProcess
        let kube: KubernetesClient
        let triton = InMemoryTriton(repository: ["m": (versions: [1, 2, 9], broken: [9: "weights are corrupt"])])
        let scripted: ScriptedBackend.Server
        var task: Task<Void, Never>?

        init(asynchronous: Bool = false, tritonOnly: Bool = false) async throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            serve = try await PeerProcess.modelplaneServe(data: directory)
            kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
            scripted = ScriptedBackend.Server(broken: ["9"], asynchronous: asynchronous)
            let triton = triton
            // The scripted backend first: a labelled deployment is its, whatever else its spec names.
            let backends = BackendRegistry(
                (tritonOnly ? [] : [ScriptedBackend(scripted)]) + [TritonServingBackend(triton: { _ in triton })])
            let cache = ObjectCache<ModelDeployment>.modelDeployments(backends: backends)
            let reconciler = DeploymentReconciler(
                client: kube, cache: cache, backends: backends, audit: try AuditLog(path: directory + "/audit.log"),
                events: EventRecorder(client: kube, instance: "test"))
            let controller = Controller(client: kube, cache: cache, reconciler: reconciler, workers: 2, resyncPeriod: .seconds(3600))
            task = Task { await controller.run() }
        }

        deinit {
            task?.cancel()
            serve.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func deployment(_ backend: Backend, version: String) -> ModelDeployment {
            var md = ModelDeployment(
                name: "d",
                spec: .init(model: .init(name: "m", version: version), backend: .init(triton: .init(url: triton.baseURL, modelConfig: ["backend": "python"]))))
            if backend != .triton { md.metadata.labels = [ScriptedBackend.label: ScriptedBackend.id.rawValue] }
            return md
        }

        /// A merge patch: no read-modify-write race with the controller's status writes.
        func patch(_ patch: JSONValue) async throws {
            _ = try await kube.patch(ModelDeployment.self, name: "d", .merge(patch))
        }

        func wait(_ condition: (ModelDeployment) -> Bool) async throws -> ModelDeployment {
            let deadline = ContinuousClock.now + .seconds(30)
            var last: ModelDeployment?
            while ContinuousClock.now < deadline {
                last = try await kube.get(ModelDeployment.self, name: "d")
                if let md = last, md.status?.observedGeneration == md.metadata.generation, condition(md) { return md }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw PeerError("d did not get there; last status: \(String(describing: last?.status))")
        }

        /// The audit trail as `action outcome` lines, in order.
        func audit() throws -> [String] {
            try String(contentsOfFile: directory + "/audit.log", encoding: .utf8).split(separator: "\n").map { line in
                let record = try JSONValue(parsing: Data(line.utf8))
                return "\(record["action"]?.stringValue ?? "") \(record["outcome"]?.stringValue ?? "")"
            }
        }

        /// The scripted backend's calls, with consecutive repeated looks collapsed (how often the
        /// controller looks while an asynchronous deploy runs depends on timing; the order of
        /// what it does does not).
        var scriptedCalls: [String] {
            Self.collapsed(scripted.calls)
        }

        static func collapsed(_ calls: [String]) -> [String] {
            var kept: [String] = []
            for call in calls {
                if call.hasPrefix("observe"), kept.last == call { continue }
                kept.append(call)
            }
            return kept
        }
    }

    @Test func throughTriton() async throws {
        let world = try await World()
        let trail = try await Self.createUpgradeFailAndDelete(world, .triton)
        // The whole config is given (modelConfig names the backend): no load to learn it.
        let expected: [String] = ["load ok", "load ok", "load failed", "unload ok"]
        #expect(trail.map { $0.hasPrefix("load failed") ? "load failed" : $0 } == expected, "\(trail)")
        let loaded: [String] = try await world.triton.loadedVersions("m")
        #expect(loaded.isEmpty, "deleting unloads what it loaded")
    }

    @Test func throughTheScriptedBackend() async throws {
        let world = try await World()
        let trail = try await Self.createUpgradeFailAndDelete(world, .scripted)
        let expected: [String] = ["deploy ok", "deploy ok", "deploy failed: version 9 of m is broken", "remove ok"]
        #expect(trail == expected)
        let calls: [String] = world.scriptedCalls
        let expectedCalls: [String] = ["observe m", "deploy m 1", "observe m", "deploy m 2", "observe m", "deploy m 9", "remove m"]
        #expect(calls == expectedCalls)
    }

    @Test func throughTheScriptedBackendAsynchronously() async throws {
        let world = try await World(asynchronous: true)
        let trail = try await Self.createUpgradeFailAndDelete(world, .scriptedAsync)
        let expected: [String] = ["deploy ok", "deploy ok", "deploy failed: version 9 of m is broken", "remove ok"]
        #expect(trail == expected)
        let calls: [String] = world.scriptedCalls
        let expectedCalls: [String] = ["observe m", "deploy m 1", "observe m", "deploy m 2", "observe m", "deploy m 9", "remove m"]
        #expect(calls == expectedCalls)
    }

    /// Create, upgrade, a broken version, delete; returns the audit trail.
    static func createUpgradeFailAndDelete(_ world: World, _ backend: Backend) async throws -> [String] {
        _ = try await world.kube.create(world.deployment(backend, version: "1"))
        var md = try await world.wait { $0.status?.phase == .ready }
        let name: String = backend == .triton ? "triton" : "scripted"
        #expect(md.status?.servingVersion == "1")
        #expect(md.status?.backend == name)

        try await world.patch(["spec": ["model": ["version": "2"]]])
        md = try await world.wait { $0.status?.phase == .ready && $0.status?.servingVersion == "2" }
        #expect(md.status?.currentRevision == "2")

        // A version that fails: Degraded with the typed reason, the previous version still serving.
        try await world.patch(["spec": ["model": ["version": "9"]]])
        md = try await world.wait { $0.status?.conditions?[type: "Degraded"]?.reason == "LoadFailed" }
        #expect(md.status?.phase == .degraded)
        #expect(md.status?.servingVersion == "2")
        #expect(md.status?.conditions?[type: "Ready"]?.reason == "ServingPrevious")

        try await world.kube.delete(ModelDeployment.self, name: "d", namespace: "default")
        let gone = await world.kube.waitUntilGone(ModelDeployment.self, name: "d", namespace: "default", timeout: .seconds(20))
        #expect(gone)
        #expect(world.scripted.serving("m") == nil)
        return try world.audit()
    }

    /// Moving between backends: the new one serves first, then what the old one holds goes; the
    /// status records each backend's part in its own slot.
    @Test func migrationFromTheScriptedBackendToTritonAndBack() async throws {
        let world = try await World()
        _ = try await world.kube.create(world.deployment(.scripted, version: "1"))
        var md = try await world.wait { $0.status?.phase == .ready }
        #expect(md.status?.extensions?["scripted"] != nil)
        #expect(md.status?.triton == nil)

        // Dropping the label: Triton serves it, and then the scripted deployment is removed.
        try await world.patch(["metadata": ["labels": .null]])
        md = try await world.wait { $0.status?.backend == "triton" && $0.status?.phase == .ready && $0.status?.extensions == nil }
        #expect(md.status?.triton?.model == "m")
        #expect(md.status?.servingVersion == "1")
        #expect(world.scripted.serving("m") == nil)
        let loaded: [String] = try await world.triton.loadedVersions("m")
        #expect(loaded == ["1"])

        // And back: the scripted backend serves, then Triton unloads.
        try await world.patch(["metadata": ["labels": [ScriptedBackend.label: .string(ScriptedBackend.id.rawValue)]]])
        md = try await world.wait { $0.status?.backend == "scripted" && $0.status?.phase == .ready && $0.status?.triton == nil }
        #expect(world.scripted.serving("m") == "1")
        let unloaded: [String] = try await world.triton.loadedVersions("m")
        #expect(unloaded.isEmpty)
        let trail: [String] = try world.audit()
        let expected: [String] = ["deploy ok", "load ok", "remove ok", "deploy ok", "unload ok"]
        #expect(trail == expected)
        let calls: [String] = world.scriptedCalls
        let expectedCalls: [String] = ["observe m", "deploy m 1", "remove m", "observe m", "deploy m 1"]
        #expect(calls == expectedCalls)
    }

    /// What serves before its deployment exists is adopted, and left serving when the deployment
    /// goes: Modelplane removes only what it deployed.
    @Test func anAdoptedDeploymentIsReleasedNotRemoved() async throws {
        let world = try await World()
        world.scripted.preload("m", version: "1")
        _ = try await world.kube.create(world.deployment(.scripted, version: "1"))
        _ = try await world.wait { $0.status?.phase == .ready }
        try await world.kube.delete(ModelDeployment.self, name: "d", namespace: "default")
        let gone = await world.kube.waitUntilGone(ModelDeployment.self, name: "d", namespace: "default", timeout: .seconds(20))
        #expect(gone)
        #expect(world.scripted.serving("m") == "1")
        let trail: [String] = try world.audit()
        let expected: [String] = ["adopt ok", "release ok"]
        #expect(trail == expected)
        let calls: [String] = world.scriptedCalls
        #expect(calls == ["observe m"])
    }

    /// A record of a backend this controller does not run keeps the finalizer (and says so):
    /// letting the deployment go would leak what that backend holds.
    @Test func aRecordOfABackendNotRunHereKeepsTheFinalizer() async throws {
        let world = try await World(tritonOnly: true)
        _ = try await world.kube.create(world.deployment(.triton, version: "1"))
        var md = try await world.wait { $0.status?.phase == .ready }
        md.status?.extensions = ["scripted": ["model": "m", "adopted": false]]
        md = try await world.kube.updateStatus(md)
        try await world.kube.delete(ModelDeployment.self, name: "d", namespace: "default")
        let deadline = ContinuousClock.now + .seconds(20)
        var held = false
        while !held, ContinuousClock.now < deadline {
            let events = try await world.kube.listAll(Event.self, namespace: "default").items
            held = events.contains { $0.reason == "CleanupFailed" && ($0.note ?? "").contains("scripted backend") }
            if !held { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(held)
        md = try await world.kube.get(ModelDeployment.self, name: "d")
        #expect(md.metadata.finalizers == [DeploymentReconciler.finalizer])
        #expect(md.status?.triton == nil, "what this controller runs was still cleaned up")
        // Once that record is gone (another controller cleaned up), the deployment goes.
        md.status?.extensions = nil
        _ = try await world.kube.updateStatus(md)
        let gone = await world.kube.waitUntilGone(ModelDeployment.self, name: "d", namespace: "default", timeout: .seconds(20))
        #expect(gone)
    }
}
