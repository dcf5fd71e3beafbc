public import KubeClient
public import Logging
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

/// How a reconcile ended; the controller decides what happens next from it.
public enum ReconcileOutcome: Sendable, Equatable {
    /// Desired and observed agree: nothing until the object or the resync says otherwise.
    case converged
    /// Look again after a while (progress to watch, a deliberate slow retry).
    case requeueAfter(Duration)
    /// Something that may pass (unreachable backend, conflict): retry with backoff.
    case transientError(String)
    /// Retrying cannot help until the object changes.
    case terminalError(String)
}

public protocol Reconciler: Sendable {
    func reconcile(_ key: ObjectKey) async -> ReconcileOutcome
}

/// The latest ModelDeployments the informer has seen, by key.
public final class ObjectCache<Object: KubernetesObject>: Sendable {
    private let objects = Mutex<[ObjectKey: Object]>([:])

    public init() {}

    public subscript(key: ObjectKey) -> Object? { objects.withLock { $0[key] } }

    public var all: [Object] { objects.withLock { Array($0.values) } }

    public var count: Int { objects.withLock { $0.count } }

    func replace(_ items: [Object]) -> [ObjectKey] {
        objects.withLock { objects in
            let old = Set(objects.keys)
            objects = Dictionary(items.map { (ObjectKey($0.metadata), $0) }) { $1 }
            return Array(old.union(objects.keys))
        }
    }

    func set(_ object: Object) { objects.withLock { $0[ObjectKey(object.metadata)] = object } }

    func remove(_ key: ObjectKey) { objects.withLock { $0[key] = nil } }
}

/// An informer (list + watch through a `Reflector`) feeding a `WorkQueue`, and a bounded number
/// of workers running the reconciler. Every object is also reconciled again every
/// `resyncPeriod`, which catches backend drift nobody told us about.
public final class Controller<R: Reconciler>: Sendable {
    public let reconciler: R
    public let cache: ObjectCache<ModelDeployment>
    public let queue = WorkQueue<ObjectKey>()
    let client: KubernetesClient
    let namespace: String?
    let workers: Int
    let resyncPeriod: Duration
    let logger: Logger

    public init(
        client: KubernetesClient, namespace: String?, cache: ObjectCache<ModelDeployment>, reconciler: R, workers: Int = 4,
        resyncPeriod: Duration = .seconds(300), logger: Logger = Logger(label: "modelplane.controller")
    ) {
        self.client = client
        self.namespace = namespace
        self.cache = cache
        self.reconciler = reconciler
        self.workers = max(1, workers)
        self.resyncPeriod = resyncPeriod
        self.logger = logger
    }

    /// Runs until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.inform() }
            group.addTask { await self.resync() }
            for _ in 0..<workers { group.addTask { await self.work() } }
            await withTaskCancellationHandler {
                while (try? await Task.sleep(for: .seconds(3600))) != nil {}
            } onCancel: {
                Task { await self.queue.shutDown() }
            }
            await queue.shutDown()
            group.cancelAll()
        }
    }

    private func inform() async {
        let reflector = Reflector<ModelDeployment>(client: client, namespace: namespace)
        for await event in reflector.events() {
            switch event {
            case .replaced(let items, _):
                for key in cache.replace(items) { await queue.add(key) }
            case .added(let object), .modified(let object):
                cache.set(object)
                await queue.add(ObjectKey(object.metadata))
            case .deleted(let object):
                cache.remove(ObjectKey(object.metadata))
                await queue.add(ObjectKey(object.metadata))
            case .failed(let error, let delay):
                logger.warning("list/watch of ModelDeployments failed; retrying", metadata: ["error": "\(error)", "retryIn": "\(delay)"])
            }
        }
    }

    private func resync() async {
        while (try? await Task.sleep(for: resyncPeriod)) != nil {
            for object in cache.all { await queue.add(ObjectKey(object.metadata)) }
        }
    }

    private func work() async {
        while let key = await queue.next() {
            let outcome = await reconciler.reconcile(key)
            switch outcome {
            case .converged:
                await queue.forget(key)
            case .requeueAfter(let delay):
                await queue.forget(key)
                await queue.add(key, after: delay)
            case .transientError(let message):
                let delay = await queue.retry(key)
                logger.info("reconcile failed; retrying", metadata: ["deployment": "\(key)", "error": "\(message)", "retryIn": "\(delay)"])
            case .terminalError(let message):
                await queue.forget(key)
                logger.warning("reconcile failed; not retrying until the object changes", metadata: ["deployment": "\(key)", "error": "\(message)"])
            }
            await queue.done(key)
        }
    }
}
