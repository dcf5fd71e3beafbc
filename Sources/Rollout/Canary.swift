public import Foundation
public import ModelplaneAPI

/// A request from `modelplane promote|abort|retry`, carried by the
/// `modelplane.dev/rollout-request` annotation as `ACTION@ID`.
public struct RolloutRequest: Sendable, Hashable, CustomStringConvertible {
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// Past the current pause step.
        case promote
        /// Past every remaining step: the canary takes everything.
        case promoteFull = "promote-full"
        /// Back to the stable version alone.
        case abort
        /// An aborted canary starts again from its first step.
        case retry
    }

    public var action: Action
    public var id: String

    public init(_ action: Action, id: String) {
        self.action = action
        self.id = id
    }

    /// Nil when the annotation does not say `ACTION@ID` with a known action.
    public init?(annotation: String) {
        guard let at = annotation.firstIndex(of: "@"), let action = Action(rawValue: String(annotation[..<at])) else { return nil }
        let id = String(annotation[annotation.index(after: at)...])
        guard !id.isEmpty else { return nil }
        self.init(action, id: id)
    }

    public var annotation: String { "\(action.rawValue)@\(id)" }
    public var description: String { annotation }

    /// The request a deployment carries, if any (and whether the annotation is there but unreadable).
    public static func of(_ md: ModelDeployment) -> (request: RolloutRequest?, unreadable: String?) {
        guard let value = md.metadata.annotations?[ModelDeployment.rolloutRequestAnnotation] else { return (nil, nil) }
        return RolloutRequest(annotation: value).map { ($0, nil) } ?? (nil, value)
    }
}

/// The versions a backend must hold in one pass: what the spec (or an aborted canary) has serve,
/// the stable version kept beside a canary, and a shadow.
public struct Placement: Sendable, Hashable {
    /// Must be loaded, and prove itself (the smoke inference) when it is new.
    public var serve: String
    /// Kept beside `serve` while a canary runs: the version it replaces.
    public var stable: String?
    /// Loaded beside them to receive copies of requests.
    public var shadow: String?
    /// While a canary runs: the share of requests `serve` (the canary) takes, in percent. The
    /// router splits by the routing table; a backend that splits natively as well (SageMaker's
    /// variant weights, for clients that call it directly) follows this.
    public var weight: Int64?

    public init(serve: String, stable: String? = nil, shadow: String? = nil, weight: Int64? = nil) {
        self.serve = serve
        self.stable = stable
        self.shadow = shadow
        self.weight = weight
    }

    /// Every version to hold, `serve` first, without repeats.
    public var versions: [String] {
        var all = [serve]
        for version in [stable, shadow].compactMap({ $0 }) where !all.contains(version) { all.append(version) }
        return all
    }
}

/// The canary strategy, pure: when a canary begins, what rollout requests do to it, how its
/// steps advance with time, and the placement and routing table it implies. `RolloutMachine`
/// calls it; the backend only ever sees a `Placement`.
public enum CanaryProgress {
    /// What a pass starts from: the canary as status left it, carried on, begun, replaced or
    /// dropped by the spec, with the deployment's rollout request applied.
    public struct Start: Sendable, Hashable {
        public var canary: ModelDeployment.CanaryStatus?
        public var notes: [RolloutNote]
        public var audits: [AuditEntry]
        /// `status.analysis`, with a promote past an analysis applied.
        public var analysis: ModelDeployment.AnalysisStatus?
    }

