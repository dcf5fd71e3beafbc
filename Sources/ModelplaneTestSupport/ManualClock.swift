public import Controller
public import Foundation
import Synchronization

/// A `RuntimeClock` that moves only when a test says so: sleepers wake when `advance(by:)` takes
/// the time past their deadline, so a test of a delay, a deadline or a cache's age neither waits
/// for real time nor depends on how busy the machine is.
public final class ManualClock: RuntimeClock {
    private struct Sleeper {
        var deadline: Duration
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Duration = .zero
        var sleepers: [Int: Sleeper] = [:]
        /// Sleepers cancelled before they were registered.
        var cancelled: Set<Int> = []
        var nextID = 0
        /// `waitForSleepers` calls, each with what it waits for.
        var watchers: [(until: @Sendable ([Duration]) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []

        var deadlines: [Duration] { sleepers.values.map(\.deadline).sorted() }

        /// The watchers whose condition now holds, removed.
        mutating func satisfiedWatchers() -> [CheckedContinuation<Void, Never>] {
            let deadlines = deadlines
            let satisfied = watchers.filter { $0.until(deadlines) }
            watchers.removeAll { $0.until(deadlines) }
            return satisfied.map(\.continuation)
        }
    }

    private let state = Mutex(State())
    /// The wall time at `now == 0`.
    public let start: Date

    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { self.start = start }

    public var now: Duration { state.withLock { $0.now } }

    public var date: Date {
        let elapsed = now.components
        return start.addingTimeInterval(Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
    }

    /// Tasks asleep on this clock.
    public var sleepers: Int { state.withLock { $0.sleepers.count } }

    /// What each task asleep on this clock waits for, earliest first.
    public var deadlines: [Duration] { state.withLock { $0.deadlines } }

    public func sleep(until deadline: Duration) async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (outcome, watchers) = state.withLock { state -> (Result<Void, any Error>?, [CheckedContinuation<Void, Never>]) in
                    if state.cancelled.remove(id) != nil { return (.failure(CancellationError()), []) }
                    if deadline <= state.now { return (.success(()), []) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return (nil, state.satisfiedWatchers())
                }
                if let outcome { continuation.resume(with: outcome) }
                for watcher in watchers { watcher.resume() }
            }
        } onCancel: {
            let (sleeper, watchers) = state.withLock { state in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return (Sleeper?.none, [CheckedContinuation<Void, Never>]())
                }
                return (sleeper, state.satisfiedWatchers())
            }
            sleeper?.continuation.resume(throwing: CancellationError())
            for watcher in watchers { watcher.resume() }
        }
        // (A cancellation that came after the sleep ended left its id behind.)
        _ = state.withLock { $0.cancelled.remove(id) }
    }

    /// Moves the time on by `duration`, waking every sleeper whose deadline it reaches.
    public func advance(by duration: Duration) {
        let (due, watchers) = state.withLock { state in
            state.now += duration
            let due = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in due.keys { state.sleepers[id] = nil }
            return (due.values.map(\.continuation), state.satisfiedWatchers())
        }
        for continuation in due { continuation.resume() }
        for watcher in watchers { watcher.resume() }
    }

    /// Returns once at least `count` tasks are asleep on this clock: what a test waits for
    /// before it advances the time past what they wait for.
    public func waitForSleepers(_ count: Int = 1) async {
        await waitForSleepers { $0.count >= count }
    }

    /// Returns once the deadlines tasks are asleep until (earliest first) satisfy `condition`:
    /// exactly which sleepers there are, where a count could be reached by the wrong ones.
    public func waitForSleepers(until condition: @escaping @Sendable ([Duration]) -> Bool) async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                guard !condition(state.deadlines) else { return true }
                state.watchers.append((condition, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}
