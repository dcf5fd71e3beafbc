import Foundation
public import HTTPClient
public import ModelplaneAPI

/// kmock's Kubernetes API emulator (`Tests/Peers/kube_peer.py`), with our control API for
/// injecting faults and reading back the requests it saw.
public final class KubePeer: Sendable {
    public let process: PeerProcess
    public let scheme: String
    private let control: HTTPClient

    public struct SeenRequest: Decodable, Sendable {
        public var method: String
        public var path: String
        public var query: String
        public var contentType: String?
        public var body: String
        public var auth: String?
    }

    public var server: String { "\(scheme)://127.0.0.1:\(process.port)" }

    /// `controlTLS` is what the test's own control requests use (a client certificate when the
    /// peer requires one).
    public static func start(_ arguments: [String] = [], controlTLS: TLSConfiguration = TLSConfiguration(insecureSkipVerify: true)) async throws -> KubePeer {
        let process = try await PeerProcess.start(try Peers.python, [Peers.script("kube_peer.py")] + arguments)
        return KubePeer(process: process, tls: arguments.contains("--cert"), controlTLS: controlTLS)
    }

    private init(process: PeerProcess, tls: Bool, controlTLS: TLSConfiguration) {
        self.process = process
        scheme = tls ? "https" : "http"
        control = HTTPClient(configuration: HTTPClientConfiguration(tls: controlTLS))
    }

    /// Queues canned answers (see the script's docstring for the fields).
    public func inject(_ faults: [JSONValue]) async throws {
        let body = Data(JSONValue.array(faults).canonicalText.utf8)
        let response = try await control.execute(
            HTTPRequest(method: "POST", url: server + "/_peer/faults", headers: ["Content-Type": "application/json"], body: body))
        guard response.status == 200 else { throw PeerError("kube peer refused faults: \(response.status)") }
    }

    /// Requests the emulator saw, oldest first (control requests excluded).
    public func requests() async throws -> [SeenRequest] {
        let response = try await control.execute(HTTPRequest(url: server + "/_peer/requests"))
        return try JSONDecoder().decode([SeenRequest].self, from: response.body)
    }
}
