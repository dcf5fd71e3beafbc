import AWS
import ArgumentParser
import Controller
import Foundation
import HTTPClient
import KubeClient
import Manifests
import ModelplaneAPI
import Triton

/// `modelplane history NAME`: the deployment's revisions.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a ModelDeployment's revisions (what `rollback --to-revision` takes).")

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
        let revisions = md.status?.revisions ?? []
        if revisions.isEmpty {
            FileHandle.standardError.write(Data("No revisions yet: the controller has not seen modeldeployment.modelplane.dev/\(name).\n".utf8))
            return
        }
        let serving = md.status?.currentRevision
        let rows =
            [["REVISION", "VERSION", "HASH", "CREATED", "CAUSE"]]
            + revisions.map { revision in
                [
                    "\(revision.revision)\(String(revision.revision) == serving ? " (serving)" : "")", revision.version, revision.hash, revision.createdAt,
                    revision.cause,
                ]
            }
        print(aligned(rows), terminator: "")
    }
}

/// `modelplane rollback NAME [--to-revision N]`.
struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an earlier revision the desired one.",
        discussion: """
            Restores the revision's model and backend in the spec (recorded as a new revision whose cause
            says so). Without --to-revision, goes back to the revision before the current one.
            A deployment synced from Git is overwritten by the next sync unless its sync is paused.
            """)

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
            let revisions = md.status?.revisions ?? []
            let current = md.spec.revisionHash
            let target: ModelDeployment.Revision
            if let toRevision {
                guard let found = revisions.first(where: { $0.revision == toRevision }) else {
                    throw CLIError(
                        "modeldeployment.modelplane.dev/\(name) has no revision \(toRevision); it has \(revisions.map { String($0.revision) }.joined(separator: ", "))"
                    )
                }
                target = found
            } else {
                guard let previous = revisions.last(where: { $0.hash != current }) else {
                    throw CLIError("modeldeployment.modelplane.dev/\(name) has no earlier revision to go back to")
                }
                target = previous
            }
            if target.hash == current {
                print("modeldeployment.modelplane.dev/\(name) already at revision \(target.revision)'s spec; nothing to do")
                return
            }
            struct Serving: Decodable {
                var model: ModelDeployment.Model
                var backend: ModelDeployment.Backend
            }
            guard let serving = try? JSONValueCoding.decode(Serving.self, from: target.spec) else {
                throw CLIError("revision \(target.revision) of \(name) cannot be read back; edit the spec instead")
            }
            md.spec.model = serving.model
            md.spec.backend = serving.backend
            var annotations = md.metadata.annotations ?? [:]
            annotations[ModelDeployment.changeCauseAnnotation] = "rollback to revision \(target.revision)"
            annotations[ModelDeployment.changeCauseHashAnnotation] = target.hash
            md.metadata.annotations = annotations
            do {
                _ = try await kube.update(md)
            } catch  where error.isConflict {
                continue
            } catch {
                throw CLIError(error.forUser)
            }
            print("modeldeployment.modelplane.dev/\(name) rolled back to revision \(target.revision) (version \(target.version))")
            if let commit = md.metadata.annotations?[ModelDeployment.gitCommitAnnotation],
                md.metadata.annotations?[ModelDeployment.syncPausedAnnotation] != "true"
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
        abstract: "Show what applying manifests would change, in the API and on the backends, without acting.",
        discussion: "Exit 0 when nothing would change, 2 when something would, 1 on errors (like `terraform plan -detailed-exitcode`).")

    @OptionGroup var manifests: ManifestOptions

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let set = try manifests.read()
        let kube = try connection.client()
        let http = HTTPClient()
        defer { http.shutdown() }
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
            if let triton = desired.spec.backend.triton {
                lines += await Self.tritonPlan(desired, triton: triton, live: live, http: http)
            } else if let sagemaker = desired.spec.backend.sagemaker {
                lines += await Self.sageMakerPlan(desired, spec: sagemaker, live: live, http: http)
            }
            let quiet = ["sagemaker: nothing", "sagemaker: cannot", "sagemaker: wait", "sagemaker: none"]
            let changing = lines.contains { line in
                line.hasPrefix("+") || line.hasPrefix("~") || line.hasPrefix("-") || line.hasPrefix("triton: load") || line.hasPrefix("triton: unload")
                    || line.hasPrefix("sagemaker: ") && !quiet.contains { line.hasPrefix($0) }
            }
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

    /// The SageMaker calls the controller would make, from what SageMaker has now: the steps that
    /// finish at once are followed through; a step SageMaker works on (creating, updating) ends
    /// the plan, as it ends a reconcile.
    static func sageMakerPlan(_ md: ModelDeployment, spec: ModelDeployment.SageMaker, live: ModelDeployment?, http: HTTPClient) async -> [String] {
        let client = SageMakerClient(
            region: spec.region, endpoint: spec.endpointURL, credentials: DefaultAWSCredentialsProvider(http: http), http: http, maxAttempts: 3)
        let endpoint = SageMakerResources.endpointName(md)
        let name = SageMakerResources.name(md)
        var observed: SageMakerObservation
        do {
            observed = try await client.observe(endpoint: endpoint, model: name, config: name)
        } catch {
            return ["sagemaker: cannot observe endpoint \(endpoint) in \(spec.region) (\(error)); no plan"]
        }
        var record = live?.status?.sagemaker?.resources ?? []
        var lines: [String] = []
        for _ in 0..<8 {
            let step = SageMakerPlanner.next(
                SageMakerPlanInput(
                    endpoint: endpoint, name: name, instanceCount: spec.initialInstanceCount ?? ModelDeployment.Defaults.initialInstanceCount,
                    observed: observed,
                    obsolete: SageMakerResources.obsolete(
                        record, desired: name, serving: observed.endpointConfigName, pending: live?.status?.sagemaker?.pendingConfig,
                        historyLimit: md.spec.revisionHistoryLimit)))
            switch step {
            case .converged:
                if lines.isEmpty { lines.append("sagemaker: nothing to do: version \(md.spec.model.version) serves on endpoint \(endpoint)") }
                return lines
            case .createModel:
                observed.modelExists = true
            case .createEndpointConfig:
                observed.configExists = true
            case .deleteResources(let old):
                record.removeAll { $0.name == old }
            case .wait(let status):
                lines.append("sagemaker: wait: endpoint \(endpoint) is \(status); the plan continues when SageMaker is done")
                return lines
            case .failed, .blocked:
                lines.append("sagemaker: \(step)")
                return lines
            case .createEndpoint, .updateEndpoint, .updateCapacity, .deleteEndpoint:
                lines.append("sagemaker: \(step)")
                if case .updateEndpoint = step, let deployment = SageMakerResources.deploymentConfig(md) {
                    lines.append("  with DeploymentConfig \(deployment.canonicalText)")
                }
                return lines
            }
            lines.append("sagemaker: \(step)")
        }
        return lines
    }

    /// The steps the controller would take on Triton, from what Triton runs now.
    static func tritonPlan(_ md: ModelDeployment, triton: ModelDeployment.Triton, live: ModelDeployment?, http: HTTPClient) async -> [String] {
        let client = TritonClient(baseURL: triton.url, http: http, timeout: .seconds(10))
        var observed: [TritonModelState]
        do {
            observed = try await client.rows(of: md.spec.model.name, in: try await client.index())
        } catch {
            return ["triton: cannot observe \(triton.url) (\(error)); no plan"]
        }
        var record = live?.status?.triton
        var lines: [String] = []
        var smokeTestPending = md.spec.rollout?.smokeInference != nil
        for _ in 0..<5 {
            let input = TritonPlanInput(
                url: triton.url, model: md.spec.model.name, version: Int(md.spec.model.version) ?? 0,
                strategy: md.spec.rollout?.strategy ?? ModelDeployment.Defaults.strategy, observed: observed, record: record,
                smokeTestPending: smokeTestPending)
            switch TritonPlanner.next(input) {
            case .converged:
                if lines.isEmpty { lines.append("triton: \(md.spec.model.name) version \(md.spec.model.version) already serving on \(triton.url)") }
                return lines
            case .adopt:
                lines.append("triton: adopt \(md.spec.model.name) version \(md.spec.model.version), already serving (no load)")
                record = .init(url: triton.url, model: md.spec.model.name)
            case .load(let url, let model, let versions):
                let unloading = Set(observed.filter { $0.state == .ready }.compactMap { $0.version.flatMap(Int.init) }).subtracting(versions).sorted()
                lines.append(
                    "triton: load \(model) versions \(versions.map(String.init).joined(separator: ", ")) on \(url)"
                        + (unloading.isEmpty ? "" : " (unloads \(unloading.map(String.init).joined(separator: ", ")))"))
                observed = versions.map { TritonModelState(name: model, version: String($0), state: .ready) }
                if record == nil { record = .init(url: url, model: model) }
                if smokeTestPending, !input.ready.contains(input.version) {
                    smokeTestPending = false
                    lines.append("triton: smoke inference on version \(input.version) (if it fails: back to what serves now)")
                }
            case .smokeTest(let version):
                smokeTestPending = false
                lines.append("triton: smoke inference on version \(version) (if it fails: back to what serves now)")
            case .unload(let old):
                lines.append("triton: unload \(old.model) from \(old.url)")
                record = nil
            case .blocked(let reason):
                lines.append("triton: waiting: \(reason)")
                return lines
            }
        }
        return lines
    }
}
