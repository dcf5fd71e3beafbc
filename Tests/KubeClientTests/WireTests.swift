import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

let collection = "/apis/modelplane.dev/v1alpha1/namespaces/default/modeldeployments"

func deployment(_ name: String, version: String = "1") -> ModelDeployment {
    ModelDeployment(name: name, spec: .init(model: .init(name: "m", version: version), backend: .init(triton: .init(url: "http://127.0.0.1:8000"))))
}

func client(_ peer: KubePeer) -> KubernetesClient {
    KubernetesClient(configuration: KubernetesClientConfiguration(server: peer.server))
}

func statusBody(_ code: Int64, _ reason: String, _ message: String, causes: [JSONValue]? = nil) -> JSONValue {
    var details: JSONValue = ["name": "a", "group": "modelplane.dev", "kind": "ModelDeployment"]
    if let causes { details = ["name": "a", "group": "modelplane.dev", "kind": "ModelDeployment", "causes": .array(causes)] }
    return [
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "message": .string(message), "reason": .string(reason), "code": .int(code),
        "details": details,
    ]
}

@Suite(.timeLimit(.minutes(3))) struct KubernetesClientWireTests {
    @Test func crudVerbsUseTheRightMethodsPathsAndContentTypes() async throws {
        let peer = try await KubePeer.start()
        let kube = client(peer)
        let created = try await kube.create(deployment("a"))
        #expect(created.metadata.name == "a")
        #expect(try await kube.get(ModelDeployment.self, name: "a").spec.model.version == "1")

        var changed = created
        changed.spec.model.version = "2"
        // kmock does not emulate PUT (see TESTING.md): answer both PUTs with the object, and check
        // below that the requests were right.
        let echoed = try JSONValueCoding.encode(changed)
        try await peer.inject([["method": "PUT", "status": 200, "body": echoed, "times": 2]])
        #expect(try await kube.update(changed).spec.model.version == "2")
        var status = ModelDeployment.Status()
        status.phase = .ready
        changed.status = status
        _ = try await kube.updateStatus(changed)
        let merged = try await kube.patch(ModelDeployment.self, name: "a", .merge(.object(["spec": .object(["revisionHistoryLimit": .int(3)])])))
        #expect(merged.spec.revisionHistoryLimit == 3)
        _ = try await kube.patch(ModelDeployment.self, name: "a", .json([JSONPatchOperation(.replace, "/spec/model/version", value: "4")]), subresource: nil)
        _ = try await kube.patch(
            ModelDeployment.self, name: "a",
            .apply(.object(["apiVersion": "modelplane.dev/v1alpha1", "kind": "ModelDeployment"]), fieldManager: "modelplane", force: true))
        try await kube.delete(ModelDeployment.self, name: "a", options: DeleteOptions(preconditions: .init(resourceVersion: "7")))

        let seen = try await peer.requests().map { "\($0.method) \($0.path)\($0.query.isEmpty ? "" : "?" + $0.query) \($0.contentType ?? "-")" }
        #expect(
            seen == [
                "POST \(collection) application/json",
                "GET \(collection)/a -",
                "PUT \(collection)/a application/json",
                "PUT \(collection)/a/status application/json",
                "PATCH \(collection)/a application/merge-patch+json",
                "PATCH \(collection)/a application/json-patch+json",
                "PATCH \(collection)/a?fieldManager=modelplane&force=true application/apply-patch+yaml",
                "DELETE \(collection)/a application/json",
            ])
        let bodies = try await peer.requests().map(\.body)
        #expect(
            try JSONDecoder().decode([JSONPatchOperation].self, from: Data(bodies[5].utf8)) == [JSONPatchOperation(.replace, "/spec/model/version", value: "4")]
        )
        #expect(bodies[7].contains(#""preconditions":{"resourceVersion":"7"}"#))
    }

    @Test func listsAcrossNamespacesAndEscapesSelectors() async throws {
        let peer = try await KubePeer.start()
        let kube = client(peer)
        _ = try await kube.create(deployment("a"))
        let list = try await kube.list(ModelDeployment.self, namespace: nil, options: ListOptions(labelSelector: "team in (risk,ops),!canary", limit: 10))
        #expect(list.items.map(\.metadata.name) == ["a"])
        let last = try #require(try await peer.requests().last)
        #expect(last.path == "/apis/modelplane.dev/v1alpha1/modeldeployments")
        #expect(last.query == "labelSelector=team%20in%20%28risk%2Cops%29%2C%21canary&limit=10")
    }

    @Test func followsContinueTokensAcrossPages() async throws {
        let peer = try await KubePeer.start()
        let page = { (name: String, token: String) -> JSONValue in
            [
                "kind": "ModelDeploymentList", "apiVersion": "modelplane.dev/v1alpha1",
                "metadata": ["resourceVersion": "100", "continue": .string(token)],
                "items": [try! JSONValueCoding.encode(deployment(name))],
            ]
        }
        try await peer.inject([
            ["method": "GET", "path": .string(collection), "query": "continue=page2", "status": 200, "body": page("b", "")],
            ["method": "GET", "path": .string(collection), "query": "limit=2", "status": 200, "body": page("a", "page2")],
        ])
        let all = try await client(peer).listAll(ModelDeployment.self, namespace: "default", pageSize: 2)
        #expect(all.items.map(\.metadata.name) == ["a", "b"])
        #expect(all.resourceVersion == "100")
        #expect(try await peer.requests().map(\.query) == ["limit=2", "limit=2&continue=page2"])
    }

    @Test func decodesStatusErrors() async throws {
        let peer = try await KubePeer.start()
        let kube = client(peer)
        try await peer.inject([
            [
                "method": "PUT", "status": 409,
                "body": statusBody(409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again"),
            ],
            [
                "method": "POST", "status": 422,
                "body": statusBody(
                    422, "Invalid", "invalid", causes: [["reason": "FieldValueRequired", "message": "Required value", "field": "spec.model.version"]]),
            ],
            [
                "method": "GET", "path": .string(collection + "/throttled"), "status": 429, "headers": ["Retry-After": "3"],
                "body": statusBody(429, "TooManyRequests", "slow down"),
            ],
            ["method": "GET", "path": .string(collection + "/broken"), "status": 500, "body": ["not": "a status"]],
        ])
        var error = await #expect(throws: KubernetesError.self) { _ = try await kube.update(deployment("a")) }
        #expect(error?.isConflict == true)
        error = await #expect(throws: KubernetesError.self) { _ = try await kube.create(deployment("a")) }
        #expect(error?.isInvalid == true)
        #expect(error?.status?.details?.causes?.first?.field == "spec.model.version")
        error = await #expect(throws: KubernetesError.self) { _ = try await kube.get(ModelDeployment.self, name: "throttled") }
        #expect(error?.retryAfter == .seconds(3))
        #expect(error?.isTransient == true)
        error = await #expect(throws: KubernetesError.self) { _ = try await kube.get(ModelDeployment.self, name: "broken") }
        #expect(error?.status?.code == 500)
        #expect(error?.status?.reason == .internalError)
        error = await #expect(throws: KubernetesError.self) { _ = try await kube.get(ModelDeployment.self, name: "missing") }
        #expect(error?.isNotFound == true)
    }

    @Test func reportsAnUnreachableServer() async throws {
        let peer = try await KubePeer.start()
        let server = peer.server
        peer.process.stop()
        let kube = KubernetesClient(configuration: KubernetesClientConfiguration(server: server))
        let error = await #expect(throws: KubernetesError.self) { _ = try await kube.get(ModelDeployment.self, name: "a") }
        #expect(error?.isTransient == true)
        guard case .transport(let transport)? = error else {
            Issue.record("expected a transport error")
            return
        }
        #expect(transport.code == .couldNotConnect)
    }
}

