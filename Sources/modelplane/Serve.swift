import APIServer
import ArgumentParser
import Controller
import Foundation
import GitSync
import KubeClient
import Logging
import ResourceStore
import ServiceLifecycle
import Synchronization
import TrafficRouter

/// `modelplane serve`: the embedded Kubernetes-compatible API server on this machine.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the embedded API server and the controller.",
        discussion: Help.text(
            """
            A Kubernetes-compatible API server for ModelDeployments, Leases and Events, stored in SQLite, with the \
            controller in the same process (unless --no-controller). Serves HTTPS with a certificate from a local CA made at first start, and writes DATA/kubeconfig
            (the CA, and a bearer token generated at first start; secrets are mode 0600) for kubectl and the CLI:
              kubectl --kubeconfig DATA/kubeconfig get modeldeployments

            With --git it also syncs ModelDeployments from a Git repository, as `modelplane sync` does (see its help).
            """)
    )

    @Option(help: "Directory for the database, the token and the kubeconfig.")
    var data: String = DataDirectory.default

    @Option(help: "Address to listen on (HOST:PORT, loopback only).")
    var listen: String = "127.0.0.1:6444"

    @Option(
        help: "How many recent changes watchers can resume from (kept in memory); older resourceVersions, and those from before a restart, get 410 Gone.")
    var history: Int64 = 10_000

    @Flag(inversion: .prefixedNo, help: "Run the controller in this process, against this server (audit log: DATA/audit.log).")
    var controller = true

    @Option(help: "Controller workers: how many ModelDeployments are reconciled at once.")
    var workers = Controller<DeploymentReconciler>.defaultWorkers

    @Option(help: "Seconds between the controller's re-checks of every ModelDeployment against its backend.")
    var resync = 60

    @Option(help: "Seconds between looks at a SageMaker endpoint that is being created, updated or deleted.")
    var sagemakerPoll = 15

    @Option(
        help:
            "Also serve /healthz, /readyz and Prometheus /metrics, without TLS or a token, on this address (HOST:PORT, :PORT, port 0 picks one); the API port always serves them (/metrics with the token)."
    )
    var httpAddress: String?

    @Option(help: "On SIGTERM or SIGINT: how long the reconciles in hand may take to finish before the process exits anyway (500ms, 15s, 1m).")
    var shutdownGrace = "30s"

    @Flag(inversion: .prefixedNo, help: "Run the inference router in this process (KServe v2 over HTTP, one endpoint per ModelDeployment).")
    var router = true

    @OptionGroup(title: "Routers apart") var routerStats: RouterStatsOptions

    @Option(help: "Where the inference router listens (HOST:PORT; port 0 picks one).")
    var routerListen = "127.0.0.1:8080"

    @OptionGroup(title: "Inference router limits") var routerLimits: RouterLimits

    @OptionGroup(title: "Git sync") var gitSync: GitOptions

    func validate() throws {
        guard let (host, port) = Self.split(listen) else { throw ValidationError("--listen must be HOST:PORT, got \(listen)") }
        guard ["127.0.0.1", "localhost", "::1"].contains(host) else {
            throw ValidationError("--listen \(listen): only loopback addresses for now (the local CA's certificate names 127.0.0.1, ::1 and localhost only)")
        }
        guard (0...65_535).contains(port) else { throw ValidationError("--listen \(listen): port must be 0...65535") }
        guard history >= 1 else { throw ValidationError("--history must be at least 1") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1...64") }
        guard resync >= 1 else { throw ValidationError("--resync must be at least 1 second") }
        _ = try DurationArgument.parse(shutdownGrace, "--shutdown-grace")
        if let httpAddress, Observability.split(httpAddress) == nil {
            throw ValidationError("--http-address must be HOST:PORT or :PORT, got \(httpAddress)")
        }
        if router, Observability.split(routerListen) == nil { throw ValidationError("--router-listen must be HOST:PORT, got \(routerListen)") }
        _ = try routerLimits.configuration(namespace: "default")
    }

    static func split(_ address: String) -> (String, Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return nil }
        return (String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }

    func run() async throws {
        // Before any metric is made: the controller's and the server's then go to /metrics.
        // (Always: the API port serves /metrics too.)
        Observability.bootstrap()
        let (host, port) = Self.split(listen)!
        let directory = DataDirectory(path: data)
        let token = try directory.prepare()
        let store: ResourceStore
        do {
            store = try ResourceStore(path: directory.path + "/store.db", historyLimit: history)
        } catch {
            throw ValidationError("cannot open the store in \(directory.path): \(plainMessage(error))")
        }
        do {
            // Objects stored before a default existed get it now, so every reader sees it.
            try store.storeAdmissionDefaults(.modelDeployments)
        } catch {
            throw ValidationError("cannot fill the defaults of stored ModelDeployments in \(directory.path): \(error)")
        }
        let certificates = LocalCertificates(directory: directory.path)
        try certificates.ensure()
        let api = KubernetesAPI(store: store, tokens: [token], metrics: { Observability.registry.emitToBuffer() })
        let server = HTTPAPIServer(api: api, host: host, port: port, tls: (certificates.serverCertificate, certificates.serverKey))
        let listening = AsyncStream<String>.makeStream()
        let routerListening = AsyncStream<String>.makeStream()
        // A client of this server that calls its handler in process (same token and checks as
        // over HTTPS, without TLS, sockets or HTTP parsing).
        let inProcessClient = { @Sendable (url: String) in
            KubernetesClient(
                configuration: KubernetesClientConfiguration(server: url, credentials: .bearerToken(Secret(token))), transport: InProcessTransport(api: api))
        }
        let runController = controller
        // The router in this process counts the shadow comparisons; the controller publishes them.
        let shadows = ShadowStatistics()
        let revisions = RevisionStatistics()
        let collector = routerStats.collector()
        let measurer = RouterStatsOptions.measurer(
            shadows: router ? shadows : nil, revisions: router ? revisions : nil, collector: collector, secretsDirectory: routerStats.secretsDir)
        let shadowFigures: DeploymentReconciler.ShadowFigures? = router || collector != nil ? Self.figures(router ? shadows : nil, collector) : nil
        let audit = directory.path + "/audit.log"
        let gitSync = self.gitSync
        let syncInterval = try gitSync.period()
        let grace = try DurationArgument.parse(shutdownGrace, "--shutdown-grace")
        let (workers, resync, sagemakerPoll) = (self.workers, self.resync, self.sagemakerPoll)

        // The processes's parts as services (swift-service-lifecycle): on SIGTERM or SIGINT they
        // stop in reverse order, so the controller and the sync finish the work in hand while the
        // API server they write through is still up, and then the server stops.
        let serving = Atomic<Bool>(false)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let httpAddress {
            // First, so it stops last: probes answer while the rest shuts down.
            services.append(
                .init(
                    service: ProcessPart {
                        try await Observability.serve(address: httpAddress, shadows: router ? shadows : nil, revisions: router ? revisions : nil) {
                            serving.load(ordering: .relaxed)
                        }
                    }))
        }
        services += [
            .init(
                service: ProcessPart {
                    try await cancelWhenGracefulShutdown {
                        try await server.run { bound in
                            let url = "https://\(host.contains(":") ? "[\(host)]" : host):\(bound)"
                            do {
                                try directory.writeKubeconfig(server: url)
                            } catch {
                                FileHandle.standardError.write(Data("cannot write \(directory.kubeconfig): \(plainMessage(error))\n".utf8))
                            }
                            // Written straight to the file descriptor: stdout is block-buffered when it is a file or pipe.
                            FileHandle.standardOutput.write(
                                Data(
                                    "modelplane: serving on \(url) (resourceVersion \(store.resourceVersion)); kubeconfig: \(directory.kubeconfig)\(runController ? "; controller on, audit log: \(audit)" : "")\n"
                                        .utf8))
                            serving.store(true, ordering: .relaxed)
                            listening.continuation.yield(url)
                            listening.continuation.finish()
                            routerListening.continuation.yield(url)
                            routerListening.continuation.finish()
                        }
                    }
                })
        ]
        if runController || gitSync.git != nil {
            services.append(
                .init(
                    service: ProcessPart {
                        var url: String?
                        for await bound in listening.stream { url = bound }
                        guard let url else { return }
                        // The controller and the sync go through the same handler as any client, with the
                        // token, but in process: no TLS, sockets or HTTP parsing (docs/design.md).
                        let client = inProcessClient(url)
                        let running =
                            runController
                            ? try ControllerOptions.make(
                                client: client, scope: .everything, auditLog: audit, workers: workers, resync: resync, sageMakerPoll: sagemakerPoll,
                                shadowFigures: shadowFigures, analysis: measurer) : nil
                        let syncer = try gitSync.syncer(client: client, workDirectory: directory.path + "/git")
                        if let syncer {
                            FileHandle.standardOutput.write(Data("modelplane: syncing \(syncer.source.description) every \(gitSync.interval)\n".utf8))
                        }
                        await withGracefulShutdownHandler {
                            await cancelWhenGracefulShutdown {
                                await withTaskGroup(of: Void.self) { group in
                                    if let running { group.addTask { await running.run() } }
                                    if let syncer { group.addTask { await syncer.run(interval: syncInterval) } }
                                }
                            }
                        } onGracefulShutdown: {
                            FileHandle.standardError.write(Data("modelplane: stopping: finishing the work in hand (at most \(grace))\n".utf8))
                            let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
                            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                                FileHandle.standardError.write(Data("modelplane: work still running after the grace period; exiting\n".utf8))
                                Modelplane.terminate(2)
                            }
                        }
                        if running != nil {
                            FileHandle.standardError.write(Data("modelplane: controller stopped; every action it took is in the audit log\n".utf8))
                        }
                    }))
        }
        if let collector { services.append(.init(service: ProcessPart { await cancelWhenGracefulShutdown { await collector.run() } })) }
        let routerConfiguration = try routerLimits.configuration(namespace: "default", captureDirectory: directory.path + "/capture")
        if router, let (routerHost, routerPort) = Observability.split(routerListen) {
            services.append(
                .init(
                    service: ProcessPart {
                        var url: String?
                        for await bound in routerListening.stream { url = bound }
                        guard let url else { return }
                        // The router reads the deployments the same way.
                        let client = inProcessClient(url)
                        try await cancelWhenGracefulShutdown {
                            try await RouterCommand.run(
                                client: client, watchNamespace: nil, host: routerHost, port: routerPort, configuration: routerConfiguration, shadows: shadows,
                                revisions: revisions)
                        }
                    }))
        }
        var logger = Logger(label: "modelplane.serve")
        logger.logLevel = .warning
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        FileHandle.standardError.write(Data("modelplane: stopped\n".utf8))
    }
}

