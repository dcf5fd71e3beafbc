/// The schema of the canary's analysis (`spec.rollout.canary.analysis`, a step's `analysis`) and
/// of `status.analysis`; the CEL rules say what `validateAnalysis` says, for a real cluster.
extension ModelDeployment {
    static func limitSchema(_ what: String) -> Schema {
        .integer(.init(what, minimum: 0, maximum: Limits.analysisLimit))
    }

    static let intervalSchema: Schema = .string(
        .init("How often it is measured, as 30s, 5m (default 30s).", pattern: Syntax.durationPattern, maxLength: 32))

    static let compareSchema: Schema = .object(
        ObjectSchema(
            "How the shadow's answers are compared with the primary's.",
            properties: [
                .optional("output", .string(.init("The output tensor compared (default: the primary's first).", minLength: 1, maxLength: 256))),
                .optional(
                    "mode",
                    .string(
                        .init(
                            "absolute (default): every element within tolerance; argmax: the same largest element.",
                            enum: Shadow.Compare.Mode.allCases.map(\.rawValue)))),
                .optional("tolerance", .number(.init("absolute only: the largest difference that still agrees (default 0).", minimum: 0))),
            ],
            rules: [
                .init(
                    rule: "!has(self.tolerance) || !has(self.mode) || self.mode == 'absolute'", message: "tolerance applies only to mode absolute",
                    fieldPath: ".tolerance")
            ]))

