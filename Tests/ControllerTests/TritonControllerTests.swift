import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing
import Triton

/// The controller inside a real `modelplane serve`, against a real tritonserver.
@Suite(.timeLimit(.minutes(5))) struct TritonControllerTests {
    final class World {
        let directory = NSTemporaryDirectory() + "modelplane-controller-" + UUID().uuidString
        let triton: TritonPeer
        var serve: PeerProcess!
        let kube: KubernetesClient
        let http = HTTPClient()
        var backend: TritonClient { TritonClient(baseURL: triton.url, http: http) }

        init(models: [TritonPeer.Model], serveArguments: [String] = []) async throws {
            triton = try await TritonPeer.start(models: models)
            // A short resync, so an outage nobody reports is noticed quickly.
            serve = try await PeerProcess.modelplaneServe(data: directory, controller: true, extraArguments: ["--resync", "2"] + serveArguments)
            kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
        }

        func deployment(_ name: String, model: String, version: String, strategy: ModelDeployment.Rollout.Strategy? = nil) -> ModelDeployment {
            ModelDeployment(
                name: name,
                spec: .init(
                    model: .init(name: model, version: version), backend: .init(triton: .init(url: triton.url)),
                    rollout: strategy.map { .init(strategy: $0) }))
        }

        func change(_ name: String, _ body: @Sendable (ModelDeployment) -> ModelDeployment) async throws {
            // The controller writes status meanwhile: retry on a conflict.
            var attempts = 0
            while true {
                attempts += 1
                let md = try await kube.get(ModelDeployment.self, name: name, namespace: "default")
                if await tryUpdate(body(md)) || attempts >= 10 { return }
            }
        }

        /// False on a conflict; true when written; other errors are recorded as test issues.
        func tryUpdate(_ md: ModelDeployment) async -> Bool {
            do {
                _ = try await kube.update(md)
                return true
            } catch {
                if error.isConflict { return false }
                Issue.record("update failed: \(error)")
                return true
            }
        }

        /// Polls until `condition` holds for the deployment's current generation; returns it.
        @discardableResult
        func wait(_ name: String, timeout: Duration = .seconds(60), _ condition: (ModelDeployment) -> Bool) async throws -> ModelDeployment {
            let deadline = ContinuousClock.now + timeout
            var last: ModelDeployment?
            while ContinuousClock.now < deadline {
                last = try await kube.get(ModelDeployment.self, name: name, namespace: "default")
                if let md = last, md.status?.observedGeneration == md.metadata.generation, condition(md) { return md }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw PeerError("\(name) did not get there; last status: \(String(describing: last?.status))\nserve log: \(serve.log)")
        }

        /// Waits until the deployment is gone (its finalizer done); whether it went.
        func waitGone(_ name: String) async -> Bool {
            await kube.waitUntilGone(ModelDeployment.self, name: name, namespace: "default")
        }

        func answer(_ model: String) async throws -> Double? {
            let response = try await backend.infer(
                model, version: nil, request: ["inputs": [["name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [2.0]]]])
            guard case .array(let outputs)? = response["outputs"], case .array(let data)? = outputs.first?["data"] else { return nil }
            if case .double(let value)? = data.first { return value }
            if case .int(let value)? = data.first { return Double(value) }
            return nil
        }

        func readyVersions(_ model: String) async throws -> Set<String> {
            Set(try await backend.index().filter { $0.name == model && $0.state == .ready }.compactMap(\.version))
        }

        deinit {
            kube.shutdown()
            http.shutdown()
            serve.stop()
            triton.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    static let echo = TritonPeer.Model(name: "echo", versions: [1, 2])

    @Test func rollsOutRollsBackOnFailureAndCleansUp() async throws {
        let world = try await World(models: [Self.echo])
        _ = try await world.kube.create(world.deployment("echo", model: "echo", version: "1"))
        var md = try await world.wait("echo") { $0.status?.phase == .ready }
        #expect(md.status?.servingVersion == "1")
        #expect(md.status?.conditions?[type: "Ready"]?.status == .true)
        #expect(md.metadata.finalizers == ["modelplane.dev/backend-cleanup"])
        #expect(try await world.answer("echo") == 2.0)

        // Immediate: version 2 replaces version 1.
        try await world.change("echo") { md in
            var md = md
            md.spec.model.version = "2"
            return md
        }
        md = try await world.wait("echo") { $0.status?.phase == .ready && $0.status?.servingVersion == "2" }
        #expect(try await world.readyVersions("echo") == ["2"])
        #expect(try await world.answer("echo") == 4.0)
        #expect(md.status?.currentRevision == "2")

        // A new version that fails at init: Degraded with Triton's reason; version 2 keeps answering.
        try TritonPeer.Model(name: "echo", versions: [3], broken: [3: "weights are corrupt"]).write(into: world.triton.repository)
        try await world.change("echo") { md in
            var md = md
            md.spec.model.version = "3"
            return md
        }
        md = try await world.wait("echo") { $0.status?.phase == .degraded }
        let degraded = try #require(md.status?.conditions?[type: "Degraded"])
        #expect(degraded.reason == "LoadFailed")
        #expect(degraded.message.contains("weights are corrupt"), "\(degraded.message)")
        // One line in the condition (what describe and `get -o wide` show); Python's traceback
        // frames only in the event.
        #expect(!degraded.message.contains("\n") && degraded.message.hasSuffix("(more in the events)"), "\(degraded.message)")
        #expect(md.status?.servingVersion == "2")
        #expect(md.status?.currentRevision == "2", "the revision serving is still the old one")
        #expect(try await world.answer("echo") == 4.0)
        let events = try await world.kube.listAll(Event.self, namespace: "default").items.filter { $0.regarding.name == "echo" }
        #expect(events.contains { $0.reason == "LoadFailed" && $0.type == .warning && ($0.note ?? "").contains("weights are corrupt") }, "\(events)")
        #expect(events.first { $0.reason == "LoadFailed" }?.note?.contains("\nAt:\n") == true, "\(events.map(\.note))")
        // Its configuration was learned by loading the repository's own (no uri, no modelConfig):
        // an event says what came up, and how to avoid it.
        let learned = events.first { $0.reason == "LearnedConfig" }?.note ?? ""
        #expect(learned.contains("versions 2 came up") && learned.contains("spec.backend.triton.modelConfig"), "\(events.map(\.note))")

        // A version Triton's repository does not hold: said as such (Triton's own answer names none).
        try await world.change("echo") { md in
            var md = md
            md.spec.model.version = "9"
            return md
        }
        md = try await world.wait("echo") { $0.status?.conditions?[type: "Degraded"]?.message.contains("version 9") == true }
        #expect(
            md.status?.conditions?[type: "Degraded"]?.message.hasPrefix("version 9 of echo is not in Triton's model repository at \(world.triton.url)")
                == true, "\(String(describing: md.status?.conditions))")
        #expect(md.status?.servingVersion == "2")

        // BlueGreen back to version 1: both load, then version 2 goes.
        try await world.change("echo") { md in
            var md = md
            md.spec.model.version = "1"
            md.spec.rollout = .init(strategy: .blueGreen)
            return md
        }
        md = try await world.wait("echo") { $0.status?.phase == .ready && $0.status?.servingVersion == "1" }
        #expect(try await world.readyVersions("echo") == ["1"])
        #expect(md.status?.revisions?.map(\.version) == ["1", "2", "3", "9", "1"])

        // Delete: the finalizer unloads the model, then the object goes.
        try await world.kube.delete(ModelDeployment.self, name: "echo", namespace: "default")
        #expect(await world.waitGone("echo"))
        #expect(try await world.readyVersions("echo").isEmpty)

        // Every backend action is in the audit log, and the chain verifies.
        let audit = try String(contentsOfFile: world.directory + "/audit.log", encoding: .utf8)
        #expect(audit.contains(#""action":"unload""#) && audit.contains(#""outcome":"failed: "#), "\(audit)")
        let verify = try await CommandResult.run(Peers.modelplane, ["audit", "verify", "--file", world.directory + "/audit.log"])
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    @Test func aVersionSlowerThanTheProgressDeadlineIsDegraded() async throws {
        let world = try await World(models: [.init(name: "slow", versions: [1, 2], slow: [2: 40])])
        var md = world.deployment("slow", model: "slow", version: "1")
        md.spec.rollout = .init(strategy: .immediate, progressDeadlineSeconds: 2)
        _ = try await world.kube.create(md)
        try await world.wait("slow") { $0.status?.phase == .ready }
        try await world.change("slow") { md in
            var md = md
            md.spec.model.version = "2"
            return md
        }
        let late = try await world.wait("slow", timeout: .seconds(30)) { $0.status?.conditions?[type: "Degraded"]?.reason == "ProgressDeadlineExceeded" }
        #expect(late.status?.phase == .degraded)
        #expect(late.status?.conditions?[type: "Degraded"]?.message.contains("within progressDeadlineSeconds (2") == true)
        #expect(try await world.answer("slow") == 2.0, "version 1 keeps answering")
    }

    @Test func diffHistoryAndRollback() async throws {
        let world = try await World(models: [Self.echo])
        func modelplane(_ arguments: String...) async throws -> CommandResult {
            try await CommandResult.run(Peers.modelplane, arguments, environment: ["MODELPLANE_DATA": world.directory, "MODELPLANE_KUBECONFIG": ""])
        }
        let manifest = { (version: String) in
            """
            apiVersion: modelplane.dev/v1alpha1
            kind: ModelDeployment
            metadata: {name: echo, namespace: default}
            spec:
              model: {name: echo, version: "\(version)"}
              backend: {triton: {url: "\(world.triton.url)"}}
            """
        }
        let path = world.directory + "/echo.yaml"
        try manifest("1").write(toFile: path, atomically: true, encoding: .utf8)
        var result = try await modelplane("diff", "-f", path)
        #expect(result.status == 2, "a new deployment is a change: \(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("+ create") && result.stdout.contains("triton: load echo versions 1 on \(world.triton.url)"), "\(result.stdout)")

        _ = try await modelplane("apply", "-f", path)
        try await world.wait("echo") { $0.status?.phase == .ready }
        result = try await modelplane("diff", "-f", path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("no changes") && result.stdout.contains("already serving"), "\(result.stdout)")

        try manifest("2").write(toFile: path, atomically: true, encoding: .utf8)
        result = try await modelplane("diff", "-f", path)
        #expect(result.status == 2)
        #expect(result.stdout.contains(#"~ spec.model.version: "1" -> "2""#), "\(result.stdout)")
        #expect(result.stdout.contains("triton: load echo versions 2 on \(world.triton.url) (unloads 1)"), "\(result.stdout)")
        #expect(try await world.readyVersions("echo") == ["1"], "diff does not act")

        _ = try await modelplane("apply", "-f", path)
        try await world.wait("echo") { $0.status?.servingVersion == "2" && $0.status?.phase == .ready }
        result = try await modelplane("history", "echo")
        var rows = result.stdout.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace).prefix(3).joined(separator: " ") }
        #expect(rows.count == 3 && rows[1].hasPrefix("1 1 ") && rows[2].hasPrefix("2 (serving) 2"), "\(result.stdout)")

        result = try await modelplane("rollback", "echo", "--to-revision", "1")
        #expect(result.stdout == "modeldeployment.modelplane.dev/echo rolled back to revision 1 (version 1)\n", "\(result.stdout)\(result.stderr)")
        let md = try await world.wait("echo") { $0.status?.servingVersion == "1" && $0.status?.phase == .ready }
        #expect(md.status?.revisions?.last?.cause == "rollback to revision 1")
        #expect(md.status?.currentRevision == "3")
        #expect(try await world.answer("echo") == 2.0)
        result = try await modelplane("rollback", "echo", "--to-revision", "9")
        #expect(result.status == 1 && result.stderr.contains("has no revision 9"), "\(result.stderr)")
        rows = try await modelplane("history", "echo").stdout.split(separator: "\n").map { String($0) }
        #expect(rows.last?.contains("rollback to revision 1") == true, "\(rows)")
    }

    @Test func deploymentsStayIndependentAndForeignModelsAreLeftAlone() async throws {
        let world = try await World(models: [Self.echo, .init(name: "other", versions: [1, 2]), .init(name: "foreign", versions: [1])])
        // Loaded by someone else: never touched.
        try await world.backend.load("foreign", config: nil)
        _ = try await world.kube.create(world.deployment("a", model: "echo", version: "2"))
        _ = try await world.kube.create(world.deployment("b", model: "other", version: "1"))
        try await world.wait("a") { $0.status?.phase == .ready }
        try await world.wait("b") { $0.status?.phase == .ready }
        // A third deployment claiming b's model is refused, and changes nothing.
        _ = try await world.kube.create(world.deployment("c", model: "other", version: "2"))
        let conflict = try await world.wait("c") { $0.status?.phase == .failed }
        #expect(conflict.status?.conditions?[type: "Degraded"]?.reason == "Conflict")
        #expect(try await world.readyVersions("other") == ["1"])

        try await world.kube.delete(ModelDeployment.self, name: "a", namespace: "default")
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !world.readyVersions("echo").isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await world.readyVersions("echo").isEmpty)
        #expect(try await world.readyVersions("other") == ["1"])
        #expect(try await world.readyVersions("foreign") == ["1"])
    }

    /// A model that was serving before its deployment existed is adopted, not loaded again, and
    /// stays loaded when the deployment is deleted: Modelplane unloads only what it loaded.
    @Test func anAdoptedModelStaysLoadedWhenItsDeploymentIsDeleted() async throws {
        let world = try await World(models: [.init(name: "prior", versions: [1])])
        try await world.backend.load("prior", config: nil)
        #expect(try await world.readyVersions("prior") == ["1"])
        _ = try await world.kube.create(world.deployment("prior", model: "prior", version: "1"))
        let adopted = try await world.wait("prior") { $0.status?.phase == .ready }
        #expect(adopted.status?.triton == .init(url: world.triton.url, model: "prior", origin: .adopted))
        let described = try await CommandResult.run(Peers.modelplane, ["describe", "prior", "--kubeconfig", world.directory + "/kubeconfig"])
        #expect(described.stdout.contains("(adopted: it was serving before; left loaded on deletion)"), "\(described.stdout)")

        try await world.kube.delete(ModelDeployment.self, name: "prior", namespace: "default")
        #expect(await world.waitGone("prior"))
        #expect(try await world.readyVersions("prior") == ["1"], "still loaded")
        let events = try await world.kube.listAll(Event.self, namespace: "default").items.filter { $0.regarding.name == "prior" }
        #expect(events.map(\.reason).contains("Released"), "\(events.map(\.reason))")
        let audit = try String(contentsOfFile: world.directory + "/audit.log", encoding: .utf8).split(separator: "\n")
        #expect(audit.contains { $0.contains(#""action":"adopt""#) } && audit.contains { $0.contains(#""action":"release""#) }, "\(audit)")
        #expect(!audit.contains { $0.contains(#""action":"unload""#) || $0.contains(#""action":"load""#) }, "\(audit)")
    }

    /// A model whose files the controller can read (spec.model.uri) needs no modelConfig: its
    /// config.pbtxt is read, and only the wanted version is ever loaded, so a broken newer version
    /// beside it (which the repository's own policy, the latest, would have loaded) is harmless.
    @Test func aModelsOwnConfigIsReadAndOnlyTheWantedVersionLoads() async throws {
        let world = try await World(models: [])
        let local = world.directory + "/local-models"
        try TritonPeer.Model(name: "picky", versions: [1, 2, 3, 9], broken: [9: "version 9 is broken"]).write(into: local)
        var md = world.deployment("picky", model: "picky", version: "1")
        md.spec.model.uri = "file://\(local)/picky"
        _ = try await world.kube.create(md)
        try await world.wait("picky") { $0.status?.phase == .ready && $0.status?.servingVersion == "1" }
        #expect(try await world.backend.loadedVersions("picky") == ["1"])
        #expect(try await world.answer("picky") == 2.0)
        let audit = try String(contentsOfFile: world.directory + "/audit.log", encoding: .utf8)
        #expect(!audit.contains("load-repository-config") && !audit.contains("version 9"), "\(audit)")

        // Without a config.pbtxt (and no modelConfig), an upload cannot start: the status says
        // what to give.
        try TritonPeer.Model(name: "bare", versions: [1]).write(into: local)
        try FileManager.default.removeItem(atPath: local + "/bare/config.pbtxt")
        var bare = world.deployment("bare", model: "bare", version: "1")
        bare.spec.model.uri = "\(local)/bare"
        _ = try await world.kube.create(bare)
        let refused = try await world.wait("bare") { $0.status?.phase == .failed }
        let message = refused.status?.conditions?[type: "Degraded"]?.message ?? ""
        #expect(message.contains("put a config.pbtxt in \(local)/bare, or give spec.backend.triton.modelConfig"), "\(message)")
    }

    /// SIGTERM while a load is under way: the controller finishes it (within the grace period),
    /// records it, and only then does the process stop, with exit status 0.
    @Test func sigtermFinishesTheLoadInHandThenExitsCleanly() async throws {
        let world = try await World(models: [.init(name: "slow", versions: [1], slow: [1: 4])])
        var md = world.deployment("slow", model: "slow", version: "1")
        md.spec.backend.triton?.modelConfig = [
            "backend": "python", "max_batch_size": 0, "input": [["name": "INPUT0", "data_type": "TYPE_FP32", "dims": [1]]],
            "output": [["name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [1]]],
        ]
        _ = try await world.kube.create(md)
        // Under way: Triton is loading it (its initialize, which takes 4 s, has begun).
        let marker = world.triton.repository + "/slow/1.initializing"
        let deadline = ContinuousClock.now + .seconds(60)
        while !FileManager.default.fileExists(atPath: marker), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(FileManager.default.fileExists(atPath: marker), "the load never began")
        world.serve.signal(SIGTERM)
        let status = await world.serve.waitForExit()
        #expect(status == 0, "\(world.serve.errorLog)")
        let said = world.serve.errorLog
        for line in ["modelplane: stopping: finishing the work in hand", "modelplane: controller stopped", "modelplane: stopped"] {
            #expect(said.contains(line), "\(said)")
        }
        // The load finished and is recorded; the chain verifies.
        #expect(try await world.readyVersions("slow") == ["1"])
        let audit = try String(contentsOfFile: world.directory + "/audit.log", encoding: .utf8)
        #expect(audit.contains(#""action":"load""#) && audit.contains(#""outcome":"ok""#), "\(audit)")
        let verify = try await CommandResult.run(Peers.modelplane, ["audit", "verify", "--file", world.directory + "/audit.log"])
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    @Test func tritonOutageIsDegradedThenRecovers() async throws {
        let world = try await World(models: [Self.echo])
        _ = try await world.kube.create(world.deployment("echo", model: "echo", version: "2"))
        try await world.wait("echo") { $0.status?.phase == .ready }
        try await world.triton.kill()
        let down = try await world.wait("echo", timeout: .seconds(30)) { $0.status?.conditions?[type: "Degraded"]?.reason == "BackendUnavailable" }
        #expect(down.status?.phase == .degraded)
        try await world.triton.restart()
        // Triton comes back empty (explicit mode): the controller loads version 2 again.
        try await world.wait("echo", timeout: .seconds(120)) { $0.status?.phase == .ready && $0.status?.conditions?[type: "Degraded"]?.status == .false }
        #expect(try await world.answer("echo") == 4.0)
    }

    @Test func uploadsFromALocalDirectoryAndSmokeTestsEachNewVersion() async throws {
        let world = try await World(models: [])
        // The model lives outside Triton's repository: the controller uploads its files.
        let local = world.directory + "/local-models"
        try TritonPeer.Model(name: "up", versions: [1, 2, 3], failsInference: [2]).write(into: local)
        let smoke: JSONValue = ["inputs": [["name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [1.0]]]]
        var md = world.deployment("up", model: "up", version: "1", strategy: .blueGreen)
        md.spec.model.uri = "file://\(local)/up"
        md.spec.backend.triton?.modelConfig = [
            "backend": "python", "max_batch_size": 0, "input": [["name": "INPUT0", "data_type": "TYPE_FP32", "dims": [1]]],
            "output": [["name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [1]]],
        ]
        md.spec.rollout?.smokeInference = smoke
        _ = try await world.kube.create(md)
        try await world.wait("up") { $0.status?.phase == .ready && $0.status?.servingVersion == "1" }
        #expect(try await world.backend.loadedVersions("up") == ["1"])
        #expect(try await world.answer("up") == 2.0)

        // Version 2 loads but cannot answer: it goes again, version 1 keeps serving.
        try await world.change("up") { md in
            var md = md
            md.spec.model.version = "2"
            return md
        }
        let failed = try await world.wait("up") { $0.status?.conditions?[type: "Degraded"]?.reason == "SmokeTestFailed" }
        #expect(failed.status?.phase == .degraded && failed.status?.servingVersion == "1")
        let message = failed.status?.conditions?[type: "Degraded"]?.message ?? ""
        #expect(message.contains("version 2 failed the smoke inference") && message.contains("inference is broken in version 2"), "\(message)")
        #expect(try await world.backend.loadedVersions("up") == ["1"])
        #expect(try await world.answer("up") == 2.0)

        // Version 3 answers: it replaces version 1.
        try await world.change("up") { md in
            var md = md
            md.spec.model.version = "3"
            return md
        }
        try await world.wait("up") { $0.status?.phase == .ready && $0.status?.servingVersion == "3" }
        #expect(try await world.backend.loadedVersions("up") == ["3"])
        #expect(try await world.answer("up") == 6.0)
        let audit = try String(contentsOfFile: world.directory + "/audit.log", encoding: .utf8)
        #expect(audit.contains(#""action":"smoke-inference""#) && audit.contains(#""rollback":true"#), "\(audit)")

        // Immediate replaces version 3 with version 2, which fails the smoke inference: version 3 is loaded again.
        try await world.change("up") { md in
            var md = md
            md.spec.model.version = "2"
            md.spec.rollout?.strategy = .immediate
            return md
        }
        let rolledBack = try await world.wait("up") { $0.status?.conditions?[type: "Degraded"]?.reason == "SmokeTestFailed" }
        #expect(rolledBack.status?.servingVersion == "3")
        #expect(try await world.backend.loadedVersions("up") == ["3"])
        #expect(try await world.answer("up") == 6.0)

        // A version the directory does not hold: said as such, before Triton is asked, by diff
        // and by the controller; version 3 keeps serving.
        let expected = "version 9 of up is not in \(local)/up (it has 1, 2, 3); nothing was loaded"
        let live = try await CommandResult.run(
            Peers.modelplane, ["get", "up", "-o", "json"], environment: ["MODELPLANE_DATA": world.directory, "MODELPLANE_KUBECONFIG": ""])
        let manifest = world.directory + "/up-9.json"
        try live.stdout.replacingOccurrences(of: #""version" : "2""#, with: #""version" : "9""#).write(toFile: manifest, atomically: true, encoding: .utf8)
        let diff = try await CommandResult.run(
            Peers.modelplane, ["diff", "-f", manifest], environment: ["MODELPLANE_DATA": world.directory, "MODELPLANE_KUBECONFIG": ""])
        #expect(diff.stdout.contains(expected) && !diff.stdout.contains("load up versions 9"), "\(diff.stdout)\(diff.stderr)")
        try await world.change("up") { md in
            var md = md
            md.spec.model.version = "9"
            return md
        }
        let missing = try await world.wait("up") { $0.status?.conditions?[type: "Degraded"]?.reason == "VersionNotFound" }
        #expect(missing.status?.conditions?[type: "Degraded"]?.message == expected)
        #expect(missing.status?.servingVersion == "3" && missing.status?.phase == .degraded)
        #expect(try await world.backend.loadedVersions("up") == ["3"])

        try await world.kube.delete(ModelDeployment.self, name: "up", namespace: "default")
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !world.backend.loadedVersions("up").isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await world.backend.loadedVersions("up").isEmpty)
    }
}
