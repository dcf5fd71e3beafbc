public import AWS
public import Foundation
public import HTTPClient
public import KubeClient
import Metrics
public import ModelplaneAPI
import Synchronization
public import Triton

/// Makes the backends serve what ModelDeployments say: Triton now (SageMaker later). Each
/// reconcile observes Triton (one repository index call), asks `TritonPlanner` for the next
/// step, executes it, observes again, and so on until converged or blocked; then writes the
/// status once, if it changed, and records events for what happened. Every backend action is
/// appended to the audit log.
public struct DeploymentReconciler: Reconciler {
    public static let finalizer = "modelplane.dev/backend-cleanup"
    /// How long a version that failed to load waits before it is tried again (unless the spec
    /// changes first).
    public static let failedLoadRetry: Duration = .seconds(300)

    let client: KubernetesClient
    let cache: ObjectCache<ModelDeployment>
    /// The Triton at a URL.
    let triton: @Sendable (String) -> any TritonAPI
    let audit: AuditLog?
    let events: EventRecorder
    /// Wall time for what the status records, monotonic time for deadlines and the index cache.
    let clock: any RuntimeClock
    /// Calls on a backend against their deadlines (one watchdog for all of them).
    let deadlines: Deadlines
    /// Asked right before every action on a backend: false (not, or no longer, the leader) stops
    /// the reconcile before it acts.
    let mayAct: @Sendable () -> Bool
    /// One repository index per Triton per pass, shared by every deployment on that Triton.
    let indexes: TritonIndexCache
    /// SageMaker's control plane for a region, through an API URL (nil: the SDKs' default).
    let sagemaker: @Sendable (_ region: String, _ endpointURL: String?) -> any SageMakerAPI
    /// How often an endpoint SageMaker is working on is looked at again (a requeue, never a
    /// blocked worker).
    let sageMakerPoll: Duration

    /// Talks to Triton servers over `http`, and to SageMaker over `http` with the standard AWS
    /// credential chain.
    public init(
        client: KubernetesClient, cache: ObjectCache<ModelDeployment>, http: HTTPClient, audit: AuditLog?, events: EventRecorder,
        clock: any RuntimeClock = SystemClock(), mayAct: @escaping @Sendable () -> Bool = { true }
    ) {
        let credentials = DefaultAWSCredentialsProvider(http: http)
        self.init(
            client: client, cache: cache, triton: { TritonClient(baseURL: $0, http: http) },
            sagemaker: { SageMakerClient(region: $0, endpoint: $1, credentials: credentials, http: http) }, audit: audit, events: events, clock: clock,
            mayAct: mayAct)
    }

    public init(
        client: KubernetesClient, cache: ObjectCache<ModelDeployment>, triton: @escaping @Sendable (String) -> any TritonAPI,
        sagemaker: @escaping @Sendable (_ region: String, _ endpointURL: String?) -> any SageMakerAPI = { _, _ in UnconfiguredSageMaker() },
        sageMakerPoll: Duration = .seconds(15), audit: AuditLog?, events: EventRecorder, clock: any RuntimeClock = SystemClock(),
        mayAct: @escaping @Sendable () -> Bool = { true }
    ) {
        self.client = client
        self.cache = cache
        self.triton = triton
        self.sagemaker = sagemaker
        self.sageMakerPoll = sageMakerPoll
        self.audit = audit
        self.events = events
        self.clock = clock
        self.deadlines = Deadlines(clock: clock)
        self.indexes = TritonIndexCache(clock: clock)
        self.mayAct = mayAct
    }

    struct NotLeading: Error {}

    func ensureLeading() throws(NotLeading) {
        if !mayAct() { throw NotLeading() }
    }

