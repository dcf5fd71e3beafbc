import AWS
import Controller
import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Rollout
import SageMakerBackend
import Testing
import Triton
import TritonBackend

/// The controller reconciling SageMaker endpoints through a real API server (`modelplane serve`).
/// Every scenario moto supports (create, scale, delete, a foreign endpoint, adoption, moving the
/// endpoint) runs against moto (SigV4 verified) and against the stateful SageMaker fake; what moto
/// cannot do — endpoints that take time, updates that roll back, endpoints that fail, throttling,
/// eventual consistency — runs on the fake alone, scripted by its manual clock. Every scenario
/// asserts the ordered SageMaker calls the controller made. (The same controller against moto,
/// through the CLI: SageMakerServeTests.)
@Suite(.timeLimit(.minutes(3))) struct SageMakerControllerTests {
    enum Peer: String, CaseIterable, CustomTestStringConvertible {
        case fake, moto
        var testDescription: String { rawValue }
    }

    final class World: @unchecked Sendable {
        let directory = NSTemporaryDirectory() + "modelplane-sagemaker-" + UUID().uuidString
        let serve: PeerProcess
        let kube: KubernetesClient
        let http = HTTPClient()
        /// The fake's controls (its clock, its scripted failures); nil on moto.
        let fake: FakeSageMaker!
        let moto: MotoSageMaker?
        /// What the controller calls, every call recorded.
        let sagemaker: RecordingSageMaker
        let audit = RecordingAuditSink()
        var controllerTask: Task<Void, Never>?
        var controller: Controller<DeploymentReconciler>?

        init(_ peer: Peer = .fake, timing: FakeSageMaker.Timing = .init()) async throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            serve = try await PeerProcess.modelplaneServe(data: directory)
            kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
            switch peer {
            case .fake:
                fake = FakeSageMaker(timing: timing)
                moto = nil
                sagemaker = RecordingSageMaker(fake)
            case .moto:
                let moto = try await MotoSageMaker()
                self.moto = moto
                fake = nil
                sagemaker = RecordingSageMaker(moto.client(http))
            }
        }

        func start(analysis: AnalysisMeasurer? = nil) throws {
            let sagemaker = sagemaker
            let http = http
            let backends = BackendRegistry([
                TritonServingBackend(triton: { TritonClient(baseURL: $0, http: http) }),
                SageMakerServingBackend(client: { _, _ in sagemaker }, pollInterval: .milliseconds(50)),
            ])
            let cache = ObjectCache<ModelDeployment>.modelDeployments(backends: backends)
            let reconciler = DeploymentReconciler(
                client: kube, cache: cache, backends: backends,
                audit: audit, events: EventRecorder(client: kube, instance: "test"), analysis: analysis)
            let controller = Controller(client: kube, cache: cache, reconciler: reconciler, workers: 2, resyncPeriod: .seconds(3600))
            self.controller = controller
            controllerTask = Task { await controller.run() }
        }

        /// The SageMaker operations the controller called, in order.
        var calls: [String] { sagemaker.calls }

        /// `calls` from `start` on, with consecutive repeats removed: how often the controller looks
        /// while SageMaker works depends on timing, not on what it decides.
        func conversation(from start: Int = 0) -> [String] {
            var kept: [String] = []
            for call in calls.dropFirst(start) where kept.last != call { kept.append(call) }
            return kept
        }

        /// The calls from `start` on that change something (not a Describe or a List), in order:
        /// what the controller decided, however often it looked.
        func actions(from start: Int = 0) -> [String] {
            calls.dropFirst(start).filter { !$0.hasPrefix("Describe") && !$0.hasPrefix("List") }
        }

        /// Lets SageMaker's work take `duration` (moto's work is done at once).
        func advance(by duration: Duration) { fake?.advance(by: duration) }

        /// What the account holds.
        func inventory() async throws -> SageMakerInventory { try await SageMakerInventory.of(sagemaker.wrapped) }

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
            if let fake {
                try await wait(name) { $0.status?.sagemaker?.pendingConfig != nil }
                fake.advance(by: .seconds(300))
            }
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

        /// `until` for a condition that asks SageMaker; `onFail` says what the status was.
        func until(_ what: String, timeout: Duration = .seconds(30), _ condition: () async -> Bool, onFail: () -> ModelDeployment) async throws {
            let deadline = ContinuousClock.now + timeout
            while await !condition() {
                guard ContinuousClock.now < deadline else { throw PeerError("timed out waiting until \(what); status \(String(describing: onFail().status))") }
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
            let before = sagemaker.calls.count
            await controller.resyncAll()
            try await until("a reconcile looked at SageMaker") { sagemaker.calls.count > before }
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

    /// A first pass that finds nothing, then the three creates.
    static let creation = ["DescribeEndpoint", "DescribeModel", "DescribeEndpointConfig", "CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    static let creates = ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]

    // (Where a scenario goes on after an action SageMaker works on, what the controller decided is
    // asserted as the exact ordered `actions`: how many times it looks meanwhile, and whether a
    // pass that started before its own status write landed looks at the model and config again,
    // depends on timing.)

    @Test(arguments: Peer.allCases) func createsAnEndpointWaitsForInServiceAndReportsEachStage(_ peer: Peer) async throws {
        let world = try await World(peer)
        try world.start()
        try await world.create("churn", World.spec(version: "v1", count: 2))
        if let fake = world.fake {
            // (moto's endpoint is InService at once: these stages are the fake's.)
            let creating = try await world.wait("churn") { $0.status?.phase == .progressing && $0.status?.sagemaker?.pendingConfig != nil }
            let progressing = creating.status?.conditions?[type: "Progressing"]?.message ?? ""
            #expect(progressing.contains("creating endpoint churn") || progressing.contains("churn is Creating"), "\(progressing)")
            #expect(creating.status?.servingVersion == nil)
            // Polling is by requeue: SageMaker is asked again while it works, and nothing is created twice.
            try await world.until("the controller looks three more times") { world.calls.filter { $0 == "DescribeEndpoint" }.count >= 4 }
            #expect(world.actions() == Self.creates)
            fake.advance(by: .seconds(300))
        }
        let ready = try await world.wait("churn") { $0.status?.phase == .ready }
        #expect(ready.status?.servingVersion == "v1")
        #expect(ready.status?.sagemaker?.pendingConfig == nil)
        let name = try #require(ready.status?.sagemaker?.resources.first?.name)
        #expect(try await world.inventory() == SageMakerInventory(endpoints: ["churn"], configs: [name], models: [name]))
        let config = try #require(world.sagemaker.requests(.createEndpointConfig).first)
        #expect(config["ProductionVariants"]?.arrayValue?.first?["InitialInstanceCount"] == 2)
        let tags = world.sagemaker.requests(.createEndpoint).first?["Tags"]?.arrayValue ?? []
        #expect(tags.contains { $0["Key"] == "modelplane.dev/owner" && $0["Value"] == "default/churn" })
        let reasons = try await world.reasons("churn", including: ["Creating", "Serving"])
        #expect(reasons.contains("Creating") && reasons.contains("Serving"), "\(reasons)")
        #expect(world.conversation().starts(with: Self.creation + ["DescribeEndpoint"]))
        #expect(world.actions() == Self.creates)
        // Each action in the audit trail as it completed.
        #expect(world.audit.lines == ["CreateModel \(name) ok", "CreateEndpointConfig \(name) ok", "CreateEndpoint sagemaker:us-east-1/churn ok"])
        #expect(world.audit.records.allSatisfy { $0.deployment == "default/churn" && $0.revision == 1 })
    }

    @Test func blueGreenUpdateCarriesTheDeploymentConfigAndCleansUpBeyondTheHistory() async throws {
        let world = try await World()
        try world.start()
        let routing = ModelDeployment.SageMaker.TrafficRouting(type: .canary, stepPercent: 10, waitIntervalSeconds: 120)
        let first = try await world.serve("churn", World.spec(version: "v1", strategy: .blueGreen, routing: routing, alarms: ["churn-5xx"], historyLimit: 0))
        let oldName = try #require(first.status?.sagemaker?.resources.first?.name)

        let before = world.calls.count
        try await world.change("churn") { $0.spec.model = .init(name: "churn", version: "v2", uri: "s3://models/churn/v2/model.tar.gz") }
        let updating = try await world.wait("churn") { $0.status?.phase == .progressing && $0.status?.sagemaker?.pendingConfig != nil }
        // While SageMaker shifts traffic, the old version serves.
        #expect(updating.status?.servingVersion == "v1")
        let update = try #require(world.sagemaker.requests(.updateEndpoint).first)
        let traffic = update["DeploymentConfig"]?["BlueGreenUpdatePolicy"]?["TrafficRoutingConfiguration"]
        #expect(traffic?["Type"] == "CANARY" && traffic?["WaitIntervalInSeconds"] == 120)
        #expect(traffic?["CanarySize"] == ["Type": "CAPACITY_PERCENT", "Value": 10])
        #expect(update["DeploymentConfig"]?["AutoRollbackConfiguration"]?["Alarms"] == [["AlarmName": "churn-5xx"]])

        world.advance(by: .seconds(300))
        let ready = try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.servingVersion == "v2" }
        // revisionHistoryLimit 0: the old model and config go once the new one serves.
        let newName = try #require(ready.status?.sagemaker?.resources.map(\.name).first { $0 != oldName })
        #expect(ready.status?.sagemaker?.resources.map(\.name) == [newName])
        #expect(try await world.inventory() == SageMakerInventory(endpoints: ["churn"], configs: [newName], models: [newName]))
        #expect(
            world.conversation(from: before).starts(with: [
                "DescribeEndpoint", "DescribeModel", "DescribeEndpointConfig", "CreateModel", "CreateEndpointConfig", "UpdateEndpoint",
            ]))
        #expect(world.actions(from: before) == ["CreateModel", "CreateEndpointConfig", "UpdateEndpoint", "DeleteEndpointConfig", "DeleteModel"])
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
        world.advance(by: .seconds(300))
        // Updating → RollingBack: Degraded with SageMaker's reason at once, v1 still serving.
        let rolling = try await world.wait("churn") { Self.degraded($0)?.reason == "RollingBack" }
        #expect(rolling.status?.servingVersion == "v1" && rolling.status?.phase == .degraded)
        #expect(Self.degraded(rolling)?.message.contains("container exited with code 1") == true)
        world.advance(by: .seconds(300))
        let degraded = try await world.wait("churn") { Self.degraded($0)?.reason == "UpdateRolledBack" }
        #expect(degraded.status?.phase == .degraded)
        #expect(degraded.status?.servingVersion == "v1")
        #expect(Self.degraded(degraded)?.message.contains("container exited with code 1") == true)
        #expect(degraded.status?.conditions?[type: "Ready"]?.reason == "ServingPrevious")
        // No second update while the failure stands (the retry waits for a spec change or 5 minutes):
        // a reconcile now only looks.
        let settled = world.calls.count
        try await world.reconcileAgain()
        #expect(world.actions(from: settled) == [] && world.calls.count > settled)
        #expect(try await world.reasons("churn", including: ["UpdateRolledBack"]).contains("UpdateRolledBack"))

        // A new spec is tried at once.
        let retried = world.calls.count
        try await world.change("churn") { $0.spec.model.version = "v3" }
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil && $0.status?.phase == .progressing }
        world.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.servingVersion == "v3" }
        #expect(
            world.conversation(from: retried).starts(with: [
                "DescribeEndpoint", "DescribeModel", "DescribeEndpointConfig", "CreateModel", "CreateEndpointConfig", "UpdateEndpoint",
            ]))
        #expect(world.actions(from: retried) == ["CreateModel", "CreateEndpointConfig", "UpdateEndpoint"])
    }

    @Test func aFailedEndpointIsReportedThenReplacedWhenTheSpecChanges() async throws {
        let world = try await World()
        try world.start()
        world.fake.failNextCreate("Image 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1 does not exist")
        try await world.create("churn", World.spec(version: "v1"))
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        world.advance(by: .seconds(300))
        let failed = try await world.wait("churn") { Self.degraded($0)?.reason == "EndpointFailed" }
        #expect(failed.status?.phase == .failed)
        #expect(Self.degraded(failed)?.message.contains("does not exist") == true)
        try await world.reconcileAgain()
        #expect(world.conversation().starts(with: Self.creation) && world.actions() == Self.creates)

        // A Failed endpoint cannot be updated: deleted, then created anew with the new revision.
        let replaced = world.calls.count
        try await world.change("churn") { $0.spec.model.version = "v2" }
        try await world.until("the controller deletes the endpoint") { world.calls.contains("DeleteEndpoint") }
        world.advance(by: .seconds(60))
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil && $0.status?.phase == .progressing }
        world.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.servingVersion == "v2" }
        #expect(world.conversation(from: replaced).starts(with: ["DescribeEndpoint", "DescribeModel", "DescribeEndpointConfig", "DeleteEndpoint"]))
        #expect(world.actions(from: replaced) == ["DeleteEndpoint"] + Self.creates)
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
        world.advance(by: .seconds(5))
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        world.advance(by: .seconds(300))
        try await world.wait("churn") { $0.status?.phase == .ready }
        // Throttled looks are asked again; the creates are made once each, and CreateEndpoint until
        // SageMaker sees the config.
        #expect(world.conversation().starts(with: Self.creation))
        // (How many CreateEndpoints until the config is visible depends on when the test moves the
        // fake's clock: at least one more.)
        #expect(world.actions().prefix(4) == ArraySlice(Self.creates + ["CreateEndpoint"]))
        #expect(world.actions().dropFirst(3).allSatisfy { $0 == "CreateEndpoint" })
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
        #expect(world.conversation().starts(with: ["DescribeEndpoint", "DescribeModel", "DescribeEndpointConfig", "CreateModel"]))
        #expect(world.actions() == ["CreateModel"])
        // Not retried hot: the same request would be refused again; a reconcile now only looks.
        let settled = world.calls.count
        try await world.reconcileAgain()
        #expect(world.actions(from: settled) == [] && world.calls.count > settled)
        // A changed spec is tried at once.
        try await world.change("churn") { $0.spec.model.uri = "s3://models/churn/v1-fixed/model.tar.gz" }
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        world.advance(by: .seconds(300))
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
        world.advance(by: .seconds(300))
        let ready = try await world.wait("churn") { $0.status?.phase == .ready }
        #expect(Self.degraded(ready)?.status == .false)
        #expect(try await world.reasons("churn", including: ["ProgressDeadlineExceeded"]).contains("ProgressDeadlineExceeded"))
        // Past the deadline the controller only looked: nothing was created again.
        #expect(world.conversation().starts(with: Self.creation) && world.actions() == Self.creates)
    }

    @Test(arguments: Peer.allCases) func anInstanceCountChangeScalesWithoutANewFleet(_ peer: Peer) async throws {
        let world = try await World(peer)
        try world.start()
        try await world.serve("churn", World.spec(version: "v1", count: 1))
        let before = world.calls.count
        try await world.change("churn") { $0.spec.backend.sagemaker?.initialInstanceCount = 4 }
        if world.fake != nil {
            try await world.wait("churn") { $0.status?.phase == .progressing }
            world.advance(by: .seconds(300))
        }
        try await world.wait("churn") { $0.status?.phase == .ready }
        #expect(
            world.sagemaker.requests(.updateEndpointWeightsAndCapacities) == [
                ["EndpointName": "churn", "DesiredWeightsAndCapacities": [["VariantName": "primary", "DesiredInstanceCount": 4]]]
            ])
        #expect(try await world.inventory().configs.count == 1)
        #expect(world.conversation(from: before).starts(with: ["DescribeEndpoint", "UpdateEndpointWeightsAndCapacities"]))
        #expect(world.actions(from: before) == ["UpdateEndpointWeightsAndCapacities"])
    }

    @Test(arguments: Peer.allCases) func deletionRemovesTheEndpointItsConfigsAndModels(_ peer: Peer) async throws {
        let world = try await World(peer)
        try world.start()
        try await world.serve("churn", World.spec(version: "v1"))
        var revisions = 1
        if world.fake != nil {
            // (moto has no UpdateEndpoint: a second revision is the fake's.)
            try await world.change("churn") { $0.spec.model.version = "v2" }
            try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
            world.advance(by: .seconds(300))
            try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.servingVersion == "v2" }
            revisions = 2
        }
        #expect(try await world.inventory().configs.count == revisions)

        let audited = world.audit.records.count
        let before = world.calls.count
        try await world.kube.delete(ModelDeployment.self, name: "churn", namespace: "default")
        if world.fake != nil {
            // The object stays (finalizer) until SageMaker has deleted the endpoint.
            try await world.until("the controller deletes the endpoint") { world.calls.contains("DeleteEndpoint") }
            #expect(try await world.inventory().endpoints == ["churn"])
            _ = try await world.kube.get(ModelDeployment.self, name: "churn", namespace: "default")
            world.advance(by: .seconds(60))
        }
        try await world.waitGone("churn")
        #expect(try await world.inventory() == SageMakerInventory())
        // In order: the endpoint first (looked at until SageMaker has deleted it), then each
        // revision's config and model, oldest first.
        let expected =
            ["DescribeEndpoint", "DeleteEndpoint", "DescribeEndpoint"] + Array(repeating: ["DeleteEndpointConfig", "DeleteModel"], count: revisions).joined()
        #expect(world.conversation(from: before) == expected)
        // Every deletion audited as it completed, in the order made.
        #expect(world.audit.records.dropFirst(audited).map(\.entry.action) == world.actions(from: before))
        #expect(world.audit.records.dropFirst(audited).allSatisfy { $0.entry.outcome == .ok })
    }

    @Test(arguments: Peer.allCases) func anEndpointSomeoneElseOwnsIsNeverTouched(_ peer: Peer) async throws {
        let world = try await World(peer)
        let theirs = world.sagemaker.wrapped
        // Someone else's endpoint, named as our deployment would name its own.
        _ = try await theirs.call(
            .createModel,
            [
                "ModelName": "theirs", "ExecutionRoleArn": "arn:aws:iam::123456789012:role/Theirs",
                "PrimaryContainer": ["Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/theirs:1"],
            ])
        _ = try await theirs.call(
            .createEndpointConfig,
            [
                "EndpointConfigName": "theirs",
                "ProductionVariants": [["VariantName": "a", "ModelName": "theirs", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1]],
            ])
        _ = try await theirs.call(
            .createEndpoint, ["EndpointName": "churn", "EndpointConfigName": "theirs", "Tags": [["Key": "team", "Value": "payments"]]])
        world.advance(by: .seconds(300))
        try world.start()
        try await world.create("churn", World.spec(version: "v1"))
        let conflict = try await world.wait("churn") { Self.degraded($0)?.reason == "Conflict" }
        #expect(Self.degraded(conflict)?.message.contains("not managed by this ModelDeployment") == true)
        // It looked (the endpoint, its tags) and changed nothing.
        #expect(world.actions() == [], "\(world.calls)")
        // Deleting our deployment leaves their endpoint alone: once it is gone (its finalizer
        // done), their endpoint is still there and was never asked to go.
        try await world.kube.delete(ModelDeployment.self, name: "churn", namespace: "default")
        try await world.waitGone("churn")
        #expect(try await world.inventory() == SageMakerInventory(endpoints: ["churn"], configs: ["theirs"], models: ["theirs"]))
        #expect(world.actions() == [], "\(world.calls)")
    }

    @Test(arguments: Peer.allCases) func afterLosingItsStatusTheControllerAdoptsItsOwnEndpoint(_ peer: Peer) async throws {
        let world = try await World(peer)
        try world.start()
        try await world.serve("churn", World.spec(version: "v1"))
        // Status wiped (say, restored from a backup without it): the endpoint's tags say it is ours.
        let before = world.calls.count
        var md = try await world.kube.get(ModelDeployment.self, name: "churn", namespace: "default")
        md.status = ModelDeployment.Status()
        _ = try await world.kube.updateStatus(md)
        let adopted = try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.sagemaker != nil }
        #expect(adopted.status?.servingVersion == "v1")
        #expect(try await world.reasons("churn", including: ["Adopted"]).contains("Adopted"))
        // Adopted by its tags (the endpoint, then its owner tag), nothing created or updated.
        #expect(world.conversation(from: before).starts(with: ["DescribeEndpoint", "ListTags"]))
        #expect(world.actions(from: before) == [])
    }

    @Test(arguments: Peer.allCases) func anotherAPIURLMovesNothingAnotherEndpointNameMovesTheEndpoint(_ peer: Peer) async throws {
        let world = try await World(peer)
        try world.start()
        try await world.serve("churn", World.spec(version: "v1"))
        let before = world.calls.count
        try await world.change("churn") { $0.spec.backend.sagemaker?.endpointURL = "https://vpce-1.api.sagemaker.us-east-1.vpce.amazonaws.com" }
        let sameEndpoint = try await world.wait("churn") { $0.status?.sagemaker?.endpointURL != nil }
        #expect(sameEndpoint.status?.phase == .ready)
        #expect(world.conversation(from: before).first == "DescribeEndpoint" && world.actions(from: before) == [])

        let moved = world.calls.count
        try await world.change("churn") { $0.spec.backend.sagemaker?.endpointName = "churn-v2" }
        if world.fake != nil {
            let moving = try await world.wait("churn") { _ in world.calls.contains("DeleteEndpoint") }
            #expect(moving.status?.servingVersion == "v1", "the old endpoint serves until it is deleted")
            world.advance(by: .seconds(60))
            try await world.wait("churn") { $0.status?.sagemaker?.endpoint == "churn-v2" && $0.status?.sagemaker?.pendingConfig != nil }
            world.advance(by: .seconds(300))
        }
        try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.sagemaker?.endpoint == "churn-v2" }
        #expect(try await world.inventory().endpoints == ["churn-v2"])
        // The old endpoint and what it held go first (one endpoint per deployment), then the
        // revision is created under the new name.
        #expect(world.conversation(from: moved).starts(with: ["DescribeEndpoint", "DeleteEndpoint"]))
        #expect(world.actions(from: moved) == ["DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel"] + Self.creates)
    }

    /// The weights of the endpoint's variants, by name, as SageMaker describes them.
    static func weights(_ world: World) async throws -> [String: Double] {
        let described = try #require(try await world.sagemaker.wrapped.describe(.describeEndpoint, ["EndpointName": "churn"]))
        var weights: [String: Double] = [:]
        for variant in described["ProductionVariants"]?.arrayValue ?? [] {
            let weight: Double? =
                switch variant["DesiredWeight"] ?? variant["CurrentWeight"] {
                case .double(let d)?: d
                case .int(let i)?: Double(i)
                default: nil
                }
            if let name = variant["VariantName"]?.stringValue { weights[name] = weight }
        }
        return weights
    }

    /// A Canary on SageMaker: the stable version's variant and the canary's in one endpoint
    /// config, the steps' weights set with UpdateEndpointWeightsAndCapacities (what a client
    /// calling SageMaker directly gets; the router splits by status.traffic, the same figures), then
    /// the canary's own config once every step is done; an abort goes back to the stable version's.
    /// (The fake alone: moto has no UpdateEndpoint. SageMakerContractTests holds the fake to moto
    /// for split configs and weight updates.)
    @Test func aCanaryMovesTheEndpointsVariantWeightsStepByStep() async throws {
        let world = try await World()
        try world.start()
        var spec = World.spec(version: "v1", strategy: .canary)
        spec.rollout?.canary = .init(steps: [.weight(20), .pause(), .weight(60), .pause()])
        let first = try await world.serve("churn", spec)
        #expect(first.status?.servingVersion == "v1" && first.status?.canary == nil, "a first version serves at once")
        let v1 = try #require(first.status?.sagemaker?.resources.first?.name)

        let before = world.calls.count
        try await world.change("churn") {
            $0.spec.model.version = "v2"
            $0.spec.model.uri = "s3://models/churn/v2/model.tar.gz"
        }
        let fake = try #require(world.fake)
        do {
            try await world.until("the endpoint moves to the split config") { world.calls.contains("UpdateEndpoint") }
            let loading = try await world.wait("churn") { $0.status?.canary?.phase == .loading }
            #expect(loading.status?.servingVersion == "v1" && loading.status?.traffic?.count == 1, "the stable version serves while the canary loads")
            fake.advance(by: .seconds(300))
            try await world.until("the first weight is asked for") { world.calls.contains("UpdateEndpointWeightsAndCapacities") }
            // While SageMaker moves the weights the stable version serves, and the canary waits
            // for it with no progress deadline.
            let moving = try await world.wait("churn") { $0.status?.conditions?[type: "Progressing"]?.message.contains("variant weights") == true }
            #expect(moving.status?.conditions?[type: "Progressing"]?.reason == "CanaryProgressing")
            #expect(moving.status?.conditions?[type: "Ready"]?.status == .true && moving.status?.servingVersion == "v1")
            fake.advance(by: .seconds(300))
        }
        let paused = try await world.wait("churn") { $0.status?.canary?.phase == .paused && $0.status?.canary?.weight == 20 }
        let v2 = try #require(paused.status?.sagemaker?.resources.last?.name)
        let split = try #require(paused.status?.sagemaker?.splitConfigs?.first)
        #expect(
            world.actions(from: before) == [
                "CreateModel", "CreateEndpointConfig", "CreateEndpointConfig", "UpdateEndpoint", "UpdateEndpointWeightsAndCapacities",
            ])
        let config = try #require(world.sagemaker.requests(.createEndpointConfig).last)
        #expect(config["ProductionVariants"]?.arrayValue?.map { $0["VariantName"] } == ["v-v1", "v-v2"])
        #expect(config["ProductionVariants"]?.arrayValue?.map { $0["ModelName"] } == [.string(v1), .string(v2)])
        #expect(try await Self.weights(world) == ["v-v1": 80, "v-v2": 20])
        #expect(
            paused.status?.trafficSummary?.contains("80") == true && paused.status?.trafficSummary?.contains("20") == true,
            "\(paused.status?.trafficSummary ?? "")")
        #expect(paused.status?.servingVersion == "v1" && paused.status?.conditions?[type: "Ready"]?.status == .true)

        // Promote past the pause: 60 %, then past the last pause: the canary's own config.
        try await world.change("churn") { $0.metadata.annotations = [ModelDeployment.rolloutRequestAnnotation: "promote@1"] }
        world.advance(by: .seconds(300))
        let sixty = try await world.wait("churn") { $0.status?.canary?.weight == 60 && $0.status?.canary?.phase == .paused }
        world.advance(by: .seconds(300))
        try await world.until("SageMaker holds 60 %") {
            (try? await Self.weights(world)) == ["v-v1": 40, "v-v2": 60]
        } onFail: {
            sixty
        }
        let promoting = world.calls.count
        try await world.change("churn") { $0.metadata.annotations = [ModelDeployment.rolloutRequestAnnotation: "promote@2"] }
        do {
            // First the canary takes every request of SageMaker's too, so that no request reaches
            // the old version while the fleet is replaced; then the canary's own config.
            try await world.until("the canary takes everything") { world.actions(from: promoting).contains("UpdateEndpointWeightsAndCapacities") }
            #expect(
                world.sagemaker.requests(.updateEndpointWeightsAndCapacities).last?["DesiredWeightsAndCapacities"]?.arrayValue?.map { $0["DesiredWeight"] } == [
                    .double(0), .double(100),
                ])
            let finishing = try await world.wait("churn") { $0.status?.canary == nil }
            #expect(finishing.status?.conditions?[type: "Progressing"]?.reason == "CanaryProgressing", "no progress deadline while it finishes")
            #expect(finishing.status?.traffic?.count == 1 && finishing.status?.servingVersion == "v2")
            fake.advance(by: .seconds(300))
            try await world.until("the endpoint moves to the canary's own config") { world.calls.filter { $0 == "UpdateEndpoint" }.count == 2 }
            fake.advance(by: .seconds(300))
        }
        let done = try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.canary == nil && $0.status?.sagemaker?.splitConfigs == nil }
        #expect(done.status?.servingVersion == "v2" && done.status?.traffic?.count == 1)
        #expect(world.actions(from: promoting) == ["UpdateEndpointWeightsAndCapacities", "UpdateEndpoint", "DeleteEndpointConfig"])
        #expect(world.sagemaker.requests(.updateEndpoint).last?["EndpointConfigName"] == .string(v2))
        let inventory = try await world.inventory()
        #expect(inventory.configs == [v1, v2] && !inventory.configs.contains(split), "the split config is deleted once unused")

        // v3 starts a canary; an abort goes back to v2's own config and deletes the split.
        let weighed = world.calls.filter { $0 == "UpdateEndpointWeightsAndCapacities" }.count
        try await world.change("churn") {
            $0.spec.model.version = "v3"
            $0.spec.model.uri = "s3://models/churn/v3/model.tar.gz"
        }
        try await world.until("the endpoint moves to v3's split config") { world.calls.filter { $0 == "UpdateEndpoint" }.count == 3 }
        fake.advance(by: .seconds(300))
        try await world.until("v3's first weight is asked for") { world.calls.filter { $0 == "UpdateEndpointWeightsAndCapacities" }.count > weighed }
        fake.advance(by: .seconds(300))
        _ = try await world.wait("churn") { $0.status?.canary?.canaryVersion == "v3" && $0.status?.canary?.phase == .paused }
        let aborting = world.calls.count
        try await world.change("churn") { $0.metadata.annotations = [ModelDeployment.rolloutRequestAnnotation: "abort@3"] }
        do {
            try await world.until("the stable version takes everything") { world.actions(from: aborting).contains("UpdateEndpointWeightsAndCapacities") }
            fake.advance(by: .seconds(300))
            try await world.until("the endpoint goes back to v2's config") { world.calls.filter { $0 == "UpdateEndpoint" }.count == 4 }
            fake.advance(by: .seconds(300))
        }
        let aborted = try await world.wait("churn") {
            $0.status?.canary?.phase == .aborted && $0.status?.sagemaker?.splitConfigs == nil && $0.status?.traffic?.count == 1
        }
        #expect(aborted.status?.servingVersion == "v2" && aborted.status?.conditions?[type: "Degraded"]?.reason == "CanaryAborted")
        #expect(world.sagemaker.requests(.updateEndpoint).last?["EndpointConfigName"] == .string(v2))
        #expect(try await Self.weights(world).keys.sorted() == ["primary"])
    }

    /// Analysis on a SageMaker canary: a signed webhook (a real HTTP server that checks the
    /// signature) says the canary is bad, and the controller moves SageMaker's variant weights back
    /// to the stable version and the endpoint back to its own config, as an abort by hand does.
    @Test func aFailingAnalysisMovesSageMakersWeightsBack() async throws {
        let world = try await World()
        let peer = try await PeerProcess.httpPeer()
        defer { peer.stop() }
        let secrets = world.directory + "/secrets"
        try FileManager.default.createDirectory(atPath: secrets + "/hooks", withIntermediateDirectories: true)
        try "s3cret\n".write(toFile: secrets + "/hooks/hmac", atomically: true, encoding: .utf8)
        try world.start(analysis: AnalysisMeasurer(http: world.http, secretsDirectory: secrets))
        var spec = World.spec(version: "v1", strategy: .canary)
        spec.rollout?.canary = .init(
            steps: [.weight(20), .pause()],
            analysis: .init(
                interval: "1s",
                metrics: [
                    .init(name: "check", webhook: .init(url: peer.baseURL + "/webhook/s3cret/0.5", secretRef: .init(name: "hooks", key: "hmac")), max: 0.1)
                ]))
        try await world.serve("churn", spec)
        let v1 = try #require(try await world.wait("churn") { $0.status?.phase == .ready }.status?.sagemaker?.resources.first?.name)
        try await world.change("churn") {
            $0.spec.model.version = "v2"
            $0.spec.model.uri = "s3://models/churn/v2/model.tar.gz"
        }
        let fake = try #require(world.fake)
        try await world.until("the endpoint moves to the split config") { world.calls.contains("UpdateEndpoint") }
        fake.advance(by: .seconds(300))
        try await world.until("the first weight is asked for") { world.calls.contains("UpdateEndpointWeightsAndCapacities") }
        fake.advance(by: .seconds(300))
        // The webhook answers 0.5 against a maximum of 0.1: the canary is aborted, and SageMaker
        // gives the stable version every request, then the endpoint its own config.
        try await world.until("the stable version takes everything") {
            world.sagemaker.requests(.updateEndpointWeightsAndCapacities).last?["DesiredWeightsAndCapacities"]?.arrayValue?.map { $0["DesiredWeight"] } == [
                .double(100), .double(0),
            ]
        }
        fake.advance(by: .seconds(300))
        try await world.until("the endpoint goes back to v1's config") { world.calls.filter { $0 == "UpdateEndpoint" }.count == 2 }
        fake.advance(by: .seconds(300))
        let aborted = try await world.wait("churn") { $0.status?.canary?.phase == .aborted && $0.status?.sagemaker?.splitConfigs == nil }
        #expect(aborted.status?.servingVersion == "v1" && aborted.status?.conditions?[type: "Degraded"]?.reason == "CanaryAborted")
        #expect(aborted.status?.canary?.message?.contains("check is 0.5, above its maximum 0.1") == true, "\(String(describing: aborted.status?.canary))")
        #expect(world.sagemaker.requests(.updateEndpoint).last?["EndpointConfigName"] == .string(v1))
        #expect(world.audit.records.contains { $0.entry.action == "abort" && $0.entry.detail?["cause"] == "analysis" })
        // The hook was told what it measured, and signed (the peer refuses a bad signature).
        let last = try JSONValue(parsing: try await world.http.execute(HTTPRequest(url: peer.baseURL + "/webhook-last")).body)
        #expect(last["deployment"] == "churn" && last["version"] == "v2" && last["metric"] == "check", "\(last)")
    }

    /// A shadow on SageMaker: the shadow version's own Model (from `shadow.uri`), a config with the
    /// serving version's variant and a shadow variant weighted to the share copied, the table's
    /// shadow line once SageMaker holds it; removing the shadow goes back to the version's own config.
    @Test func aShadowIsASageMakerShadowVariantBesideTheServingOne() async throws {
        let world = try await World()
        try world.start()
        let fake = try #require(world.fake)
        let first = try await world.serve("churn", World.spec(version: "v1", strategy: .blueGreen))
        let v1 = try #require(first.status?.sagemaker?.resources.first?.name)
        let before = world.calls.count
        try await world.change("churn") { $0.spec.shadow = .init(version: "v2", percent: 25, uri: "s3://models/churn/v2/model.tar.gz") }
        try await world.until("the endpoint moves to the shadow's config") { world.calls.contains("UpdateEndpoint") }
        let moving = try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        #expect(moving.status?.servingVersion == "v1" && moving.status?.traffic?.count == 1, "no shadow line before SageMaker holds it")
        fake.advance(by: .seconds(300))
        let shadowed = try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.trafficSummary?.contains("shadow") == true }
        #expect(world.actions(from: before) == ["CreateModel", "CreateEndpointConfig", "UpdateEndpoint"])
        let model = try #require(world.sagemaker.requests(.createModel).last)
        #expect(model["PrimaryContainer"]?["ModelDataUrl"] == "s3://models/churn/v2/model.tar.gz")
        let config = try #require(world.sagemaker.requests(.createEndpointConfig).last)
        #expect(config["ProductionVariants"]?.arrayValue?.map { $0["ModelName"] } == [.string(v1)])
        #expect(config["ProductionVariants"]?.arrayValue?.first?["VariantName"] == "primary", "the production variant keeps its name")
        #expect(config["ShadowProductionVariants"]?.arrayValue?.first?["VariantName"] == "v-v2")
        #expect(shadowed.status?.sagemaker?.resources.map(\.name) == [v1], "the shadow's model is no revision")
        #expect(world.sagemaker.requests(.updateEndpoint).last?["DeploymentConfig"] == nil, "BlueGreen's guardrails are for moves between revisions")
        #expect(config["ShadowProductionVariants"]?.arrayValue?.first?["InitialVariantWeight"] == .double(0.25))
        #expect(
            shadowed.status?.servingVersion == "v1" && shadowed.status?.trafficSummary?.hasSuffix("+v2 shadow 25%") == true,
            "\(shadowed.status?.trafficSummary ?? "")")
        let message = shadowed.status?.conditions?[type: "Ready"]?.message ?? ""
        #expect(message.contains("shadow version v2 receiving a copy of 25 %"), "\(message)")

        // The shadow goes: back to v1's own config, the shadow's config deleted.
        let removing = world.calls.count
        try await world.change("churn") { $0.spec.shadow = nil }
        try await world.until("the endpoint goes back to v1's config") { world.actions(from: removing).contains("UpdateEndpoint") }
        fake.advance(by: .seconds(300))
        let plain = try await world.wait("churn") {
            $0.status?.trafficSummary?.contains("shadow") == false && $0.status?.sagemaker?.shadowConfigs == nil && $0.status?.sagemaker?.shadowModels == nil
        }
        #expect(plain.status?.servingVersion == "v1" && world.sagemaker.requests(.updateEndpoint).last?["EndpointConfigName"] == .string(v1))
        #expect(world.actions(from: removing) == ["UpdateEndpoint", "DeleteEndpointConfig", "DeleteModel"], "the shadow's config, then its model")
        #expect(try await world.inventory() == SageMakerInventory(endpoints: ["churn"], configs: [v1], models: [v1]))
    }

    @Test func movingFromTritonToSageMakerAndBack() async throws {
        let triton = try await TritonPeer.start(models: [TritonPeer.Model(name: "churn", versions: [1, 2])])
        defer { triton.stop() }
        let world = try await World()
        let client = TritonClient(baseURL: triton.url, http: world.http)
        try world.start()
        _ = try await world.kube.create(
            ModelDeployment(name: "churn", spec: .init(model: .init(name: "churn", version: "1"), backend: .init(triton: .init(url: triton.url)))))
        try await world.wait("churn", timeout: .seconds(90)) { $0.status?.phase == .ready && $0.status?.triton != nil }
        #expect(try await client.isReady("churn", version: "1"))

        // Only the backend block changes.
        try await world.change("churn") { md in
            md.spec.backend = World.spec(version: "1").backend
            md.spec.model.uri = "s3://models/churn/1/model.tar.gz"
        }
        try await world.wait("churn") { $0.status?.sagemaker?.pendingConfig != nil }
        // Triton keeps serving until SageMaker does.
        #expect(try await client.isReady("churn", version: "1"))
        world.advance(by: .seconds(300))
        let moved = try await world.wait("churn") { $0.status?.phase == .ready && $0.status?.triton == nil }
        #expect(moved.status?.backend == "sagemaker")
        #expect(try await client.isReady("churn", version: "1") == false)

        try await world.change("churn") { md in
            md.spec.backend = .init(triton: .init(url: triton.url))
            md.spec.model.uri = nil
        }
        try await world.wait("churn", timeout: .seconds(90)) { $0.status?.phase == .ready && $0.status?.backend == "triton" && $0.status?.triton != nil }
        #expect(try await client.isReady("churn", version: "1"))
        // The endpoint is deleted once Triton serves; then its configs and models.
        try await world.until("the controller deletes the endpoint") { world.calls.contains("DeleteEndpoint") }
        world.advance(by: .seconds(60))
        try await world.wait("churn") { $0.status?.sagemaker == nil }
        #expect(try await world.inventory() == SageMakerInventory())
    }
}
