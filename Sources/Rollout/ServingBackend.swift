public import Foundation
public import ModelplaneAPI

/// A serving backend's name: `triton`, `sagemaker`, or a test's own. It is what
/// `status.backend` shows.
public struct BackendID: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let triton: BackendID = "triton"
    public static let sagemaker: BackendID = "sagemaker"
}

/// Something on a backend that one deployment at a time may serve (a Triton model, a SageMaker
/// endpoint). Two deployments that claim the same key conflict; the older one keeps it.
public struct Claim: Sendable, Hashable {
    /// The index key: equal keys are the same backend thing.
    public var key: String
    /// What it is, for the conflict message: "model m on http://triton:8000".
    public var subject: String
    /// What two deployments cannot share: "one Triton model".
    public var unit: String

    public init(key: String, subject: String, unit: String) {
        self.key = key
        self.subject = subject
        self.unit = unit
    }

    public func conflict(owner: String) -> String { "\(subject) belongs to ModelDeployment \(owner); two deployments cannot serve \(unit)" }
}

/// One action a backend plans and executes.
public protocol BackendAction: Sendable, Hashable, CustomStringConvertible {
    /// False for bookkeeping (adopting, releasing, recording what the backend has): `modelplane
    /// diff` says "would change" only for actions that change the backend.
    var changesBackend: Bool { get }
    /// The line `modelplane diff` shows for it; nil shows nothing (bookkeeping nobody needs to see).
    var preview: String? { get }
}

/// The backend could not be asked (unreachable, throttled past the client's retries, no
/// credentials): the status says so and the runtime backs off. With a reason that gates retries
/// (`InvalidRequest`: the backend refused to answer a request of ours at all) it is a failure of
/// the rollout instead, held by the failure gate. Failures of the rollout itself (a model that
/// does not load) are `RolloutFailure`s in a `StepResult`.
public struct BackendError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: RolloutReason
    public var message: String

    public init(_ reason: RolloutReason = .backendUnavailable, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}

/// This replica stopped leading: act no further.
public struct NotLeading: Error, Sendable {
    public init() {}
}

/// What a backend is given while it acts for one deployment: the deployment, its revision, the
/// audit trail (each action is appended as it completes, before the next is planned) and the
/// leader check.
public struct ActionContext: Sendable {
    public var deployment: ModelDeployment
    public var revision: Int64?
    public var now: Date
    let audit: @Sendable (AuditEntry) throws -> Void
    let leading: @Sendable () -> Bool

    public init(
        deployment: ModelDeployment, revision: Int64?, now: Date, audit: @escaping @Sendable (AuditEntry) throws -> Void,
        leading: @escaping @Sendable () -> Bool
    ) {
        self.deployment = deployment
        self.revision = revision
        self.now = now
        self.audit = audit
        self.leading = leading
    }

    public func audit(_ entry: AuditEntry) throws { try audit(entry) }

    /// Called before every action: a replica that no longer leads stops before it acts.
    public func ensureLeading() throws(NotLeading) {
        if !leading() { throw NotLeading() }
    }

    /// The spec's progress deadline.
    public var progressDeadline: Duration {
        .seconds(deployment.spec.rollout?.progressDeadlineSeconds ?? ModelDeployment.Defaults.progressDeadlineSeconds)
    }
}

/// One serving backend behind the seam every deployment goes through. The contract:
/// - `plan` is pure: the same input gives the same answer, which is what `modelplane diff` shows
///   and what the controller executes, one action at a time, planning again after each;
/// - `observe` makes at most one call per backend endpoint per pass (implementations coalesce
///   concurrent callers);
/// - `execute` performs exactly one action, audits it, and never retries on its own;
/// - `tearDown` removes what the record says is ours and releases what we adopted;
/// - nothing outside the type knows the vendor. `RolloutMachine` turns what the backend reports
///   into status, events and an outcome the same way for every backend.
public protocol ServingBackend: Sendable {
    /// What the spec asks of this backend.
    associatedtype Desired: Sendable & Hashable
    /// What we own on it, persisted in status.
    associatedtype Record: Sendable & Hashable
    /// What the backend runs, plus what this pass learned (a smoke test's answer).
    associatedtype Observation: Sendable & Hashable
    associatedtype Action: BackendAction

