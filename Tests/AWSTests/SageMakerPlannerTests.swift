import AWS
import Foundation
import HTTPClient
import Manifests
import ModelplaneAPI
import ModelplaneTestSupport
import SageMakerBackend
import Testing

@Suite struct SageMakerPlannerTests {
    static func next(_ observed: SageMakerObservation) -> SageMakerStep {
        SageMakerPlanner.next(SageMakerPlanInput(endpoint: "churn", name: "churn-new", instanceCount: observed.instanceCount ?? 1, observed: observed))
    }

    @Test func createsWhatIsMissingInOrderThenTheEndpoint() {
        #expect(Self.next(.init(modelExists: false, configExists: false)) == .createModel("churn-new"))
        #expect(Self.next(.init(modelExists: true, configExists: false)) == .createEndpointConfig("churn-new"))
        #expect(Self.next(.init(modelExists: true, configExists: true)) == .createEndpoint(endpoint: "churn", config: "churn-new"))
    }

    @Test func waitsWhileSageMakerWorksAndNeverUpdatesTwice() {
        // A state SageMaker may add later is waited out too, never acted on.
        for status: EndpointStatus in ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "OutOfService", "Migrating"] {
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

    @Test func requestBodiesMatchBotocoresServiceModel() async throws {
        let md = try Self.churn()
        let name = SageMakerResources.name(deployment: md.metadata.name ?? "", hash: md.spec.revisionHash)
        let endpoint = SageMakerResources.endpointName(md)
        var canary = md
        canary.spec.backend.sagemaker?.trafficRouting = .init(type: .canary, stepPercent: 10, waitIntervalSeconds: 600)
        canary.spec.backend.sagemaker?.rollbackAlarms = ["churn-5xx", "churn-latency"]
        var linear = md
        linear.spec.backend.sagemaker?.trafficRouting = .init(type: .linear, stepPercent: 20, waitIntervalSeconds: 60)
        let problems = try await SageMakerMotoTests.shapeProblems([
            ("CreateModel", SageMakerResources.createModel(md, name: name)),
            ("CreateEndpointConfig", SageMakerResources.createEndpointConfig(md, name: name, model: name)),
            ("CreateEndpoint", SageMakerResources.createEndpoint(md, endpoint: endpoint, config: name)),
            ("UpdateEndpoint", SageMakerResources.updateEndpoint(endpoint: endpoint, config: name)),
            ("UpdateEndpoint", SageMakerResources.updateEndpoint(md, endpoint: endpoint, config: name)),
            ("UpdateEndpoint", SageMakerResources.updateEndpoint(canary, endpoint: endpoint, config: name)),
            ("UpdateEndpoint", SageMakerResources.updateEndpoint(linear, endpoint: endpoint, config: name)),
            ("UpdateEndpointWeightsAndCapacities", SageMakerResources.updateCapacity(endpoint: endpoint, variant: SageMakerResources.variant, count: 3)),
        ])
        #expect(problems == [])
        #expect(SageMakerResources.deploymentConfig(md) != nil, "the example is BlueGreen: it passes a DeploymentConfig")
    }

    @Test func capacityCleanupAndRolledBackUpdates() {
        let serving = SageMakerObservation(
            endpointStatus: "InService", endpointConfigName: "churn-new", variantName: "primary", instanceCount: 2, modelExists: true, configExists: true)
        func next(_ observed: SageMakerObservation, count: Int64 = 2, failed: String? = nil, obsolete: [String] = []) -> SageMakerStep {
            SageMakerPlanner.next(
                SageMakerPlanInput(
                    endpoint: "churn", name: "churn-new", instanceCount: count, observed: observed, failedForThisGeneration: failed, obsolete: obsolete))
        }
        #expect(next(serving) == .converged)
        #expect(next(serving, count: 5) == .updateCapacity(endpoint: "churn", variant: "primary", count: 5))
        // Old revisions go only once the endpoint serves this one, one at a time, never the serving one.
        #expect(next(serving, obsolete: ["churn-new", "churn-old"]) == .deleteResources("churn-old"))
        var older = serving
        older.endpointConfigName = "churn-old"
        #expect(next(older, obsolete: ["churn-older"]) == .updateEndpoint(endpoint: "churn", config: "churn-new"))
        // An update SageMaker rolled back is not tried again while the failure stands.
        #expect(next(older, failed: "rolled back") == .blocked("rolled back"))
        // Capacity waits for SageMaker, like everything else.
        var updating = serving
        updating.endpointStatus = "Updating"
        #expect(next(updating, count: 5) == .wait(status: "Updating"))
    }

    @Test func obsoleteResourcesAreTheOldestBeyondTheHistoryNeverOnesInUse() {
        let resources = (1...5).map { ModelDeployment.SageMakerResource(name: "churn-\($0)", version: "v\($0)") }
        // Desired 5, serving 1 (an old one rolled back to), pending none: 2, 3, 4 are the others; keep the newest 1.
        #expect(SageMakerResources.obsolete(resources, desired: "churn-5", serving: "churn-1", pending: nil, historyLimit: 1) == ["churn-2", "churn-3"])
        #expect(SageMakerResources.obsolete(resources, desired: "churn-5", serving: "churn-4", pending: "churn-3", historyLimit: 0) == ["churn-1", "churn-2"])
        #expect(SageMakerResources.obsolete(resources, desired: "churn-5", serving: nil, pending: nil, historyLimit: nil) == [])
    }

    @Test func resourceNamesChangeWithWhatTheyHoldAndTheirOwnerOnly() throws {
        let md = try Self.churn()
        var scaled = md
        scaled.spec.backend.sagemaker?.initialInstanceCount = 7
        scaled.spec.backend.sagemaker?.endpointURL = "http://127.0.0.1:1"
        #expect(SageMakerResources.name(scaled) == SageMakerResources.name(md))
        var newVersion = md
        newVersion.spec.model.version = "2024-12-01"
        #expect(SageMakerResources.name(newVersion) != SageMakerResources.name(md))
        var otherNamespace = md
        otherNamespace.metadata.namespace = "ml-staging"
        #expect(SageMakerResources.name(otherNamespace) != SageMakerResources.name(md))
        var otherImage = md
        otherImage.spec.backend.sagemaker?.image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.2-cpu-py310"
        #expect(SageMakerResources.name(otherImage) != SageMakerResources.name(md))
    }
}
