public import Foundation
public import HTTPClient
public import ModelplaneAPI

/// Why an AWS call failed, in words that never contain a credential.
public struct AWSError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The service answered with an error (`code` as botocore normalizes it).
        case service(code: String, status: Int)
        /// The service could not be reached, or timed out.
        case transport
        /// No usable credentials.
        case credentials
        /// The answer was not what the protocol says.
        case protocolError
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var code: String? { if case .service(let code, _) = kind { code } else { nil } }

    /// Worth retrying with backoff: throttling, timeouts, 5xx, the connection.
    public var isRetryable: Bool {
        switch kind {
        case .transport: return true
        case .service(let code, let status):
            return Self.retryableCodes.contains(code) || [500, 502, 503, 504].contains(status)
        case .credentials, .protocolError: return false
        }
    }

    static let retryableCodes: Set<String> = [
        "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "RequestTimeout", "RequestTimeoutException",
        "ServiceUnavailable", "InternalFailure", "InternalServerError",
    ]

    /// An AWS error message without what a signature error quotes back: AWS answers a signature
    /// mismatch with the canonical request and the string to sign it expected, which hold every
    /// signed header (a session token among them). Cut there, and any header line of a token.
    public static func withoutSignedText(_ message: String) -> String {
        var kept = message
        for marker in ["The Canonical String", "The String-to-Sign", "Canonical String", "canonical request"] {
            if let range = kept.range(of: marker, options: .caseInsensitive) { kept = String(kept[..<range.lowerBound]) }
        }
        let lines = kept.split(separator: "\n", omittingEmptySubsequences: false).filter {
            !$0.lowercased().contains("x-amz-security-token") && !$0.lowercased().contains("authorization:")
        }
        return lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var description: String {
        switch kind {
        case .service(let code, let status): "\(code) (HTTP \(status)): \(message)"
        case .transport: "cannot reach AWS: \(message)"
        case .credentials: "AWS credentials: \(message)"
        case .protocolError: "unexpected answer from AWS: \(message)"
        }
    }
}

/// Where a service's endpoint is, the way the AWS SDKs decide it: an explicit URL (say, from the
/// spec) first, then `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, then the public
/// `https://<prefix>.<region>.amazonaws.com`.
public enum AWSEndpoint {
    public static func resolve(
        service: String, prefix: String, region: String, explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        let specific = "AWS_ENDPOINT_URL_" + service.uppercased().replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: " ", with: "_")
        for candidate in [explicit, environment[specific], environment["AWS_ENDPOINT_URL"]] {
            if let candidate, !candidate.isEmpty { return candidate.hasSuffix("/") ? String(candidate.dropLast()) : candidate }
        }
        return "https://\(prefix).\(region).amazonaws.com"
    }
}

/// SageMaker's control plane as the reconciler uses it: one operation with its input, its output
/// or an `AWSError`. `SageMakerClient` speaks it to AWS (or moto); the stateful fake in the test
/// support target implements it too, held to moto's behaviour by contract tests.
public protocol SageMakerAPI: Sendable {
    func call(_ operation: SageMakerOperation, _ input: JSONValue) async throws(AWSError) -> JSONValue
}

/// A SageMaker API operation: the ones Modelplane calls (and the tests use to look around). The
/// raw value is the wire name (`X-Amz-Target: SageMaker.<rawValue>`).
public enum SageMakerOperation: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case createModel = "CreateModel"
    case createEndpointConfig = "CreateEndpointConfig"
    case createEndpoint = "CreateEndpoint"
    case updateEndpoint = "UpdateEndpoint"
    case updateEndpointWeightsAndCapacities = "UpdateEndpointWeightsAndCapacities"
    case deleteEndpoint = "DeleteEndpoint"
    case deleteEndpointConfig = "DeleteEndpointConfig"
    case deleteModel = "DeleteModel"
    case describeEndpoint = "DescribeEndpoint"
    case describeModel = "DescribeModel"
    case describeEndpointConfig = "DescribeEndpointConfig"
    case listEndpoints = "ListEndpoints"
    case listEndpointConfigs = "ListEndpointConfigs"
    case listModels = "ListModels"
    case listTags = "ListTags"
    case addTags = "AddTags"

    public var description: String { rawValue }
}

