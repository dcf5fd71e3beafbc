public import Foundation
public import HTTPClient
public import ModelplaneAPI
public import Rollout
import Synchronization

/// Takes the measurements `AnalysisRuns.due` lists, through the providers: the router's figures
/// per revision (in process, or collected from routers apart), Prometheus, a webhook, and the
/// shadow comparison for a shadow gate. The router's figures are counters, so a measurement is
/// the difference with the previous look at the same metric of the same run: the first look
/// only takes that baseline, and the first value comes one interval later. Baselines live in
/// memory; a restarted controller takes them again (one interval later than it would have).
public final class AnalysisMeasurer: Sendable {
    /// A deployment's revision figures (namespace, name, revision), by router: each router's
    /// differences are taken apart and added up, so a router missing from one look (it did not
    /// answer in time) neither drops the sum nor lands its whole history in one interval.
    public typealias RequestFiguresSource = @Sendable (_ namespace: String, _ name: String, _ revision: String) -> [String: RequestFigures]

    let prometheus: PrometheusProvider
    let webhook: WebhookProvider
    let requestFigures: RequestFiguresSource?
    let shadowFigures: DeploymentReconciler.ShadowFigures?
    /// Where `secretRef`s are read: `DIRECTORY/NAME/KEY`, as Kubernetes mounts a Secret.
    let secretsDirectory: String?

    private struct Baseline {
        var at: Date
        var figures: [String: RequestFigures] = [:]
        var shadow: ModelDeployment.ShadowStatus?
    }

    private let baselines = Mutex<[String: Baseline]>([:])

    public init(
        http: HTTPClient, requestFigures: RequestFiguresSource? = nil, shadowFigures: DeploymentReconciler.ShadowFigures? = nil,
        secretsDirectory: String? = nil, timeout: Duration = .seconds(10)
    ) {
        self.prometheus = PrometheusProvider(http: http, timeout: timeout)
        self.webhook = WebhookProvider(http: http, timeout: timeout)
        self.requestFigures = requestFigures
        self.shadowFigures = shadowFigures
        self.secretsDirectory = secretsDirectory
    }

    /// Every due measurement of `md`, at once.
    public func measure(_ md: ModelDeployment, _ due: [AnalysisRuns.Due], now: Date) async -> [(AnalysisRuns.Due, AnalysisRuns.Result)] {
        forgetOld(now: now)
        return await withTaskGroup(of: (AnalysisRuns.Due, AnalysisRuns.Result).self) { group in
            for item in due {
                group.addTask { (item, await self.measure(md, item, now: now)) }
            }
            var results: [(AnalysisRuns.Due, AnalysisRuns.Result)] = []
            for await result in group { results.append(result) }
            return results
        }
    }

    func measure(_ md: ModelDeployment, _ due: AnalysisRuns.Due, now: Date) async -> AnalysisRuns.Result {
        let namespace = md.metadata.namespace ?? ModelDeployment.Defaults.namespace
        let name = md.metadata.name ?? ""
        let run = md.status?.analysis?.runs.last { $0.name == due.run && $0.phase == .running }
        let key = "\(namespace)/\(name)\u{0}\(due.run)\u{0}\(run?.startedAt ?? "")\u{0}\(due.metric)"
        let context = AnalysisContext(namespace: namespace, deployment: name, revision: due.canaryRevision ?? "", version: due.canaryVersion)
        switch due.source {
        case .metric(let metric):
            if let router = metric.router {
                return self.router(router, metric, namespace: namespace, name: name, due: due, key: key, now: now)
            }
            if let query = metric.prometheus {
                return .reading(await prometheus.measure(address: query.address, query: query.query, context))
            }
            if let hook = metric.webhook {
                var secret: [UInt8]?
                if let ref = hook.secretRef {
                    switch self.secret(ref) {
                    case .success(let bytes): secret = bytes
                    case .failure(let why): return .reading(.error(why.message))
                    }
                }
                return .reading(
                    await webhook.measure(
                        url: hook.url, metric: metric.name, thresholds: metric.max != nil || metric.min != nil, secret: secret, context, now: now))
            }
            return .reading(.error("metric \(metric.name) names no provider"))
        case .shadowAgreement(let gate), .shadowMeanAbsDiff(let gate):
            return shadow(due, gate, namespace: namespace, name: name, key: key, now: now)
        }
    }

