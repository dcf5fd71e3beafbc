public import Foundation
public import ModelplaneAPI

/// The canary's analysis runs in `status.analysis`, pure: which measurements are due, what their
/// readings do to the runs, and what the runs say of the canary (go on, wait, pause, abort). The
/// controller measures what `due` lists (the providers do I/O) and `record`s the readings before
/// the rollout machine's pass; `CanaryProgress.advance` asks `background` and `step` for their
/// gates. Everything it needs is in the status, so a restarted controller resumes where it was.
public enum AnalysisRuns {
    /// Where a due measurement's number comes from.
    public enum Source: Sendable, Hashable {
        case metric(ModelDeployment.AnalysisMetric)
        /// The shadow gate: the canary's agreement with the stable version, or its mean absolute
        /// difference, once `minRequests` answers are compared.
        case shadowAgreement(ModelDeployment.ShadowGate)
        case shadowMeanAbsDiff(ModelDeployment.ShadowGate)
    }

    /// A measurement to take now.
    public struct Due: Sendable, Hashable {
        public var run: String
        public var metric: String
        public var source: Source
        public var canaryVersion: String
        public var canaryRevision: String?
        public var interval: Duration
    }

    /// What a provider made of a due measurement.
    public enum Result: Sendable, Hashable {
        case reading(Analysis.Reading)
        /// Nothing to judge yet, and nothing counted: the router's first look at a revision
        /// (its figures are over an interval), a shadow gate short of `minRequests`.
        case notYet(String)
    }

    /// One metric of a run as the spec defines it now.
    struct Definition {
        var metric: Analysis.Metric
        var source: Source
        var interval: Duration
    }

    static let defaultInterval: Duration = .seconds(30)

    /// The metrics of run `name` (background, or an analysis step) as the spec says now.
    static func definitions(_ md: ModelDeployment, run name: String, step: Int64?) -> [Definition] {
        guard let canary = md.spec.rollout?.plannedCanary else { return [] }
        let analysis = canary.analysis
        let baseInterval = analysis?.intervalLength ?? defaultInterval
        func definition(_ spec: ModelDeployment.AnalysisMetric, count: Int64?) -> Definition {
            let metric = Analysis.Metric(
                name: spec.name, max: spec.max, min: spec.min, count: count.map(Int.init),
                failureLimit: Int(spec.failureLimit ?? analysis?.failureLimit ?? 0),
                inconclusiveLimit: Int(spec.inconclusiveLimit ?? analysis?.inconclusiveLimit ?? 0),
                consecutiveErrorLimit: Int(spec.consecutiveErrorLimit ?? analysis?.consecutiveErrorLimit ?? 4))
            return Definition(metric: metric, source: .metric(spec), interval: spec.intervalLength ?? baseInterval)
        }
        guard let step else {
            return (analysis?.metrics ?? []).map { definition($0, count: $0.count) }
        }
        guard Int(step) < canary.steps.count, let stepAnalysis = canary.steps[Int(step)].analysis else { return [] }
        if let gate = stepAnalysis.shadow {
            var gates: [Definition] = []
            if let min = gate.minAgreement {
                gates.append(
                    Definition(metric: Analysis.Metric(name: "shadow-agreement", min: min, count: 1), source: .shadowAgreement(gate), interval: gateInterval))
            }
            if let max = gate.maxMeanAbsDiff {
                gates.append(
                    Definition(
                        metric: Analysis.Metric(name: "shadow-mean-abs-diff", max: max, count: 1), source: .shadowMeanAbsDiff(gate), interval: gateInterval))
            }
            return gates
        }
        return (stepAnalysis.metrics ?? []).compactMap { name in
            analysis?.metric(name).map { definition($0, count: stepAnalysis.count ?? $0.count ?? 1) }
        }
    }

    /// How often a shadow gate looks at the comparison.
    static let gateInterval: Duration = .seconds(2)

    // MARK: - Measuring

