import Foundation
import KubeClient

/// A throwaway PKI for TLS tests, made with the real `openssl` tool: a CA, a server certificate
/// for 127.0.0.1/localhost, and a client certificate (for mutual TLS), all signed by the CA.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caCertificate: String { directory + "/ca.crt" }
    public var serverCertificate: String { directory + "/server.crt" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCertificate: String { directory + "/client.crt" }
    public var clientKey: String { directory + "/client.key" }
    /// A second CA that signed nothing we use: trusting it must fail verification.
    public var otherCACertificate: String { directory + "/other-ca.crt" }

    /// (Async: the openssl run is awaited, never waited for on a cooperative thread.)
    public static func make() async throws -> TestCertificates {
        let directory = NSTemporaryDirectory() + "modelplane-pki-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(directory)'
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=modelplane-test-ca -keyout ca.key -out ca.crt 2>/dev/null
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout other-ca.key -out other-ca.crt 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj /CN=modelplane-test-client -keyout client.key -out client.csr 2>/dev/null
            openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt 2>/dev/null
            """
        let made = try await CommandResult.run("/bin/sh", ["-c", script])
        guard made.status == 0 else { throw PeerError("openssl could not make the test certificates: \(made.stderr)") }
        return TestCertificates(directory: directory)
    }
}