    // MARK: - Router

    func router(
        _ which: ModelDeployment.RouterMetric, _ metric: ModelDeployment.AnalysisMetric, namespace: String, name: String, due: AnalysisRuns.Due,
        key: String, now: Date
    ) -> AnalysisRuns.Result {
        guard let requestFigures else {
            return .reading(.error("no inference router reports its figures to this controller (serve with --router, or give --router-stats)"))
        }
        guard let revision = due.canaryRevision else { return .reading(.error("the canary has no revision to measure")) }
        let current = requestFigures(namespace, name, revision)
        // A look too soon after the last (a pass retried after its write failed) would measure a
        // sliver of time: it waits for the rest of the interval, the baseline kept.
        let earlier: Baseline? = baselines.withLock { all in
            let found = all[key]
            if let found, now.timeIntervalSince(found.at) < AnalysisRuns.seconds(due.interval) / 2 { return found }
            // A router that did not answer this time keeps its last figures as its baseline.
            all[key] = Baseline(at: now, figures: (found?.figures ?? [:]).merging(current) { $1 })
            return found
        }
        guard let earlier else { return .notYet("the first look at the router's figures: measured over the next interval") }
        if now.timeIntervalSince(earlier.at) < AnalysisRuns.seconds(due.interval) / 2 {
            return .notYet("measured over the interval since the last look")
        }
        // Each router's difference (a figure that went down: that router restarted, and its
        // figures count from this look), added up.
        // A router whose figures began after the last look (it started, or saw the revision's first
        // request) counts them all; no figures anywhere is no request at all.
        var delta = RequestFigures(namespace: namespace, name: name, revision: revision, version: due.canaryVersion, since: Timestamps.rfc3339(now))
        for (router, figures) in current {
            if let before = earlier.figures[router], before.since == figures.since {
                if let difference = figures.since(before) { delta = delta.adding(difference) }
            } else if let began = AnalysisRuns.date(figures.since), began >= earlier.at.addingTimeInterval(-1) {
                delta = delta.adding(figures)
            }
        }
        let minimum = metric.minRequests ?? 1
        if which != .requestRate, delta.requests < minimum {
            return .reading(
                .noData(
                    "\(metric.name): \(delta.requests) request\(delta.requests == 1 ? "" : "s") to revision \(revision) in the interval, fewer than \(minimum)"
                ))
        }
        switch which {
        case .errorRate: return .reading(.value(Double(delta.errors) / Double(delta.requests)))
        case .latencyP50: return .reading(delta.quantile(0.5).map(Analysis.Reading.value) ?? .noData("no requests in the interval"))
        case .latencyP95: return .reading(delta.quantile(0.95).map(Analysis.Reading.value) ?? .noData("no requests in the interval"))
        case .latencyP99: return .reading(delta.quantile(0.99).map(Analysis.Reading.value) ?? .noData("no requests in the interval"))
        case .requestRate:
            return .reading(.value(Double(delta.requests) / now.timeIntervalSince(earlier.at)))
        }
    }

    // MARK: - Shadow gate

