/// A work queue like client-go's: a key waiting is queued once however often it is added; a key
/// is never handed to two workers at once (added while processing, it is queued again when
/// `done`); what follows a reconcile (backoff per key with jitter, requeues, conflicts) is its
/// `RetryPolicy`'s decision.
public actor WorkQueue<Key: Hashable & Sendable> {
    private var queue: [Key] = []
    private var head = 0
    private var queued: Set<Key> = []
    private var processing: Set<Key> = []
    private var dirty: Set<Key> = []
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    private var failures: [Key: Int] = [:]
    /// How many of a key's latest failures in a row were conflicts.
    private var conflicts: [Key: Int] = [:]
    private var delayed: [Key: (due: Duration, task: Task<Void, Never>)] = [:]
    private var isShutDown = false
    /// What happens to a key after its reconcile: backoff, conflicts, requeues.
    public let policy: RetryPolicy
    /// What delayed adds wait on.
    public let clock: any RuntimeClock

    public init(policy: RetryPolicy = RetryPolicy(), clock: any RuntimeClock = SystemClock()) {
        self.policy = policy
        self.clock = clock
    }

    /// Keys waiting (not counting those being processed or delayed).
    public var depth: Int { queue.count - head }

    /// Workers waiting in `next()` for a key.
    public var waitingWorkers: Int { waiters.count }

    /// Keys waiting or being processed.
    public var outstanding: Int { queue.count - head + processing.count }

    public func add(_ key: Key) {
        guard !isShutDown else { return }
        if processing.contains(key) {
            dirty.insert(key)
            return
        }
        guard queued.insert(key).inserted else { return }
        if !waiters.isEmpty {
            queued.remove(key)
            processing.insert(key)
            waiters.removeFirst().resume(returning: key)
        } else {
            queue.append(key)
        }
    }

    /// Adds every key in one call. The informer's first list queues thousands; with an actor call
    /// per key, each worker's own calls got a turn between two adds, keys went out as fast as they
    /// came in, and a 2-core cold start ran with ~4 reconciles in flight and a quarter idle.
    public func add<S: Sequence<Key> & Sendable>(contentsOf keys: S) {
        for key in keys { add(key) }
    }

    /// Adds `key` after `delay`; an earlier pending delayed add wins over a later one.
    public func add(_ key: Key, after delay: Duration) {
        guard !isShutDown else { return }
        let due = clock.now + delay
        if let pending = delayed[key], pending.due <= due { return }
        delayed[key]?.task.cancel()
        let task = Task { [weak self, clock] in
            guard (try? await clock.sleep(until: due)) != nil else { return }
            await self?.fireDelayed(key, due: due)
        }
        delayed[key] = (due, task)
    }

    private func fireDelayed(_ key: Key, due: Duration) {
        guard delayed[key]?.due == due else { return }
        delayed[key] = nil
        add(key)
    }

    /// The next key to work on; nil once the queue is shut down (what is still queued is left:
    /// a stopping controller takes no new work).
    public func next() async -> Key? {
        if isShutDown { return nil }
        if head < queue.count {
            let key = queue[head]
            head += 1
            if head > 1024, head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            queued.remove(key)
            processing.insert(key)
            return key
        }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// The worker finished `key`; if it was added meanwhile it is queued again, unless
    /// `unchanged` (asked only then, on this actor, so an add that follows cannot be lost) says
    /// the object is as the worker left it.
    public func done(_ key: Key, unlessUnchanged unchanged: (@Sendable () -> Bool)? = nil) {
        processing.remove(key)
        if dirty.remove(key) != nil, unchanged?() != true { add(key) }
    }

    /// What the policy makes of `result`, applied, then `done`, in one call: a worker's every
    /// actor hop is one the informer's adds and the other workers wait behind. Returns the
    /// decision and the keys then waiting. (After a conflict the caller has read the object again
    /// before calling this, while the key was still its own.)
    public func finish(
        _ key: Key, _ result: Result<ReconcileResult, ReconcileError>, unlessUnchanged unchanged: (@Sendable () -> Bool)? = nil
    ) -> (decision: RetryPolicy.Decision, depth: Int) {
        let failed = failures[key, default: 0]
        let decision = policy.decide(
            result, failures: failed, conflicts: conflicts[key, default: 0], jitter: Double.random(in: policy.jitter))
        if case .failure(let error) = result, error.kind == .conflict {
            conflicts[key, default: 0] += 1
        } else {
            conflicts[key] = nil
        }
        switch decision {
        case .forget: forget(key)
        case .requeue(let delay):
            forget(key)
            add(key, after: delay)
        case .retry(let delay):
            failures[key] = failed + 1
            add(key, after: delay)
        case .retryAtOnce:
            failures[key] = failed + 1
        }
        done(key, unlessUnchanged: unchanged)
        if decision == .retryAtOnce { add(key) }
        return (decision, depth)
    }

    /// Failures in a row of `key` (what its next backoff is computed from).
    public func failureCount(_ key: Key) -> Int { failures[key, default: 0] }

    /// `key` succeeded: its backoff starts over.
    public func forget(_ key: Key) {
        failures[key] = nil
        conflicts[key] = nil
    }

    public func shutDown() {
        isShutDown = true
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
        for (_, pending) in delayed { pending.task.cancel() }
        delayed.removeAll()
    }
}
