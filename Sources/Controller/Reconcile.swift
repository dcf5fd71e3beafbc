/// How a reconcile that finished ended; the runtime decides what happens next from it.
public enum ReconcileResult: Sendable, Equatable {
    /// Desired and observed agree: nothing until the object or the resync says otherwise.
    case converged
    /// Look again after a while (progress to watch, a deliberate slow retry).
    case requeueAfter(Duration)
}

/// Why a reconcile did not finish, typed by what the runtime does about it (`RetryPolicy`).
/// The message is for the log; what a user should read goes in the object's status, which the
/// reconciler writes before it throws where it can.
public struct ReconcileError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// May pass by itself (a backend unreachable, the API server away): retried with
        /// exponential backoff and jitter.
        case transient
        /// Retrying cannot help until the object (or what is observed of it) changes: not
        /// retried; the next change or resync looks again.
        case terminal
        /// The object changed under the write (409): read it again and retry at once, a few
        /// times in a row, then back off as for a transient error (still reading it again first).
        case conflict
        /// This replica does not lead (or stopped leading mid-way): nothing to retry here; the
        /// leader does the work.
        case notLeader
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func transient(_ message: String) -> ReconcileError { ReconcileError(.transient, message) }
    public static func terminal(_ message: String) -> ReconcileError { ReconcileError(.terminal, message) }
    public static func conflict(_ message: String) -> ReconcileError { ReconcileError(.conflict, message) }
    public static let notLeader = ReconcileError(.notLeader, "not the leader: no action taken")

    public var description: String { "\(kind.rawValue): \(message)" }
}

public protocol Reconciler: Sendable {
    func reconcile(_ key: ObjectKey) async throws(ReconcileError) -> ReconcileResult
}

/// What the work queue does with a key after its reconcile: a value, so the whole policy is
/// one table (`RetryPolicyTests`) rather than a switch spread over the runtime.
public struct RetryPolicy: Sendable, Equatable {
    /// The first backoff delay; each further failure doubles it, up to `maxDelay`.
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// The factor each backoff delay is multiplied by, drawn uniformly, so keys that failed
    /// together do not come back together.
    public var jitter: ClosedRange<Double>
    /// Conflicts in a row retried at once (the object read again first) before they back off.
    public var immediateConflictRetries: Int

    public init(
        baseDelay: Duration = .milliseconds(50), maxDelay: Duration = .seconds(300), jitter: ClosedRange<Double> = 0.8...1.2,
        immediateConflictRetries: Int = 3
    ) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.immediateConflictRetries = immediateConflictRetries
    }

    public enum Decision: Sendable, Equatable {
        /// Done with the key: its failures are forgotten and it is not queued again.
        case forget
        /// Done with it (failures forgotten); queued again after this long.
        case requeue(after: Duration)
        /// It failed: one more failure counted, queued again after this long.
        case retry(after: Duration)
        /// A conflict: one more failure counted, queued again at once (the runtime has read the
        /// object again first: the cache was stale).
        case retryAtOnce
    }

    /// The decision for a reconcile that ended with `result`, the key having failed `failures`
    /// times in a row before it, the last `conflicts` of them conflicts; `jitter` is the factor
    /// drawn from `self.jitter`.
    public func decide(_ result: Result<ReconcileResult, ReconcileError>, failures: Int, conflicts: Int = 0, jitter: Double) -> Decision {
        switch result {
        case .success(.converged): return .forget
        case .success(.requeueAfter(let delay)): return .requeue(after: delay)
        case .failure(let error):
            switch error.kind {
            case .terminal, .notLeader: return .forget
            case .conflict where conflicts < immediateConflictRetries: return .retryAtOnce
            case .conflict, .transient: return .retry(after: backoff(failures: failures) * jitter)
            }
        }
    }

    /// The delay after `failures` earlier failures, before jitter: base × 2^failures, capped.
    public func backoff(failures: Int) -> Duration {
        let delay = baseDelay * (1 << min(max(failures, 0), 30))
        return delay > maxDelay ? maxDelay : delay
    }
}
