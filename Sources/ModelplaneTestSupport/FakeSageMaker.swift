public import AWS
import Foundation
public import ModelplaneAPI
import Synchronization

/// A stateful SageMaker control plane for what moto cannot do: endpoints that take time
/// (Creating → InService, Updating → InService), updates that fail and roll back, endpoints that
/// fail, throttling, and CreateEndpoint's eventual consistency after CreateEndpointConfig — all
/// scripted by a manual clock (`advance(by:)`), so a test decides when SageMaker finishes.
/// Errors carry SageMaker's codes and messages; `SageMakerContractTests` runs the scenarios moto
/// supports against both.
public final class FakeSageMaker: SageMakerAPI {
    public struct Timing: Sendable {
        public var create: Duration = .seconds(300)
        public var update: Duration = .seconds(300)
        public var rollback: Duration = .seconds(120)
        public var delete: Duration = .seconds(60)
        /// How long after CreateEndpointConfig a CreateEndpoint naming it still fails.
        public var configVisibleAfter: Duration = .zero
        public init() {}
    }

    struct Model {
        var arn: String
        var body: JSONValue
    }

    struct Config {
        var arn: String
        var body: JSONValue
        var createdAt: Duration
    }

    struct Endpoint {
        var arn: String
        var status: String
        var config: String
        /// The config an update is moving to.
        var pending: String?
        var failureReason: String?
        var variants: [[String: JSONValue]]
        var shadowVariants: [[String: JSONValue]] = []
        /// When the current transition ends.
        var until: Duration
        /// How the transition ends: nil is success.
        var outcome: Outcome?
        /// DesiredInstanceCount an UpdateEndpointWeightsAndCapacities is moving to.
        var desiredCount: Int64?
    }

    enum Outcome {
        case fail(String)
        case rollBack(String)
        case rollbackFails(String)
    }

    struct State {
        var now: Duration = .zero
        var models: [String: Model] = [:]
        var configs: [String: Config] = [:]
        var endpoints: [String: Endpoint] = [:]
        var tags: [String: [JSONValue]] = [:]
        var calls: [String] = []
        var requests: [(operation: String, input: JSONValue)] = []
        var throttle = 0
        var nextCreate: Outcome?
        var nextUpdate: Outcome?
        var refusals: [String: (code: String, message: String)] = [:]
    }

    public let region: String
    public let account = "123456789012"
    let timing: Timing
    private let state = Mutex(State())

    public init(region: String = "us-east-1", timing: Timing = Timing()) {
        self.region = region
        self.timing = timing
    }

    // MARK: - Scripting

    /// Moves the clock; transitions due by then happen.
    public func advance(by duration: Duration) {
        state.withLock { state in
            state.now += duration
            Self.settle(&state, timing)
        }
    }

    /// The next `count` calls fail with ThrottlingException.
    public func throttle(next count: Int) { state.withLock { $0.throttle = count } }

    /// The next CreateEndpoint ends Failed with `reason`.
    public func failNextCreate(_ reason: String) { state.withLock { $0.nextCreate = .fail(reason) } }

    /// The next UpdateEndpoint fails and SageMaker rolls it back to the old config.
    public func failNextUpdate(_ reason: String) { state.withLock { $0.nextUpdate = .rollBack(reason) } }

    /// The next UpdateEndpoint fails and so does its rollback (UpdateRollbackFailed).
    public func failNextUpdateAndRollback(_ reason: String) { state.withLock { $0.nextUpdate = .rollbackFails(reason) } }

    /// The next call to `operation` fails with `code` and `message` (a ValidationException, say,
    /// for an S3 artifact SageMaker cannot read).
    public func refuseNext(_ operation: SageMakerOperation, code: String = "ValidationException", message: String) {
        state.withLock { $0.refusals[operation.rawValue] = (code, message) }
    }

    /// The operations called so far, in order (throttled ones included).
    public var calls: [String] { state.withLock { $0.calls } }

    /// The inputs of every call to `operation`, in order.
    public func requests(_ operation: SageMakerOperation) -> [JSONValue] {
        state.withLock { $0.requests.filter { $0.operation == operation.rawValue }.map(\.input) }
    }

    public var modelNames: Set<String> { state.withLock { Set($0.models.keys) } }
    public var configNames: Set<String> { state.withLock { Set($0.configs.keys) } }
    public var endpointNames: Set<String> { state.withLock { Set($0.endpoints.keys) } }

    // MARK: - The API

