import Foundation
import Manifests
import Metrics
import ModelplaneAPI
public import ResourceStore

/// The Kubernetes-compatible API over a `ResourceStore`: discovery, and get, list, watch, create,
/// update, patch and delete, with the status subresource, selectors, bearer-token authentication,
/// and errors as `Status` objects. Independent of the HTTP server: `HTTPAPIServer` carries
/// requests to `handle(_:)`, and tests can call it directly.
public final class KubernetesAPI: Sendable {
    public let store: ResourceStore
    let resources: [ServedResource]
    let tokens: Set<String>?
    /// How often watchers that asked for bookmarks get one.
    let bookmarkInterval: Duration
    /// Prometheus text for `/metrics`; nil answers 404 there.
    let metrics: (@Sendable () -> [UInt8])?
    /// Largest request body accepted.
    public static let maxRequestBytes = 3 * 1024 * 1024
    /// The answer to a body over `maxRequestBytes`, whichever way it came.
    static var tooLarge: APIResponse {
        status(StoreError(code: 413, reason: "RequestEntityTooLarge", message: "the request body is larger than \(maxRequestBytes) bytes"))
    }

    /// `tokens`: accepted bearer tokens; nil turns authentication off (tests only).
    /// `metrics`: what `/metrics` answers (Prometheus text); nil answers 404 there.
    public init(
        store: ResourceStore, resources: [ServedResource] = ServedResource.all, tokens: Set<String>?, bookmarkInterval: Duration = .seconds(60),
        metrics: (@Sendable () -> [UInt8])? = nil
    ) {
        self.store = store
        self.resources = resources
        self.tokens = tokens
        self.bookmarkInterval = bookmarkInterval
        self.metrics = metrics
    }

    /// Answers a request, after a write's commit.
    public func handle(_ request: APIRequest) -> APIResponse {
        respond(request).waitingForCommit()
    }

    /// Answers a request; a write's answer carries its `commit`, which the caller settles
    /// before sending it (writes from many callers then share a transaction).
    public func respond(_ request: APIRequest) -> APIResponse {
        // Probes, as kube-apiserver answers them: to anyone, without a token.
        if request.method == "GET", ["/healthz", "/livez", "/readyz"].contains(request.path) {
            return APIResponse(status: 200, contentType: "text/plain; charset=utf-8", body: .data(Data("ok".utf8)))
        }
        if let tokens {
            let presented = request.header("authorization").flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
            guard let presented, tokens.contains(where: { Self.constantTimeEquals($0, presented) }) else {
                // Counted under fixed labels: an unauthenticated client names no series.
                APIMetrics.unauthorized()
                return Self.status(StoreError(code: 401, reason: "Unauthorized", message: "Unauthorized"))
            }
        }
        let started = ContinuousClock.now
        let response = answer(request)
        APIMetrics.record(request, response, since: started, resources: resources)
        return response
    }

