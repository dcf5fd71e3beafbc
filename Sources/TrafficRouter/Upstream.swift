public import AWS
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
    /// Whose credentials sign SageMaker invocations (nil: SageMaker deployments are answered 503).
    let aws: (any AWSCredentialsProvider)?
    /// The environment, read once (endpoint overrides such as `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`).
    let environment: [String: String]

    public init(http: HTTPClient, aws: (any AWSCredentialsProvider)? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.http = http
        self.aws = aws
        self.environment = environment
    }

    /// SageMaker's runtime in `region` (`apiEndpoint`: the deployment's API URL, which emulators
    /// also serve the runtime on), or nil without credentials.
    func sageMaker(region: String, apiEndpoint: String?) -> SageMakerRuntime? {
        aws.map { SageMakerRuntime(region: region, apiEndpoint: apiEndpoint, credentials: $0, environment: environment) }
    }

    func send(_ method: String, _ url: String, headers: HTTPHeaders = [:], body: Data? = nil, timeout: Duration) async -> Result<Answer, Failure> {
        do {
            let response = try await http.execute(HTTPRequest(method: method, url: url, headers: headers, body: body, timeout: timeout))
            return .success(Answer(status: response.status, headers: response.headers, body: response.body))
        } catch {
            return .failure(error.code == .timedOut ? .timedOut : .unreachable(error.message))
        }
    }
}
