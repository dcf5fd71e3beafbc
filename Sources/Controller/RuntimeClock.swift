public import Foundation

/// The time the controller runtime reads: a monotonic clock for delays, deadlines and cache ages,
/// and the wall clock for the timestamps it writes (revisions, conditions). Injected everywhere
/// the runtime waits or compares times, so tests drive it by hand (`ManualClock` in the test
/// support) instead of sleeping; production uses `SystemClock`.
public protocol RuntimeClock: Sendable {
    /// Monotonic time since the clock's own start.
    var now: Duration { get }
    /// Returns once `now` has reached `deadline`; throws `CancellationError` if the task is
    /// cancelled first.
    func sleep(until deadline: Duration) async throws
    /// The wall clock.
    var date: Date { get }
}

extension RuntimeClock {
    public func sleep(for duration: Duration) async throws { try await sleep(until: now + duration) }
}

/// The real clocks: `ContinuousClock` (which keeps counting while the machine sleeps, as a
/// deadline should) and `Date()`.
public struct SystemClock: RuntimeClock {
    private let start = ContinuousClock.now

    public init() {}

    public var now: Duration { ContinuousClock.now - start }

    public func sleep(until deadline: Duration) async throws {
        try await Task.sleep(until: start + deadline, clock: .continuous)
    }

    public var date: Date { Date() }
}
