public import KubeClient
public import Logging
import Metrics
public import ModelplaneAPI
import Synchronization

/// `namespace/name`.
public struct ObjectKey: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public init(_ metadata: ObjectMeta) {
        self.init(namespace: metadata.namespace ?? "", name: metadata.name ?? "")
    }

    public var description: String { "\(namespace)/\(name)" }
}

/// The latest objects the informer has seen, by key, with an optional secondary index (like
/// client-go's indexers) so lookups such as "who claims this Triton model" need not scan.
public final class ObjectCache<Object: KubernetesObject>: Sendable {
    private struct State {
        var objects: [ObjectKey: Object] = [:]
        var index: [String: Set<ObjectKey>] = [:]
        /// The values each object is indexed under, as `insert` computed them.
        var indexed: [ObjectKey: [String]] = [:]
        /// The resourceVersion our own latest write of each object produced.
        var ownVersions: [ObjectKey: String] = [:]
    }

    private let state = Mutex(State())
    private let indexValues: (@Sendable (Object) -> [String])?

    /// `index`: the values an object is found under by `keys(indexedBy:)`.
    public init(index: (@Sendable (Object) -> [String])? = nil) { indexValues = index }

    public subscript(key: ObjectKey) -> Object? { state.withLock { $0.objects[key] } }

    public var all: [Object] { state.withLock { Array($0.objects.values) } }

    public var count: Int { state.withLock { $0.objects.count } }

    /// The objects indexed under `value`.
    public func objects(indexedBy value: String) -> [Object] {
        state.withLock { state in (state.index[value] ?? []).compactMap { state.objects[$0] } }
    }

    /// Replaces everything (or, with `namespace`, everything in that namespace) with `items`;
    /// returns the keys of what was there and what is there now.
    func replace(_ items: [Object], namespace: String? = nil) -> [ObjectKey] {
        state.withLock { state in
            let old = Set(state.objects.keys.filter { key in namespace.map { key.namespace == $0 } ?? true })
            if namespace == nil {
                state = State()
            } else {
                for key in old {
                    remove(key, from: &state)
                    state.ownVersions[key] = nil
                }
            }
            state.objects.reserveCapacity(state.objects.count + items.count)
            for item in items { insert(item, into: &state) }
            return Array(old.union(items.map { ObjectKey($0.metadata) }))
        }
    }

    public func set(_ object: Object) { state.withLock { insert(object, into: &$0) } }

    /// The object as our own write left it (the server's answer): cached at once, so the next
    /// reconcile reads what we wrote rather than what the watch has yet to deliver (client-go's
    /// mutation cache); its watch event then needs no reconcile (`observe`, `isAsWeLeftIt`).
    public func wrote(_ object: Object) {
        state.withLock { state in
            let key = ObjectKey(object.metadata)
            if let cached = state.objects[key], Self.isOlder(object, than: cached) { return }
            insert(object, into: &state)
            state.ownVersions[key] = object.metadata.resourceVersion
        }
    }

    /// Whether `resourceVersion` is what our own latest write of the object produced: the watch
    /// event at that version is the echo `observe` ignores.
    public func isOwnWrite(_ key: ObjectKey, resourceVersion: String) -> Bool {
        state.withLock { $0.ownVersions[key] == resourceVersion }
    }

    /// Caches a watch event's object; returns whether it needs a reconcile. The echo of our own
    /// write does not (the reconcile that wrote it already acted on it), nor does an event older
    /// than the write of ours that is cached; anyone else's change does.
    public func observe(_ object: Object) -> Bool {
        state.withLock { state in
            let key = ObjectKey(object.metadata)
            let own = state.ownVersions[key]
            if own != nil, object.metadata.resourceVersion == own { return false }
            if let cached = state.objects[key], Self.isOlder(object, than: cached) {
                return cached.metadata.resourceVersion != own
            }
            insert(object, into: &state)
            return true
        }
    }

    /// Whether the cached object is exactly what our own latest write left.
    public func isAsWeLeftIt(_ key: ObjectKey) -> Bool {
        state.withLock { state in
            guard let own = state.ownVersions[key], let cached = state.objects[key] else { return false }
            return cached.metadata.resourceVersion == own
        }
    }

    /// resourceVersions are opaque, but every server we know of (kube-apiserver's etcd revisions,
    /// ours) uses increasing integers; where both parse, an older one never replaces a newer one.
    static func isOlder(_ object: Object, than cached: Object) -> Bool {
        guard let a = object.metadata.resourceVersion.flatMap({ Int64($0) }), let b = cached.metadata.resourceVersion.flatMap({ Int64($0) }) else {
            return false
        }
        return a < b
    }

    func remove(_ key: ObjectKey) {
        state.withLock { state in
            remove(key, from: &state)
            state.ownVersions[key] = nil
        }
    }

