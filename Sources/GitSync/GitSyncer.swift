import Foundation
public import KubeClient
public import Logging
import Manifests
import Metrics
import ModelplaneAPI

/// What one sync did.
public struct SyncReport: Sendable, CustomStringConvertible {
    /// The commit read, when the fetch worked.
    public var commit: String?
    /// False when nothing was applied: the fetch failed or a manifest is invalid.
    public var applied = false
    public var created: [String] = []
    public var configured: [String] = []
    public var unchanged = 0
    public var pruned: [String] = []
    /// Objects left alone because their sync is paused.
    public var paused: [String] = []
    /// Problems in the commit's manifests (`FILE:LINE:COLUMN: FIELD: message`); nothing was applied.
    public var problems: [String] = []
    /// Failures: the fetch, or single objects that could not be applied or pruned.
    public var errors: [String] = []

    public var succeeded: Bool { applied && errors.isEmpty }

    public var description: String {
        let short = commit.map { String($0.prefix(12)) } ?? "(none)"
        if !problems.isEmpty {
            return
                "commit \(short) has \(problems.count) invalid manifest problem\(problems.count == 1 ? "" : "s"); nothing applied, the last good commit stays in force"
        }
        if !applied { return "sync failed: \(errors.joined(separator: "; "))" }
        var parts = ["\(created.count) created", "\(configured.count) configured", "\(unchanged) unchanged", "\(pruned.count) pruned"]
        if !paused.isEmpty { parts.append("\(paused.count) paused") }
        if !errors.isEmpty { parts.append("\(errors.count) failed") }
        return "commit \(short): " + parts.joined(separator: ", ")
    }
}

/// Makes the API hold exactly the ModelDeployments a Git branch holds under a path, like Argo CD
/// and Flux: fetch, read every manifest strictly, then create, update and prune. A commit with
/// any invalid manifest applies nothing. Only objects labelled with this source's id are updated
/// or pruned; others with the same name are reported and left alone.
public final class GitSyncer: Sendable {
    public let source: GitSource
    let mirror: GitMirror
    let client: KubernetesClient
    let events: EventRecorder?
    let logger: Logger
    /// Creates, updates and deletes in flight at once.
    let concurrency: Int

    /// `workDirectory` keeps the mirror between syncs (and restarts).
    public init(
        source: GitSource, workDirectory: String, client: KubernetesClient, events: EventRecorder?, logger: Logger = Logger(label: "modelplane.sync"),
        concurrency: Int = 8
    ) throws(GitError) {
        self.source = source
        self.mirror = try GitMirror(source: source, directory: workDirectory + "/" + source.id + ".git")
        self.client = client
        self.events = events
        self.logger = logger
        self.concurrency = concurrency
    }

    /// What events about the sync itself (not about one deployment) are recorded against.
    var reference: ObjectReference {
        ObjectReference(apiVersion: ModelDeployment.apiVersion, kind: "GitSync", namespace: ModelDeployment.Defaults.namespace, name: "sync-\(source.id)")
    }

    /// Syncs until cancelled: every `interval`, and sooner after a failed fetch (backing off with
    /// jitter from 1 s up to the interval), keeping the last good state meanwhile.
    public func run(interval: Duration) async {
        var backoff = Backoff(initial: .seconds(1), maximum: interval)
        while !Task.isCancelled {
            let report = await sync()
            let delay: Duration
            if report.applied || !report.problems.isEmpty {
                backoff.reset()
                delay = interval
            } else {
                delay = backoff.next()
            }
            try? await Task.sleep(for: delay)
        }
    }

    /// One sync: fetch, read, apply, prune.
    public func sync() async -> SyncReport {
        let report = await syncOnce()
        let result = report.succeeded ? "applied" : !report.problems.isEmpty ? "invalid_commit" : report.applied ? "partly_applied" : "failed"
        Counter(label: "modelplane_git_sync_total", dimensions: [("result", result)]).increment()
        return report
    }