    public func reconcile(_ key: ObjectKey) async throws(ReconcileError) -> ReconcileResult {
        guard var md = cache[key] else { return .converged }
        do {
            try ensureLeading()
            if md.metadata.deletionTimestamp != nil { return try await finalize(md) }
            if !(md.metadata.finalizers ?? []).contains(Self.finalizer) {
                md.metadata.finalizers = (md.metadata.finalizers ?? []) + [Self.finalizer]
                md = try await client.update(md)
                cache.wrote(md)
            }
            if let sagemaker = md.spec.backend.sagemaker { return try await reconcile(md, sagemaker: sagemaker) }
            guard let triton = md.spec.backend.triton else { return try await unsupported(md) }
            return try await reconcile(md, triton: triton)
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

    // MARK: - Triton

    struct Note {
        var type: Event.EventType
        var reason: String
        var action: String
        var note: String
    }

    private func reconcile(_ original: ModelDeployment, triton spec: ModelDeployment.Triton) async throws -> ReconcileResult {
        var md = original
        let key = ObjectKey(md.metadata)
        let generation = md.metadata.generation ?? 1
        let model = md.spec.model.name
        let version = Int(md.spec.model.version) ?? 0
        let desired = ModelDeployment.TritonRecord(url: spec.url, model: model, origin: .loaded)
        var status = md.status ?? ModelDeployment.Status()
        status.backend = "triton"
        let revision = Self.recordRevision(&status, md, now: clock.date)

        if let owner = cache.objects(indexedBy: TritonClaims.key(url: spec.url, model: model)).first(where: { other in
            ObjectKey(other.metadata) != key && other.metadata.deletionTimestamp == nil
                && (other.status?.triton?.isSameModel(as: desired) == true || (other.spec.backend.triton?.url == spec.url && other.spec.model.name == model))
                && (other.metadata.creationTimestamp ?? "", other.metadata.name ?? "") < (md.metadata.creationTimestamp ?? "", md.metadata.name ?? "")
        }) {
            let message = "model \(model) on \(spec.url) belongs to ModelDeployment \(ObjectKey(owner.metadata)); two deployments cannot serve one Triton model"
            setConditions(
                &status, generation: generation, ready: (.false, "Conflict", message), progressing: (.false, "Conflict", message),
                degraded: (.true, "Conflict", message))
            status.phase = .failed
            status.observedGeneration = generation
            try await write(&md, status)
            return .requeueAfter(.seconds(60))
        }

        let backend = triton(spec.url)
        let upload = md.spec.model.uri.map(Self.localDirectory)
        var notes: [Note] = []
        var failure: String?
        var failureReason = "LoadFailed"
        var converged = false
        var smokeTestPending = md.spec.rollout?.smokeInference != nil
        // Whether this pass loaded the desired model (so it is ours, even once the record of
        // what it served before is gone).
        var loaded = false
        var observed: [TritonModelState]
        do {
            observed = try await observe(backend, model: model)
            steps: for _ in 0..<6 {
                let input = TritonPlanInput(
                    url: spec.url, model: model, version: version, strategy: md.spec.rollout?.strategy ?? ModelDeployment.Defaults.strategy,
                    observed: observed, record: status.triton, failedForThisGeneration: failedLoad(status, generation: generation),
                    smokeTestPending: smokeTestPending)
                let step = TritonPlanner.next(input)
                if step != .converged { try ensureLeading() }
                switch step {
                case .converged:
                    converged = true
                    break steps
                case .adopt:
                    status.triton = ModelDeployment.TritonRecord(url: spec.url, model: model, origin: .adopted)
                    try appendAudit(md, revision, "adopt", "\(spec.url)#\(model)", ["versions": [.int(Int64(version))]], "ok")
                    notes.append(
                        Note(
                            type: .normal, reason: "Adopted", action: "Adopt",
                            note:
                                "version \(version) of \(model) was already serving on \(spec.url); adopted, it stays loaded when this deployment is deleted"
                        ))
                case .blocked(let reason):
                    failure = reason
                    failureReason = status.conditions?[type: "Degraded"]?.reason ?? failureReason
                    break steps
                case .unload(let record) where record.isAdopted:
                    try appendAudit(md, revision, "release", "\(record.url)#\(record.model)", nil, "ok")
                    status.triton = loaded ? desired : nil
                    notes.append(
                        Note(
                            type: .normal, reason: "Released", action: "Release",
                            note: "left \(record.model) loaded on \(record.url): the spec moved away from it, and Modelplane did not load it"))
                case .unload(let record):
                    do {
                        try await triton(record.url).unload(record.model)
                        indexes.invalidate(record.url)
                        try appendAudit(md, revision, "unload", "\(record.url)#\(record.model)", nil, "ok")
                    } catch let error as TritonError where error.kind == .refused {
                        try appendAudit(md, revision, "unload", "\(record.url)#\(record.model)", nil, "failed: \(error.message)")
                    }
                    status.triton = loaded ? desired : nil
                    notes.append(
                        Note(type: .normal, reason: "Unloaded", action: "Unload", note: "unloaded \(record.model) from \(record.url): the spec moved it"))
                case .smokeTest:
                    smokeTestPending = false
                    if let problem = try await smokeTest(backend, md: md, revision: revision) {
                        (failure, failureReason) = (problem, "SmokeTestFailed")
                        observed = try await rollBack(backend, md: md, spec: spec, revision: revision, observed: observed, to: input.ready, notes: &notes)
                        notes.append(Note(type: .warning, reason: failureReason, action: "SmokeTest", note: problem))
                        break steps
                    }
                case .load(_, _, let versions):
                    do {
                        let deadline = md.spec.rollout?.progressDeadlineSeconds ?? ModelDeployment.Defaults.progressDeadlineSeconds
                        observed = try await load(
                            backend, md: md, spec: spec, revision: revision, observed: observed, versions: versions, upload: upload,
                            deadline: .seconds(deadline))
                        loaded = true
                        // Ours now, whoever loaded the model before; a record of another model
                        // stays until that one is unloaded.
                        if status.triton.map({ $0.isSameModel(as: desired) }) ?? true { status.triton = desired }
                        notes.append(
                            Note(
                                type: .normal, reason: "Loaded", action: "Load",
                                note: "loaded \(model) versions \(versions.map(String.init).joined(separator: ", "))"))
                        // A version that just started serving answers the smoke inference first.
                        if smokeTestPending, !input.ready.contains(version) {
                            smokeTestPending = false
                            if let problem = try await smokeTest(backend, md: md, revision: revision) {
                                (failure, failureReason) = (problem, "SmokeTestFailed")
                                observed = try await rollBack(
                                    backend, md: md, spec: spec, revision: revision, observed: observed, to: input.ready, notes: &notes)
                                notes.append(Note(type: .warning, reason: failureReason, action: "SmokeTest", note: problem))
                                break steps
                            }
                        }
                    } catch let exceeded as DeadlineExceeded {
                        failure = "version \(version) did not become ready within progressDeadlineSeconds (\(exceeded.after))"
                        failureReason = "ProgressDeadlineExceeded"
                        notes.append(Note(type: .warning, reason: failureReason, action: "Load", note: failure!))
                        indexes.invalidate(spec.url)
                        observed = try await observe(backend, model: model)
                        break steps
                    } catch let error as TritonError where error.kind == .refused {
                        failure = "version \(version) failed to load: \(error.message)"
                        notes.append(Note(type: .warning, reason: "LoadFailed", action: "Load", note: failure!))
                        indexes.invalidate(spec.url)
                        observed = try await observe(backend, model: model)
                        break steps
                    }
                }
            }
        } catch let error as TritonError where error.kind != .refused {
            let message = "\(error)"
            setConditions(&status, generation: generation, ready: nil, progressing: nil, degraded: (.true, "BackendUnavailable", message))
            status.phase = .degraded
            try await write(&md, status)
            if original.status?.conditions?[type: "Degraded"]?.reason != "BackendUnavailable" {
                await events.record(md, type: .warning, reason: "BackendUnavailable", action: "Observe", note: message)
            }
            throw ReconcileError.transient(message)
        }

        let ready = TritonPlanInput(url: spec.url, model: model, version: version, strategy: .immediate, observed: observed, record: nil).ready
        status.servingVersion = ready.max().map(String.init)
        status.observedGeneration = generation
        if converged {
            markServing(&status, generation: generation, revision: revision, "version \(version) of \(model) is serving on \(spec.url)")
        } else if let failure {
            markFailed(&status, generation: generation, serving: status.servingVersion, failure: failure, reason: failureReason)
        } else {
            status.phase = .progressing
            setConditions(&status, generation: generation, ready: nil, progressing: (.true, "Loading", "rolling out version \(version)"), degraded: nil)
        }
        // Moving from SageMaker: its endpoint goes once Triton serves.
        var moving = false
        if converged, let old = status.sagemaker {
            try ensureLeading()
            do {
                status.sagemaker = try await tearDown(old, client: sagemaker(old.region, old.endpointURL), md: md, revision: revision)
                moving = status.sagemaker != nil
            } catch let error as AWSError {
                moving = true
                notes.append(Note(type: .warning, reason: "DeleteFailed", action: "DeleteEndpoint", note: "the old SageMaker endpoint: \(error)"))
            }
        }
        try await write(&md, status)
        if converged, original.status?.phase != .ready || original.status?.currentRevision != status.currentRevision {
            // One event per transition: a load that just made the version serve says so itself.
            let loadedNow = notes.contains { $0.reason == "Loaded" }
            notes.removeAll { $0.reason == "Loaded" }
            notes.append(
                Note(
                    type: .normal, reason: "Serving", action: loadedNow ? "Load" : "Rollout",
                    note: "version \(version) of \(model) is serving" + (loadedNow ? " (loaded)" : "")))
        }
        for note in notes { await events.record(md, type: note.type, reason: note.reason, action: note.action, note: note.note) }
        if moving { return .requeueAfter(sageMakerPoll) }
        if converged { return .converged }
        if failure != nil { return .requeueAfter(Self.failedLoadRetry) }
        return .requeueAfter(.seconds(1))
    }

    struct DeadlineExceeded: Error {
        var after: Duration
    }

    /// Runs `body`, cancelling it and throwing `DeadlineExceeded` if it takes longer than `limit`.
    func within(_ limit: Duration, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await deadlines.run(within: limit, body)
    }

    /// What Triton runs of `model`: its rows in the (shared) repository index, or its loaded
    /// versions when the index does not list it (models loaded from uploaded files).
    private func observe(_ backend: any TritonAPI, model: String) async throws(TritonError) -> [TritonModelState] {
        let rows = try await indexes.rows(backend, model: model)
        return rows.isEmpty ? try await backend.rows(of: model, in: []) : rows
    }

    /// Loads exactly `versions` (uploading their files when the spec names a local directory),
    /// waits until each is ready, audits the outcome, and returns the model's rows afterwards.
    /// Throws `DeadlineExceeded`, or a refusal with Triton's reason.
    private func load(
        _ backend: any TritonAPI, md: ModelDeployment, spec: ModelDeployment.Triton, revision: Int64?, observed: [TritonModelState], versions: [Int],
        upload: String?, deadline: Duration, rollback: Bool = false
    ) async throws -> [TritonModelState] {
        let model = md.spec.model.name
        let target = "\(spec.url)#\(model)"
        var detail: JSONValue = ["versions": .array(versions.map { .int(Int64($0)) })]
        if rollback { detail["rollback"] = true }
        do {
            let files = try upload.map { directory throws(TritonError) in try Self.modelFiles(in: directory, versions: versions) } ?? [:]
            let config = try await self.config(
                backend, model: model, spec: spec, observed: observed, versions: versions, upload: upload, md: md, revision: revision)
            try await within(deadline) { try await backend.load(model, config: config, files: files) }
            // A version counts as serving once Triton says it is ready, not when the load returns.
            for version in versions where try await !backend.isReady(model, version: String(version)) {
                throw TritonError(.refused, "version \(version) is not ready after loading")
            }
        } catch let exceeded as DeadlineExceeded {
            try appendAudit(md, revision, "load", target, detail, "failed: did not finish within \(exceeded.after)")
            throw exceeded
        } catch let error as TritonError where error.kind == .refused {
            try appendAudit(md, revision, "load", target, detail, "failed: \(error.message)")
            throw error
        }
        let rows = Self.afterLoad(observed, model: model, versions: versions)
        indexes.update(spec.url, model: model, rows: rows)
        try appendAudit(md, revision, "load", target, detail, "ok")
        return rows
    }

    /// Sends the spec's smoke inference to the desired version; returns why it failed, or nil.
    private func smokeTest(_ backend: any TritonAPI, md: ModelDeployment, revision: Int64?) async throws -> String? {
        guard let request = md.spec.rollout?.smokeInference else { return nil }
        let model = md.spec.model.name
        let version = md.spec.model.version
        let deadline = md.spec.rollout?.progressDeadlineSeconds ?? ModelDeployment.Defaults.progressDeadlineSeconds
        var problem: String?
        do {
            try await within(.seconds(deadline)) { _ = try await backend.infer(model, version: version, request: request) }
        } catch let error as TritonError where error.kind == .refused {
            problem = "version \(version) failed the smoke inference: \(error.message)"
        } catch is DeadlineExceeded {
            problem = "version \(version) did not answer the smoke inference within progressDeadlineSeconds (\(deadline) s)"
        }
        try appendAudit(
            md, revision, "smoke-inference", "\(backend.baseURL)#\(model)", ["versions": [.int(Int64(version) ?? 0)]], problem.map { "failed: \($0)" } ?? "ok")
        return problem
    }

    /// After a failed smoke inference: back to exactly `previous` (what served before the new
    /// version loaded), or nothing of the model when nothing served. Returns the rows afterwards.
    private func rollBack(
        _ backend: any TritonAPI, md: ModelDeployment, spec: ModelDeployment.Triton, revision: Int64?, observed: [TritonModelState],
        to previous: Set<Int>, notes: inout [Note]
    ) async throws -> [TritonModelState] {
        let model = md.spec.model.name
        let keep = previous.subtracting([Int(md.spec.model.version) ?? 0]).sorted()
        if keep.isEmpty {
            try await backend.unload(model)
            indexes.invalidate(spec.url)
            try appendAudit(md, revision, "unload", "\(spec.url)#\(model)", ["rollback": true], "ok")
            notes.append(Note(type: .normal, reason: "RolledBack", action: "Unload", note: "unloaded \(model): nothing served before"))
            return observed.map { row in
                row.state == .ready ? TritonModelState(name: model, version: row.version, state: .unavailable, reason: "unloaded") : row
            }
        }
        let deadline = md.spec.rollout?.progressDeadlineSeconds ?? ModelDeployment.Defaults.progressDeadlineSeconds
        let rows = try await load(
            backend, md: md, spec: spec, revision: revision, observed: observed, versions: keep, upload: md.spec.model.uri.map(Self.localDirectory),
            deadline: .seconds(deadline), rollback: true)
        notes.append(
            Note(type: .normal, reason: "RolledBack", action: "Load", note: "back to \(model) versions \(keep.map(String.init).joined(separator: ", "))"))
        return rows
    }

    /// The directory a local `spec.model.uri` names (`/path` or `file:///path`).
    static func localDirectory(_ uri: String) -> String {
        uri.hasPrefix("file://") ? String(uri.dropFirst("file://".count)) : uri
    }

    /// The most a load uploads; bigger models belong in Triton's model repository.
    static let uploadLimit = 256 << 20

    /// The files under `directory/VERSION/` for each of `versions`, keyed `VERSION/relative/path`
    /// as Triton's load API takes them. Unreadable or missing files are a refusal the user can act on.
    static func modelFiles(in directory: String, versions: [Int]) throws(TritonError) -> [String: Data] {
        var files: [String: Data] = [:]
        var total = 0
        let manager = FileManager.default
        for version in versions {
            let root = "\(directory)/\(version)"
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw TritonError(.refused, "spec.model.uri: \(root) is not a directory the controller can read")
            }
            guard let enumerator = manager.enumerator(atPath: root) else { throw TritonError(.refused, "spec.model.uri: cannot list \(root)") }
            while let relative = enumerator.nextObject() as? String {
                let path = root + "/" + relative
                guard manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                guard let data = manager.contents(atPath: path) else { throw TritonError(.refused, "spec.model.uri: cannot read \(path)") }
                total += data.count
                if total > uploadLimit {
                    throw TritonError(
                        .refused, "spec.model.uri: more than \(uploadLimit >> 20) MiB to upload; put large models in Triton's model repository instead")
                }
                files["\(version)/\(relative)"] = data
            }
        }
        return files
    }

    /// The desired model's rows after a successful load of exactly `versions`.
    static func afterLoad(_ observed: [TritonModelState], model: String, versions: [Int]) -> [TritonModelState] {
        var rows = observed.filter { row in row.version.flatMap(Int.init).map { !versions.contains($0) } ?? false }
        for index in rows.indices where rows[index].state == .ready {
            rows[index].state = .unavailable
            rows[index].reason = "unloaded"
        }
        return rows + versions.map { TritonModelState(name: model, version: String($0), state: .ready) }
    }

    /// The config override for a load: the model's configuration as Triton knows it (from the
    /// running model; else from the spec if it is complete; else, for a repository model, by
    /// loading the repository's own config once and reading it back), the spec's `modelConfig`
    /// merged over it, and a version policy naming exactly `versions`. Triton takes an override as
    /// the whole configuration.
    private func config(
        _ backend: any TritonAPI, model: String, spec: ModelDeployment.Triton, observed: [TritonModelState], versions: [Int], upload: String?,
        md: ModelDeployment, revision: Int64?
    ) async throws -> JSONValue {
        var base: JSONValue
        if observed.contains(where: { $0.state == .ready }) {
            base = try await backend.config(model)
        } else if let given = spec.modelConfig, given["backend"] != nil || given["platform"] != nil {
            base = [:]
        } else if let upload {
            // The model's own files are at hand: read its config.pbtxt, as Triton would.
            base = try Self.repositoryConfig(in: upload, model: model)
        } else {
            // Triton's files are not: load the model with the repository's own configuration to
            // learn it. That loads whatever its version policy names (by default the latest)
            // before the wanted version is pinned, so say so; modelConfig avoids it.
            do {
                try await backend.load(model, config: nil, files: [:])
                try appendAudit(md, revision, "load-repository-config", "\(spec.url)#\(model)", nil, "ok")
                let loaded = (try? await backend.loadedVersions(model)) ?? []
                await events.record(
                    md, type: .normal, reason: "LearnedConfig", action: "Load",
                    note:
                        "loaded \(model) with the repository's own configuration to learn it (versions \(loaded.isEmpty ? "none" : loaded.joined(separator: ", ")) came up), then pinned the wanted ones; give spec.backend.triton.modelConfig with backend or platform to skip this"
                )
            } catch let error as TritonError where error.kind == .refused {
                try appendAudit(md, revision, "load-repository-config", "\(spec.url)#\(model)", nil, "failed: \(error.message)")
                throw TritonError(
                    .refused, status: error.status,
                    "cannot learn \(model)'s configuration: loading the repository's own config failed (\(error.message)); give the full config in spec.backend.triton.modelConfig"
                )
            }
            base = try await backend.config(model)
        }
        base["version_policy"] = nil
        var config = spec.modelConfig.map { applyMergePatch($0, to: base) } ?? base
        config["name"] = .string(model)
        config["version_policy"] = ["specific": ["versions": .array(versions.map { .int(Int64($0)) })]]
        return config
    }

    /// The configuration in `directory/config.pbtxt`, as JSON; a file that is missing or does not
    /// parse is a refusal that says which, and what to give instead.
    static func repositoryConfig(in directory: String, model: String) throws(TritonError) -> JSONValue {
        let path = directory + "/config.pbtxt"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TritonError(
                .refused,
                "uploading \(model) from spec.model.uri needs its configuration: put a config.pbtxt in \(directory), or give spec.backend.triton.modelConfig with backend or platform"
            )
        }
        do {
            return try ModelConfigText.parse(String(decoding: data, as: UTF8.self))
        } catch {
            throw TritonError(.refused, "spec.model.uri: \(directory)/\(error) (or give spec.backend.triton.modelConfig instead)")
        }
    }

