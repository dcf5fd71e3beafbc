public import AWS
public import ModelplaneAPI

/// What SageMaker should do next for one ModelDeployment. Pure, like `TritonPlanner`: the
/// reconciler executes steps, requeues while SageMaker works (never blocking a worker), and
/// observes again.
public enum SageMakerStep: Sendable, Hashable, CustomStringConvertible {
    /// The endpoint is InService on this revision's config, at the spec's capacity, with nothing
    /// left to clean up.
    case converged
    case createModel(String)
    case createEndpointConfig(String)
    case createEndpoint(endpoint: String, config: String)
    /// Move an InService endpoint to this revision's config (SageMaker rolls it out).
    case updateEndpoint(endpoint: String, config: String)
    /// Only the instance count changed: UpdateEndpointWeightsAndCapacities, no new fleet.
    case updateCapacity(endpoint: String, variant: String, count: Int64)
    /// A model and endpoint config of ours beyond the revision history, serving nothing.
    case deleteResources(String)
    /// SageMaker is busy with the endpoint (Creating, Updating, RollingBack, …): look again later;
    /// never a second update while one is in progress.
    case wait(status: EndpointStatus)
    /// A Failed endpoint on an older config cannot be updated: delete it, then create it anew.
    case deleteEndpoint(String)
    /// Failed, or UpdateRollbackFailed, on the desired config: nothing to do but report it.
    case failed(status: EndpointStatus, reason: String)
    /// The update to this revision was rolled back, and a retry is not due yet.
    case blocked(String)
    /// A canary's endpoint config: the stable version's variant and the canary's, weighted (or
    /// the serving version's variant and a shadow variant).
    case createSplitConfig(String)
    /// The shadow version's own Model, from `spec.shadow.uri`.
    case createShadowModel(String)
    /// A shadow version's Model no config uses any more.
    case deleteShadowModel(String)
    /// The endpoint serves the canary's config; its variants' weights follow the canary's step
    /// (UpdateEndpointWeightsAndCapacities; the instance count is restated).
    case updateWeights(endpoint: String, weights: [VariantWeight], count: Int64)
    /// A canary's endpoint config nothing uses any more.
    case deleteSplitConfig(String)

    public var description: String {
        switch self {
        case .converged: "nothing to do"
        case .createModel(let name): "CreateModel \(name)"
        case .createEndpointConfig(let name): "CreateEndpointConfig \(name)"
        case .createEndpoint(let endpoint, let config): "CreateEndpoint \(endpoint) with \(config)"
        case .updateEndpoint(let endpoint, let config): "UpdateEndpoint \(endpoint) to \(config)"
        case .updateCapacity(let endpoint, let variant, let count):
            "UpdateEndpointWeightsAndCapacities \(endpoint): variant \(variant) to \(count) instance\(count == 1 ? "" : "s")"
        case .deleteResources(let name): "DeleteEndpointConfig and DeleteModel \(name) (beyond the revision history)"
        case .wait(let status): "wait: the endpoint is \(status)"
        case .deleteEndpoint(let name): "DeleteEndpoint \(name) (Failed; it is created again afterwards)"
        case .failed(let status, let reason): "none: the endpoint is \(status): \(reason)"
        case .blocked(let reason): "none until a retry is due: \(reason)"
        case .createSplitConfig(let name): "CreateEndpointConfig \(name) (several variants: a canary's, or a shadow's)"
        case .createShadowModel(let name): "CreateModel \(name) (the shadow version)"
        case .deleteShadowModel(let name): "DeleteModel \(name) (a shadow version's, no longer used)"
        case .updateWeights(let endpoint, let weights, _):
            "UpdateEndpointWeightsAndCapacities \(endpoint): " + weights.map { "\($0.variant) \(Int64($0.weight.rounded())) %" }.joined(separator: ", ")
        case .deleteSplitConfig(let name): "DeleteEndpointConfig \(name) (a canary's, no longer used)"
        }
    }
}

/// A production variant's share of an endpoint's requests.
public struct VariantWeight: Sendable, Hashable {
    public var variant: String
    public var weight: Double

    public init(_ variant: String, _ weight: Double) {
        self.variant = variant
        self.weight = weight
    }
}