    private func syncOnce() async -> SyncReport {
        var report = SyncReport()
        let commit: String
        let set: ManifestSet
        do {
            commit = try await mirror.fetch()
            report.commit = commit
            set = try await read(commit)
        } catch {
            report.errors.append(error.description)
            logger.warning("git sync failed; keeping what is applied", metadata: ["source": "\(source.description)", "error": "\(error)"])
            await events?.record(regarding: reference, type: .warning, reason: "SyncFailed", action: "Fetch", note: error.description)
            return report
        }
        guard set.problems.isEmpty else {
            report.problems = set.problems.map(\.description)
            logger.error(
                "commit has invalid manifests; nothing applied",
                metadata: ["commit": "\(commit)", "source": "\(source.description)", "problems": "\(report.problems.joined(separator: "\n"))"])
            let listed = report.problems.prefix(5).joined(separator: "\n") + (report.problems.count > 5 ? "\n…" : "")
            await events?.record(
                regarding: reference, type: .warning, reason: "InvalidCommit", action: "Sync",
                note: "commit \(commit) not applied (\(report.problems.count) problems):\n\(listed)")
            return report
        }
        await apply(set.deployments.map(\.deployment), commit: commit, into: &report)
        report.applied = true
        logger.info("git sync", metadata: ["source": "\(source.description)", "result": "\(report)"])
        if !report.created.isEmpty || !report.configured.isEmpty || !report.pruned.isEmpty || !report.errors.isEmpty {
            await events?.record(
                regarding: reference, type: report.errors.isEmpty ? .normal : .warning, reason: report.errors.isEmpty ? "Synced" : "SyncFailed",
                action: "Sync", note: "\(report)" + (report.errors.isEmpty ? "" : ": " + report.errors.prefix(5).joined(separator: "; ")))
        }
        return report
    }

    /// Every manifest under the path at `commit`, read as `modelplane validate` reads files.
    func read(_ commit: String) async throws(GitError) -> ManifestSet {
        let reader = ManifestReader()
        var set = ManifestSet()
        var readable: [GitMirror.Entry] = []
        for entry in try await mirror.entries(at: commit) {
            let at = SourceLocation(file: entry.path, line: 0, column: 0)
            if entry.symlink {
                set.problems.append(ManifestProblem(location: at, path: nil, message: "a symbolic link; the sync reads only regular files"))
            } else if entry.size > reader.limits.maxFileBytes {
                set.problems.append(
                    ManifestProblem(
                        location: at, path: nil, message: "larger than the \(reader.limits.maxFileBytes >> 20) MiB limit for one manifest file; split it"))
            } else {
                readable.append(entry)
            }
        }
        let blobs = try await mirror.contents(readable.map(\.object))
        set.merge(reader.read(contents: zip(readable, blobs).map { (file: $0.path, bytes: $1) }))
        set.problems = set.problems.map { problem in
            var problem = problem
            problem.message += " (commit \(commit.prefix(12)))"
            return problem
        }
        return set
    }

    // MARK: - Applying

    private enum Outcome: Sendable {
        case created(String)
        case configured(String)
        case unchanged
        case paused(String)
        case pruned(String)
        case failed(String)
    }

    private func apply(_ deployments: [ModelDeployment], commit: String, into report: inout SyncReport) async {
        let owned: [String: ModelDeployment]
        do {
            let list = try await client.listAll(
                ModelDeployment.self, namespace: nil, options: ListOptions(labelSelector: "\(ModelDeployment.syncLabel)=\(source.id)"))
            owned = Dictionary(list.items.map { (Self.key($0), $0) }, uniquingKeysWith: { first, _ in first })
        } catch {
            report.errors.append("cannot list the deployments this sync applied: \(error)")
            return
        }
        let desired = deployments.map { prepare($0, commit: commit) }
        let wanted = Set(desired.map(Self.key))
        var work: [@Sendable () async -> Outcome] = desired.map { md in { await self.apply(md, live: owned[Self.key(md)]) } }
        for (key, live) in owned.sorted(by: { $0.key < $1.key }) where !wanted.contains(key) {
            work.append { await self.prune(live) }
        }
        for outcome in await Self.run(work, concurrency: concurrency) {
            switch outcome {
            case .created(let key): report.created.append(key)
            case .configured(let key): report.configured.append(key)
            case .unchanged: report.unchanged += 1
            case .paused(let key): report.paused.append(key)
            case .pruned(let key): report.pruned.append(key)
            case .failed(let message): report.errors.append(message)
            }
        }
    }

    /// The manifest as this sync applies it: namespaced, labelled as ours, annotated with the
    /// commit and the source.
    private func prepare(_ manifest: ModelDeployment, commit: String) -> ModelDeployment {
        var md = manifest
        md.metadata.namespace = md.metadata.namespace ?? ModelDeployment.Defaults.namespace
        md.metadata.labels = (md.metadata.labels ?? [:]).merging([ModelDeployment.syncLabel: source.id]) { $1 }
        md.metadata.annotations = (md.metadata.annotations ?? [:]).merging(
            [ModelDeployment.gitCommitAnnotation: commit, ModelDeployment.gitSourceAnnotation: source.description]) { $1 }
        return md
    }