    /// The measurements due at `now`: every metric of a running run whose `nextAt` has come.
    public static func due(_ md: ModelDeployment, now: Date) -> [Due] {
        guard let runs = md.status?.analysis?.runs else { return [] }
        var due: [Due] = []
        for run in runs where run.phase == .running {
            let definitions = definitions(md, run: run.name, step: run.step)
            for metric in run.metrics where metric.phase == .running {
                guard let definition = definitions.first(where: { $0.metric.name == metric.name }) else { continue }
                if let next = metric.nextAt.flatMap(date), next > now { continue }
                due.append(
                    Due(
                        run: run.name, metric: metric.name, source: definition.source, canaryVersion: run.canaryVersion,
                        canaryRevision: run.canaryRevision, interval: definition.interval))
            }
        }
        return due
    }

    /// Folds what the providers said into the runs: each metric's tally, last value and next
    /// time; its phase; the run's verdict.
    public static func record(_ results: [(Due, Result)], in md: inout ModelDeployment, now: Date) {
        guard var analysis = md.status?.analysis else { return }
        for (due, result) in results {
            guard let r = analysis.runs.lastIndex(where: { $0.name == due.run && $0.phase == .running && $0.canaryRevision == due.canaryRevision }),
                let m = analysis.runs[r].metrics.firstIndex(where: { $0.name == due.metric }),
                let definition = definitions(md, run: due.run, step: analysis.runs[r].step).first(where: { $0.metric.name == due.metric })
            else { continue }
            var status = analysis.runs[r].metrics[m]
            guard status.phase == .running else { continue }
            status.nextAt = Timestamps.rfc3339Micro(now.addingTimeInterval(seconds(due.interval)))
            switch result {
            case .notYet(let why):
                status.message = why
            case .reading(let reading):
                let measurement = Analysis.judge(reading, definition.metric, at: now)
                var tally = tally(status)
                tally.add(measurement)
                status.measured = Int64(tally.measured)
                status.failed = Int64(tally.failed)
                status.inconclusive = Int64(tally.inconclusive)
                status.errors = Int64(tally.errors)
                status.consecutiveErrors = Int64(tally.consecutiveErrors)
                status.value = measurement.value ?? (measurement.outcome == .error ? status.value : nil)
                status.message = measurement.message
                status.measuredAt = Timestamps.rfc3339Micro(now)
                switch Analysis.phase(definition.metric, tally) {
                case .running: break
                case .successful: status.phase = .successful
                case .failed: status.phase = .failed
                case .inconclusive(let why):
                    status.phase = .inconclusive
                    status.message = why
                }
                if status.phase.isFinished { status.nextAt = nil }
            }
            status.threshold = definition.metric.threshold
            analysis.runs[r].metrics[m] = status
        }
        for index in analysis.runs.indices where analysis.runs[index].phase == .running {
            conclude(&analysis.runs[index], md, now: now)
        }
        md.status?.analysis = analysis
    }

    /// A metric's tally as status keeps it (its last measurement's message stands for the last of
    /// each kind: a metric stops being measured once it decides).
    static func tally(_ status: ModelDeployment.AnalysisMetricStatus) -> Analysis.Tally {
        var tally = Analysis.Tally()
        tally.measured = Int(status.measured)
        tally.failed = Int(status.failed)
        tally.inconclusive = Int(status.inconclusive)
        tally.errors = Int(status.errors)
        tally.consecutiveErrors = Int(status.consecutiveErrors)
        tally.longestErrorRun = Int(status.consecutiveErrors)
        let at = status.measuredAt.flatMap(date) ?? Date(timeIntervalSince1970: 0)
        let last = Analysis.Measurement(outcome: .successful, value: status.value, message: status.message ?? "", at: at)
        if status.failed > 0 { tally.lastFailure = last }
        if status.inconclusive > 0 { tally.lastInconclusive = last }
        if status.errors > 0 { tally.lastError = last }
        return tally
    }

