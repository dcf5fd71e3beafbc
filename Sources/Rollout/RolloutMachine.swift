public import Foundation
public import ModelplaneAPI

/// The bounds and delays of a rollout, the same for the controller and `modelplane diff`.
public struct RolloutLimits: Sendable, Hashable {
    /// Actions one pass takes at most before it ends and requeues (a pass never loops forever on
    /// a backend that does not settle).
    public var maxStepsPerPass: Int
    /// A pass that ran out of steps looks again after this.
    public var progressingRetry: Duration
    /// A deployment that conflicts with another looks again after this.
    public var conflictRetry: Duration
    /// When a canary completes or is aborted, the version that stops taking requests is unloaded
    /// only this long after the routing table without it is written: the routers follow the
    /// table first, and the requests they sent it finish.
    public var drainGrace: Duration

    public init(
        maxStepsPerPass: Int = 8, progressingRetry: Duration = .seconds(1), conflictRetry: Duration = .seconds(60), drainGrace: Duration = .seconds(2)
    ) {
        self.maxStepsPerPass = maxStepsPerPass
        self.progressingRetry = progressingRetry
        self.conflictRetry = conflictRetry
        self.drainGrace = drainGrace
    }

    public static let standard = RolloutLimits()
}

/// How one pass ended, for the runtime.
public enum RolloutOutcome: Sendable, Hashable {
    case converged
    case requeueAfter(Duration)
    /// The backend could not be asked: back off (a transient error).
    case unavailable(BackendError)
}

/// What a pass decided: the status to write (once), the events to record after it, the outcome.
public struct RolloutDecision: Sendable, Hashable {
    public var status: ModelDeployment.Status
    public var events: [RolloutNote]
    public var outcome: RolloutOutcome
    /// The reason Degraded was set true with this pass, if it was (the error metric's label).
    public var degraded: RolloutReason?
    /// Rollout requests (`modelplane promote`, …) this pass acted on or refused: audited with it.
    public var audits: [AuditEntry] = []
}

/// The rollout state machine every backend goes through: pure, no I/O. The driver feeds it what
/// the backend observed and what each action did; it asks for the next action (planned by the
/// backend), and in the end decides the status (revisions, phase, conditions, the serving
/// version, the backend's record), the events (one "Serving" per transition) and the outcome.
///
///     var machine = RolloutMachine<B>(deployment: md, desired: d, pollInterval: p, now: now)
///     var next = machine.observed(try await backend.observe(...))
///     while case .execute(let action) = next { next = machine.finished(try await backend.execute(action, machine.input, context)) }
public struct RolloutMachine<B: ServingBackend>: Sendable {
    public enum Next: Sendable, Equatable {
        case execute(B.Action)
        case finish(RolloutDecision)
    }

    public let deployment: ModelDeployment
    public let desired: B.Desired
    public let generation: Int64
    /// The current revision (recorded on the way in when the spec is new).
    public let revision: Int64?
    public private(set) var status: ModelDeployment.Status
    public private(set) var record: B.Record?
    public private(set) var observation: B.Observation?
    /// The actions this pass took, in order.
    public private(set) var actions: [B.Action] = []
    let original: ModelDeployment.Status?
    let now: Date
    let pollInterval: Duration
    let limits: RolloutLimits
    /// The gate as status left it.
    let gate: RolloutFailure?
    /// A failure met this pass that planning goes on with (`.setback`).
    var setback: RolloutFailure?
    var notes: [RolloutNote] = []
    /// How the pass ended, once it has.
    public private(set) var ending: Ending?
    /// The canary in progress (or aborted), as this pass moves it.
    public private(set) var canary: ModelDeployment.CanaryStatus?
    /// The versions the backend must hold this pass.
    public private(set) var placement: Placement
    /// The canary's analysis runs, as this pass moves them.
    public private(set) var analysis: ModelDeployment.AnalysisStatus?
    /// Rollout requests acted on (or refused) this pass.
    var audits: [AuditEntry]

    public enum Ending: Sendable, Hashable {
        case converged(String)
        case failed(RolloutFailure)
        case waiting(String)
        case rollingBack(String)
        case conflict(String)
        case unavailable(BackendError)
        /// A canary holds both versions and follows its steps (or waits at a pause).
        case canary(String)
        /// The canary was aborted: the stable version alone serves.
        case aborted(String)
    }