@Suite(.timeLimit(.minutes(3))) struct WatchWireTests {
    @Test func watchStreamsChanges() async throws {
        let peer = try await KubePeer.start()
        let kube = client(peer)
        _ = try await kube.create(deployment("a"))
        var events = try await kube.watch(ModelDeployment.self, namespace: "default", options: WatchOptions(resourceVersion: "0", timeoutSeconds: 30))
            .makeAsyncIterator()
        guard case .added(let first)? = try await events.next() else {
            Issue.record("expected ADDED")
            return
        }
        #expect(first.metadata.name == "a")
        _ = try await kube.create(deployment("b"))
        guard case .added(let second)? = try await events.next() else {
            Issue.record("expected ADDED")
            return
        }
        #expect(second.metadata.name == "b")
        _ = try await kube.patch(ModelDeployment.self, name: "b", .merge(.object(["spec": .object(["revisionHistoryLimit": .int(2)])])))
        guard case .modified(let third)? = try await events.next() else {
            Issue.record("expected MODIFIED")
            return
        }
        #expect(third.spec.revisionHistoryLimit == 2)
        try await kube.delete(ModelDeployment.self, name: "a")
        guard case .deleted(let fourth)? = try await events.next() else {
            Issue.record("expected DELETED")
            return
        }
        #expect(fourth.metadata.name == "a")
        let query = try #require(try await peer.requests().first { $0.query.contains("watch=true") }?.query)
        #expect(query == "watch=true&resourceVersion=0&allowWatchBookmarks=true&timeoutSeconds=30")
    }

    @Test func endsAWatchTheServerKeepsOpenPastItsTimeout() async throws {
        // kmock ignores timeoutSeconds and never ends a watch: the client must.
        let peer = try await KubePeer.start()
        var configuration = KubernetesClientConfiguration(server: peer.server)
        configuration.watchDeadlineGrace = .milliseconds(200)
        let kube = KubernetesClient(configuration: configuration)
        _ = try await kube.create(deployment("a"))
        var names: [String] = []
        for try await event in try await kube.watch(ModelDeployment.self, namespace: "default", options: WatchOptions(timeoutSeconds: 1)) {
            if case .added(let md) = event { names.append(md.metadata.name ?? "") }
        }
        #expect(names == ["a"])
    }

    @Test func decodesEventsCutAcrossChunks() async throws {
        let peer = try await KubePeer.start()
        let object = String(decoding: try JSONEncoder().encode(deployment("a")), as: UTF8.self)
        let text =
            #"{"type":"ADDED","object":\#(object)}"# + "\n"
            + #"{"type":"BOOKMARK","object":{"kind":"ModelDeployment","apiVersion":"modelplane.dev/v1alpha1","metadata":{"resourceVersion":"42"}}}"# + "\n"
            + #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (42)","reason":"Expired","code":410}}"#
            + "\n"
        // Cut everywhere except where lines end.
        var chunks: [String] = []
        var rest = Substring(text)
        var size = 1
        while !rest.isEmpty {
            chunks.append(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
            size = size % 13 + 3
        }
        try await peer.inject([["query": "watch=true", "chunks": .array(chunks.map(JSONValue.string))]])
        var seen: [String] = []
        for try await event in try await client(peer).watch(ModelDeployment.self, namespace: "default") {
            switch event {
            case .added(let md): seen.append("added \(md.metadata.name!)")
            case .bookmark(let rv): seen.append("bookmark \(rv)")
            case .error(let status): seen.append("error \(status.code) \(status.reason!.rawValue)")
            default: seen.append("other")
            }
        }
        #expect(seen == ["added a", "bookmark 42", "error 410 Expired"])
    }

    @Test func droppedWatchConnectionsSurfaceAsTransportErrors() async throws {
        let peer = try await KubePeer.start()
        try await peer.inject([
            [
                "query": "watch=true", "chunks": [.string(#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"5"}}}"# + "\n"), #"{"type":"ADD"#],
                "drop": true,
            ]
        ])
        var bookmarks = 0
        let error = await #expect(throws: KubernetesError.self) {
            for try await event in try await client(peer).watch(ModelDeployment.self, namespace: "default") {
                if case .bookmark = event { bookmarks += 1 }
            }
        }
        #expect(bookmarks == 1)
        #expect(error?.isTransient == true)
    }

    @Test func watchRefusalsAreStatusErrors() async throws {
        let peer = try await KubePeer.start()
        try await peer.inject([["query": "watch=true", "status": 410, "body": statusBody(410, "Expired", "too old resource version")]])
        let error = await #expect(throws: KubernetesError.self) {
            _ = try await client(peer).watch(ModelDeployment.self, namespace: "default", options: WatchOptions(resourceVersion: "1"))
        }
        #expect(error?.isGone == true)
    }
}

@Suite(.timeLimit(.minutes(3))) struct ReflectorWireTests {
    func reflector(_ peer: KubePeer) -> Reflector<ModelDeployment> {
        var reflector = Reflector<ModelDeployment>(client: client(peer), namespace: "default")
        reflector.backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        return reflector
    }

    /// Reads reflector events until `until` says stop, recording a short form of each.
    func record(_ events: AsyncStream<ReflectorEvent<ModelDeployment>>, until: ([String]) -> Bool) async -> [String] {
        var seen: [String] = []
        for await event in events {
            switch event {
            case .replaced(let items, _): seen.append("replaced \(items.compactMap(\.metadata.name).sorted())")
            case .added(let md): seen.append("added \(md.metadata.name!)")
            case .modified(let md): seen.append("modified \(md.metadata.name!)")
            case .deleted(let md): seen.append("deleted \(md.metadata.name!)")
            case .failed(let error, _): seen.append("failed \(error.status.map { String($0.code) } ?? "transport")")
            }
            if until(seen) { break }
        }
        return seen
    }

    @Test func listsThenWatches() async throws {
        let peer = try await KubePeer.start()
        _ = try await client(peer).create(deployment("a"))
        let events = reflector(peer).events()
        var seen = await record(events) { $0.count == 1 }
        #expect(seen == ["replaced [\"a\"]"])
        _ = try await client(peer).create(deployment("b"))
        seen = await record(events) { $0.contains("added b") }
        #expect(seen.last == "added b")
        // The reflector lists (a page of 500) before it watches; the test's own POSTs interleave.
        let reads = try await peer.requests().filter { $0.method == "GET" }.map { $0.query.contains("watch=true") ? "WATCH" : "LIST \($0.query)" }
        #expect(reads.prefix(2) == ["LIST limit=500", "WATCH"])
    }

    @Test func relistsWhenTheWatchIsGone() async throws {
        let peer = try await KubePeer.start()
        _ = try await client(peer).create(deployment("a"))
        try await peer.inject([["query": "watch=true", "status": 410, "body": statusBody(410, "Expired", "too old")]])
        let seen = await record(reflector(peer).events()) { $0.filter { $0.hasPrefix("replaced") }.count == 2 }
        #expect(seen.filter { $0.hasPrefix("replaced") } == ["replaced [\"a\"]", "replaced [\"a\"]"])
        #expect(!seen.contains { $0.hasPrefix("failed") }, "a 410 is routine, not a failure: \(seen)")
    }

    @Test func relistsOnAnInStreamExpiredError() async throws {
        let peer = try await KubePeer.start()
        try await peer.inject([
            [
                "query": "watch=true",
                "chunks": [.string(#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}"# + "\n")],
            ]
        ])
        let seen = await record(reflector(peer).events()) { $0.filter { $0.hasPrefix("replaced") }.count == 2 }
        #expect(seen == ["replaced []", "replaced []"])
    }

    @Test func backsOffAndRecoversFromServerErrors() async throws {
        let peer = try await KubePeer.start()
        _ = try await client(peer).create(deployment("a"))
        try await peer.inject([
            ["method": "GET", "query": "limit=500", "status": 500, "body": statusBody(500, "InternalError", "etcd is sad"), "times": 2],
            ["method": "GET", "query": "watch=true", "status": 429, "headers": ["Retry-After": "1"], "body": statusBody(429, "TooManyRequests", "slow down")],
        ])
        var retryDelays: [Duration] = []
        var seen: [String] = []
        for await event in reflector(peer).events() {
            switch event {
            case .failed(let error, let delay):
                seen.append("failed \(error.status!.code)")
                retryDelays.append(delay)
            case .replaced(let items, _): seen.append("replaced \(items.count)")
            case .added(let md): seen.append("added \(md.metadata.name!)")
            default: seen.append("other")
            }
            if seen.contains("added a") { break }
        }
        #expect(seen == ["failed 500", "failed 500", "replaced 1", "failed 429", "added a"])
        #expect(retryDelays[2] >= .seconds(1), "Retry-After is honoured")
    }

    @Test func rewatchesFromTheLastVersionWhenAWatchEndsCleanly() async throws {
        let peer = try await KubePeer.start()
        let bookmark = #"{"type":"BOOKMARK","object":{"kind":"ModelDeployment","apiVersion":"modelplane.dev/v1alpha1","metadata":{"resourceVersion":"77"}}}"#
        try await peer.inject([["query": "watch=true", "chunks": [.string(bookmark + "\n")]]])
        let events = reflector(peer).events()
        _ = await record(events) { $0.count == 1 }
        _ = try await client(peer).create(deployment("after"))
        let seen = await record(events) { $0.contains("added after") }
        #expect(seen.last == "added after")
        let watches = try await peer.requests().filter { $0.query.contains("watch=true") }.map(\.query)
        #expect(watches.count >= 2)
        #expect(watches[1].contains("resourceVersion=77"), "the second watch resumes from the bookmark: \(watches)")
        let lists = try await peer.requests().filter { $0.method == "GET" && !$0.query.contains("watch=true") }
        #expect(lists.count == 1, "a clean end re-watches; it does not relist")
    }

    @Test func rewatchesAfterADroppedConnection() async throws {
        let peer = try await KubePeer.start()
        try await peer.inject([["query": "watch=true", "chunks": ["{\"type\":"], "drop": true]])
        let events = reflector(peer).events()
        var seen = await record(events) { $0.count == 2 }
        #expect(seen == ["replaced []", "failed transport"])
        _ = try await client(peer).create(deployment("late"))
        seen = await record(events) { $0.contains("added late") }
        #expect(seen.last == "added late")
        let lists = try await peer.requests().filter { $0.method == "GET" && !$0.query.contains("watch=true") }
        #expect(lists.count == 1, "a dropped watch re-watches; it does not relist")
    }
}

@Suite(.timeLimit(.minutes(3))) struct SecureWireTests {
    @Test func mutualTLSAndBearerTokenFromAKubeconfig() async throws {
        let pki = try await TestCertificates.make()
        let clientTLS = TLSConfiguration(
            certificateAuthority: .file(pki.caCertificate), clientCertificate: .file(pki.clientCertificate), clientKey: .file(pki.clientKey))
        let peer = try await KubePeer.start(
            ["--cert", pki.serverCertificate, "--key", pki.serverKey, "--client-ca", pki.caCertificate, "--token", "t0ken"], controlTLS: clientTLS)
        let dir = try Scratch()
        let ca = try Data(contentsOf: URL(fileURLWithPath: pki.caCertificate)).base64EncodedString()
        try FileManager.default.copyItem(atPath: pki.clientCertificate, toPath: dir.path + "/client.crt")
        try FileManager.default.copyItem(atPath: pki.clientKey, toPath: dir.path + "/client.key")
        let kubeconfig = try dir.write(
            "config",
            """
            current-context: test
            clusters: [{name: c, cluster: {server: "\(peer.server)", certificate-authority-data: \(ca)}}]
            users: [{name: u, user: {client-certificate: client.crt, client-key: client.key, token: t0ken}}]
            contexts: [{name: test, context: {cluster: c, user: u, namespace: default}}]
            """)
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: kubeconfig, environment: [:]))
        _ = try await kube.create(deployment("secure"))
        #expect(try await kube.list(ModelDeployment.self, namespace: "default").items.count == 1)
        #expect(try await peer.requests().allSatisfy { $0.auth == "Bearer" })

        var noCertificate = try KubernetesClientConfiguration.kubeconfig(explicitPath: kubeconfig, environment: [:])
        noCertificate.tls.clientCertificate = nil
        noCertificate.tls.clientKey = nil
        await #expect(throws: KubernetesError.self) {
            _ = try await KubernetesClient(configuration: noCertificate).list(ModelDeployment.self, namespace: "default")
        }
    }

    @Test func rereadsARotatedTokenFileAfter401() async throws {
        let peer = try await KubePeer.start(["--token", "new-token"])
        let dir = try Scratch()
        let tokenFile = try dir.write("token", "old-token\n")
        let kube = KubernetesClient(configuration: KubernetesClientConfiguration(server: peer.server, credentials: .bearerTokenFile(tokenFile)))
        let error = await #expect(throws: KubernetesError.self) { _ = try await kube.list(ModelDeployment.self, namespace: "default") }
        #expect(error?.status?.code == 401)
        #expect(!"\(String(describing: error))".contains("old-token"))
        try "new-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        #expect(try await kube.list(ModelDeployment.self, namespace: "default").items.isEmpty)
    }
}