    public func call(_ typed: SageMakerOperation, _ input: JSONValue) async throws(AWSError) -> JSONValue {
        let operation = typed.rawValue
        let result: Result<JSONValue, AWSError> = state.withLock { state in
            state.calls.append(operation)
            state.requests.append((operation, input))
            Self.settle(&state, timing)
            if state.throttle > 0 {
                state.throttle -= 1
                return .failure(AWSError(.service(code: "ThrottlingException", status: 400), "\(operation): Rate exceeded"))
            }
            if let refusal = state.refusals.removeValue(forKey: operation) {
                return .failure(AWSError(.service(code: refusal.code, status: 400), "\(operation): \(refusal.message)"))
            }
            do throws(Failure) {
                return .success(try perform(operation, input, &state))
            } catch {
                return .failure(AWSError(.service(code: error.code, status: 400), "\(operation): \(error.message)"))
            }
        }
        return try result.get()
    }

    struct Failure: Error {
        var code = "ValidationException"
        var message: String
    }

    private func arn(_ kind: String, _ name: String) -> String { "arn:aws:sagemaker:\(region):\(account):\(kind)/\(name.lowercased())" }

    private func name(_ input: JSONValue, _ field: String) throws(Failure) -> String {
        guard let value = input[field]?.stringValue, !value.isEmpty else {
            throw Failure(message: "1 validation error detected: Value null at '\(field)' failed to satisfy constraint: Member must not be null")
        }
        return value
    }

