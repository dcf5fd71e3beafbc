/// Metric analysis of a canary (`spec.rollout.canary.analysis`, analysis steps) and what it found
/// (`status.analysis`): the rollout watches its own numbers and stops a bad version by itself.
/// The meaning of the limits is Argo Rollouts'; docs/analysis.md says where it differs.
extension ModelDeployment {
    /// `spec.rollout.canary.analysis`: the metrics of the canary, measured in the background for
    /// the whole canary (once it takes requests), and named by analysis steps.
    public struct CanaryAnalysis: Codable, Sendable, Hashable {
        /// How often each metric is measured (default 30s); a metric's own `interval` wins.
        public var interval: String?
        public var metrics: [AnalysisMetric]
        /// Measure the metrics in the background (default true); false: only analysis steps do.
        public var background: Bool?
        /// The step (from 0) the background analysis starts at; default: once the canary takes
        /// requests (its first setWeight above 0).
        public var startingStep: Int64?
        /// Defaults for every metric's limits.
        public var failureLimit: Int64?
        public var inconclusiveLimit: Int64?
        public var consecutiveErrorLimit: Int64?

        public init(
            interval: String? = nil, metrics: [AnalysisMetric], background: Bool? = nil, startingStep: Int64? = nil, failureLimit: Int64? = nil,
            inconclusiveLimit: Int64? = nil, consecutiveErrorLimit: Int64? = nil
        ) {
            self.interval = interval
            self.metrics = metrics
            self.background = background
            self.startingStep = startingStep
            self.failureLimit = failureLimit
            self.inconclusiveLimit = inconclusiveLimit
            self.consecutiveErrorLimit = consecutiveErrorLimit
        }

        public static let defaultInterval = "30s"

        /// `interval` as a Duration (nil without one, or unreadable: validation refuses that).
        public var intervalLength: Duration? { interval.flatMap(Syntax.duration) }

        /// The metric named `name`.
        public func metric(_ name: String) -> AnalysisMetric? { metrics.first { $0.name == name } }
    }

    /// One metric: exactly one provider (`router`, `prometheus`, `webhook`), thresholds and limits.
    public struct AnalysisMetric: Codable, Sendable, Hashable {
        public var name: String
        /// A figure the inference router keeps per revision, over each interval.
        public var router: RouterMetric?
        /// `router` only: fewer requests than this in an interval is no answer (inconclusive).
        public var minRequests: Int64?
        public var prometheus: PrometheusQuery?
        public var webhook: WebhookCall?
        /// A value above it fails (inclusive: equal passes).
        public var max: Double?
        /// A value below it fails.
        public var min: Double?
        public var interval: String?
        /// Measurements an analysis step takes (a background analysis without it runs until the
        /// canary ends).
        public var count: Int64?
        public var failureLimit: Int64?
        public var inconclusiveLimit: Int64?
        public var consecutiveErrorLimit: Int64?

        public init(
            name: String, router: RouterMetric? = nil, minRequests: Int64? = nil, prometheus: PrometheusQuery? = nil, webhook: WebhookCall? = nil,
            max: Double? = nil, min: Double? = nil, interval: String? = nil, count: Int64? = nil, failureLimit: Int64? = nil,
            inconclusiveLimit: Int64? = nil, consecutiveErrorLimit: Int64? = nil
        ) {
            self.name = name
            self.router = router
            self.minRequests = minRequests
            self.prometheus = prometheus
            self.webhook = webhook
            self.max = max
            self.min = min
            self.interval = interval
            self.count = count
            self.failureLimit = failureLimit
            self.inconclusiveLimit = inconclusiveLimit
            self.consecutiveErrorLimit = consecutiveErrorLimit
        }

        /// `interval` as a Duration (nil without one, or unreadable: validation refuses that).
        public var intervalLength: Duration? { interval.flatMap(Syntax.duration) }

        /// The provider's name, as messages say it.
        public var provider: String {
            if router != nil { return "router" }
            if prometheus != nil { return "prometheus" }
            if webhook != nil { return "webhook" }
            return "none"
        }
    }

