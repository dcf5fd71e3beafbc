public import ModelplaneAPI

/// What SageMaker should do next for one ModelDeployment. Pure, like `TritonPlanner`: the
/// reconciler executes one step, requeues while SageMaker works (never blocking a worker), and
/// observes again.
public enum SageMakerStep: Sendable, Hashable, CustomStringConvertible {
    /// The endpoint is InService on this revision's config.
    case converged
    case createModel(String)
    case createEndpointConfig(String)
    case createEndpoint(endpoint: String, config: String)
    /// Move an InService endpoint to this revision's config (SageMaker rolls it out).
    case updateEndpoint(endpoint: String, config: String)
    /// SageMaker is busy with the endpoint (Creating, Updating, RollingBack, …): look again later;
    /// never a second update while one is in progress.
    case wait(status: String)
    /// A Failed endpoint on an older config cannot be updated: delete it, then create it anew.
    case deleteEndpoint(String)
    /// Failed, or UpdateRollbackFailed, on the desired config: nothing to do but report it.
    case failed(status: String, reason: String)

    public var description: String {
        switch self {
        case .converged: "nothing to do"
        case .createModel(let name): "CreateModel \(name)"
        case .createEndpointConfig(let name): "CreateEndpointConfig \(name)"
        case .createEndpoint(let endpoint, let config): "CreateEndpoint \(endpoint) with \(config)"
        case .updateEndpoint(let endpoint, let config): "UpdateEndpoint \(endpoint) to \(config)"
        case .wait(let status): "wait: the endpoint is \(status)"
        case .deleteEndpoint(let name): "DeleteEndpoint \(name) (Failed; it is created again afterwards)"
        case .failed(let status, let reason): "none: the endpoint is \(status): \(reason)"
        }
    }
}

/// What SageMaker has, as DescribeEndpoint / DescribeModel / DescribeEndpointConfig show it.
public struct SageMakerObservation: Sendable, Hashable {
    /// nil: no such endpoint.
    public var endpointStatus: String?
    public var endpointConfigName: String?
    public var failureReason: String?
    public var modelExists: Bool
    public var configExists: Bool

    public init(endpointStatus: String? = nil, endpointConfigName: String? = nil, failureReason: String? = nil, modelExists: Bool, configExists: Bool) {
        self.endpointStatus = endpointStatus
        self.endpointConfigName = endpointConfigName
        self.failureReason = failureReason
        self.modelExists = modelExists
        self.configExists = configExists
    }
}

public enum SageMakerPlanner {
    static let busy: Set<String> = ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "OutOfService"]

    public static func next(endpoint: String, model: String, config: String, observed: SageMakerObservation) -> SageMakerStep {
        if let status = observed.endpointStatus, busy.contains(status) { return .wait(status: status) }
        switch observed.endpointStatus {
        case "Failed" where observed.endpointConfigName != config: return .deleteEndpoint(endpoint)
        case "Failed", "UpdateRollbackFailed": return .failed(status: observed.endpointStatus!, reason: observed.failureReason ?? "no reason given")
        default: break
        }
        if observed.endpointStatus == "InService", observed.endpointConfigName == config { return .converged }
        // Models and configs are immutable: a revision gets its own, created before the endpoint moves.
        if !observed.modelExists { return .createModel(model) }
        if !observed.configExists { return .createEndpointConfig(config) }
        guard observed.endpointStatus != nil else { return .createEndpoint(endpoint: endpoint, config: config) }
        return .updateEndpoint(endpoint: endpoint, config: config)
    }
}

/// Deterministic names and request bodies for a deployment's revision.
public enum SageMakerResources {
    /// `NAME-HASH` within SageMaker's 63 characters: the deployment name (a DNS label, so already
    /// within SageMaker's alphabet) shortened if needed, then the revision hash.
    public static func name(deployment: String, hash: String) -> String {
        var base = String(deployment.prefix(63 - hash.count - 1))
        while base.hasSuffix("-") { base.removeLast() }
        return "\(base)-\(hash)"
    }

    public static func endpointName(_ md: ModelDeployment) -> String { md.spec.backend.sagemaker?.endpointName ?? md.metadata.name ?? "" }

    /// Tags every resource carries: which deployment owns it, and which revision it serves.
    public static func tags(_ md: ModelDeployment) -> JSONValue {
        [
            ["Key": "modelplane.dev/owner", "Value": .string("\(md.metadata.namespace ?? "default")/\(md.metadata.name ?? "")")],
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
                    "VariantName": "primary", "ModelName": .string(model), "InstanceType": .string(sagemaker?.instanceType ?? ""),
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
}
