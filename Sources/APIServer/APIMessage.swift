public import Foundation
public import ModelplaneAPI
public import ResourceStore

/// A request as the API handler sees it, independent of the HTTP server that carried it.
public struct APIRequest: Sendable {
    public var method: String
    /// The path without the query (`/apis/modelplane.dev/v1alpha1/namespaces/default/modeldeployments`).
    public var path: String
    public var query: [String: String]
    public var headers: [String: String]
    public var body: Data
    /// The body already parsed, from a caller in this process: the handler takes it instead of
    /// parsing `body` again (`body` still counts against the size limit).
    public var json: JSONValue?
    /// The caller is in this process (`InProcessTransport`) and takes lists as values too
    /// (`APIResponse.json`), and watch events as values only (`APIResponse.Body.events`).
    public var inProcess: Bool

    public init(
        method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: Data = Data(), json: JSONValue? = nil,
        inProcess: Bool = false
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }) { $1 }
        self.body = body
        self.json = json
        self.inProcess = inProcess
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A response: a whole body, or a stream of chunks (watches).
public struct APIResponse: Sendable {
    public enum Body: Sendable {
        case data(Data)
        case stream(AsyncStream<Data>)
        /// Watch events as values (`{"type": ..., "object": ...}`), for a caller in this process.
        case events(AsyncStream<JSONValue>)
    }

    public var status: Int
    public var contentType: String
    public var body: Body
    /// The body as a value, where the handler had it (stored objects), for a caller in this process.
    public var json: JSONValue?
    /// A write's commit, when the answer came from `KubernetesAPI.respond` before it: the answer
    /// may be sent only once this is settled (and an error instead if it fails).
    public var commit: CommitTicket?
    /// The methods a 405 names in its `Allow` header (RFC 9110).
    public var allow: String?

    public init(status: Int, contentType: String = "application/json", body: Body, json: JSONValue? = nil) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.json = json
    }

    static func json(_ status: Int, _ text: String) -> APIResponse {
        APIResponse(status: status, body: .data(Data(text.utf8)))
    }

    /// The body as bytes: `.events` become the JSON lines a watch sends over HTTP.
    var bytes: Body {
        guard case .events(let events) = body else { return body }
        let (chunks, continuation) = AsyncStream.makeStream(of: Data.self)
        let relay = Task {
            for await event in events { continuation.yield(Data(event.canonicalText.utf8 + [0x0A])) }
            continuation.finish()
        }
        continuation.onTermination = { _ in relay.cancel() }
        return .stream(chunks)
    }

    /// A stored object's answer: its JSON text, and the object itself for a caller in this process.
    static func json(_ status: Int, _ stored: StoredObject) -> APIResponse {
        APIResponse(status: status, body: .data(Data(stored.json.utf8)), json: stored.object)
    }

    /// A write's answer, to be sent once its commit is settled.
    static func json(_ status: Int, _ written: Deferred<StoredObject>) -> APIResponse {
        var response = json(status, written.value)
        response.commit = written.ticket
        return response
    }

    /// The answer to send once `commit` is settled: this one, or the commit's failure.
    func settled(_ result: Result<Void, StoreError>) -> APIResponse {
        guard case .failure(let error) = result else { return self }
        return KubernetesAPI.status(error)
    }

    /// Waits on this thread for the commit, if there is one.
    public func waitingForCommit() -> APIResponse {
        guard let commit else { return self }
        return settled(Result { () throws(StoreError) in try commit.wait() })
    }

    /// Suspends until the commit, if there is one, is settled.
    public func committed() async -> APIResponse {
        guard let commit else { return self }
        do {
            try await commit.committed()
            return self
        } catch {
            return settled(.failure(error))
        }
    }
}
