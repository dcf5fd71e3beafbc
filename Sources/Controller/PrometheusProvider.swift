public import Foundation
public import HTTPClient
import ModelplaneAPI
public import Rollout

/// Analysis's `prometheus` provider: one PromQL instant query (`GET /api/v1/query`), its
/// `{{namespace}}`, `{{deployment}}`, `{{revision}}` and `{{version}}` filled in, whose answer
/// must be one number: a scalar, or a vector of exactly one series. No series is no data
/// (inconclusive); anything else, or Prometheus not answering, is an error that says what came
/// back. A metric's `prometheus` in `canary.analysis` (docs/analysis.md).
public struct PrometheusProvider: Sendable {
    let http: HTTPClient
    let timeout: Duration

    public init(http: HTTPClient, timeout: Duration = .seconds(10)) {
        self.http = http
        self.timeout = timeout
    }

    public typealias Context = AnalysisContext
}

/// The deployment and revision a measurement is for: what a Prometheus query's `{{…}}`
/// placeholders are filled with, and what a webhook is told.
public struct AnalysisContext: Sendable, Hashable {
    public var namespace: String
    public var deployment: String
    public var revision: String
    public var version: String

    public init(namespace: String, deployment: String, revision: String, version: String) {
        self.namespace = namespace
        self.deployment = deployment
        self.revision = revision
        self.version = version
    }
}

extension PrometheusProvider {
    /// `query` with its placeholders filled, each value escaped for a PromQL string (it stands
    /// inside quotes in a label matcher).
    public static func fill(_ query: String, _ context: Context) -> String {
        func escaped(_ value: String) -> String { value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
        return query.replacingOccurrences(of: "{{namespace}}", with: escaped(context.namespace))
            .replacingOccurrences(of: "{{deployment}}", with: escaped(context.deployment))
            .replacingOccurrences(of: "{{revision}}", with: escaped(context.revision))
            .replacingOccurrences(of: "{{version}}", with: escaped(context.version))
    }

    public func measure(address raw: String, query: String, _ context: Context) async -> Analysis.Reading {
        let filled = Self.fill(query, context)
        // What messages name: never user-info or a query (a token).
        let address = WebhookProvider.shown(raw)
        guard var components = URLComponents(string: (raw.hasSuffix("/") ? String(raw.dropLast()) : raw) + "/api/v1/query") else {
            return .error("\(address) is not a URL")
        }
        components.queryItems = [URLQueryItem(name: "query", value: filled)]
        // `+` is a space in a query string to Prometheus: it must travel encoded.
        // (And `;`, which Go's query parser refuses.)
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: ";", with: "%3B")
        guard let url = components.string else { return .error("\(address) is not a URL") }
        let response: HTTPResponse
        do {
            response = try await http.execute(HTTPRequest(url: url, timeout: timeout))
        } catch {
            return .error("Prometheus at \(address) cannot be reached: \(error.code == .invalidRequest ? "not a URL it can call" : error.message)")
        }
        return Self.reading(status: response.status, body: response.body, address: address)
    }

    /// What an answer of Prometheus's query API says.
    public static func reading(status: Int, body: Data, address: String) -> Analysis.Reading {
        guard let document = try? JSONValue(parsing: body) else {
            return .error("Prometheus at \(address) answered \(status) with no JSON: \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        guard status == 200, document["status"] == "success" else {
            let why = document["error"]?.stringValue ?? "status \(document["status"]?.stringValue ?? "?")"
            return .error("Prometheus at \(address) refused the query (\(status)): \(why)")
        }
        let data = document["data"]
        let kind = data?["resultType"]?.stringValue ?? "?"
        switch kind {
        case "scalar":
            return number(data?["result"]?.arrayValue?.last, address)
        case "vector":
            let series = data?["result"]?.arrayValue ?? []
            guard !series.isEmpty else { return .noData("the query returned no series") }
            guard series.count == 1 else {
                let labels = series.prefix(3).map { $0["metric"]?.canonicalText ?? "{}" }.joined(separator: ", ")
                return .error("the query returned \(series.count) series (\(labels)\(series.count > 3 ? ", …" : "")); it must return one number")
            }
            return number(series[0]["value"]?.arrayValue?.last, address)
        default:
            return .error("the query returned a \(kind); it must return a scalar or a vector of one series")
        }
    }

    /// Prometheus writes sample values as strings: "0.25", "NaN", "+Inf".
    static func number(_ value: JSONValue?, _ address: String) -> Analysis.Reading {
        guard let text = value?.stringValue, let number = Double(text) else {
            return .error("Prometheus at \(address) answered a sample that is not a number: \(value?.canonicalText ?? "nothing")")
        }
        return .value(number)
    }
}
