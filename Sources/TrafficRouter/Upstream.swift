public import Foundation
public import HTTPClient

/// The backend side of the router: one request, one answer or the reason there is none. (Its own
/// file: HTTPClient's `HTTPResponse` and the server's would otherwise share a name.)
public struct Upstream: Sendable {
    public struct Answer: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: Data
    }

    public enum Failure: Error, Sendable {
        /// No answer within the limit.
        case timedOut
        /// Refused, unreachable, or the connection dropped.
        case unreachable(String)
    }

    let http: HTTPClient

    public init(http: HTTPClient) { self.http = http }

    func send(_ method: String, _ url: String, headers: HTTPHeaders = [:], body: Data? = nil, timeout: Duration) async -> Result<Answer, Failure> {
        do {
            let response = try await http.execute(HTTPRequest(method: method, url: url, headers: headers, body: body, timeout: timeout))
            return .success(Answer(status: response.status, headers: response.headers, body: response.body))
        } catch {
            return .failure(error.code == .timedOut ? .timedOut : .unreachable(error.message))
        }
    }
}
