import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ResourceStore
import Testing

func deployment(_ name: String, version: String = "1", finalizers: [String]? = nil) -> ModelDeployment {
    var md = ModelDeployment(name: name, spec: .init(model: .init(name: "m", version: version), backend: .init(triton: .init(url: "http://127.0.0.1:8000"))))
    md.metadata.finalizers = finalizers
    return md
}

/// The Kubernetes client against the embedded server: the semantics kmock cannot show.
@Suite(.timeLimit(.minutes(3))) struct ContractTests {
    @Test func createGetUpdateWithOptimisticConcurrency() async throws {
        let server = try await EmbeddedServer()
        let kube = server.client()
        let created = try await kube.create(deployment("a"))
        #expect(created.metadata.generation == 1)
        #expect(created.metadata.uid != nil)
        var changed = created
        changed.spec.model.version = "2"
        let updated = try await kube.update(changed)
        #expect(updated.metadata.generation == 2)
        #expect(updated.metadata.resourceVersion != created.metadata.resourceVersion)
        let error = await #expect(throws: KubernetesError.self) { _ = try await kube.update(changed) }
        #expect(error?.isConflict == true)
        #expect(try await kube.get(ModelDeployment.self, name: "a").spec.model.version == "2")
        let duplicate = await #expect(throws: KubernetesError.self) { _ = try await kube.create(deployment("a")) }
        #expect(duplicate?.isAlreadyExists == true)
    }

    @Test func invalidObjectsAre422WithFieldCauses() async throws {
        let server = try await EmbeddedServer()
        var bad = deployment("a")
        bad.spec.model.version = "v1"
        bad.spec.backend.triton?.url = "http://user:pw@host:1"
        let error = await #expect(throws: KubernetesError.self) { _ = try await server.client().create(bad) }
        #expect(error?.isInvalid == true)
        let fields = error?.status?.details?.causes?.compactMap(\.field) ?? []
        #expect(fields == ["spec.model.version", "spec.backend.triton.url"])
        #expect(!"\(String(describing: error))".contains("pw@"))
    }

    /// Validation ratcheting, as kube-apiserver does it: a stored spec that a later rule would
    /// refuse (here, stored without the API) does not block an update that leaves it alone —
    /// a controller adding its finalizer, say — while any change to it is checked completely.
    @Test func anUnchangedSpecIsNotJudgedAgainButEverythingElseIs() async throws {
        let server = try await EmbeddedServer()
        let kube = server.client()
        var invalid = try JSONValueCoding.encode(deployment("old"))
        invalid["spec"]?["model"]?["version"] = "v1"  // versions are integers for Triton
        _ = try server.store.createStored(.modelDeployments, namespace: "default", invalid)
        var md = try await kube.get(ModelDeployment.self, name: "old")
        md.metadata.finalizers = ["example.com/cleanup"]
        md.metadata.labels = ["team": "risk"]
        md.status = ModelDeployment.Status()
        md.status?.observedGeneration = -1  // ignored by a main write, so not judged
        md = try await kube.update(md)
        #expect(md.metadata.finalizers == ["example.com/cleanup"] && md.status == nil)
        #expect(md.metadata.generation == 1)

        // The rest of the object is still checked...
        var badLabel = md
        badLabel.metadata.labels = ["team": "risk!"]
        let label = await #expect(throws: KubernetesError.self) { _ = try await kube.update(badLabel) }
        #expect(label?.status?.details?.causes?.compactMap(\.field) == ["metadata.labels.team"])
        let unknown = await #expect(throws: KubernetesError.self) {
            _ = try await kube.patch(ModelDeployment.self, name: "old", .merge(["colour": "blue"]))
        }
        #expect(unknown?.status?.details?.causes?.compactMap(\.field) == ["colour"])
        // ...and a changed spec completely, the old fault included.
        var changed = md
        changed.spec.backend.triton?.url = "http://127.0.0.1:9000"
        let spec = await #expect(throws: KubernetesError.self) { _ = try await kube.update(changed) }
        #expect(spec?.status?.details?.causes?.compactMap(\.field) == ["spec.model.version"])
        #expect(try await kube.get(ModelDeployment.self, name: "old").spec.backend.triton?.url == "http://127.0.0.1:8000")
    }

    @Test func statusIsItsOwnSubresource() async throws {
        let server = try await EmbeddedServer()
        let kube = server.client()
        var md = try await kube.create(deployment("a"))
        var status = ModelDeployment.Status()
        status.phase = .ready
        status.observedGeneration = 1
        md.status = status
        md.spec.model.version = "9"  // ignored by a status write
        md = try await kube.updateStatus(md)
        #expect(md.status?.phase == .ready)
        #expect(md.spec.model.version == "1")
        #expect(md.metadata.generation == 1)
        md.status?.phase = .failed  // ignored by a main write
        md.metadata.labels = ["x": "y"]
        md = try await kube.update(md)
        #expect(md.status?.phase == .ready)
        // A status write is checked against the status schema, by update and by patch alike.
        let patched = await #expect(throws: KubernetesError.self) {
            _ = try await kube.patch(ModelDeployment.self, name: "a", .merge(["status": ["phase": "Sleeping", "mood": "calm"]]), subresource: "status")
        }
        #expect(patched?.status?.code == 422)
        #expect(Set(patched?.status?.details?.causes?.compactMap(\.field) ?? []) == ["status.phase", "status.mood"])
        var wrong = md
        wrong.status?.conditions = [Condition(type: "Ready", status: .true, lastTransitionTime: "", reason: "", message: "")]
        wrong.status?.observedGeneration = -1
        let updated = await #expect(throws: KubernetesError.self) { _ = try await kube.updateStatus(wrong) }
        #expect(updated?.status?.code == 422, "\(String(describing: updated))")
        #expect(try await kube.get(ModelDeployment.self, name: "a", namespace: "default").status == md.status)
    }

    @Test func patchesMergeAndJSONButNotStrategic() async throws {
        let server = try await EmbeddedServer()
        let kube = server.client()
        _ = try await kube.create(deployment("a"))
        var md = try await kube.patch(ModelDeployment.self, name: "a", .merge(["spec": ["model": ["version": "5"]], "metadata": ["labels": ["team": "risk"]]]))
        #expect(md.spec.model.version == "5")
        #expect(md.metadata.labels == ["team": "risk"])
        #expect(md.metadata.generation == 2)
        md = try await kube.patch(
            ModelDeployment.self, name: "a",
            .json([JSONPatchOperation(.test, "/spec/model/version", value: "5"), JSONPatchOperation(.replace, "/spec/model/version", value: "6")]))
        #expect(md.spec.model.version == "6")
        let failedTest = await #expect(throws: KubernetesError.self) {
            _ = try await kube.patch(ModelDeployment.self, name: "a", .json([JSONPatchOperation(.test, "/spec/model/version", value: "5")]))
        }
        #expect(failedTest?.status?.code == 422)
        md = try await kube.patch(ModelDeployment.self, name: "a", .merge(["status": ["phase": "Degraded"]]), subresource: "status")
        #expect(md.status?.phase == .degraded)
        let invalid = await #expect(throws: KubernetesError.self) {
            _ = try await kube.patch(ModelDeployment.self, name: "a", .merge(["spec": ["rollout": ["strategy": "Rolling"]]]))
        }
        #expect(invalid?.isInvalid == true)
        let stale = await #expect(throws: KubernetesError.self) {
            _ = try await kube.patch(ModelDeployment.self, name: "a", .merge(["metadata": ["resourceVersion": "1"], "spec": ["revisionHistoryLimit": 3]]))
        }
        #expect(stale?.isConflict == true, "a patch naming a stale resourceVersion is refused")
    }

    @Test func finalizersHoldDeletion() async throws {
        let server = try await EmbeddedServer()
        let kube = server.client()
        _ = try await kube.create(deployment("a", finalizers: ["modelplane.dev/cleanup"]))
        let pending = try await kube.delete(ModelDeployment.self, name: "a")
        #expect(pending?.metadata.deletionTimestamp != nil)
        _ = try await kube.patch(ModelDeployment.self, name: "a", .merge(["metadata": ["finalizers": nil]]))
        let gone = await #expect(throws: KubernetesError.self) { _ = try await kube.get(ModelDeployment.self, name: "a") }
        #expect(gone?.isNotFound == true)
    }

    @Test func listsPageAcrossNamespaces() async throws {
        let server = try await EmbeddedServer()
        let kube = server.client()
        for i in 0..<7 {
            var md = deployment("md-\(i)")
            md.metadata.namespace = i % 2 == 0 ? "default" : "prod"
            _ = try await kube.create(md)
        }
        let all = try await kube.listAll(ModelDeployment.self, namespace: nil, pageSize: 3)
        #expect(all.items.count == 7)
        #expect(try await kube.list(ModelDeployment.self, namespace: "prod").items.count == 3)
        let selected = try await kube.list(ModelDeployment.self, namespace: nil, options: ListOptions(fieldSelector: "metadata.name=md-4"))
        #expect(selected.items.map(\.metadata.name) == ["md-4"])
    }

    @Test func refusesMissingOrWrongTokens() async throws {
        let server = try await EmbeddedServer()
        let error = await #expect(throws: KubernetesError.self) { _ = try await server.client(token: "wrong").list(ModelDeployment.self, namespace: nil) }
        #expect(error?.status?.code == 401)
        let anonymous = KubernetesClient(configuration: KubernetesClientConfiguration(server: server.server))
        await #expect(throws: KubernetesError.self) { _ = try await anonymous.get(ModelDeployment.self, name: "a") }
    }
}