public struct SageMakerPlanInput: Sendable {
    public var endpoint: String
    /// This revision's Model and EndpointConfig name.
    public var name: String
    public var instanceCount: Int64
    public var observed: SageMakerObservation
    /// Why the update to this revision failed, while a retry is not due.
    public var failedForThisGeneration: String?
    /// Our models and configs beyond the revision history (never the serving or the desired one).
    public var obsolete: [String]
    /// `name`'s model and config are known to exist (the record has them: an aborted canary goes
    /// back to the stable version's own), whatever `observed` says of them.
    public var known: Bool
    /// While a canary runs: the config of weighted variants the endpoint must serve.
    public var split: Split?
    /// Canary configs nothing uses any more.
    public var obsoleteSplits: [String]
    /// The endpoint serves a canary's config and moves off it: the variant that must take every
    /// request first (the version kept), so that no request reaches the other one while SageMaker
    /// replaces the fleet.
    public var drainTo: String?
    /// The shadow version's Model, when the record does not have it yet.
    public var shadowModel: String?
    /// Shadow versions' Models nothing uses any more.
    public var obsoleteShadowModels: [String]

    public struct Split: Sendable, Hashable {
        public var config: String
        /// The record says it was created.
        public var exists: Bool
        public var weights: [VariantWeight]

        public init(config: String, exists: Bool, weights: [VariantWeight]) {
            self.config = config
            self.exists = exists
            self.weights = weights
        }
    }

    public init(
        endpoint: String, name: String, instanceCount: Int64 = 1, observed: SageMakerObservation, failedForThisGeneration: String? = nil,
        obsolete: [String] = [], known: Bool = false, split: Split? = nil, obsoleteSplits: [String] = [], drainTo: String? = nil,
        shadowModel: String? = nil, obsoleteShadowModels: [String] = []
    ) {
        self.shadowModel = shadowModel
        self.obsoleteShadowModels = obsoleteShadowModels
        self.drainTo = drainTo
        self.endpoint = endpoint
        self.name = name
        self.instanceCount = instanceCount
        self.observed = observed
        self.failedForThisGeneration = failedForThisGeneration
        self.obsolete = obsolete
        self.known = known
        self.split = split
        self.obsoleteSplits = obsoleteSplits
    }

    /// The endpoint config the endpoint must serve.
    public var config: String { split?.config ?? name }
}

public enum SageMakerPlanner {
    /// Every state but the three the planner acts on; a state SageMaker adds later counts as busy.
    static func busy(_ status: EndpointStatus) -> Bool { ![.inService, .failed, .updateRollbackFailed].contains(status) }

    public static func next(_ input: SageMakerPlanInput) -> SageMakerStep {
        let observed = input.observed
        let config = input.config
        if let status = observed.endpointStatus, busy(status) { return .wait(status: status) }
        switch observed.endpointStatus {
        case .failed? where observed.endpointConfigName != config: return .deleteEndpoint(input.endpoint)
        case .failed?, .updateRollbackFailed?: return .failed(status: observed.endpointStatus!, reason: observed.failureReason ?? "no reason given")
        default: break
        }
        if observed.endpointStatus == .inService, observed.endpointConfigName == config {
            if let split = input.split {
                // (A variant shown without a weight has none: moto leaves out a weight of 0.)
                let moved = split.weights.allSatisfy { want in
                    observed.variants.first { $0.name == want.variant }.map { abs(($0.weight ?? 0) - want.weight) < 0.001 } ?? false
                }
                let scaled = observed.instanceCount.map { $0 != input.instanceCount } ?? false
                if !moved || scaled { return .updateWeights(endpoint: input.endpoint, weights: split.weights, count: input.instanceCount) }
            } else if let count = observed.instanceCount, count != input.instanceCount {
                return .updateCapacity(endpoint: input.endpoint, variant: observed.variantName ?? SageMakerResources.variant, count: input.instanceCount)
            }
            if let old = input.obsoleteSplits.first(where: { $0 != config }) { return .deleteSplitConfig(old) }
            if let old = input.obsoleteShadowModels.first { return .deleteShadowModel(old) }
            if let old = input.obsolete.first(where: { $0 != config }) { return .deleteResources(old) }
            return .converged
        }
        if let failure = input.failedForThisGeneration { return .blocked(failure) }
        // Models and configs are immutable: a revision gets its own, created before the endpoint
        // moves (a canary's too, so the canary's own config is there when it completes).
        if !input.known {
            if !observed.modelExists { return .createModel(input.name) }
            if !observed.configExists { return .createEndpointConfig(input.name) }
        }
        if let shadow = input.shadowModel { return .createShadowModel(shadow) }
        if let split = input.split, !split.exists { return .createSplitConfig(split.config) }
        if let keep = input.drainTo, observed.endpointStatus == .inService, observed.variants.count > 1,
            observed.variants.contains(where: { $0.name == keep }),
            !observed.variants.allSatisfy({ abs(($0.weight ?? 0) - ($0.name == keep ? 100 : 0)) < 0.001 })
        {
            return .updateWeights(
                endpoint: input.endpoint, weights: observed.variants.map { VariantWeight($0.name, $0.name == keep ? 100 : 0) }, count: input.instanceCount)
        }
        guard observed.endpointStatus != nil else { return .createEndpoint(endpoint: input.endpoint, config: config) }
        return .updateEndpoint(endpoint: input.endpoint, config: config)
    }
}

