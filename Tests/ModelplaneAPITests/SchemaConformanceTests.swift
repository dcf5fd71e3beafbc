import Foundation
import ModelplaneAPI
import Testing

/// The schema (source of the CRD) and the Swift types must describe the same object. These tests
/// check it both ways on an instance with every field set: everything the types encode is in the
/// schema, and everything the schema declares is something the types encode.
@Suite struct SchemaConformanceTests {
    static func everyFieldSet() -> ModelDeployment {
        var md = Fixtures.triton()
        md.spec.backend.sagemaker = Fixtures.sagemaker().spec.backend.sagemaker
        md.spec.backend.sagemaker?.initialInstanceCount = 2
        md.spec.backend.sagemaker?.endpointName = "churn"
        md.spec.backend.sagemaker?.endpointURL = "http://127.0.0.1:5000"
        md.spec.backend.sagemaker?.trafficRouting = .init(type: .canary, stepPercent: 10, waitIntervalSeconds: 60)
        md.spec.backend.sagemaker?.rollbackAlarms = ["churn-5xx"]
        // Every field of an analysis, once (the conformance test writes them all, valid or not).
        let gate = ModelDeployment.ShadowGate(
            minRequests: 5, minAgreement: 0.9, maxMeanAbsDiff: 0.1, compare: .init(output: "O", mode: .absolute, tolerance: 0.002))
        let analysis = ModelDeployment.CanaryAnalysis(
            interval: "10s",
            metrics: [
                .init(
                    name: "e", router: .errorRate, minRequests: 5, prometheus: .init(address: "http://p:9090", query: "up"),
                    webhook: .init(url: "http://h", secretRef: .init(name: "s", key: "k")), max: 0.75, min: 0.25, interval: "5s", count: 3,
                    failureLimit: 1, inconclusiveLimit: 2, consecutiveErrorLimit: 3)
            ], background: true, startingStep: 1, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4)
        md.spec.rollout = .init(
            strategy: .blueGreen,
            canary: .init(
                steps: [
                    .init(
                        setWeight: 10, pause: .init(duration: "30s"),
                        analysis: .init(metrics: ["e"], count: 2, shadow: gate))
                ],
                analysis: analysis),
            blueGreen: .init(
                prePromotionAnalysis: .init(metrics: ["e"], count: 2, shadow: gate), postPromotionAnalysis: .init(metrics: ["e"], count: 3, shadow: gate),
                analysis: analysis),
            progressDeadlineSeconds: 60,
            smokeInference: ["inputs": [["name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [1]]]])
        md.spec.revisionHistoryLimit = 5
        md.spec.shadow = .init(
            version: "4", percent: 50, compare: .init(output: "OUTPUT0", mode: .absolute, tolerance: 0.001), uri: "s3://models/m/4/model.tar.gz")
        md.spec.capture = .init(sampleRate: 0.25, maxBytes: "1Mi")
        md.metadata.generateName = "fraud-"
        md.metadata.uid = "u"
        md.metadata.resourceVersion = "1"
        md.metadata.generation = 1
        md.metadata.creationTimestamp = "2026-01-01T00:00:00Z"
        md.metadata.deletionTimestamp = "2026-01-01T00:00:00Z"
        md.metadata.deletionGracePeriodSeconds = 0
        md.metadata.labels = ["l": "v"]
        md.metadata.annotations = ["a": "v"]
        md.metadata.finalizers = ["modelplane.dev/cleanup"]
        md.metadata.ownerReferences = [OwnerReference(apiVersion: "v1", kind: "K", name: "n", uid: "u", controller: true, blockOwnerDeletion: true)]
        md.metadata.managedFields = [.object([:])]
        var status = ModelDeployment.Status()
        status.observedGeneration = 1
        status.phase = .ready
        status.servingVersion = "3"
        status.currentRevision = "abc"
        status.backend = "triton"
        status.conditions = [
            Condition(type: "Ready", status: .true, observedGeneration: 1, lastTransitionTime: "2026-01-01T00:00:00Z", reason: "Serving", message: "ok")
        ]
        status.revisions = [
            .init(revision: 1, hash: "h", version: "3", createdAt: "2026-01-01T00:00:00Z", cause: "created", spec: ["model": ["name": "m"]])
        ]
        status.triton = .init(url: "http://t:8000", model: "m", origin: .adopted)
        status.sagemaker = .init(
            region: "us-east-1", endpointURL: "http://127.0.0.1:5000", endpoint: "churn", resources: [.init(name: "churn-b", version: "3")],
            pendingConfig: "churn-b", splitConfigs: ["churn-s"],
            shadowConfigs: [.init(name: "churn-w", version: "3")], shadowModels: [.init(name: "churn-x", version: "4")])
        status.extensions = ["scripted": ["model": "m", "adopted": false]]
        status.traffic = [.init(revision: "2", version: "3", weight: 100, role: .stable)]
        status.trafficSummary = "3:100"
        status.canary = .init(
            stableVersion: "2", stableRevision: "1", canaryVersion: "3", canaryRevision: "2", phase: .paused, step: 1,
            stepStartedAt: "2026-01-01T00:00:00Z", weight: 10, message: "waiting", lastRequest: "a1",
            lastRequestRefused: "no", startedAt: "2026-01-01T00:00:00.000000Z")
        status.analysis = .init(runs: [
            .init(
                name: "step 2", step: 1, canaryVersion: "3", canaryRevision: "2", phase: .failed, startedAt: "2026-01-01T00:00:00.000000Z",
                finishedAt: "2026-01-01T00:00:10.000000Z", message: "e is 2.5, above its maximum 0.75",
                metrics: [
                    .init(
                        name: "e", phase: .failed, threshold: "between 0.25 and 0.75", measured: 1, failed: 1, inconclusive: 0, errors: 0, consecutiveErrors: 0,
                        value: 2.5, message: "e is 2.5", measuredAt: "2026-01-01T00:00:10.000000Z", nextAt: "2026-01-01T00:00:20.000000Z")
                ])
        ])
        status.shadow = .init(
            version: "4", since: "2026-01-01T00:00:00Z", mirrored: 10, dropped: 1, compared: 9, agreement: 0.5, meanAbsDiff: 0.25, errors: 0,
            latency: .init(primaryP50Ms: 1.5, primaryP99Ms: 2.5, shadowP50Ms: 3.5, shadowP99Ms: 4.5))
        md.status = status
        return md
    }

    /// Field paths the schema declares (array items as [0]); free-form subtrees are leaves.
    static func schemaPaths(_ schema: Schema, _ prefix: String = "") -> Set<String> {
        switch schema {
        case .object(let o):
            return o.properties.reduce(into: Set<String>()) { acc, p in
                let path = prefix.isEmpty ? p.name : "\(prefix).\(p.name)"
                acc.insert(path)
                acc.formUnion(schemaPaths(p.schema, path))
            }
        case .array(let items, _, _): return schemaPaths(items, prefix + "[0]")
        default: return []
        }
    }

    static func valuePaths(_ value: JSONValue, _ schema: Schema, _ prefix: String = "") -> Set<String> {
        switch (value, schema) {
        case (.object(let members), .object(let o)):
            return members.reduce(into: Set<String>()) { acc, member in
                let path = prefix.isEmpty ? member.key : "\(prefix).\(member.key)"
                acc.insert(path)
                if let p = o.property(member.key) { acc.formUnion(valuePaths(member.value, p.schema, path)) }
            }
        case (.array(let items), .array(let itemSchema, _, _)):
            return items.first.map { valuePaths($0, itemSchema, prefix + "[0]") } ?? []
        default: return []
        }
    }

    @Test func typesAndSchemaDeclareTheSameFields() throws {
        let encoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(Self.everyFieldSet()))
        let declared = Self.schemaPaths(ModelDeployment.schema)
        let written = Self.valuePaths(encoded, ModelDeployment.schema)
        #expect(written.subtracting(declared).sorted() == [], "encoded by the types but missing from the schema")
        #expect(declared.subtracting(written).sorted() == [], "declared by the schema but never encoded by the types")
    }

    @Test func everyFieldInstancePassesTheStructuralCheck() throws {
        let encoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(Self.everyFieldSet()))
        var errors: [FieldError] = []
        ModelDeployment.schema.check(encoded, into: &errors)
        #expect(errors == [])
    }

    @Test func crdIsStructuralWithStatusAndColumns() {
        let crd = CustomResourceDefinition.modelDeployment
        let version = crd["spec"]?["versions"].flatMap { if case .array(let a) = $0 { a.first } else { nil } }
        #expect(crd["metadata"]?["name"] == "modeldeployments.modelplane.dev")
        #expect(version?["subresources"]?["status"] == .object([:]))
        var columns: [String] = []
        if case .array(let items)? = version?["additionalPrinterColumns"] {
            columns = items.compactMap { $0["name"]?.stringValue }
        }
        for required in ["Model", "Version", "Backend", "Ready", "Phase", "Age"] {
            #expect(columns.contains(required))
        }
        let schema = version?["schema"]?["openAPIV3Schema"]
        #expect(schema?["properties"]?["metadata"] == .object(["type": "object", "description": .string(ObjectMeta.schema.description)]))
        #expect(schema?["properties"]?["spec"]?["properties"]?["backend"]?["x-kubernetes-validations"] != nil)
    }
}

/// The defaults the API server stores at admission come from the schema (so a cluster with the
/// CRD fills the same ones); the Swift defaulting the CLI compares with must agree with it.
@Suite struct SchemaDefaultsTests {
    static let cases: [ModelDeployment] = [
        ModelDeployment(name: "t", spec: .init(model: .init(name: "m", version: "1"), backend: .init(triton: .init(url: "http://triton:8000")))),
        ModelDeployment(
            name: "s",
            spec: .init(
                model: .init(name: "m", version: "v1", uri: "s3://b/m.tar.gz"),
                backend: .init(
                    sagemaker: .init(
                        region: "us-east-1", image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1",
                        executionRoleArn: "arn:aws:iam::123456789012:role/R", instanceType: "ml.m5.large")),
                rollout: .init(strategy: .blueGreen))),
    ]

    @Test(arguments: cases) func theSchemasDefaultsAreTheSwiftOnes(_ md: ModelDeployment) throws {
        var json = try JSONValueCoding.encode(md)
        ModelDeployment.schema.applyDefaults(to: &json)
        #expect(json == (try JSONValueCoding.encode(md.withSchemaDefaults())))
        // What was given stays; what was missing is filled.
        #expect(json["spec"]?["rollout"]?["strategy"] == .string((md.spec.rollout?.strategy ?? .immediate).rawValue))
        #expect(json["spec"]?["revisionHistoryLimit"] == 10)
    }
}