    /// The reason the desired version failed to load for this generation, while a retry is not due.
    func failedLoad(_ status: ModelDeployment.Status, generation: Int64) -> String? {
        guard let degraded = status.conditions?[type: "Degraded"], degraded.status == .true,
            ["LoadFailed", "ProgressDeadlineExceeded", "SmokeTestFailed", "UpdateRolledBack", "EndpointFailed", "InvalidRequest"].contains(degraded.reason),
            degraded.observedGeneration == generation
        else { return nil }
        if let since = Self.date(degraded.lastTransitionTime), clock.date.timeIntervalSince(since) >= Double(Self.failedLoadRetry.components.seconds) {
            return nil
        }
        return degraded.message
    }

    // MARK: - Deletion and other backends

    private func finalize(_ original: ModelDeployment) async throws -> ReconcileResult {
        var md = original
        guard (md.metadata.finalizers ?? []).contains(Self.finalizer) else { return .converged }
        let revision = md.status?.revisions?.last?.revision
        if let record = md.status?.triton {
            try ensureLeading()
            guard try await releaseTriton(record, md: md, revision: revision) else {
                throw ReconcileError.transient("cannot unload \(record.model) from \(record.url) yet")
            }
        }
        if let record = md.status?.sagemaker {
            try ensureLeading()
            do {
                if let remaining = try await tearDown(record, client: sagemaker(record.region, record.endpointURL), md: md, revision: revision) {
                    var status = md.status ?? .init()
                    status.sagemaker = remaining
                    try await write(&md, status)
                    return .requeueAfter(sageMakerPoll)
                }
            } catch let error as AWSError {
                await events.record(md, type: .warning, reason: "DeleteFailed", action: "DeleteEndpoint", note: "\(error); will retry before deleting")
                throw ReconcileError.transient("\(error)")
            }
        }
        md.metadata.finalizers = (md.metadata.finalizers ?? []).filter { $0 != Self.finalizer }
        _ = try await client.update(md)
        return .converged
    }