@Suite(.timeLimit(.minutes(3))) struct ExecPluginWireTests {
    /// A kubeconfig whose user runs `plugin.sh` (relative: resolved against the kubeconfig's
    /// directory, as kubectl does). The plugin counts its runs, echoes the apiVersion it was asked
    /// for in KUBERNETES_EXEC_INFO, and prints the token in `token` with an expiry `expires`
    /// seconds ahead (none when the file is empty).
    static func kubeconfig(_ dir: Scratch, server: String, apiVersion: String) throws -> String {
        let plugin = try dir.write(
            "plugin.sh",
            #"""
            #!/bin/sh
            echo run >> "$(dirname "$0")/runs"
            [ -n "$FAIL" ] && [ -e "$(dirname "$0")/fail" ] && { echo "login expired: run 'cloud login' (with $API_SECRET; sent Authorization: Bearer b3arer.t0ken; got id_token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl, key AKIAABCDEFGHIJKLMNOP)" >&2; exit 3; }
            version=$(echo "$KUBERNETES_EXEC_INFO" | sed 's/.*"apiVersion":"\([^"]*\)".*/\1/')
            token=$(cat "$(dirname "$0")/token")
            expires=$(cat "$(dirname "$0")/expires")
            if [ -n "$expires" ]; then
              at=$(date -u -d "+$expires seconds" +%Y-%m-%dT%H:%M:%SZ)
              printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$version" "$token" "$at"
            else
              printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s"}}' "$version" "$token"
            fi
            """#)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: plugin)
        _ = try dir.write("expires", "")
        let mode = apiVersion.hasSuffix("/v1") ? ", interactiveMode: IfAvailable" : ""
        return try dir.write(
            "config",
            """
            current-context: test
            clusters: [{name: c, cluster: {server: "\(server)"}}]
            users: [{name: u, user: {exec: {apiVersion: \(apiVersion), command: ./plugin.sh, env: [{name: FAIL, value: "1"}, {name: API_SECRET, value: "env-s3cret"}]\(mode)}}}]
            contexts: [{name: test, context: {cluster: c, user: u, namespace: default}}]
            """)
    }

    static func runs(_ dir: Scratch) -> Int {
        ((try? String(contentsOfFile: dir.path + "/runs", encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test(arguments: ExecPlugin.apiVersions)
    func runsThePluginCachesItsTokenAndRunsItAgainOnExpiryOr401(apiVersion: String) async throws {
        let peer = try await KubePeer.start(["--token", "exec-token-2"])
        let dir = try Scratch()
        let config = try Self.kubeconfig(dir, server: peer.server, apiVersion: apiVersion)
        _ = try dir.write("token", "exec-token-1")
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: config, environment: [:]))

        // A refused token: the plugin runs again once (it may have a fresh one), then the 401 stands.
        let error = await #expect(throws: KubernetesError.self) { _ = try await kube.list(ModelDeployment.self, namespace: "default") }
        #expect(error?.status?.code == 401 && !"\(String(describing: error))".contains("exec-token"))
        #expect(Self.runs(dir) == 2)

        // The plugin now hands out the right token; without an expiry it is kept until a 401.
        _ = try dir.write("token", "exec-token-2")
        #expect(try await kube.list(ModelDeployment.self, namespace: "default").items.isEmpty)
        _ = try await kube.list(ModelDeployment.self, namespace: "default")
        #expect(Self.runs(dir) == 3, "cached")
        #expect(try await peer.requests().last?.auth == "Bearer")

        // With an expiry: kept until shortly before it, then the plugin runs again.
        _ = try dir.write("expires", "3600")
        let expiring = KubernetesClient(configuration: try .kubeconfig(explicitPath: config, environment: [:]))
        _ = try await expiring.list(ModelDeployment.self, namespace: "default")
        _ = try await expiring.list(ModelDeployment.self, namespace: "default")
        #expect(Self.runs(dir) == 4)
        _ = try dir.write("expires", "5")  // within the 10 s renewal margin: every request runs it
        let expired = KubernetesClient(configuration: try .kubeconfig(explicitPath: config, environment: [:]))
        _ = try await expired.list(ModelDeployment.self, namespace: "default")
        _ = try await expired.list(ModelDeployment.self, namespace: "default")
        #expect(Self.runs(dir) == 6)
    }

    @Test func aFailingPluginSaysWhatItSaid() async throws {
        let peer = try await KubePeer.start(["--token", "t"])
        let dir = try Scratch()
        let config = try Self.kubeconfig(dir, server: peer.server, apiVersion: "client.authentication.k8s.io/v1")
        _ = try dir.write("token", "t")
        _ = try dir.write("fail", "")
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: config, environment: [:]))
        let error = await #expect(throws: KubernetesError.self) { _ = try await kube.list(ModelDeployment.self, namespace: "default") }
        let said = "\(String(describing: error))"
        #expect(said.contains("failed (exit 3): login expired: run 'cloud login' (with ***; sent Authorization: Bearer ***"), "\(said)")
        // Nothing that is, or looks like, a credential: the secret the kubeconfig gave the plugin,
        // a bearer token, a JWT, an AWS access key id.
        for secret in ["env-s3cret", "b3arer", "eyJ", "AKIA"] { #expect(!said.contains(secret), "\(said)") }
        #expect(try await peer.requests().isEmpty, "nothing sent without a credential")
    }
}

@Suite(.timeLimit(.minutes(3))) struct OtherResourceWireTests {
    @Test func leasesAndEventsUseTheirGroups() async throws {
        let peer = try await KubePeer.start()
        let kube = client(peer)
        let lease = Lease(
            metadata: ObjectMeta(name: "modelplane-controller", namespace: "modelplane-system"),
            spec: .init(
                holderIdentity: "pod-a", leaseDurationSeconds: 15, acquireTime: "2026-11-27T10:00:00.000000Z", renewTime: "2026-11-27T10:00:00.000000Z",
                leaseTransitions: 0))
        #expect(try await kube.create(lease).spec?.holderIdentity == "pod-a")
        #expect(try await kube.get(Lease.self, name: "modelplane-controller", namespace: "modelplane-system").spec?.leaseDurationSeconds == 15)
        let event = Event(
            metadata: ObjectMeta(name: "fraud-detector.1", namespace: "default"), eventTime: "2026-11-27T10:00:00.000000Z",
            reportingController: "modelplane.dev/controller", reportingInstance: "pod-a", action: "Load", reason: "Loaded",
            regarding: ObjectReference(apiVersion: ModelDeployment.apiVersion, kind: ModelDeployment.kind, namespace: "default", name: "fraud-detector"),
            note: "version 3 is serving", type: .normal)
        let created = try await kube.create(event)
        #expect(created.reason == "Loaded")
        #expect(created.regarding.name == "fraud-detector")
        let events = try await kube.list(Event.self, namespace: "default", options: ListOptions(fieldSelector: "regarding.name=fraud-detector"))
        #expect(events.items.map(\.note) == ["version 3 is serving"])
        let paths = try await peer.requests().map { "\($0.method) \($0.path)" }
        #expect(
            paths == [
                "POST /apis/coordination.k8s.io/v1/namespaces/modelplane-system/leases",
                "GET /apis/coordination.k8s.io/v1/namespaces/modelplane-system/leases/modelplane-controller",
                "POST /apis/events.k8s.io/v1/namespaces/default/events",
                "GET /apis/events.k8s.io/v1/namespaces/default/events",
            ])
    }
}
