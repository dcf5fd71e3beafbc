import Controller
import Foundation
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Rollout
import Synchronization
import Testing
import Triton
import TritonBackend

/// The controller against a real API server (`modelplane serve`): the watch echo of its own
/// writes (the finalizer, the status) queues no second reconcile, while a change anyone else
/// makes does.
@Suite(.timeLimit(.minutes(2))) struct OwnWriteControllerTests {
    /// A `modelplane serve` of its own (no controller: the test runs one in process), and a client.
    final class Server {
        let directory: String
        let serve: PeerProcess
        let kube: KubernetesClient

        init(_ name: String) async throws {
            directory = NSTemporaryDirectory() + name + "-" + UUID().uuidString
            serve = try await PeerProcess.modelplaneServe(data: directory)
            kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
        }

        deinit {
            serve.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Counts reconciles per deployment.
    final class Counting: Reconciler {
        let inner: DeploymentReconciler
        let counts = Mutex<[String: Int]>([:])

        init(inner: DeploymentReconciler) { self.inner = inner }

        func reconcile(_ key: ObjectKey) async throws(ReconcileError) -> ReconcileResult {
            counts.withLock { $0[key.name, default: 0] += 1 }
            return try await inner.reconcile(key)
        }
    }

    @Test func ourOwnWritesQueueNothingAndOtherChangesDo() async throws {
        let server = try await Server("modelplane-echo")
        let kube = server.kube
        let triton = InMemoryTriton(repository: Dictionary(uniqueKeysWithValues: (0...20).map { ("m\($0)", (versions: Set([1, 2]), broken: [:])) }))
        for i in 0..<20 {
            _ = try await kube.create(
                ModelDeployment(name: "d\(i)", spec: .init(model: .init(name: "m\(i)", version: "1"), backend: .init(triton: .init(url: triton.baseURL)))))
        }
        let backends = BackendRegistry([TritonServingBackend(triton: { _ in triton })])
        let cache = ObjectCache<ModelDeployment>.modelDeployments(backends: backends)
        let reconciler = Counting(
            inner: DeploymentReconciler(client: kube, cache: cache, backends: backends, audit: nil, events: EventRecorder(client: kube, instance: "test")))
        let controller = Controller(client: kube, cache: cache, reconciler: reconciler, workers: 4, resyncPeriod: .seconds(3600))
        let task = Task { await controller.run() }
        defer { task.cancel() }

        func ready() async throws -> Int {
            try await kube.list(ModelDeployment.self, namespace: "default").items.filter { $0.status?.phase == .ready }.count
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while try await ready() < 20, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(try await ready() == 20)
        // Each wrote its finalizer and its status; the echoes of both arrive, and queue nothing.
        // A deployment created now comes after all those echoes on the same watch: once it is
        // Ready and the queue is empty, any reconcile an echo caused has run.
        _ = try await kube.create(
            ModelDeployment(name: "sentinel", spec: .init(model: .init(name: "m20", version: "1"), backend: .init(triton: .init(url: triton.baseURL)))))
        while ContinuousClock.now < deadline {
            let idle = await controller.queue.outstanding == 0
            if try await ready() == 21, idle { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await ready() == 21)
        #expect(reconciler.counts.withLock { $0 }.values.allSatisfy { $0 == 1 }, "\(reconciler.counts.withLock { $0 })")
        #expect(cache[ObjectKey(namespace: "default", name: "d3")]?.metadata.finalizers == [DeploymentReconciler.finalizer])

        // Someone else wipes a status: that is a change, reconciled and repaired.
        var wiped = try await kube.get(ModelDeployment.self, name: "d3", namespace: "default")
        wiped.status = ModelDeployment.Status()
        _ = try await kube.updateStatus(wiped)
        let repaired = ContinuousClock.now + .seconds(10)
        while try await kube.get(ModelDeployment.self, name: "d3", namespace: "default").status?.phase != .ready, ContinuousClock.now < repaired {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await kube.get(ModelDeployment.self, name: "d3", namespace: "default").status?.phase == .ready)
        #expect(reconciler.counts.withLock { $0["d3"] } == 2)
        #expect(reconciler.counts.withLock { $0["d4"] } == 1)
    }

    /// Throws a conflict the first time, after making its cached object stale (as when someone
    /// else's write has not come through the watch yet); records the resourceVersion it saw.
    final class ConflictOnce: Reconciler {
        let cache: ObjectCache<ModelDeployment>
        let seen = Mutex<[String]>([])

        init(cache: ObjectCache<ModelDeployment>) { self.cache = cache }

        func reconcile(_ key: ObjectKey) async throws(ReconcileError) -> ReconcileResult {
            guard let md = cache[key] else { return .converged }
            let first = seen.withLock {
                $0.append(md.metadata.resourceVersion ?? "")
                return $0.count == 1
            }
            guard first else { return .converged }
            var stale = md
            stale.metadata.resourceVersion = "0"
            cache.set(stale)
            throw .conflict("the object has been modified")
        }
    }

    /// A conflict is retried at once on the object read again from the server, not after a
    /// backoff on the stale one (the policy's backoff here is an hour: only the immediate retry
    /// can come within the test).
    @Test func aConflictIsRetriedAtOnceOnTheObjectReadAgain() async throws {
        let server = try await Server("modelplane-conflict")
        let kube = server.kube
        let stored = try await kube.create(
            ModelDeployment(name: "a", spec: .init(model: .init(name: "m", version: "1"), backend: .init(triton: .init(url: "http://127.0.0.1:9")))))
        let cache = ObjectCache<ModelDeployment>.modelDeployments(backends: BackendRegistry([]))
        let reconciler = ConflictOnce(cache: cache)
        let controller = Controller(
            client: kube, cache: cache, reconciler: reconciler, workers: 1, resyncPeriod: .seconds(3600),
            retryPolicy: RetryPolicy(baseDelay: .seconds(3600), maxDelay: .seconds(3600)))
        let task = Task { await controller.run() }
        defer { task.cancel() }
        let deadline = ContinuousClock.now + .seconds(20)
        while reconciler.seen.withLock({ $0.count }) < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let version = try #require(stored.metadata.resourceVersion)
        #expect(reconciler.seen.withLock { $0 } == [version, version])
        #expect(cache[ObjectKey(namespace: "default", name: "a")]?.metadata.resourceVersion == version)
    }

    /// A Triton whose first load runs `during` first (someone changing the object meanwhile).
    final class ChangedDuringLoad: TritonAPI {
        let inner: InMemoryTriton
        let during: @Sendable () async -> Void
        let first = Mutex(true)
        var baseURL: String { inner.baseURL }

        init(inner: InMemoryTriton, during: @escaping @Sendable () async -> Void) {
            self.inner = inner
            self.during = during
        }

        func load(_ model: String, config: JSONValue?, files: [String: Data]) async throws(TritonError) {
            if first.withLock({ first in
                defer { first = false }
                return first
            }) {
                await during()
            }
            try await inner.load(model, config: config, files: files)
        }
        func index() async throws(TritonError) -> [TritonModelState] { try await inner.index() }
        func config(_ model: String) async throws(TritonError) -> JSONValue { try await inner.config(model) }
        func unload(_ model: String) async throws(TritonError) { try await inner.unload(model) }
        func isReady(_ model: String, version: String) async throws(TritonError) -> Bool { try await inner.isReady(model, version: version) }
        func loadedVersions(_ model: String) async throws(TritonError) -> [String] { try await inner.loadedVersions(model) }
        func infer(_ model: String, version: String?, request: JSONValue) async throws(TritonError) -> JSONValue {
            try await inner.infer(model, version: version, request: request)
        }
    }

    /// Someone changes the object while we load: the status write that records our load meets
    /// a conflict. The load must still be recorded as ours (else the next pass would adopt it, and
    /// deleting the deployment would leave our model loaded).
    @Test func aLoadWhoseStatusWriteMeetsAConflictIsStillRecordedAsOurs() async throws {
        let server = try await Server("modelplane-status-conflict")
        let (directory, kube) = (server.directory, server.kube)
        let inner = InMemoryTriton(repository: ["m": (versions: [1], broken: [:])])
        let triton = ChangedDuringLoad(inner: inner) {
            _ = try? await kube.patch(ModelDeployment.self, name: "a", .merge(["metadata": ["labels": ["touched": "during-the-load"]]]))
        }
        _ = try await kube.create(
            ModelDeployment(name: "a", spec: .init(model: .init(name: "m", version: "1"), backend: .init(triton: .init(url: triton.baseURL)))))
        let backends = BackendRegistry([TritonServingBackend(triton: { _ in triton })])
        let cache = ObjectCache<ModelDeployment>.modelDeployments(backends: backends)
        let reconciler = DeploymentReconciler(
            client: kube, cache: cache, backends: backends, audit: try AuditLog(path: directory + "/audit.log"),
            events: EventRecorder(client: kube, instance: "test"))
        let controller = Controller(client: kube, cache: cache, reconciler: reconciler, workers: 1, resyncPeriod: .seconds(3600))
        let task = Task { await controller.run() }
        defer { task.cancel() }
        let deadline = ContinuousClock.now + .seconds(20)
        var md = try await kube.get(ModelDeployment.self, name: "a")
        while md.status?.phase != .ready || md.metadata.labels?["touched"] == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            md = try await kube.get(ModelDeployment.self, name: "a")
        }
        #expect(md.status?.phase == .ready && md.metadata.labels?["touched"] == "during-the-load")
        #expect(md.status?.triton == .init(url: triton.baseURL, model: "m", origin: .loaded), "\(String(describing: md.status?.triton))")
        let audit = try String(contentsOfFile: directory + "/audit.log", encoding: .utf8)
        #expect(!audit.contains(#""action":"adopt""#), "\(audit)")
        #expect(audit.components(separatedBy: #""action":"load""#).count == 2, "one load of ours: \(audit)")
    }
}
