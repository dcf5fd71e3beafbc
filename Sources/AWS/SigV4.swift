import Digests
public import Foundation

/// AWS credentials. The secret and the session token never print themselves.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working (nil: long-term keys).
    public var expiration: Date?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    public var description: String { "AWS credentials \(accessKeyID) (secret redacted)" }
}

/// AWS Signature Version 4 (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
/// as botocore's `SigV4Auth` computes it for services other than S3: the path normalized and
/// URI-encoded again, the query's pairs sorted as they are (callers encode them), every header
/// but `user-agent`, `expect`, `transfer-encoding` and `x-amzn-trace-id` signed, the payload hashed, and a session token sent (and signed) as
/// `X-Amz-Security-Token`. Tests compare it byte for byte with botocore.
public struct SigV4Signer: Sendable {
    public var service: String
    public var region: String

    public init(service: String, region: String) {
        self.service = service
        self.region = region
    }

    /// Headers botocore never signs (they may change in transit).
    static let unsignedHeaders: Set<String> = ["expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"]

    /// `headers` plus `X-Amz-Date`, `X-Amz-Security-Token` (with a session token) and
    /// `Authorization`, for `method url` with `body`, signed at `date`.
    public func sign(
        method: String, url: String, headers: [(String, String)], body: Data, credentials: AWSCredentials, date: Date = Date()
    ) -> [(String, String)] {
        let (amzDate, day) = Self.timestamps(date)
        var headers = headers.filter { !["authorization", "x-amz-date", "x-amz-security-token"].contains($0.0.lowercased()) }
        let components = URLComponents(string: url)
        if !headers.contains(where: { $0.0.lowercased() == "host" }), let components {
            let host = (components.host ?? "").lowercased()
            let defaultPort = components.scheme == "https" ? 443 : 80
            headers.append(("Host", components.port.map { $0 == defaultPort ? host : "\(host):\($0)" } ?? host))
        }
        headers.append(("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken { headers.append(("X-Amz-Security-Token", token)) }

        let signed = Self.canonicalHeaders(headers)
        let signedNames = signed.map(\.name).joined(separator: ";")
        let canonicalRequest = [
            method.uppercased(),
            Self.canonicalPath(components?.percentEncodedPath ?? "/"),
            Self.canonicalQuery(components?.percentEncodedQuery ?? ""),
            signed.map { "\($0.name):\($0.value)\n" }.joined(),
            signedNames,
            SHA256Digest.hex(body),
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, SHA256Digest.hex(canonicalRequest)].joined(separator: "\n")
        var key = HMACSHA256.mac(key: Array("AWS4\(credentials.secretAccessKey)".utf8), day)
        for part in [region, service, "aws4_request"] { key = HMACSHA256.mac(key: key, part) }
        let signature = Hex.encode(HMACSHA256.mac(key: key, stringToSign))
        headers.append(
            ("Authorization", "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"))
        return headers
    }

    /// `20150830T123600Z` and `20150830`, in UTC.
    static func timestamps(_ date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
        return (day + String(format: "T%02d%02d%02dZ", c.hour!, c.minute!, c.second!), day)
    }

    /// Lowercased names, values with surrounding whitespace removed and inner runs of spaces
    /// collapsed; repeated headers joined with commas; sorted by name.
    static func canonicalHeaders(_ headers: [(String, String)]) -> [(name: String, value: String)] {
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            guard !unsignedHeaders.contains(lower) else { continue }
            merged[lower, default: []].append(value.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        }
        return merged.keys.sorted().map { ($0, merged[$0]!.joined(separator: ",")) }
    }

    /// The path with `.` and `..` segments resolved (a trailing slash kept), each character outside
    /// RFC 3986's unreserved set and `/` percent-encoded — so an already-encoded path is encoded again,
    /// as AWS wants for every service but S3.
    static func canonicalPath(_ path: String) -> String {
        if path.isEmpty { return "/" }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        var normalized = "/" + segments.joined(separator: "/")
        if path.hasSuffix("/"), normalized != "/" { normalized += "/" }
        return encode(normalized, keepSlash: true)
    }

    /// The query's `name=value` pairs sorted (a name without `=` gets an empty value), taken as
    /// they are: the caller percent-encodes them the canonical way, as botocore expects too.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Percent-encodes every byte outside `A-Z a-z 0-9 - _ . ~` (and `/` when `keepSlash`).
    static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
