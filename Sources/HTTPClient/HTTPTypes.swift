public import Foundation

/// HTTP header fields in order, with case-insensitive lookup.
public struct HTTPHeaders: Sendable, Hashable, ExpressibleByDictionaryLiteral, Sequence {
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    public private(set) var fields: [Field] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { Field(name: $0.0, value: $0.1) }
    }

    public subscript(name: String) -> String? {
        fields.first { Self.sameName($0.name, name) }?.value
    }

    /// Sets a field, replacing every field of that name.
    public mutating func set(_ name: String, _ value: String) {
        fields.removeAll { Self.sameName($0.name, name) }
        fields.append(Field(name: name, value: value))
    }

    /// Field names compare ASCII case-insensitively (RFC 9110: they are tokens, ASCII only);
    /// Foundation's `caseInsensitiveCompare` bridges through NSString on every request.
    static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { x, y in x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A) }
    }

    public mutating func add(_ name: String, _ value: String) { fields.append(Field(name: name, value: value)) }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
}

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: HTTPHeaders
    public var body: Data?
    /// Limit for the whole exchange; nil means none (watches end when the server ends them).
    public var timeout: Duration?

    public init(method: String = "GET", url: String, headers: HTTPHeaders = [:], body: Data? = nil, timeout: Duration? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data
    /// True when the exchange went over a connection an earlier request had opened (keep-alive).
    public var reusedConnection: Bool

    public init(status: Int, headers: HTTPHeaders = [:], body: Data = Data(), reusedConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.reusedConnection = reusedConnection
    }
}

/// A response whose body arrives as it is received: for watches that last minutes.
public struct HTTPStreamingResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// Chunks as curl delivers them; chunk boundaries mean nothing. Ends when the server ends the
    /// response, throws `HTTPClientError` when the transfer fails. Dropping the iteration (or
    /// cancelling the task iterating it) aborts the transfer.
    public var body: AsyncThrowingStream<Data, any Error>

    public init(status: Int, headers: HTTPHeaders = [:], body: AsyncThrowingStream<Data, any Error>) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// What went wrong with an exchange. A struct around a private code so cases can be added
/// without breaking callers; compare with the static members (`error.code == .timedOut`).
public struct HTTPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        public static let invalidRequest = Code(name: "invalidRequest")
        public static let couldNotResolveHost = Code(name: "couldNotResolveHost")
        public static let couldNotConnect = Code(name: "couldNotConnect")
        public static let timedOut = Code(name: "timedOut")
        public static let tls = Code(name: "tls")
        /// The connection ended before the response did.
        public static let connectionLost = Code(name: "connectionLost")
        public static let responseTooLarge = Code(name: "responseTooLarge")
        public static let cancelled = Code(name: "cancelled")
        public static let shutDown = Code(name: "shutDown")
        public static let other = Code(name: "other")
    }

    public var code: Code
    /// curl's explanation; never contains request headers or bodies (so never a credential).
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Worth retrying with backoff: the peer may be back or less busy next time.
    public var isTransient: Bool {
        [.couldNotResolveHost, .couldNotConnect, .timedOut, .connectionLost].contains(code)
    }

    public var description: String { "\(code): \(message)" }
}

/// TLS settings; every PEM input can be a file or inline data (kubeconfig's `-data` fields).
public struct TLSConfiguration: Sendable, Hashable {
    public enum PEM: Sendable, Hashable, CustomStringConvertible {
        case file(String)
        case data(Data)

        /// Never prints key material.
        public var description: String {
            switch self {
            case .file(let path): "file \(path)"
            case .data(let data): "inline PEM (\(data.count) bytes)"
            }
        }
    }

    /// Trust these CAs instead of the system's.
    public var certificateAuthority: PEM?
    public var clientCertificate: PEM?
    public var clientKey: PEM?
    /// Skip verifying the server's certificate and name. For development clusters only.
    public var insecureSkipVerify = false

    public init(certificateAuthority: PEM? = nil, clientCertificate: PEM? = nil, clientKey: PEM? = nil, insecureSkipVerify: Bool = false) {
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.insecureSkipVerify = insecureSkipVerify
    }
}

public struct HTTPClientConfiguration: Sendable {
    public var tls = TLSConfiguration()
    public var connectTimeout: Duration = .seconds(10)
    /// Applied to `execute` requests that set no timeout of their own.
    public var defaultTimeout: Duration = .seconds(60)
    /// `execute` refuses bodies larger than this.
    public var maxResponseBytes = 256 * 1024 * 1024
    /// How far a streamed body (`stream`) may get ahead of its reader: past this many bytes
    /// received and not yet read, the transfer is aborted and the stream ends, after what was
    /// read, with `responseTooLarge`, rather than memory growing without bound behind a slow
    /// reader.
    public var maxStreamBufferBytes = 64 * 1024 * 1024
    public var userAgent = "modelplane"

    public init(tls: TLSConfiguration = TLSConfiguration()) { self.tls = tls }
}
