import AWS
import Foundation
import HTTPClient
import ModelplaneAPI
import ModelplaneTestSupport
import Synchronization
import Testing

/// The SageMaker client against moto's server with SigV4 verification on (Tests/Peers/moto_peer.py),
/// every request body checked against botocore's service model.
@Suite(.timeLimit(.minutes(3))) struct SageMakerMotoTests {
    typealias Moto = MotoSageMaker

    /// Problems botocore's model finds in each (operation, input).
    static func shapeProblems(_ calls: [(String, JSONValue)]) async throws -> [String] {
        let input = calls.map { (["operation": .string($0.0), "input": $0.1] as JSONValue).canonicalText }.joined(separator: "\n") + "\n"
        let result = try await CommandResult.run(try Peers.awsPython, [Peers.script("sagemaker_shape_check.py")], stdin: input)
        guard result.status == 0 else { throw PeerError(result.stderr) }
        return try result.stdout.split(separator: "\n").flatMap { try JSONValue(parsing: Data($0.utf8)).arrayValue?.compactMap(\.stringValue) ?? [] }
    }

    @Test func lifecycleCallsAreSignedAndShapedAsSageMakerWantsThem() async throws {
        let moto = try await Moto()
        let http = HTTPClient()
        defer { http.shutdown() }
        let client = moto.client(http)
        let owner: JSONValue = [["Key": "modelplane.dev/owner", "Value": "default/churn"]]
        let calls: [(String, JSONValue)] = [
            (
                "CreateModel",
                [
                    "ModelName": "churn-bcdfg23456", "ExecutionRoleArn": "arn:aws:iam::123456789012:role/SageMakerExecution",
                    "PrimaryContainer": [
                        "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310",
                        "ModelDataUrl": "s3://models/churn/model.tar.gz",
                    ],
                    "Tags": owner,
                ]
            ),
            (
                "CreateEndpointConfig",
                [
                    "EndpointConfigName": "churn-bcdfg23456", "Tags": owner,
                    "ProductionVariants": [
                        [
                            "VariantName": "primary", "ModelName": "churn-bcdfg23456", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
                            "InitialVariantWeight": 1.0,
                        ]
                    ],
                ]
            ),
            ("CreateEndpoint", ["EndpointName": "churn", "EndpointConfigName": "churn-bcdfg23456", "Tags": owner]),
        ]
        await #expect(try Self.shapeProblems(calls) == [])
        for (operation, input) in calls { _ = try await client.call(try #require(SageMakerOperation(rawValue: operation)), input) }

        let described = try await client.call(.describeEndpoint, ["EndpointName": "churn"])
        #expect(described["EndpointStatus"]?.stringValue == "InService")
        #expect(described["EndpointConfigName"]?.stringValue == "churn-bcdfg23456")
        let arn = try #require(described["EndpointArn"]?.stringValue)
        let tags = try await client.call(.listTags, ["ResourceArn": .string(arn)])
        #expect(tags["Tags"]?.arrayValue?.contains { $0["Key"]?.stringValue == "modelplane.dev/owner" && $0["Value"]?.stringValue == "default/churn" } == true)

        let weights: JSONValue = [
            "EndpointName": "churn", "DesiredWeightsAndCapacities": [["VariantName": "primary", "DesiredWeight": 0.5, "DesiredInstanceCount": 2]],
        ]
        await #expect(try Self.shapeProblems([("UpdateEndpointWeightsAndCapacities", weights)]) == [])
        _ = try await client.call(.updateEndpointWeightsAndCapacities, weights)
        let variant = try await client.call(.describeEndpoint, ["EndpointName": "churn"])["ProductionVariants"]?.arrayValue?.first
        #expect(variant?["DesiredInstanceCount"] == 2 || variant?["CurrentInstanceCount"] == 2, "\(String(describing: variant))")

        // A missing endpoint is a ValidationException, not retried, with the service's message.
        do {
            _ = try await client.call(.describeEndpoint, ["EndpointName": "nope"])
            Issue.record("a missing endpoint must fail")
        } catch {
            #expect(error.code == "ValidationException" && !error.isRetryable && error.message.contains("Could not find"), "\(error)")
        }

        for (operation, input): (String, JSONValue) in [
            ("DeleteEndpoint", ["EndpointName": "churn"]), ("DeleteEndpointConfig", ["EndpointConfigName": "churn-bcdfg23456"]),
            ("DeleteModel", ["ModelName": "churn-bcdfg23456"]),
        ] {
            _ = try await client.call(try #require(SageMakerOperation(rawValue: operation)), input)
        }
        let listed = try await client.call(.listEndpoints)
        #expect(listed["Endpoints"]?.arrayValue?.isEmpty == true)
    }

    @Test func aWrongSecretIsRefusedAndNeverShown() async throws {
        let moto = try await Moto()
        let http = HTTPClient()
        defer { http.shutdown() }
        for (key, secret, code) in [
            (moto.accessKey, "wrong-s3cret", "SignatureDoesNotMatch"), ("AKIAUNKNOWNUNKNOWN00", "other-s3cret", "InvalidClientTokenId"),
        ] {
            let client = SageMakerClient(
                region: "us-east-1", endpoint: moto.endpoint, credentials: StaticCredentialsProvider(AWSCredentials(accessKeyID: key, secretAccessKey: secret)),
                http: http, environment: [:])
            do {
                _ = try await client.call(.listEndpoints)
                Issue.record("a bad signature must be refused")
            } catch {
                #expect(error.code == code && !error.isRetryable, "\(error)")
                #expect(!"\(error)".contains("s3cret"))
            }
        }
    }

    @Test func endpointsResolveTheWayTheSDKsDo() {
        let region = "eu-west-1"
        #expect(
            AWSEndpoint.resolve(service: "sagemaker", prefix: "api.sagemaker", region: region, explicit: nil, environment: [:])
                == "https://api.sagemaker.eu-west-1.amazonaws.com")
        #expect(
            AWSEndpoint.resolve(
                service: "sagemaker", prefix: "api.sagemaker", region: region, explicit: nil, environment: ["AWS_ENDPOINT_URL": "http://global/"])
                == "http://global")
        let both = ["AWS_ENDPOINT_URL": "http://global", "AWS_ENDPOINT_URL_SAGEMAKER": "http://specific"]
        #expect(AWSEndpoint.resolve(service: "sagemaker", prefix: "api.sagemaker", region: region, explicit: nil, environment: both) == "http://specific")
        #expect(
            AWSEndpoint.resolve(service: "sagemaker", prefix: "api.sagemaker", region: region, explicit: "https://vpce.example", environment: both)
                == "https://vpce.example")
    }
}