    /// The comparison since the gate's first look: nothing is judged until `minRequests`
    /// answers are compared.
    func shadow(_ due: AnalysisRuns.Due, _ gate: ModelDeployment.ShadowGate, namespace: String, name: String, key: String, now: Date)
        -> AnalysisRuns.Result
    {
        guard let shadowFigures else {
            return .reading(.error("no inference router in this process mirrors requests (serve with --router, or give --router-stats)"))
        }
        let current = shadowFigures(namespace, name, due.canaryVersion)
        // One baseline for both gate metrics: the gate's.
        let gateKey = String(key[..<(key.lastIndex(of: "\u{0}") ?? key.endIndex)])
        let baseline = baselines.withLock { all in
            if var found = all[gateKey] {
                // (Looked at: kept however long the gate takes.)
                found.at = now
                all[gateKey] = found
                return found.shadow
            }
            all[gateKey] = Baseline(at: now, shadow: current ?? .init(version: due.canaryVersion, since: Timestamps.rfc3339(now)))
            return nil
        }
        guard let baseline else { return .notYet("receiving copies of requests: 0 of \(gate.minRequests) answers compared") }
        guard let current else { return .notYet("receiving copies of requests: none yet") }
        guard current.since == baseline.since, current.compared >= baseline.compared else {
            // The figures started again (the router restarted): count from here.
            baselines.withLock { $0[gateKey] = Baseline(at: now, shadow: current ?? .init(version: due.canaryVersion, since: Timestamps.rfc3339(now))) }
            return .notYet("the shadow comparison started again: 0 of \(gate.minRequests) answers compared")
        }
        let compared = current.compared - baseline.compared
        // A copy the canary answered with an error (or not at all) is an answer that disagrees.
        let failed = max(0, current.errors - baseline.errors)
        guard compared + failed >= gate.minRequests else {
            return .notYet("receiving copies of requests: \(compared + failed) of \(gate.minRequests) answers compared")
        }
        func sum(_ ratio: Double?, _ count: Int64) -> Double { (ratio ?? 0) * Double(count) }
        switch due.source {
        case .shadowMeanAbsDiff:
            // The mean over the gate's answers from the running means weighted by answers: exact
            // when every answer has as many elements (one output of a fixed shape), approximate
            // otherwise.
            // (Errors are the agreement's to judge; only copies that all failed leave nothing.)
            guard compared > 0 else { return .reading(.failed("the canary answered all \(failed) copies with an error")) }
            let diff = (sum(current.meanAbsDiff, current.compared) - sum(baseline.meanAbsDiff, baseline.compared)) / Double(compared)
            return .reading(.value(max(0, diff)))
        default:
            let agreed = (sum(current.agreement, current.compared) - sum(baseline.agreement, baseline.compared)).rounded()
            return .reading(.value(min(1, max(0, agreed / Double(compared + failed)))))
        }
    }

    // MARK: - Helpers

    struct SecretProblem: Error {
        var message: String
    }

    func secret(_ ref: ModelDeployment.SecretKeyRef) -> Result<[UInt8], SecretProblem> {
        guard let directory = secretsDirectory else {
            return .failure(SecretProblem(message: "secret \(ref.name) is named, but this controller has no --secrets-dir to read it from"))
        }
        guard !ref.name.contains("/"), !ref.key.contains("/"), ref.name != "..", ref.key != ".." else {
            return .failure(SecretProblem(message: "secret \(ref.name) key \(ref.key) is not a name"))
        }
        let path = directory + "/" + ref.name + "/" + ref.key
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(SecretProblem(message: "secret \(ref.name) has no key \(ref.key) under \(directory)"))
        }
        // A mounted Secret's file may end with a newline an editor added.
        var bytes = [UInt8](data)
        while bytes.last == 10 || bytes.last == 13 { bytes.removeLast() }
        return .success(bytes)
    }

    /// Baselines of runs that ended long ago go.
    private func forgetOld(now: Date) {
        baselines.withLock { all in
            guard all.count > 64 else { return }
            // (A baseline is looked at every interval, at most a year apart: one not looked at for
            // two days belongs to a run that ended.)
            all = all.filter { now.timeIntervalSince($0.value.at) < 2 * 86_400 }
        }
    }
}
