import APIServer
import Foundation
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import ResourceStore
import Testing

/// Server-side dry run (`dryRun=All`) on every write the server serves: the whole request runs,
/// checks included, and is answered as a real one would be, but nothing is stored, no
/// resourceVersion moves and no watcher hears of it.
@Suite(.timeLimit(.minutes(5))) struct DryRunTests {
    /// Watches of every stored resource from `version`: `expectOnly` reads each one's first event.
    struct Watches {
        var streams: [(type: ResourceType, events: AsyncStream<StoredEvent>)]

        init(_ store: ResourceStore, from version: String) throws {
            streams = try [ResourceType.modelDeployments, .leases, .events].map { ($0, try store.watch($0, from: version)) }
        }

        /// Writes a sentinel of each type for real, then checks that each watch's first event is
        /// that sentinel's ADDED: anything the dry runs had sent would have come before it.
        func expectNothingBut(sentinels kube: KubernetesClient) async throws {
            _ = try await kube.create(deployment("sentinel"))
            _ = try await kube.create(Lease(metadata: ObjectMeta(name: "sentinel", namespace: "default")))
            _ = try await kube.create(Self.event("sentinel"))
            for (type, events) in streams {
                var iterator = events.makeAsyncIterator()
                let first = await iterator.next()
                #expect(first?.type == .added && first?.object["metadata"]?["name"] == "sentinel", "\(type): \(String(describing: first?.object))")
            }
        }

        static func event(_ name: String) -> Event {
            Event(
                metadata: ObjectMeta(name: name, namespace: "default"), eventTime: "2026-01-02T03:04:05.000000Z", reportingController: "test",
                reportingInstance: "test", action: "Test", reason: "Tested", regarding: ObjectReference(kind: "ModelDeployment", name: "a"),
                note: nil, type: .normal)
        }
    }

    /// Over HTTPS, and from a caller in this process (which hands bodies over as values: the
    /// controller, GitSync's pruning).
    @Test(arguments: [false, true]) func everyWriteOnEveryResourceStoresNothing(inProcess: Bool) async throws {
        let server = try await EmbeddedServer()
        let kube = inProcess ? server.inProcessClient() : server.client()
        var live = try await kube.create(deployment("a", finalizers: ["example.com/keep"]))
        let lease = try await kube.create(Lease(metadata: ObjectMeta(name: "l", namespace: "default"), spec: .init(holderIdentity: "x")))
        let event = try await kube.create(Watches.event("e"))
        let before = server.store.resourceVersion
        let watches = try Watches(server.store, from: before)

        // Create: answered as created (uid, generation 1), without a resourceVersion, not stored.
        let created = try await kube.create(deployment("b"), dryRun: true)
        #expect(created.metadata.uid != nil && created.metadata.generation == 1)
        #expect(created.metadata.resourceVersion == nil)
        await #expect(throws: KubernetesError.self) { _ = try await kube.get(ModelDeployment.self, name: "b") }
        _ = try await kube.create(Lease(metadata: ObjectMeta(name: "l2", namespace: "default")), dryRun: true)
        _ = try await kube.create(Watches.event("e2"), dryRun: true)

        // Update, patch and status: the answer shows the change (generation included), the store keeps the old.
        var changed = live
        changed.spec.model.version = "2"
        let updated = try await kube.update(changed, dryRun: true)
        #expect(updated.spec.model.version == "2" && updated.metadata.generation == 2)
        #expect(updated.metadata.resourceVersion == live.metadata.resourceVersion)
        let patched = try await kube.patch(ModelDeployment.self, name: "a", .merge(["spec": ["model": ["version": "3"]]]), dryRun: true)
        #expect(patched.spec.model.version == "3")
        let jsonPatched = try await kube.patch(
            ModelDeployment.self, name: "a", .json([JSONPatchOperation(.replace, "/spec/model/version", value: "4")]), dryRun: true)
        #expect(jsonPatched.spec.model.version == "4")
        var withStatus = live
        withStatus.status = ModelDeployment.Status()
        withStatus.status?.phase = .ready
        #expect(try await kube.updateStatus(withStatus, dryRun: true).status?.phase == .ready)
        let statusPatched = try await kube.patch(
            ModelDeployment.self, name: "a", .merge(["status": ["phase": "Degraded"]]), subresource: "status", dryRun: true)
        #expect(statusPatched.status?.phase == .degraded)
        var renewed = lease
        renewed.spec?.holderIdentity = "y"
        #expect(try await kube.update(renewed, dryRun: true).spec?.holderIdentity == "y")
        _ = try await kube.patch(Event.self, name: "e", .merge(["note": "changed"]), dryRun: true)

        // Delete: held by a finalizer, it reports the deletionTimestamp it would set; otherwise the last state.
        let pending = try await kube.delete(ModelDeployment.self, name: "a", dryRun: true)
        #expect(pending?.metadata.deletionTimestamp != nil)
        #expect(try await kube.delete(Lease.self, name: "l", dryRun: true)?.metadata.name == "l")
        #expect(try await kube.delete(Event.self, name: "e", dryRun: true)?.metadata.name == "e")

        // Nothing moved.
        #expect(server.store.resourceVersion == before)
        live = try await kube.get(ModelDeployment.self, name: "a")
        #expect(live.spec.model.version == "1" && live.metadata.generation == 1 && live.status == nil && live.metadata.deletionTimestamp == nil)
        #expect(try await kube.get(Lease.self, name: "l") == lease)
        #expect(try await kube.get(Event.self, name: "e") == event)
        try await watches.expectNothingBut(sentinels: kube)
    }

    @Test(arguments: [false, true]) func checksRunAsForARealWrite(inProcess: Bool) async throws {
        let server = try await EmbeddedServer()
        let kube = inProcess ? server.inProcessClient() : server.client()
        let live = try await kube.create(deployment("a"))
        var stale = live
        stale.spec.model.version = "2"
        _ = try await kube.update(stale)
        let before = server.store.resourceVersion
        let watches = try Watches(server.store, from: before)

        // A stale resourceVersion: 409, as for a real update.
        let conflict = await #expect(throws: KubernetesError.self) { _ = try await kube.update(stale, dryRun: true) }
        #expect(conflict?.isConflict == true)
        // An invalid object: 422 with the same causes.
        var bad = deployment("bad")
        bad.spec.model.version = "v1"
        let invalid = await #expect(throws: KubernetesError.self) { _ = try await kube.create(bad, dryRun: true) }
        #expect(invalid?.status?.details?.causes?.compactMap(\.field) == ["spec.model.version"])
        let invalidPatch = await #expect(throws: KubernetesError.self) {
            _ = try await kube.patch(ModelDeployment.self, name: "a", .merge(["spec": ["model": ["version": "v2"]]]), dryRun: true)
        }
        #expect(invalidPatch?.isInvalid == true)
        // Already there, not there, and a failed precondition.
        let exists = await #expect(throws: KubernetesError.self) { _ = try await kube.create(deployment("a"), dryRun: true) }
        #expect(exists?.isAlreadyExists == true)
        let missing = await #expect(throws: KubernetesError.self) { _ = try await kube.delete(ModelDeployment.self, name: "nobody", dryRun: true) }
        #expect(missing?.isNotFound == true)
        let precondition = await #expect(throws: KubernetesError.self) {
            _ = try await kube.delete(
                ModelDeployment.self, name: "a", options: DeleteOptions(preconditions: .init(resourceVersion: live.metadata.resourceVersion)), dryRun: true)
        }
        #expect(precondition?.isConflict == true)

        #expect(server.store.resourceVersion == before)
        try await watches.expectNothingBut(sentinels: kube)
    }

    /// Only `All` is a dry run; anything else is refused as kube-apiserver refuses it (422, the
    /// request's options invalid), before anything is written.
    @Test func anyOtherValueIsRefusedNamingTheAllowedOne() throws {
        let store = try ResourceStore(path: NSTemporaryDirectory() + "modelplane-dryrun-" + UUID().uuidString + ".db")
        let api = KubernetesAPI(store: store, tokens: nil)
        let body = try Data(JSONValueCoding.encode(deployment("a")).canonicalText.utf8)
        let collection = "/apis/modelplane.dev/v1alpha1/namespaces/default/modeldeployments"
        let cases: [(method: String, path: String, query: [String: String], body: Data, options: String)] = [
            ("POST", collection, ["dryRun": "true"], body, "CreateOptions"),
            ("POST", collection, ["dryRun": ""], body, "CreateOptions"),
            ("PUT", collection + "/a", ["dryRun": "all"], body, "UpdateOptions"),
            ("PATCH", collection + "/a", ["dryRun": "Server"], Data("{}".utf8), "PatchOptions"),
            ("DELETE", collection + "/a", ["dryRun": "1"], Data(), "DeleteOptions"),
            ("DELETE", collection + "/a", [:], Data(#"{"dryRun":["All","Server"]}"#.utf8), "DeleteOptions"),
        ]
        _ = try store.create(.modelDeployments, namespace: "default", JSONValueCoding.encode(deployment("a")))
        let before = store.resourceVersion
        for test in cases {
            let response = api.handle(
                APIRequest(
                    method: test.method, path: test.path, query: test.query, headers: ["content-type": "application/merge-patch+json"], body: test.body))
            guard case .data(let data) = response.body else { throw PeerError("no body") }
            let status = try JSONValue(parsing: data)
            #expect(response.status == 422, "\(test.method) \(test.query)")
            #expect(status["reason"] == "Invalid")
            let message = status["message"]?.stringValue ?? ""
            #expect(message.hasPrefix("\(test.options).meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{"), "\(message)")
            #expect(message.hasSuffix(#"supported values: "All""#), "\(message)")
            #expect(
                status["details"]?["causes"] == [
                    ["reason": "FieldValueNotSupported", "message": .string(String(message.split(separator: "dryRun: ").last ?? "")), "field": "dryRun"]
                ])
        }
        #expect(store.resourceVersion == before)
        #expect(try store.get(.modelDeployments, namespace: "default", name: "a")["metadata"]?["deletionTimestamp"] == nil)
    }
}