// Three minutes: 260 writes through a debug build while every other suite runs on the same 2 cores.
@Suite(.timeLimit(.minutes(3))) struct WatchContractTests {
    @Test func theReflectorFollowsRealResourceVersions() async throws {
        let server = try await EmbeddedServer()
        let kube = server.client()
        _ = try await kube.create(deployment("a"))
        var reflector = Reflector<ModelDeployment>(client: kube, namespace: "default")
        reflector.backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        var seen: [String] = []
        for await event in reflector.events() {
            switch event {
            case .replaced(let items, let version):
                seen.append("replaced \(items.count) at \(version)")
                _ = try await kube.create(deployment("b"))
            case .added(let md):
                seen.append("added \(md.metadata.name!) at \(md.metadata.resourceVersion!)")
                _ = try await kube.delete(ModelDeployment.self, name: "a")
            case .deleted(let md): seen.append("deleted \(md.metadata.name!) at \(md.metadata.resourceVersion!)")
            default: seen.append("other")
            }
            if seen.count == 3 { break }
        }
        #expect(seen == ["replaced 1 at 1", "added b at 2", "deleted a at 3"])
    }

    /// A consumer that already holds an object at a version (a controller's own write) gets no
    /// event for it, over HTTP and in process alike; the watch goes on from that version.
    @Test(arguments: [false, true]) func versionsTheConsumerKnowsAreSkipped(inProcess: Bool) async throws {
        let server = try await EmbeddedServer()
        let kube = inProcess ? server.inProcessClient() : server.client()
        // Something stored first: a list of an empty store answers resourceVersion 0, and a watch
        // from 0 means "from any point" (kube-apiserver's rule, ours too), whose first event for
        // b could then be a synthetic ADDED at its latest version, depending on when it opens.
        _ = try await kube.create(deployment("a"))
        var reflector = Reflector<ModelDeployment>(client: kube, namespace: "default")
        // The store numbers writes 1, 2, ...: the create below is version 2.
        reflector.isKnown = { namespace, name, version in namespace == "default" && name == "b" && version == "2" }
        var seen: [String] = []
        for await event in reflector.events() {
            switch event {
            case .replaced(let items, _):
                seen.append("replaced \(items.count)")
                var created = try await kube.create(deployment("b"))
                #expect(created.metadata.resourceVersion == "2")
                created.metadata.labels = ["team": "risk"]
                _ = try await kube.update(created)
            case .added(let md): seen.append("added \(md.metadata.name!) at \(md.metadata.resourceVersion!)")
            case .modified(let md): seen.append("modified \(md.metadata.name!) at \(md.metadata.resourceVersion!)")
            default: seen.append("other")
            }
            if seen.count == 2 { break }
        }
        #expect(seen == ["replaced 1", "modified b at 3"])
    }

    @Test func tooOldVersionsAre410AndTheReflectorRelists() async throws {
        let server = try await EmbeddedServer(historyLimit: 10)
        let kube = server.client()
        // The history keeps the newest 10 versions: 260 writes put version 2 out of reach.
        for i in 0..<260 { _ = try await kube.create(deployment("md-\(i)")) }
        let error = await #expect(throws: KubernetesError.self) {
            _ = try await kube.watch(ModelDeployment.self, namespace: "default", options: WatchOptions(resourceVersion: "2"))
        }
        #expect(error?.isGone == true)
    }

    @Test func bookmarksCarryTheCurrentVersion() async throws {
        let server = try await EmbeddedServer(bookmarkInterval: .milliseconds(100))
        let kube = server.client()
        _ = try await kube.create(deployment("a"))
        _ = try await kube.create(Lease(metadata: ObjectMeta(name: "l", namespace: "default")))  // moves the version on
        var events = try await kube.watch(ModelDeployment.self, namespace: "default", options: WatchOptions(resourceVersion: "1", timeoutSeconds: 30))
            .makeAsyncIterator()
        guard case .bookmark(let version)? = try await events.next() else {
            Issue.record("expected a bookmark")
            return
        }
        #expect(version == "2", "a bookmark advances past changes to other resources")
    }

    @Test func watchesEndAtTheirTimeout() async throws {
        let server = try await EmbeddedServer()
        let kube = server.client()
        var count = 0
        for try await _ in try await kube.watch(ModelDeployment.self, namespace: "default", options: WatchOptions(timeoutSeconds: 1)) { count += 1 }
        #expect(count == 0)
    }
}

@Suite(.timeLimit(.minutes(3))) struct DiscoveryTests {
    @Test func describesTheResources() async throws {
        let server = try await EmbeddedServer()
        let http = HTTPClient()
        let response = try await http.execute(
            HTTPRequest(url: server.server + "/apis/modelplane.dev/v1alpha1", headers: ["Authorization": "Bearer \(server.token)"]))
        let list = try JSONValue(parsing: response.body)
        #expect(list["kind"] == "APIResourceList")
        guard case .array(let resources)? = list["resources"] else {
            Issue.record("no resources")
            return
        }
        #expect(resources.compactMap { $0["name"]?.stringValue } == ["modeldeployments", "modeldeployments/status"])
        #expect(resources.first?["shortNames"] == ["md", "mdep"])
        let groups = try JSONValue(
            parsing: try await http.execute(HTTPRequest(url: server.server + "/apis", headers: ["Authorization": "Bearer \(server.token)"])).body)
        guard case .array(let names)? = groups["groups"] else { return }
        #expect(names.compactMap { $0["name"]?.stringValue } == ["modelplane.dev", "coordination.k8s.io", "events.k8s.io"])
    }
}