    /// The router's figures of one revision, over each interval.
    public enum RouterMetric: String, Codable, Sendable, Hashable, CaseIterable {
        /// Share of requests answered with a server error (5xx, or no answer), 0 to 1.
        case errorRate
        /// Latency percentiles, in seconds.
        case latencyP50, latencyP95, latencyP99
        /// Requests per second.
        case requestRate
    }

    public struct PrometheusQuery: Codable, Sendable, Hashable {
        /// Prometheus's base URL.
        public var address: String
        /// PromQL with `{{namespace}}`, `{{deployment}}`, `{{revision}}`, `{{version}}` filled in;
        /// it must give one number.
        public var query: String

        public init(address: String, query: String) {
            self.address = address
            self.query = query
        }
    }

    public struct WebhookCall: Codable, Sendable, Hashable {
        public var url: String
        /// The HMAC-SHA256 key the call is signed with: the file `KEY` of secret `NAME` under the
        /// controller's secrets directory (where Kubernetes mounts a Secret).
        public var secretRef: SecretKeyRef?

        public init(url: String, secretRef: SecretKeyRef? = nil) {
            self.url = url
            self.secretRef = secretRef
        }
    }

    public struct SecretKeyRef: Codable, Sendable, Hashable {
        public var name: String
        public var key: String

        public init(name: String, key: String) {
            self.name = name
            self.key = key
        }
    }

    /// An analysis step: exactly one of `metrics` (named in `canary.analysis.metrics`, each
    /// measured `count` times) or `shadow` (a gate the canary passes as a shadow, before any
    /// real traffic).
    public struct StepAnalysis: Codable, Sendable, Hashable {
        public var metrics: [String]?
        /// Measurements of each metric the step takes (default: the metric's `count`, else 1).
        public var count: Int64?
        public var shadow: ShadowGate?

        public init(metrics: [String]? = nil, count: Int64? = nil, shadow: ShadowGate? = nil) {
            self.metrics = metrics
            self.count = count
            self.shadow = shadow
        }
    }

    /// The canary receives a copy of requests and its answers are compared with the stable
    /// version's; it passes once `minRequests` are compared and they agree enough.
    public struct ShadowGate: Codable, Sendable, Hashable {
        public var minRequests: Int64
        /// Share of compared answers that must agree (0 to 1).
        public var minAgreement: Double?
        /// The largest mean absolute difference of the compared output allowed.
        public var maxMeanAbsDiff: Double?
        /// How answers are compared (as `spec.shadow.compare`).
        public var compare: Shadow.Compare?

        public init(minRequests: Int64, minAgreement: Double? = nil, maxMeanAbsDiff: Double? = nil, compare: Shadow.Compare? = nil) {
            self.minRequests = minRequests
            self.minAgreement = minAgreement
            self.maxMeanAbsDiff = maxMeanAbsDiff
            self.compare = compare
        }
    }

    /// `spec.rollout.blueGreen`: analysis around a BlueGreen switch. With either analysis the
    /// rollout runs as the canary `Rollout.plannedCanary` spells out: the new version loads
    /// beside the old one, passes `prePromotionAnalysis` (a shadow gate on copies of requests,
    /// or metrics), takes every request while the old version stays loaded, and must pass
    /// `postPromotionAnalysis` before the old version goes; a failure on either side switches
    /// back (an abort).
    public struct BlueGreenSpec: Codable, Sendable, Hashable {
        public var prePromotionAnalysis: StepAnalysis?
        public var postPromotionAnalysis: StepAnalysis?
        /// The metrics the analyses name (measured only by them: `background` defaults to false).
        public var analysis: CanaryAnalysis?

        public init(prePromotionAnalysis: StepAnalysis? = nil, postPromotionAnalysis: StepAnalysis? = nil, analysis: CanaryAnalysis? = nil) {
            self.prePromotionAnalysis = prePromotionAnalysis
            self.postPromotionAnalysis = postPromotionAnalysis
            self.analysis = analysis
        }
    }

    // MARK: - Status

    /// `status.analysis`: the running analysis runs of the canary and the last finished ones.
    public struct AnalysisStatus: Codable, Sendable, Hashable {
        /// Oldest first; at most `AnalysisStatus.keep` finished ones.
        public var runs: [AnalysisRun]

