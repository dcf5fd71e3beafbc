import AWS
import ArgumentParser
import Controller
import Foundation
import HTTPClient
import KubeClient
import Logging
import ModelplaneAPI
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

    @OptionGroup(title: "Limits") var limits: RouterLimits

    @Option(help: "Where spec.capture samples are written (DIR/NAMESPACE/NAME/capture-N.jsonl); without it, capture specs are ignored.")
    var captureDirectory: String?

    func validate() throws {
        if Observability.split(listen) == nil { throw ValidationError("--listen must be HOST:PORT, got \(listen)") }
        if let httpAddress, Observability.split(httpAddress) == nil {
            throw ValidationError("--http-address must be HOST:PORT or :PORT, got \(httpAddress)")
        }
        _ = try limits.configuration(namespace: namespace)
    }

    func run() async throws {
        if httpAddress != nil { Observability.bootstrap() }
        // The router's shadow figures and figures per revision, also on the probes port
        // (/shadows, /revisions) for a controller apart.
        let shadows = ShadowStatistics()
        let revisions = RevisionStatistics()
        let client = try connection.client()
        let (host, port) = Observability.split(listen)!
        let configuration = try limits.configuration(namespace: namespace, captureDirectory: captureDirectory)
        let watch = allNamespaces ? nil : namespace
        var logger = Logger(label: "modelplane.router")
        logger.logLevel = .warning
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let httpAddress {
            services.append(
                .init(
                    service: ProcessPart {
                        try await cancelWhenGracefulShutdown {
                            try await Observability.serve(address: httpAddress, shadows: shadows, revisions: revisions) { true }
                        }
                    }))
        }
        services.append(
            .init(
                service: ProcessPart {
                    try await cancelWhenGracefulShutdown {
                        try await Self.run(
                            client: client, watchNamespace: watch, host: host, port: port, configuration: configuration, shadows: shadows,
                            revisions: revisions)
                    }
                }))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Runs the router until cancelled; says where it listens.
    static func run(
        client: KubernetesClient, watchNamespace: String?, host: String, port: Int, configuration: InferenceRouter.Configuration,
        shadows: ShadowStatistics = ShadowStatistics(), revisions: RevisionStatistics = RevisionStatistics()
    ) async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        // SageMaker invocations are signed with the standard credential chain (environment, web
        // identity, profile), as the controller's SageMaker calls are.
        let upstream = Upstream(http: http, aws: DefaultAWSCredentialsProvider(http: http))
        let router = InferenceRouter(
            client: client, watchNamespace: watchNamespace, upstream: upstream, configuration: configuration, shadows: shadows, revisions: revisions)
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

/// The router's limits, the same options for `serve` and `router`.
struct RouterLimits: ParsableArguments {
    @Option(help: "The largest request body the router takes (bytes, or 512Ki, 64Mi, 1Gi); larger gets 413.")
    var routerMaxBody = "64Mi"

    @Option(help: "The largest request header section (bytes, or 64Ki); larger is refused.")
    var routerMaxHeaderBytes = "64Ki"

    @Option(help: "Connections the router serves at once; more wait to be accepted.")
    var routerMaxConnections = 1024

    @Option(help: "How long one request may take: its body arriving, then the backend's answer (504 after it).")
    var routerTimeout = "60s"

    @Option(help: "How long a connection may stay idle, a client stalled mid-request included.")
    var routerIdleTimeout = "60s"

    @Option(help: "Copies for shadow versions waiting to be sent; past it they are dropped and counted.")
    var routerShadowQueue = 256

    @Option(help: "Copies sent to shadow versions at once (the rest wait in the queue): what a shadow may take of the backend.")
    var routerShadowConcurrency = 2

    func configuration(namespace: String, captureDirectory: String? = nil) throws -> InferenceRouter.Configuration {
        var configuration = InferenceRouter.Configuration()
        configuration.namespace = namespace
        configuration.captureDirectory = captureDirectory
        guard let body = Syntax.bytes(routerMaxBody), body <= Int64(Int32.max) else {
            throw ValidationError("--router-max-body \(routerMaxBody): give a size such as 1048576, 512Ki or 64Mi (at most 2Gi)")
        }
        guard let header = Syntax.bytes(routerMaxHeaderBytes), header >= 1024, header <= 1 << 24 else {
            throw ValidationError("--router-max-header-bytes \(routerMaxHeaderBytes): give a size from 1Ki to 16Mi")
        }
        guard (1...1_000_000).contains(routerMaxConnections) else { throw ValidationError("--router-max-connections must be 1...1000000") }
        guard (0...1_000_000).contains(routerShadowQueue) else { throw ValidationError("--router-shadow-queue must be 0...1000000") }
        guard (1...1024).contains(routerShadowConcurrency) else { throw ValidationError("--router-shadow-concurrency must be 1...1024") }
        configuration.shadowConcurrency = routerShadowConcurrency
        configuration.maxBodyBytes = Int(body)
        configuration.maxHeaderBytes = Int(header)
        configuration.maxConnections = routerMaxConnections
        configuration.upstreamTimeout = try DurationArgument.parse(routerTimeout, "--router-timeout")
        configuration.idleTimeout = try DurationArgument.parse(routerIdleTimeout, "--router-idle-timeout")
        configuration.shadowQueue = routerShadowQueue
        return configuration
    }
}

/// Routers that run apart from the controller, whose shadow figures it adds up into
/// `status.shadow` and whose figures per revision analysis measures (`serve` and `controller`).
struct RouterStatsOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Where the secrets that analysis webhooks name (secretRef) are read: the file DIR/NAME/KEY, as Kubernetes mounts a Secret.",
            valueName: "dir"))
    var secretsDir: String?

    @Option(
        help: ArgumentHelp(
            "A router's probes address (http://HOST:PORT, its --http-address) whose shadow figures go into status.shadow and whose figures per revision analysis measures; repeat for several. A host name is resolved to all its addresses every round, so a headless Service reaches every replica.",
            valueName: "url"))
    var routerStats: [String] = []

    func validate() throws {
        for url in routerStats where URLComponents(string: url)?.host?.isEmpty ?? true || !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ValidationError("--router-stats must be http://HOST:PORT, got \(url)")
        }
    }

    /// Where analysis's measurements come from: the router in this process (`shadows`,
    /// `revisions`), the routers apart (`collector`), Prometheus and webhooks.
    static func measurer(
        shadows: ShadowStatistics?, revisions: RevisionStatistics?, collector: RouterStatsCollector?, secretsDirectory: String?
    ) -> AnalysisMeasurer {
        var requestFigures: AnalysisMeasurer.RequestFiguresSource?
        if revisions != nil || collector != nil {
            requestFigures = { namespace, name, revision in
                var all = collector?.figures(namespace: namespace, name: name, revision: revision) ?? [:]
                if let mine = revisions?.figures(namespace: namespace, name: name, revision: revision) { all["in process"] = mine }
                return all
            }
        }
        let shadowFigures: DeploymentReconciler.ShadowFigures? = shadows != nil || collector != nil ? Serve.figures(shadows, collector) : nil
        return AnalysisMeasurer(http: HTTPClient(), requestFigures: requestFigures, shadowFigures: shadowFigures, secretsDirectory: secretsDirectory)
    }

    /// The collector, when routers were named.
    func collector() -> RouterStatsCollector? {
        routerStats.isEmpty ? nil : RouterStatsCollector(urls: routerStats.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }, http: HTTPClient())
    }
}