/// SageMaker's control plane: the AWS JSON 1.1 protocol (`POST /`, `X-Amz-Target:
/// SageMaker.<Operation>`), signed with SigV4, retried with exponential backoff and full jitter on
/// throttling, timeouts, 5xx and connection failures; other errors are returned at once with the
/// service's code and message.
public struct SageMakerClient: SageMakerAPI {
    public let region: String
    public let endpoint: String
    let credentials: any AWSCredentialsProvider
    let http: HTTPClient
    let maxAttempts: Int
    let baseDelay: Duration

    public init(
        region: String, endpoint explicit: String? = nil, credentials: any AWSCredentialsProvider, http: HTTPClient,
        environment: [String: String] = ProcessInfo.processInfo.environment, maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(100)
    ) {
        self.region = region
        self.endpoint = AWSEndpoint.resolve(service: "sagemaker", prefix: "api.sagemaker", region: region, explicit: explicit, environment: environment)
        self.credentials = credentials
        self.http = http
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
    }

    /// Calls `operation` with `input`; returns the output document (`{}` for empty answers).
    public func call(_ operation: SageMakerOperation, _ input: JSONValue = [:]) async throws(AWSError) -> JSONValue {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await once(operation, input)
            } catch  where error.isRetryable && attempt < maxAttempts {
                // Full jitter: a random delay up to base × 2^attempt, capped at 20 s.
                let cap = min(baseDelay * (1 << min(attempt, 16)), .seconds(20))
                let nanoseconds = Double(cap.components.seconds) * 1e9 + Double(cap.components.attoseconds) / 1e9
                try? await Task.sleep(for: .nanoseconds(Int64(Double.random(in: 0...nanoseconds))))
            }
        }
    }

    private func once(_ operation: SageMakerOperation, _ input: JSONValue) async throws(AWSError) -> JSONValue {
        let body = Data(input.canonicalText.utf8)
        let signed = SigV4Signer(service: "sagemaker", region: region).sign(
            method: "POST", url: endpoint + "/",
            headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "SageMaker.\(operation.rawValue)")], body: body,
            credentials: try await credentials.credentials())
        var headers: HTTPHeaders = [:]
        for (name, value) in signed { headers.set(name, value) }
        let response: HTTPResponse
        do {
            response = try await http.execute(HTTPRequest(method: "POST", url: endpoint + "/", headers: headers, body: body, timeout: .seconds(60)))
        } catch {
            throw AWSError(.transport, "\(operation): \(error)")
        }
        if response.status == 200 {
            if response.body.isEmpty { return [:] }
            do {
                return try JSONValue(parsing: response.body)
            } catch {
                throw AWSError(.protocolError, "\(operation): \(error)")
            }
        }
        throw Self.error(operation.rawValue, response)
    }

    /// The service's error: the code from `__type` (or `X-Amzn-ErrorType`), cut at ':' and after the
    /// last '#' as botocore does; the message from `message` or `Message`.
    static func error(_ operation: String, _ response: HTTPResponse) -> AWSError {
        let document = try? JSONValue(parsing: response.body)
        var code = document?["__type"]?.stringValue ?? response.headers["x-amzn-errortype"] ?? ""
        if let colon = code.firstIndex(of: ":") { code = String(code[..<colon]) }
        if let hash = code.lastIndex(of: "#") { code = String(code[code.index(after: hash)...]) }
        if code.isEmpty, let xml = String(data: response.body, encoding: .utf8), let range = xml.range(of: "<Code>"),
            let end = xml.range(of: "</Code>", range: range.upperBound..<xml.endIndex)
        {
            code = String(xml[range.upperBound..<end.lowerBound])
        }
        let message = AWSError.withoutSignedText(
            document?["message"]?.stringValue ?? document?["Message"]?.stringValue ?? String(decoding: response.body.prefix(512), as: UTF8.self))
        return AWSError(.service(code: code.isEmpty ? "HTTP\(response.status)" : code, status: response.status), "\(operation): \(message)")
    }
}

