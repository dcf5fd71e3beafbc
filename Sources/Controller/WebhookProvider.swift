import Digests
public import Foundation
public import HTTPClient
import ModelplaneAPI
public import Rollout

/// Analysis's `webhook` provider, in Flagger's manner: a POST of what is being measured
/// (`{"metric", "namespace", "deployment", "revision", "version", "timestamp"}`) that must answer
/// 2xx. A 2xx whose body is a number gives that number to compare; without one, a 2xx passes a
/// metric with no thresholds and is an error for one with thresholds. Any other status fails the
/// measurement, except a gateway's 502, 503 or 504 (the hook is down: an error, as no answer at
/// all is). With a secret the request is signed:
/// `X-Modelplane-Timestamp` (Unix seconds) and `X-Modelplane-Signature: sha256=HEX`, the
/// HMAC-SHA256 of `TIMESTAMP.BODY`, so a receiver can refuse a forged or replayed call. A metric's
/// `webhook` in `canary.analysis` (docs/analysis.md).
public struct WebhookProvider: Sendable {
    let http: HTTPClient
    let timeout: Duration

    public init(http: HTTPClient, timeout: Duration = .seconds(10)) {
        self.http = http
        self.timeout = timeout
    }

    /// `secret`: the HMAC key (never sent, logged or put in a message).
    public func measure(
        url: String, metric: String, thresholds: Bool, secret: [UInt8]? = nil, _ context: AnalysisContext, now: Date = Date()
    ) async -> Analysis.Reading {
        let timestamp = String(Int64(now.timeIntervalSince1970))
        let payload: JSONValue = [
            "metric": .string(metric), "namespace": .string(context.namespace), "deployment": .string(context.deployment),
            "revision": .string(context.revision), "version": .string(context.version), "timestamp": .string(Timestamps.rfc3339(now)),
        ]
        let body = Data(payload.canonicalText.utf8)
        var headers: HTTPHeaders = ["Content-Type": "application/json", "X-Modelplane-Timestamp": timestamp]
        if let secret {
            headers.set("X-Modelplane-Signature", "sha256=" + Hex.encode(HMACSHA256.mac(key: secret, Array((timestamp + ".").utf8) + Array(body))))
        }
        let response: HTTPResponse
        do {
            response = try await http.execute(HTTPRequest(method: "POST", url: url, headers: headers, body: body, timeout: timeout))
        } catch {
            // (A request the client refused to make names the whole URL, token and all.)
            let why = error.code == .invalidRequest ? "not a URL it can call" : error.message
            return .error("the webhook \(Self.shown(url)) cannot be reached: \(why)")
        }
        // A gateway's own answer says the hook is down, not that the metric failed.
        if [502, 503, 504].contains(response.status) {
            return .error("the webhook \(Self.shown(url)) is unavailable (\(response.status))")
        }
        guard (200..<300).contains(response.status) else {
            return .failed("the webhook \(Self.shown(url)) answered \(response.status)")
        }
        let text = String(decoding: response.body.prefix(256), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if let number = Double(text), number.isFinite { return .value(number) }
        if !thresholds { return .value(1) }
        return .error(
            "the webhook \(Self.shown(url)) answered \(response.status) without a number to compare (\(text.isEmpty ? "an empty body" : "\"\(text.prefix(60))\""))"
        )
    }

    /// The URL without its query or user-info (either may carry a token).
    public static func shown(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.host != nil else { return "(an unreadable URL)" }
        components.query = nil
        components.user = nil
        components.password = nil
        components.fragment = nil
        return components.string ?? "(an unreadable URL)"
    }
}