    /// The run's verdict from its metrics' phases, in the spec's order.
    static func conclude(_ run: inout ModelDeployment.AnalysisRun, _ md: ModelDeployment, now: Date) {
        // A metric the spec no longer defines (renamed or removed mid-run) ends as Terminated and
        // takes no part; a run left with none ends as Terminated too (a step then begins anew).
        let order = definitions(md, run: run.name, step: run.step).map(\.metric.name)
        for index in run.metrics.indices {
            let defined = order.contains(run.metrics[index].name)
            if run.metrics[index].phase == .running, !defined {
                run.metrics[index].phase = .terminated
                run.metrics[index].nextAt = nil
                run.metrics[index].message = "no longer in the spec"
            } else if run.metrics[index].phase == .terminated, defined {
                // Back in the spec: measured again.
                run.metrics[index].phase = .running
                run.metrics[index].nextAt = Timestamps.rfc3339Micro(now)
            }
        }
        let metrics = run.metrics.filter { order.contains($0.name) }.sorted {
            (order.firstIndex(of: $0.name) ?? .max) < (order.firstIndex(of: $1.name) ?? .max)
        }
        if metrics.isEmpty {
            finish(&run, .terminated, "its metrics are no longer in the spec", now: now)
            return
        }
        let phases: [(name: String, phase: Analysis.Phase)] = metrics.map { metric in
            let last = Analysis.Measurement(outcome: .failed, value: metric.value, message: metric.message ?? "", at: now)
            switch metric.phase {
            case .running, .terminated: return (metric.name, .running)
            case .successful: return (metric.name, .successful)
            case .failed: return (metric.name, .failed(last))
            case .inconclusive: return (metric.name, .inconclusive(metric.message ?? "\(metric.name) is inconclusive"))
            }
        }
        switch Analysis.verdict(phases: phases) {
        case .running: return
        case .successful: finish(&run, .successful, "every metric passed", now: now)
        case .failed(_, let measurement): finish(&run, .failed, measurement.message, now: now)
        case .inconclusive(let why): finish(&run, .inconclusive, why, now: now)
        }
    }

    static func finish(_ run: inout ModelDeployment.AnalysisRun, _ phase: ModelDeployment.AnalysisPhase, _ message: String, now: Date) {
        run.phase = phase
        run.message = message
        run.finishedAt = Timestamps.rfc3339Micro(now)
        for index in run.metrics.indices where run.metrics[index].phase == .running {
            run.metrics[index].phase = phase == .successful ? .successful : .terminated
            run.metrics[index].nextAt = nil
        }
    }

    // MARK: - Gates

    /// What the analysis says of the canary this pass.
    public enum Gate: Sendable, Hashable {
        /// Nothing stops it; look again after `wake` to measure (nil: nothing to measure).
        case pass(wake: Duration?)
        /// An analysis step is still measuring: stay at the step, look again after this.
        case wait(Duration)
        /// A run failed: abort, saying why.
        case abort(run: String, message: String)
        /// A run is inconclusive: pause until a person decides.
        case pause(run: String, message: String)
        /// A metric cannot be measured right now (within `consecutiveErrorLimit`): hold the
        /// canary where it is, and go on once it is measured again.
        case hold(message: String, wake: Duration?)
    }

    /// The background analysis: started once the canary takes requests (or at `startingStep`),
    /// measured throughout.
    public static func background(_ c: ModelDeployment.CanaryStatus, _ md: ModelDeployment, _ analysis: inout ModelDeployment.AnalysisStatus?, now: Date)
        -> Gate
    {
        guard let spec = md.spec.rollout?.plannedCanary?.analysis, spec.background ?? true, !spec.metrics.isEmpty else { return .pass(wake: nil) }
        let name = ModelDeployment.AnalysisRun.backgroundName
        refresh(&analysis, md, now: now)
        // (One a person promoted past ended as Terminated: a new one begins.)
        if let run = current(name, c, analysis), run.phase != .terminated {
            switch run.phase {
            case .failed: return .abort(run: name, message: run.message ?? "the background analysis failed")
            case .inconclusive: return .pause(run: name, message: run.message ?? "the background analysis is inconclusive")
            case .running:
                if let blind = run.metrics.first(where: { $0.phase == .running && $0.consecutiveErrors > 0 }) {
                    return .hold(
                        message: "\(blind.name) cannot be measured (\(blind.message ?? "an error")), \(blind.consecutiveErrors) in a row",
                        wake: wake(run, now: now))
                }
                return .pass(wake: wake(run, now: now))
            case .successful, .terminated: return .pass(wake: nil)
            }
        }
        let steps = md.spec.rollout?.plannedCanary?.steps.count ?? 0
        let starts = spec.startingStep.map { c.step >= $0 } ?? (c.weight > 0)
        guard starts, c.step < steps else { return .pass(wake: nil) }
        let run = begin(name, step: nil, c, md, now: now)
        append(run, to: &analysis)
        return .pass(wake: .zero)
    }