    /// Lets go of the Triton model `record` names, as the deployment goes or moves away: unloads
    /// it if Modelplane loaded it; if it was adopted, leaves it loaded and says so. True when we
    /// are done with it; false when Triton could not be asked (an event says so).
    func releaseTriton(_ record: ModelDeployment.TritonRecord, md: ModelDeployment, revision: Int64?) async throws -> Bool {
        let target = "\(record.url)#\(record.model)"
        if record.isAdopted {
            try appendAudit(md, revision, "release", target, nil, "ok")
            await events.record(
                md, type: .normal, reason: "Released", action: "Release",
                note: "left \(record.model) loaded on \(record.url): it was serving before this deployment adopted it, and Modelplane did not load it")
            return true
        }
        do {
            try await triton(record.url).unload(record.model)
            indexes.invalidate(record.url)
            try appendAudit(md, revision, "unload", target, nil, "ok")
            await events.record(md, type: .normal, reason: "Unloaded", action: "Unload", note: "unloaded \(record.model) from \(record.url)")
        } catch let error as TritonError where error.kind == .refused {
            // Already gone (Triton restarted, or someone unloaded it): nothing of ours is left.
            try appendAudit(md, revision, "unload", target, nil, "not loaded: \(error.message)")
        } catch let error as TritonError {
            await events.record(md, type: .warning, reason: "UnloadFailed", action: "Unload", note: "\(error); will retry")
            return false
        }
        return true
    }

