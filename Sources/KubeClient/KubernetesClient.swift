import Foundation
public import HTTPClient
public import ModelplaneAPI

/// A typed client for the Kubernetes REST API (a real cluster's, or Modelplane's embedded one).
///
/// Every verb is generic over `KubernetesObject`. Failures are `KubernetesError`: `.api` carries
/// the server's `Status` (branch on `code`/`reason`, or the `isNotFound`/`isConflict`/... helpers).
/// Bearer tokens from files are re-read every minute and after a 401, and that request is retried once.
public struct KubernetesClient: Sendable {
    public let configuration: KubernetesClientConfiguration
    private let http: any HTTPTransport
    /// `http` when it carries parsed JSON beside the bytes (in process).
    private let values: (any JSONValueTransport)?
    private let tokens: TokenSource

    public init(configuration: KubernetesClientConfiguration) {
        var httpConfiguration = HTTPClientConfiguration(tls: configuration.tls)
        httpConfiguration.userAgent = configuration.userAgent
        httpConfiguration.defaultTimeout = configuration.requestTimeout
        self.init(configuration: configuration, transport: HTTPClient(configuration: httpConfiguration))
    }

    /// Requests go through `transport` instead of the network (`configuration.server` still
    /// forms the URLs; credentials still go in the headers).
    public init(configuration: KubernetesClientConfiguration, transport: any HTTPTransport) {
        self.configuration = configuration
        http = transport
        values = transport as? any JSONValueTransport
        tokens = TokenSource(configuration.credentials)
    }

    // MARK: - Verbs

    public func get<Object: KubernetesObject>(_ type: Object.Type, name: String, namespace: String? = nil) async throws(KubernetesError) -> Object {
        try await send("GET", path(type, namespace: namespace, name: name), decoding: type)
    }

    /// One page; `namespace: nil` lists a namespaced type across all namespaces.
    public func list<Object: KubernetesObject>(_ type: Object.Type, namespace: String?, options: ListOptions = ListOptions()) async throws(KubernetesError)
        -> ObjectList<Object>
    {
        var query: [(String, String)] = []
        if let v = options.labelSelector { query.append(("labelSelector", v)) }
        if let v = options.fieldSelector { query.append(("fieldSelector", v)) }
        if let v = options.limit { query.append(("limit", String(v))) }
        if let v = options.continueToken { query.append(("continue", v)) }
        if let v = options.resourceVersion { query.append(("resourceVersion", v)) }
        let list = try await send("GET", path(type, namespace: namespace, allNamespaces: namespace == nil), query: query, decoding: ListBody<Object>.self)
        return ObjectList(
            items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? "",
            continueToken: list.metadata?.continue.flatMap { $0.isEmpty ? nil : $0 }, remainingItemCount: list.metadata?.remainingItemCount)
    }

    /// Every page of a list, as one (the resourceVersion is the first page's, as paging keeps it).
    public func listAll<Object: KubernetesObject>(_ type: Object.Type, namespace: String?, options: ListOptions = ListOptions(), pageSize: Int = 500)
        async throws(KubernetesError) -> ObjectList<Object>
    {
        var options = options
        options.limit = pageSize
        var page = try await list(type, namespace: namespace, options: options)
        var all = page
        while let token = page.continueToken {
            options.continueToken = token
            options.resourceVersion = nil
            page = try await list(type, namespace: namespace, options: options)
            all.items += page.items
        }
        all.continueToken = nil
        return all
    }

    /// `dryRun` (here and on every write): the server checks and answers the write as if it had
    /// made it (`dryRun=All`), and stores nothing.
    public func create<Object: KubernetesObject>(_ object: Object, namespace: String? = nil, dryRun: Bool = false) async throws(KubernetesError) -> Object {
        let ns = namespace ?? object.metadata.namespace
        return try await send(
            "POST", path(Object.self, namespace: ns), query: Self.dryRunQuery(dryRun), body: encode(object), contentType: "application/json",
            decoding: Object.self)
    }

    /// POST for a caller that needs only to know it succeeded (an event recorder, which names
    /// its events itself): the answer is not decoded.
    public func createWithoutAnswer<Object: KubernetesObject>(_ object: Object, namespace: String? = nil) async throws(KubernetesError) {
        _ = try await sendRaw(
            "POST", path(Object.self, namespace: namespace ?? object.metadata.namespace), body: encode(object), contentType: "application/json")
    }

    /// PUT: replaces the object. Carries `metadata.resourceVersion`; a stale one is a 409 Conflict.
    public func update<Object: KubernetesObject>(_ object: Object, dryRun: Bool = false) async throws(KubernetesError) -> Object {
        try await send(
            "PUT", path(Object.self, namespace: object.metadata.namespace, name: try name(of: object)), query: Self.dryRunQuery(dryRun),
            body: encode(object), contentType: "application/json", decoding: Object.self)
    }

