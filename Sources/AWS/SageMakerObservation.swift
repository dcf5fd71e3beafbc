/// What SageMaker has, as DescribeEndpoint / DescribeModel / DescribeEndpointConfig show it.
public struct SageMakerObservation: Sendable, Hashable {
    /// nil: no such endpoint.
    public var endpointStatus: EndpointStatus?
    public var endpointConfigName: String?
    /// The config an update in progress is moving to (`PendingDeploymentSummary`).
    public var pendingConfigName: String?
    public var failureReason: String?
    public var endpointArn: String?
    /// The first production variant: its name and its desired (else current) instance count.
    public var variantName: String?
    public var instanceCount: Int64?
    public var modelExists: Bool
    public var configExists: Bool
    /// Every production variant: its name and its weight (the desired one while SageMaker moves
    /// to it, else the current one).
    public var variants: [Variant]
    /// The names of the endpoint's shadow variants (`ShadowProductionVariants`).
    public var shadowVariants: [String]

    public struct Variant: Sendable, Hashable {
        public var name: String
        public var weight: Double?

        public init(name: String, weight: Double?) {
            self.name = name
            self.weight = weight
        }
    }

    public init(
        endpointStatus: EndpointStatus? = nil, endpointConfigName: String? = nil, pendingConfigName: String? = nil, failureReason: String? = nil,
        endpointArn: String? = nil, variantName: String? = nil, instanceCount: Int64? = nil, modelExists: Bool, configExists: Bool,
        variants: [Variant] = [], shadowVariants: [String] = []
    ) {
        self.variants = variants
        self.shadowVariants = shadowVariants
        self.endpointStatus = endpointStatus
        self.endpointConfigName = endpointConfigName
        self.pendingConfigName = pendingConfigName
        self.failureReason = failureReason
        self.endpointArn = endpointArn
        self.variantName = variantName
        self.instanceCount = instanceCount
        self.modelExists = modelExists
        self.configExists = configExists
    }
}

/// An endpoint's `EndpointStatus`, as SageMaker documents it; a state it adds later is kept as
/// `unknown` (and treated as busy: never acted on).
public enum EndpointStatus: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    case outOfService, creating, updating, systemUpdating, rollingBack, inService, deleting, failed, updateRollbackFailed
    case unknown(String)

    static let known: [EndpointStatus] = [
        .outOfService, .creating, .updating, .systemUpdating, .rollingBack, .inService, .deleting, .failed, .updateRollbackFailed,
    ]

    public init(rawValue: String) {
        self = Self.known.first { $0.rawValue == rawValue } ?? .unknown(rawValue)
    }

    public init(stringLiteral value: String) { self.init(rawValue: value) }

    /// The wire text.
    public var rawValue: String {
        switch self {
        case .outOfService: "OutOfService"
        case .creating: "Creating"
        case .updating: "Updating"
        case .systemUpdating: "SystemUpdating"
        case .rollingBack: "RollingBack"
        case .inService: "InService"
        case .deleting: "Deleting"
        case .failed: "Failed"
        case .updateRollbackFailed: "UpdateRollbackFailed"
        case .unknown(let text): text
        }
    }

    public var description: String { rawValue }

    /// The endpoint still serves its current config in this state.
    public var serves: Bool { [.inService, .updating, .systemUpdating, .rollingBack].contains(self) }
}