    func unsupported(_ original: ModelDeployment) async throws -> ReconcileResult {
        var md = original
        var status = md.status ?? ModelDeployment.Status()
        let generation = md.metadata.generation ?? 1
        status.backend = md.spec.backend.kind?.rawValue
        status.phase = .pending
        status.observedGeneration = generation
        let message = "this controller does not reconcile \(md.spec.backend.kind?.rawValue ?? "this") backend yet"
        setConditions(
            &status, generation: generation, ready: (.false, "BackendNotSupported", message), progressing: (.false, "BackendNotSupported", message),
            degraded: nil)
        try await write(&md, status)
        // Said in status; nothing changes until the spec does.
        throw ReconcileError.terminal(message)
    }

    // MARK: - Status

    /// Appends a revision when the serving-relevant spec is new; returns the current revision.
    static func recordRevision(_ status: inout ModelDeployment.Status, _ md: ModelDeployment, now: Date) -> Int64? {
        let hash = md.spec.revisionHash
        var revisions = status.revisions ?? []
        if revisions.last?.hash != hash {
            let number = (revisions.last?.revision ?? 0) + 1
            // A change-cause counts for the spec it was written with: a later edit that leaves the
            // annotation behind is not, say, the rollback that set it.
            let annotations = md.metadata.annotations ?? [:]
            let given = annotations[ModelDeployment.changeCauseAnnotation].flatMap { cause in
                annotations[ModelDeployment.changeCauseHashAnnotation].map { $0 == hash ? cause : nil } ?? cause
            }
            let cause = given ?? (number == 1 ? "created" : "spec changed (generation \(md.metadata.generation ?? 0))")
            revisions.append(
                .init(
                    revision: number, hash: hash, version: md.spec.model.version, createdAt: Timestamps.rfc3339(now), cause: cause,
                    spec: md.spec.servingRelevantJSON))
            let keep = Int(md.spec.revisionHistoryLimit ?? ModelDeployment.Defaults.revisionHistoryLimit) + 1
            if revisions.count > keep { revisions.removeFirst(revisions.count - keep) }
            status.revisions = revisions
        }
        return revisions.last?.revision
    }