    private func insert(_ object: Object, into state: inout State) {
        let key = ObjectKey(object.metadata)
        let values = indexValues?(object) ?? []
        // Most updates (a status, a finalizer) leave the indexed values as they were.
        if state.objects.updateValue(object, forKey: key) != nil, state.indexed[key] ?? [] == values { return }
        unindex(key, from: &state)
        for value in values { state.index[value, default: []].insert(key) }
        if !values.isEmpty { state.indexed[key] = values }
    }

    private func remove(_ key: ObjectKey, from state: inout State) {
        guard state.objects.removeValue(forKey: key) != nil else { return }
        unindex(key, from: &state)
    }

    private func unindex(_ key: ObjectKey, from state: inout State) {
        for value in state.indexed.removeValue(forKey: key) ?? [] {
            state.index[value]?.remove(key)
            if state.index[value]?.isEmpty == true { state.index[value] = nil }
        }
    }
}

extension ObjectCache where Object == ModelDeployment {
    /// Indexed by the backend things each deployment wants and holds (`Claim.key`: a Triton
    /// model, a SageMaker endpoint), which the reconciler's conflict check looks up.
    public static func modelDeployments(backends: BackendRegistry) -> ObjectCache<ModelDeployment> {
        // Usually the thing the spec wants is the one the status records: one value, which the
        // status write that records it leaves as it was (no re-indexing).
        ObjectCache { md in backends.claimKeys(md) }
    }
}

/// Which ModelDeployments this controller reconciles.
public struct ControllerScope: Sendable, CustomStringConvertible {
    /// Empty: every namespace.
    public var namespaces: [String]
    public var labelSelector: String?
    /// This replica reconciles the deployments whose key hashes to `index` modulo `count`.
    public var shard: (index: Int, count: Int)?

    public init(namespaces: [String] = [], labelSelector: String? = nil, shard: (index: Int, count: Int)? = nil) {
        self.namespaces = namespaces
        self.labelSelector = labelSelector
        self.shard = shard
    }

    public static let everything = ControllerScope()

    /// Whether `key` is this replica's (always, without sharding). FNV-1a of "namespace/name":
    /// stable across processes and versions, unlike Swift's seeded `hashValue`.
    public func owns(_ key: ObjectKey) -> Bool {
        guard let shard, shard.count > 1 else { return true }
        return Int(FNV1a.hash(key.description) % UInt64(shard.count)) == shard.index
    }

    public var description: String {
        var parts = [namespaces.isEmpty ? "all namespaces" : "namespace\(namespaces.count == 1 ? "" : "s") \(namespaces.joined(separator: ", "))"]
        if let labelSelector { parts.append("labels \(labelSelector)") }
        if let shard { parts.append("shard \(shard.index) of \(shard.count)") }
        return parts.joined(separator: ", ")
    }
}

/// An informer (list + watch through a `Reflector`) feeding a `WorkQueue`, and a bounded number
/// of workers running the reconciler. Every object is also reconciled again every
/// `resyncPeriod`, which catches backend drift nobody told us about.
public final class Controller<R: Reconciler>: Sendable {
    public let reconciler: R
    public let cache: ObjectCache<ModelDeployment>
    public let queue: WorkQueue<ObjectKey>
    /// Reconciles at once unless told otherwise (`--workers`). A reconcile mostly waits (for a
    /// backend's load, for its writes' commit), so more workers than cores: 32 let the store
    /// batch their writes into shared commits; 4 left a cold start of 10,000 mostly waiting
    /// (docs/design.md, "Fourth pass").
    public static var defaultWorkers: Int { 32 }
    let client: KubernetesClient
    let scope: ControllerScope
    let workers: Int
    let resyncPeriod: Duration
    /// What resyncs and the queue's delayed adds wait on.
    let clock: any RuntimeClock
    let logger: Logger
    private let syncedReflectors = Atomic<Int>(0)

    /// Whether the first list of every namespace in scope has filled the cache (readiness).
    public var hasSynced: Bool { syncedReflectors.load(ordering: .relaxed) >= max(1, scope.namespaces.count) }

    // Prometheus names (through swift-metrics: whatever backend the process bootstraps).
    private let depth = Gauge(label: "modelplane_workqueue_depth")
    private let duration = Metrics.Timer(label: "modelplane_reconcile_duration_seconds", preferredDisplayUnit: .seconds)

    public init(
        client: KubernetesClient, scope: ControllerScope = .everything, cache: ObjectCache<ModelDeployment>, reconciler: R, workers: Int = defaultWorkers,
        resyncPeriod: Duration = .seconds(300), retryPolicy: RetryPolicy = RetryPolicy(), clock: any RuntimeClock = SystemClock(),
        logger: Logger = Logger(label: "modelplane.controller")
    ) {
        self.queue = WorkQueue(policy: retryPolicy, clock: clock)
        self.clock = clock
        self.client = client
        self.scope = scope
        self.cache = cache
        self.reconciler = reconciler
        self.workers = max(1, workers)
        self.resyncPeriod = resyncPeriod
        self.logger = logger
    }