    /// An analysis step: its run begun on the way in; pass once it succeeds.
    public static func step(
        _ index: Int64, _ c: ModelDeployment.CanaryStatus, _ md: ModelDeployment, _ analysis: inout ModelDeployment.AnalysisStatus?, now: Date
    )
        -> Gate
    {
        let name = ModelDeployment.AnalysisRun.stepName(index)
        refresh(&analysis, md, now: now)
        // (A run that ended without a verdict, its metrics gone from the spec, begins anew.)
        guard let run = current(name, c, analysis), run.phase != .terminated else {
            let run = begin(name, step: index, c, md, now: now)
            // Nothing the spec defines to measure (validation refuses such a step): nothing holds it.
            if run.metrics.isEmpty { return .pass(wake: nil) }
            append(run, to: &analysis)
            return .wait(.zero)
        }
        switch run.phase {
        case .successful, .terminated: return .pass(wake: nil)
        case .failed: return .abort(run: name, message: run.message ?? "the analysis of \(name) failed")
        case .inconclusive: return .pause(run: name, message: run.message ?? "the analysis of \(name) is inconclusive")
        case .running: return .wait(wake(run, now: now) ?? gateInterval)
        }
    }

    /// Concludes running runs again with the spec as it is now (a metric renamed or removed
    /// mid-run ends, and the run decides on the others).
    static func refresh(_ analysis: inout ModelDeployment.AnalysisStatus?, _ md: ModelDeployment, now: Date) {
        guard var status = analysis else { return }
        for index in status.runs.indices where status.runs[index].phase == .running { conclude(&status.runs[index], md, now: now) }
        if status != analysis { analysis = status }
    }

    /// The run called `name` of this canary attempt, if it began.
    static func current(_ name: String, _ c: ModelDeployment.CanaryStatus, _ analysis: ModelDeployment.AnalysisStatus?) -> ModelDeployment.AnalysisRun? {
        analysis?.runs.last { run in
            run.name == name && run.canaryVersion == c.canaryVersion && run.canaryRevision == c.canaryRevision
                && (c.startedAt.map { run.startedAt >= $0 } ?? true)
        }
    }

    static func begin(_ name: String, step: Int64?, _ c: ModelDeployment.CanaryStatus, _ md: ModelDeployment, now: Date) -> ModelDeployment.AnalysisRun {
        let at = Timestamps.rfc3339Micro(now)
        let metrics = definitions(md, run: name, step: step).map {
            ModelDeployment.AnalysisMetricStatus(name: $0.metric.name, threshold: $0.metric.threshold, nextAt: at)
        }
        return ModelDeployment.AnalysisRun(
            name: name, step: step, canaryVersion: c.canaryVersion, canaryRevision: c.canaryRevision, startedAt: at, metrics: metrics)
    }

    static func append(_ run: ModelDeployment.AnalysisRun, to analysis: inout ModelDeployment.AnalysisStatus?) {
        var status = analysis ?? ModelDeployment.AnalysisStatus()
        status.runs.append(run)
        analysis = trimmed(status)
    }