    typealias ConditionValue = (status: Condition.Status, reason: String, message: String)

    /// The desired revision serves: Ready, not progressing, healthy.
    func markServing(_ status: inout ModelDeployment.Status, generation: Int64, revision: Int64?, _ message: String) {
        status.phase = .ready
        status.currentRevision = revision.map(String.init)
        setConditions(
            &status, generation: generation, ready: (.true, "Serving", message), progressing: (.false, "Converged", message),
            degraded: (.false, "Healthy", message))
    }

    /// The rollout failed: Degraded with `reason`; Ready while an earlier version (`serving`) still serves.
    func markFailed(_ status: inout ModelDeployment.Status, generation: Int64, serving: String?, failure: String, reason: String) {
        status.phase = serving == nil ? .failed : .degraded
        let keeps = serving.map { "version \($0) keeps serving" } ?? "nothing is serving"
        setConditions(
            &status, generation: generation, ready: (serving == nil ? .false : .true, serving == nil ? "NotServing" : "ServingPrevious", keeps),
            progressing: (.false, "RolloutFailed", failure), degraded: (.true, reason, failure))
    }

    func setConditions(
        _ status: inout ModelDeployment.Status, generation: Int64, ready: ConditionValue?, progressing: ConditionValue?, degraded: ConditionValue?
    ) {
        // Reconciles ending degraded, by the reason a user sees (a closed set: LoadFailed,
        // ProgressDeadlineExceeded, SmokeTestFailed, BackendUnavailable, Conflict, …).
        if let degraded, degraded.status == .true {
            Counter(label: "modelplane_reconcile_errors_total", dimensions: [("reason", degraded.reason)]).increment()
        }
        var conditions = status.conditions ?? []
        // Formatted only when a condition changes status: a steady-state resync formats nothing.
        lazy var time = Timestamps.rfc3339(clock.date)
        for (type, value) in [("Ready", ready), ("Progressing", progressing), ("Degraded", degraded)] {
            guard let value else { continue }
            let message = value.message.count > 32_000 ? String(value.message.prefix(32_000)) : value.message
            if let index = conditions.firstIndex(where: { $0.type == type }) {
                let transition = conditions[index].status == value.status ? conditions[index].lastTransitionTime : time
                conditions[index] = Condition(
                    type: type, status: value.status, observedGeneration: generation, lastTransitionTime: transition, reason: value.reason, message: message)
            } else {
                conditions.append(
                    Condition(
                        type: type, status: value.status, observedGeneration: generation, lastTransitionTime: time, reason: value.reason, message: message))
            }
        }
        status.conditions = conditions
    }