    private func perform(_ operation: String, _ input: JSONValue, _ state: inout State) throws(Failure) -> JSONValue {
        switch operation {
        case "CreateModel":
            let model = try name(input, "ModelName")
            let arn = arn("model", model)
            guard state.models[model] == nil else { throw Failure(message: "Cannot create already existing model \"\(arn)\".") }
            state.models[model] = Model(arn: arn, body: input)
            state.tags[arn] = input["Tags"]?.arrayValue ?? []
            return ["ModelArn": .string(arn)]
        case "DescribeModel":
            let model = try name(input, "ModelName")
            guard let found = state.models[model] else { throw Failure(message: "Could not find model \"\(arn("model", model))\".") }
            return Self.described(found.body, "ModelArn", found.arn)
        case "DeleteModel":
            let model = try name(input, "ModelName")
            guard state.models.removeValue(forKey: model) != nil else { throw Failure(message: "Could not find model \"\(arn("model", model))\".") }
            return [:]
        case "CreateEndpointConfig":
            let config = try name(input, "EndpointConfigName")
            let arn = arn("endpoint-config", config)
            guard state.configs[config] == nil else {
                throw Failure(message: "Cannot create already existing endpoint configuration \"\(arn)\".")
            }
            for variant in input["ProductionVariants"]?.arrayValue ?? [] {
                if variant["InstanceType"] == nil, variant["ServerlessConfig"] == nil {
                    throw Failure(message: "Invalid Keys for ProductionVariant: expected it to contain one of ['InstanceType', 'ServerlessConfig']")
                }
                let model = variant["ModelName"]?.stringValue ?? ""
                if state.models[model] == nil { throw Failure(message: "Could not find model \"\(self.arn("model", model))\".") }
            }
            state.configs[config] = Config(arn: arn, body: input, createdAt: state.now)
            state.tags[arn] = input["Tags"]?.arrayValue ?? []
            return ["EndpointConfigArn": .string(arn)]
        case "DescribeEndpointConfig":
            let config = try name(input, "EndpointConfigName")
            guard let found = state.configs[config] else {
                throw Failure(message: "Could not find endpoint configuration \"\(arn("endpoint-config", config))\".")
            }
            return Self.described(found.body, "EndpointConfigArn", found.arn)
        case "DeleteEndpointConfig":
            let config = try name(input, "EndpointConfigName")
            guard state.configs.removeValue(forKey: config) != nil else {
                throw Failure(message: "Could not find endpoint configuration \"\(arn("endpoint-config", config))\".")
            }
            return [:]
        case "CreateEndpoint":
            let endpoint = try name(input, "EndpointName")
            let configName = try name(input, "EndpointConfigName")
            let arn = arn("endpoint", endpoint)
            guard state.endpoints[endpoint] == nil else { throw Failure(message: "Cannot create already existing endpoint \"\(arn)\".") }
            guard let config = state.configs[configName], state.now - config.createdAt >= timing.configVisibleAfter else {
                throw Failure(message: "Could not find endpoint configuration \"\(self.arn("endpoint-config", configName))\".")
            }
            state.endpoints[endpoint] = Endpoint(
                arn: arn, status: "Creating", config: configName, variants: Self.variants(config.body),
                shadowVariants: Self.variants(config.body, "ShadowProductionVariants"), until: state.now + timing.create,
                outcome: state.nextCreate)
            state.nextCreate = nil
            state.tags[arn] = input["Tags"]?.arrayValue ?? []
            return ["EndpointArn": .string(arn)]
        case "UpdateEndpoint":
            let endpoint = try name(input, "EndpointName")
            let configName = try name(input, "EndpointConfigName")
            guard var found = state.endpoints[endpoint] else { throw Failure(message: "Could not find endpoint \"\(arn("endpoint", endpoint))\".") }
            guard found.status == "InService" else {
                throw Failure(message: "Cannot update in-progress endpoint \"\(found.arn)\".")
            }
            guard state.configs[configName] != nil else {
                throw Failure(message: "Could not find endpoint configuration \"\(arn("endpoint-config", configName))\".")
            }
            found.status = "Updating"
            found.pending = configName
            found.failureReason = nil
            found.until = state.now + timing.update
            found.outcome = state.nextUpdate
            state.nextUpdate = nil
            state.endpoints[endpoint] = found
            return ["EndpointArn": .string(found.arn)]
        case "UpdateEndpointWeightsAndCapacities":
            let endpoint = try name(input, "EndpointName")
            guard var found = state.endpoints[endpoint] else { throw Failure(message: "Could not find endpoint \"\(arn("endpoint", endpoint))\".") }
            guard found.status == "InService" else { throw Failure(message: "Cannot update in-progress endpoint \"\(found.arn)\".") }
            for desired in input["DesiredWeightsAndCapacities"]?.arrayValue ?? [] {
                let variant = desired["VariantName"]?.stringValue ?? ""
                guard found.variants.contains(where: { $0["VariantName"]?.stringValue == variant }) else {
                    throw Failure(
                        message: "The variant name(s) \"\(variant)\" is/are not present within endpoint configuration \"\(found.config)\".")
                }
                found.desiredCount = desired["DesiredInstanceCount"]?.int64Value ?? found.desiredCount
                // SageMaker shows the weight it moves to as DesiredWeight until the update ends.
                if let weight = desired["DesiredWeight"], let index = found.variants.firstIndex(where: { $0["VariantName"]?.stringValue == variant }) {
                    found.variants[index]["DesiredWeight"] = weight
                }
            }
            found.status = "Updating"
            found.until = state.now + timing.update
            found.outcome = nil
            state.endpoints[endpoint] = found
            return ["EndpointArn": .string(found.arn)]
        case "DescribeEndpoint":
            let endpoint = try name(input, "EndpointName")
            guard let found = state.endpoints[endpoint] else { throw Failure(message: "Could not find endpoint \"\(arn("endpoint", endpoint))\".") }
            var out: JSONValue = [
                "EndpointName": .string(endpoint), "EndpointArn": .string(found.arn), "EndpointConfigName": .string(found.config),
                "EndpointStatus": .string(found.status), "ProductionVariants": .array(found.variants.map { .object($0) }),
            ]
            if !found.shadowVariants.isEmpty { out["ShadowProductionVariants"] = .array(found.shadowVariants.map { .object($0) }) }
            if let reason = found.failureReason { out["FailureReason"] = .string(reason) }
            if let pending = found.pending { out["PendingDeploymentSummary"] = ["EndpointConfigName": .string(pending)] }
            return out
        case "DeleteEndpoint":
            let endpoint = try name(input, "EndpointName")
            guard var found = state.endpoints[endpoint] else { throw Failure(message: "Could not find endpoint \"\(arn("endpoint", endpoint))\".") }
            found.status = "Deleting"
            found.until = state.now + timing.delete
            found.outcome = nil
            state.endpoints[endpoint] = found
            return [:]
        case "ListEndpoints":
            let contains = input["NameContains"]?.stringValue
            let endpoints = state.endpoints.sorted { $0.key < $1.key }.filter { contains == nil || $0.key.contains(contains!) }
            return [
                "Endpoints": .array(
                    endpoints.map { ["EndpointName": .string($0.key), "EndpointArn": .string($0.value.arn), "EndpointStatus": .string($0.value.status)] })
            ]
        case "ListEndpointConfigs":
            return [
                "EndpointConfigs": .array(
                    state.configs.sorted { $0.key < $1.key }.map { ["EndpointConfigName": .string($0.key), "EndpointConfigArn": .string($0.value.arn)] })
            ]
        case "ListModels":
            return ["Models": .array(state.models.sorted { $0.key < $1.key }.map { ["ModelName": .string($0.key), "ModelArn": .string($0.value.arn)] })]
        case "ListTags":
            let arn = try name(input, "ResourceArn")
            return ["Tags": .array(state.tags[arn] ?? [])]
        case "AddTags":
            let arn = try name(input, "ResourceArn")
            state.tags[arn, default: []] += input["Tags"]?.arrayValue ?? []
            return ["Tags": .array(state.tags[arn] ?? [])]
        default:
            throw Failure(code: "UnknownOperationException", message: "the fake does not implement \(operation)")
        }
    }