    /// `status` as the pass found it (with this pass's revision recorded); `revision` the current one.
    public static func start(_ md: ModelDeployment, status: ModelDeployment.Status, revision: Int64?, now: Date) -> Start {
        let version = md.spec.model.version
        var notes: [RolloutNote] = []
        var audits: [AuditEntry] = []
        var canary = status.canary
        var analysis = status.analysis
        let strategy = md.spec.rollout?.strategy ?? ModelDeployment.Defaults.strategy
        let current = revision.map(String.init)
        if md.spec.rollout?.runsAsCanary != true {
            if let dropped = canary {
                notes.append(
                    dropped.phase == .aborted
                        ? .warning(
                            .canaryDropped, action: "Rollout",
                            "the strategy is no longer Canary: version \(version), whose canary was aborted, rolls out \(strategy.rawValue)")
                        : .normal(.canaryDropped, action: "Rollout", "the strategy is no longer Canary: version \(version) rolls out \(strategy.rawValue)"))
            }
            canary = nil
        } else if let existing = canary, existing.canaryVersion != version {
            if existing.stableVersion == version {
                notes.append(.normal(.canaryDropped, action: "Rollout", "the spec went back to version \(version): canary \(existing.canaryVersion) dropped"))
                canary = nil
            } else {
                notes.append(
                    .normal(
                        .canaryStarted, action: "Rollout",
                        "canary \(version) replaces canary \(existing.canaryVersion) beside stable \(existing.stableVersion)"))
                canary = .init(
                    stableVersion: existing.stableVersion, stableRevision: existing.stableRevision, canaryVersion: version, canaryRevision: current,
                    phase: .loading, lastRequest: existing.lastRequest, startedAt: Timestamps.rfc3339Micro(now))
            }
        } else if canary == nil, let serving = status.servingVersion, serving != version {
            let stableRevision = status.revisions?.last { $0.version == serving && String($0.revision) != current }.map { String($0.revision) }
            notes.append(.normal(.canaryStarted, action: "Rollout", "canary \(version) loads beside stable \(serving)"))
            canary = .init(
                stableVersion: serving, stableRevision: stableRevision, canaryVersion: version, canaryRevision: current, phase: .loading,
                startedAt: Timestamps.rfc3339Micro(now))
        }
        if let existing = canary, existing.canaryRevision != current, existing.canaryVersion == version {
            canary?.canaryRevision = current
        }
        let (request, unreadable) = RolloutRequest.of(md)
        if let unreadable {
            notes.append(
                .warning(
                    .requestIgnored, action: "Rollout",
                    "annotation \(ModelDeployment.rolloutRequestAnnotation)=\(unreadable) is not ACTION@ID with ACTION promote, promote-full, abort or retry"))
        }
        if let request, request.id != canary?.lastRequest {
            apply(
                request, to: &canary, analysis: &analysis, steps: md.spec.rollout?.plannedCanary?.steps ?? [], now: now, notes: &notes, audits: &audits, md: md)
        }
        return Start(canary: canary, notes: notes, audits: audits, analysis: analysis)
    }

