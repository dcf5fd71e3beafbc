import APIServer
import Foundation
import KubeClient
import ModelplaneAPI
import Testing

/// `modelplane serve` hands its own controller and Git sync an in-process transport. The same
/// scenario runs over HTTPS and in process and must see the same API: the transport may skip
/// TLS and sockets, not authentication, validation, conflicts or watches.
@Suite(.timeLimit(.minutes(1))) struct InProcessTransportTests {
    enum Path: String, CaseIterable, CustomTestStringConvertible {
        case https, inProcess
        var testDescription: String { rawValue }
    }

    static func client(_ server: EmbeddedServer, _ path: Path, token: String? = nil) -> KubernetesClient {
        path == .https ? server.client(token: token) : server.inProcessClient(token: token)
    }

    @Test(arguments: Path.allCases) func sameAnswersAsOverHTTPS(_ path: Path) async throws {
        let server = try await EmbeddedServer(tls: true)
        let kube = Self.client(server, path)
        let md = ModelDeployment(name: "a", spec: .init(model: .init(name: "m", version: "1"), backend: .init(triton: .init(url: "http://t:8000"))))
        let created = try await kube.create(md)
        #expect(created.metadata.uid != nil && created.metadata.generation == 1)

        // A watch from here on sees our next write, then ends when the server says so.
        let events = try await kube.watch(
            ModelDeployment.self, namespace: "default", options: WatchOptions(resourceVersion: created.metadata.resourceVersion, timeoutSeconds: 1))
        var changed = created
        changed.spec.model.version = "2"
        let updated = try await kube.update(changed)
        #expect(updated.metadata.generation == 2)
        var seen: [String] = []
        for try await event in events {
            if case .modified(let object) = event { seen.append(object.spec.model.version) }
        }
        #expect(seen == ["2"])

        // Conflicts, not found, validation and authentication answer as they do over the network.
        await #expect { _ = try await kube.update(changed) } throws: { ($0 as? KubernetesError)?.isConflict == true }
        await #expect { _ = try await kube.get(ModelDeployment.self, name: "nope", namespace: "default") } throws: {
            ($0 as? KubernetesError)?.isNotFound == true
        }
        var invalid = md
        invalid.metadata.name = "b"
        invalid.spec.backend.triton?.url = "ftp://t"
        await #expect { _ = try await kube.create(invalid) } throws: { error in
            guard case .api(let status) = error as? KubernetesError else { return false }
            return status.code == 422 && (status.message ?? "").contains("spec.backend.triton.url")
        }
        let stranger = Self.client(server, path, token: "wrong")
        await #expect { _ = try await stranger.list(ModelDeployment.self, namespace: "default") } throws: { error in
            guard case .api(let status) = error as? KubernetesError else { return false }
            return status.code == 401
        }
        var huge = md
        huge.metadata.name = "huge"
        huge.metadata.annotations = ["x": String(repeating: "a", count: KubernetesAPI.maxRequestBytes)]
        await #expect { _ = try await kube.create(huge) } throws: { error in
            guard case .api(let status) = error as? KubernetesError else { return false }
            return status.code == 413
        }
        #expect(try await kube.list(ModelDeployment.self, namespace: "default").items.map(\.metadata.name) == ["a"])
        await #expect { _ = try await stranger.watch(ModelDeployment.self, namespace: "default") } throws: { error in
            guard case .api(let status) = error as? KubernetesError else { return false }
            return status.code == 401
        }

        // Pages, patches, bookmarks and deletes.
        var second = md
        second.metadata.name = "c"
        _ = try await kube.create(second)
        let first = try await kube.list(ModelDeployment.self, namespace: "default", options: ListOptions(limit: 1))
        #expect(first.items.map(\.metadata.name) == ["a"] && first.remainingItemCount == 1)
        let rest = try await kube.list(ModelDeployment.self, namespace: "default", options: ListOptions(limit: 1, continueToken: first.continueToken))
        #expect(rest.items.map(\.metadata.name) == ["c"] && rest.continueToken == nil && rest.resourceVersion == first.resourceVersion)
        let patched = try await kube.patch(ModelDeployment.self, name: "c", namespace: "default", .merge(["metadata": ["labels": ["team": "x"]]]))
        #expect(patched.metadata.labels == ["team": "x"])
        let bookmarked = try await kube.watch(
            ModelDeployment.self, namespace: "default",
            options: WatchOptions(resourceVersion: patched.metadata.resourceVersion, timeoutSeconds: 1, allowWatchBookmarks: true))
        server.api.store.emitBookmarks()
        var bookmarks: [String] = []
        for try await event in bookmarked {
            if case .bookmark(let version) = event { bookmarks.append(version) }
        }
        #expect(bookmarks == [patched.metadata.resourceVersion])
        let deleted = try await kube.delete(ModelDeployment.self, name: "c", namespace: "default")
        #expect(deleted?.metadata.name == "c" && deleted?.metadata.deletionTimestamp == nil, "gone at once: no finalizers")
        #expect(try await kube.list(ModelDeployment.self, namespace: "default").items.map(\.metadata.name) == ["a"])
    }
}
