import Foundation
public import KubeClient
import Metrics
public import ModelplaneAPI
public import Rollout

/// Makes the backends serve what ModelDeployments say, through the `ServingBackend` seam: it
/// knows no vendor. One reconcile adds the finalizer, selects the backend the spec asks for,
/// checks that no older deployment claims the same backend thing, runs one pass of the rollout
/// (`RolloutMachine`: observe, then plan and execute one action at a time), tears down what
/// other backends still hold once the desired one serves (a migration), writes the status once,
/// records the events, and audits every backend action as it happens.
public struct DeploymentReconciler: Reconciler {
    public static let finalizer = "modelplane.dev/backend-cleanup"

    let client: KubernetesClient
    let cache: ObjectCache<ModelDeployment>
    let backends: BackendRegistry
    let audit: (any AuditSink)?
    let events: EventRecorder
    /// Wall time for what the status records (backends take their own clock for deadlines).
    let clock: any RuntimeClock
    /// Asked right before every action on a backend: false (not, or no longer, the leader) stops
    /// the reconcile before it acts.
    let mayAct: @Sendable () -> Bool
    /// The running shadow comparison of a deployment (namespace, name, shadow version), from an
    /// inference router in the same process: published in `status.shadow`.
    public typealias ShadowFigures = @Sendable (_ namespace: String, _ name: String, _ version: String) -> ModelDeployment.ShadowStatus?
    let shadowFigures: ShadowFigures?
    /// Takes the canary analysis's measurements (nil: analysis runs begin but are never measured,
    /// so analysis steps wait).
    let analysis: AnalysisMeasurer?
    /// How often a deployment with a shadow publishes its figures.
    public static let shadowPublishInterval: Duration = .seconds(5)

    public init(
        client: KubernetesClient, cache: ObjectCache<ModelDeployment>, backends: BackendRegistry, audit: (any AuditSink)?, events: EventRecorder,
        clock: any RuntimeClock = SystemClock(), mayAct: @escaping @Sendable () -> Bool = { true }, shadowFigures: ShadowFigures? = nil,
        analysis: AnalysisMeasurer? = nil
    ) {
        self.shadowFigures = shadowFigures
        self.analysis = analysis
        self.client = client
        self.cache = cache
        self.backends = backends
        self.audit = audit
        self.events = events
        self.clock = clock
        self.mayAct = mayAct
    }

    public func reconcile(_ key: ObjectKey) async throws(ReconcileError) -> ReconcileResult {
        guard var md = cache[key] else { return .converged }
        do {
            if !mayAct() { throw NotLeading() }
            if md.metadata.deletionTimestamp != nil { return try await finalize(md) }
            if !(md.metadata.finalizers ?? []).contains(Self.finalizer) {
                md.metadata.finalizers = (md.metadata.finalizers ?? []) + [Self.finalizer]
                md = try await client.update(md)
                cache.wrote(md)
            }
            guard let backend = backends.select(md) else { return try await unsupported(md) }
            return try await rollOut(md, backend)
        } catch {
            // Deleted meanwhile: nothing left to do.
            if (error as? KubernetesError)?.isNotFound == true { return .converged }
            throw Self.reconcileError(error)
        }
    }

    /// What the runtime makes of a failure: a 409 is a conflict (read again, retry at once), a
    /// lost lead is no one's failure, anything else may pass.
    static func reconcileError(_ error: any Error) -> ReconcileError {
        switch error {
        case let error as ReconcileError: error
        case let error as KubernetesError where error.isConflict: .conflict("\(error)")
        case is NotLeading: .notLeader
        default: .transient("\(error)")
        }
    }

    // MARK: - One pass