    /// A Describe answer: what was created, without its tags (ListTags has them), with its ARN.
    static func described(_ body: JSONValue, _ arnField: String, _ arn: String) -> JSONValue {
        var out = body
        out["Tags"] = nil
        out[arnField] = .string(arn)
        return out
    }

    static func variants(_ config: JSONValue, _ field: String = "ProductionVariants") -> [[String: JSONValue]] {
        (config[field]?.arrayValue ?? []).map { variant in
            var out: [String: JSONValue] = ["VariantName": variant["VariantName"] ?? "primary"]
            if let count = variant["InitialInstanceCount"] {
                out["CurrentInstanceCount"] = count
                out["DesiredInstanceCount"] = count
            }
            if let weight = variant["InitialVariantWeight"] {
                out["CurrentWeight"] = weight
                out["DesiredWeight"] = weight
            }
            return out
        }
    }

    /// Ends every transition that is due.
    private static func settle(_ state: inout State, _ timing: Timing) {
        while let (name, endpoint) = state.endpoints.first(where: { $0.value.until <= state.now && Self.busy.contains($0.value.status) }) {
            step(name, endpoint, &state, timing)
        }
    }

    static let busy: Set<String> = ["Creating", "Updating", "RollingBack", "Deleting"]

    private static func step(_ name: String, _ current: Endpoint, _ state: inout State, _ timing: Timing) {
        var endpoint = current
        switch (endpoint.status, endpoint.outcome) {
        case ("Creating", .fail(let reason)?):
            endpoint.status = "Failed"
            endpoint.failureReason = reason
        case ("Creating", _):
            endpoint.status = "InService"
        case ("Updating", .rollBack(let reason)?), ("Updating", .rollbackFails(let reason)?):
            endpoint.status = "RollingBack"
            endpoint.failureReason = reason
            endpoint.until += timing.rollback
            if case .rollbackFails = endpoint.outcome {
                endpoint.status = "UpdateRollbackFailed"
                endpoint.pending = nil
                endpoint.outcome = nil
            }
        case ("RollingBack", _):
            endpoint.status = "InService"
            endpoint.pending = nil
            endpoint.outcome = nil
        case ("Updating", _):
            if let pending = endpoint.pending, let config = state.configs[pending] {
                endpoint.config = pending
                endpoint.variants = variants(config.body)
                endpoint.shadowVariants = variants(config.body, "ShadowProductionVariants")
            }
            if let count = endpoint.desiredCount {
                for index in endpoint.variants.indices {
                    endpoint.variants[index]["CurrentInstanceCount"] = .int(count)
                    endpoint.variants[index]["DesiredInstanceCount"] = .int(count)
                }
            }
            for index in endpoint.variants.indices {
                endpoint.variants[index]["CurrentWeight"] = endpoint.variants[index]["DesiredWeight"] ?? endpoint.variants[index]["CurrentWeight"]
            }
            endpoint.pending = nil
            endpoint.desiredCount = nil
            endpoint.status = "InService"
        case ("Deleting", _):
            state.endpoints[name] = nil
            return
        default:
            return
        }
        state.endpoints[name] = endpoint
    }
}

/// Where no SageMaker client is wanted (tests that reconcile Triton only): every call fails as
/// a controller without SageMaker credentials would.
public struct UnconfiguredSageMaker: SageMakerAPI {
    public init() {}
    public func call(_ operation: SageMakerOperation, _ input: JSONValue) async throws(AWSError) -> JSONValue {
        throw AWSError(.credentials, "this controller was started without SageMaker access")
    }
}
