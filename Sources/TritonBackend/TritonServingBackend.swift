public import Controller
import Foundation
public import ModelplaneAPI
public import Rollout
public import Triton

/// What a deployment asks of Triton.
public struct TritonDesired: Sendable, Hashable {
    public var url: String
    public var model: String
    public var version: Int

    public init(url: String, model: String, version: Int) {
        self.url = url
        self.model = model
        self.version = version
    }

    var record: ModelDeployment.TritonRecord { .init(url: url, model: model, origin: .loaded) }
}

/// The desired model's rows on Triton, and what this pass learned.
public struct TritonObservation: Sendable, Hashable {
    public var rows: [TritonModelState]
    /// The versions ready before this pass first loaded the desired one (what a failed smoke
    /// inference goes back to); nil until it loads.
    public var readyBeforeLoad: Set<Int>?
    /// The smoke inference ran this pass.
    public var smokeTested = false
    /// Why it failed, if it did.
    public var smokeFailure: String?
    /// The versions `spec.model.uri` holds (its numbered directories), when the spec names a
    /// local directory the controller can list; nil otherwise (then only a load can tell).
    public var available: [Int]?

    public init(rows: [TritonModelState], available: [Int]? = nil) {
        self.rows = rows
        self.available = available
    }

    /// Versions READY now.
    public var ready: Set<Int> { Set(rows.filter { $0.state == .ready }.compactMap { $0.version.flatMap(Int.init) }) }
}

/// One action on Triton.
public enum TritonAction: BackendAction {
    /// The desired version alone already serves, loaded by someone else (or by us before a
    /// crash): record it as adopted instead of loading it again.
    case adopt(ModelDeployment.TritonRecord, version: Int)
    /// Load exactly `versions` (a config override naming them); `unloads`: what that drops.
    case load(url: String, model: String, versions: [Int], unloads: [Int])
    /// Unload (or, adopted, release) what the deployment served before the spec moved it.
    case unload(ModelDeployment.TritonRecord)
    /// The desired version answers the spec's smoke inference before the others go.
    case smokeTest(version: Int)
    /// After a failed smoke inference: back to exactly `versions` (none: unload the model).
    case restore(url: String, model: String, versions: [Int])

    public var changesBackend: Bool {
        switch self {
        case .adopt: false
        case .unload(let record): !record.isAdopted
        case .load, .smokeTest, .restore: true
        }
    }

    public var preview: String? {
        switch self {
        case .adopt(let record, let version): "adopt \(record.model) version \(version), already serving (no load)"
        case .load(let url, let model, let versions, let unloads):
            "load \(model) versions \(versions.map(String.init).joined(separator: ", ")) on \(url)"
                + (unloads.isEmpty ? "" : " (unloads \(unloads.map(String.init).joined(separator: ", ")))")
        case .unload(let record) where record.isAdopted: "release \(record.model) on \(record.url) (adopted: it stays loaded)"
        case .unload(let record): "unload \(record.model) from \(record.url)"
        case .smokeTest(let version): "smoke inference on version \(version) (if it fails: back to what serves now)"
        case .restore(_, let model, let versions): "back to \(model) versions \(versions.map(String.init).joined(separator: ", "))"
        }
    }

    public var description: String { preview ?? "" }
}

/// Triton behind the seam: one repository index per Triton per pass (shared by every deployment
/// on it), loads with a config override naming exactly the wanted versions, the smoke inference
/// and going back after it fails, adoption and release.
public struct TritonServingBackend: ServingBackend {
    public static let id = BackendID.triton
    /// The Triton at a URL.
    let triton: @Sendable (String) -> any TritonAPI
    /// Calls on Triton against their deadlines (one watchdog for all of them).
    let deadlines: Deadlines
    /// One repository index per Triton per pass, shared by every deployment on that Triton.
    let indexes: TritonIndexCache
    /// Triton answers loads before they return: nothing asynchronous to poll.
    public var pollInterval: Duration { .seconds(1) }

    public init(triton: @escaping @Sendable (String) -> any TritonAPI, clock: any RuntimeClock = SystemClock()) {
        self.triton = triton
        self.deadlines = Deadlines(clock: clock)
        self.indexes = TritonIndexCache(clock: clock)
    }

    // MARK: - Pure

    public static func desired(_ md: ModelDeployment) -> TritonDesired? {
        md.spec.backend.triton.map { TritonDesired(url: $0.url, model: md.spec.model.name, version: Int(md.spec.model.version) ?? 0) }
    }

