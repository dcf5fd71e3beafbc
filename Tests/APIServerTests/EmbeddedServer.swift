import APIServer
import Foundation
import KubeClient
import ResourceStore

/// The embedded API server on a free loopback port, in this process, with a fresh store.
final class EmbeddedServer {
    let directory: String
    let store: ResourceStore
    let port: Int
    let token = "test-token-\(UUID().uuidString)"
    let api: KubernetesAPI
    private let task: Task<Void, any Error>

    let certificates: LocalCertificates?

    /// `tls`: serve HTTPS with a local CA made in the scratch directory, as `modelplane serve` does.
    init(historyLimit: Int64 = 10_000, bookmarkInterval: Duration = .seconds(60), tls: Bool = false) async throws {
        directory = NSTemporaryDirectory() + "modelplane-api-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try ResourceStore(path: directory + "/store.db", historyLimit: historyLimit)
        self.store = store
        let api = KubernetesAPI(store: store, tokens: [token], bookmarkInterval: bookmarkInterval)
        self.api = api
        var certificates: LocalCertificates?
        if tls {
            certificates = LocalCertificates(directory: directory)
            try certificates?.ensure()
        }
        self.certificates = certificates
        let server = HTTPAPIServer(api: api, port: 0, tls: certificates.map { ($0.serverCertificate, $0.serverKey) })
        let listening = AsyncStream<Int>.makeStream()
        task = Task { try await server.run { listening.continuation.yield($0) } }
        var bound = 0
        for await port in listening.stream {
            bound = port
            break
        }
        port = bound
    }

    var server: String { "\(certificates == nil ? "http" : "https")://127.0.0.1:\(port)" }

    func client(token: String? = nil) -> KubernetesClient {
        var configuration = KubernetesClientConfiguration(server: server, credentials: .bearerToken(Secret(token ?? self.token)))
        if let certificates { configuration.tls.certificateAuthority = .file(certificates.caCertificate) }
        return KubernetesClient(configuration: configuration)
    }

    /// A client whose requests go straight to the handler, as `modelplane serve`'s own controller's do.
    func inProcessClient(token: String? = nil) -> KubernetesClient {
        KubernetesClient(
            configuration: KubernetesClientConfiguration(server: server, credentials: .bearerToken(Secret(token ?? self.token))),
            transport: InProcessTransport(api: api))
    }

    deinit {
        task.cancel()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