        public init(runs: [AnalysisRun] = []) { self.runs = runs }

        public static let keep = 8
    }

    public enum AnalysisPhase: String, Codable, Sendable, Hashable, CaseIterable {
        case running = "Running"
        case successful = "Successful"
        case failed = "Failed"
        case inconclusive = "Inconclusive"
        /// Ended before a verdict: the canary completed, was replaced, aborted or promoted past it.
        case terminated = "Terminated"

        public var isFinished: Bool { self != .running }
    }

    public struct AnalysisRun: Codable, Sendable, Hashable {
        /// `background`, or `step N` (N from 1, as status and commands count steps).
        public var name: String
        /// An analysis step's index (from 0); nil for the background analysis.
        public var step: Int64?
        public var canaryVersion: String
        public var canaryRevision: String?
        public var phase: AnalysisPhase
        /// RFC 3339 with microseconds.
        public var startedAt: String
        public var finishedAt: String?
        /// The verdict in words.
        public var message: String?
        public var metrics: [AnalysisMetricStatus]

        public init(
            name: String, step: Int64? = nil, canaryVersion: String, canaryRevision: String? = nil, phase: AnalysisPhase = .running, startedAt: String,
            finishedAt: String? = nil, message: String? = nil, metrics: [AnalysisMetricStatus] = []
        ) {
            self.name = name
            self.step = step
            self.canaryVersion = canaryVersion
            self.canaryRevision = canaryRevision
            self.phase = phase
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.message = message
            self.metrics = metrics
        }

        public static let backgroundName = "background"
        public static func stepName(_ step: Int64) -> String { "step \(step + 1)" }
    }

    /// One metric of a run: its tally, its last measurement and when the next is due.
    public struct AnalysisMetricStatus: Codable, Sendable, Hashable {
        public var name: String
        public var phase: AnalysisPhase
        /// The thresholds in words (`at most 0.01`).
        public var threshold: String?
        /// Measurements taken, errors not counted.
        public var measured: Int64
        public var failed: Int64
        public var inconclusive: Int64
        public var errors: Int64
        public var consecutiveErrors: Int64
        /// The last value measured.
        public var value: Double?
        /// What the last measurement said.
        public var message: String?
        public var measuredAt: String?
        /// When the next measurement is due (RFC 3339 with microseconds).
        public var nextAt: String?

        public init(
            name: String, phase: AnalysisPhase = .running, threshold: String? = nil, measured: Int64 = 0, failed: Int64 = 0, inconclusive: Int64 = 0,
            errors: Int64 = 0, consecutiveErrors: Int64 = 0, value: Double? = nil, message: String? = nil, measuredAt: String? = nil, nextAt: String? = nil
        ) {
            self.name = name
            self.phase = phase
            self.threshold = threshold
            self.measured = measured
            self.failed = failed
            self.inconclusive = inconclusive
            self.errors = errors
            self.consecutiveErrors = consecutiveErrors
            self.value = value
            self.message = message
            self.measuredAt = measuredAt
            self.nextAt = nextAt
        }
    }
}

extension ModelDeployment.Rollout {
    /// The steps this rollout moves traffic in: `canary` for Canary; for BlueGreen with a pre- or
    /// post-promotion analysis, the pre-promotion analysis, every request to the new version (the
    /// old one still loaded), then the post-promotion analysis. Nil when no steps apply.
    public var plannedCanary: ModelDeployment.CanarySpec? {
        switch strategy ?? ModelDeployment.Defaults.strategy {
        case .canary: return canary
        case .immediate: return nil
        case .blueGreen:
            guard let blueGreen, blueGreen.prePromotionAnalysis != nil || blueGreen.postPromotionAnalysis != nil else { return nil }
            // Always three steps (a missing analysis is a step that does nothing), so a spec edited
            // mid-rollout leaves the step the canary is at where it was.
            let steps: [ModelDeployment.CanaryStep] = [
                blueGreen.prePromotionAnalysis.map { .init(analysis: $0) } ?? .weight(0), .weight(100),
                blueGreen.postPromotionAnalysis.map { .init(analysis: $0) } ?? .weight(100),
            ]
            var analysis = blueGreen.analysis
            if analysis != nil, analysis?.background == nil { analysis?.background = false }
            return .init(steps: steps, analysis: analysis)
        }
    }