    static func apply(
        _ request: RolloutRequest, to canary: inout ModelDeployment.CanaryStatus?, analysis: inout ModelDeployment.AnalysisStatus?,
        steps: [ModelDeployment.CanaryStep], now: Date, notes: inout [RolloutNote], audits: inout [AuditEntry], md: ModelDeployment
    ) {
        let target = "\(md.metadata.namespace ?? ModelDeployment.Defaults.namespace)/\(md.metadata.name ?? "")"
        guard var c = canary else {
            notes.append(.warning(.requestIgnored, action: "Rollout", "\(request.action.rawValue) ignored: no canary is in progress"))
            audits.append(AuditEntry(request.action.rawValue, target, detail: ["request": .string(request.id)], .failed("no canary is in progress")))
            return
        }
        c.lastRequest = request.id
        c.lastRequestRefused = nil
        var detail: JSONValue = ["request": .string(request.id), "canary": .string(c.canaryVersion), "stable": .string(c.stableVersion)]
        var refused: String?
        switch request.action {
        case .promote, .promoteFull:
            if c.phase == .aborted {
                refused = "the canary was aborted: `modelplane retry` starts it again"
            } else if request.action == .promoteFull {
                AnalysisRuns.end(&analysis, .terminated, "skipped by modelplane promote --full", now: now) { run in
                    run.canaryVersion == c.canaryVersion && (c.startedAt.map { run.startedAt >= $0 } ?? true)
                }
                c.step = Int64(steps.count)
                c.stepStartedAt = Timestamps.rfc3339(now)
                notes.append(
                    .normal(.promoted, action: "Promote", "canary \(c.canaryVersion) promoted fully: it takes every request, skipping the remaining steps"))
            } else if c.phase == .loading {
                refused = "canary \(c.canaryVersion) is still loading"
            } else if let held = AnalysisRuns.holding(c, analysis), held.step == nil {
                // An inconclusive background analysis paused it: a person says go on, and a new
                // background run starts afresh.
                AnalysisRuns.promotedPast(&analysis, c, background: true, now: now)
                c.phase = .progressing
                c.message = nil
                notes.append(
                    .normal(.promoted, action: "Promote", "canary \(c.canaryVersion) promoted past its inconclusive background analysis: it goes on"))
            } else if Int(c.step) < steps.count, steps[Int(c.step)].pause != nil || steps[Int(c.step)].analysis != nil {
                AnalysisRuns.promotedPast(&analysis, c, now: now)
                c.step += 1
                c.stepStartedAt = Timestamps.rfc3339(now)
                c.phase = .progressing
                c.message = nil
                notes.append(.normal(.promoted, action: "Promote", "canary \(c.canaryVersion) promoted past step \(c.step) of \(steps.count)"))
            } else {
                refused = "the canary is not at a pause or analysis step"
            }
        case .abort:
            if c.phase == .aborted {
                refused = "the canary is already aborted"
            } else {
                c.phase = .aborted
                c.weight = 0
                c.message =
                    "aborted by modelplane abort at step \(min(Int(c.step), steps.count)) of \(steps.count): stable \(c.stableVersion) takes every request"
                notes.append(.warning(.aborted, action: "Abort", "canary \(c.canaryVersion) aborted: stable \(c.stableVersion) takes every request"))
            }
        case .retry:
            if c.phase != .aborted {
                refused = "the canary is not aborted"
            } else {
                c.phase = .loading
                c.step = 0
                c.weight = 0
                c.stepStartedAt = nil
                c.message = nil
                // A new attempt: the analysis runs of the last one stay as history.
                c.startedAt = Timestamps.rfc3339Micro(now)
                notes.append(.normal(.retried, action: "Retry", "canary \(c.canaryVersion) starts again from its first step"))
            }
        }
        detail["step"] = .int(c.step)
        if let refused {
            c.lastRequestRefused = refused
            notes.append(.warning(.requestIgnored, action: "Rollout", "\(request.action.rawValue) ignored: \(refused)"))
            audits.append(AuditEntry(request.action.rawValue, target, detail: detail, .failed(refused)))
        } else {
            audits.append(AuditEntry(request.action.rawValue, target, detail: detail, .ok))
        }
        canary = c
    }

    /// What the backend must hold for `canary` (nil: none in progress).
    public static func placement(_ md: ModelDeployment, canary: ModelDeployment.CanaryStatus?) -> Placement {
        let shadow = md.spec.shadow?.version
        guard let canary else { return Placement(serve: md.spec.model.version, shadow: shadow) }
        if canary.phase == .aborted { return Placement(serve: canary.stableVersion, shadow: shadow) }
        return Placement(serve: canary.canaryVersion, stable: canary.stableVersion, shadow: shadow, weight: canary.weight)
    }

    /// Where the split is, as status and the commands say it: `canary 4 takes 10 %, stable 2 90 %
    /// (step 2 of 4[, NOTE])`.
    public static func split(_ c: ModelDeployment.CanaryStatus, steps: Int, note: String? = nil) -> String {
        "canary \(c.canaryVersion) takes \(c.weight) %, stable \(c.stableVersion) \(100 - c.weight) % "
            + "(step \(min(Int(c.step) + 1, steps)) of \(steps)\(note.map { ", \($0)" } ?? ""))"
    }

