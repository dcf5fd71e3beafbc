import ArgumentParser
import Foundation
import KubeClient
import ModelplaneAPI
import Rollout

/// `modelplane rollout …`: commands about one rollout.
struct RolloutGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout", abstract: "Follow a rollout.", subcommands: [RolloutStatusCommand.self])
}

/// `modelplane rollout status NAME [--watch]`: where a rollout is (steps, weights, each metric's
/// last value against its threshold, why it waits), in the spirit of
/// `kubectl argo rollouts get rollout`; with `--watch`, anew on every change until the rollout
/// ends, and an exit status a CI pipeline can wait on, as `kubectl rollout status`.
struct RolloutStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show where a rollout is; with --watch, follow it until it ends.",
        discussion: Help.text(
            """
            Exit status: 0 when the rollout is complete (the spec's version serves alone, Ready); 1 when it was aborted or failed (Degraded: a canary aborted by a person or its analysis, a version that would not load, a deadline passed); 3 while it is still in progress or paused (without --watch, or when --timeout passes).
            """))

    @Argument(help: "The ModelDeployment's name.")
    var name: String

    @Option(name: .shortAndLong, help: "Namespace (default: the kubeconfig context's).")
    var namespace: String?

    @Flag(name: .shortAndLong, help: "Show it anew on every change until the rollout completes or is aborted.")
    var watch = false

    @Option(help: "With --watch, give up after this long (as 30s, 10m; default: never).")
    var timeout: String?

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let timeout { _ = try DurationArgument.parse(timeout, "--timeout") }
        if timeout != nil, !watch { throw ValidationError("--timeout needs --watch") }
    }

    /// How a rollout stands, for the exit status.
    enum Outcome: Int32 {
        case complete = 0
        case aborted = 1
        case inProgress = 3
    }

    func run() async throws {
        let kube = try connection.client()
        let namespace = namespace ?? kube.configuration.namespace
        let md: ModelDeployment
        do {
            md = try await kube.get(ModelDeployment.self, name: name, namespace: namespace)
        } catch {
            throw CLIError(error.forUser(about: name))
        }
        guard watch else {
            print(Self.render(md), terminator: "")
            throw ExitCode(Self.outcome(md).rawValue)
        }
        let deadline = try timeout.map { ContinuousClock.now + (try DurationArgument.parse($0, "--timeout")) }
        let terminal = isatty(STDOUT_FILENO) == 1
        var shown = ""
        func show(_ md: ModelDeployment) {
            let view = Self.render(md)
            guard view != shown else { return }
            shown = view
            // A terminal shows the latest view in place; a pipe or file gets each one in turn.
            print(terminal ? "\u{1B}[H\u{1B}[2J" + view : view + "\n", terminator: "")
            fflush(nil)
        }
        show(md)
        if Self.outcome(md) != .inProgress { throw ExitCode(Self.outcome(md).rawValue) }
        if let deadline, let timeout {
            // Given up: the view shown is the last word, and the status says still in progress.
            Task.detached {
                try? await Task.sleep(until: deadline)
                FileHandle.standardError.write(Data("the rollout is still in progress after \(timeout)\n".utf8))
                Modelplane.terminate(Outcome.inProgress.rawValue)
            }
        }
        let reflector = Reflector<ModelDeployment>(client: kube, namespace: namespace, fieldSelector: "metadata.name=\(name)")
        for await event in reflector.events() {
            let current: ModelDeployment?
            switch event {
            case .replaced(let items, _): current = items.first
            case .added(let md), .modified(let md): current = md
            case .deleted:
                FileHandle.standardError.write(Data("modeldeployment.modelplane.dev/\(name) was deleted\n".utf8))
                throw ExitCode(Outcome.aborted.rawValue)
            case .failed(let error, let delay):
                FileHandle.standardError.write(Data("warning: \(error.forUser); retrying in \(delay)\n".utf8))
                current = nil
            }
            guard let current else { continue }
            show(current)
            let outcome = Self.outcome(current)
            if outcome != .inProgress { throw ExitCode(outcome.rawValue) }
        }
        throw ExitCode(Outcome.inProgress.rawValue)
    }

    // MARK: - What it says

    static func outcome(_ md: ModelDeployment) -> Outcome {
        guard let status = md.status, status.observedGeneration == md.metadata.generation else { return .inProgress }
        if status.canary?.phase == .aborted { return .aborted }
        if status.canary != nil { return .inProgress }
        if status.phase == .failed { return .aborted }
        if status.phase == .degraded, let reason = status.conditions?[.degraded]?.reason,
            let known = RolloutReason(rawValue: reason), known.gatesRetry || known == .progressDeadlineExceeded || known == .canaryAborted
        {
            return .aborted
        }
        if status.phase == .ready, status.servingVersion == md.spec.model.version { return .complete }
        return .inProgress
    }

    static func render(_ md: ModelDeployment) -> String {
        let status = md.status
        let steps = md.spec.rollout?.plannedCanary?.steps ?? []
        let strategy = md.spec.rollout?.strategy ?? ModelDeployment.Defaults.strategy
        var lines: [(String, String)] = [("Name:", md.metadata.name ?? ""), ("Namespace:", md.metadata.namespace ?? "")]
        let symbol: String
        switch outcome(md) {
        case .complete: symbol = "✔ Complete"
        case .aborted: symbol = "✖ " + (status?.canary?.phase == .aborted ? "Aborted" : "Degraded")
        case .inProgress: symbol = status?.canary?.phase == .paused ? "॥ Paused" : "◌ Progressing"
        }
        lines.append(("Status:", symbol))
        let message = status?.canary?.message ?? status?.conditions?[.progressing]?.message ?? status?.conditions?[.degraded]?.message
        if let message { lines.append(("Message:", message)) }
        lines.append(("Strategy:", strategy.rawValue))
        lines.append(("Serving:", status?.servingVersion.map { "version \($0)" } ?? "<nothing>"))
        if let c = status?.canary {
            lines.append(
                ("Canary:", "\(c.canaryVersion) (revision \(c.canaryRevision ?? "?")) beside stable \(c.stableVersion) (revision \(c.stableRevision ?? "?"))"))
            lines.append(("Step:", "\(min(Int(c.step) + 1, max(steps.count, 1)))/\(steps.count)"))
            lines.append(("Weight:", "canary \(c.weight)%, stable \(100 - c.weight)%"))
        }
        if let traffic = status?.trafficSummary { lines.append(("Traffic:", traffic)) }
        var text = lines.map { $0.0.padding(toLength: 11, withPad: " ", startingAt: 0) + $0.1 + "\n" }.joined()
        if !steps.isEmpty {
            text += "\nSteps:\n"
            let at = status?.canary.map { Int($0.step) } ?? (outcome(md) == .complete ? steps.count : 0)
            let aborted = status?.canary?.phase == .aborted
            for (index, step) in steps.enumerated() {
                let mark = index < at ? "✔" : index == at ? (aborted ? "✖" : "►") : " "
                text += "  \(mark) \(index + 1). \(describe(step, in: md))\n"
            }
        }
        let runs = status?.analysis?.runs ?? []
        if !runs.isEmpty {
            text += "\nAnalysis:\n"
            var rows = [["RUN", "METRIC", "PHASE", "VALUE", "THRESHOLD", "MEASURED", "MESSAGE"]]
            for run in runs.suffix(6) {
                for metric in run.metrics {
                    rows.append([
                        "\(run.name) (\(run.canaryVersion))", metric.name, metric.phase.rawValue, metric.value.map(Analysis.format) ?? "-",
                        metric.threshold ?? "-", "\(metric.measured)" + (metric.errors > 0 ? " (\(metric.errors) errors)" : ""), metric.message ?? "",
                    ])
                }
            }
            text += aligned(rows, indent: 2)
        }
        return text
    }

    static func describe(_ step: ModelDeployment.CanaryStep, in md: ModelDeployment) -> String {
        if let weight = step.setWeight { return "setWeight \(weight)%" }
        if let pause = step.pause { return pause.duration.map { "pause \($0)" } ?? "pause (until modelplane promote)" }
        if let gate = step.analysis?.shadow {
            var terms = ["\(gate.minRequests) answers compared"]
            if let agreement = gate.minAgreement { terms.append("agreement at least \(Analysis.format(agreement))") }
            if let diff = gate.maxMeanAbsDiff { terms.append("mean abs diff at most \(Analysis.format(diff))") }
            return "shadow gate: " + terms.joined(separator: ", ")
        }
        if let analysis = step.analysis {
            let names = (analysis.metrics ?? []).map { name in
                let metric = md.spec.rollout?.plannedCanary?.analysis?.metric(name)
                let count = analysis.count ?? metric?.count ?? 1
                return "\(name) x\(count)"
            }
            return "analysis: " + names.joined(separator: ", ")
        }
        return "?"
    }
}