    static var id: BackendID { get }
    /// What `md` asks of this backend; nil when it asks another backend.
    static func desired(_ md: ModelDeployment) -> Desired?
    static func record(in status: ModelDeployment.Status) -> Record?
    static func store(_ record: Record?, in status: inout ModelDeployment.Status)
    /// What the desired state would serve, and what a record holds: the claims index.
    static func claims(_ desired: Desired) -> [Claim]
    static func claims(_ record: Record) -> [Claim]
    /// True when a record that no longer matches the desired state must be torn down before the
    /// new one is made (a SageMaker endpoint renamed). False: the plan handles it (Triton loads
    /// the new model, then unloads the old one).
    static func releasesFirst(_ record: Record, for desired: Desired) -> Bool
    /// The version that serves now, as `status.servingVersion` shows it, when the placement's
    /// own versions do not say (see `RolloutMachine.serving`).
    static func servingVersion(_ observation: Observation, record: Record?) -> String?
    /// Every version ready to take requests now.
    static func readyVersions(_ observation: Observation, record: Record?) -> Set<String>
    /// The next action, or why there is none. Pure.
    static func plan(_ input: PlanInput<Self>) -> BackendPlan<Action>
    /// What executing `action` would leave, for `modelplane diff`: nil when it cannot be known
    /// without doing it (the preview ends there).
    static func predicted(_ action: Action, _ input: PlanInput<Self>) -> StepResult<Self>?

    /// How long asynchronous work (an endpoint being created) runs before it is looked at again.
    var pollInterval: Duration { get }
    func observe(_ desired: Desired, record: Record?, deployment: ModelDeployment) async throws(BackendError) -> Observation
    func execute(_ action: Action, _ input: PlanInput<Self>, _ context: ActionContext) async throws -> StepResult<Self>
    /// Removes (or, adopted, releases) what `record` holds. Throws `BackendError` when the backend
    /// cannot be asked, `NotLeading` when leadership is lost between actions.
    func tearDown(_ record: Record, _ context: ActionContext) async throws -> TearDown<Record>
}

extension ServingBackend {
    public static func releasesFirst(_ record: Record, for desired: Desired) -> Bool { false }
    public static func readyVersions(_ observation: Observation, record: Record?) -> Set<String> {
        servingVersion(observation, record: record).map { [$0] } ?? []
    }
}

/// What `plan` is given.
public struct PlanInput<B: ServingBackend>: Sendable {
    public var deployment: ModelDeployment
    public var desired: B.Desired
    public var record: B.Record?
    public var observation: B.Observation
    /// Why this generation may not be tried again yet (`FailureGate`), or a failure this pass
    /// already met; nil: go ahead.
    public var blocked: RolloutFailure?
    /// The versions to hold: the spec's alone, or with the stable one beside a canary, and a shadow.
    public var placement: Placement

    public init(
        deployment: ModelDeployment, desired: B.Desired, record: B.Record?, observation: B.Observation, blocked: RolloutFailure? = nil,
        placement: Placement? = nil
    ) {
        self.deployment = deployment
        self.desired = desired
        self.record = record
        self.observation = observation
        self.blocked = blocked
        self.placement = placement ?? CanaryProgress.placement(deployment, canary: deployment.status?.canary)
    }

    public var spec: ModelDeployment.Spec { deployment.spec }
}

/// The answer of a plan.
public enum BackendPlan<Action: BackendAction>: Sendable, Hashable {
    /// The desired version alone serves, as ours: the message says so in the Ready condition.
    case converged(String)
    case act(Action)
    /// The backend is working on its own (an endpoint Creating): look again after `pollInterval`.
    case waiting(String)
    /// The backend is undoing a failed update by itself.
    case rollingBack(String)
    /// The rollout failed on the backend (an endpoint Failed): reported, retried only through the gate.
    case failed(RolloutFailure)
    /// The gate is closed (`PlanInput.blocked`): nothing to do until it opens.
    case blocked(RolloutFailure)
    /// What the spec names exists on the backend and is not ours to take.
    case conflict(String)
}

/// What executing one action did.
public struct StepResult<B: ServingBackend>: Sendable {
    public var observation: B.Observation
    public var record: B.Record?
    public var notes: [RolloutNote]
    public var outcome: Outcome

    public enum Outcome: Sendable, Hashable {
        /// Done at once: plan the next action.
        case proceed
        /// Done, but the rollout failed by it (an update SageMaker rolled back): planning goes on
        /// with the gate closed, so only clean-up still happens.
        case setback(RolloutFailure)
        /// Started; the backend works on it: the pass ends, and looks again after `pollInterval`.
        case started(String)
        /// The rollout failed: the pass ends.
        case failed(RolloutFailure)
        /// The backend does not see what we just made yet (eventual consistency): look again soon.
        case notYetVisible(String, retryAfter: Duration)
    }

    public init(_ observation: B.Observation, record: B.Record?, notes: [RolloutNote] = [], _ outcome: Outcome = .proceed) {
        self.observation = observation
        self.record = record
        self.notes = notes
        self.outcome = outcome
    }
}

/// What a tear-down left.
public enum TearDown<Record: Sendable>: Sendable {
    /// Nothing of ours is left (or what we adopted was released).
    case done([RolloutNote])
    /// The backend is still removing it: look again after `pollInterval`, with what remains.
    case pending(Record, String, [RolloutNote])
}
