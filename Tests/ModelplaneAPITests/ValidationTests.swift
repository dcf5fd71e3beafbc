import ModelplaneAPI
import Testing

@Suite struct ValidationTests {
    @Test func validDeploymentsHaveNoErrors() {
        #expect(Fixtures.triton().validate() == [])
        #expect(Fixtures.sagemaker().validate() == [])
        #expect(Fixtures.triton().defaulted().validate() == [])
    }

    /// Each mutation breaks one rule; the error names the field and the kind of problem.
    @Test(
        arguments: [
            ("metadata.name", FieldError.Kind.invalid, { @Sendable (md: inout ModelDeployment) in md.metadata.name = "Fraud_Detector" }),
            ("metadata.name", .invalid, { $0.metadata.name = String(repeating: "a", count: 64) }),
            ("metadata.name", .required, { $0.metadata.name = nil }),
            ("metadata.namespace", .invalid, { $0.metadata.namespace = "-bad" }),
            ("metadata.labels.team", .invalid, { $0.metadata.labels = ["team": "has space"] }),
            ("spec.model.name", .required, { $0.spec.model.name = "" }),
            ("spec.model.name", .invalid, { $0.spec.model.name = "../etc" }),
            ("spec.model.version", .required, { $0.spec.model.version = "" }),
            ("spec.model.version", .invalid, { $0.spec.model.version = "v3" }),
            ("spec.model.version", .invalid, { $0.spec.model.version = "0" }),
            ("spec.model.uri", .invalid, { $0.spec.model.uri = "" }),
            ("spec.model.uri", .invalid, { $0.spec.model.uri = "s3://bucket/x" }),
            ("spec.model.uri", .invalid, { $0.spec.model.uri = "./models/fraud" }),
            ("spec.model.uri", .invalid, { $0.spec.model.uri = "file://host/models/fraud" }),
            ("spec.rollout.smokeInference", .typeInvalid, { $0.spec.rollout = .init(smokeInference: .array([])) }),
            ("spec.rollout.smokeInference.inputs", .required, { $0.spec.rollout = .init(smokeInference: .object(["outputs": .array([])])) }),
            (
                "spec.rollout.smokeInference.inputs[0].datatype", .required,
                {
                    $0.spec.rollout = .init(smokeInference: ["inputs": [["name": "INPUT0", "shape": [1], "data": [1]]]])
                }
            ),
            ("spec.backend", .required, { $0.spec.backend = .init() }),
            ("spec.backend", .forbidden, { $0.spec.backend.sagemaker = Fixtures.sagemaker().spec.backend.sagemaker }),
            ("spec.backend.triton.url", .invalid, { $0.spec.backend.triton?.url = "ftp://x" }),
            ("spec.backend.triton.url", .invalid, { $0.spec.backend.triton?.url = "http://user:secret@host:8000" }),
            ("spec.backend.triton.url", .invalid, { $0.spec.backend.triton?.url = "http://host:99999" }),
            ("spec.backend.triton.url", .required, { $0.spec.backend.triton?.url = "" }),
            ("spec.backend.triton.modelConfig", .typeInvalid, { $0.spec.backend.triton?.modelConfig = .array([]) }),
            ("spec.backend.triton.modelConfig.version_policy", .forbidden, { $0.spec.backend.triton?.modelConfig = .object(["version_policy": .object([:])]) }),
            ("spec.backend.triton.modelConfig.name", .invalid, { $0.spec.backend.triton?.modelConfig = .object(["name": "other"]) }),
            ("spec.rollout.progressDeadlineSeconds", .invalid, { $0.spec.rollout = .init(progressDeadlineSeconds: 0) }),
            ("spec.revisionHistoryLimit", .invalid, { $0.spec.revisionHistoryLimit = -1 }),
            ("apiVersion", .notSupported, { $0.apiVersion = "modelplane.dev/v1" }),
            ("kind", .notSupported, { $0.kind = "Deployment" }),
        ] as [(String, FieldError.Kind, @Sendable (inout ModelDeployment) -> Void)])
    func tritonRules(path: String, kind: FieldError.Kind, mutate: @Sendable (inout ModelDeployment) -> Void) {
        var md = Fixtures.triton()
        mutate(&md)
        let errors = md.validate()
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.path.description == path)
        #expect(errors.first?.kind == kind)
    }

    @Test(
        arguments: [
            ("spec.backend.sagemaker.region", { @Sendable (md: inout ModelDeployment) in md.spec.backend.sagemaker?.region = "useast1" }),
            ("spec.backend.sagemaker.region", { $0.spec.backend.sagemaker?.region = "" }),
            ("spec.backend.sagemaker.executionRoleArn", { $0.spec.backend.sagemaker?.executionRoleArn = "arn:aws:iam::123:role/x" }),
            ("spec.backend.sagemaker.instanceType", { $0.spec.backend.sagemaker?.instanceType = "m5.large" }),
            ("spec.backend.sagemaker.initialInstanceCount", { $0.spec.backend.sagemaker?.initialInstanceCount = 0 }),
            ("spec.backend.sagemaker.endpointName", { $0.spec.backend.sagemaker?.endpointName = "bad_name" }),
            ("spec.backend.sagemaker.image", { $0.spec.backend.sagemaker?.image = "" }),
            ("spec.model.uri", { $0.spec.model.uri = "./local/dir" }),
            ("spec.model.version", { $0.spec.model.version = "has space" }),
        ] as [(String, @Sendable (inout ModelDeployment) -> Void)])
    func sagemakerRules(path: String, mutate: @Sendable (inout ModelDeployment) -> Void) {
        var md = Fixtures.sagemaker()
        mutate(&md)
        let errors = md.validate()
        #expect(errors.map(\.path.description) == [path], "\(errors)")
    }

    @Test(
        arguments: [
            (
                "spec.backend.sagemaker.endpointURL", "Invalid value",
                { @Sendable (md: inout ModelDeployment) in md.spec.backend.sagemaker?.endpointURL = "ftp://x" }
            ),
            ("spec.backend.sagemaker.trafficRouting.stepPercent", "Required value", { $0.spec.backend.sagemaker?.trafficRouting = .init(type: .canary) }),
            (
                "spec.backend.sagemaker.trafficRouting.stepPercent", "Forbidden",
                { $0.spec.backend.sagemaker?.trafficRouting = .init(type: .allAtOnce, stepPercent: 5) }
            ),
            (
                "spec.backend.sagemaker.trafficRouting.stepPercent", "Invalid value",
                { $0.spec.backend.sagemaker?.trafficRouting = .init(type: .linear, stepPercent: 101) }
            ),
            (
                "spec.backend.sagemaker.trafficRouting.waitIntervalSeconds", "Invalid value",
                { $0.spec.backend.sagemaker?.trafficRouting = .init(type: .allAtOnce, waitIntervalSeconds: 3_601) }
            ),
            ("spec.backend.sagemaker.rollbackAlarms", "Too many", { $0.spec.backend.sagemaker?.rollbackAlarms = (0..<11).map { "a\($0)" } }),
            ("spec.backend.sagemaker.rollbackAlarms[0]", "Invalid value", { $0.spec.backend.sagemaker?.rollbackAlarms = [""] }),
            (
                "spec.backend.sagemaker.trafficRouting", "Forbidden",
                {
                    $0.spec.rollout = .init(strategy: .immediate)
                    $0.spec.backend.sagemaker?.trafficRouting = .init(type: .allAtOnce)
                }
            ),
        ] as [(String, String, @Sendable (inout ModelDeployment) -> Void)])
    func sagemakerRolloutRules(path: String, phrase: String, mutate: @Sendable (inout ModelDeployment) -> Void) {
        var md = Fixtures.sagemaker()
        md.spec.rollout = .init(strategy: .blueGreen)
        mutate(&md)
        let errors = md.validate()
        #expect(errors.map(\.path.description) == [path], "\(errors)")
        #expect(errors.first?.kind.phrase == phrase)
    }

    /// A canary with an analysis: each mutation breaks one rule, named at its field.
    static func analysed(_ md: ModelDeployment) -> ModelDeployment {
        var md = md
        md.spec.rollout = .init(
            strategy: .canary,
            canary: .init(
                steps: [.weight(10), .analysis(["errors"], count: 3)],
                analysis: .init(
                    interval: "10s",
                    metrics: [
                        .init(name: "errors", router: .errorRate, minRequests: 20, max: 0.01),
                        .init(name: "p99", prometheus: .init(address: "http://127.0.0.1:9090", query: "up"), max: 0.25),
                        .init(name: "hook", webhook: .init(url: "https://ci.example/check", secretRef: .init(name: "hooks", key: "hmac"))),
                    ])))
        return md
    }

    @Test(
        arguments: [
            ("spec.rollout.canary.analysis.interval", { @Sendable (md: inout ModelDeployment) in md.spec.rollout?.canary?.analysis?.interval = "10" }),
            (
                "spec.rollout.canary.analysis.metrics",
                {
                    $0.spec.rollout?.canary?.analysis?.metrics = []
                    $0.spec.rollout?.canary?.steps[1] = .pause()
                }
            ),
            ("spec.rollout.canary.analysis.metrics[0]", { $0.spec.rollout?.canary?.analysis?.metrics[0].prometheus = .init(address: "http://p", query: "up") }),
            ("spec.rollout.canary.analysis.metrics[1]", { $0.spec.rollout?.canary?.analysis?.metrics[1].prometheus = nil }),
            ("spec.rollout.canary.analysis.metrics[1].minRequests", { $0.spec.rollout?.canary?.analysis?.metrics[1].minRequests = 5 }),
            ("spec.rollout.canary.analysis.metrics[1].min", { $0.spec.rollout?.canary?.analysis?.metrics[1].min = 0.5 }),
            ("spec.rollout.canary.analysis.metrics[1].name", { $0.spec.rollout?.canary?.analysis?.metrics[1].name = "errors" }),
            (
                "spec.rollout.canary.analysis.metrics[1].prometheus.address",
                { $0.spec.rollout?.canary?.analysis?.metrics[1].prometheus?.address = "127.0.0.1:9090" }
            ),
            (
                "spec.rollout.canary.analysis.metrics[2].webhook.url",
                { $0.spec.rollout?.canary?.analysis?.metrics[2].webhook?.url = "https://u:token@ci.example/check" }
            ),
            ("spec.rollout.canary.analysis.metrics[0].count", { $0.spec.rollout?.canary?.analysis?.metrics[0].count = 0 }),
            ("spec.rollout.canary.analysis.metrics[0].failureLimit", { $0.spec.rollout?.canary?.analysis?.metrics[0].failureLimit = -1 }),
            ("spec.rollout.canary.steps[1].analysis.metrics[0]", { $0.spec.rollout?.canary?.steps[1] = .analysis(["latency"]) }),
            ("spec.rollout.canary.steps[1].analysis", { $0.spec.rollout?.canary?.steps[1] = .init(analysis: .init()) }),
            ("spec.rollout.canary.steps[0].analysis.shadow", { $0.spec.rollout?.canary?.steps[0] = .shadowGate(.init(minRequests: 10)) }),
            ("spec.rollout.canary.steps[1]", { $0.spec.rollout?.canary?.steps[1].setWeight = 5 }),
            ("spec.rollout.canary.steps[1].analysis.metrics[1]", { $0.spec.rollout?.canary?.steps[1] = .analysis(["errors", "errors"]) }),
            (
                "spec.rollout.canary.steps[1].analysis.shadow",
                { $0.spec.rollout?.canary?.steps[1] = .shadowGate(.init(minRequests: 10, minAgreement: 0.9)) }
            ),
            ("spec.rollout.canary.analysis.metrics[1].name", { $0.spec.rollout?.canary?.analysis?.metrics[1].name = "has space" }),
            (
                "spec.rollout.canary.analysis.metrics[2].webhook.secretRef.key",
                { $0.spec.rollout?.canary?.analysis?.metrics[2].webhook?.secretRef?.key = "../../etc/passwd" }
            ),
        ] as [(String, @Sendable (inout ModelDeployment) -> Void)])
    func analysisRules(path: String, mutate: @Sendable (inout ModelDeployment) -> Void) {
        var md = Self.analysed(Fixtures.triton())
        #expect(md.validate() == [])
        mutate(&md)
        let errors = md.validate()
        #expect(errors.map(\.path.description) == [path], "\(errors)")
        #expect(!errors.contains { $0.description.contains("token") }, "a URL's credentials are never quoted back")
    }

    @Test func blueGreenAnalysisRules() {
        var md = Fixtures.triton()
        md.spec.rollout = .init(
            strategy: .blueGreen,
            blueGreen: .init(
                prePromotionAnalysis: .init(shadow: .init(minRequests: 10, minAgreement: 0.9)), postPromotionAnalysis: .init(metrics: ["errors"], count: 3),
                analysis: .init(metrics: [.init(name: "errors", router: .errorRate, max: 0.01)])))
        #expect(md.validate() == [])
        var wrong = md
        wrong.spec.rollout?.blueGreen?.postPromotionAnalysis = .init(metrics: ["latency"])
        #expect(wrong.validate().map(\.description).first?.contains("names metrics of blueGreen.analysis.metrics") == true, "\(wrong.validate())")
        wrong = md
        wrong.spec.rollout?.blueGreen?.postPromotionAnalysis = .init(shadow: .init(minRequests: 1, minAgreement: 1))
        #expect(wrong.validate().map(\.path.description) == ["spec.rollout.blueGreen.postPromotionAnalysis.shadow"])
        wrong = md
        wrong.spec.rollout?.strategy = .canary
        #expect(wrong.validate().map(\.path.description) == ["spec.rollout.blueGreen"])
    }

    @Test func aShadowGateNeedsTheRouterToMirror() {
        var md = Self.analysed(Fixtures.sagemaker())
        #expect(md.validate() == [], "metric analysis works for SageMaker")
        md.spec.rollout?.canary?.steps[0] = .shadowGate(.init(minRequests: 10, minAgreement: 0.9))
        #expect(md.validate().map(\.path.description) == ["spec.rollout.canary.steps[0].analysis.shadow"])
    }

    @Test func blueGreenSageMakerSettingsAreValid() {
        var md = Fixtures.sagemaker()
        md.spec.rollout = .init(strategy: .blueGreen)
        md.spec.backend.sagemaker?.trafficRouting = .init(type: .linear, stepPercent: 25, waitIntervalSeconds: 300)
        md.spec.backend.sagemaker?.rollbackAlarms = ["churn-latency-p99", "churn-5xx"]
        md.spec.backend.sagemaker?.endpointURL = "https://api.sagemaker.us-east-1.vpce.example.com"
        #expect(md.validate() == [])
    }

    @Test func sagemakerVersionsNeedNotBeIntegers() {
        var md = Fixtures.sagemaker()
        md.spec.model.version = "2024-11-03"
        #expect(md.validate() == [])
    }

    @Test func neverEchoesURLCredentials() {
        var md = Fixtures.triton()
        md.spec.backend.triton?.url = "https://svc:p%40ss@triton.example:8443/v2"
        let text = md.validate().map(\.description).joined()
        #expect(!text.contains("p%40ss") && !text.contains("svc:"))
        #expect(text.contains("\"https://***@triton.example:8443/v2\""))
    }

    @Test func errorsReadLikeKubectl() {
        var md = Fixtures.triton()
        md.spec.model.version = ""
        #expect(md.validate().first?.description == "spec.model.version: Required value: the version to serve must not be empty")
    }
}