    public static func record(in status: ModelDeployment.Status) -> ModelDeployment.TritonRecord? { status.triton }
    public static func store(_ record: ModelDeployment.TritonRecord?, in status: inout ModelDeployment.Status) { status.triton = record }

    public static func claims(_ desired: TritonDesired) -> [Claim] { [claim(url: desired.url, model: desired.model)] }
    public static func claims(_ record: ModelDeployment.TritonRecord) -> [Claim] { [claim(url: record.url, model: record.model)] }

    static func claim(url: String, model: String) -> Claim {
        Claim(key: (url.hasSuffix("/") ? String(url.dropLast()) : url) + "#" + model, subject: "model \(model) on \(url)", unit: "one Triton model")
    }

    public static func servingVersion(_ observation: TritonObservation, record: ModelDeployment.TritonRecord?) -> String? {
        observation.ready.max().map(String.init)
    }

    public static func readyVersions(_ observation: TritonObservation, record: ModelDeployment.TritonRecord?) -> Set<String> {
        Set(observation.ready.map(String.init))
    }

    public static func plan(_ input: PlanInput<Self>) -> BackendPlan<TritonAction> {
        let desired = input.desired
        let observation = input.observation
        let ready = observation.ready
        // The placement names the versions: the spec's (or, a canary aborted, the stable one's),
        // and those held beside it.
        let version = Int(input.placement.serve) ?? desired.version
        var beside = Set([input.placement.stable, input.placement.shadow].compactMap { $0.flatMap(Int.init) }).subtracting([version])
        // The shadow comes once the version to serve is ready: a shadow that will not load never
        // holds up (or fails) the rollout itself.
        if let shadow = input.placement.shadow.flatMap(Int.init), !ready.contains(version), shadow != input.placement.stable.flatMap(Int.init) {
            beside.remove(shadow)
        }
        if observation.smokeFailure != nil {
            let previous = observation.readyBeforeLoad ?? ready
            return .act(.restore(url: desired.url, model: desired.model, versions: previous.subtracting([version]).sorted()))
        }
        let smokeTestPending = input.spec.rollout?.smokeInference != nil && !observation.smokeTested
        // A version that just started serving answers the smoke inference first.
        if smokeTestPending, ready.contains(version), let before = observation.readyBeforeLoad, !before.contains(version) {
            return .act(.smokeTest(version: version))
        }
        let step = TritonPlanner.next(
            TritonPlanInput(
                url: desired.url, model: desired.model, version: version, beside: beside,
                strategy: input.spec.rollout?.strategy ?? ModelDeployment.Defaults.strategy, observed: observation.rows, record: input.record,
                failedForThisGeneration: input.blocked?.message, smokeTestPending: smokeTestPending))
        switch step {
        case .converged:
            let with = beside.isEmpty ? "" : " (with \(beside.sorted().map(String.init).joined(separator: ", ")) beside it)"
            return .converged("version \(version) of \(desired.model) is serving on \(desired.url)" + with)
        case .adopt: return .act(.adopt(ModelDeployment.TritonRecord(url: desired.url, model: desired.model, origin: .adopted), version: version))
        case .blocked: return .blocked(input.blocked ?? RolloutFailure(.loadFailed, "version \(version) failed to load"))
        case .unload(let record): return .act(.unload(record))
        case .smokeTest(let version): return .act(.smokeTest(version: version))
        case .load(let url, let model, let versions):
            // Where the versions come from can be listed: one that is not there is said as such,
            // before Triton is asked (it would answer that no version is available under the policy).
            if let available = observation.available, let uri = input.spec.model.uri, let missing = versions.first(where: { !available.contains($0) }) {
                let has = available.isEmpty ? "it holds no version directories" : "it has \(available.map(String.init).joined(separator: ", "))"
                return .failed(
                    RolloutFailure(.versionNotFound, "version \(missing) of \(model) is not in \(localDirectory(uri)) (\(has)); nothing was loaded"))
            }
            return .act(.load(url: url, model: model, versions: versions, unloads: ready.subtracting(versions).sorted()))
        }
    }

