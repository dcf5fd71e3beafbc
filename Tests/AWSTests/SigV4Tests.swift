import Foundation
import HTTPClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

@testable import AWS

/// Our SigV4 signer against botocore's `SigV4Auth` (Tests/Peers/sigv4_vectors.py), byte for byte:
/// hand-picked edge cases and a few hundred random requests.
@Suite struct SigV4Tests {
    struct Case {
        var method: String
        var url: String
        var headers: [(String, String)]
        var body: Data
        var service = "sagemaker"
        var region = "us-east-1"
        var credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        var timestamp = "20150830T123600Z"

        var json: JSONValue {
            [
                "method": .string(method), "url": .string(url), "headers": .array(headers.map { [.string($0.0), .string($0.1)] }),
                "body": .string(body.base64EncodedString()), "service": .string(service), "region": .string(region),
                "accessKey": .string(credentials.accessKeyID), "secretKey": .string(credentials.secretAccessKey),
                "token": credentials.sessionToken.map(JSONValue.string) ?? .null, "timestamp": .string(timestamp),
            ]
        }

        var date: Date {
            try! Date(
                timestamp.replacingOccurrences(
                    of: "(\\d{4})(\\d{2})(\\d{2})T(\\d{2})(\\d{2})(\\d{2})Z", with: "$1-$2-$3T$4:$5:$6Z", options: .regularExpression), strategy: .iso8601)
        }
    }

    /// botocore's headers for each case.
    static func botocore(_ cases: [Case]) async throws -> [[String: String]] {
        let input = cases.map { $0.json.canonicalText }.joined(separator: "\n") + "\n"
        let result = try await CommandResult.run(try Peers.awsPython, [Peers.script("sigv4_vectors.py")], stdin: input)
        guard result.status == 0 else { throw PeerError("sigv4_vectors.py: \(result.stderr)") }
        return try result.stdout.split(separator: "\n").map { line in
            let pairs = try JSONValue(parsing: Data(line.utf8)).arrayValue ?? []
            var headers: [String: String] = [:]
            for pair in pairs {
                let parts = pair.arrayValue ?? []
                if parts.count == 2 { headers[parts[0].stringValue ?? ""] = parts[1].stringValue }
            }
            return headers
        }
    }