    /// Writes the status through the status subresource, only when it changed.
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

    private func updateStatus(of object: ModelDeployment, to status: ModelDeployment.Status) async throws -> ModelDeployment {
        var object = object
        object.status = status
        return try await client.updateStatus(object)
    }

    func appendAudit(_ md: ModelDeployment, _ revision: Int64?, _ action: String, _ target: String, _ detail: JSONValue?, _ outcome: String)
        throws
    {
        try audit?.append(
            AuditLog.Record(
                deployment: ObjectKey(md.metadata).description, revision: revision, action: action, target: target, detail: detail, outcome: outcome))
    }

    static func date(_ text: String) -> Date? { try? Date(text, strategy: .iso8601) }
}

/// Repository indexes by Triton URL, reused for `ttl`: a resync of many deployments on one
/// Triton costs one index call, not one per deployment. Our own actions invalidate it. One call
/// per Triton at a time: the workers that find the index stale together share the call that
/// is under way instead of each making its own.
final class TritonIndexCache: Sendable {
    let ttl: Duration
    typealias Rows = [String: [TritonModelState]]
    private struct State {
        /// Rows grouped by model, so each deployment's lookup is one dictionary access.
        var entries: [String: (at: Duration, rows: Rows)] = [:]
        /// The index call under way for each Triton: the generation it started in, and the rows
        /// our own actions observed since, which its answer may predate.
        var fetches: [String: (generation: Int, task: Task<Result<Rows, TritonError>, Never>, updates: Rows)] = [:]
        /// Bumped by `invalidate`: a call that started before it neither stores its rows nor is
        /// joined by anyone after it.
        var generations: [String: Int] = [:]
        /// A Triton found unreachable, and when.
        var failures: [String: (at: Duration, error: TritonError)] = [:]
    }
    private let state = Mutex(State())

