import ArgumentParser
import Foundation
import KubeClient
import ModelplaneAPI
import Rollout

/// `modelplane describe NAME`: one ModelDeployment for a person — what it asks for, what runs,
/// its conditions, and its recent events.
struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one ModelDeployment in detail.", discussion: "Its spec, status, conditions and recent events.")

    @Argument(help: "The ModelDeployment's name.")
    var name: String

    @Option(name: .shortAndLong, help: "Namespace (default: the kubeconfig context's).")
    var namespace: String?

    @Option(help: "How many of the most recent events to show.")
    var events = 20

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let kube = try connection.client()
        let namespace = namespace ?? kube.configuration.namespace
        let deployment: ModelDeployment
        let related: [Event]
        do {
            deployment = try await kube.get(ModelDeployment.self, name: name, namespace: namespace)
            var selector = "regarding.name=\(name),regarding.kind=\(ModelDeployment.kind)"
            if let uid = deployment.metadata.uid { selector += ",regarding.uid=\(uid)" }
            related = try await kube.listAll(Event.self, namespace: namespace, options: ListOptions(fieldSelector: selector)).items
        } catch {
            throw CLIError(error.forUser(about: name))
        }
        print(Self.render(deployment, events: related, limit: events, now: Date()), terminator: "")
    }

    static func render(_ md: ModelDeployment, events: [Event], limit: Int, now: Date) -> String {
        let spec = md.defaulted().spec
        func age(_ timestamp: String?) -> String { timestamp.flatMap { HumanAge.since($0, now: now) } ?? "<unknown>" }
        func map(_ values: [String: String]?) -> String {
            guard let values, !values.isEmpty else { return "<none>" }
            return values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: "\n" + String(repeating: " ", count: 14))
        }
        var lines: [(String, String)] = [
            ("Name:", md.metadata.name ?? ""), ("Namespace:", md.metadata.namespace ?? ""), ("Labels:", map(md.metadata.labels)),
            ("Annotations:", map(md.metadata.annotations)),
            ("Created:", "\(md.metadata.creationTimestamp ?? "<unknown>") (\(age(md.metadata.creationTimestamp)) ago)"),
            ("Generation:", "\(md.metadata.generation ?? 0)" + (md.status?.observedGeneration.map { " (observed: \($0))" } ?? " (not observed yet)")),
        ]
        if let deleting = md.metadata.deletionTimestamp { lines.append(("Deleting:", "since \(deleting), waiting for \(md.metadata.finalizers ?? [])")) }
        var text = lines.map { $0.0.padding(toLength: 14, withPad: " ", startingAt: 0) + $0.1 + "\n" }.joined()

        text += "Model:\n"
        text += "  Name:       \(spec.model.name)\n  Version:    \(spec.model.version)\n"
        if let uri = spec.model.uri { text += "  URI:        \(uri)\n" }
        text += "Backend:\n"
        if let triton = spec.backend.triton {
            text += "  Triton:     \(triton.url)\n"
            if let config = triton.modelConfig { text += "  Config:     \(config.canonicalText)\n" }
        }
        if let sagemaker = spec.backend.sagemaker {
            text += "  SageMaker:  endpoint \(sagemaker.endpointName ?? "") in \(sagemaker.region)\n"
            text += "  Image:      \(sagemaker.image)\n"
            text += "  Instances:  \(sagemaker.initialInstanceCount ?? 1) x \(sagemaker.instanceType)\n"
            if let url = sagemaker.endpointURL { text += "  API URL:    \(Redaction.url(url))\n" }
            if let routing = sagemaker.trafficRouting {
                text += "  Traffic:    \(routing.type.rawValue)" + (routing.stepPercent.map { ", \($0)% per step" } ?? "")
                text += ", \(routing.waitIntervalSeconds ?? 0)s between steps\n"
            }
            if let alarms = sagemaker.rollbackAlarms, !alarms.isEmpty { text += "  Alarms:     \(alarms.joined(separator: ", "))\n" }
        }
        text += "Rollout:      \(spec.rollout?.strategy?.rawValue ?? "") (progress deadline \(spec.rollout?.progressDeadlineSeconds ?? 0)s, "
        text += "\(spec.revisionHistoryLimit ?? 0) revisions kept)\n"
        if let steps = spec.rollout?.plannedCanary?.steps, !steps.isEmpty {
            let shown = steps.map { step in
                step.setWeight.map { "\($0)%" } ?? step.pause.map { "pause" + ($0.duration.map { " \($0)" } ?? "") }
                    ?? RolloutStatusCommand.describe(step, in: md.defaulted())
            }
            text += "  Steps:      \(shown.joined(separator: ", "))\n"
        }
        if let analysis = spec.rollout?.plannedCanary?.analysis {
            let background =
                analysis.background ?? true
                ? "in the background every \(analysis.interval ?? ModelDeployment.CanaryAnalysis.defaultInterval)" : "in analysis steps only"
            text += "  Analysis:   \(background)\n"
            for metric in analysis.metrics {
                let thresholds = Analysis.Metric(name: metric.name, max: metric.max, min: metric.min).threshold
                let source =
                    metric.router.map { "router \($0.rawValue)" + (metric.minRequests.map { " (at least \($0) requests)" } ?? "") }
                    ?? metric.prometheus.map { "prometheus at \(Redaction.url($0.address))" }
                    ?? metric.webhook.map { "webhook \(Redaction.url($0.url))" + ($0.secretRef != nil ? ", signed" : "") } ?? "?"
                text += "              \(metric.name): \(source), \(thresholds)\n"
            }
        }
        if let shadow = spec.shadow {
            let compare = shadow.compare
            let how = compare.map { c in
                ", compare \(c.output ?? "the first output") by \(c.mode?.rawValue ?? "absolute")" + (c.tolerance.map { " within \($0)" } ?? "")
            }
            text += "Shadow:       version \(shadow.version), \(shadow.percent ?? 100)% of requests\(how ?? "")\n"
        }

        let status = md.status
        text += "Status:\n"
        text += "  Phase:      \(status?.phase?.rawValue ?? "<none>")\n"
        text += "  Serving:    \(status?.servingVersion.map { "version \($0)" } ?? "<nothing>")\n"
        text += "  Revision:   \(status?.currentRevision ?? "<none>")\n"
        if let backend = status?.backend { text += "  Backend:    \(backend)\n" }
        if let summary = status?.trafficSummary { text += "  Traffic:    \(summary)\n" }
        if let canary = status?.canary {
            let steps = spec.rollout?.plannedCanary?.steps.count ?? 0
            text += "  Canary:     \(canary.canaryVersion) beside stable \(canary.stableVersion): \(canary.phase.rawValue), "
            text += "step \(min(Int(canary.step) + 1, steps)) of \(steps), weight \(canary.weight)%\n"
            if let message = canary.message { text += "              \(message)\n" }
        }
        if let runs = status?.analysis?.runs, !runs.isEmpty {
            text += "  Analysis:\n"
            for run in runs.suffix(4) {
                text += "    \(run.name) of canary \(run.canaryVersion): \(run.phase.rawValue)" + (run.message.map { ": \($0)" } ?? "") + "\n"
                for metric in run.metrics {
                    let value = metric.value.map(Analysis.format) ?? "-"
                    text += "      \(metric.name): \(metric.phase.rawValue), last \(value) (\(metric.threshold ?? "any value")), \(metric.measured) measured"
                    text += (metric.failed > 0 ? ", \(metric.failed) failed" : "") + (metric.errors > 0 ? ", \(metric.errors) errors" : "") + "\n"
                }
            }
        }
        if let shadow = status?.shadow {
            let agreement = shadow.agreement.map { String(format: "%.2f%%", $0 * 100) } ?? "-"
            let diff = shadow.meanAbsDiff.map { String(format: "%.6g", $0) } ?? "-"
            text += "  Shadow:     version \(shadow.version) since \(shadow.since): \(shadow.mirrored) mirrored, \(shadow.dropped) dropped, "
            text += "\(shadow.compared) compared, agreement \(agreement), mean abs diff \(diff), \(shadow.errors) errors\n"
            if let latency = shadow.latency {
                text += String(
                    format: "              latency p50/p99: primary %.2f/%.2f ms, shadow %.2f/%.2f ms\n", latency.primaryP50Ms, latency.primaryP99Ms,
                    latency.shadowP50Ms, latency.shadowP99Ms)
            }
        }
        if let record = status?.sagemaker {
            text += "  Endpoint:   \(record.endpoint) in \(record.region)" + (record.pendingConfig.map { " (moving to \($0))" } ?? "") + "\n"
            let resources = record.resources.map { "\($0.name) (version \($0.version))" }
            text += "  Created:    " + (resources.isEmpty ? "<none>" : resources.joined(separator: "\n              ")) + "\n"
            if let splits = record.splitConfigs, !splits.isEmpty {
                text += "  Canary:     " + splits.joined(separator: ", ") + " (the stable and canary variants, weighted)\n"
            }
        }
        if let record = status?.triton {
            let adopted = record.isAdopted ? " (adopted: it was serving before; left loaded on deletion)" : ""
            text += "  Loaded:     \(record.model) on \(Redaction.url(record.url))\(adopted)\n"
        }

        text += "Conditions:\n"
        if let conditions = status?.conditions, !conditions.isEmpty {
            text += aligned(
                [["Type", "Status", "Reason", "Since", "Message"]]
                    + conditions.map { [$0.type, $0.status.rawValue, $0.reason, age($0.lastTransitionTime), $0.message] }, indent: 2)
        } else {
            text += "  <none>\n"
        }

        text += "Events:"
        let recent = events.sorted { ($0.series?.lastObservedTime ?? $0.eventTime) < ($1.series?.lastObservedTime ?? $1.eventTime) }.suffix(limit)
        if recent.isEmpty { return text + "       <none>\n" }
        text += "\n"
        let rows = recent.map { event -> [String] in
            let when =
                event.series.map { "\(age($0.lastObservedTime)) (x\($0.count) over \(age(event.eventTime)))" } ?? age(event.eventTime)
            return [event.type.rawValue, event.reason, when, event.reportingController, event.note ?? ""]
        }
        return text + aligned([["Type", "Reason", "Age", "From", "Message"]] + rows, indent: 2)
    }
}

/// Rows as aligned columns, three spaces apart, the last column unpadded.
func aligned(_ rows: [[String]], indent: Int = 0, widths minimum: [Int] = []) -> String {
    let count = rows.map(\.count).max() ?? 0
    let widths = (0..<count).map { column in max(rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0, column < minimum.count ? minimum[column] : 0)
    }
    return rows.map { row in
        String(repeating: " ", count: indent)
            + row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
            }.joined() + "\n"
    }.joined()
}
