import AWS
import Foundation
import HTTPClient
import Manifests
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

@Suite struct SageMakerPlannerTests {
    static func next(_ observed: SageMakerObservation) -> SageMakerStep {
        SageMakerPlanner.next(endpoint: "churn", model: "churn-new", config: "churn-new", observed: observed)
    }

    @Test func createsWhatIsMissingInOrderThenTheEndpoint() {
        #expect(Self.next(.init(modelExists: false, configExists: false)) == .createModel("churn-new"))
        #expect(Self.next(.init(modelExists: true, configExists: false)) == .createEndpointConfig("churn-new"))
        #expect(Self.next(.init(modelExists: true, configExists: true)) == .createEndpoint(endpoint: "churn", config: "churn-new"))
    }

    @Test func waitsWhileSageMakerWorksAndNeverUpdatesTwice() {
        for status in ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "OutOfService"] {
            #expect(Self.next(.init(endpointStatus: status, endpointConfigName: "churn-old", modelExists: true, configExists: true)) == .wait(status: status))
        }
    }

    @Test func convergedOrUpdatedWhenInService() {
        #expect(Self.next(.init(endpointStatus: "InService", endpointConfigName: "churn-new", modelExists: true, configExists: true)) == .converged)
        #expect(
            Self.next(.init(endpointStatus: "InService", endpointConfigName: "churn-old", modelExists: false, configExists: false)) == .createModel("churn-new")
        )
        #expect(
            Self.next(.init(endpointStatus: "InService", endpointConfigName: "churn-old", modelExists: true, configExists: true))
                == .updateEndpoint(endpoint: "churn", config: "churn-new"))
    }

    @Test func failuresAreReportedOrReplaced() {
        #expect(
            Self.next(.init(endpointStatus: "Failed", endpointConfigName: "churn-new", failureReason: "image not found", modelExists: true, configExists: true))
                == .failed(status: "Failed", reason: "image not found"))
        #expect(Self.next(.init(endpointStatus: "Failed", endpointConfigName: "churn-old", modelExists: true, configExists: true)) == .deleteEndpoint("churn"))
        #expect(
            Self.next(.init(endpointStatus: "UpdateRollbackFailed", endpointConfigName: "churn-old", failureReason: "x", modelExists: true, configExists: true))
                == .failed(status: "UpdateRollbackFailed", reason: "x"))
    }

    @Test func namesStayWithinSageMakersRules() throws {
        let pattern = try Regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
        for deployment in ["churn", String(repeating: "a", count: 63), String(repeating: "ab-", count: 20) + "x"] {
            let name = SageMakerResources.name(deployment: deployment, hash: "bcdfg23456")
            let matches = try pattern.wholeMatch(in: name) != nil
            #expect(name.count <= 63 && matches, "\(name)")
            #expect(name.hasSuffix("-bcdfg23456"))
        }
    }

    /// The example SageMaker manifest.
    static func churn() throws -> ModelDeployment {
        let set = ManifestReader().read(paths: [Peers.repositoryRoot + "/manifests/examples/sagemaker-churn.yaml"])
        return try #require(set.deployments.first?.deployment)
    }

    @Test func requestBodiesMatchBotocoresServiceModel() throws {
        let md = try Self.churn()
        let name = SageMakerResources.name(deployment: md.metadata.name ?? "", hash: md.spec.revisionHash)
        let endpoint = SageMakerResources.endpointName(md)
        let problems = try SageMakerMotoTests.shapeProblems([
            ("CreateModel", SageMakerResources.createModel(md, name: name)),
            ("CreateEndpointConfig", SageMakerResources.createEndpointConfig(md, name: name, model: name)),
            ("CreateEndpoint", SageMakerResources.createEndpoint(md, endpoint: endpoint, config: name)),
            ("UpdateEndpoint", SageMakerResources.updateEndpoint(endpoint: endpoint, config: name)),
        ])
        #expect(problems == [])
    }

    /// The planner's steps, executed against moto until converged, then cleaned up.
    @Test func plannedStepsConvergeOnMoto() async throws {
        let moto = try await SageMakerMotoTests.Moto()
        let http = HTTPClient()
        defer { http.shutdown() }
        let client = moto.client(http)
        var md = try Self.churn()
        md.spec.backend.sagemaker?.instanceType = "ml.m5.large"
        let name = SageMakerResources.name(deployment: md.metadata.name ?? "", hash: md.spec.revisionHash)
        let endpoint = SageMakerResources.endpointName(md)
        var steps: [SageMakerStep] = []
        for _ in 0..<6 {
            let step = SageMakerPlanner.next(
                endpoint: endpoint, model: name, config: name, observed: try await client.observe(endpoint: endpoint, model: name, config: name))
            steps.append(step)
            switch step {
            case .converged: break
            case .createModel: _ = try await client.call("CreateModel", SageMakerResources.createModel(md, name: name))
            case .createEndpointConfig: _ = try await client.call("CreateEndpointConfig", SageMakerResources.createEndpointConfig(md, name: name, model: name))
            case .createEndpoint: _ = try await client.call("CreateEndpoint", SageMakerResources.createEndpoint(md, endpoint: endpoint, config: name))
            default: Issue.record("unexpected step \(step)")
            }
            if step == .converged { break }
        }
        #expect(steps == [.createModel(name), .createEndpointConfig(name), .createEndpoint(endpoint: endpoint, config: name), .converged])
        let arn = try #require(try await client.call("DescribeEndpoint", ["EndpointName": .string(endpoint)])["EndpointArn"]?.stringValue)
        let tags = try await client.call("ListTags", ["ResourceArn": .string(arn)])["Tags"]?.arrayValue ?? []
        #expect(tags.contains { $0["Key"] == "modelplane.dev/owner" && $0["Value"] == "ml-prod/churn-predictor" }, "\(tags)")

        _ = try await client.call("DeleteEndpoint", ["EndpointName": .string(endpoint)])
        let gone = try await client.observe(endpoint: endpoint, model: name, config: name)
        #expect(gone.endpointStatus == nil && gone.modelExists && gone.configExists)
    }
}