    public enum Advance: Sendable, Hashable {
        /// Every step is done: the canary becomes stable.
        case completed
        /// Look again after this (a timed pause).
        case wake(after: Duration)
        /// Nothing happens until someone acts (a pause without duration, `modelplane pause`, aborted).
        case waitForPerson
    }

    /// Moves the canary's steps on, once the backend holds both versions: weights set at once,
    /// timed pauses ended when their time is up. `pausedByPerson`: the
    /// `modelplane.dev/rollout-paused` annotation stops it where it is. Without analysis.
    public static func advance(
        _ c: inout ModelDeployment.CanaryStatus, steps: [ModelDeployment.CanaryStep], pausedByPerson: Bool, now: Date, notes: inout [RolloutNote]
    ) -> Advance {
        var md = ModelDeployment(name: "", spec: .init(model: .init(name: "", version: c.canaryVersion), backend: .init()))
        md.spec.rollout = .init(strategy: .canary, canary: .init(steps: steps))
        var analysis: ModelDeployment.AnalysisStatus?
        var audits: [AuditEntry] = []
        return advance(&c, md, analysis: &analysis, pausedByPerson: pausedByPerson, now: now, notes: &notes, audits: &audits)
    }

    /// Moves the canary's steps on, once the backend holds both versions: weights set at once,
    /// timed pauses ended when their time is up, analysis steps passed when their run succeeds.
    /// A failed analysis (background or step) aborts the canary; an inconclusive one pauses it
    /// until `modelplane promote` or `abort`. `pausedByPerson`: the
    /// `modelplane.dev/rollout-paused` annotation stops it where it is.
    public static func advance(
        _ c: inout ModelDeployment.CanaryStatus, _ md: ModelDeployment, analysis: inout ModelDeployment.AnalysisStatus?, pausedByPerson: Bool,
        now: Date, notes: inout [RolloutNote], audits: inout [AuditEntry]
    ) -> Advance {
        let steps = md.spec.rollout?.plannedCanary?.steps ?? []
        if c.phase == .aborted { return .waitForPerson }
        let before = c
        if c.phase == .loading {
            c.phase = .progressing
            c.stepStartedAt = Timestamps.rfc3339(now)
            notes.append(.normal(.canaryStarted, action: "Rollout", "canary \(c.canaryVersion) is ready beside stable \(c.stableVersion)"))
        }
        c.phase = .progressing
        c.message = nil
        // The background analysis first: a failure stops the canary wherever it is.
        var background: Duration?
        switch AnalysisRuns.background(c, md, &analysis, now: now) {
        case .pass(let wake):
            background = wake
            if before.phase == .paused, before.message?.hasPrefix("holding") == true {
                notes.append(.normal(.resumed, action: "Analysis", "canary \(c.canaryVersion) goes on: its analysis measures again"))
            }
        case .wait(let after): background = after
        case .hold(let why, let wake):
            c.phase = .paused
            c.message = "holding at step \(min(Int(c.step) + 1, steps.count)) of \(steps.count): \(why); it goes on once measured again"
            if before.message?.hasPrefix("holding") != true {
                notes.append(.warning(.analysisError, action: "Analysis", "canary \(c.canaryVersion) \(c.message ?? "")"))
            }
            return wake.map { .wake(after: $0) } ?? .waitForPerson
        case .abort(let run, let why):
            abort(&c, md, run: run, why: why, steps: steps.count, notes: &notes, audits: &audits)
            return .waitForPerson
        case .pause(let run, let why):
            pause(&c, before: before, run: run, why: why, steps: steps.count, notes: &notes)
            return .waitForPerson
        }
        func waking(_ after: Duration?) -> Advance {
            switch (after, background) {
            case (let a?, let b?): .wake(after: min(a, b))
            case (let a?, nil), (nil, let a?): .wake(after: a)
            case (nil, nil): .waitForPerson
            }
        }
        // A pause by hand stops the steps, not the background analysis (as in Argo Rollouts).
        if pausedByPerson, Int(c.step) < steps.count {
            if before.phase != .paused || before.message?.hasPrefix("paused by modelplane pause") != true {
                notes.append(.normal(.paused, action: "Pause", "canary \(c.canaryVersion) paused at step \(c.step + 1) of \(steps.count)"))
            }
            c.phase = .paused
            c.message = "paused by modelplane pause at step \(c.step + 1) of \(steps.count) (modelplane resume goes on)"
            return waking(nil)
        }
        if before.phase == .paused, before.message?.hasPrefix("paused by modelplane pause") == true {
            // A timed pause starts again: the time paused by hand does not count.
            c.stepStartedAt = Timestamps.rfc3339(now)
            notes.append(.normal(.resumed, action: "Resume", "canary \(c.canaryVersion) resumed at step \(c.step + 1) of \(steps.count)"))
        }
        while Int(c.step) < steps.count {
            let step = steps[Int(c.step)]
            let number = "step \(c.step + 1) of \(steps.count)"
            if let weight = step.setWeight {
                if c.weight != weight {
                    notes.append(.normal(.canaryWeight, action: "SetWeight", "canary \(c.canaryVersion) takes \(weight) % (\(number))"))
                }
                c.weight = weight
                c.step += 1
                c.stepStartedAt = Timestamps.rfc3339(now)
                if weight > 0, background == nil, md.spec.rollout?.plannedCanary?.analysis != nil {
                    // The canary takes requests from here on: the background analysis may begin.
                    if case .pass(let wake) = AnalysisRuns.background(c, md, &analysis, now: now) { background = wake }
                }
                continue
            }
            if let stepAnalysis = step.analysis {
                switch AnalysisRuns.step(c.step, c, md, &analysis, now: now) {
                case .pass:
                    notes.append(
                        .normal(
                            .analysisPassed, action: "Analysis",
                            "canary \(c.canaryVersion) passed the \(stepAnalysis.shadow != nil ? "shadow gate" : "analysis") of \(number)"))
                    c.step += 1
                    c.stepStartedAt = Timestamps.rfc3339(now)
                    continue
                case .hold(_, let wake): return waking(wake)
                case .wait(let after):
                    c.message = stepAnalysis.shadow != nil ? "receiving copies of requests at the shadow gate of \(number)" : "analysing at \(number)"
                    return waking(after)
                case .abort(let run, let why):
                    abort(&c, md, run: run, why: why, steps: steps.count, notes: &notes, audits: &audits)
                    return .waitForPerson
                case .pause(let run, let why):
                    pause(&c, before: before, run: run, why: why, steps: steps.count, notes: &notes)
                    return waking(nil)
                }
            }
            if let length = step.pause?.length {
                let started = c.stepStartedAt.flatMap { try? Date($0, strategy: .iso8601) } ?? now
                let end = started.addingTimeInterval(Double(length.components.seconds) + Double(length.components.attoseconds) / 1e18)
                if end <= now {
                    c.step += 1
                    c.stepStartedAt = Timestamps.rfc3339(now)
                    continue
                }
                c.message = "pausing \(step.pause?.duration ?? "") at \(number), until \(Timestamps.rfc3339(end))"
                let left = end.timeIntervalSince(now)
                return waking(.milliseconds(Int64((left * 1000).rounded(.up))))
            }
            c.phase = .paused
            c.message =
                step.pause?.duration.map {
                    "pause duration \"\($0)\" cannot be read (at most a year, as 30s, 5m, 1h30m): waiting at \(number) for modelplane promote"
                }
                ?? "waiting at \(number) for modelplane promote"
            return waking(nil)
        }
        return .completed
    }

