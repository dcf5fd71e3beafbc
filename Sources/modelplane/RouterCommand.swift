import ArgumentParser
import Foundation
import HTTPClient
import KubeClient
import Logging
import ServiceLifecycle
import Synchronization
import TrafficRouter

/// `modelplane router`: the inference router alone, against any Kubernetes-style API (it only
/// reads ModelDeployments; no controller needs to run in the same process).
struct RouterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router", abstract: "Run the inference router alone.",
        discussion: Help.text(
            """
            KServe v2 over HTTP, one endpoint per ModelDeployment (/v2/models/NAME/infer), sending each request \
            where the deployment's status.traffic says. `modelplane serve` runs it too (--router-listen).
            """))

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Where to listen (HOST:PORT; port 0 picks one).")
    var listen = "127.0.0.1:8080"

    @Option(name: .shortAndLong, help: "The namespace of a model name no Modelplane-Namespace header qualifies.")
    var namespace = "default"

    @Flag(help: "Serve every namespace's deployments (default: only --namespace's).")
    var allNamespaces = false

    @Option(help: "Serve /healthz, /readyz and Prometheus /metrics (the router's requests and latencies) on this address (HOST:PORT, :PORT).")
    var httpAddress: String?

    func validate() throws {
        if Observability.split(listen) == nil { throw ValidationError("--listen must be HOST:PORT, got \(listen)") }
        if let httpAddress, Observability.split(httpAddress) == nil {
            throw ValidationError("--http-address must be HOST:PORT or :PORT, got \(httpAddress)")
        }
    }

    func run() async throws {
        if httpAddress != nil { Observability.bootstrap() }
        let client = try connection.client()
        let (host, port) = Observability.split(listen)!
        let watch = allNamespaces ? nil : namespace
        var logger = Logger(label: "modelplane.router")
        logger.logLevel = .warning
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let httpAddress {
            services.append(
                .init(service: ProcessPart { try await cancelWhenGracefulShutdown { try await Observability.serve(address: httpAddress) { true } } }))
        }
        services.append(
            .init(
                service: ProcessPart {
                    try await cancelWhenGracefulShutdown {
                        try await Self.run(client: client, watchNamespace: watch, host: host, port: port, namespace: namespace)
                    }
                }))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Runs the router until cancelled; says where it listens.
    static func run(
        client: KubernetesClient, watchNamespace: String?, host: String, port: Int, namespace: String, shadows: ShadowStatistics = ShadowStatistics()
    ) async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        var configuration = InferenceRouter.Configuration()
        configuration.namespace = namespace
        let router = InferenceRouter(
            client: client, watchNamespace: watchNamespace, upstream: Upstream(http: http), configuration: configuration, shadows: shadows)
        let shown = host.contains(":") ? "[\(host)]" : host
        let listening = Mutex(false)
        do {
            try await router.run(host: host, port: port) { bound in
                listening.withLock { $0 = true }
                FileHandle.standardOutput.write(Data("modelplane: inference router on http://\(shown):\(bound) (KServe v2: /v2/models/NAME/infer)\n".utf8))
            }
        } catch  where !listening.withLock({ $0 }) {
            throw CLIError("the inference router cannot listen on \(shown):\(port) (\(error)); give --router-listen another address, or --no-router")
        }
    }
}