    private let clock: any RuntimeClock

    init(ttl: Duration = .seconds(1), clock: any RuntimeClock = SystemClock()) {
        self.ttl = ttl
        self.clock = clock
    }

    /// A Triton found unreachable is not asked again for this long: every deployment on it fails
    /// fast instead of each holding a worker until its own timeout.
    let unreachableFor: Duration = .seconds(5)

    /// The rows for `model` in the index of `backend`'s Triton.
    func rows(_ backend: any TritonAPI, model: String) async throws(TritonError) -> [TritonModelState] {
        let now = clock.now
        let key = Self.key(backend.baseURL)
        enum Next {
            case cached([TritonModelState])
            case failed(TritonError)
            case wait(Task<Result<Rows, TritonError>, Never>)
        }
        let next = state.withLock { state -> Next in
            if let entry = state.entries[key], now - entry.at < ttl { return .cached(entry.rows[model] ?? []) }
            if let failure = state.failures[key], now - failure.at < unreachableFor { return .failed(failure.error) }
            let generation = state.generations[key, default: 0]
            if let running = state.fetches[key], running.generation == generation { return .wait(running.task) }
            let task = Task { [self] () async -> Result<Rows, TritonError> in
                let result: Result<Rows, TritonError>
                do throws(TritonError) {
                    result = .success(Dictionary(grouping: try await backend.index(), by: \.name))
                } catch {
                    result = .failure(error)
                }
                return finished(key, generation: generation, result, startedAt: now)
            }
            state.fetches[key] = (generation, task, [:])
            return .wait(task)
        }
        switch next {
        case .cached(let rows): return rows
        case .failed(let error): throw error
        case .wait(let task): return try await task.value.get()[model] ?? []
        }
    }

    /// Keeps what a finished index call found, with what our own actions observed meanwhile,
    /// unless it was invalidated since it started; returns that.
    private func finished(
        _ key: String, generation: Int, _ result: Result<Rows, TritonError>, startedAt: Duration
    ) -> Result<Rows, TritonError> {
        state.withLock { state in
            guard state.generations[key, default: 0] == generation, let fetch = state.fetches.removeValue(forKey: key) else { return result }
            switch result {
            case .success(var rows):
                rows.merge(fetch.updates) { _, ours in ours }
                state.entries[key] = (startedAt, rows)
                state.failures[key] = nil
                return .success(rows)
            case .failure(let error):
                if error.kind == .unreachable { state.failures[key] = (clock.now, error) }
                return result
            }
        }
    }

    func invalidate(_ url: String) {
        state.withLock { state in
            let key = Self.key(url)
            state.entries[key] = nil
            state.fetches[key] = nil
            state.generations[key, default: 0] += 1
        }
    }

    /// Replaces one model's rows in the cached index (after our own action, which we observed).
    func update(_ url: String, model: String, rows: [TritonModelState]) {
        state.withLock { state in
            let key = Self.key(url)
            state.entries[key]?.rows[model] = rows
            state.fetches[key]?.updates[model] = rows
        }
    }

    private static func key(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }
}