extension SageMakerAPI {
    public func call(_ operation: SageMakerOperation) async throws(AWSError) -> JSONValue { try await call(operation, [:]) }

    /// The endpoint, the revision's model and its config, as SageMaker has them now.
    public func observe(endpoint: String, model: String, config: String) async throws(AWSError) -> SageMakerObservation {
        let described = try await describe(.describeEndpoint, ["EndpointName": .string(endpoint)])
        // An endpoint serving this config implies its config and model exist: a steady-state
        // resync costs one call, not three.
        let serving = described?["EndpointConfigName"]?.stringValue == config
        let modelExists = if serving { true } else { try await describe(.describeModel, ["ModelName": .string(model)]) != nil }
        let configExists = if serving { true } else { try await describe(.describeEndpointConfig, ["EndpointConfigName": .string(config)]) != nil }
        let variant = described?["ProductionVariants"]?.arrayValue?.first
        return SageMakerObservation(
            endpointStatus: described?["EndpointStatus"]?.stringValue.map(EndpointStatus.init(rawValue:)),
            endpointConfigName: described?["EndpointConfigName"]?.stringValue,
            pendingConfigName: described?["PendingDeploymentSummary"]?["EndpointConfigName"]?.stringValue,
            failureReason: described?["FailureReason"]?.stringValue, endpointArn: described?["EndpointArn"]?.stringValue,
            variantName: variant?["VariantName"]?.stringValue,
            instanceCount: (variant?["DesiredInstanceCount"] ?? variant?["CurrentInstanceCount"])?.int64Value, modelExists: modelExists,
            configExists: configExists,
            variants: (described?["ProductionVariants"]?.arrayValue ?? []).compactMap { variant in
                variant["VariantName"]?.stringValue.map {
                    SageMakerObservation.Variant(name: $0, weight: Self.number(variant["DesiredWeight"]) ?? Self.number(variant["CurrentWeight"]))
                }
            }, shadowVariants: (described?["ShadowProductionVariants"]?.arrayValue ?? []).compactMap { $0["VariantName"]?.stringValue })
    }

    static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .double(let d)?: d
        case .int(let i)?: Double(i)
        default: nil
        }
    }

    /// A Describe call; nil when SageMaker says the resource does not exist ("Could not find …").
    public func describe(_ operation: SageMakerOperation, _ input: JSONValue) async throws(AWSError) -> JSONValue? {
        do {
            return try await call(operation, input)
        } catch  where error.isNotFound {
            return nil
        }
    }

    /// A Delete call; false when there was nothing to delete.
    @discardableResult
    public func delete(_ operation: SageMakerOperation, _ input: JSONValue) async throws(AWSError) -> Bool {
        do {
            _ = try await call(operation, input)
            return true
        } catch  where error.isNotFound {
            return false
        }
    }

    /// The value of tag `key` on the resource `arn`, nil when it has none.
    public func tag(_ key: String, of arn: String) async throws(AWSError) -> String? {
        var token: String?
        repeat {
            var input: JSONValue = ["ResourceArn": .string(arn), "MaxResults": 100]
            if let token { input["NextToken"] = .string(token) }
            let page = try await call(.listTags, input)
            if let tag = page["Tags"]?.arrayValue?.first(where: { $0["Key"]?.stringValue == key }) { return tag["Value"]?.stringValue }
            token = page["NextToken"]?.stringValue
        } while token != nil
        return nil
    }
}

extension AWSError {
    /// SageMaker's way of saying a resource does not exist: a ValidationException "Could not find …".
    public var isNotFound: Bool { code == "ValidationException" && message.contains("Could not find") }
}

/// Supplies credentials for each request (fixed, or refreshed before they expire).
public protocol AWSCredentialsProvider: Sendable {
    func credentials() async throws(AWSError) -> AWSCredentials
}

public struct StaticCredentialsProvider: AWSCredentialsProvider {
    let value: AWSCredentials
    public init(_ value: AWSCredentials) { self.value = value }
    public func credentials() async throws(AWSError) -> AWSCredentials { value }
}