/// One production variant of a canary's endpoint config.
public struct SplitVariant: Sendable, Hashable {
    public var variant: String
    public var model: String
    public var version: String
    public var weight: Double

    public init(variant: String, model: String, version: String, weight: Double) {
        self.variant = variant
        self.model = model
        self.version = version
        self.weight = weight
    }
}

/// Deterministic names and request bodies for a deployment's revision.
public enum SageMakerResources {
    /// The one production variant's name.
    public static let variant = "primary"

    /// `NAME-HASH` within SageMaker's 63 characters: the deployment name (a DNS label, so already
    /// within SageMaker's alphabet) shortened if needed, then the hash.
    public static func name(deployment: String, hash: String) -> String {
        var base = String(deployment.prefix(63 - hash.count - 1))
        while base.hasSuffix("-") { base.removeLast() }
        return "\(base)-\(hash)"
    }

    /// A hash of the owner (namespace/name: equal specs in two namespaces never share a model)
    /// and what a Model and its EndpointConfig hold: the model (name, version, artifact), the
    /// image, the role and the instance type. The instance count, the endpoint's name or URL
    /// and the rollout settings are left out: changing them needs no new model or config.
    public static func hash(_ md: ModelDeployment) -> String {
        let sagemaker = md.spec.backend.sagemaker
        let fields: JSONValue = [
            "deployment": .string(owner(md)), "model": .string(md.spec.model.name), "version": .string(md.spec.model.version),
            "uri": md.spec.model.uri.map(JSONValue.string) ?? .null,
            "image": .string(sagemaker?.image ?? ""), "role": .string(sagemaker?.executionRoleArn ?? ""),
            "instanceType": .string(sagemaker?.instanceType ?? ""),
        ]
        return FNV1a.safeHash(fields.canonicalText)
    }

    /// The models/configs in `resources` to delete: beyond the newest `historyLimit`, never the
    /// desired one, the one serving, or the one an update is moving to.
    public static func obsolete(
        _ resources: [ModelDeployment.SageMakerResource], desired: String, serving: String?, pending: String?, historyLimit: Int64?,
        keep: Set<String> = []
    ) -> [String] {
        let others = resources.filter { $0.name != desired && $0.name != serving && $0.name != pending && !keep.contains($0.name) }
        return others.dropLast(Int(historyLimit ?? ModelDeployment.Defaults.revisionHistoryLimit)).map(\.name)
    }

    /// This revision's Model and EndpointConfig name.
    public static func name(_ md: ModelDeployment) -> String { name(deployment: md.metadata.name ?? "", hash: hash(md)) }

    public static func endpointName(_ md: ModelDeployment) -> String { md.spec.backend.sagemaker?.endpointName ?? md.metadata.name ?? "" }

    public static let ownerTag = "modelplane.dev/owner"

    /// `namespace/name`, the owner tag's value.
    public static func owner(_ md: ModelDeployment) -> String { "\(md.metadata.namespace ?? "default")/\(md.metadata.name ?? "")" }

    /// Tags every resource carries: which deployment owns it, and which revision it serves.
    public static func tags(_ md: ModelDeployment) -> JSONValue {
        [
            ["Key": .string(ownerTag), "Value": .string(owner(md))],
            ["Key": "modelplane.dev/revision-hash", "Value": .string(md.spec.revisionHash)],
        ]
    }

    public static func createModel(_ md: ModelDeployment, name: String) -> JSONValue {
        let sagemaker = md.spec.backend.sagemaker
        var container: [String: JSONValue] = ["Image": .string(sagemaker?.image ?? "")]
        if let uri = md.spec.model.uri { container["ModelDataUrl"] = .string(uri) }
        return [
            "ModelName": .string(name), "ExecutionRoleArn": .string(sagemaker?.executionRoleArn ?? ""), "PrimaryContainer": .object(container),
            "Tags": tags(md),
        ]
    }

    public static func createEndpointConfig(_ md: ModelDeployment, name: String, model: String) -> JSONValue {
        let sagemaker = md.spec.backend.sagemaker
        return [
            "EndpointConfigName": .string(name),
            "ProductionVariants": [
                [
                    "VariantName": .string(variant), "ModelName": .string(model), "InstanceType": .string(sagemaker?.instanceType ?? ""),
                    "InitialInstanceCount": .int(sagemaker?.initialInstanceCount ?? ModelDeployment.Defaults.initialInstanceCount),
                    "InitialVariantWeight": 1.0,
                ]
            ],
            "Tags": tags(md),
        ]
    }