    public init(deployment: ModelDeployment, desired: B.Desired, pollInterval: Duration, now: Date, limits: RolloutLimits = .standard) {
        self.deployment = deployment
        self.desired = desired
        self.generation = deployment.metadata.generation ?? 1
        self.original = deployment.status
        self.now = now
        self.pollInterval = pollInterval
        self.limits = limits
        var status = deployment.status ?? ModelDeployment.Status()
        status.backend = B.id.rawValue
        self.revision = Revisions.record(&status, deployment, now: now)
        self.gate = FailureGate.blocked(status, generation: generation, now: now)
        self.record = B.record(in: status)
        let start = CanaryProgress.start(deployment, status: status, revision: revision, now: now)
        self.canary = start.canary
        self.notes = start.notes
        self.audits = start.audits
        self.analysis = start.analysis
        self.placement = CanaryProgress.placement(deployment, canary: start.canary)
        self.status = status
    }

    /// What the next `plan` (and the action being executed) is given.
    public var input: PlanInput<B> {
        PlanInput(deployment: deployment, desired: desired, record: record, observation: observation!, blocked: setback ?? gate, placement: placement)
    }

    /// The record that no longer matches the desired state and must go first, if any.
    public var releaseFirst: B.Record? {
        record.flatMap { B.releasesFirst($0, for: desired) ? $0 : nil }
    }

    /// The record went (torn down before the pass, `releaseFirst`).
    public mutating func released(notes: [RolloutNote]) {
        record = nil
        self.notes += notes
    }

    /// The pass's first look at the backend.
    public mutating func observed(_ observation: B.Observation) -> Next {
        self.observation = observation
        return plan()
    }

    /// What the last action did.
    public mutating func finished(_ result: StepResult<B>) -> Next {
        observation = result.observation
        record = result.record
        notes += result.notes
        switch result.outcome {
        case .proceed: return plan()
        case .setback(let failure):
            setback = failure
            return plan()
        case .started(let progress): return .finish(waiting(progress, after: pollInterval))
        case .failed(let failure): return .finish(failed(failure))
        case .notYetVisible(let progress, let after): return .finish(waiting(progress, after: after))
        }
    }

    mutating func plan() -> Next {
        guard actions.count < limits.maxStepsPerPass else {
            return .finish(waiting("rolling out version \(deployment.spec.model.version)", after: limits.progressingRetry, checkDeadline: false))
        }
        switch B.plan(input) {
        case .act(let action):
            if let c = canary, c.phase == .aborted, routed.contains(c.canaryVersion) {
                // Aborted: the routers stop sending it requests before it is unloaded.
                return .finish(aborted(c, requeue: limits.drainGrace))
            }
            actions.append(action)
            return .execute(action)
        case .converged(let message):
            guard var c = canary else { return .finish(converged(message)) }
            if c.phase == .aborted { return .finish(aborted(c)) }
            let paused = deployment.metadata.annotations?[ModelDeployment.rolloutPausedAnnotation] == "true"
            let advance = CanaryProgress.advance(
                &c, deployment, analysis: &analysis, pausedByPerson: paused, now: now, notes: &notes, audits: &audits)
            canary = c
            if c.phase == .aborted {
                // A failed analysis aborted it: the stable version alone, from this pass on (the
                // routing table first, the canary unloaded once the routers follow it).
                placement = CanaryProgress.placement(deployment, canary: c)
                if routed.contains(c.canaryVersion) { return .finish(aborted(c, requeue: limits.drainGrace)) }
                return plan()
            }
            let moved = CanaryProgress.placement(deployment, canary: c)
            if advance != .completed, moved != placement {
                // A new weight: a backend that splits natively (SageMaker's variant weights)
                // follows it before the pass ends; one that does not is converged already.
                placement = moved
                return plan()
            }
            guard advance == .completed else { return .finish(progressing(c, advance)) }
            // Every step done: the canary alone serves; the stable version goes.
            notes.append(
                .normal(
                    .promoted, action: "Rollout", "canary \(c.canaryVersion) completed its steps: it takes every request, stable \(c.stableVersion) unloads"))
            canary = nil
            AnalysisRuns.end(&analysis, .successful, "the canary completed its steps", now: now) { $0.canaryVersion == c.canaryVersion && $0.step == nil }
            placement = CanaryProgress.placement(deployment, canary: nil)
            // The canary serves from here on, even if unloading the stable version fails this pass
            // (a status left saying the stable version serves would start the canary over).
            status.servingVersion = c.canaryVersion
            status.currentRevision = c.canaryRevision ?? status.currentRevision
            if routed.contains(c.stableVersion) {
                // The routing table without the stable version first; it unloads once the routers
                // follow (the requests they sent it finish meanwhile).
                return .finish(
                    waiting(
                        "canary \(c.canaryVersion) takes every request; stable \(c.stableVersion) unloads once the routers follow", after: limits.drainGrace,
                        checkDeadline: false))
            }
            return plan()
        case .waiting(let progress): return .finish(waiting(progress, after: pollInterval))
        case .rollingBack(let message): return .finish(rollingBack(message))
        case .failed(let failure):
            if !Self.alreadySays(original, failure.message) {
                notes.append(.warning(EventReason(failure.reason), action: "Observe", failure.message))
            }
            return .finish(failed(failure))
        case .blocked(let failure): return .finish(failed(failure))
        case .conflict(let message): return .finish(conflict(message))
        }
    }