    /// A new version goes through steps: Canary, or BlueGreen with analysis.
    public var runsAsCanary: Bool { (strategy ?? ModelDeployment.Defaults.strategy) == .canary || plannedCanary != nil }
}

extension ModelDeployment {
    /// The shadow gate the canary is at, if it is at one (it then receives copies of requests).
    public var shadowGate: ShadowGate? {
        guard let c = status?.canary, c.phase == .progressing || c.phase == .paused, let steps = spec.rollout?.plannedCanary?.steps,
            Int(c.step) < steps.count
        else { return nil }
        return steps[Int(c.step)].analysis?.shadow
    }

    /// How answers of shadow `version` are compared with the primary's: `spec.shadow`'s, or the
    /// shadow gate's when the version is the canary at one.
    public func shadowCompare(version: String) -> Shadow.Compare? {
        if spec.shadow?.version == version { return spec.shadow?.compare }
        if status?.canary?.canaryVersion == version { return shadowGate?.compare }
        return nil
    }
}

// MARK: - Direct codecs

extension ModelDeployment.BlueGreenSpec: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            prePromotionAnalysis: try m.object(ifPresent: "prePromotionAnalysis"), postPromotionAnalysis: try m.object(ifPresent: "postPromotionAnalysis"),
            analysis: try m.object(ifPresent: "analysis"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 3)
        o.set("prePromotionAnalysis", prePromotionAnalysis)
        o.set("postPromotionAnalysis", postPromotionAnalysis)
        o.set("analysis", analysis)
        return o.value
    }
}

extension ModelDeployment.CanaryAnalysis: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            interval: try m.string(ifPresent: "interval"), metrics: try m.array("metrics"), background: try m.bool(ifPresent: "background"),
            startingStep: try m.int64(ifPresent: "startingStep"), failureLimit: try m.int64(ifPresent: "failureLimit"),
            inconclusiveLimit: try m.int64(ifPresent: "inconclusiveLimit"), consecutiveErrorLimit: try m.int64(ifPresent: "consecutiveErrorLimit"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 7)
        o.set("interval", interval)
        o.set("metrics", metrics)
        o.set("background", background)
        o.set("startingStep", startingStep)
        o.set("failureLimit", failureLimit)
        o.set("inconclusiveLimit", inconclusiveLimit)
        o.set("consecutiveErrorLimit", consecutiveErrorLimit)
        return o.value
    }
}

extension ModelDeployment.AnalysisMetric: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            name: try m.string("name"), router: try m.rawValue(ifPresent: "router"), minRequests: try m.int64(ifPresent: "minRequests"),
            prometheus: try m.object(ifPresent: "prometheus"), webhook: try m.object(ifPresent: "webhook"), max: try m.double(ifPresent: "max"),
            min: try m.double(ifPresent: "min"), interval: try m.string(ifPresent: "interval"), count: try m.int64(ifPresent: "count"),
            failureLimit: try m.int64(ifPresent: "failureLimit"), inconclusiveLimit: try m.int64(ifPresent: "inconclusiveLimit"),
            consecutiveErrorLimit: try m.int64(ifPresent: "consecutiveErrorLimit"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 12)
        o.set("name", name)
        o.set("router", router)
        o.set("minRequests", minRequests)
        o.set("prometheus", prometheus)
        o.set("webhook", webhook)
        o.set("max", max)
        o.set("min", min)
        o.set("interval", interval)
        o.set("count", count)
        o.set("failureLimit", failureLimit)
        o.set("inconclusiveLimit", inconclusiveLimit)
        o.set("consecutiveErrorLimit", consecutiveErrorLimit)
        return o.value
    }
}

extension ModelDeployment.PrometheusQuery: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(address: try m.string("address"), query: try m.string("query"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 2)
        o.set("address", address)
        o.set("query", query)
        return o.value
    }
}

extension ModelDeployment.WebhookCall: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(url: try m.string("url"), secretRef: try m.object(ifPresent: "secretRef"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 2)
        o.set("url", url)
        o.set("secretRef", secretRef)
        return o.value
    }
}

