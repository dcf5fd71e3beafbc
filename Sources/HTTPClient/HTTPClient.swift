import Foundation

/// What carries requests: `HTTPClient` over the network, or an in-process server's handler (the
/// controller inside `modelplane serve` talks to its own API server without TLS or sockets).
public protocol HTTPTransport: Sendable {
    /// Sends a request and collects the whole response; any HTTP status is a response.
    func execute(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse
    /// Returns at the response head; the body streams until the server ends it.
    func stream(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPStreamingResponse
    /// Fails what is in flight and refuses new requests.
    func shutdown()
}

/// An asynchronous HTTP client over libcurl.
///
/// All network I/O happens on one dedicated thread running curl's multi interface; callers only
/// await. Connections are kept alive and reused between requests to the same server. Each
/// client has its own TLS identity (`HTTPClientConfiguration.tls`). Call `shutdown()` when done
/// (it is also called when the client is released): requests in flight fail with `.shutDown`.
public final class HTTPClient: HTTPTransport {
    public let configuration: HTTPClientConfiguration
    private let engine: CurlEngine

    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) {
        self.configuration = configuration
        engine = CurlEngine()
    }

    /// Streams still being read keep working after the client is released; the engine's thread
    /// ends when the last of them does.
    deinit { engine.release() }

    /// Fails every request in flight and refuses new ones.
    public func shutdown() { engine.shutdown() }

    /// Sends a request and collects the whole response body (up to `maxResponseBytes`).
    /// Any HTTP status is a response, not an error; transport failures throw `HTTPClientError`.
    public func execute(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        var request = request
        if request.timeout == nil { request.timeout = configuration.defaultTimeout }
        // (Unread bytes are bounded by what the whole body may be.)
        let transfer = Transfer(request: request, configuration: configuration, limit: configuration.maxResponseBytes)
        let head = try await awaitHead(transfer)
        var body = Data()
        do {
            for try await chunk in transfer.takeBody() {
                body.append(chunk)
                if body.count > configuration.maxResponseBytes {
                    throw HTTPClientError(.responseTooLarge, "the response body exceeds \(configuration.maxResponseBytes) bytes")
                }
            }
        } catch {
            throw Self.clientError(error)
        }
        return HTTPResponse(status: head.status, headers: head.headers, body: body, reusedConnection: transfer.reusedConnection)
    }

    /// Sends a request and returns as soon as the response head arrives; the body streams.
    public func stream(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPStreamingResponse {
        let transfer = Transfer(request: request, configuration: configuration, limit: configuration.maxStreamBufferBytes)
        let head = try await awaitHead(transfer)
        return HTTPStreamingResponse(status: head.status, headers: head.headers, body: transfer.takeBody())
    }

    private func awaitHead(_ transfer: Transfer) async throws(HTTPClientError) -> HTTPResponseHead {
        do {
            return try await transfer.awaitHead(on: engine)
        } catch {
            throw Self.clientError(error)
        }
    }

    static func clientError(_ error: any Error) -> HTTPClientError {
        if let error = error as? HTTPClientError { return error }
        if error is CancellationError { return HTTPClientError(.cancelled, "the request was cancelled") }
        return HTTPClientError(.other, "\(error)")
    }
}