@Suite struct DefaultingTests {
    @Test func fillsEveryDefault() {
        var md = Fixtures.sagemaker()
        md.metadata.namespace = nil
        md.applyDefaults()
        #expect(md.metadata.namespace == "default")
        #expect(md.spec.rollout?.strategy == .immediate)
        #expect(md.spec.rollout?.progressDeadlineSeconds == 600)
        #expect(md.spec.revisionHistoryLimit == 10)
        #expect(md.spec.backend.sagemaker?.initialInstanceCount == 1)
        #expect(md.spec.backend.sagemaker?.endpointName == "churn")
    }

    @Test func keepsWhatTheUserSet() {
        var md = Fixtures.triton()
        md.spec.rollout = .init(strategy: .blueGreen, progressDeadlineSeconds: 30)
        md.spec.revisionHistoryLimit = 2
        md.applyDefaults()
        #expect(md.spec.rollout == .init(strategy: .blueGreen, progressDeadlineSeconds: 30))
        #expect(md.spec.revisionHistoryLimit == 2)
    }

    @Test func isIdempotent() {
        let once = Fixtures.sagemaker().defaulted()
        #expect(once.defaulted() == once)
    }
}

@Suite struct RevisionHashTests {
    @Test func isStableAndShort() {
        let hash = Fixtures.triton().spec.revisionHash
        #expect(hash == Fixtures.triton().spec.revisionHash)
        #expect(hash.count == 10)
        #expect(hash.allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) })
    }