extension Serve {
    /// `status.shadow` from the router in this process and from routers apart, added up.
    static func figures(_ shadows: ShadowStatistics?, _ collector: RouterStatsCollector? = nil) -> DeploymentReconciler.ShadowFigures {
        { namespace, name, version in
            let mine = (shadows?.snapshots() ?? []).filter { $0.namespace == namespace && $0.name == name && $0.version == version }
            return ShadowSnapshot.merge(mine + (collector?.snapshots(namespace: namespace, name: name, version: version) ?? []))
        }
    }
}

/// One part of a process (the API server; the controller with the sync) as a `Service`.
struct ProcessPart: Service {
    let body: @Sendable () async throws -> Void

    init(_ body: @escaping @Sendable () async throws -> Void) { self.body = body }

    func run() async throws { try await body() }
}

/// The data directory `serve` uses and the CLI finds: database, token and kubeconfig.
struct DataDirectory {
    let path: String

    static var `default`: String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["MODELPLANE_DATA"], !explicit.isEmpty { return explicit }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.modelplane"
    }

    var kubeconfig: String { path + "/kubeconfig" }
    var tokenFile: String { path + "/token" }

    /// Creates the directory (0700) and the token (0600) when missing; returns the token.
    func prepare() throws -> String {
        let files = FileManager.default
        try files.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // No trailing newline: some clients (the official Python one) send the file's bytes verbatim.
        if let existing = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            let trimmed = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty {
                if trimmed != existing { try LocalCertificates.writePrivate(tokenFile, trimmed) }
                return trimmed
            }
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        try LocalCertificates.writePrivate(tokenFile, token)
        return token
    }

    /// The kubeconfig names the CA and the token file by relative path, so it holds no secret itself.
    func writeKubeconfig(server: String) throws {
        try LocalCertificates.writePrivate(
            kubeconfig,
            """
            apiVersion: v1
            kind: Config
            current-context: modelplane
            clusters:
            - name: modelplane
              cluster:
                server: \(server)
                certificate-authority: ca.crt
            users:
            - name: modelplane
              user:
                tokenFile: token
            contexts:
            - name: modelplane
              context: {cluster: modelplane, user: modelplane, namespace: default}

            """)
    }
}