    private func rollOut<B: ServingBackend>(_ original: ModelDeployment, _ backend: B) async throws -> ReconcileResult {
        var md = original
        guard let desired = B.desired(md) else { return .converged }
        // The analysis measurements due now, taken before the pass so it decides on them. (The
        // pass sees them in the status it starts from; `md` stays as stored, so the write
        // compares with what is stored.)
        var measured: [(AnalysisRuns.Due, AnalysisRuns.Result)] = []
        var seen = md
        if let analysis {
            let due = AnalysisRuns.due(md, now: clock.date)
            if !due.isEmpty {
                measured = await analysis.measure(md, due, now: clock.date)
                AnalysisRuns.record(measured, in: &seen, now: clock.date)
            }
        }
        var machine = RolloutMachine<B>(deployment: seen, desired: desired, pollInterval: backend.pollInterval, now: clock.date)
        let context = context(md, revision: machine.revision)
        let decision: RolloutDecision
        if let (claim, owner) = claimed(md, B.claims(desired)) {
            decision = machine.conflict(claim.conflict(owner: owner.description))
        } else {
            decision = try await pass(backend, &machine, context)
        }
        var status = decision.status
        var notes = decision.events
        var requeue: Duration?
        // A shadow taking copies: its figures, refreshed every shadowPublishInterval.
        var publishing = false
        // (Only where the router mirrors: a SageMaker shadow is SageMaker's own.)
        if let shadowFigures, let shadow = md.spec.shadow, md.spec.backend.triton != nil, status.traffic?.contains(where: { $0.role == .shadow }) == true {
            publishing = true
            if let figures = shadowFigures(md.metadata.namespace ?? ModelDeployment.Defaults.namespace, md.metadata.name ?? "", shadow.version) {
                status.shadow = figures
            }
        }
        if decision.outcome == .converged {
            // Moving between backends: what the others hold goes once the desired one serves.
            requeue = try await migrate(&status, away: B.id, context, notes: &notes)
        }
        Self.count(measured, before: original.status?.analysis, after: status.analysis)
        if let reason = decision.degraded {
            // Reconciles ending degraded, by the reason a user sees (a closed set).
            Counter(label: "modelplane_reconcile_errors_total", dimensions: [("reason", reason.rawValue)]).increment()
        }
        // Rollout requests are audited before their effect is written (a retry may audit twice,
        // never not at all).
        for entry in decision.audits { try context.audit(entry) }
        try await write(&md, status)
        await record(notes, on: md)
        // Only the request this pass read: one written meanwhile stays for the next pass.
        let read = original.metadata.annotations?[ModelDeployment.rolloutRequestAnnotation]
        if let read, let cleared = try await cleared(ModelDeployment.rolloutRequestAnnotation, value: read, on: md) { md = cleared }
        // A pause outlives no canary: the next one must not start paused.
        if status.canary == nil, let paused = original.metadata.annotations?[ModelDeployment.rolloutPausedAnnotation],
            let cleared = try await cleared(ModelDeployment.rolloutPausedAnnotation, value: paused, on: md)
        {
            md = cleared
        }
        let publish = publishing ? Self.shadowPublishInterval : nil
        switch decision.outcome {
        case .converged: return [requeue, publish].compactMap { $0 }.min().map { .requeueAfter($0) } ?? .converged
        case .requeueAfter(let delay): return .requeueAfter(min(delay, publish ?? delay))
        case .unavailable(let error): throw ReconcileError.transient(error.message)
        }
    }

    /// Analysis measurements by provider and outcome; runs by how they ended.
    static func count(_ measured: [(AnalysisRuns.Due, AnalysisRuns.Result)], before: ModelDeployment.AnalysisStatus?, after: ModelDeployment.AnalysisStatus?) {
        for (due, result) in measured {
            let provider: String
            switch due.source {
            case .metric(let metric): provider = metric.provider
            case .shadowAgreement, .shadowMeanAbsDiff: provider = "shadow"
            }
            let outcome: String
            switch result {
            case .notYet: outcome = "NotYet"
            case .reading(.value): outcome = "Value"
            case .reading(.noData): outcome = "NoData"
            case .reading(.error): outcome = "Error"
            case .reading(.failed): outcome = "Failed"
            }
            Counter(label: "modelplane_analysis_measurements_total", dimensions: [("provider", provider), ("reading", outcome)]).increment()
        }
        let running = Set((before?.runs ?? []).filter { $0.phase == .running }.map(\.startedAt))
        for run in after?.runs ?? [] where run.phase.isFinished && running.contains(run.startedAt) {
            Counter(label: "modelplane_analysis_runs_total", dimensions: [("result", run.phase.rawValue)]).increment()
        }
    }

    /// Observe, then plan and execute until the machine decides; a record that must go first
    /// (the backend thing moved) is torn down before.
    private func pass<B: ServingBackend>(_ backend: B, _ machine: inout RolloutMachine<B>, _ context: ActionContext) async throws -> RolloutDecision {
        do {
            if let old = machine.releaseFirst {
                try context.ensureLeading()
                switch try await backend.tearDown(old, context) {
                case .pending(let remaining, let progress, let notes): return machine.moving(remaining, progress + " before serving the new one", notes: notes)
                case .done(let notes): machine.released(notes: notes)
                }
            }
            var next = machine.observed(try await backend.observe(machine.desired, record: machine.record, deployment: context.deployment))
            while true {
                switch next {
                case .finish(let decision): return decision
                case .execute(let action):
                    try context.ensureLeading()
                    next = machine.finished(try await backend.execute(action, machine.input, context))
                }
            }
        } catch let error as BackendError where error.reason.gatesRetry {
            return machine.refused(RolloutFailure(error.reason, error.message))
        } catch let error as BackendError {
            return machine.unavailable(error)
        }
    }

