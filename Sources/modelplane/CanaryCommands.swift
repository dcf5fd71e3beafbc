import ArgumentParser
import Foundation
import KubeClient
import ModelplaneAPI
import Rollout

/// What `promote`, `abort`, `pause`, `resume` and `retry` share: the deployment, and the
/// annotation they write. Annotations, not the spec: a Git sync (which replaces the spec and
/// merges annotations) does not undo them. The controller acts on a request once, audits it and
/// removes it; the command waits until it has.
struct CanaryTarget: ParsableArguments {
    @Argument(help: "The ModelDeployment's name.")
    var name: String

    @Option(name: .shortAndLong, help: "Namespace (default: the kubeconfig context's).")
    var namespace: String?

    @Option(help: "Seconds to wait for the controller to act (0: do not wait).")
    var wait: Int = 30

    @OptionGroup var connection: ConnectionOptions

    var resource: String { "modeldeployment.modelplane.dev/\(name)" }

    func get(_ kube: KubernetesClient) async throws -> ModelDeployment {
        do {
            return try await kube.get(ModelDeployment.self, name: name, namespace: namespace ?? kube.configuration.namespace)
        } catch {
            throw CLIError(error.forUser(about: name))
        }
    }

    /// The canary in progress, or an error saying there is none.
    func canary(_ md: ModelDeployment) throws -> ModelDeployment.CanaryStatus {
        guard let canary = md.status?.canary else {
            let serving = md.status?.servingVersion.map { ", version \($0) serves alone" } ?? ""
            let strategy = md.spec.rollout?.strategy ?? ModelDeployment.Defaults.strategy
            let hint = strategy == .canary ? "" : " (its rollout.strategy is \(strategy.rawValue))"
            throw CLIError("\(resource) has no canary in progress\(serving)\(hint)")
        }
        return canary
    }

    /// Sets (or, nil, removes) one annotation with a merge patch.
    func annotate(_ kube: KubernetesClient, _ key: String, _ value: String?) async throws -> ModelDeployment {
        do {
            return try await kube.patch(
                ModelDeployment.self, name: name, namespace: namespace ?? kube.configuration.namespace,
                .merge(["metadata": ["annotations": [key: value.map(JSONValue.string) ?? .null]]]))
        } catch {
            throw CLIError(error.forUser(about: name))
        }
    }

    /// Writes the request and waits until the controller has acted on it; returns the deployment
    /// as it then is.
    func request(_ kube: KubernetesClient, _ action: RolloutRequest.Action) async throws -> ModelDeployment {
        let request = RolloutRequest(action, id: String(UUID().uuidString.prefix(8)).lowercased())
        var md = try await annotate(kube, ModelDeployment.rolloutRequestAnnotation, request.annotation)
        let before = md.status?.canary
        guard wait > 0 else { return md }
        let deadline = ContinuousClock.now + .seconds(wait)
        while ContinuousClock.now < deadline {
            if md.status?.canary?.lastRequest == request.id {
                if let refused = md.status?.canary?.lastRequestRefused { throw CLIError("\(resource): \(action.rawValue) refused: \(refused)") }
                return md
            }
            if md.metadata.annotations?[ModelDeployment.rolloutRequestAnnotation] != request.annotation {
                // Taken, and the canary is gone: promoted to the end (it serves now), or it ended
                // otherwise meanwhile and the request found nothing to apply to.
                if md.status?.canary == nil, md.status?.servingVersion != before?.canaryVersion {
                    throw CLIError("\(resource): \(action.rawValue) not applied: no canary is in progress")
                }
                return md
            }
            try await Task.sleep(for: .milliseconds(200))
            md = try await get(kube)
        }
        throw CLIError(
            "\(resource): asked to \(action.rawValue), and the controller has not acted on it within \(wait)s (is `modelplane serve` or the controller running?); the request stays until it does"
        )
    }

