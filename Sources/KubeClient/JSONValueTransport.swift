public import HTTPClient
public import ModelplaneAPI

/// A transport in the client's own process that carries parsed JSON beside the bytes
/// (`InProcessTransport` in `modelplane serve`): the client hands over the value it wrote a body
/// from and takes answers and watch events as values, so neither side parses JSON text the
/// other has just written. Status codes, headers and error bodies stay as over HTTP.
public protocol JSONValueTransport: HTTPTransport {
    /// `execute`, with the body's value; returns the answer's value too where the server had it.
    /// The client sends a body as `json` alone (`request.body` nil), so the transport applies
    /// any size limit to `json.canonicalByteCount`.
    func execute(_ request: HTTPRequest, json: JSONValue?) async throws(HTTPClientError) -> (response: HTTPResponse, json: JSONValue?)
    /// Opens a watch: its events as values (`{"type": ..., "object": ...}`), or the refusal.
    func watch(_ request: HTTPRequest) async throws(HTTPClientError) -> JSONValueWatch
}

public enum JSONValueWatch: Sendable {
    /// The watch was accepted; the stream ends when the server ends the watch, and dropping it ends
    /// the server's watch.
    case events(AsyncStream<JSONValue>)
    /// The whole answer of a refused watch (an error status and its body).
    case failed(HTTPResponse)
}
