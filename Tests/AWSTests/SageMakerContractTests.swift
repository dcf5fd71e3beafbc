import AWS
import Foundation
import HTTPClient
import Manifests
import ModelplaneAPI
import ModelplaneTestSupport
import SageMakerBackend
import Testing

/// The scenarios moto supports, run against moto (with signature verification) and against
/// `FakeSageMaker`, so the fake the controller tests rely on answers as SageMaker's wire does:
/// the planner's steps converge, capacity changes, tags, listing, deletion, and the errors for
/// what does not exist. Where moto finishes at once and the fake takes time, `settle` moves the
/// fake's clock.
@Suite(.timeLimit(.minutes(3))) struct SageMakerContractTests {
    enum Peer: String, CaseIterable, CustomTestStringConvertible {
        case moto, fake
        var testDescription: String { rawValue }
    }

    final class Backend: @unchecked Sendable {
        let api: any SageMakerAPI
        let fake: FakeSageMaker?
        let moto: SageMakerMotoTests.Moto?
        let http = HTTPClient()

        init(_ peer: Peer) async throws {
            switch peer {
            case .moto:
                let moto = try await SageMakerMotoTests.Moto()
                self.moto = moto
                fake = nil
                api = moto.client(http)
            case .fake:
                let fake = FakeSageMaker()
                self.fake = fake
                moto = nil
                api = fake
            }
        }

        /// Lets SageMaker finish what it is doing (moto finishes at once).
        func settle() { fake?.advance(by: .seconds(3_600)) }

        deinit { http.shutdown() }
    }

    static func churn() throws -> ModelDeployment {
        let set = ManifestReader().read(paths: [Peers.repositoryRoot + "/manifests/examples/sagemaker-churn.yaml"])
        return try #require(set.deployments.first?.deployment).defaulted()
    }

    /// Executes the planner's steps until converged; returns them.
    static func converge(_ md: ModelDeployment, on backend: Backend) async throws -> [SageMakerStep] {
        let api = backend.api
        let name = SageMakerResources.name(md)
        let endpoint = SageMakerResources.endpointName(md)
        var steps: [SageMakerStep] = []
        for _ in 0..<8 {
            let observed = try await api.observe(endpoint: endpoint, model: name, config: name)
            let step = SageMakerPlanner.next(
                SageMakerPlanInput(endpoint: endpoint, name: name, instanceCount: md.spec.backend.sagemaker?.initialInstanceCount ?? 1, observed: observed))
            steps.append(step)
            switch step {
            case .converged: return steps
            case .createModel: _ = try await api.call(.createModel, SageMakerResources.createModel(md, name: name))
            case .createEndpointConfig: _ = try await api.call(.createEndpointConfig, SageMakerResources.createEndpointConfig(md, name: name, model: name))
            case .createEndpoint: _ = try await api.call(.createEndpoint, SageMakerResources.createEndpoint(md, endpoint: endpoint, config: name))
            case .updateCapacity(let endpoint, let variant, let count):
                _ = try await api.call(
                    .updateEndpointWeightsAndCapacities, SageMakerResources.updateCapacity(endpoint: endpoint, variant: variant, count: count))
            case .wait: break
            default: Issue.record("unexpected step \(step)")
            }
            backend.settle()
        }
        return steps
    }

    @Test(arguments: Peer.allCases) func plannedStepsConvergeScaleAndCleanUp(_ peer: Peer) async throws {
        let backend = try await Backend(peer)
        let api = backend.api
        let md = try Self.churn()
        let name = SageMakerResources.name(md)
        let endpoint = SageMakerResources.endpointName(md)
        let steps = try await Self.converge(md, on: backend)
        #expect(steps == [.createModel(name), .createEndpointConfig(name), .createEndpoint(endpoint: endpoint, config: name), .converged])

        let observed = try await api.observe(endpoint: endpoint, model: name, config: name)
        #expect(observed.endpointStatus == "InService" && observed.endpointConfigName == name)
        #expect(observed.variantName == SageMakerResources.variant && observed.instanceCount == 2)
        let arn = try #require(observed.endpointArn)
        #expect(try await api.tag(SageMakerResources.ownerTag, of: arn) == "ml-prod/churn-predictor")
        #expect(try await api.tag("no-such-tag", of: arn) == nil)
        let listed = try await api.call(.listEndpoints)["Endpoints"]?.arrayValue ?? []
        #expect(listed.compactMap { $0["EndpointName"]?.stringValue } == [endpoint])

        // Scaling: same config, one capacity call.
        var scaled = md
        scaled.spec.backend.sagemaker?.initialInstanceCount = 3
        #expect(SageMakerResources.name(scaled) == name)
        let scaling = try await Self.converge(scaled, on: backend)
        #expect(scaling == [.updateCapacity(endpoint: endpoint, variant: SageMakerResources.variant, count: 3), .converged])
        #expect(try await api.observe(endpoint: endpoint, model: name, config: name).instanceCount == 3)

        #expect(try await api.delete(.deleteEndpoint, ["EndpointName": .string(endpoint)]))
        backend.settle()
        #expect(try await api.describe(.describeEndpoint, ["EndpointName": .string(endpoint)]) == nil)
        #expect(try await api.delete(.deleteEndpointConfig, ["EndpointConfigName": .string(name)]))
        #expect(try await api.delete(.deleteModel, ["ModelName": .string(name)]))
        // Deleting again: nothing there, which `delete` reports rather than throws.
        #expect(try await api.delete(.deleteModel, ["ModelName": .string(name)]) == false)
        #expect(try await api.delete(.deleteEndpointConfig, ["EndpointConfigName": .string(name)]) == false)
        let gone = try await api.observe(endpoint: endpoint, model: name, config: name)
        #expect(gone == SageMakerObservation(modelExists: false, configExists: false))
    }

    /// A canary's endpoint: one config with a weighted variant per version, created as the
    /// backend creates it, its weights as `observe` reads them, moved by
    /// UpdateEndpointWeightsAndCapacities (the instance count restated, so it stays), and the
    /// planner converged once they are where the canary's step puts them.
    @Test(arguments: Peer.allCases) func aSplitConfigsVariantWeightsMoveAsTheCanaryAsks(_ peer: Peer) async throws {
        let backend = try await Backend(peer)
        let api = backend.api
        let stable = try Self.churn()
        var canary = stable
        canary.spec.model.version = "2024-12-01"
        canary.spec.model.uri = "s3://models/churn/2024-12-01/model.tar.gz"
        let (a, b) = (SageMakerResources.name(stable), SageMakerResources.name(canary))
        _ = try await api.call(.createModel, SageMakerResources.createModel(stable, name: a))
        _ = try await api.call(.createModel, SageMakerResources.createModel(canary, name: b))
        let split = SageMakerResources.splitName(deployment: "churn-predictor", models: [a, b])
        let variants = [
            SplitVariant(variant: "v-2024-11-03", model: a, version: "2024-11-03", weight: 80),
            SplitVariant(variant: "v-2024-12-01", model: b, version: "2024-12-01", weight: 20),
        ]
        let splitBody = SageMakerResources.createSplitConfig(canary, name: split, variants: variants)
        let weightsBody = SageMakerResources.updateWeights(
            endpoint: "churn-predictor", weights: [VariantWeight("v-2024-11-03", 40), VariantWeight("v-2024-12-01", 60)], count: 2)
        if peer == .moto {
            // The bodies as botocore's service model has them (a shadow config's too: moto keeps no shadow variants).
            let shadowBody = SageMakerResources.createSplitConfig(
                canary, name: split, variants: [variants[0]], shadow: SplitVariant(variant: "v-2024-12-01", model: b, version: "2024-12-01", weight: 0.25))
            await #expect(
                try SageMakerMotoTests.shapeProblems([
                    ("CreateEndpointConfig", splitBody), ("UpdateEndpointWeightsAndCapacities", weightsBody), ("CreateEndpointConfig", shadowBody),
                ]) == [])
        }
        _ = try await api.call(.createEndpointConfig, splitBody)
        _ = try await api.call(.createEndpoint, SageMakerResources.createEndpoint(canary, endpoint: "churn-predictor", config: split))
        backend.settle()
        let created = try await api.observe(endpoint: "churn-predictor", model: b, config: split)
        #expect(created.variants == [.init(name: "v-2024-11-03", weight: 80), .init(name: "v-2024-12-01", weight: 20)], "\(created.variants)")

        func next(_ observed: SageMakerObservation, _ weights: [VariantWeight]) -> SageMakerStep {
            SageMakerPlanner.next(
                SageMakerPlanInput(
                    endpoint: "churn-predictor", name: b, instanceCount: 2, observed: observed,
                    split: .init(config: split, exists: true, weights: weights)))
        }
        #expect(next(created, [VariantWeight("v-2024-11-03", 80), VariantWeight("v-2024-12-01", 20)]) == .converged)
        let wanted = [VariantWeight("v-2024-11-03", 40), VariantWeight("v-2024-12-01", 60)]
        let step = next(created, wanted)
        #expect(step == .updateWeights(endpoint: "churn-predictor", weights: wanted, count: 2))
        _ = try await api.call(.updateEndpointWeightsAndCapacities, weightsBody)
        backend.settle()
        let moved = try await api.observe(endpoint: "churn-predictor", model: b, config: split)
        #expect(moved.endpointStatus == "InService" && moved.endpointConfigName == split)
        #expect(moved.variants == [.init(name: "v-2024-11-03", weight: 40), .init(name: "v-2024-12-01", weight: 60)], "\(moved.variants)")
        #expect(moved.instanceCount == 2, "the instance count is kept")
        #expect(next(moved, wanted) == .converged)
    }

    @Test(arguments: Peer.allCases) func whatDoesNotExistIsAValidationExceptionNotRetried(_ peer: Peer) async throws {
        let backend = try await Backend(peer)
        let api = backend.api
        for (operation, input): (String, JSONValue) in [
            ("DescribeEndpoint", ["EndpointName": "nope"]), ("DescribeEndpointConfig", ["EndpointConfigName": "nope"]),
            ("DescribeModel", ["ModelName": "nope"]),
            (
                "CreateEndpointConfig",
                ["EndpointConfigName": "c", "ProductionVariants": [["VariantName": "primary", "ModelName": "missing-model", "InstanceType": "ml.m5.large"]]]
            ),
        ] {
            let typed = try #require(SageMakerOperation(rawValue: operation))
            do {
                _ = try await api.call(typed, input)
                Issue.record("\(operation) of something missing must fail")
            } catch {
                #expect(error.code == "ValidationException" && error.isNotFound && !error.isRetryable, "\(operation): \(error)")
            }
        }
    }
}