    /// Runs until the task is cancelled; then takes no new work, lets each worker finish the
    /// reconcile in hand (workers are not cancelled: a reconcile cut off halfway would leave an
    /// action unrecorded), and returns.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            if scope.namespaces.isEmpty {
                group.addTask { await self.inform(namespace: nil) }
            } else {
                for namespace in scope.namespaces { group.addTask { await self.inform(namespace: namespace) } }
            }
            group.addTask { await self.resync() }
            let workers = (0..<workers).map { _ in Task { await self.work() } }
            await withTaskCancellationHandler {
                for worker in workers { await worker.value }
            } onCancel: {
                Task { await self.queue.shutDown() }
            }
            group.cancelAll()
        }
    }

    /// Lists and watches one namespace (nil: all) into the cache; queues what this replica owns.
    /// (The cache holds every object in scope, owned or not, so conflicts between deployments on
    /// different shards are still seen.)
    private func inform(namespace: String?) async {
        var reflector = Reflector<ModelDeployment>(client: client, namespace: namespace, labelSelector: scope.labelSelector)
        // The echoes of our own writes, which `observe` would ignore, are not even decoded.
        reflector.isKnown = { [cache] namespace, name, version in cache.isOwnWrite(ObjectKey(namespace: namespace, name: name), resourceVersion: version) }
        var listed = false
        for await event in reflector.events() {
            switch event {
            case .replaced(let items, _):
                await queue.add(contentsOf: cache.replace(items, namespace: namespace).filter(scope.owns))
                if !listed {
                    listed = true
                    syncedReflectors.add(1, ordering: .relaxed)
                }
                depth.record(await queue.depth)
            case .added(let object), .modified(let object):
                let key = ObjectKey(object.metadata)
                if cache.observe(object), scope.owns(key) { await queue.add(key) }
            case .deleted(let object):
                let key = ObjectKey(object.metadata)
                cache.remove(key)
                if scope.owns(key) { await queue.add(key) }
            case .failed(let error, let delay):
                logger.warning("list/watch of ModelDeployments failed; retrying", metadata: ["error": "\(error)", "retryIn": "\(delay)"])
            }
        }
    }

    private func resync() async {
        while (try? await clock.sleep(for: resyncPeriod)) != nil { await resyncAll() }
    }

    /// Queues every known ModelDeployment for a reconcile now.
    public func resyncAll() async {
        await queue.add(contentsOf: cache.all.map { ObjectKey($0.metadata) }.filter(scope.owns))
    }

    private func work() async {
        while let key = await queue.next() {
            let start = ContinuousClock.now
            let result: Result<ReconcileResult, ReconcileError>
            do throws(ReconcileError) {
                result = .success(try await reconciler.reconcile(key))
            } catch {
                result = .failure(error)
            }
            duration.recordInterval(since: start)
            Counter(label: "modelplane_reconcile_total", dimensions: [("outcome", result.metricLabel)]).increment()
            // A conflict: the cached object was older than the stored one (the watch may not have
            // delivered the newer yet). Read it again while the key is still this worker's, so no
            // other pass runs on the stale copy meanwhile.
            if case .failure(let error) = result, error.kind == .conflict { await refresh(key) }
            // The echo of our own write may have arrived before the write returned; it needs no
            // second pass (anything newer, from anyone else, is cached before it is queued).
            let (decision, waiting) = await queue.finish(key, result, unlessUnchanged: { [cache] in cache.isAsWeLeftIt(key) })
            depth.record(waiting)
            guard case .failure(let error) = result else { continue }
            switch decision {
            case .retry(let delay):
                logger.info("reconcile failed; retrying", metadata: ["deployment": "\(key)", "error": "\(error)", "retryIn": "\(delay)"])
            case .retryAtOnce:
                logger.debug("reconcile met a newer object; read it again, retrying", metadata: ["deployment": "\(key)", "error": "\(error)"])
            case .forget where error.kind == .terminal:
                logger.warning("reconcile failed; not retrying until the object changes", metadata: ["deployment": "\(key)", "error": "\(error)"])
            case .forget, .requeue: break
            }
        }
    }

    /// Reads `key` from the API server into the cache (after a conflict: the cached object was
    /// older than the stored one, and the watch may not have delivered the newer one yet).
    private func refresh(_ key: ObjectKey) async {
        do {
            _ = cache.observe(try await client.get(ModelDeployment.self, name: key.name, namespace: key.namespace))
        } catch  where error.isNotFound {
            cache.remove(key)
        } catch {
            logger.info("could not read the object again; retrying on the cached one", metadata: ["deployment": "\(key)", "error": "\(error)"])
        }
    }
}

extension Result<ReconcileResult, ReconcileError> {
    /// The outcome's kind, as a metric label (never the message: labels must stay few).
    var metricLabel: String {
        switch self {
        case .success(.converged): "converged"
        case .success(.requeueAfter): "requeue"
        case .failure(let error):
            switch error.kind {
            case .transient: "transient_error"
            case .terminal: "terminal_error"
            case .conflict: "conflict"
            case .notLeader: "not_leader"
            }
        }
    }
}

extension Metrics.Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
