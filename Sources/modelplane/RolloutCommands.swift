import ArgumentParser
import Controller
import Foundation
import HTTPClient
import KubeClient
import Manifests
import ModelplaneAPI
import Rollout

/// `modelplane history NAME`: the deployment's revisions.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a ModelDeployment's revisions.", discussion: "What `modelplane rollback --to-revision` takes.")

    @Argument(help: "The ModelDeployment's name.")
    var name: String

    @Option(name: .shortAndLong, help: "Namespace (default: the kubeconfig context's).")
    var namespace: String?

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let kube = try connection.client()
        let md: ModelDeployment
        do {
            md = try await kube.get(ModelDeployment.self, name: name, namespace: namespace ?? kube.configuration.namespace)
        } catch {
            throw CLIError(error.forUser(about: name))
        }
        let rows = Revisions.rows(md.status)
        if rows.isEmpty {
            FileHandle.standardError.write(Data("No revisions yet: the controller has not seen modeldeployment.modelplane.dev/\(name).\n".utf8))
            return
        }
        print(aligned([["REVISION", "VERSION", "HASH", "CREATED", "CAUSE"]] + rows), terminator: "")
    }
}

/// `modelplane rollback NAME [--to-revision N]`.
struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an earlier revision the desired one.",
        discussion: Help.text(
            """
            Restores the revision's model and backend in the spec (recorded as a new revision whose cause
            says so). Without --to-revision, goes back to the revision before the current one.
            A deployment synced from Git is overwritten by the next sync unless its sync is paused.
            """))

    @Argument(help: "The ModelDeployment's name.")
    var name: String

    @Option(help: "The revision to go back to (see `modelplane history`).")
    var toRevision: Int64?

    @Option(name: .shortAndLong, help: "Namespace (default: the kubeconfig context's).")
    var namespace: String?

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let kube = try connection.client()
        let namespace = namespace ?? kube.configuration.namespace
        for _ in 0..<5 {
            var md: ModelDeployment
            do {
                md = try await kube.get(ModelDeployment.self, name: name, namespace: namespace)
            } catch {
                throw CLIError(error.forUser(about: name))
            }
            let target: ModelDeployment.Revision
            do {
                switch try RollbackPlan.select(md, toRevision: toRevision) {
                case .alreadyThere(let revision):
                    print("modeldeployment.modelplane.dev/\(name) already at revision \(revision.revision)'s spec; nothing to do")
                    return
                case .rollBack(let rolled, let revision):
                    md = rolled
                    target = revision
                }
            } catch {
                throw CLIError(error.description)
            }
            do {
                _ = try await kube.update(md)
            } catch  where error.isConflict {
                continue
            } catch {
                throw CLIError(error.forUser)
            }
            print("modeldeployment.modelplane.dev/\(name) rolled back to revision \(target.revision) (version \(target.version))")
            if let commit = md.metadata.annotations?[ModelDeployment.gitCommitAnnotation],
                !md.isSyncPaused
            {
                FileHandle.standardError.write(
                    Data(
                        """
                        warning: \(name) is synced from Git (commit \(commit)); the next sync restores the spec in Git unless you revert there, or pause its sync:
                          kubectl annotate md \(name) \(ModelDeployment.syncPausedAnnotation)=true   (see docs/gitops.md)

                        """.utf8))
            }
            return
        }
        throw CLIError("modeldeployment.modelplane.dev/\(name) kept changing; try again")
    }
}

/// `modelplane diff -f FILE`: what applying would change, and what the backend would be asked
/// to do, without doing it.
struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what applying manifests would change.",
        discussion: Help.text(
            """
            In the API and on the backends, without acting. Exit 0 when nothing would change, 2 when something would, \
            1 on errors (like `terraform plan -detailed-exitcode`).
            """))

    @OptionGroup var manifests: ManifestOptions

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let set = try manifests.read()
        let kube = try connection.client()
        let http = HTTPClient()
        defer { http.shutdown() }
        let backends = Backends.standard(http: http, sageMakerAttempts: 3)
        var changes = false
        for located in set.deployments {
            let desired = located.deployment.defaulted()
            let name = desired.metadata.name ?? ""
            var live: ModelDeployment?
            do {
                live = try await kube.get(ModelDeployment.self, name: name, namespace: desired.metadata.namespace)
            } catch  where error.isNotFound {
                live = nil
            } catch {
                throw CLIError(error.forUser)
            }
            var lines: [String] = []
            if let live {
                let before = try JSONValueCoding.encode(live.defaulted().spec)
                let after = try JSONValueCoding.encode(desired.spec)
                lines += Self.fieldChanges(before, after, path: "spec")
                if (live.metadata.labels ?? [:]) != (desired.metadata.labels ?? [:]) { lines.append("~ metadata.labels") }
            } else {
                lines.append("+ create")
            }
            let plan = await Self.plan(desired, live: live, backends: backends)
            lines += plan.lines
            let changing = live == nil || lines.contains { $0.hasPrefix("~") || $0.hasPrefix("+") || $0.hasPrefix("-") } || plan.changesBackend
            changes = changes || changing
            print("modeldeployment.modelplane.dev/\(name) (\(desired.metadata.namespace ?? "default")): \(changing ? "would change" : "no changes")")
            for line in lines { print("  \(line)") }
        }
        throw ExitCode(changes ? 2 : 0)
    }

    /// Leaf-level differences between two JSON documents, as `~ path: old -> new`.
    static func fieldChanges(_ before: JSONValue?, _ after: JSONValue?, path: String) -> [String] {
        if case .object(let old)? = before, case .object(let new)? = after {
            return Set(old.keys).union(new.keys).sorted().flatMap { fieldChanges(old[$0], new[$0], path: "\(path).\($0)") }
        }
        guard before != after else { return [] }
        switch (before, after) {
        case (nil, let new?): return ["+ \(path): \(new.canonicalText)"]
        case (let old?, nil): return ["- \(path): \(old.canonicalText)"]
        default: return ["~ \(path): \(before?.canonicalText ?? "") -> \(after?.canonicalText ?? "")"]
        }
    }

    /// What the controller would ask the backend to do, from what the backend has now: the same
    /// machine and plans as the controller (`PlanPreview`), with the live status (its failure
    /// gate too: a blocked rollout shows as blocked). An action the backend works on by itself
    /// (creating an endpoint) ends the preview, as it ends a reconcile.
    static func plan(_ desired: ModelDeployment, live: ModelDeployment?, backends: BackendRegistry) async -> (lines: [String], changesBackend: Bool) {
        var md = desired
        md.status = live?.status
        // The generation the API server would give the spec: the live one when it is unchanged.
        let generation = live?.metadata.generation ?? 0
        md.metadata.generation = live.map { $0.defaulted().spec == desired.spec ? generation : generation + 1 } ?? 1
        guard let backend = backends.select(md) else { return ([], false) }
        return await preview(backend, md)
    }

    private static func preview<B: ServingBackend>(_ backend: B, _ md: ModelDeployment) async -> (lines: [String], changesBackend: Bool) {
        guard let desired = B.desired(md) else { return ([], false) }
        let observation: B.Observation
        do {
            observation = try await backend.observe(desired, record: md.status.flatMap(B.record(in:)), deployment: md)
        } catch {
            return (["\(B.id): cannot observe (\(error.message)); no plan"], false)
        }
        let preview = PlanPreview<B>(deployment: md, desired: desired, observation: observation, now: Date())
        return (preview.lines, preview.changesBackend)
    }
}