    /// PUT to the status subresource: only `.status` changes.
    public func updateStatus<Object: KubernetesObject>(_ object: Object, dryRun: Bool = false) async throws(KubernetesError) -> Object {
        try await send(
            "PUT", path(Object.self, namespace: object.metadata.namespace, name: try name(of: object), subresource: "status"),
            query: Self.dryRunQuery(dryRun), body: encode(object), contentType: "application/json", decoding: Object.self)
    }

    public func patch<Object: KubernetesObject>(
        _ type: Object.Type, name: String, namespace: String? = nil, _ patch: Patch, subresource: String? = nil, dryRun: Bool = false
    ) async throws(KubernetesError) -> Object {
        let body: Body
        var query = Self.dryRunQuery(dryRun)
        switch patch {
        case .merge(let value): body = try encode(value)
        case .json(let operations): body = try encode(operations)
        case .apply(let value, let fieldManager, let force):
            body = try encode(value)
            query.append(("fieldManager", fieldManager))
            if force { query.append(("force", "true")) }
        }
        return try await send(
            "PATCH", path(type, namespace: namespace, name: name, subresource: subresource), query: query, body: body, contentType: patch.contentType,
            decoding: type)
    }

    /// Deletes; returns what the server answered: the object (with deletionTimestamp set while
    /// finalizers hold it, else its last state), or nil when it answers with a `Status`.
    @discardableResult
    public func delete<Object: KubernetesObject>(
        _ type: Object.Type, name: String, namespace: String? = nil, options: DeleteOptions? = nil, dryRun: Bool = false
    ) async throws(KubernetesError) -> Object? {
        let body = try options.map { (o) throws(KubernetesError) in try encode(o) }
        let answer = try await sendRaw(
            "DELETE", path(type, namespace: namespace, name: name), query: Self.dryRunQuery(dryRun), body: body,
            contentType: body == nil ? nil : "application/json")
        let value = try parse(answer)
        if value["kind"] == "Status" { return nil }
        return try decode(type, from: value, answer.data)
    }

    /// Opens one watch. Prefer `Reflector`, which lists, re-watches and relists as needed.
    /// With `timeoutSeconds`, the client ends the watch itself (as a clean end) if the server has
    /// not done so `watchDeadlineGrace` after that.
    public func watch<Object: KubernetesObject>(_ type: Object.Type, namespace: String?, options: WatchOptions = WatchOptions()) async throws(KubernetesError)
        -> WatchEvents<Object>
    {
        var query: [(String, String)] = [("watch", "true")]
        if let v = options.resourceVersion { query.append(("resourceVersion", v)) }
        if options.allowWatchBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let v = options.timeoutSeconds { query.append(("timeoutSeconds", String(v))) }
        if let v = options.labelSelector { query.append(("labelSelector", v)) }
        if let v = options.fieldSelector { query.append(("fieldSelector", v)) }
        let url = configuration.server + path(type, namespace: namespace, allNamespaces: namespace == nil) + Self.queryString(query)
        var retried = false
        while true {
            let response: HTTPStreamingResponse
            let deadline = options.timeoutSeconds.map { Duration.seconds($0) + configuration.watchDeadlineGrace }
            let request = HTTPRequest(url: url, headers: try await headers(contentType: nil), timeout: deadline)
            if let values {
                let answer: JSONValueWatch
                do {
                    answer = try await values.watch(request)
                } catch {
                    throw .transport(error)
                }
                switch answer {
                case .events(let events): return WatchEvents(values: events)
                case .failed(let failure):
                    if failure.status == 401, tokens.canRefresh, !retried {
                        tokens.invalidate()
                        retried = true
                        continue
                    }
                    throw Self.apiError(status: failure.status, headers: failure.headers, body: failure.body)
                }
            }
            do {
                response = try await http.stream(request)
            } catch {
                throw .transport(error)
            }
            if response.status == 200 { return WatchEvents(body: response.body) }
            var body = Data()
            do {
                for try await chunk in response.body where body.count < 1024 * 1024 { body.append(chunk) }
            } catch {}
            if response.status == 401, tokens.canRefresh, !retried {
                tokens.invalidate()
                retried = true
                continue
            }
            throw Self.apiError(status: response.status, headers: response.headers, body: body)
        }
    }

    /// Stops the underlying HTTP client; calls in flight fail.
    public func shutdown() { http.shutdown() }

    // MARK: - Plumbing

    /// The URL path of a resource collection or object.
    public func path<Object: KubernetesObject>(
        _ type: Object.Type, namespace: String?, name: String? = nil, subresource: String? = nil, allNamespaces: Bool = false
    ) -> String {
        var path = type.group.isEmpty ? "/api/\(type.version)" : "/apis/\(type.group)/\(type.version)"
        if type.isNamespaced, !allNamespaces {
            path += "/namespaces/\(Self.escape(namespace ?? configuration.namespace))"
        }
        path += "/\(type.plural)"
        if let name { path += "/\(Self.escape(name))" }
        if let subresource { path += "/\(subresource)" }
        return path
    }

