public import ModelplaneAPI

/// Why a condition is what it is: the `reason` of Ready, Progressing and Degraded. The raw value
/// is the stable text status carries (and users script against); nothing decides anything by
/// reading a message.
public enum RolloutReason: String, Sendable, Hashable, CaseIterable {
    case serving = "Serving"
    case converged = "Converged"
    case healthy = "Healthy"
    case deploying = "Deploying"
    case loading = "Loading"
    case moving = "Moving"
    case notServing = "NotServing"
    case servingPrevious = "ServingPrevious"
    case rolloutFailed = "RolloutFailed"
    case loadFailed = "LoadFailed"
    /// The version the spec names is not where the backend would load it from (nothing was tried).
    case versionNotFound = "VersionNotFound"
    case progressDeadlineExceeded = "ProgressDeadlineExceeded"
    case smokeTestFailed = "SmokeTestFailed"
    case updateRolledBack = "UpdateRolledBack"
    case updateRollbackFailed = "UpdateRollbackFailed"
    case endpointFailed = "EndpointFailed"
    case invalidRequest = "InvalidRequest"
    case rollingBack = "RollingBack"
    case conflict = "Conflict"
    case backendUnavailable = "BackendUnavailable"
    case credentialsUnavailable = "CredentialsUnavailable"
    case backendNotSupported = "BackendNotSupported"
    /// A canary follows its steps (Progressing), or waits at a pause (Progressing, Paused).
    case canaryProgressing = "CanaryProgressing"
    case canaryPaused = "CanaryPaused"
    /// `modelplane abort`: the stable version alone serves until the spec changes or a retry.
    case canaryAborted = "CanaryAborted"

    /// A failure of the rollout itself (not of reaching the backend): the same generation is not
    /// tried again until the spec changes or `FailureGate.recheckAfter` has passed.
    public var gatesRetry: Bool {
        switch self {
        case .loadFailed, .progressDeadlineExceeded, .smokeTestFailed, .updateRolledBack, .endpointFailed, .invalidRequest: true
        default: false
        }
    }
}

/// An event's reason: what happened, in one word. Raw values are the stable texts of events.
public enum EventReason: String, Sendable, Hashable, CaseIterable {
    case serving = "Serving"
    case adopted = "Adopted"
    case released = "Released"
    case loaded = "Loaded"
    case unloaded = "Unloaded"
    case rolledBack = "RolledBack"
    case learnedConfig = "LearnedConfig"
    case loadFailed = "LoadFailed"
    case versionNotFound = "VersionNotFound"
    case smokeTestFailed = "SmokeTestFailed"
    case progressDeadlineExceeded = "ProgressDeadlineExceeded"
    case creating = "Creating"
    case updating = "Updating"
    case scaling = "Scaling"
    case replacing = "Replacing"
    case deleting = "Deleting"
    case deleted = "Deleted"
    case updateRolledBack = "UpdateRolledBack"
    case updateRollbackFailed = "UpdateRollbackFailed"
    case endpointFailed = "EndpointFailed"
    case invalidRequest = "InvalidRequest"
    case rollingBack = "RollingBack"
    case conflict = "Conflict"
    case backendUnavailable = "BackendUnavailable"
    case credentialsUnavailable = "CredentialsUnavailable"
    case cleanupFailed = "CleanupFailed"
    case canaryStarted = "CanaryStarted"
    case canaryWeight = "CanaryWeight"
    case canaryDropped = "CanaryDropped"
    case promoted = "Promoted"
    case aborted = "Aborted"
    case paused = "Paused"
    case resumed = "Resumed"
    case retried = "Retried"
    /// An analysis failed: the canary was aborted.
    case analysisFailed = "AnalysisFailed"
    /// An analysis was inconclusive: the canary is paused.
    case analysisInconclusive = "AnalysisInconclusive"
    /// A metric could not be measured: the canary holds where it is.
    case analysisError = "AnalysisError"
    /// An analysis step passed.
    case analysisPassed = "AnalysisPassed"
    /// A rollout request (`modelplane promote`, …) that did not apply.
    case requestIgnored = "RequestIgnored"

    /// The event that says a condition's reason happened.
    public init(_ reason: RolloutReason) {
        self = EventReason(rawValue: reason.rawValue) ?? .endpointFailed
    }
}

/// The condition types every ModelDeployment carries.
public enum ConditionType: String, Sendable, Hashable, CaseIterable {
    case ready = "Ready"
    case progressing = "Progressing"
    case degraded = "Degraded"
}

extension [Condition] {
    public subscript(_ type: ConditionType) -> Condition? { self[type: type.rawValue] }
}

/// A failure of the rollout: why (typed) and what a user reads.
public struct RolloutFailure: Sendable, Hashable, CustomStringConvertible {
    public var reason: RolloutReason
    public var message: String

    public init(_ reason: RolloutReason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}

/// One event to record about the deployment, once its status is written.
public struct RolloutNote: Sendable, Hashable {
    public var type: Event.EventType
    public var reason: EventReason
    /// What was done, as Kubernetes events name it (`Load`, `CreateEndpoint`, …).
    public var action: String
    public var message: String

    public init(_ type: Event.EventType, _ reason: EventReason, action: String, _ message: String) {
        self.type = type
        self.reason = reason
        self.action = action
        self.message = message
    }

    public static func normal(_ reason: EventReason, action: String, _ message: String) -> RolloutNote { .init(.normal, reason, action: action, message) }
    public static func warning(_ reason: EventReason, action: String, _ message: String) -> RolloutNote {
        .init(.warning, reason, action: action, message)
    }
}

/// One action on a backend as the audit trail records it: what, on what, and how it ended.
public struct AuditEntry: Sendable, Hashable {
    public var action: String
    /// The backend thing acted on: `http://triton:8000#model`, `sagemaker:REGION/ENDPOINT`, a resource name.
    public var target: String
    public var detail: JSONValue?
    public var outcome: AuditOutcome

    public init(_ action: String, _ target: String, detail: JSONValue? = nil, _ outcome: AuditOutcome) {
        self.action = action
        self.target = target
        self.detail = detail
        self.outcome = outcome
    }
}

/// How an audited action ended. `text` is what the log has always said, so logs written before
/// this type existed read the same.
public enum AuditOutcome: Sendable, Hashable {
    case ok
    case failed(String)
    case alreadyExisted
    case alreadyGone
    case deferred(String)
    case notLoaded(String)
    /// The backend reported something that is neither ok nor a failure of ours (SageMaker's own
    /// rollback reason).
    case reported(String)

    public var text: String {
        switch self {
        case .ok: "ok"
        case .failed(let why): "failed: \(why)"
        case .alreadyExisted: "already existed"
        case .alreadyGone: "already gone"
        case .deferred(let why): "deferred: \(why)"
        case .notLoaded(let why): "not loaded: \(why)"
        case .reported(let what): what
        }
    }
}