    /// Stored revisions and SageMaker resource names carry the hash: it must come out as every
    /// earlier version computed it, from the spec's model and backend encoded as JSON.
    @Test func isTheHashEarlierVersionsComputed() throws {
        struct Serving: Encodable {
            var model: ModelDeployment.Model
            var backend: ModelDeployment.Backend
        }
        var md = Fixtures.triton()
        md.spec.backend.triton?.modelConfig = .object(["max_batch_size": .int(16), "parameters": ["a": "b\u{e9}\n"]])
        let encoded = try JSONValueCoding.encode(Serving(model: md.spec.model, backend: md.spec.backend))
        #expect(md.spec.servingRelevantJSON == encoded)
        #expect(md.spec.revisionHash == FNV1a.safeHash(encoded.canonicalText))
        #expect(Fixtures.triton().spec.revisionHash == "wvxcfrnvkq")
    }

    @Test func changesWithWhatServes() {
        let base = Fixtures.triton().spec.revisionHash
        #expect(Fixtures.triton(version: "4").spec.revisionHash != base)
        var md = Fixtures.triton()
        md.spec.backend.triton?.modelConfig = .object(["max_batch_size": .int(16)])
        #expect(md.spec.revisionHash != base)
    }

    @Test func ignoresHowItRollsOutAndKeyOrder() {
        var md = Fixtures.triton()
        let base = md.spec.revisionHash
        md.spec.rollout = .init(strategy: .blueGreen, progressDeadlineSeconds: 10)
        md.spec.revisionHistoryLimit = 3
        md.metadata.labels = ["a": "b"]
        #expect(md.spec.revisionHash == base)
        var a = Fixtures.triton()
        a.spec.backend.triton?.modelConfig = .object(["x": .int(1), "y": .object(["p": .int(1), "q": .int(2)])])
        var b = Fixtures.triton()
        b.spec.backend.triton?.modelConfig = .object(["y": .object(["q": .int(2), "p": .int(1)]), "x": .int(1)])
        #expect(a.spec.revisionHash == b.spec.revisionHash)
    }
}
