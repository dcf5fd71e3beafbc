import AWS
import Foundation
import HTTPClient
import ModelplaneTestSupport
import Testing

/// The standard credential chain: environment, web identity (against moto's STS), shared files.
@Suite(.timeLimit(.minutes(2))) struct CredentialsTests {
    let directory = NSTemporaryDirectory() + "modelplane-aws-" + UUID().uuidString

    func write(_ name: String, _ text: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func environmentThenProfilesFromTheSharedFiles() async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        let credentialsFile = try write(
            "credentials",
            """
            [default]
            aws_access_key_id = AKIADEFAULT
            aws_secret_access_key = default-secret
            # a comment
            [team]
            aws_access_key_id=AKIATEAM
            aws_secret_access_key=team-secret
            aws_session_token = team-token
            """)
        let configFile = try write(
            "config",
            """
            [profile ops]
            region = eu-west-1
            aws_access_key_id = AKIAOPS
            aws_secret_access_key = ops-secret
            """)
        let files = ["AWS_SHARED_CREDENTIALS_FILE": credentialsFile, "AWS_CONFIG_FILE": configFile, "HOME": directory]
        func resolve(_ environment: [String: String]) async throws -> AWSCredentials {
            try await DefaultAWSCredentialsProvider(environment: environment.merging(files) { $1 }, http: http).credentials()
        }
        var found = try await resolve([
            "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token", "AWS_PROFILE": "team",
        ])
        #expect(found.accessKeyID == "AKIAENV" && found.sessionToken == "env-token", "the environment comes first")
        found = try await resolve([:])
        #expect(found.accessKeyID == "AKIADEFAULT" && found.secretAccessKey == "default-secret" && found.sessionToken == nil)
        found = try await resolve(["AWS_PROFILE": "team"])
        #expect(found.accessKeyID == "AKIATEAM" && found.sessionToken == "team-token")
        found = try await resolve(["AWS_PROFILE": "ops"])
        #expect(found.accessKeyID == "AKIAOPS", "a profile in the config file")
        await #expect {
            _ = try await resolve(["AWS_PROFILE": "missing"])
        } throws: { error in
            "\(error)".contains("profile \"missing\"") && !"\(error)".contains("secret")
        }
        await #expect {
            _ = try await resolve(["AWS_ACCESS_KEY_ID": "AKIAHALF"])
        } throws: { error in
            "\(error)".contains("AWS_SECRET_ACCESS_KEY is not")
        }
        #expect(!"\(found)".contains("ops-secret"))
    }

    @Test func webIdentityAtSTSCachedUntilNearExpiryAndReadAgain() async throws {
        let moto = try await PeerProcess.start(try Peers.awsPython, [Peers.script("moto_peer.py"), "--no-auth"]) { line in
            let parts = line.split(separator: " ")
            return parts.count == 4 && parts[0] == "READY" ? Int(parts[1]) : nil
        }
        defer { moto.stop() }
        let http = HTTPClient()
        defer { http.shutdown() }
        let tokenFile = try write("token", "eyJhbGciOiJSUzI1NiJ9.first-projected-token")
        let environment = [
            "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/modelplane", "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:\(moto.port)", "HOME": directory,
        ]
        let provider = DefaultAWSCredentialsProvider(environment: environment, http: http)
        let first = try await provider.credentials()
        #expect(first.accessKeyID.hasPrefix("ASIA") && first.sessionToken?.isEmpty == false && first.expiration != nil, "\(first)")
        #expect(try await provider.credentials().accessKeyID == first.accessKeyID, "cached while fresh")

        // With a margin longer than their life, every call renews them (reading the token file again).
        let eager = DefaultAWSCredentialsProvider(environment: environment, http: http, refreshMargin: .seconds(24 * 3600))
        let a = try await eager.credentials()
        try "eyJhbGciOiJSUzI1NiJ9.rotated-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let b = try await eager.credentials()
        #expect(a.accessKeyID != b.accessKeyID)

        try FileManager.default.removeItem(atPath: tokenFile)
        await #expect {
            _ = try await DefaultAWSCredentialsProvider(environment: environment, http: http).credentials()
        } throws: { error in
            "\(error)".contains("cannot read the web identity token file")
        }
    }
}