extension ModelDeployment.SecretKeyRef: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(name: try m.string("name"), key: try m.string("key"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 2)
        o.set("name", name)
        o.set("key", key)
        return o.value
    }
}

extension ModelDeployment.StepAnalysis: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(metrics: try m.strings(ifPresent: "metrics"), count: try m.int64(ifPresent: "count"), shadow: try m.object(ifPresent: "shadow"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 3)
        o.set("metrics", metrics)
        o.set("count", count)
        o.set("shadow", shadow)
        return o.value
    }
}

extension ModelDeployment.ShadowGate: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            minRequests: try m.int64("minRequests"), minAgreement: try m.double(ifPresent: "minAgreement"),
            maxMeanAbsDiff: try m.double(ifPresent: "maxMeanAbsDiff"), compare: try m.object(ifPresent: "compare"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 4)
        o.set("minRequests", minRequests)
        o.set("minAgreement", minAgreement)
        o.set("maxMeanAbsDiff", maxMeanAbsDiff)
        o.set("compare", compare)
        return o.value
    }
}

extension ModelDeployment.AnalysisStatus: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(runs: try m.array("runs"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 1)
        o.set("runs", runs)
        return o.value
    }
}

extension ModelDeployment.AnalysisRun: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            name: try m.string("name"), step: try m.int64(ifPresent: "step"), canaryVersion: try m.string("canaryVersion"),
            canaryRevision: try m.string(ifPresent: "canaryRevision"), phase: try m.rawValue("phase"), startedAt: try m.string("startedAt"),
            finishedAt: try m.string(ifPresent: "finishedAt"), message: try m.string(ifPresent: "message"), metrics: try m.array("metrics"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 9)
        o.set("name", name)
        o.set("step", step)
        o.set("canaryVersion", canaryVersion)
        o.set("canaryRevision", canaryRevision)
        o.set("phase", phase)
        o.set("startedAt", startedAt)
        o.set("finishedAt", finishedAt)
        o.set("message", message)
        o.set("metrics", metrics)
        return o.value
    }
}

extension ModelDeployment.AnalysisMetricStatus: DirectlyReadable, DirectlyWritable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            name: try m.string("name"), phase: try m.rawValue("phase"), threshold: try m.string(ifPresent: "threshold"), measured: try m.int64("measured"),
            failed: try m.int64("failed"), inconclusive: try m.int64("inconclusive"), errors: try m.int64("errors"),
            consecutiveErrors: try m.int64("consecutiveErrors"), value: try m.double(ifPresent: "value"), message: try m.string(ifPresent: "message"),
            measuredAt: try m.string(ifPresent: "measuredAt"), nextAt: try m.string(ifPresent: "nextAt"))
    }

    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 12)
        o.set("name", name)
        o.set("phase", phase)
        o.set("threshold", threshold)
        o.set("measured", measured)
        o.set("failed", failed)
        o.set("inconclusive", inconclusive)
        o.set("errors", errors)
        o.set("consecutiveErrors", consecutiveErrors)
        o.set("value", value)
        o.set("message", message)
        o.set("measuredAt", measuredAt)
        o.set("nextAt", nextAt)
        return o.value
    }
}

// MARK: - Validation

extension ModelDeployment.CanaryAnalysis {
    func validate(at path: FieldPath, into errors: inout [FieldError]) {
        if let interval, Syntax.duration(interval) == nil {
            errors.append(FieldError(.invalid, path.appending("interval"), "\"\(interval)\": must be a duration such as 30s, 5m or 1h30m (at most a year)"))
        }
        if metrics.isEmpty { errors.append(FieldError(.required, path.appending("metrics"), "an analysis needs at least one metric")) }
        if metrics.count > ModelDeployment.Limits.analysisMetrics {
            errors.append(
                FieldError(.tooLong, path.appending("metrics"), "must have at most \(ModelDeployment.Limits.analysisMetrics) items, has \(metrics.count)"))
        }
        if let startingStep, startingStep < 0 || startingStep > Int64(ModelDeployment.Limits.canarySteps) {
            errors.append(FieldError(.invalid, path.appending("startingStep"), "\(startingStep): must be between 0 and \(ModelDeployment.Limits.canarySteps)"))
        }
        for (field, value) in [("failureLimit", failureLimit), ("inconclusiveLimit", inconclusiveLimit), ("consecutiveErrorLimit", consecutiveErrorLimit)] {
            if let value, !(0...ModelDeployment.Limits.analysisLimit).contains(value) {
                errors.append(FieldError(.invalid, path.appending(field), "\(value): must be between 0 and \(ModelDeployment.Limits.analysisLimit)"))
            }
        }
        var seen: Set<String> = []
        for (index, metric) in metrics.enumerated() {
            let metricPath = path.appending("metrics").appending(index: index)
            if !seen.insert(metric.name).inserted {
                errors.append(FieldError(.duplicate, metricPath.appending("name"), "\"\(metric.name)\": metric names must be unique"))
            }
            metric.validate(at: metricPath, into: &errors)
        }
    }
}