    /// A failed analysis aborts the canary: the stable version takes every request, the canary
    /// unloads, status says which metric and why, an event and an audit record say so too.
    static func abort(
        _ c: inout ModelDeployment.CanaryStatus, _ md: ModelDeployment, run: String, why: String, steps: Int, notes: inout [RolloutNote],
        audits: inout [AuditEntry]
    ) {
        let number = "step \(min(Int(c.step) + 1, steps)) of \(steps)"
        let which = run == ModelDeployment.AnalysisRun.backgroundName ? "the background analysis" : "the analysis of \(run)"
        c.phase = .aborted
        c.weight = 0
        c.message = "aborted by \(which) at \(number): \(why); stable \(c.stableVersion) takes every request"
        notes.append(.warning(.analysisFailed, action: "Abort", "canary \(c.canaryVersion) \(c.message ?? "")"))
        let target = "\(md.metadata.namespace ?? ModelDeployment.Defaults.namespace)/\(md.metadata.name ?? "")"
        audits.append(
            AuditEntry(
                "abort", target,
                detail: [
                    "cause": "analysis", "analysis": .string(run), "reason": .string(why), "canary": .string(c.canaryVersion),
                    "stable": .string(c.stableVersion), "step": .int(c.step),
                ], .ok))
    }

    /// An inconclusive analysis pauses the canary where it is, until a person decides.
    static func pause(
        _ c: inout ModelDeployment.CanaryStatus, before: ModelDeployment.CanaryStatus, run: String, why: String, steps: Int, notes: inout [RolloutNote]
    ) {
        let which = run == ModelDeployment.AnalysisRun.backgroundName ? "the background analysis" : "the analysis of \(run)"
        c.phase = .paused
        c.message =
            "paused: \(which) is inconclusive at step \(min(Int(c.step) + 1, steps)) of \(steps): \(why) (modelplane promote goes on, abort stops)"
        if before.phase != .paused || before.message != c.message {
            notes.append(.warning(.analysisInconclusive, action: "Pause", "canary \(c.canaryVersion) \(c.message ?? "")"))
        }
    }