    /// Every running run, and the last `keep` finished ones.
    static func trimmed(_ analysis: ModelDeployment.AnalysisStatus) -> ModelDeployment.AnalysisStatus {
        let finished = analysis.runs.filter(\.phase.isFinished)
        guard finished.count > ModelDeployment.AnalysisStatus.keep else { return analysis }
        let dropped = Set(finished.prefix(finished.count - ModelDeployment.AnalysisStatus.keep).map(\.startedAt))
        var copy = analysis
        copy.runs.removeAll { $0.phase.isFinished && dropped.contains($0.startedAt) }
        return copy
    }

    /// Until the run's next measurement is due.
    static func wake(_ run: ModelDeployment.AnalysisRun, now: Date) -> Duration? {
        let next = run.metrics.filter { $0.phase == .running }.compactMap { $0.nextAt.flatMap(date) }.min()
        return next.map { .milliseconds(max(0, Int64(($0.timeIntervalSince(now) * 1000).rounded(.up)))) }
    }

    // MARK: - Ends

    /// Ends the running runs of the canary's attempt: the background one passed when the canary
    /// completed its steps; `skip` ends one a person promoted past.
    public static func end(
        _ analysis: inout ModelDeployment.AnalysisStatus?, _ phase: ModelDeployment.AnalysisPhase, _ message: String, now: Date,
        where matches: (ModelDeployment.AnalysisRun) -> Bool
    ) {
        guard var status = analysis else { return }
        for index in status.runs.indices where status.runs[index].phase == .running && matches(status.runs[index]) {
            finish(&status.runs[index], phase, message, now: now)
        }
        analysis = trimmed(status)
    }

    /// Runs that no longer belong to the canary in progress end as Terminated (the canary was
    /// replaced, dropped or aborted).
    public static func settle(_ analysis: ModelDeployment.AnalysisStatus?, canary: ModelDeployment.CanaryStatus?, now: Date)
        -> ModelDeployment.AnalysisStatus?
    {
        var analysis = analysis
        end(&analysis, .terminated, canary == nil ? "no canary is in progress" : "the canary was aborted or replaced", now: now) { run in
            guard let c = canary, c.phase != .aborted else { return true }
            return run.canaryVersion != c.canaryVersion || run.canaryRevision != c.canaryRevision || (c.startedAt.map { run.startedAt < $0 } ?? false)
        }
        return analysis
    }

    /// A person promoted past an inconclusive (or running) analysis: its run ends as Terminated,
    /// saying so; a new background run begins on the next pass. `background`: only an
    /// inconclusive background run ends (the canary stays at its step).
    public static func promotedPast(
        _ analysis: inout ModelDeployment.AnalysisStatus?, _ c: ModelDeployment.CanaryStatus, background: Bool = false, now: Date
    ) {
        guard var status = analysis else { return }
        for index in status.runs.indices {
            let run = status.runs[index]
            guard run.canaryVersion == c.canaryVersion, run.canaryRevision == c.canaryRevision, c.startedAt.map { run.startedAt >= $0 } ?? true
            else { continue }
            let atStep = !background && run.step == c.step
            if run.phase == .running, atStep {
                finish(&status.runs[index], .terminated, "skipped by modelplane promote", now: now)
            } else if run.phase == .inconclusive, run.step == nil || atStep {
                // A background run that paused the canary ends here: the next one starts afresh.
                status.runs[index].phase = .terminated
                status.runs[index].message = (run.message ?? "inconclusive") + "; promoted past by modelplane promote"
            }
        }
        analysis = status
    }

    /// The inconclusive run that holds the canary, if any.
    public static func holding(_ c: ModelDeployment.CanaryStatus, _ analysis: ModelDeployment.AnalysisStatus?) -> ModelDeployment.AnalysisRun? {
        analysis?.runs.last { run in
            run.phase == .inconclusive && run.canaryVersion == c.canaryVersion && run.canaryRevision == c.canaryRevision
                && (c.startedAt.map { run.startedAt >= $0 } ?? true) && (run.step == nil || run.step == c.step)
        }
    }

    // MARK: - Helpers

    public static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// An RFC 3339 time, with or without fractions of a second.
    public static func date(_ text: String) -> Date? {
        (try? Date(text, strategy: fractional)) ?? (try? Date(text, strategy: .iso8601))
    }
}