    static let canaryAnalysisSchema: Schema = .object(
        ObjectSchema(
            "The canary's metrics: measured in the background once it takes requests, and named by analysis steps. A failing metric aborts the canary; an inconclusive one pauses it.",
            properties: [
                .optional("interval", intervalSchema),
                .required(
                    "metrics",
                    .array(
                        items: .object(
                            ObjectSchema(
                                "One metric: exactly one of router, prometheus, webhook; max and/or min.",
                                properties: [
                                    .required(
                                        "name",
                                        .string(.init("The metric's name, unique in the analysis.", pattern: "^[A-Za-z0-9._-]+$", minLength: 1, maxLength: 63))),
                                    .optional(
                                        "router",
                                        .string(
                                            .init(
                                                "A figure the inference router keeps for the canary's revision over each interval: errorRate, latencyP50, latencyP95, latencyP99 (seconds), requestRate (per second).",
                                                enum: RouterMetric.allCases.map(\.rawValue)))),
                                    .optional(
                                        "minRequests",
                                        .integer(
                                            .init(
                                                "router only: fewer requests in an interval is no answer (inconclusive).", minimum: 1,
                                                maximum: Limits.analysisMinRequests.upperBound))),
                                    .optional(
                                        "prometheus",
                                        .object(
                                            ObjectSchema(
                                                "One PromQL instant query that gives one number.",
                                                properties: [
                                                    .required(
                                                        "address",
                                                        .string(
                                                            .init(
                                                                "Prometheus's base URL (http or https).", pattern: "^https?://", minLength: 1,
                                                                maxLength: Limits.uriMaxLength))),
                                                    .required(
                                                        "query",
                                                        .string(
                                                            .init(
                                                                "PromQL; {{namespace}}, {{deployment}}, {{revision}} and {{version}} are filled in.",
                                                                minLength: 1,
                                                                maxLength: 4096))),
                                                ]))),
                                    .optional(
                                        "webhook",
                                        .object(
                                            ObjectSchema(
                                                "A POST that must answer 2xx, with a number to compare when the metric has thresholds.",
                                                properties: [
                                                    .required(
                                                        "url",
                                                        .string(
                                                            .init(
                                                                "http or https, without credentials or a query.", pattern: "^https?://[^@?#]+$", minLength: 1,
                                                                maxLength: Limits.uriMaxLength))),
                                                    .optional(
                                                        "secretRef",
                                                        .object(
                                                            ObjectSchema(
                                                                "The HMAC-SHA256 key: file KEY of secret NAME under the controller's secrets directory.",
                                                                properties: [
                                                                    .required(
                                                                        "name",
                                                                        .string(
                                                                            .init("The secret.", pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", maxLength: 253))),
                                                                    .required(
                                                                        "key",
                                                                        .string(.init("The key in it.", pattern: "^[-._a-zA-Z0-9]+$", maxLength: 253))),
                                                                ]))),
                                                ]))),
                                    .optional("max", .number(.init("A value above it fails (a value equal to it passes)."))),
                                    .optional("min", .number(.init("A value below it fails."))),
                                    .optional("interval", intervalSchema),
                                    .optional(
                                        "count",
                                        .integer(
                                            .init(
                                                "Measurements to take (background: until the canary ends without it).", minimum: 1,
                                                maximum: Limits.analysisLimit))),
                                    .optional("failureLimit", limitSchema("Failed measurements tolerated (default 0).")),
                                    .optional("inconclusiveLimit", limitSchema("Inconclusive measurements tolerated (default 0).")),
                                    .optional("consecutiveErrorLimit", limitSchema("Measurement errors in a row tolerated (default 4).")),
                                ])), description: "The metrics.", maxItems: Limits.analysisMetrics)),
                .optional("background", .boolean(description: "Measure the metrics in the background for the whole canary (default true).")),
                .optional(
                    "startingStep",
                    .integer(
                        .init(
                            "The step (from 0) the background analysis starts at; default: once the canary takes requests.", minimum: 0,
                            maximum: Int64(Limits.canarySteps)))),
                .optional("failureLimit", limitSchema("Default failureLimit of the metrics.")),
                .optional("inconclusiveLimit", limitSchema("Default inconclusiveLimit of the metrics.")),
                .optional("consecutiveErrorLimit", limitSchema("Default consecutiveErrorLimit of the metrics.")),
            ],
            rules: [
                .init(
                    rule: "self.metrics.all(m, (has(m.router) ? 1 : 0) + (has(m.prometheus) ? 1 : 0) + (has(m.webhook) ? 1 : 0) == 1)",
                    message: "each metric has exactly one of router, prometheus, webhook", fieldPath: ".metrics"),
                .init(
                    rule: "self.metrics.all(m, !has(m.minRequests) || has(m.router))", message: "minRequests applies only to router metrics",
                    fieldPath: ".metrics"),
                .init(
                    rule: "self.metrics.all(m, !has(m.max) || !has(m.min) || m.min <= m.max)", message: "a metric's min must not be above its max",
                    fieldPath: ".metrics"),
                .init(
                    rule: "self.metrics.all(m, self.metrics.filter(o, o.name == m.name).size() == 1)", message: "metric names must be unique",
                    fieldPath: ".metrics"),
            ]))

    static let stepAnalysisSchema: Schema = .object(
        ObjectSchema(
            "Go on once an analysis passes: exactly one of metrics, shadow.",
            properties: [
                .optional(
                    "metrics",
                    .array(
                        items: .string(.init("A metric of canary.analysis.metrics.", minLength: 1, maxLength: 63)),
                        description: "Metrics of canary.analysis.metrics, each measured count times.", maxItems: Limits.analysisMetrics)),
                .optional(
                    "count",
                    .integer(
                        .init("Measurements of each metric (default: the metric's count, else 1).", minimum: 1, maximum: Limits.analysisLimit))),
                .optional(
                    "shadow",
                    .object(
                        ObjectSchema(
                            "A gate before any real traffic: the canary receives copies of requests, and passes once minRequests answers are compared and agree enough.",
                            properties: [
                                .required(
                                    "minRequests",
                                    .integer(.init("Compared answers needed.", minimum: 1, maximum: Limits.analysisMinRequests.upperBound))),
                                .optional("minAgreement", .number(.init("Share of compared answers that must agree (0 to 1).", minimum: 0, maximum: 1))),
                                .optional("maxMeanAbsDiff", .number(.init("The largest mean absolute difference allowed.", minimum: 0))),
                                .optional("compare", compareSchema),
                            ],
                            rules: [
                                .init(
                                    rule: "has(self.minAgreement) || has(self.maxMeanAbsDiff)", message: "a shadow gate needs minAgreement or maxMeanAbsDiff",
                                    fieldPath: nil)
                            ]))),
            ],
            rules: [
                .init(
                    rule: "(has(self.metrics) ? 1 : 0) + (has(self.shadow) ? 1 : 0) == 1", message: "an analysis step is exactly one of metrics, shadow",
                    fieldPath: nil)
            ]))

    static let blueGreenSchema: Schema = .object(
        ObjectSchema(
            "BlueGreen only: analysis before the switch (the new version tested on copies of requests, or by metrics) and after it (the old version stays loaded until it passes; a failure switches back).",
            properties: [
                .optional("prePromotionAnalysis", stepAnalysisSchema),
                .optional("postPromotionAnalysis", stepAnalysisSchema),
                .optional("analysis", canaryAnalysisSchema),
            ],
            rules: [
                .init(
                    rule:
                        "!has(self.prePromotionAnalysis) || !has(self.prePromotionAnalysis.metrics) || self.prePromotionAnalysis.metrics.all(n, has(self.analysis) && self.analysis.metrics.exists(m, m.name == n))",
                    message: "prePromotionAnalysis names metrics of blueGreen.analysis.metrics", fieldPath: ".prePromotionAnalysis"),
                .init(
                    rule:
                        "!has(self.postPromotionAnalysis) || !has(self.postPromotionAnalysis.metrics) || self.postPromotionAnalysis.metrics.all(n, has(self.analysis) && self.analysis.metrics.exists(m, m.name == n))",
                    message: "postPromotionAnalysis names metrics of blueGreen.analysis.metrics", fieldPath: ".postPromotionAnalysis"),
                .init(
                    rule: "has(self.prePromotionAnalysis) || has(self.postPromotionAnalysis)",
                    message: "name a prePromotionAnalysis or a postPromotionAnalysis", fieldPath: nil),
                .init(
                    rule: "!has(self.postPromotionAnalysis) || !has(self.postPromotionAnalysis.shadow)",
                    message: "a shadow gate comes before the switch: use prePromotionAnalysis", fieldPath: ".postPromotionAnalysis"),
            ]))

    /// Rules of `spec.rollout.canary` that concern its analysis.
    static let canaryAnalysisRules: [ObjectSchema.Rule] = [
        .init(
            rule: "self.steps.all(s, !has(s.analysis) || (has(s.analysis.metrics) ? 1 : 0) + (has(s.analysis.shadow) ? 1 : 0) == 1)",
            message: "an analysis step is exactly one of metrics, shadow", fieldPath: ".steps"),
        .init(
            rule:
                "self.steps.all(s, !has(s.analysis) || !has(s.analysis.metrics) || s.analysis.metrics.all(n, has(self.analysis) && self.analysis.metrics.exists(m, m.name == n)))",
            message: "an analysis step names metrics of canary.analysis.metrics", fieldPath: ".steps"),
        .init(
            rule:
                "self.steps.all(s, !has(s.analysis) || !has(s.analysis.metrics) || (size(s.analysis.metrics) > 0 && s.analysis.metrics.all(n, s.analysis.metrics.filter(o, o == n).size() == 1)))",
            message: "an analysis step names each metric once, and at least one", fieldPath: ".steps"),
    ]

    static let analysisStatusSchema: Schema = .object(
        ObjectSchema(
            "The canary's analysis runs: the running ones and the last finished.",
            properties: [
                .required(
                    "runs",
                    .array(
                        items: .object(
                            ObjectSchema(
                                "One analysis run: the background analysis, or an analysis step.",
                                properties: [
                                    .required("name", .string(.init("background, or step N (from 1)."))),
                                    .optional("step", .integer(.init("An analysis step's index (from 0).", minimum: 0))),
                                    .required("canaryVersion", .string(.init("The canary version measured."))),
                                    .optional("canaryRevision", .string(.init("Its revision."))),
                                    .required(
                                        "phase",
                                        .string(.init("Running, Successful, Failed, Inconclusive or Terminated.", enum: AnalysisPhase.allCases.map(\.rawValue)))
                                    ),
                                    .required("startedAt", .string(.init("RFC 3339."))),
                                    .optional("finishedAt", .string(.init("RFC 3339."))),
                                    .optional("message", .string(.init("The verdict in words."))),
                                    .required(
                                        "metrics",
                                        .array(
                                            items: .object(
                                                ObjectSchema(
                                                    "One metric's tally and last measurement.",
                                                    properties: [
                                                        .required("name", .string(.init("The metric."))),
                                                        .required("phase", .string(.init("Its phase.", enum: AnalysisPhase.allCases.map(\.rawValue)))),
                                                        .optional("threshold", .string(.init("The thresholds in words."))),
                                                        .required("measured", .integer(.init("Measurements taken, errors not counted.", minimum: 0))),
                                                        .required("failed", .integer(.init("Failed measurements.", minimum: 0))),
                                                        .required("inconclusive", .integer(.init("Inconclusive measurements.", minimum: 0))),
                                                        .required("errors", .integer(.init("Measurement errors.", minimum: 0))),
                                                        .required("consecutiveErrors", .integer(.init("Errors in a row, up to now.", minimum: 0))),
                                                        .optional("value", .number(.init("The last value measured."))),
                                                        .optional("message", .string(.init("What the last measurement said."))),
                                                        .optional("measuredAt", .string(.init("RFC 3339."))),
                                                        .optional("nextAt", .string(.init("When the next measurement is due (RFC 3339)."))),
                                                    ])), description: "Its metrics.", maxItems: nil)),
                                ])), description: "Oldest first.", maxItems: nil))
            ]))
}