    // MARK: - Endings

    /// What serves: the stable version while a canary runs beside it, else the version the
    /// placement serves once it is ready, else what the backend says.
    /// A shadow never counts as serving: it answers no one.
    var serving: String? {
        guard let observation else { return nil }
        let ready = B.readyVersions(observation, record: record)
        if let stable = placement.stable, ready.contains(stable) { return stable }
        if ready.contains(placement.serve) { return placement.serve }
        if let previous = original?.servingVersion, previous != placement.shadow, ready.contains(previous) { return previous }
        let fallback = B.servingVersion(observation, record: record)
        return fallback == placement.shadow ? nil : fallback
    }

    /// The canary holds both versions: Ready (the stable version serves), Progressing with where
    /// the steps are, requeued when a timed pause ends.
    mutating func progressing(_ c: ModelDeployment.CanaryStatus, _ advance: CanaryProgress.Advance) -> RolloutDecision {
        let steps = deployment.spec.rollout?.plannedCanary?.steps.count ?? 0
        let message = CanaryProgress.split(c, steps: steps) + (c.message.map { ": \($0)" } ?? "")
        ending = .canary(message)
        status.servingVersion = serving
        status.observedGeneration = generation
        status.phase = .progressing
        status.currentRevision = c.stableRevision ?? status.currentRevision
        let reason: RolloutReason = c.phase == .paused ? .canaryPaused : .canaryProgressing
        set(
            ready: (.true, .serving, "version \(c.stableVersion) serves beside canary \(c.canaryVersion)"), progressing: (.true, reason, message),
            degraded: (.false, .healthy, message))
        switch advance {
        case .wake(let after): return decide(.requeueAfter(after))
        case .completed, .waitForPerson: return decide(.converged)
        }
    }

    /// Versions the routing table, as the pass found it, sends requests to.
    var routed: Set<String> { Set((original?.traffic ?? []).filter { $0.role != .shadow && $0.weight > 0 }.map(\.version)) }

    /// The canary was aborted and the stable version alone is loaded (or takes every request, the
    /// canary unloading after `requeue`): Ready, Degraded saying so, until the spec changes or
    /// `modelplane retry`.
    mutating func aborted(_ c: ModelDeployment.CanaryStatus, requeue: Duration? = nil) -> RolloutDecision {
        let message = c.message ?? "canary \(c.canaryVersion) aborted: stable \(c.stableVersion) takes every request"
        ending = .aborted(message)
        status.servingVersion = serving
        status.observedGeneration = generation
        status.phase = .degraded
        status.currentRevision = c.stableRevision ?? status.currentRevision
        set(
            ready: (.true, .servingPrevious, "version \(c.stableVersion) serves; canary \(c.canaryVersion) was aborted"),
            progressing: (.false, .canaryAborted, message), degraded: (.true, .canaryAborted, message))
        return decide(requeue.map { .requeueAfter($0) } ?? .converged)
    }

    mutating func converged(_ message: String) -> RolloutDecision {
        ending = .converged(message)
        status.servingVersion = serving
        status.observedGeneration = generation
        status.phase = .ready
        status.currentRevision = revision.map(String.init)
        set(ready: (.true, .serving, message), progressing: (.false, .converged, message), degraded: (.false, .healthy, message))
        if original?.phase != .ready || original?.currentRevision != status.currentRevision {
            // One event per transition: a load that just made the version serve says so itself.
            let loadedNow = notes.contains { $0.reason == .loaded }
            notes.removeAll { $0.reason == .loaded }
            notes.append(.normal(.serving, action: loadedNow ? "Load" : "Rollout", message + (loadedNow ? " (loaded)" : "")))
        }
        return decide(.converged)
    }