    /// One line: where the canary is now.
    static func summary(_ md: ModelDeployment) -> String {
        guard let c = md.status?.canary else {
            return md.status?.servingVersion.map { "version \($0) serves alone" } ?? "nothing serves yet"
        }
        let steps = md.spec.rollout?.plannedCanary?.steps.count ?? 0
        switch c.phase {
        case .aborted: return "aborted: stable \(c.stableVersion) takes every request"
        case .loading: return "canary \(c.canaryVersion) loading beside stable \(c.stableVersion)"
        case .progressing, .paused: return CanaryProgress.split(c, steps: steps, note: c.phase == .paused ? "paused" : nil)
        }
    }
}

/// `modelplane promote NAME [--full]`.
struct Promote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a canary past its pause, or to the end.",
        discussion: Help.text(
            """
            Without --full, ends the pause step the canary waits at (timed or not). With --full, skips \
            every remaining step: the canary takes every request and the stable version unloads. \
            Recorded in the audit trail; a Git sync does not undo it.
            """))

    @OptionGroup var target: CanaryTarget

    @Flag(help: "Skip every remaining step.")
    var full = false

    func run() async throws {
        let kube = try target.connection.client()
        let canary = try target.canary(try await target.get(kube))
        if canary.phase == .aborted {
            throw CLIError("\(target.resource): the canary of version \(canary.canaryVersion) was aborted; `modelplane retry \(target.name)` starts it again")
        }
        let md = try await target.request(kube, full ? .promoteFull : .promote)
        print("\(target.resource) promoted: \(CanaryTarget.summary(md))")
    }
}

/// `modelplane abort NAME`.
struct Abort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop a canary; the stable version serves.",
        discussion: Help.text(
            """
            The canary version unloads; status says Aborted until the spec changes or `modelplane retry`. \
            Recorded in the audit trail; a Git sync does not undo it.
            """))

    @OptionGroup var target: CanaryTarget

    func run() async throws {
        let kube = try target.connection.client()
        let canary = try target.canary(try await target.get(kube))
        if canary.phase == .aborted { throw CLIError("\(target.resource): the canary of version \(canary.canaryVersion) is already aborted") }
        let md = try await target.request(kube, .abort)
        print("\(target.resource) aborted: \(CanaryTarget.summary(md))")
    }
}

/// `modelplane retry NAME`.
struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start an aborted canary again.")

    @OptionGroup var target: CanaryTarget

    func run() async throws {
        let kube = try target.connection.client()
        let canary = try target.canary(try await target.get(kube))
        if canary.phase != .aborted {
            throw CLIError("\(target.resource): the canary of version \(canary.canaryVersion) is not aborted (\(canary.phase.rawValue))")
        }
        let md = try await target.request(kube, .retry)
        print("\(target.resource) retried: \(CanaryTarget.summary(md))")
    }
}

/// `modelplane pause NAME`.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Hold a canary where it is.",
        discussion: Help.text(
            """
            Sets the modelplane.dev/rollout-paused annotation: the weights stay, timed pauses do not end. \
            A Git sync does not undo it.
            """))

    @OptionGroup var target: CanaryTarget

    func run() async throws {
        let kube = try target.connection.client()
        _ = try target.canary(try await target.get(kube))
        _ = try await target.annotate(kube, ModelDeployment.rolloutPausedAnnotation, "true")
        print("\(target.resource) paused")
    }
}

/// `modelplane resume NAME`.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let a paused canary go on.",
        discussion: Help.text(
            """
            Removes the modelplane.dev/rollout-paused annotation. A pause step without a duration still \
            waits for `modelplane promote`.
            """))

    @OptionGroup var target: CanaryTarget

    func run() async throws {
        let kube = try target.connection.client()
        let md = try await target.get(kube)
        guard md.metadata.annotations?[ModelDeployment.rolloutPausedAnnotation] != nil else {
            throw CLIError("\(target.resource) is not paused")
        }
        _ = try await target.annotate(kube, ModelDeployment.rolloutPausedAnnotation, nil)
        print("\(target.resource) resumed")
    }
}
