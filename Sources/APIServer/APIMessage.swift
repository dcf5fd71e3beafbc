public import Foundation

/// A request as the API handler sees it, independent of the HTTP server that carried it.
public struct APIRequest: Sendable {
    public var method: String
    /// The path without the query (`/apis/modelplane.dev/v1alpha1/namespaces/default/modeldeployments`).
    public var path: String
    public var query: [String: String]
    public var headers: [String: String]
    public var body: Data

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: Data = Data()) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }) { $1 }
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A response: a whole body, or a stream of chunks (watches).
public struct APIResponse: Sendable {
    public enum Body: Sendable {
        case data(Data)
        case stream(AsyncStream<Data>)
    }

    public var status: Int
    public var contentType: String
    public var body: Body

    public init(status: Int, contentType: String = "application/json", body: Body) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    static func json(_ status: Int, _ text: String) -> APIResponse {
        APIResponse(status: status, body: .data(Data(text.utf8)))
    }
}