extension ModelDeployment.AnalysisMetric {
    func validate(at path: FieldPath, into errors: inout [FieldError]) {
        if name.isEmpty {
            errors.append(FieldError(.required, path.appending("name"), "a metric needs a name"))
        } else if name.count > 63 || !name.utf8.allSatisfy({ Syntax.isNameByte($0) }) {
            errors.append(FieldError(.invalid, path.appending("name"), "\"\(name)\": at most 63 letters, digits, '.', '_' or '-'"))
        }
        let providers = [("router", router != nil), ("prometheus", prometheus != nil), ("webhook", webhook != nil)].filter(\.1).map(\.0)
        if providers.isEmpty {
            errors.append(FieldError(.required, path, "each metric has exactly one of router, prometheus, webhook"))
        } else if providers.count > 1 {
            errors.append(
                FieldError(.forbidden, path, "each metric has exactly one of router, prometheus, webhook, found \(providers.joined(separator: " and "))"))
        }
        if minRequests != nil, router == nil {
            errors.append(FieldError(.forbidden, path.appending("minRequests"), "minRequests applies only to router metrics"))
        }
        if let minRequests, !ModelDeployment.Limits.analysisMinRequests.contains(minRequests) {
            errors.append(
                FieldError(
                    .invalid, path.appending("minRequests"), "\(minRequests): must be between 1 and \(ModelDeployment.Limits.analysisMinRequests.upperBound)"))
        }
        if let prometheus {
            if let problem = Syntax.httpURLProblem(prometheus.address) {
                errors.append(FieldError(.invalid, path.appending("prometheus").appending("address"), "\"\(prometheus.address)\": \(problem)"))
            }
            if prometheus.query.trimmingCharacters(in: .whitespaces).isEmpty {
                errors.append(FieldError(.required, path.appending("prometheus").appending("query"), "the query must not be empty"))
            }
        }
        if let webhook, let problem = Syntax.httpURLProblem(webhook.url) {
            // (The URL is not quoted back: a query or user-info would carry a token.)
            errors.append(FieldError(.invalid, path.appending("webhook").appending("url"), problem))
        }
        if let ref = webhook?.secretRef {
            let refPath = path.appending("webhook").appending("secretRef")
            if let problem = Syntax.dns1123SubdomainProblem(ref.name) {
                errors.append(FieldError(.invalid, refPath.appending("name"), "\"\(ref.name)\": \(problem)"))
            }
            if ref.key.isEmpty || ref.key.count > 253 || ref.key == "." || ref.key == ".."
                || !ref.key.utf8.allSatisfy({ Syntax.isNameByte($0) })
            {
                errors.append(FieldError(.invalid, refPath.appending("key"), "\"\(ref.key)\": a Secret's key: letters, digits, '.', '_' or '-'"))
            }
        }
        for (field, value) in [("max", max), ("min", min)] {
            if let value, !value.isFinite { errors.append(FieldError(.invalid, path.appending(field), "\(value): must be a finite number")) }
        }
        if let max, let min, min > max {
            errors.append(FieldError(.invalid, path.appending("min"), "\(min): a metric's min must not be above its max (\(max))"))
        }
        if let interval, Syntax.duration(interval) == nil {
            errors.append(FieldError(.invalid, path.appending("interval"), "\"\(interval)\": must be a duration such as 30s, 5m or 1h30m (at most a year)"))
        }
        if let count, !(1...ModelDeployment.Limits.analysisLimit).contains(count) {
            errors.append(FieldError(.invalid, path.appending("count"), "\(count): must be between 1 and \(ModelDeployment.Limits.analysisLimit)"))
        }
        for (field, value) in [("failureLimit", failureLimit), ("inconclusiveLimit", inconclusiveLimit), ("consecutiveErrorLimit", consecutiveErrorLimit)] {
            if let value, !(0...ModelDeployment.Limits.analysisLimit).contains(value) {
                errors.append(FieldError(.invalid, path.appending(field), "\(value): must be between 0 and \(ModelDeployment.Limits.analysisLimit)"))
            }
        }
    }
}