    /// The routing table: the stable version and the canary by weight (the canary at 0 % while
    /// it is ready but the steps give it nothing yet, so pinned requests reach it), or the
    /// serving version alone; a shadow line when the shadow is ready. `gate`: the canary is at a
    /// shadow gate, and receives copies of requests.
    public static func traffic(
        serving: String?, servingRevision: String?, canary: ModelDeployment.CanaryStatus?, ready: Set<String>, shadow: ModelDeployment.Shadow?,
        gate: Bool = false
    ) -> [ModelDeployment.TrafficTarget]? {
        var lines: [ModelDeployment.TrafficTarget] = []
        if let c = canary, c.phase != .aborted, c.phase != .loading, ready.contains(c.stableVersion), ready.contains(c.canaryVersion) {
            lines.append(.init(revision: c.stableRevision, version: c.stableVersion, weight: 100 - c.weight, role: .stable))
            lines.append(.init(revision: c.canaryRevision, version: c.canaryVersion, weight: c.weight, role: .canary))
        } else if let serving {
            lines.append(.init(revision: servingRevision, version: serving, weight: 100, role: .stable))
        }
        if let c = canary, gate, c.phase == .progressing || c.phase == .paused, lines.contains(where: { $0.role == .canary }) {
            // At a shadow gate: the canary receives copies (first, so the router mirrors to it).
            lines.append(.init(revision: c.canaryRevision, version: c.canaryVersion, weight: 100, role: .shadow))
        }
        if let shadow, ready.contains(shadow.version), !lines.isEmpty, !lines.contains(where: { $0.version == shadow.version }) {
            lines.append(.init(revision: nil, version: shadow.version, weight: shadow.percent ?? 100, role: .shadow))
        }
        return lines.isEmpty ? nil : lines
    }
}
