public import AWS
public import HTTPClient
public import ModelplaneAPI
import Synchronization

/// moto's server (SageMaker, STS, IAM) with SigV4 verification on (Tests/Peers/moto_peer.py): the
/// real SageMaker wire for what moto supports. Its endpoints are `InService` (and deleted) at once.
public final class MotoSageMaker: Sendable {
    public let process: PeerProcess
    public let accessKey: String
    public let secretKey: String
    public var endpoint: String { "http://127.0.0.1:\(process.port)" }

    public init() async throws {
        process = try await PeerProcess.start(try Peers.awsPython, [Peers.script("moto_peer.py")]) { line in
            let parts = line.split(separator: " ")
            return parts.count == 4 && parts[0] == "READY" ? Int(parts[1]) : nil
        }
        guard let ready = process.log.split(separator: "\n").first(where: { $0.hasPrefix("READY ") })?.split(separator: " "), ready.count == 4 else {
            throw PeerError("moto printed no READY line: \(process.log)")
        }
        accessKey = String(ready[2])
        secretKey = String(ready[3])
    }

    /// A client signing with the peer's IAM user's key.
    public func client(_ http: HTTPClient, maxAttempts: Int = 5) -> SageMakerClient {
        SageMakerClient(
            region: "us-east-1", endpoint: endpoint,
            credentials: StaticCredentialsProvider(AWSCredentials(accessKeyID: accessKey, secretAccessKey: secretKey)), http: http, environment: [:],
            maxAttempts: maxAttempts)
    }

    deinit { process.stop() }
}

/// Any SageMaker API with every call it is asked to make recorded, in order: what a controller
/// test asserts against, for the fake and for moto alike.
public final class RecordingSageMaker: SageMakerAPI {
    public let wrapped: any SageMakerAPI
    private let log = Mutex<[(operation: SageMakerOperation, input: JSONValue)]>([])

    public init(_ wrapped: any SageMakerAPI) { self.wrapped = wrapped }

    public func call(_ operation: SageMakerOperation, _ input: JSONValue) async throws(AWSError) -> JSONValue {
        log.withLock { $0.append((operation, input)) }
        return try await wrapped.call(operation, input)
    }

    /// The operations called, in order (their wire names).
    public var calls: [String] { log.withLock { $0.map(\.operation.rawValue) } }

    /// The inputs of every call of `operation`, in order.
    public func requests(_ operation: SageMakerOperation) -> [JSONValue] {
        log.withLock { $0.filter { $0.operation == operation }.map(\.input) }
    }
}

/// What a SageMaker account holds, by name, read through the API's list calls.
public struct SageMakerInventory: Equatable, Sendable, CustomStringConvertible {
    public var endpoints: Set<String>
    public var configs: Set<String>
    public var models: Set<String>

    public init(endpoints: Set<String> = [], configs: Set<String> = [], models: Set<String> = []) {
        self.endpoints = endpoints
        self.configs = configs
        self.models = models
    }

    public static func of(_ api: any SageMakerAPI) async throws -> SageMakerInventory {
        func names(_ operation: SageMakerOperation, _ list: String, _ field: String) async throws -> Set<String> {
            let page = try await api.call(operation, ["MaxResults": 100])
            return Set(page[list]?.arrayValue?.compactMap { $0[field]?.stringValue } ?? [])
        }
        return SageMakerInventory(
            endpoints: try await names(.listEndpoints, "Endpoints", "EndpointName"),
            configs: try await names(.listEndpointConfigs, "EndpointConfigs", "EndpointConfigName"),
            models: try await names(.listModels, "Models", "ModelName"))
    }

    public var description: String { "endpoints \(endpoints.sorted()), configs \(configs.sorted()), models \(models.sorted())" }
}