    private func apply(_ desired: ModelDeployment, live known: ModelDeployment?) async -> Outcome {
        let key = Self.key(desired)
        var live = known
        for _ in 0..<3 {
            do {
                guard let current = live else {
                    do {
                        let created = try await client.create(desired)
                        await note(created, "created")
                        return .created(key)
                    } catch  where error.isAlreadyExists {
                        let existing = try await client.get(ModelDeployment.self, name: desired.metadata.name ?? "", namespace: desired.metadata.namespace)
                        guard existing.metadata.labels?[ModelDeployment.syncLabel] == source.id else {
                            return .failed(
                                "modeldeployment \(key) exists and was not created by this sync (no \(ModelDeployment.syncLabel)=\(source.id) label); left alone"
                            )
                        }
                        live = existing
                        continue
                    }
                }
                if Self.isPaused(current) { return .paused(key) }
                guard let updated = Self.update(current, toMatch: desired) else { return .unchanged }
                do {
                    let written = try await client.update(updated)
                    await note(written, "configured")
                    return .configured(key)
                } catch  where error.isConflict {
                    live = try await client.get(ModelDeployment.self, name: desired.metadata.name ?? "", namespace: desired.metadata.namespace)
                }
            } catch  where error.isNotFound {
                live = nil  // deleted meanwhile: create it again
            } catch {
                return .failed("modeldeployment \(key): \(error)")
            }
        }
        return .failed("modeldeployment \(key): kept changing while the sync applied it; next sync retries")
    }

    private func prune(_ live: ModelDeployment) async -> Outcome {
        let key = Self.key(live)
        if Self.isPaused(live) { return .paused(key) }
        do {
            // Only the version we listed: an object changed since is looked at again next sync.
            try await client.delete(
                ModelDeployment.self, name: live.metadata.name ?? "", namespace: live.metadata.namespace,
                options: DeleteOptions(preconditions: .init(uid: live.metadata.uid, resourceVersion: live.metadata.resourceVersion)))
            await events?.record(
                live, type: .normal, reason: "Pruned", action: "Sync", note: "no longer in \(source.description); deleted by the Git sync")
            return .pruned(key)
        } catch  where error.isNotFound {
            return .unchanged
        } catch {
            return .failed("prune modeldeployment \(key): \(error)")
        }
    }

    private func note(_ md: ModelDeployment, _ what: String) async {
        let commit = md.metadata.annotations?[ModelDeployment.gitCommitAnnotation] ?? ""
        await events?.record(md, type: .normal, reason: "Synced", action: "Sync", note: "\(what) from commit \(commit) of \(source.description)")
    }

    /// `live` changed to match `desired` (spec replaced; labels and annotations from Git set over
    /// the live ones, so what the controller or users add is kept), or nil when it already does.
    /// The commit annotation changes only with something else: it names the commit that last
    /// changed the object, so a commit touching one file does not rewrite every object.
    static func update(_ live: ModelDeployment, toMatch desired: ModelDeployment) -> ModelDeployment? {
        var updated = live
        // With the schema's defaults, as the server stores it (else every sync rewrites it).
        updated.spec = desired.withSchemaDefaults().spec
        updated.metadata.labels = (live.metadata.labels ?? [:]).merging(desired.metadata.labels ?? [:]) { $1 }
        var annotations = (live.metadata.annotations ?? [:]).merging(desired.metadata.annotations ?? [:]) { $1 }
        annotations[ModelDeployment.gitCommitAnnotation] = live.metadata.annotations?[ModelDeployment.gitCommitAnnotation]
        updated.metadata.annotations = annotations
        if updated == live { return nil }
        updated.metadata.annotations?[ModelDeployment.gitCommitAnnotation] = desired.metadata.annotations?[ModelDeployment.gitCommitAnnotation]
        return updated
    }

    static func isPaused(_ md: ModelDeployment) -> Bool { md.isSyncPaused }

    static func key(_ md: ModelDeployment) -> String { "\(md.metadata.namespace ?? ModelDeployment.Defaults.namespace)/\(md.metadata.name ?? "")" }

    /// Runs `work` with at most `concurrency` at once; outcomes in no particular order.
    private static func run(_ work: [@Sendable () async -> Outcome], concurrency: Int) async -> [Outcome] {
        await withTaskGroup(of: Outcome.self) { group in
            var outcomes: [Outcome] = []
            var next = work.makeIterator()
            for _ in 0..<max(1, concurrency) {
                guard let job = next.next() else { break }
                group.addTask { await job() }
            }
            while let outcome = await group.next() {
                outcomes.append(outcome)
                if let job = next.next() { group.addTask { await job() } }
            }
            return outcomes
        }
    }
}