    private func answer(_ request: APIRequest) -> APIResponse {
        if request.body.count > Self.maxRequestBytes {
            return Self.tooLarge
        }
        if request.path == "/metrics", request.method == "GET", let metrics {
            return APIResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: .data(Data(metrics())))
        }
        if request.path == "/openapi/v3" || request.path == "/openapi/v3/" { return .json(200, OpenAPI.index(resources)) }
        if request.path.hasPrefix("/openapi/v3/") {
            let parts = request.path.dropFirst("/openapi/v3/".count).split(separator: "/")
            let (group, version) =
                parts.first == "api" && parts.count == 2 ? ("", String(parts[1])) : parts.count == 3 ? (String(parts[1]), String(parts[2])) : ("?", "?")
            guard let document = OpenAPI.document(group: group, version: version, resources) else { return Self.notFound(request.path) }
            return .json(200, document)
        }
        switch RequestTarget(path: request.path) {
        case .version: return .json(200, Discovery.version)
        case .apiVersions: return .json(200, Discovery.apiVersions)
        case .apiGroups: return .json(200, Discovery.groupList(resources))
        case .group(let group):
            guard let document = Discovery.group(group, resources) else { return Self.notFound(request.path) }
            return .json(200, document)
        case .groupVersion(let group, let version):
            guard let document = Discovery.resourceList(group: group, version: version, resources) else { return Self.notFound(request.path) }
            return .json(200, document)
        case .resource(let path):
            if path.group.isEmpty, path.plural == "namespaces" { return namespaces(request, path) }
            guard let served = resources.first(where: { $0.type.group == path.group && $0.type.version == path.version && $0.type.plural == path.plural })
            else {
                return Self.notFound(request.path)
            }
            do {
                return try resource(request, path, served)
            } catch {
                return Self.status(error)
            }
        case .unknown:
            return Self.notFound(request.path)
        }
    }

    // MARK: - Resources

    private func resource(_ request: APIRequest, _ path: RequestTarget.ResourcePath, _ served: ServedResource) throws(StoreError) -> APIResponse {
        if let view = served.view {
            guard request.method == "GET" else {
                return Self.methodNotAllowed(
                    "\(served.type.plural) in \(served.type.apiVersion) are read-only here; write \(view.storage)", allow: "GET")
            }
        }
        let type = served.storage
        let namespace = type.namespaced ? path.namespace : nil
        // A namespace's name is a DNS label; one that is not cannot exist (as a namespace read says).
        if let namespace, !NamePattern.isLabel(namespace) {
            throw StoreError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found")
        }
        let subresource: ResourceStore.Subresource
        switch path.subresource {
        case nil: subresource = .main
        case "status" where type.statusSubresource: subresource = .status
        default: return Self.notFound(request.path)
        }
        switch (request.method, path.name) {
        case ("GET", nil):
            // Every list parameter is checked, whichever of them the answer uses.
            _ = (try Self.integer(request, "limit"), try Self.integer(request, "timeoutSeconds"), Self.boolean(request, "allowWatchBookmarks"))
            if Self.boolean(request, "watch") == true { return try watch(request, served, namespace: namespace) }
            return try list(request, served, namespace: namespace)
        case ("GET", let name?):
            let object = served.present(try store.get(type, namespace: namespace, name: name))
            if Table.wanted(request) {
                return .json(
                    200,
                    Table.table(
                        rows: [Table.row(object, served.columns, now: Date())], columns: served.columns, resourceVersion: store.resourceVersion,
                        continueToken: nil
                    ).canonicalText)
            }
            return APIResponse(status: 200, body: .data(Data(object.canonicalText.utf8)), json: object)
        case ("POST", nil):
            guard path.namespace != nil || !type.namespaced else {
                return Self.methodNotAllowed("create needs a namespace in the path", allow: "GET")
            }
            let dryRun = try Self.dryRun(request, options: "CreateOptions")
            var object = served.defaulted(try Self.body(request))
            if type.namespaced, object["metadata"]?["namespace"] == nil { object["metadata"]?["namespace"] = .string(namespace ?? "default") }
            // A generated name is checked like a given one, so it is made before the checks.
            if object["metadata"]?["name"]?.stringValue?.isEmpty ?? true, let prefix = object["metadata"]?["generateName"]?.stringValue, !prefix.isEmpty {
                object["metadata"]?["name"] = .string(ResourceStore.generatedName(prefix))
            }
            try check(served, object, name: object["metadata"]?["name"]?.stringValue ?? "")
            return .json(201, try store.createDeferred(type, namespace: namespace, object, dryRun: dryRun))
        case ("PUT", let name?):
            let dryRun = try Self.dryRun(request, options: "UpdateOptions")
            let body = try Self.body(request)
            let object = subresource == .main ? served.defaulted(body) : body
            try checkWrite(served, object, subresource: subresource, namespace: namespace, name: name)
            return .json(200, try store.updateDeferred(type, namespace: namespace, name: name, object, subresource: subresource, dryRun: dryRun))
        case ("PATCH", let name?):
            let dryRun = try Self.dryRun(request, options: "PatchOptions")
            return .json(200, try patch(request, served, namespace: namespace, name: name, subresource: subresource, dryRun: dryRun))
        case ("DELETE", let name?) where subresource == .main:
            // DeleteOptions come in the body (kubectl) or the query (other clients).
            // A caller in this process hands them over already parsed (`request.json`).
            var options = request.json
            if options == nil && !request.body.isEmpty {
                do {
                    options = try JSONValue(parsing: request.body)
                } catch {
                    throw .badRequest("the request body is not valid DeleteOptions JSON: \(error)")
                }
            }
            if let options {
                var problems: [FieldError] = []
                Self.deleteOptions.check(options, into: &problems)
                if !problems.isEmpty {
                    throw StoreError(
                        code: 422, reason: "Invalid",
                        message: "DeleteOptions.meta.k8s.io \"\" is invalid: " + problems.map(\.description).joined(separator: ", "), causes: problems)
                }
            }
            let dryRun = try Self.dryRun(request, options: "DeleteOptions", inBody: options?["dryRun"])
            var preconditions = ResourceStore.Preconditions()
            preconditions.uid = options?["preconditions"]?["uid"]?.stringValue
            preconditions.resourceVersion = options?["preconditions"]?["resourceVersion"]?.stringValue
            let deleted = try store.deleteDeferred(type, namespace: namespace, name: name, preconditions: preconditions, dryRun: dryRun)
            var response: APIResponse
            switch deleted.value {
            case .deleted(let last): response = .json(200, last.canonicalText)
            // Held by finalizers: 200 with the marked object, as kube-apiserver answers (202 only
            // when the client asked for orphanDependents: false, its one case for it).
            case .pending(let marked): response = .json(options?["orphanDependents"] == .bool(false) ? 202 : 200, marked.canonicalText)
            }
            response.commit = deleted.ticket
            return response
        default:
            let allow =
                path.name == nil
                ? (path.namespace == nil && type.namespaced ? "GET" : "GET, POST") : subresource == .status ? "GET, PUT, PATCH" : "GET, PUT, PATCH, DELETE"
            return Self.methodNotAllowed("\(request.method) is not supported on \(request.path)", allow: allow)
        }
    }

    private func list(_ request: APIRequest, _ served: ServedResource, namespace: String?) throws(StoreError) -> APIResponse {
        let type = served.type
        let filter = try Self.filter(request, served, namespace: namespace)
        let limit = try Self.integer(request, "limit")
        let page = try store.list(served.storage, filter: filter, limit: limit, continueToken: request.query["continue"])
        if Table.wanted(request) {
            let now = Date()
            let rows = page.items.map { Table.row(served.present($0.object), served.columns, now: now) }
            return .json(
                200, Table.table(rows: rows, columns: served.columns, resourceVersion: page.resourceVersion, continueToken: page.continueToken).canonicalText)
        }
        // In process the caller takes the value: no text (tens of MiB for a big list) is written.
        if request.inProcess {
            var metadata: JSONValue = ["resourceVersion": .string(page.resourceVersion)]
            if let token = page.continueToken { metadata["continue"] = .string(token) }
            if let remaining = page.remainingItemCount { metadata["remainingItemCount"] = .int(Int64(remaining)) }
            let list: JSONValue = [
                "apiVersion": .string(type.apiVersion), "kind": .string(type.kind + "List"), "metadata": metadata,
                "items": .array(page.items.map { served.present($0.object) }),
            ]
            return APIResponse(status: 200, body: .data(Data()), json: list)
        }
        var text = #"{"apiVersion":"\#(type.apiVersion)","kind":"\#(type.kind)List","metadata":{"resourceVersion":"\#(page.resourceVersion)""#
        if let token = page.continueToken { text += #","continue":"\#(token)""# }
        if let remaining = page.remainingItemCount { text += #","remainingItemCount":\#(remaining)"# }
        text += #"},"items":["#
        text += page.items.map { item in served.view == nil ? item.json : served.present(item.object).canonicalText }.joined(separator: ",")
        text += "]}"
        return .json(200, text)
    }

    private func watch(_ request: APIRequest, _ served: ServedResource, namespace: String?) throws(StoreError) -> APIResponse {
        let type = served.type
        let columns = served.columns
        let asTable = Table.wanted(request)
        let filter = try Self.filter(request, served, namespace: namespace)
        let events = try store.watch(served.storage, filter: filter, from: request.query["resourceVersion"])
        let bookmarks = Self.boolean(request, "allowWatchBookmarks") ?? false
        let timeout = try Self.integer(request, "timeoutSeconds").map { Duration.seconds(max(1, $0)) } ?? .seconds(1800)
        if request.inProcess, !asTable {
            // A caller in this process takes the events as values: nothing to write or parse.
            let (output, continuation) = AsyncStream.makeStream(of: JSONValue.self)
            let pump = Self.pump(events, resource: type.plural, timeout: timeout, finish: continuation.finish) { event in
                if event.type == .bookmark {
                    guard bookmarks else { return }
                    continuation.yield(
                        [
                            "type": "BOOKMARK",
                            "object": [
                                "kind": .string(type.kind), "apiVersion": .string(type.apiVersion),
                                "metadata": ["resourceVersion": .string(String(event.resourceVersion))],
                            ],
                        ])
                } else {
                    continuation.yield(["type": .string(event.type.rawValue), "object": served.present(event.object)])
                }
            }
            continuation.onTermination = { _ in pump.cancel() }
            return APIResponse(status: 200, body: .events(output))
        }
        let (output, continuation) = AsyncStream.makeStream(of: Data.self)
        let pump = Self.pump(events, resource: type.plural, timeout: timeout, finish: continuation.finish) { event in
            let line: String
            if event.type == .bookmark {
                guard bookmarks else { return }
                line =
                    #"{"type":"BOOKMARK","object":{"kind":"\#(type.kind)","apiVersion":"\#(type.apiVersion)","metadata":{"resourceVersion":"\#(event.resourceVersion)"}}}"#
            } else if asTable {
                let table = Table.table(
                    rows: [Table.row(served.present(event.object), columns, now: Date())], columns: columns,
                    resourceVersion: String(event.resourceVersion),
                    continueToken: nil)
                line = #"{"type":"\#(event.type.rawValue)","object":\#(table.canonicalText)}"#
            } else {
                let object = served.view == nil ? event.json ?? event.object.canonicalText : served.present(event.object).canonicalText
                line = #"{"type":"\#(event.type.rawValue)","object":\#(object)}"#
            }
            continuation.yield(Data(line.utf8 + [0x0A]))
        }
        continuation.onTermination = { _ in pump.cancel() }
        return APIResponse(status: 200, body: .stream(output))
    }

    /// Hands each of a store watch's events to `send` until the watch's timeout, which ends it
    /// cleanly, then calls `finish`.
    private static func pump(
        _ events: AsyncStream<StoredEvent>, resource: String, timeout: Duration, finish: @escaping @Sendable () -> Void,
        send: @escaping @Sendable (StoredEvent) -> Void
    ) -> Task<Void, Never> {
        let watchers = Meter(label: "apiserver_registered_watchers", dimensions: [("resource", resource)])
        watchers.increment()
        return Task {
            defer { watchers.decrement() }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in events { send(event) }
                }
                group.addTask { try? await Task.sleep(for: timeout) }
                _ = await group.next()  // the timeout ends the watch cleanly
                group.cancelAll()
            }
            finish()
        }
    }

    /// Sends watchers bookmarks every `bookmarkInterval` until cancelled. The server runs it.
    public func runBookmarks() async {
        while (try? await Task.sleep(for: bookmarkInterval)) != nil {
            store.emitBookmarks()
        }
    }

    private func patch(
        _ request: APIRequest, _ served: ServedResource, namespace: String?, name: String, subresource: ResourceStore.Subresource, dryRun: Bool
    ) throws(StoreError) -> Deferred<StoredObject> {
        let contentType = (request.header("content-type") ?? "").split(separator: ";").first.map(String.init) ?? ""
        let body = try Self.body(request, allowArray: contentType == "application/json-patch+json", patch: true)
        for _ in 0..<5 {
            let current = try store.get(served.type, namespace: namespace, name: name, uncommitted: true)
            var patched: JSONValue
            switch contentType {
            case "application/merge-patch+json":
                patched = applyMergePatch(body, to: current)
            case "application/json-patch+json":
                guard case .array(let operations) = body else { throw .badRequest("a JSON patch is an array of operations") }
                do {
                    patched = try applyJSONPatch(operations, to: current)
                } catch {
                    throw StoreError(code: 422, reason: "Invalid", message: error.description)
                }
            case "application/strategic-merge-patch+json":
                throw StoreError(
                    code: 415, reason: "UnsupportedMediaType",
                    message: "strategic merge patch is not supported for custom resources; use application/merge-patch+json")
            default:
                throw StoreError(code: 415, reason: "UnsupportedMediaType", message: "the patch content type \"\(contentType)\" is not supported")
            }
            if subresource == .main { patched = served.defaulted(patched) }
            // A patch is conditional only if it names a resourceVersion itself.
            let conditional = patched["metadata"]?["resourceVersion"] != current["metadata"]?["resourceVersion"]
            if !conditional { patched["metadata"]?["resourceVersion"] = current["metadata"]?["resourceVersion"] }
            try checkWrite(served, patched, subresource: subresource, namespace: namespace, name: name)
            do {
                return try store.updateDeferred(served.type, namespace: namespace, name: name, patched, subresource: subresource, dryRun: dryRun)
            } catch  where error.code == 409 && !conditional {
                continue  // someone wrote in between: re-apply the patch to the newer object
            }
        }
        throw StoreError(code: 409, reason: "Conflict", message: "the object kept changing while the patch was applied; try again")
    }

    /// The object a status write would produce, for validation.
    private func merged(_ type: ResourceType, _ namespace: String?, _ name: String, status object: JSONValue) throws(StoreError) -> JSONValue {
        var current = try store.get(type, namespace: namespace, name: name, uncommitted: true)
        current["status"] = object["status"]
        return current
    }

    private func check(_ served: ServedResource, _ object: JSONValue, name: String) throws(StoreError) {
        try check(served.validate, object, served, name: name)
    }

    /// Checks what an update will store. Through /status only the status changes: checked alone
    /// where the resource can, else as part of the stored object. Through the main resource,
    /// against the object it replaces where the resource can (a missing one is the update's 404).
    private func checkWrite(_ served: ServedResource, _ object: JSONValue, subresource: ResourceStore.Subresource, namespace: String?, name: String)
        throws(StoreError)
    {
        guard subresource == .status else {
            if let validateUpdate = served.validateUpdate, let stored = try? store.get(served.type, namespace: namespace, name: name, uncommitted: true) {
                // The stored object as it reads with its defaults (stored before they were
                // filled at admission, it would otherwise differ from every update of it).
                let stored = served.defaulted(stored)
                return try check({ validateUpdate($0, stored) }, object, served, name: name)
            }
            return try check(served, object, name: name)
        }
        if let validateStatus = served.validateStatus { return try check(validateStatus, object, served, name: name) }
        try check(served, merged(served.type, namespace, name, status: object), name: name)
    }

    private func check(_ validate: (JSONValue) -> [FieldError], _ object: JSONValue, _ served: ServedResource, name: String) throws(StoreError) {
        let problems = validate(object)
        guard problems.isEmpty else {
            throw StoreError(
                code: 422, reason: "Invalid",
                message: "\(served.type.kind).\(served.type.group) \"\(name)\" is invalid: " + problems.map(\.description).joined(separator: ", "),
                causes: problems)
        }
    }

    private func namespaces(_ request: APIRequest, _ path: RequestTarget.ResourcePath) -> APIResponse {
        // Namespaces always exist here; kubectl only reads them.
        func namespace(_ name: String) -> String {
            #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"\#(name)"},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}"#
        }
        guard request.method == "GET" else { return Self.methodNotAllowed("namespaces are read-only here", allow: "GET") }
        if let name = path.name {
            // Every namespace a name could be exists; what cannot be a namespace's name does not.
            guard path.subresource == nil, NamePattern.isLabel(name) else { return Self.notFound(request.path) }
            return .json(200, namespace(name))
        }
        return .json(
            200, #"{"apiVersion":"v1","kind":"NamespaceList","metadata":{"resourceVersion":"\#(store.resourceVersion)"},"items":[\#(namespace("default"))]}"#)
    }

    /// meta/v1 DeleteOptions as this server reads them: only `preconditions` and `dryRun` change
    /// what a delete does (there are no dependents to propagate to, and no grace periods).
    static let deleteOptions = Schema.object(
        ObjectSchema(
            "Options for a delete; only preconditions and dryRun change what it does here.",
            properties: [
                .optional("apiVersion", .string(.init("The versioned schema of this object."))),
                .optional("kind", .string(.init("DeleteOptions.", enum: ["DeleteOptions"]))),
                .optional(
                    "preconditions",
                    .object(
                        ObjectSchema(
                            "The delete happens only if the object still has this uid and resourceVersion.",
                            properties: [.optional("uid", .string(.init("The uid."))), .optional("resourceVersion", .string(.init("The resourceVersion.")))]
                        ))),
                .optional(
                    "dryRun",
                    .array(items: .string(.init("All, the only mode.")), description: "[All]: check the delete, delete nothing.", maxItems: nil)),
                .optional("propagationPolicy", .string(.init("Accepted; there are no dependents.", enum: ["Orphan", "Background", "Foreground"]))),
                .optional("gracePeriodSeconds", .integer(.init("Accepted; deletes are immediate."))),
                .optional("orphanDependents", .boolean(description: "Deprecated; accepted.")),
            ]))

    // MARK: - Plumbing

    /// The body of a write: JSON, or (create and update, as kube-apiserver takes them) YAML, read
    /// as manifests are (bounded: what aliases repeat, depth). Another content type is a 415
    /// naming the ones taken; none at all is read as JSON.
    private static func body(_ request: APIRequest, allowArray: Bool = false, patch: Bool = false) throws(StoreError) -> JSONValue {
        let value: JSONValue
        if let parsed = request.json {
            value = parsed
        } else {
            let contentType =
                (request.header("content-type") ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            switch contentType {
            case "application/yaml" where !patch:
                do {
                    value = try YAMLBody.value([UInt8](request.body))
                } catch {
                    throw .badRequest("the request body is not valid YAML: \(error)")
                }
            case "", "application/json", "*/*",
                _ where patch:
                do {
                    value = try JSONValue(parsing: request.body)
                } catch {
                    throw .badRequest("the request body is not valid JSON: \(error)")
                }
            default:
                throw StoreError(
                    code: 415, reason: "UnsupportedMediaType",
                    message: "the content type \"\(contentType)\" is not supported: send application/json or application/yaml")
            }
        }
        switch value {
        case .object: return value
        case .array where allowArray: return value
        default: throw .badRequest("the request body must be a JSON object")
        }
    }

    /// A query parameter that must be a non-negative integer, as kube-apiserver decodes it
    /// (anything else is a 400).
    static func integer(_ request: APIRequest, _ name: String) throws(StoreError) -> Int? {
        guard let text = request.query[name] else { return nil }
        guard let value = Int(text), value >= 0 else { throw .badRequest("\(name): \"\(text)\" is not a non-negative integer") }
        return value
    }

    /// A boolean query parameter, read as kube-apiserver reads one (so every client's spelling
    /// works: `true`, `1`, `True`, ...): `false` in any case, or `0`, is false; anything else,
    /// empty included, is true.
    static func boolean(_ request: APIRequest, _ name: String) -> Bool? {
        guard let text = request.query[name] else { return nil }
        return !(text == "0" || text.lowercased() == "false")
    }

    /// Whether a write is a dry run: `dryRun=All` in the query, or (`inBody`) DeleteOptions'
    /// `dryRun: ["All"]`; either one makes it so. Any other value is refused as kube-apiserver
    /// refuses it: 422, the options (`options`: CreateOptions, UpdateOptions, ...) invalid,
    /// naming the one supported value. `fieldValidation` is checked the same way on the
    /// writes that take it.
    static func dryRun(_ request: APIRequest, options: String, inBody: JSONValue? = nil) throws(StoreError) -> Bool {
        // (DeleteOptions has no fieldValidation: a delete ignores it, as kube-apiserver's does.)
        if options != "DeleteOptions", let validation = request.query["fieldValidation"], !["", "Ignore", "Warn", "Strict"].contains(validation) {
            let cause = FieldError(
                .notSupported, FieldPath("fieldValidation"), "\(JSONValue.string(validation).canonicalText): supported values: \"Ignore\", \"Strict\", \"Warn\""
            )
            throw StoreError(code: 422, reason: "Invalid", message: "\(options).meta.k8s.io \"\" is invalid: \(cause)", causes: [cause])
        }
        var values: [String] = []
        if let query = request.query["dryRun"] { values.append(query) }
        if let inBody, inBody != .null {
            guard case .array(let items) = inBody, case let strings = items.compactMap(\.stringValue), strings.count == items.count else {
                throw .badRequest("\(options).dryRun must be a list of strings")
            }
            values += strings
        }
        guard !values.isEmpty else { return false }
        guard values.allSatisfy({ $0 == "All" }) else {
            let listed = "[]string{" + values.map { JSONValue.string($0).canonicalText }.joined(separator: ", ") + "}"
            let cause = FieldError(.notSupported, FieldPath("dryRun"), "\(listed): supported values: \"All\"")
            throw StoreError(code: 422, reason: "Invalid", message: "\(options).meta.k8s.io \"\" is invalid: \(cause)", causes: [cause])
        }
        return true
    }

    private static func filter(_ request: APIRequest, _ served: ServedResource, namespace: String?) throws(StoreError) -> ObjectFilter {
        do {
            var fields = try request.query["fieldSelector"].map { (s) throws(SelectorError) in try FieldSelector(parsing: s) }
            if let view = served.view, var selector = fields {
                for index in selector.requirements.indices { selector.requirements[index].field = view.storedField(selector.requirements[index].field) }
                fields = selector
            }
            return ObjectFilter(
                namespace: namespace,
                labels: try request.query["labelSelector"].map { (s) throws(SelectorError) in try LabelSelector(parsing: s) },
                fields: fields)
        } catch {
            throw .badRequest(error.description)
        }
    }

    static func notFound(_ path: String) -> APIResponse {
        status(StoreError(code: 404, reason: "NotFound", message: "the server could not find the requested resource (\(path))"))
    }

    static func methodNotAllowed(_ message: String, allow: String) -> APIResponse {
        var response = status(StoreError(code: 405, reason: "MethodNotAllowed", message: message))
        response.allow = allow
        return response
    }

    static func status(_ error: StoreError) -> APIResponse {
        var status: JSONValue = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
            "message": .string(error.message), "reason": .string(error.reason), "code": .int(Int64(error.code)),
        ]
        if !error.causes.isEmpty {
            status["details"] = [
                "causes": .array(
                    error.causes.map {
                        ["reason": .string($0.kind.rawValue), "message": .string("\($0.kind.phrase): \($0.detail)"), "field": .string($0.path.description)]
                    })
            ]
        }
        return .json(error.code, status.canonicalText)
    }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// The API server's Prometheus metrics, named as kube-apiserver names its own: requests by verb,
/// resource and code, their latency (up to the answer; a write's commit is timed by the store),
/// and open watches (`apiserver_registered_watchers`, kept by the watch itself).
///
/// Labels come from a fixed set (the served resources and their subresources, kube's verbs, else
/// `other`), so no request can make the server keep a series for a name it made up.
enum APIMetrics {
    static func unauthorized() {
        Counter(label: "apiserver_request_total", dimensions: [("verb", "other"), ("resource", "other"), ("code", "401")]).increment()
    }

    static func record(_ request: APIRequest, _ response: APIResponse, since started: ContinuousClock.Instant, resources: [ServedResource]) {
        let (verb, resource) = classify(request, resources: resources)
        Counter(label: "apiserver_request_total", dimensions: [("verb", verb), ("resource", resource), ("code", String(response.status))]).increment()
        // A watch's answer is its stream: only its start is timed.
        Metrics.Timer(label: "apiserver_request_duration_seconds", dimensions: [("verb", verb), ("resource", resource)], preferredDisplayUnit: .seconds)
            .recordInterval(since: started)
    }

    /// kube-apiserver's verbs (list and watch apart from get) and the resource (with its
    /// subresource); paths that are not resources are counted under their first segment.
    static func classify(_ request: APIRequest, resources: [ServedResource]) -> (verb: String, resource: String) {
        let method = ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(request.method) ? request.method.lowercased() : "other"
        guard case .resource(let path) = RequestTarget(path: request.path) else {
            let first = request.path.split(separator: "/").first.map(String.init) ?? ""
            return (method, ["api", "apis", "openapi", "version", "metrics"].contains(first) ? first : "other")
        }
        let served = resources.contains { $0.type.plural == path.plural } || path.plural == "namespaces"
        let resource: String
        switch (served, path.subresource) {
        case (false, _): resource = "other"
        case (true, nil): resource = path.plural
        case (true, "status"): resource = path.plural + "/status"
        case (true, _): resource = path.plural + "/other"
        }
        let verb: String
        switch (request.method, path.name) {
        case ("GET", nil): verb = KubernetesAPI.boolean(request, "watch") == true ? "watch" : "list"
        case ("GET", _): verb = "get"
        case ("POST", _): verb = "create"
        case ("PUT", _): verb = "update"
        case ("PATCH", _): verb = "patch"
        case ("DELETE", _): verb = "delete"
        default: verb = "other"
        }
        return (verb, resource)
    }
}

extension Metrics.Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