    static func check(_ cases: [Case]) async throws {
        let expected = try await botocore(cases)
        #expect(expected.count == cases.count)
        for (index, (item, reference)) in zip(cases, expected).enumerated() {
            let signed = SigV4Signer(service: item.service, region: item.region).sign(
                method: item.method, url: item.url, headers: item.headers, body: item.body, credentials: item.credentials, date: item.date)
            let ours = Dictionary(signed.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
            for name in ["Authorization", "X-Amz-Date", "X-Amz-Security-Token"] {
                #expect(ours[name] == reference[name], "case \(index) \(item.method) \(item.url) \(item.headers): \(name)")
            }
        }
    }

    @Test func handPickedEdgeCases() async throws {
        var withToken = Case(
            method: "POST", url: "https://api.sagemaker.us-east-1.amazonaws.com/",
            headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "SageMaker.CreateEndpoint")], body: Data(#"{"EndpointName":"e"}"#.utf8))
        withToken.credentials.sessionToken = "FwoGZXIvYXdzEBYaDH+session/token=="
        var otherRegion = withToken
        otherRegion.region = "eu-west-1"
        otherRegion.timestamp = "20261127T235959Z"
        try await Self.check([
            Case(
                method: "POST", url: "https://api.sagemaker.us-east-1.amazonaws.com/",
                headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "SageMaker.DescribeEndpoint")], body: Data("{}".utf8)),
            withToken, otherRegion,
            Case(method: "GET", url: "https://example.amazonaws.com/", headers: [], body: Data()),
            Case(method: "GET", url: "https://example.amazonaws.com/?b=2&a=1&a=0&empty=&flag", headers: [], body: Data()),
            Case(method: "GET", url: "https://example.amazonaws.com/a/./b/../c//d/", headers: [], body: Data()),
            Case(method: "GET", url: "https://example.amazonaws.com/with%20space/%E2%82%AC/~tilde", headers: [], body: Data()),
            Case(method: "GET", url: "https://example.amazonaws.com:443/x?q=a%2Fb%20c", headers: [], body: Data()),
            Case(method: "GET", url: "http://127.0.0.1:5000/moto", headers: [], body: Data()),
            Case(method: "GET", url: "https://EXAMPLE.amazonaws.com:8443/", headers: [], body: Data()),
            Case(
                method: "PUT", url: "https://example.amazonaws.com/",
                headers: [
                    ("My-Header", "  a   b\tc  "), ("my-header", "second"), ("User-Agent", "modelplane"), ("X-Amzn-Trace-Id", "t"), ("Expect", "100-continue"),
                ],
                body: Data("€ unicode body\n".utf8)),
        ])
    }

    @Test func randomRequestsAgreeWithBotocore() async throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["a", "B", "0", "-", "_", ".", "~", "%20", "%2F", "%E2%82%AC", "x.y", "..", "."]
        let values = ["", "v", "a b", "  padded  ", "tab\there", "ünïcode", "=eq", "comma,list"]
        let cases = (0..<300).map { _ -> Case in
            let path = (0..<Int.random(in: 0...4, using: &generator)).map { _ in
                (0..<Int.random(in: 1...3, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            }.joined(separator: "/")
            let query = (0..<Int.random(in: 0...3, using: &generator)).map { i in
                "k\(Int.random(in: 0...2, using: &generator))=\(["1", "x%20y", "", "%2B"].randomElement(using: &generator)!)"
            }.joined(separator: "&")
            let headers = (0..<Int.random(in: 0...4, using: &generator)).map { i in
                ("X-Custom-\(["A", "b", "Cc"].randomElement(using: &generator)!)", values.randomElement(using: &generator)!)
            }
            var item = Case(
                method: ["GET", "POST", "PUT", "DELETE"].randomElement(using: &generator)!,
                url: "https://api.sagemaker.us-east-1.amazonaws.com/" + path + (query.isEmpty ? "" : "?" + query), headers: headers,
                body: Data((0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }))
            if Bool.random(using: &generator) { item.credentials.sessionToken = "token-\(UInt32.random(in: 0...UInt32.max, using: &generator))" }
            item.timestamp = String(
                format: "2026%02d%02dT%02d%02d%02dZ", Int.random(in: 1...12), Int.random(in: 1...28), Int.random(in: 0...23), Int.random(in: 0...59),
                Int.random(in: 0...59))
            return item
        }
        try await Self.check(cases)
    }

    @Test func secretsNeverPrint() {
        let credentials = AWSCredentials(accessKeyID: "AKID", secretAccessKey: "very-secret", sessionToken: "session-secret")
        #expect(!"\(credentials)".contains("secret-") && !"\(credentials)".contains("very-secret"))
        #expect(!String(reflecting: credentials).contains("very-secret"))
    }
}

@Suite struct AWSErrorTests {
    @Test func codesAreNormalizedAsBotocoreDoesAndOnlyTransientOnesRetry() {
        func error(_ status: Int, _ body: String, header: String? = nil) -> AWSError {
            var headers: HTTPHeaders = [:]
            if let header { headers.set("X-Amzn-ErrorType", header) }
            return SageMakerClient.error("Op", HTTPResponse(status: status, headers: headers, body: Data(body.utf8)))
        }
        let throttled = error(400, #"{"__type":"com.amazonaws.sagemaker#ThrottlingException:http://internal.amazon.com/","message":"Rate exceeded"}"#)
        #expect(throttled.code == "ThrottlingException" && throttled.isRetryable && throttled.message == "Op: Rate exceeded")
        let invalid = error(400, #"{"__type":"ValidationException","Message":"Could not find endpoint"}"#)
        #expect(invalid.code == "ValidationException" && !invalid.isRetryable && invalid.message.contains("Could not find"))
        #expect(error(400, "{}", header: "ResourceInUse:http://x").code == "ResourceInUse")
        #expect(error(503, "").isRetryable && error(503, "").code == "HTTP503")
        #expect(!error(400, #"{"__type":"ResourceLimitExceeded"}"#).isRetryable)
        #expect(error(403, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>").code == "SignatureDoesNotMatch")
    }
}
