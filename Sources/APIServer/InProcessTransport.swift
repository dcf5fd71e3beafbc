import Foundation
public import HTTPClient
public import KubeClient
public import ModelplaneAPI
import Synchronization

/// Carries a client's requests straight to a `KubernetesAPI` in the same process: the same
/// handler, authentication, validation and watches as over HTTPS, without TLS, HTTP parsing,
/// sockets and thread wake-ups, and (as a `JSONValueTransport`) without either side parsing the
/// JSON text the other just wrote. `modelplane serve` gives it to its own controller and Git sync;
/// everything else (kubectl, the CLI, `modelplane controller`) comes over HTTPS.
public struct InProcessTransport: JSONValueTransport {
    public let api: KubernetesAPI
    private let closed = ClosedFlag()

    public init(api: KubernetesAPI) { self.api = api }

    /// Bytes only: the answer's text is written, as over HTTPS.
    public func execute(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        try await execute(request, json: nil, inProcess: false).response
    }

    public func execute(_ request: HTTPRequest, json: JSONValue?) async throws(HTTPClientError) -> (response: HTTPResponse, json: JSONValue?) {
        try await execute(request, json: json, inProcess: true)
    }

    /// `inProcess`: the caller takes the answer's value; a list's text is then not written.
    private func execute(_ request: HTTPRequest, json: JSONValue?, inProcess: Bool) async throws(HTTPClientError) -> (
        response: HTTPResponse, json: JSONValue?
    ) {
        let response = try await handle(request, json: json, inProcess: inProcess)
        let headers: HTTPHeaders = ["Content-Type": response.contentType]
        switch response.bytes {
        case .data(let data):
            return (HTTPResponse(status: response.status, headers: headers, body: data, reusedConnection: true), response.json)
        case .stream(let chunks):
            var body = Data()
            for await chunk in chunks { body.append(chunk) }
            return (HTTPResponse(status: response.status, headers: headers, body: body, reusedConnection: true), nil)
        case .events: preconditionFailure("APIResponse.bytes turns events into a stream")
        }
    }

    public func stream(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPStreamingResponse {
        let response = try await handle(request, json: nil, inProcess: false)
        let headers: HTTPHeaders = ["Content-Type": response.contentType]
        switch response.bytes {
        case .data(let data):
            return HTTPStreamingResponse(
                status: response.status, headers: headers,
                body: AsyncThrowingStream { continuation in
                    continuation.yield(data)
                    continuation.finish()
                })
        case .stream(let chunks):
            // Dropping the iteration cancels the relay, which ends the server's watch.
            let (body, continuation) = AsyncThrowingStream.makeStream(of: Data.self)
            let relay = Task {
                for await chunk in chunks { continuation.yield(chunk) }
                continuation.finish()
            }
            continuation.onTermination = { _ in relay.cancel() }
            return HTTPStreamingResponse(status: response.status, headers: headers, body: body)
        case .events: preconditionFailure("APIResponse.bytes turns events into a stream")
        }
    }

    public func watch(_ request: HTTPRequest) async throws(HTTPClientError) -> JSONValueWatch {
        let response = try await handle(request, json: nil)
        switch response.body {
        case .events(let events): return .events(events)
        case .data(let data):
            return .failed(HTTPResponse(status: response.status, headers: ["Content-Type": response.contentType], body: data, reusedConnection: true))
        case .stream(let chunks):
            var body = Data()
            for await chunk in chunks { body.append(chunk) }
            return .failed(HTTPResponse(status: response.status, headers: ["Content-Type": response.contentType], body: body, reusedConnection: true))
        }
    }

    public func shutdown() { closed.close() }

    /// `inProcess`: the caller takes values (list answers, watch events); false for `stream`,
    /// whose caller reads bytes. A write's answer comes once it is committed; the task suspends
    /// meanwhile, and other writes join the same transaction.
    private func handle(_ request: HTTPRequest, json: JSONValue?, inProcess: Bool = true) async throws(HTTPClientError) -> APIResponse {
        if closed.isClosed { throw HTTPClientError(.shutDown, "the client was shut down") }
        // The limit HTTPS applies to the bytes, applied to the JSON text the value would be.
        if (request.body?.count ?? json?.canonicalByteCount ?? 0) > KubernetesAPI.maxRequestBytes {
            return KubernetesAPI.tooLarge
        }
        // Only the path and query matter here: scheme, host and port are whatever the
        // configuration says the server is.
        var target = Substring(request.url)
        if let scheme = target.utf8.firstIndex(of: UInt8(ascii: ":")), target.utf8[scheme...].starts(with: "://".utf8) {
            target = target[target.utf8.index(scheme, offsetBy: 3)...]
            target = target[(target.utf8.firstIndex(of: UInt8(ascii: "/")) ?? target.endIndex)...]
        }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.lowercased()] = field.value }
        var apiRequest = HTTPAPIServer.request(method: request.method, target: target, headers: headers, body: request.body ?? Data())
        apiRequest.json = json
        apiRequest.inProcess = inProcess
        return await api.respond(apiRequest).committed()
    }
}

private final class ClosedFlag: Sendable {
    private let state = Mutex(false)
    var isClosed: Bool { state.withLock { $0 } }
    func close() { state.withLock { $0 = true } }
}