    /// Tears down what backends other than `selected` still hold. Returns when to look again
    /// while something remains.
    private func migrate(_ status: inout ModelDeployment.Status, away selected: BackendID, _ context: ActionContext, notes: inout [RolloutNote])
        async throws -> Duration?
    {
        var again: Duration?
        for backend in backends.backends where type(of: backend).id != selected {
            if let delay = try await release(backend, &status, context, notes: &notes) { again = min(again ?? delay, delay) }
        }
        return again
    }

    /// Tears down `backend`'s record in `status`, if there is one; returns when to look again if
    /// something remains (or the backend could not be asked).
    private func release<B: ServingBackend>(_ backend: B, _ status: inout ModelDeployment.Status, _ context: ActionContext, notes: inout [RolloutNote])
        async throws -> Duration?
    {
        guard let record = B.record(in: status) else { return nil }
        try context.ensureLeading()
        do {
            switch try await backend.tearDown(record, context) {
            case .done(let done):
                B.store(nil, in: &status)
                notes += done
                return nil
            case .pending(let remaining, _, let pending):
                B.store(remaining, in: &status)
                notes += pending
                return backend.pollInterval
            }
        } catch let error as BackendError {
            notes.append(.warning(.cleanupFailed, action: "TearDown", "what the old \(B.id) backend holds: \(error.message); will retry"))
            return max(backend.pollInterval, Self.cleanupRetry)
        }
    }

    /// A backend that could not be asked to tear down is asked again after at least this.
    static let cleanupRetry: Duration = .seconds(30)

    /// The deployment that claims one of `claims` before this one (the older one keeps it).
    private func claimed(_ md: ModelDeployment, _ claims: [Claim]) -> (Claim, ObjectKey)? {
        let key = ObjectKey(md.metadata)
        let mine = (md.metadata.creationTimestamp ?? "", md.metadata.name ?? "")
        for claim in claims {
            if let owner = cache.objects(indexedBy: claim.key).first(where: { other in
                ObjectKey(other.metadata) != key && other.metadata.deletionTimestamp == nil
                    && (other.metadata.creationTimestamp ?? "", other.metadata.name ?? "") < mine
            }) {
                return (claim, ObjectKey(owner.metadata))
            }
        }
        return nil
    }

    private func context(_ md: ModelDeployment, revision: Int64?) -> ActionContext {
        let audit = audit
        let deployment = ObjectKey(md.metadata).description
        return ActionContext(
            deployment: md, revision: revision, now: clock.date,
            audit: { [clock] entry in
                try audit?.record(AuditRecord(deployment: deployment, revision: revision, entry: entry, time: clock.date))
            }, leading: mayAct)
    }

    private func record(_ notes: [RolloutNote], on md: ModelDeployment) async {
        for note in notes { await events.record(md, type: note.type, reason: note.reason.rawValue, action: note.action, note: note.message) }
    }

    // MARK: - Deletion and other backends

    /// Tears down what every backend holds for the deployment, then lets it go.
    private func finalize(_ original: ModelDeployment) async throws -> ReconcileResult {
        var md = original
        guard (md.metadata.finalizers ?? []).contains(Self.finalizer) else { return .converged }
        var status = md.status ?? .init()
        let context = context(md, revision: status.revisions?.last?.revision)
        var notes: [RolloutNote] = []
        var again: Duration?
        for backend in backends.backends {
            if let delay = try await release(backend, &status, context, notes: &notes) { again = min(again ?? delay, delay) }
        }
        if let again {
            try await write(&md, status)
            await record(notes.map { note in note.reason == .cleanupFailed ? note.with(message: note.message + " before deleting") : note }, on: md)
            return .requeueAfter(again)
        }
        // What a backend this controller does not run holds stays recorded, and so does the
        // finalizer: letting the deployment go would leak it.
        let registered = Set(backends.backends.map { type(of: $0).id.rawValue })
        let foreign = status.heldBackends.filter { !registered.contains($0) }
        if !foreign.isEmpty {
            let message =
                "the status records what the \(foreign.joined(separator: ", ")) backend holds for this deployment, and this controller does not run it; the finalizer stays until a controller that does cleans up"
            if md.status != status { try await write(&md, status) }
            await record(notes + [.warning(.cleanupFailed, action: "TearDown", message)], on: md)
            throw ReconcileError.terminal(message)
        }
        await record(notes, on: md)
        md.metadata.finalizers = (md.metadata.finalizers ?? []).filter { $0 != Self.finalizer }
        _ = try await client.update(md)
        return .converged
    }

