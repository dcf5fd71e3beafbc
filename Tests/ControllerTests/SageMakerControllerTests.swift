import AWS
import Controller
import Foundation
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Rollout
import SageMakerBackend
import Testing
import Triton
import TritonBackend

/// The controller reconciling SageMaker endpoints through a real API server (`modelplane serve`),
/// against the stateful SageMaker fake: what moto cannot do — endpoints that take time, updates
/// that roll back, endpoints that fail, throttling, eventual consistency — scripted by its
/// manual clock. (The same controller against moto, through the CLI: SageMakerServeTests.)
@Suite(.timeLimit(.minutes(3))) struct SageMakerControllerTests {
    final class World: @unchecked Sendable {
        let directory = NSTemporaryDirectory() + "modelplane-sagemaker-" + UUID().uuidString
        let serve: PeerProcess
        let kube: KubernetesClient
        let fake: FakeSageMaker
        let triton = InMemoryTriton(repository: ["churn": (versions: [1, 2], broken: [:])])
        var controllerTask: Task<Void, Never>?
        var controller: Controller<DeploymentReconciler>?

        init(timing: FakeSageMaker.Timing = .init()) async throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            serve = try await PeerProcess.modelplaneServe(data: directory)
            kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
            fake = FakeSageMaker(timing: timing)
        }

        func start() throws {
            let fake = fake
            let triton = triton
            let backends = BackendRegistry([
                TritonServingBackend(triton: { _ in triton }), SageMakerServingBackend(client: { _, _ in fake }, pollInterval: .milliseconds(50)),
            ])
            let cache = ObjectCache<ModelDeployment>.modelDeployments(backends: backends)
            let reconciler = DeploymentReconciler(
                client: kube, cache: cache, backends: backends,
                audit: try AuditLog(path: directory + "/audit.log"), events: EventRecorder(client: kube, instance: "test"))
            let controller = Controller(client: kube, cache: cache, reconciler: reconciler, workers: 2, resyncPeriod: .seconds(3600))
            self.controller = controller
            controllerTask = Task { await controller.run() }
        }

        static func spec(
            version: String, count: Int64 = 1, strategy: ModelDeployment.Rollout.Strategy = .immediate,
            routing: ModelDeployment.SageMaker.TrafficRouting? = nil, alarms: [String]? = nil, historyLimit: Int64? = nil
        ) -> ModelDeployment.Spec {
            var spec = ModelDeployment.Spec(
                model: .init(name: "churn", version: version, uri: "s3://models/churn/\(version)/model.tar.gz"),
                backend: .init(
                    sagemaker: .init(
                        region: "us-east-1", image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1",
                        executionRoleArn: "arn:aws:iam::123456789012:role/SageMakerExecution", instanceType: "ml.m5.large", initialInstanceCount: count,
                        trafficRouting: routing, rollbackAlarms: alarms)), rollout: .init(strategy: strategy))
            spec.revisionHistoryLimit = historyLimit
            return spec
        }

        func create(_ name: String, _ spec: ModelDeployment.Spec) async throws {
            _ = try await kube.create(ModelDeployment(name: name, spec: spec))
        }

        /// Creates the deployment and lets SageMaker finish creating its endpoint.
        @discardableResult
        func serve(_ name: String, _ spec: ModelDeployment.Spec) async throws -> ModelDeployment {
            try await create(name, spec)
            try await wait(name) { $0.status?.sagemaker?.pendingConfig != nil }
            fake.advance(by: .seconds(300))
            return try await wait(name) { $0.status?.phase == .ready }
        }

        func change(_ name: String, _ body: @Sendable (inout ModelDeployment) -> Void) async throws {
            for _ in 0..<10 {
                var md = try await kube.get(ModelDeployment.self, name: name, namespace: "default")
                body(&md)
                if (try? await kube.update(md)) != nil { return }
            }
            throw PeerError("could not update \(name)")
        }

        @discardableResult
        func wait(_ name: String, timeout: Duration = .seconds(30), _ condition: (ModelDeployment) -> Bool) async throws -> ModelDeployment {
            let deadline = ContinuousClock.now + timeout
            var last: ModelDeployment?
            while ContinuousClock.now < deadline {
                last = try await kube.get(ModelDeployment.self, name: name, namespace: "default")
                if let md = last, md.status?.observedGeneration == md.metadata.generation, condition(md) { return md }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw PeerError("\(name) did not get there; last status: \(String(describing: last?.status))")
        }

        /// Polls `condition` (on the fake, say) until it holds or 30 s pass: the controller's next
        /// call can come later on a loaded machine than any fixed sleep allows.
        func until(_ what: String, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
            let deadline = ContinuousClock.now + timeout
            while !condition() {
                guard ContinuousClock.now < deadline else { throw PeerError("timed out waiting until \(what)") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }

        /// Has the controller reconcile everything once more, and returns once that reconcile has
        /// looked at SageMaker and finished: what a test asserts "it did nothing" after, instead of
        /// sleeping and hoping the controller had its turn.
        func reconcileAgain() async throws {
            guard let controller else { throw PeerError("the controller is not running") }
            // (A resync of a key in the middle of its reconcile, its object as that reconcile
            // left it, is folded into it: let the one in hand finish first.)
            try await idle(controller)
            let before = fake.calls.count
            await controller.resyncAll()
            try await until("a reconcile looked at SageMaker") { fake.calls.count > before }
            try await idle(controller)
        }

        private func idle(_ controller: Controller<DeploymentReconciler>) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while await controller.queue.outstanding > 0 {
                guard ContinuousClock.now < deadline else { throw PeerError("the controller did not go idle") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }

        /// Returns once the deployment is gone from the API (its finalizer done).
        func waitGone(_ name: String) async throws {
            guard await kube.waitUntilGone(ModelDeployment.self, name: name, namespace: "default", timeout: .seconds(20)) else {
                throw PeerError("\(name) is still there")
            }
        }

        func reasons(_ name: String) async throws -> [String] {
            try await kube.listAll(Event.self, namespace: "default").items.filter { $0.regarding.name == name }.compactMap(\.reason)
        }

        /// The event reasons recorded for `name` once they include all of `expected` (events are
        /// recorded after the status write a test waits for), or after 10 s.
        func reasons(_ name: String, including expected: Set<String>) async throws -> [String] {
            let deadline = ContinuousClock.now + .seconds(10)
            var reasons = try await reasons(name)
            while !expected.isSubset(of: reasons), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                reasons = try await self.reasons(name)
            }
            return reasons
        }

        deinit {
            controllerTask?.cancel()
            serve.stop()
        }
    }

    static func degraded(_ md: ModelDeployment) -> Condition? { md.status?.conditions?[type: "Degraded"] }

    @Test func createsWaitsForInServiceAndReportsEachStage() async throws {
        let world = try await World()
        try world.start()
        try await world.create("churn", World.spec(version: "v1", count: 2))
        let creating = try await world.wait("churn") { $0.status?.phase == .progressing && $0.status?.sagemaker?.pendingConfig != nil }
        let progressing = creating.status?.conditions?[type: "Progressing"]?.message ?? ""
        #expect(progressing.contains("creating endpoint churn") || progressing.contains("churn is Creating"), "\(progressing)")
        #expect(creating.status?.servingVersion == nil)
        #expect(world.fake.calls.filter { $0.hasPrefix("Create") } == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"])
        // Polling is by requeue: SageMaker is asked again while it works, and nothing is created twice.
        let polled = ContinuousClock.now + .seconds(20)
        while world.fake.calls.filter({ $0 == "DescribeEndpoint" }).count <= 3, ContinuousClock.now < polled {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(world.fake.calls.filter { $0 == "DescribeEndpoint" }.count > 3)
        #expect(world.fake.calls.filter { $0.hasPrefix("Create") }.count == 3)

        world.fake.advance(by: .seconds(300))
        let ready = try await world.wait("churn") { $0.status?.phase == .ready }
        #expect(ready.status?.servingVersion == "v1")
        #expect(ready.status?.sagemaker?.pendingConfig == nil)
        let name = try #require(ready.status?.sagemaker?.resources.first?.name)
        #expect(world.fake.modelNames == [name] && world.fake.configNames == [name])
        let config = try #require(world.fake.requests(.createEndpointConfig).first)
        #expect(config["ProductionVariants"]?.arrayValue?.first?["InitialInstanceCount"] == 2)
        let tags = world.fake.requests(.createEndpoint).first?["Tags"]?.arrayValue ?? []
        #expect(tags.contains { $0["Key"] == "modelplane.dev/owner" && $0["Value"] == "default/churn" })
        let reasons = try await world.reasons("churn", including: ["Creating", "Serving"])
        #expect(reasons.contains("Creating") && reasons.contains("Serving"), "\(reasons)")
        // The whole conversation, in order (repeated looks while SageMaker works collapsed: how
        // many there are depends on timing, not on what the controller decides).
        let calls = Self.collapsed(world.fake.calls[...])
        let expected = [
            "DescribeEndpoint", "DescribeModel", "DescribeEndpointConfig", "CreateModel", "CreateEndpointConfig", "CreateEndpoint", "DescribeEndpoint",
        ]
        #expect(calls == expected)
    }

    /// `calls` with consecutive repeats removed.
    static func collapsed(_ calls: ArraySlice<String>) -> [String] {
        var kept: [String] = []
        for call in calls where kept.last != call { kept.append(call) }
        return kept
    }

    @Test func blueGreenUpdateCarriesTheDeploymentConfigAndCleansUpBeyondTheHistory() async throws {
        let world = try await World()
        try world.start()
        let routing = ModelDeployment.SageMaker.TrafficRouting(type: .canary, stepPercent: 10, waitIntervalSeconds: 120)
        let first = try await world.serve("churn", World.spec(version: "v1", strategy: .blueGreen, routing: routing, alarms: ["churn-5xx"], historyLimit: 0))
        let oldName = try #require(first.status?.sagemaker?.resources.first?.name)

        try await world.change("churn") { $0.spec.model = .init(name: "churn", version: "v2", uri: "s3://models/churn/v2/model.tar.gz") }
        let updating = try await world.wait("churn") { $0.status?.phase == .progressing && $0.status?.sagemaker?.pendingConfig != nil }
        // While SageMaker shifts traffic, the old version serves.
        #expect(updating.status?.servingVersion == "v1")
        let update = try #require(world.fake.requests(.updateEndpoint).first)
        let traffic = update["DeploymentConfig"]?["BlueGreenUpdatePolicy"]?["TrafficRoutingConfiguration"]
        #expect(traffic?["Type"] == "CANARY" && traffic?["WaitIntervalInSeconds"] == 120)
        #expect(traffic?["CanarySize"] == ["Type": "CAPACITY_PERCENT", "Value": 10])
        #expect(update["DeploymentConfig"]?["AutoRollbackConfiguration"]?["Alarms"] == [["AlarmName": "churn-5xx"]])

        world.fake.advance(by: .seconds(300))
        let ready = try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.servingVersion == "v2" }
        // revisionHistoryLimit 0: the old model and config go once the new one serves.
        let newName = try #require(ready.status?.sagemaker?.resources.map(\.name).first { $0 != oldName })
        #expect(ready.status?.sagemaker?.resources.map(\.name) == [newName])
        #expect(world.fake.modelNames == [newName] && world.fake.configNames == [newName])
        #expect(world.fake.calls.filter { $0 == "UpdateEndpoint" }.count == 1)
    }

    @Test func aRolledBackUpdateIsDegradedWithSageMakersReasonAndNotRetriedHot() async throws {
        let world = try await World()
        try world.start()
        try await world.serve("churn", World.spec(version: "v1"))

        world.fake.failNextUpdate("The new fleet failed health checks: container exited with code 1")
        try await world.change("churn") { $0.spec.model.version = "v2" }
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        // The status write after UpdateEndpoint lost (a conflict, a crash): SageMaker's
        // PendingDeploymentSummary brings it back, so the rollback below is still recognized.
        for _ in 0..<20 {
            var md = try await world.kube.get(ModelDeployment.self, name: "churn", namespace: "default")
            md.status?.sagemaker?.pendingConfig = nil
            if (try? await world.kube.updateStatus(md)) != nil { break }
        }
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        world.fake.advance(by: .seconds(300))
        // Updating → RollingBack: Degraded with SageMaker's reason at once, v1 still serving.
        let rolling = try await world.wait("churn") { Self.degraded($0)?.reason == "RollingBack" }
        #expect(rolling.status?.servingVersion == "v1" && rolling.status?.phase == .degraded)
        #expect(Self.degraded(rolling)?.message.contains("container exited with code 1") == true)
        world.fake.advance(by: .seconds(300))
        let degraded = try await world.wait("churn") { Self.degraded($0)?.reason == "UpdateRolledBack" }
        #expect(degraded.status?.phase == .degraded)
        #expect(degraded.status?.servingVersion == "v1")
        #expect(Self.degraded(degraded)?.message.contains("container exited with code 1") == true)
        #expect(degraded.status?.conditions?[type: "Ready"]?.reason == "ServingPrevious")
        // No second update while the failure stands (the retry waits for a spec change or 5 minutes).
        try await world.reconcileAgain()
        #expect(world.fake.calls.filter { $0 == "UpdateEndpoint" }.count == 1)
        #expect(try await world.reasons("churn", including: ["UpdateRolledBack"]).contains("UpdateRolledBack"))

        // A new spec is tried at once.
        try await world.change("churn") { $0.spec.model.version = "v3" }
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil && $0.status?.phase == .progressing }
        world.fake.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.servingVersion == "v3" }
    }

    @Test func aFailedEndpointIsReportedThenReplacedWhenTheSpecChanges() async throws {
        let world = try await World()
        try world.start()
        world.fake.failNextCreate("Image 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1 does not exist")
        try await world.create("churn", World.spec(version: "v1"))
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        world.fake.advance(by: .seconds(300))
        let failed = try await world.wait("churn") { Self.degraded($0)?.reason == "EndpointFailed" }
        #expect(failed.status?.phase == .failed)
        #expect(Self.degraded(failed)?.message.contains("does not exist") == true)
        try await world.reconcileAgain()
        #expect(!world.fake.calls.contains("DeleteEndpoint"))

        try await world.change("churn") { $0.spec.model.version = "v2" }
        // A Failed endpoint cannot be updated: deleted, then created anew with the new revision.
        try await world.wait("churn") { _ in world.fake.calls.contains("DeleteEndpoint") }
        world.fake.advance(by: .seconds(60))
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil && $0.status?.phase == .progressing }
        world.fake.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.servingVersion == "v2" }
        #expect(world.fake.calls.filter { $0 == "CreateEndpoint" }.count == 2)
    }

    @Test func throttlingAndEventualConsistencyAreRiddenOut() async throws {
        var timing = FakeSageMaker.Timing()
        timing.configVisibleAfter = .seconds(5)
        let world = try await World(timing: timing)
        world.fake.throttle(next: 2)
        try world.start()
        try await world.create("churn", World.spec(version: "v1"))
        // The first calls are throttled: BackendUnavailable, then the controller's backoff retries.
        // CreateEndpoint right after CreateEndpointConfig does not see the config yet.
        try await world.wait("churn") { $0.status?.conditions?[type: "Progressing"]?.message.contains("does not see endpoint config") == true }
        world.fake.advance(by: .seconds(5))
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        world.fake.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready }
        let calls = world.fake.calls
        #expect(calls.filter { $0 == "CreateEndpoint" }.count >= 2)
        #expect(calls.filter { $0 == "CreateModel" }.count == 1 && calls.filter { $0 == "CreateEndpointConfig" }.count == 1)
        #expect(try await world.reasons("churn", including: ["BackendUnavailable"]).contains("BackendUnavailable"))
    }

    @Test func aRequestSageMakerRefusesIsTerminalUntilTheSpecChanges() async throws {
        let world = try await World()
        world.fake.refuseNext(
            .createModel, message: "Could not access model data at s3://models/churn/v1/model.tar.gz. Please ensure that the role has access")
        try world.start()
        try await world.create("churn", World.spec(version: "v1"))
        let refused = try await world.wait("churn") { Self.degraded($0)?.reason == "InvalidRequest" }
        #expect(refused.status?.phase == .failed)
        #expect(Self.degraded(refused)?.message.contains("Could not access model data") == true)
        // Not retried hot: the same request would be refused again.
        try await world.reconcileAgain()
        #expect(world.fake.calls.filter { $0 == "CreateModel" }.count == 1)
        // A changed spec is tried at once.
        try await world.change("churn") { $0.spec.model.uri = "s3://models/churn/v1-fixed/model.tar.gz" }
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        world.fake.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready }
    }

    @Test func aRolloutPastItsDeadlineIsReportedWhileSageMakerKeepsWorking() async throws {
        let world = try await World()
        try world.start()
        var spec = World.spec(version: "v1")
        spec.rollout?.progressDeadlineSeconds = 1
        try await world.create("churn", spec)
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        let late = try await world.wait("churn") { Self.degraded($0)?.reason == "ProgressDeadlineExceeded" }
        #expect(late.status?.conditions?[type: "Progressing"]?.status == .false)
        #expect(Self.degraded(late)?.message.contains("churn is Creating") == true, "\(String(describing: Self.degraded(late)))")
        // Still watched: when SageMaker finishes, it is Ready and healthy.
        world.fake.advance(by: .seconds(300))
        let ready = try await world.wait("churn") { $0.status?.phase == .ready }
        #expect(Self.degraded(ready)?.status == .false)
        #expect(try await world.reasons("churn", including: ["ProgressDeadlineExceeded"]).contains("ProgressDeadlineExceeded"))
    }

    @Test func anInstanceCountChangeScalesWithoutANewFleet() async throws {
        let world = try await World()
        try world.start()
        try await world.serve("churn", World.spec(version: "v1", count: 1))
        try await world.change("churn") { $0.spec.backend.sagemaker?.initialInstanceCount = 4 }
        try await world.wait("churn") { $0.status?.phase == .progressing }
        #expect(
            world.fake.requests(.updateEndpointWeightsAndCapacities).first?["DesiredWeightsAndCapacities"] == [
                ["VariantName": "primary", "DesiredInstanceCount": 4]
            ])
        world.fake.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready }
        #expect(!world.fake.calls.contains("UpdateEndpoint"))
        #expect(world.fake.configNames.count == 1)
    }

    @Test func deletionRemovesTheEndpointItsConfigsAndModels() async throws {
        let world = try await World()
        try world.start()
        try await world.serve("churn", World.spec(version: "v1"))
        try await world.change("churn") { $0.spec.model.version = "v2" }
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        world.fake.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.servingVersion == "v2" }
        #expect(world.fake.configNames.count == 2)

        let before = world.fake.calls.count
        try await world.kube.delete(ModelDeployment.self, name: "churn", namespace: "default")
        // The object stays (finalizer) until SageMaker has deleted the endpoint.
        try await world.until("the controller deletes the endpoint") { world.fake.calls.contains("DeleteEndpoint") }
        #expect(world.fake.endpointNames == ["churn"])
        _ = try await world.kube.get(ModelDeployment.self, name: "churn", namespace: "default")
        world.fake.advance(by: .seconds(60))
        try await world.waitGone("churn")
        #expect(world.fake.endpointNames.isEmpty && world.fake.configNames.isEmpty && world.fake.modelNames.isEmpty)
        // In order: the endpoint first (looked at until SageMaker has deleted it), then each
        // revision's config and model, oldest first.
        let calls = Self.collapsed(world.fake.calls[before...])
        let expected = [
            "DescribeEndpoint", "DeleteEndpoint", "DescribeEndpoint", "DeleteEndpointConfig", "DeleteModel", "DeleteEndpointConfig", "DeleteModel",
        ]
        #expect(calls == expected)
    }

    @Test func anEndpointSomeoneElseOwnsIsNeverTouched() async throws {
        let world = try await World()
        let fake = world.fake
        // Someone else's endpoint, named as our deployment would name its own.
        _ = try await fake.call(.createModel, ["ModelName": "theirs", "PrimaryContainer": ["Image": "x"]])
        _ = try await fake.call(
            .createEndpointConfig,
            ["EndpointConfigName": "theirs", "ProductionVariants": [["VariantName": "a", "ModelName": "theirs", "InstanceType": "ml.m5.large"]]])
        _ = try await fake.call(
            .createEndpoint, ["EndpointName": "churn", "EndpointConfigName": "theirs", "Tags": [["Key": "team", "Value": "payments"]]])
        fake.advance(by: .seconds(300))
        let before = fake.calls.count
        try world.start()
        try await world.create("churn", World.spec(version: "v1"))
        let conflict = try await world.wait("churn") { Self.degraded($0)?.reason == "Conflict" }
        #expect(Self.degraded(conflict)?.message.contains("not managed by this ModelDeployment") == true)
        let ours = fake.calls.dropFirst(before)
        #expect(!ours.contains("UpdateEndpoint") && !ours.contains("DeleteEndpoint") && !ours.contains("CreateModel"), "\(ours)")
        // Deleting our deployment leaves their endpoint alone: once it is gone (its finalizer
        // done), their endpoint is still there and was never asked to go.
        try await world.kube.delete(ModelDeployment.self, name: "churn", namespace: "default")
        try await world.waitGone("churn")
        #expect(fake.endpointNames == ["churn"] && !fake.calls.contains("DeleteEndpoint"))
    }

    @Test func afterLosingItsStatusTheControllerAdoptsItsOwnEndpoint() async throws {
        let world = try await World()
        try world.start()
        try await world.serve("churn", World.spec(version: "v1"))
        // Status wiped (say, restored from a backup without it): the endpoint's tags say it is ours.
        var md = try await world.kube.get(ModelDeployment.self, name: "churn", namespace: "default")
        md.status = ModelDeployment.Status()
        _ = try await world.kube.updateStatus(md)
        let adopted = try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.sagemaker != nil }
        #expect(adopted.status?.servingVersion == "v1")
        #expect(world.fake.calls.filter { $0.hasPrefix("Create") || $0.hasPrefix("Update") }.count == 3)
        #expect(try await world.reasons("churn", including: ["Adopted"]).contains("Adopted"))
    }

    @Test func anotherAPIURLMovesNothingAnotherEndpointNameMovesTheEndpoint() async throws {
        let world = try await World()
        try world.start()
        try await world.serve("churn", World.spec(version: "v1"))
        try await world.change("churn") { $0.spec.backend.sagemaker?.endpointURL = "https://vpce-1.api.sagemaker.us-east-1.vpce.amazonaws.com" }
        let sameEndpoint = try await world.wait("churn") { $0.status?.sagemaker?.endpointURL != nil }
        #expect(sameEndpoint.status?.phase == .ready)
        #expect(!world.fake.calls.contains("DeleteEndpoint") && world.fake.calls.filter { $0 == "CreateEndpoint" }.count == 1)

        try await world.change("churn") { $0.spec.backend.sagemaker?.endpointName = "churn-v2" }
        let moving = try await world.wait("churn") { _ in world.fake.calls.contains("DeleteEndpoint") }
        #expect(moving.status?.servingVersion == "v1", "the old endpoint serves until it is deleted")
        world.fake.advance(by: .seconds(60))
        try await world.wait("churn") { $0.status?.sagemaker?.endpoint == "churn-v2" && $0.status?.sagemaker?.pendingConfig != nil }
        world.fake.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready }
        #expect(world.fake.endpointNames == ["churn-v2"])
    }

    @Test func movingFromTritonToSageMakerAndBack() async throws {
        let world = try await World()
        try world.start()
        _ = try await world.kube.create(
            ModelDeployment(name: "churn", spec: .init(model: .init(name: "churn", version: "1"), backend: .init(triton: .init(url: world.triton.baseURL)))))
        try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.triton != nil }

        // Only the backend block changes.
        try await world.change("churn") { md in
            md.spec.backend = World.spec(version: "1").backend
            md.spec.model.uri = "s3://models/churn/1/model.tar.gz"
        }
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        // Triton keeps serving until SageMaker does.
        #expect(!world.triton.history.contains("unload churn"))
        world.fake.advance(by: .seconds(300))
        let moved = try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.triton == nil }
        #expect(moved.status?.backend == "sagemaker")
        #expect(world.triton.history.contains("unload churn"))

        try await world.change("churn") { md in
            md.spec.backend = .init(triton: .init(url: world.triton.baseURL))
            md.spec.model.uri = nil
        }
        try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.backend == "triton" && $0.status?.triton != nil }
        // The endpoint is deleted once Triton serves; then its configs and models.
        try await world.until("the controller deletes the endpoint") { world.fake.calls.contains("DeleteEndpoint") }
        world.fake.advance(by: .seconds(60))
        try await world.wait("churn") { $0.status?.sagemaker == nil }
        #expect(world.fake.endpointNames.isEmpty && world.fake.modelNames.isEmpty)
    }
}