    /// Degraded with the failure; Ready while an earlier version still serves.
    mutating func failed(_ failure: RolloutFailure) -> RolloutDecision {
        ending = .failed(failure)
        let serving = serving
        status.servingVersion = serving
        status.observedGeneration = generation
        status.phase = serving == nil ? .failed : .degraded
        let keeps = serving.map { "version \($0) keeps serving" } ?? "nothing is serving"
        set(
            ready: (serving == nil ? .false : .true, serving == nil ? .notServing : .servingPrevious, keeps),
            progressing: (.false, .rolloutFailed, failure.message), degraded: (.true, failure.reason, failure.message))
        return decide(.requeueAfter(FailureGate.recheckAfter))
    }

    /// The backend works on it; past the progress deadline the user hears that it takes too long
    /// (the backend's own timeouts decide when it gives up), and the controller keeps looking.
    mutating func waiting(_ progress: String, after: Duration, checkDeadline: Bool = true) -> RolloutDecision {
        ending = .waiting(progress)
        let serving = serving
        status.servingVersion = serving
        status.observedGeneration = generation
        if let serving, let work = canaryWork(progress) {
            // The backend works for a canary (SageMaker moving its variant weights between steps,
            // or moving the endpoint off the canary's config once it completed or was aborted):
            // a version serves throughout, and a canary's length is its steps', so no progress
            // deadline (the Progressing condition has been true since the canary began).
            status.phase = work.reason == .canaryAborted ? .degraded : .progressing
            if let c = canary, c.phase != .aborted { status.currentRevision = c.stableRevision ?? status.currentRevision }
            set(
                ready: (.true, .serving, "version \(serving) serves"), progressing: (.true, work.reason, work.message),
                degraded: work.reason == .canaryAborted ? (.true, .canaryAborted, work.message) : (.false, .healthy, work.message))
            return decide(.requeueAfter(after))
        }
        let notServing: Conditions.Value? = serving == nil ? (.false, .notServing, "nothing is serving yet") : nil
        if checkDeadline, let deadline = deadlineExceeded() {
            let message = "version \(deployment.spec.model.version) is not serving after progressDeadlineSeconds (\(deadline)s): \(progress)"
            status.phase = serving == nil ? .failed : .degraded
            if original?.conditions?[.degraded]?.reason != RolloutReason.progressDeadlineExceeded.rawValue {
                notes.append(.warning(.progressDeadlineExceeded, action: "Rollout", message))
            }
            set(ready: notServing, progressing: (.false, .progressDeadlineExceeded, message), degraded: (.true, .progressDeadlineExceeded, message))
        } else {
            status.phase = .progressing
            set(ready: notServing, progressing: (.true, .deploying, progress), degraded: nil)
        }
        return decide(.requeueAfter(after))
    }

    /// What the backend's work is for when a canary asked for it: between two steps, aborting, or
    /// finishing (the canary completed its steps in an earlier pass, which left Progressing with a
    /// canary's reason for this generation). Nil for any other rollout.
    func canaryWork(_ progress: String) -> (reason: RolloutReason, message: String)? {
        if let c = canary {
            let steps = deployment.spec.rollout?.plannedCanary?.steps.count ?? 0
            switch c.phase {
            case .progressing, .paused: return (.canaryProgressing, CanaryProgress.split(c, steps: steps) + ": " + progress)
            case .aborted: return (.canaryAborted, "canary \(c.canaryVersion) aborted: " + progress)
            case .loading: return nil
            }
        }
        let before = original?.conditions?[.progressing]
        guard before?.status == .true, before?.observedGeneration == generation,
            [RolloutReason.canaryProgressing.rawValue, RolloutReason.canaryPaused.rawValue].contains(before?.reason)
        else { return nil }
        return (.canaryProgressing, "the canary completed its steps: " + progress)
    }

    mutating func rollingBack(_ message: String) -> RolloutDecision {
        ending = .rollingBack(message)
        let serving = serving
        status.servingVersion = serving
        status.observedGeneration = generation
        status.phase = .degraded
        if original?.conditions?[.degraded]?.reason != RolloutReason.rollingBack.rawValue { notes.append(.warning(.rollingBack, action: "Rollout", message)) }
        set(
            ready: serving.map { (.true, .servingPrevious, "version \($0) keeps serving") }, progressing: (.true, .rollingBack, message),
            degraded: (.true, .rollingBack, message))
        return decide(.requeueAfter(pollInterval))
    }

