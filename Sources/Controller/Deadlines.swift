import Synchronization

/// Runs work against a deadline without a timer per call. Racing each backend call against a
/// `Task.sleep` (a task group of two) registered and cancelled one dispatch timer per load: each
/// woke libdispatch's timer thread, which preempted a worker, and on a cold start of 10,000
/// deployments that was a fifth of all context switches. Here one watchdog task sleeps until the
/// earliest armed deadline; arming a later one (the usual case: every load gets the same
/// `progressDeadlineSeconds`) leaves it asleep, and disarming is a dictionary removal.
public final class Deadlines: Sendable {
    private let clock: any RuntimeClock

    public init(clock: any RuntimeClock = SystemClock()) { self.clock = clock }

    private struct Armed {
        var due: Duration
        var expire: @Sendable () -> Void
    }

    private struct State {
        var armed: [Int: Armed] = [:]
        var nextID = 0
        /// When the watchdog wakes next; nil when it is not running.
        var wakeAt: Duration?
        var watchdog: Task<Void, Never>?
    }

    private let state = Mutex(State())

    /// Runs `body` in a task of its own and throws `DeadlineExceeded` if it has not finished
    /// `limit` from now; the task is cancelled then (and awaited: nothing outlives the call).
    public func run(within limit: Duration, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let task = Task { try await body() }
        let expired = Atomic<Bool>(false)
        let id = arm(due: clock.now + limit) {
            expired.store(true, ordering: .sequentiallyConsistent)
            task.cancel()
        }
        defer { disarm(id) }
        do {
            try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        } catch {
            if expired.load(ordering: .sequentiallyConsistent) { throw DeadlineExceeded(after: limit) }
            throw error
        }
        if expired.load(ordering: .sequentiallyConsistent) { throw DeadlineExceeded(after: limit) }
    }

    private func arm(due: Duration, expire: @escaping @Sendable () -> Void) -> Int {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.armed[id] = Armed(due: due, expire: expire)
            if state.wakeAt.map({ due < $0 }) ?? true { schedule(&state, at: due) }
            return id
        }
    }

    private func disarm(_ id: Int) {
        // The watchdog keeps its wake-up time: it finds nothing due then and goes back to sleep
        // until the next deadline, or stops.
        _ = state.withLock { $0.armed.removeValue(forKey: id) }
    }

    /// Restarts the watchdog to wake at `at`; called with the lock held.
    private func schedule(_ state: inout State, at: Duration) {
        state.watchdog?.cancel()
        state.wakeAt = at
        state.watchdog = Task { [self] in
            guard (try? await clock.sleep(until: at)) != nil else { return }
            fire(scheduledFor: at)
        }
    }

    private func fire(scheduledFor: Duration) {
        let due = state.withLock { state -> [Armed] in
            // A watchdog replaced by one waking earlier has been cancelled; should it still get
            // here, the newer one is in charge.
            guard state.wakeAt == scheduledFor else { return [] }
            let now = clock.now
            let due = state.armed.filter { $0.value.due <= now }
            for id in due.keys { state.armed[id] = nil }
            state.wakeAt = nil
            state.watchdog = nil
            if let next = state.armed.values.map(\.due).min() { schedule(&state, at: next) }
            return Array(due.values)
        }
        for armed in due { armed.expire() }
    }
}

/// A call on a backend did not finish within its deadline.
public struct DeadlineExceeded: Error, Sendable {
    public var after: Duration
}