    private func name<Object: KubernetesObject>(of object: Object) throws(KubernetesError) -> String {
        guard let name = object.metadata.name, !name.isEmpty else {
            throw .configuration("\(Object.kind) has no metadata.name")
        }
        return name
    }

    private func headers(contentType: String?) async throws(KubernetesError) -> HTTPHeaders {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let contentType { headers.set("Content-Type", contentType) }
        if let token = try await tokens.token() { headers.set("Authorization", "Bearer \(token)") }
        return headers
    }

    /// A request body: the value, and its JSON text unless the transport is in this process
    /// (which hands the value over instead of having text written and parsed again).
    struct Body {
        var data: Data?
        var json: JSONValue
    }

    /// A successful answer's body: the bytes, and the value when the transport had it.
    struct Answer {
        var data: Data
        var json: JSONValue?
    }

    private func send<Result: Decodable>(
        _ method: String, _ path: String, query: [(String, String)] = [], body: Body? = nil, contentType: String? = nil, decoding: Result.Type
    ) async throws(KubernetesError) -> Result {
        let answer = try await sendRaw(method, path, query: query, body: body, contentType: contentType)
        return try decode(Result.self, from: parse(answer), answer.data)
    }

    private func sendRaw(_ method: String, _ path: String, query: [(String, String)] = [], body: Body? = nil, contentType: String? = nil)
        async throws(KubernetesError) -> Answer
    {
        let url = configuration.server + path + Self.queryString(query)
        var retried = false
        while true {
            let response: HTTPResponse
            var json: JSONValue?
            let request = HTTPRequest(method: method, url: url, headers: try await headers(contentType: contentType), body: body?.data)
            do {
                if let values {
                    (response, json) = try await values.execute(request, json: body?.json)
                } else {
                    response = try await http.execute(request)
                }
            } catch {
                throw .transport(error)
            }
            if (200..<300).contains(response.status) { return Answer(data: response.body, json: json) }
            if response.status == 401, tokens.canRefresh, !retried {
                tokens.invalidate()
                retried = true
                continue
            }
            throw Self.apiError(status: response.status, headers: response.headers, body: response.body)
        }
    }

    static func apiError(status: Int, headers: HTTPHeaders, body: Data) -> KubernetesError {
        var apiStatus: APIStatus
        if let decoded = try? JSONValueCoding.decode(APIStatus.self, json: body), decoded.kind == "Status" {
            apiStatus = decoded
        } else {
            let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            apiStatus = APIStatus(code: status, reason: StatusReason.forCode(status), message: text.isEmpty ? nil : text)
        }
        if apiStatus.code == 0 { apiStatus.code = status }
        if apiStatus.reason == nil { apiStatus.reason = StatusReason.forCode(status) }
        if let retryAfter = headers["Retry-After"].flatMap(Int.init), apiStatus.details?.retryAfterSeconds == nil {
            var details = apiStatus.details ?? APIStatus.Details()
            details.retryAfterSeconds = retryAfter
            apiStatus.details = details
        }
        return .api(apiStatus)
    }

    private func encode<T: Encodable>(_ value: T) throws(KubernetesError) -> Body {
        do {
            let json = try JSONValueCoding.encode(value)
            return Body(data: values == nil ? Data(json.canonicalBytes) : nil, json: json)
        } catch {
            throw .configuration("cannot encode the request body: \(error)")
        }
    }

    private func parse(_ answer: Answer) throws(KubernetesError) -> JSONValue {
        if let json = answer.json { return json }
        do {
            return try JSONValue(parsing: answer.data)
        } catch {
            let preview = String(decoding: answer.data.prefix(200), as: UTF8.self)
            throw .invalidResponse("the answer is not JSON (\(error)): \(preview)")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, _ data: Data) throws(KubernetesError) -> T {
        do {
            return try JSONValueCoding.decode(type, from: value)
        } catch {
            // An answer handed over in process may come without its text.
            let preview = data.isEmpty ? String(value.canonicalText.prefix(200)) : String(decoding: data.prefix(200), as: UTF8.self)
            throw .invalidResponse("cannot decode \(T.self) (\(error)): \(preview)")
        }
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func dryRunQuery(_ dryRun: Bool) -> [(String, String)] { dryRun ? [("dryRun", "All")] : [] }

    static func escape(_ s: String) -> String {
        // Names are almost always unreserved already; Foundation's encoder bridges every call.
        let plain = s.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                true
            default: false
            }
        }
        return plain ? s : s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }

    static func queryString(_ items: [(String, String)]) -> String {
        items.isEmpty ? "" : "?" + items.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }
}

/// The wire form of a LIST response.
struct ListBody<Object: KubernetesObject>: Decodable {
    struct Meta: Decodable {
        var resourceVersion: String?
        var `continue`: String?
        var remainingItemCount: Int64?
    }
    var metadata: Meta?
    var items: [Object]?
}

/// Just enough of an object to tell a `Status` from the object itself.