    /// The numbered version directories in `directory`, sorted; nil when it cannot be listed.
    static func versions(in directory: String) -> [Int]? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
        return entries.compactMap { entry -> Int? in
            guard let version = Int(entry), version > 0 else { return nil }
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: directory + "/" + entry, isDirectory: &isDirectory) && isDirectory.boolValue ? version : nil
        }.sorted()
    }

    public static func predicted(_ action: TritonAction, _ input: PlanInput<Self>) -> StepResult<Self>? {
        var observation = input.observation
        switch action {
        case .adopt(let record, _): return StepResult(observation, record: record)
        case .load(_, let model, let versions, _):
            if observation.readyBeforeLoad == nil { observation.readyBeforeLoad = observation.ready }
            observation.rows = versions.map { TritonModelState(name: model, version: String($0), state: .ready) }
            return StepResult(observation, record: recordAfterLoad(input))
        case .smokeTest:
            // Assumed to pass: the preview shows the way forward.
            observation.smokeTested = true
            return StepResult(observation, record: input.record)
        case .unload: return StepResult(observation, record: recordAfterUnload(input))
        case .restore: return nil
        }
    }

    /// Ours after a load, whoever loaded the model before; a record of another model stays until
    /// that one is unloaded.
    static func recordAfterLoad(_ input: PlanInput<Self>) -> ModelDeployment.TritonRecord {
        input.record.map { $0.isSameModel(as: input.desired.record) ? input.desired.record : $0 } ?? input.desired.record
    }

    /// After unloading the record of a model the spec moved away from: the desired model's, if
    /// this pass loaded it (then it is ours), else none.
    static func recordAfterUnload(_ input: PlanInput<Self>) -> ModelDeployment.TritonRecord? {
        input.observation.readyBeforeLoad != nil ? input.desired.record : nil
    }

    // MARK: - I/O

    /// What Triton runs of the model: its rows in the (shared) repository index, or its loaded
    /// versions when the index does not list it (models loaded from uploaded files).
    public func observe(_ desired: TritonDesired, record: ModelDeployment.TritonRecord?, deployment: ModelDeployment) async throws(BackendError)
        -> TritonObservation
    {
        let available = deployment.spec.model.uri.flatMap { Self.versions(in: Self.localDirectory($0)) }
        do {
            return TritonObservation(rows: try await rows(triton(desired.url), model: desired.model), available: available)
        } catch {
            throw BackendError(.backendUnavailable, "\(error)")
        }
    }

    private func rows(_ backend: any TritonAPI, model: String) async throws(TritonError) -> [TritonModelState] {
        let rows = try await indexes.rows(backend, model: model)
        return rows.isEmpty ? try await backend.rows(of: model, in: []) : rows
    }

    public func execute(_ action: TritonAction, _ input: PlanInput<Self>, _ context: ActionContext) async throws -> StepResult<Self> {
        do {
            return try await run(action, input, context)
        } catch let error as TritonError {
            // Refusals are handled where they happen; anything else means Triton could not be asked.
            throw BackendError(.backendUnavailable, "\(error)")
        }
    }

    private func run(_ action: TritonAction, _ input: PlanInput<Self>, _ context: ActionContext) async throws -> StepResult<Self> {
        let desired = input.desired
        var observation = input.observation
        switch action {
        case .adopt(let record, let version):
            try context.audit(AuditEntry("adopt", target(record), detail: ["versions": [.int(Int64(version))]], .ok))
            return StepResult(
                observation, record: record,
                notes: [
                    .normal(
                        .adopted, action: "Adopt",
                        "version \(version) of \(record.model) was already serving on \(record.url); adopted, it stays loaded when this deployment is deleted")
                ])
        case .unload(let record):
            let notes = try await release(record, context, reason: "the spec moved away from it", failures: .ignore)
            return StepResult(observation, record: Self.recordAfterUnload(input), notes: notes)
        case .load(_, _, let versions, _):
            let before = observation.readyBeforeLoad ?? observation.ready
            do {
                let (rows, notes) = try await load(desired, versions: versions, observed: observation.rows, context: context)
                observation.rows = rows
                observation.readyBeforeLoad = before
                return StepResult(
                    observation, record: Self.recordAfterLoad(input),
                    notes: notes + [.normal(.loaded, action: "Load", "loaded \(desired.model) versions \(versions.map(String.init).joined(separator: ", "))")])
            } catch let failure as LoadFailure {
                indexes.invalidate(desired.url)
                observation.rows = try await rows(triton(desired.url), model: desired.model)
                return StepResult(
                    observation, record: input.record,
                    notes: failure.notes + [.warning(EventReason(failure.failure.reason), action: "Load", failure.failure.message)],
                    .failed(failure.failure))
            }
        case .smokeTest(let version):
            observation.smokeTested = true
            observation.smokeFailure = try await smokeTest(desired, version: version, context)
            return StepResult(observation, record: input.record)
        case .restore(_, let model, let versions):
            let problem = observation.smokeFailure ?? "the smoke inference failed"
            var notes: [RolloutNote]
            if versions.isEmpty {
                try await triton(desired.url).unload(model)
                indexes.invalidate(desired.url)
                try context.audit(AuditEntry("unload", target(desired.url, model), detail: ["rollback": true], .ok))
                notes = [.normal(.rolledBack, action: "Unload", "unloaded \(model): nothing served before")]
                observation.rows = observation.rows.map { row in
                    row.state == .ready ? TritonModelState(name: model, version: row.version, state: .unavailable, reason: "unloaded") : row
                }
            } else {
                do {
                    let (rows, learned) = try await load(desired, versions: versions, observed: observation.rows, context: context, rollback: true)
                    observation.rows = rows
                    notes = learned + [.normal(.rolledBack, action: "Load", "back to \(model) versions \(versions.map(String.init).joined(separator: ", "))")]
                } catch let failure as LoadFailure {
                    indexes.invalidate(desired.url)
                    observation.rows = try await rows(triton(desired.url), model: desired.model)
                    notes = [
                        .warning(EventReason(failure.failure.reason), action: "Load", "going back after the failed smoke inference: \(failure.failure.message)")
                    ]
                }
            }
            let failure = RolloutFailure(.smokeTestFailed, problem)
            return StepResult(observation, record: input.record, notes: notes + [.warning(.smokeTestFailed, action: "SmokeTest", problem)], .failed(failure))
        }
    }

    public func tearDown(_ record: ModelDeployment.TritonRecord, _ context: ActionContext) async throws -> TearDown<ModelDeployment.TritonRecord> {
        try context.ensureLeading()
        do {
            return .done(try await release(record, context, reason: nil, failures: .throw))
        } catch let error as TritonError {
            throw BackendError(.backendUnavailable, "cannot unload \(record.model) from \(record.url): \(error)")
        }
    }

    enum UnloadFailures { case ignore, `throw` }

    /// Lets go of the model `record` names: unloads it if Modelplane loaded it; adopted, leaves
    /// it loaded and says so. A model already gone counts as unloaded.
    private func release(_ record: ModelDeployment.TritonRecord, _ context: ActionContext, reason: String?, failures: UnloadFailures) async throws
        -> [RolloutNote]
    {
        if record.isAdopted {
            try context.audit(AuditEntry("release", target(record), .ok))
            return [
                .normal(
                    .released, action: "Release",
                    "left \(record.model) loaded on \(record.url): " + (reason ?? "it was serving before this deployment adopted it")
                        + ", and Modelplane did not load it")
            ]
        }
        do {
            try await triton(record.url).unload(record.model)
            indexes.invalidate(record.url)
            try context.audit(AuditEntry("unload", target(record), .ok))
        } catch let error as TritonError where error.kind == .refused {
            // Already gone (Triton restarted, or someone unloaded it): nothing of ours is left.
            try context.audit(AuditEntry("unload", target(record), failures == .ignore ? .failed(error.message) : .notLoaded(error.message)))
        }
        return [.normal(.unloaded, action: "Unload", "unloaded \(record.model) from \(record.url)" + (reason.map { ": \($0)" } ?? ""))]
    }

    func target(_ record: ModelDeployment.TritonRecord) -> String { target(record.url, record.model) }
    func target(_ url: String, _ model: String) -> String { "\(url)#\(model)" }

    /// A load that failed, and what was noted on the way (a config learned by loading).
    struct LoadFailure: Error {
        var failure: RolloutFailure
        var notes: [RolloutNote] = []
    }

    /// Loads exactly `versions` (uploading their files when the spec names a local directory),
    /// waits until each is ready, audits the outcome, and returns the model's rows afterwards.
    /// Throws `LoadFailure` when Triton refuses or the deadline passes.
    private func load(
        _ desired: TritonDesired, versions: [Int], observed: [TritonModelState], context: ActionContext, rollback: Bool = false
    ) async throws -> ([TritonModelState], [RolloutNote]) {
        let backend = triton(desired.url)
        let md = context.deployment
        let upload = md.spec.model.uri.map(Self.localDirectory)
        let target = target(desired.url, desired.model)
        var detail: JSONValue = ["versions": .array(versions.map { .int(Int64($0)) })]
        if rollback { detail["rollback"] = true }
        var notes: [RolloutNote] = []
        do {
            let files = try upload.map { directory throws(TritonError) in try Self.modelFiles(in: directory, versions: versions) } ?? [:]
            let config = try await self.config(
                backend, desired: desired, observed: observed, versions: versions, upload: upload, context: context, notes: &notes)
            try await deadlines.run(within: context.progressDeadline) { try await backend.load(desired.model, config: config, files: files) }
            // A version counts as serving once Triton says it is ready, not when the load returns.
            for version in versions where try await !backend.isReady(desired.model, version: String(version)) {
                throw TritonError(.refused, "version \(version) is not ready after loading")
            }
        } catch let exceeded as DeadlineExceeded {
            try context.audit(AuditEntry("load", target, detail: detail, .failed("did not finish within \(exceeded.after)")))
            throw LoadFailure(
                failure: RolloutFailure(
                    .progressDeadlineExceeded, "version \(desired.version) did not become ready within progressDeadlineSeconds (\(exceeded.after))"),
                notes: notes)
        } catch let error as TritonError where error.kind == .refused {
            try context.audit(AuditEntry("load", target, detail: detail, .failed(error.message)))
            throw LoadFailure(failure: RolloutFailure(.loadFailed, Self.loadFailure(desired, versions: versions, error.message)), notes: notes)
        }
        let rows = Self.afterLoad(observed, model: desired.model, versions: versions)
        indexes.update(desired.url, model: desired.model, rows: rows)
        try context.audit(AuditEntry("load", target, detail: detail, .ok))
        return (rows, notes)
    }

    /// What a refused load says. Triton's answer for a version its repository does not hold ("at
    /// least one version must be available under the version policy") names no version: say which.
    static func loadFailure(_ desired: TritonDesired, versions: [Int], _ message: String) -> String {
        if message.contains("at least one version must be available under the version policy") {
            let wanted = versions.map(String.init).joined(separator: ", ")
            return "version \(wanted) of \(desired.model) is not in Triton's model repository at \(desired.url) (Triton: \(message))"
        }
        return "version \(desired.version) failed to load: \(message)"
    }

    /// Sends the spec's smoke inference to the desired version; returns why it failed, or nil.
    private func smokeTest(_ desired: TritonDesired, version: Int, _ context: ActionContext) async throws -> String? {
        guard let request = context.deployment.spec.rollout?.smokeInference else { return nil }
        let backend = triton(desired.url)
        let deadline = context.progressDeadline
        var problem: String?
        do {
            try await deadlines.run(within: deadline) { _ = try await backend.infer(desired.model, version: String(version), request: request) }
        } catch let error as TritonError where error.kind == .refused {
            problem = "version \(version) failed the smoke inference: \(error.message)"
        } catch is DeadlineExceeded {
            problem = "version \(version) did not answer the smoke inference within progressDeadlineSeconds (\(deadline.components.seconds) s)"
        }
        try context.audit(
            AuditEntry("smoke-inference", target(desired.url, desired.model), detail: ["versions": [.int(Int64(version))]], problem.map { .failed($0) } ?? .ok))
        return problem
    }

    /// The config override for a load: the model's configuration as Triton knows it (from the
    /// running model; else from the spec if it is complete; else from the model's own
    /// config.pbtxt when its files are at hand; else, for a repository model, by loading the
    /// repository's own config once and reading it back), the spec's `modelConfig` merged over it,
    /// and a version policy naming exactly `versions`. Triton takes an override as the whole
    /// configuration.
    private func config(
        _ backend: any TritonAPI, desired: TritonDesired, observed: [TritonModelState], versions: [Int], upload: String?, context: ActionContext,
        notes: inout [RolloutNote]
    ) async throws -> JSONValue {
        let model = desired.model
        let given = context.deployment.spec.backend.triton?.modelConfig
        var base: JSONValue
        if observed.contains(where: { $0.state == .ready }) {
            base = try await backend.config(model)
        } else if let given, given["backend"] != nil || given["platform"] != nil {
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
                try context.audit(AuditEntry("load-repository-config", target(desired.url, model), .ok))
                let loaded = (try? await backend.loadedVersions(model)) ?? []
                notes.append(
                    .normal(
                        .learnedConfig, action: "Load",
                        "loaded \(model) with the repository's own configuration to learn it (versions \(loaded.isEmpty ? "none" : loaded.joined(separator: ", ")) came up), then pinned the wanted ones; give spec.backend.triton.modelConfig with backend or platform to skip this"
                    ))
            } catch let error as TritonError where error.kind == .refused {
                try context.audit(AuditEntry("load-repository-config", target(desired.url, model), .failed(error.message)))
                throw TritonError(
                    .refused, status: error.status,
                    "cannot learn \(model)'s configuration: loading the repository's own config failed (\(error.message)); give the full config in spec.backend.triton.modelConfig"
                )
            }
            base = try await backend.config(model)
        }
        base["version_policy"] = nil
        var config = given.map { applyMergePatch($0, to: base) } ?? base
        config["name"] = .string(model)
        config["version_policy"] = ["specific": ["versions": .array(versions.map { .int(Int64($0)) })]]
        return config
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
}
