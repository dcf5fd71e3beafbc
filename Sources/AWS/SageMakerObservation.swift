/// What SageMaker has, as DescribeEndpoint / DescribeModel / DescribeEndpointConfig show it.
public struct SageMakerObservation: Sendable, Hashable {
    /// nil: no such endpoint.
    public var endpointStatus: String?
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

    public init(
        endpointStatus: String? = nil, endpointConfigName: String? = nil, pendingConfigName: String? = nil, failureReason: String? = nil,
        endpointArn: String? = nil, variantName: String? = nil, instanceCount: Int64? = nil, modelExists: Bool, configExists: Bool
    ) {
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
