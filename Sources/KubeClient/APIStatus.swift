public import HTTPClient

/// A Kubernetes `Status` object: what the API server says when it refuses a request.
public struct APIStatus: Codable, Sendable, Hashable, CustomStringConvertible {
    public struct Cause: Codable, Sendable, Hashable {
        /// Machine-readable cause (`FieldValueInvalid`, ...); JSON name `reason`.
        public var reason: String?
        public var message: String?
        /// The field the cause concerns (`spec.model.version`).
        public var field: String?

        public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    public struct Details: Codable, Sendable, Hashable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var uid: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?

        public init(name: String? = nil, group: String? = nil, kind: String? = nil, causes: [Cause]? = nil, retryAfterSeconds: Int? = nil) {
            self.name = name
            self.group = group
            self.kind = kind
            self.causes = causes
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    public var kind: String?
    public var apiVersion: String?
    public var status: String?
    public var message: String?
    public var reason: StatusReason?
    public var details: Details?
    public var code: Int

    public init(code: Int, reason: StatusReason?, message: String?, details: Details? = nil) {
        kind = "Status"
        apiVersion = "v1"
        status = "Failure"
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    public var description: String {
        var text = "\(code) \(reason?.rawValue ?? "Unknown")"
        if let message, !message.isEmpty { text += ": \(message)" }
        return text
    }
}

/// `metav1.StatusReason`: branch on this (and the code), never on the message.
public struct StatusReason: RawRepresentable, Codable, Sendable, Hashable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let badRequest = StatusReason(rawValue: "BadRequest")
    public static let unauthorized = StatusReason(rawValue: "Unauthorized")
    public static let forbidden = StatusReason(rawValue: "Forbidden")
    public static let notFound = StatusReason(rawValue: "NotFound")
    public static let alreadyExists = StatusReason(rawValue: "AlreadyExists")
    public static let conflict = StatusReason(rawValue: "Conflict")
    public static let gone = StatusReason(rawValue: "Gone")
    public static let expired = StatusReason(rawValue: "Expired")
    public static let invalid = StatusReason(rawValue: "Invalid")
    public static let methodNotAllowed = StatusReason(rawValue: "MethodNotAllowed")
    public static let unsupportedMediaType = StatusReason(rawValue: "UnsupportedMediaType")
    public static let tooManyRequests = StatusReason(rawValue: "TooManyRequests")
    public static let internalError = StatusReason(rawValue: "InternalError")
    public static let serviceUnavailable = StatusReason(rawValue: "ServiceUnavailable")
    public static let timeout = StatusReason(rawValue: "Timeout")
    public static let requestEntityTooLarge = StatusReason(rawValue: "RequestEntityTooLarge")

    /// The reason Kubernetes uses for a status code when a response has no Status body.
    public static func forCode(_ code: Int) -> StatusReason {
        switch code {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .methodNotAllowed
        case 409: .conflict
        case 410: .gone
        case 413: .requestEntityTooLarge
        case 415: .unsupportedMediaType
        case 422: .invalid
        case 429: .tooManyRequests
        case 503: .serviceUnavailable
        case 504: .timeout
        default: .internalError
        }
    }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Why a Kubernetes API call failed.
public enum KubernetesError: Error, Sendable, CustomStringConvertible {
    /// The server answered with an error status.
    case api(APIStatus)
    /// The request did not complete (connection, TLS, timeout).
    case transport(HTTPClientError)
    /// The server answered with something we could not read.
    case invalidResponse(String)
    /// The client is misconfigured (kubeconfig, credentials).
    case configuration(String)

    public var status: APIStatus? {
        if case .api(let status) = self { return status }
        return nil
    }

    public var isNotFound: Bool { status?.code == 404 }
    public var isAlreadyExists: Bool { status?.code == 409 && status?.reason == .alreadyExists }
    public var isConflict: Bool { status?.code == 409 && status?.reason != .alreadyExists }
    /// 410: the requested resourceVersion is too old (or a continue token expired): relist.
    public var isGone: Bool { status?.code == 410 }
    public var isInvalid: Bool { status?.code == 422 }

    /// Worth retrying with backoff: throttling, server trouble, or the network.
    public var isTransient: Bool {
        switch self {
        case .api(let status): [429, 500, 502, 503, 504].contains(status.code)
        case .transport(let error): error.isTransient
        case .invalidResponse, .configuration: false
        }
    }

    /// How long the server asked us to wait (Retry-After or details.retryAfterSeconds).
    public var retryAfter: Duration? {
        status?.details?.retryAfterSeconds.map { .seconds($0) }
    }

    public var description: String {
        switch self {
        case .api(let status):
            var text = status.description
            for cause in status.details?.causes ?? [] {
                text += "\n  \(cause.field ?? "<object>"): \(cause.message ?? cause.reason ?? "")"
            }
            return text
        case .transport(let error): return "cannot reach the API server: \(error)"
        case .invalidResponse(let detail): return "unexpected response from the API server: \(detail)"
        case .configuration(let detail): return detail
        }
    }
}