/// The client's retries on the wire: a real HTTP server (Tests/Peers/http_peer.py) scripted to
/// throttle, fail with 5xx, or refuse.
@Suite(.timeLimit(.minutes(3))) struct SageMakerRetryTests {
    static func client(_ peer: PeerProcess, _ script: String, http: HTTPClient, attempts: Int = 5) -> SageMakerClient {
        SageMakerClient(
            region: "us-east-1", endpoint: "http://127.0.0.1:\(peer.port)/aws/\(script)",
            credentials: StaticCredentialsProvider(AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI-s3cret")), http: http,
            environment: [:], maxAttempts: attempts, baseDelay: .milliseconds(5))
    }

    @Test func throttlingAnd5xxAreRetriedWithBackoffUntilTheyPass() async throws {
        let peer = try await PeerProcess.httpPeer()
        let http = HTTPClient()
        defer { http.shutdown() }
        let throttled = try await Self.client(peer, "a/3/ThrottlingException", http: http).call(.describeEndpoint, ["EndpointName": "x"])
        #expect(throttled["attempts"] == 4)
        let unavailable = try await Self.client(peer, "b/2/ServiceUnavailable", http: http).call(.describeEndpoint, ["EndpointName": "x"])
        #expect(unavailable["attempts"] == 3)
    }

    @Test func retriesStopAtTheLimitAndValidationErrorsAreNotRetried() async throws {
        let peer = try await PeerProcess.httpPeer()
        let http = HTTPClient()
        defer { http.shutdown() }
        do {
            _ = try await Self.client(peer, "c/3/ThrottlingException", http: http, attempts: 3).call(.describeEndpoint, ["EndpointName": "x"])
            Issue.record("must give up after 3 attempts")
        } catch {
            #expect(error.code == "ThrottlingException" && error.isRetryable)
            #expect(!"\(error)".contains("s3cret"))
        }
        // The next request is the fourth: exactly three were made.
        let after = try await Self.client(peer, "c/3/ThrottlingException", http: http, attempts: 1).call(.describeEndpoint)
        #expect(after["attempts"] == 4)
        do {
            _ = try await Self.client(peer, "d/1/ValidationException", http: http).call(.createModel, ["ModelName": "m"])
            Issue.record("a validation error must fail at once")
        } catch {
            #expect(error.code == "ValidationException" && !error.isRetryable)
        }
        // The second request for d passes: only one was made before.
        let second = try await Self.client(peer, "d/1/ValidationException", http: http).call(.createModel, ["ModelName": "m"])
        #expect(second["attempts"] == 2)
    }
}