    /// Another deployment (or someone outside Modelplane) has what this one asks for.
    public mutating func conflict(_ message: String) -> RolloutDecision {
        ending = .conflict(message)
        status.phase = .failed
        status.observedGeneration = generation
        set(ready: (.false, .conflict, message), progressing: (.false, .conflict, message), degraded: (.true, .conflict, message))
        if !Self.alreadySays(original, message) { notes.append(.warning(.conflict, action: "Observe", message)) }
        return decide(.requeueAfter(limits.conflictRetry))
    }

    /// The backend refused to tell us what it has (a request it will never answer): a rollout
    /// failure, held by the gate like any other.
    public mutating func refused(_ failure: RolloutFailure) -> RolloutDecision {
        if !Self.alreadySays(original, failure.message) {
            notes.append(.warning(EventReason(failure.reason), action: "Observe", failure.message))
        }
        return failed(failure)
    }

    /// The Degraded condition already says `message` (as a condition says it: its summary), so
    /// its event was recorded when it first did.
    static func alreadySays(_ status: ModelDeployment.Status?, _ message: String) -> Bool {
        status?.conditions?[.degraded]?.message == Conditions.summary(message)
    }

    /// The backend could not be asked: Degraded with why, the rest of the status as it was (with
    /// what this pass did before), and a backoff.
    public mutating func unavailable(_ error: BackendError) -> RolloutDecision {
        ending = .unavailable(error)
        status.phase = .degraded
        set(ready: nil, progressing: nil, degraded: (.true, error.reason, error.message))
        if original?.conditions?[.degraded]?.reason != error.reason.rawValue {
            notes.append(.warning(EventReason(error.reason), action: "Observe", error.message))
        }
        return decide(.unavailable(error))
    }

    /// Moving from another place on the same backend: what it had there is still being removed.
    public mutating func moving(_ record: B.Record, _ progress: String, notes: [RolloutNote]) -> RolloutDecision {
        self.record = record
        self.notes += notes
        ending = .waiting(progress)
        status.phase = .progressing
        status.observedGeneration = generation
        set(ready: nil, progressing: (.true, .moving, progress), degraded: nil)
        return decide(.requeueAfter(pollInterval))
    }

    // MARK: - Helpers

    var degradedNow: RolloutReason?

    mutating func set(ready: Conditions.Value?, progressing: Conditions.Value?, degraded: Conditions.Value?) {
        if let degraded, degraded.status == .true { degradedNow = degraded.reason }
        Conditions.set(&status, generation: generation, now: now, ready: ready, progressing: progressing, degraded: degraded)
    }

    func decide(_ outcome: RolloutOutcome) -> RolloutDecision {
        var status = status
        B.store(record, in: &status)
        status.canary = canary
        status.analysis = AnalysisRuns.settle(analysis, canary: canary, now: now)
        // Not observed (the backend could not be asked): the routing table stays as it was.
        if let observation {
            let ready = B.readyVersions(observation, record: record)
            let servingRevision = status.servingVersion.flatMap { serving in status.revisions?.last { $0.version == serving }.map { String($0.revision) } }
            status.traffic = CanaryProgress.traffic(
                serving: status.servingVersion, servingRevision: servingRevision, canary: canary, ready: ready, shadow: deployment.spec.shadow,
                gate: canary.map { c in
                    let steps = deployment.spec.rollout?.plannedCanary?.steps ?? []
                    return Int(c.step) < steps.count && steps[Int(c.step)].analysis?.shadow != nil
                } ?? false)
        }
        status.trafficSummary = ModelDeployment.trafficSummary(status.traffic)
        if deployment.spec.shadow == nil || status.shadow?.version != deployment.spec.shadow?.version { status.shadow = nil }
        return RolloutDecision(status: status, events: notes, outcome: outcome, degraded: degradedNow, audits: audits)
    }

    /// The deadline in seconds, when this generation's rollout (Progressing since its
    /// lastTransitionTime, or already past the deadline) has taken longer than it.
    func deadlineExceeded() -> Int64? {
        let deadline = deployment.spec.rollout?.progressDeadlineSeconds ?? ModelDeployment.Defaults.progressDeadlineSeconds
        guard let progressing = original?.conditions?[.progressing], progressing.observedGeneration == generation else { return nil }
        if progressing.reason == RolloutReason.progressDeadlineExceeded.rawValue { return deadline }
        guard progressing.status == .true, let since = try? Date(progressing.lastTransitionTime, strategy: .iso8601) else { return nil }
        return now.timeIntervalSince(since) > Double(deadline) ? deadline : nil
    }
}