    public static func createEndpoint(_ md: ModelDeployment, endpoint: String, config: String) -> JSONValue {
        ["EndpointName": .string(endpoint), "EndpointConfigName": .string(config), "Tags": tags(md)]
    }

    public static func updateEndpoint(endpoint: String, config: String) -> JSONValue {
        ["EndpointName": .string(endpoint), "EndpointConfigName": .string(config)]
    }

    /// UpdateEndpoint for `md`: BlueGreen rollouts pass a DeploymentConfig (traffic routing from
    /// the spec, all at once by default, and the spec's rollback alarms); Immediate leaves
    /// SageMaker's default.
    public static func updateEndpoint(_ md: ModelDeployment, endpoint: String, config: String) -> JSONValue {
        var body = updateEndpoint(endpoint: endpoint, config: config)
        if let deployment = deploymentConfig(md) { body["DeploymentConfig"] = deployment }
        return body
    }

    public static func deploymentConfig(_ md: ModelDeployment) -> JSONValue? {
        guard md.spec.rollout?.strategy == .blueGreen, let sagemaker = md.spec.backend.sagemaker else { return nil }
        let routing = sagemaker.trafficRouting ?? .init(type: .allAtOnce)
        var traffic: JSONValue = ["Type": .string(routing.type.wireValue), "WaitIntervalInSeconds": .int(routing.waitIntervalSeconds ?? 0)]
        if let step = routing.stepPercent {
            let size: JSONValue = ["Type": "CAPACITY_PERCENT", "Value": .int(step)]
            traffic[routing.type == .linear ? "LinearStepSize" : "CanarySize"] = size
        }
        var config: JSONValue = ["BlueGreenUpdatePolicy": ["TrafficRoutingConfiguration": traffic]]
        if let alarms = sagemaker.rollbackAlarms, !alarms.isEmpty {
            config["AutoRollbackConfiguration"] = ["Alarms": .array(alarms.map { ["AlarmName": .string($0)] })]
        }
        return config
    }

    /// An endpoint config of several variants: a canary's (one weighted production variant per
    /// version, each on its own model), or the serving version's with a shadow variant, which
    /// SageMaker sends a copy of the share of requests its weight is of the production variant's.
    public static func createSplitConfig(_ md: ModelDeployment, name: String, variants: [SplitVariant], shadow: SplitVariant? = nil) -> JSONValue {
        let sagemaker = md.spec.backend.sagemaker
        func variant(_ variant: SplitVariant) -> JSONValue {
            [
                "VariantName": .string(variant.variant), "ModelName": .string(variant.model), "InstanceType": .string(sagemaker?.instanceType ?? ""),
                "InitialInstanceCount": .int(sagemaker?.initialInstanceCount ?? ModelDeployment.Defaults.initialInstanceCount),
                "InitialVariantWeight": .double(variant.weight),
            ]
        }
        var body: JSONValue = ["EndpointConfigName": .string(name), "ProductionVariants": .array(variants.map(variant)), "Tags": tags(md)]
        if let shadow { body["ShadowProductionVariants"] = [variant(shadow)] }
        return body
    }

    /// The deployment as it would be serving its shadow version: what the shadow's Model is made
    /// from, and its name (the same the version gets if it is promoted to serve).
    public static func shadowDeployment(_ md: ModelDeployment) -> ModelDeployment? {
        guard let shadow = md.spec.shadow, let uri = shadow.uri else { return nil }
        var copy = md
        copy.spec.model.version = shadow.version
        copy.spec.model.uri = uri
        return copy
    }

    /// The name of the config splitting an endpoint between these models.
    public static func splitName(deployment: String, models: [String]) -> String {
        name(deployment: deployment, hash: FNV1a.safeHash("split:" + models.joined(separator: "+")))
    }

    public static func updateWeights(endpoint: String, weights: [VariantWeight], count: Int64) -> JSONValue {
        [
            "EndpointName": .string(endpoint),
            "DesiredWeightsAndCapacities": .array(
                weights.map { ["VariantName": .string($0.variant), "DesiredWeight": .double($0.weight), "DesiredInstanceCount": .int(count)] }),
        ]
    }

    public static func updateCapacity(endpoint: String, variant: String, count: Int64) -> JSONValue {
        ["EndpointName": .string(endpoint), "DesiredWeightsAndCapacities": [["VariantName": .string(variant), "DesiredInstanceCount": .int(count)]]]
    }
}