/// The real clients' previews against `modelplane serve` with its controller on: `kubectl diff`,
/// `--dry-run=server` for apply, create and delete, and the CLI's own `--dry-run`. None of them
/// changes the stored object, none sends a watch event, so the controller has nothing to do.
@Suite(.timeLimit(.minutes(3))) struct KubectlDryRunTests {
    /// The example, pointed at a port where nothing listens: the controller settles it as
    /// unavailable and then leaves it alone until something changes.
    static let manifest = KubectlTests.manifest.replacingOccurrences(of: "http://127.0.0.1:8000", with: "http://127.0.0.1:9")
    static let upgrade = manifest.replacingOccurrences(of: "version: \"2\"", with: "version: \"3\"")

    @Test func previewsChangeNothing() async throws {
        let serve = try await KubectlTests.Serve(controller: true)
        var result = try await serve.kubectl("apply", "-f", "-", stdin: Self.manifest)
        #expect(result.status == 0, "\(result.stderr)")
        // Wait for the controller to have settled generation 1: its finalizer, and a status saying
        // the backend is unavailable (it keeps retrying, and writes nothing while nothing changes).
        var settled = ""
        for _ in 0..<100 {
            settled = try await serve.kubectl(
                "get", "md", "sentiment", "-o", #"jsonpath={.status.phase} {.status.conditions[?(@.type=="Degraded")].observedGeneration}"#
            ).stdout
            if settled == "Degraded 1" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(settled == "Degraded 1")
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: serve.kubeconfig))
        let before = try await kube.get(ModelDeployment.self, name: "sentiment")
        let events = try await kube.watch(
            ModelDeployment.self, namespace: nil, options: WatchOptions(resourceVersion: before.metadata.resourceVersion, allowWatchBookmarks: false))

        // kubectl diff: exit 1 and the change shown.
        let file = serve.directory + "/upgrade.yaml"
        try Self.upgrade.write(toFile: file, atomically: true, encoding: .utf8)
        result = try await serve.kubectl("diff", "-f", file)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("-    version: \"2\"") && result.stdout.contains("+    version: \"3\""), "\(result.stdout)")
        #expect(result.stdout.contains("-  generation: 1") && result.stdout.contains("+  generation: 2"), "\(result.stdout)")
        // A new object diffs against nothing (a dry-run create).
        try Self.manifest.replacingOccurrences(of: "name: sentiment\nspec", with: "name: newcomer\nspec").write(
            toFile: serve.directory + "/new.yaml", atomically: true, encoding: .utf8)
        result = try await serve.kubectl("diff", "-f", serve.directory + "/new.yaml")
        #expect(result.status == 1 && result.stdout.contains("+  name: newcomer"), "\(result.stdout)\(result.stderr)")

        result = try await serve.kubectl("apply", "--dry-run=server", "-f", file)
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment configured (server dry run)\n", "\(result.stderr)")
        result = try await serve.kubectl("apply", "--dry-run=server", "-f", file, "-o", "jsonpath={.spec.model.version}")
        #expect(result.stdout == "3", "\(result.stderr)")
        result = try await serve.kubectl("create", "--dry-run=server", "-f", serve.directory + "/new.yaml")
        #expect(result.stdout == "modeldeployment.modelplane.dev/newcomer created (server dry run)\n", "\(result.stderr)")
        result = try await serve.kubectl("delete", "--dry-run=server", "md", "sentiment")
        #expect(result.stdout == "modeldeployment.modelplane.dev \"sentiment\" deleted (server dry run)\n", "\(result.stderr)")
        // A stale resourceVersion is refused in a dry run as in a real one.
        result = try await serve.kubectl(
            "replace", "--dry-run=server", "-f", "-",
            stdin: Self.upgrade.replacingOccurrences(of: "name: sentiment\nspec:", with: "name: sentiment\n  resourceVersion: \"1\"\nspec:"))
        #expect(result.status != 0 && result.stderr.contains("the object has been modified"), "\(result.stdout)\(result.stderr)")

        // The CLI's own.
        result = try await serve.modelplane("apply", "--dry-run=server", "-f", file)
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment configured (server dry run)\n", "\(result.stderr)")
        result = try await serve.modelplane("apply", "--dry-run=client", "-f", file, "-f", serve.directory + "/new.yaml")
        #expect(
            result.stdout == "modeldeployment.modelplane.dev/sentiment configured (dry run)\nmodeldeployment.modelplane.dev/newcomer created (dry run)\n",
            "\(result.stderr)")
        result = try await serve.modelplane("delete", "--dry-run=server", "sentiment")
        #expect(result.stdout == "modeldeployment.modelplane.dev \"sentiment\" deleted (server dry run)\n", "\(result.stderr)")
        result = try await serve.modelplane("delete", "--dry-run=server", "nobody")
        #expect(result.status == 1 && result.stderr.contains("\"nobody\" not found"), "\(result.stderr)")

        // Nothing changed, and nothing was sent: the first event is a real write made now.
        let after = try await kube.get(ModelDeployment.self, name: "sentiment")
        #expect(after == before)
        await #expect(throws: KubernetesError.self) { _ = try await kube.get(ModelDeployment.self, name: "newcomer") }
        result = try await serve.kubectl(
            "apply", "-f", "-", stdin: Self.manifest.replacingOccurrences(of: "name: sentiment\nspec", with: "name: sentinel\nspec"))
        #expect(result.status == 0, "\(result.stderr)")
        for try await event in events {
            guard case .added(let object) = event else {
                Issue.record("the first event after the dry runs is \(event), not the sentinel's ADDED")
                break
            }
            #expect(object.metadata.name == "sentinel")
            break
        }
    }
}