    func unsupported(_ original: ModelDeployment) async throws -> ReconcileResult {
        var md = original
        var status = md.status ?? ModelDeployment.Status()
        let generation = md.metadata.generation ?? 1
        status.backend = md.spec.backend.kind?.rawValue
        status.phase = .pending
        status.observedGeneration = generation
        let message = "this controller does not reconcile \(md.spec.backend.kind?.rawValue ?? "this") backend"
        Conditions.set(
            &status, generation: generation, now: clock.date, ready: (.false, .backendNotSupported, message),
            progressing: (.false, .backendNotSupported, message), degraded: nil)
        try await write(&md, status)
        // Said in status; nothing changes until the spec does.
        throw ReconcileError.terminal(message)
    }

    // MARK: - Status

    /// Writes the status. The status is the controller's alone and records what this pass did
    /// (what it loaded and owns): a conflict (someone changed a label, or the spec, meanwhile)
    /// must not lose that, or the next pass would take our own load for someone else's. So the
    /// same status is written again on the object as it now is (observedGeneration still says
    /// which generation it describes), as client-go's RetryOnConflict callers do; the change that
    /// conflicted then gets its own reconcile.
    func write(_ md: inout ModelDeployment, _ status: ModelDeployment.Status) async throws {
        guard md.status != status else { return }
        var current = md
        var conflicts = 0
        while true {
            let written: ModelDeployment
            do {
                written = try await updateStatus(of: current, to: status)
            } catch let error as KubernetesError where error.isConflict && conflicts < 4 {
                conflicts += 1
                current = try await client.get(ModelDeployment.self, name: md.metadata.name ?? "", namespace: md.metadata.namespace)
                continue
            }
            md = written
            if conflicts == 0 {
                cache.wrote(written)
            } else {
                // Not marked as our own write: the change we met is one we have not acted on, and
                // its event (older than this write) must still queue a reconcile.
                _ = cache.observe(written)
            }
            return
        }
    }

    /// Removes annotation `key` if it still says `value` (what this pass read and acted on);
    /// returns the object as written, or nil when it changed meanwhile.
    private func cleared(_ key: String, value: String, on md: ModelDeployment) async throws -> ModelDeployment? {
        let path = "/metadata/annotations/" + key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
        let written: ModelDeployment
        do {
            written = try await client.patch(
                ModelDeployment.self, name: md.metadata.name ?? "", namespace: md.metadata.namespace,
                .json([JSONPatchOperation(.test, path, value: .string(value)), JSONPatchOperation(.remove, path)]))
        } catch {
            // Changed meanwhile: the new request gets its own reconcile.
            if Self.isFailedTest(error) { return nil }
            throw error
        }
        cache.wrote(written)
        return written
    }

    static func isFailedTest(_ error: KubernetesError) -> Bool { error.status?.code == 422 }

    private func updateStatus(of object: ModelDeployment, to status: ModelDeployment.Status) async throws -> ModelDeployment {
        var object = object
        object.status = status
        return try await client.updateStatus(object)
    }
}

extension RolloutNote {
    func with(message: String) -> RolloutNote {
        var copy = self
        copy.message = message
        return copy
    }
}

/// The serving backends a controller reconciles, in order of preference: a deployment is served
/// by the first whose `desired` takes it. Built by the composition root (the executable, or a
/// test), so the controller itself imports no vendor.
public struct BackendRegistry: Sendable {
    public let backends: [any ServingBackend]

    public init(_ backends: [any ServingBackend]) { self.backends = backends }

    /// The backend `md` asks for.
    public func select(_ md: ModelDeployment) -> (any ServingBackend)? {
        backends.first { Self.takes($0, md) }
    }

    private static func takes<B: ServingBackend>(_ backend: B, _ md: ModelDeployment) -> Bool { B.desired(md) != nil }

    /// The claims index values of `md`: what its spec asks of the backend that serves it, and
    /// what any backend's record in its status holds.
    public func claimKeys(_ md: ModelDeployment) -> [String] {
        var keys: [String] = []
        if let selected = select(md) { keys += Self.desiredClaims(selected, md) }
        if let status = md.status {
            for backend in backends {
                for key in Self.recordClaims(backend, status) where !keys.contains(key) { keys.append(key) }
            }
        }
        return keys
    }

    private static func desiredClaims<B: ServingBackend>(_ backend: B, _ md: ModelDeployment) -> [String] {
        B.desired(md).map { B.claims($0).map(\.key) } ?? []
    }

    private static func recordClaims<B: ServingBackend>(_ backend: B, _ status: ModelDeployment.Status) -> [String] {
        B.record(in: status).map { B.claims($0).map(\.key) } ?? []
    }
}