extension ModelDeployment.StepAnalysis {
    func validate(
        defined: ModelDeployment.CanaryAnalysis?, backend: ModelDeployment.Backend.Kind?, at path: FieldPath, into errors: inout [FieldError],
        definedAt: String = "canary.analysis.metrics"
    ) {
        switch (metrics, shadow) {
        case (nil, nil): errors.append(FieldError(.required, path, "an analysis step is exactly one of metrics, shadow"))
        case (.some, .some): errors.append(FieldError(.forbidden, path, "an analysis step is exactly one of metrics, shadow, found both"))
        default: break
        }
        if let metrics {
            if metrics.isEmpty { errors.append(FieldError(.required, path.appending("metrics"), "name at least one metric of \(definedAt)")) }
            for (index, name) in metrics.enumerated() where metrics[..<index].contains(name) {
                errors.append(FieldError(.duplicate, path.appending("metrics").appending(index: index), "\"\(name)\": named twice"))
            }
            for (index, name) in metrics.enumerated() where defined?.metric(name) == nil {
                errors.append(
                    FieldError(
                        .invalid, path.appending("metrics").appending(index: index),
                        "\"\(name)\": an analysis step names metrics of \(definedAt)"))
            }
        }
        if let count, !(1...ModelDeployment.Limits.analysisLimit).contains(count) {
            errors.append(FieldError(.invalid, path.appending("count"), "\(count): must be between 1 and \(ModelDeployment.Limits.analysisLimit)"))
        }
        if let shadow {
            let gatePath = path.appending("shadow")
            if backend == .sagemaker {
                errors.append(FieldError(.forbidden, gatePath, "a shadow gate needs the router to mirror requests, which it does for Triton only"))
            }
            if !ModelDeployment.Limits.analysisMinRequests.contains(shadow.minRequests) {
                errors.append(
                    FieldError(
                        .invalid, gatePath.appending("minRequests"),
                        "\(shadow.minRequests): must be between 1 and \(ModelDeployment.Limits.analysisMinRequests.upperBound)"))
            }
            if shadow.minAgreement == nil, shadow.maxMeanAbsDiff == nil {
                errors.append(FieldError(.required, gatePath, "a shadow gate needs minAgreement or maxMeanAbsDiff"))
            }
            if let agreement = shadow.minAgreement, !(0...1).contains(agreement) {
                errors.append(FieldError(.invalid, gatePath.appending("minAgreement"), "\(agreement): must be between 0 and 1"))
            }
            if let diff = shadow.maxMeanAbsDiff, !(diff >= 0 && diff.isFinite) {
                errors.append(FieldError(.invalid, gatePath.appending("maxMeanAbsDiff"), "\(diff): must be 0 or more"))
            }
            shadow.compare?.validate(at: gatePath.appending("compare"), into: &errors)
        }
    }
}

extension ModelDeployment.Shadow.Compare {
    func validate(at path: FieldPath, into errors: inout [FieldError]) {
        if let tolerance, tolerance < 0 || !tolerance.isFinite {
            errors.append(FieldError(.invalid, path.appending("tolerance"), "\(tolerance): must be 0 or more"))
        }
        if tolerance != nil, (mode ?? .absolute) != .absolute {
            errors.append(FieldError(.forbidden, path.appending("tolerance"), "tolerance applies only to mode absolute"))
        }
    }
}
