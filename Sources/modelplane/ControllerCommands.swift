import AWS
import ArgumentParser
import Controller
import Foundation
import HTTPClient
import KubeClient
import Logging
import ModelplaneAPI
import Rollout
import SageMakerBackend
import ServiceLifecycle
import Triton
import TritonBackend

/// The composition root: the serving backends this build of Modelplane reconciles, in order of
/// preference. The controller knows them only through `ServingBackend`.
enum Backends {
    static func standard(http: HTTPClient, sageMakerPoll: Duration = .seconds(15), sageMakerAttempts: Int = 5) -> BackendRegistry {
        let credentials = DefaultAWSCredentialsProvider(http: http)
        return BackendRegistry([
            TritonServingBackend(triton: { TritonClient(baseURL: $0, http: http) }),
            SageMakerServingBackend(
                client: { SageMakerClient(region: $0, endpoint: $1, credentials: credentials, http: http, maxAttempts: sageMakerAttempts) },
                pollInterval: sageMakerPoll),
        ])
    }
}

/// Builds the controller both `serve` and `controller` run.
enum ControllerOptions {
    static func make(
        client: KubernetesClient, scope: ControllerScope, auditLog: String, workers: Int, resync: Int, sageMakerPoll: Int,
        mayAct: @escaping @Sendable () -> Bool = { true }, shadowFigures: DeploymentReconciler.ShadowFigures? = nil, analysis: AnalysisMeasurer? = nil
    ) throws -> Controller<DeploymentReconciler> {
        let audit: AuditLog
        do {
            audit = try AuditLog(path: auditLog)
        } catch {
            throw CLIError("cannot open the audit log \(auditLog): \(plainMessage(error))")
        }
        let backends = Backends.standard(http: HTTPClient(), sageMakerPoll: .seconds(max(1, sageMakerPoll)))
        let cache = ObjectCache<ModelDeployment>.modelDeployments(backends: backends)
        let host = ProcessInfo.processInfo.hostName
        let reconciler = DeploymentReconciler(
            client: client, cache: cache, backends: backends, audit: audit,
            events: EventRecorder(client: client, instance: "\(host)-\(ProcessInfo.processInfo.processIdentifier)"), mayAct: mayAct,
            shadowFigures: shadowFigures, analysis: analysis)
        return Controller(client: client, scope: scope, cache: cache, reconciler: reconciler, workers: workers, resyncPeriod: .seconds(resync))
    }
}

/// `modelplane controller`: the controller alone, against any Kubernetes-style API server.
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run the controller alone against an API server.",
        discussion: Help.text(
            """
            Reconciles the ModelDeployments of any Kubernetes-style API server: a cluster, or `modelplane serve --no-controller`.

            With several replicas, leader election (a coordination.k8s.io/v1 Lease, client-go's timings) lets exactly one
            reconcile; the others wait, ready to take over. A leader that cannot renew in time stops acting at once and
            exits (exit code 1) so it is restarted as a standby. SIGTERM or SIGINT: no new work, the reconciles in hand
            finish (up to --shutdown-grace), the lease is released, exit 0.
            """))

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .shortAndLong, help: "Reconcile only this namespace; repeat for several (default: all).")
    var namespace: [String] = []

    @Option(name: [.customShort("l"), .long], help: "Reconcile only ModelDeployments with these labels (a label selector, as kubectl's -l).")
    var selector: String?

    @Option(
        help:
            "I/N: reconcile only the deployments whose namespace/name hashes to I of N (0-based), for very large installations; each shard elects its own leader."
    )
    var shard: String?

    @Option(help: "Where to append the audit log.")
    var auditLog: String = DataDirectory(path: DataDirectory.default).path + "/audit.log"

    @Option(help: "How many ModelDeployments are reconciled at once.")
    var workers = Controller<DeploymentReconciler>.defaultWorkers

    @Option(help: "Seconds between re-checks of every ModelDeployment against its backend.")
    var resync = 60

    @Option(help: "Seconds between looks at a SageMaker endpoint that is being created, updated or deleted.")
    var sagemakerPoll = 15

    @Flag(inversion: .prefixedNo, help: "Elect a leader among replicas with a Lease; only the leader reconciles.")
    var leaderElect = true

    @Option(help: "The Lease's name.")
    var leaderElectResourceName = "modelplane-controller"

    @Option(help: "The Lease's namespace (default: the service account's in a pod, else the kubeconfig context's).")
    var leaderElectResourceNamespace: String?

    @Option(help: "How long a lease is valid without renewal (15s, 500ms, 1m).")
    var leaderElectLeaseDuration = "15s"

    @Option(help: "How long the leader keeps trying to renew before it stops leading.")
    var leaderElectRenewDeadline = "10s"

    @Option(help: "Time between attempts to acquire or renew.")
    var leaderElectRetryPeriod = "2s"

    @Option(help: "How long a stopping controller waits for the reconciles in hand.")
    var shutdownGrace = "30s"

    @Option(help: "Serve /healthz, /readyz and Prometheus /metrics on HOST:PORT (:8080 for every address; port 0 picks one).")
    var httpAddress: String?

    @OptionGroup(title: "Routers") var routerStats: RouterStatsOptions

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1...64") }
        guard resync >= 1 else { throw ValidationError("--resync must be at least 1 second") }
        if let problem = try election(namespace: "default").problem() { throw ValidationError("leader election: \(problem)") }
        _ = try DurationArgument.parse(shutdownGrace, "--shutdown-grace")
        _ = try scope()
        if let httpAddress, Observability.split(httpAddress) == nil {
            throw ValidationError("--http-address must be HOST:PORT or :PORT, got \(httpAddress)")
        }
    }

    func scope() throws -> ControllerScope {
        var scope = ControllerScope(namespaces: namespace, labelSelector: selector)
        if let shard {
            let parts = shard.split(separator: "/")
            guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, (0..<count).contains(index) else {
                throw ValidationError("--shard \(shard): give I/N with 0 <= I < N, e.g. 0/3")
            }
            scope.shard = (index, count)
        }
        if let selector {
            do {
                _ = try LabelSelector(parsing: selector)
            } catch {
                throw ValidationError("--selector \(selector): \(error)")
            }
        }
        return scope
    }

    func election(namespace: String) throws -> LeaderElector.Configuration {
        let shard = try scope().shard
        return LeaderElector.Configuration(
            namespace: namespace, name: leaderElectResourceName + (shard.map { "-shard-\($0.index)-of-\($0.count)" } ?? ""),
            leaseDuration: try DurationArgument.parse(leaderElectLeaseDuration, "--leader-elect-lease-duration"),
            renewDeadline: try DurationArgument.parse(leaderElectRenewDeadline, "--leader-elect-renew-deadline"),
            retryPeriod: try DurationArgument.parse(leaderElectRetryPeriod, "--leader-elect-retry-period"))
    }

    func run() async throws {
        if httpAddress != nil { Observability.bootstrap() }
        let configuration = try connection.configuration()
        let client = KubernetesClient(configuration: configuration)
        let elector =
            leaderElect
            ? LeaderElector(client: client, configuration: try election(namespace: leaderElectResourceNamespace ?? configuration.namespace)) : nil
        let collector = routerStats.collector()
        let controller = try ControllerOptions.make(
            client: client, scope: try scope(), auditLog: auditLog, workers: workers, resync: resync, sageMakerPoll: sagemakerPoll,
            mayAct: { elector?.isLeader ?? true }, shadowFigures: collector.map { Serve.figures(nil, $0) },
            analysis: RouterStatsOptions.measurer(shadows: nil, revisions: nil, collector: collector, secretsDirectory: routerStats.secretsDir))
        let scope = try scope().description
        let election = elector.map { " as \($0.configuration.identity), leader election on lease \($0.configuration.namespace)/\($0.configuration.name)" } ?? ""
        FileHandle.standardOutput.write(Data("modelplane: controller running (\(scope))\(election); audit log: \(auditLog)\n".utf8))
        let httpAddress = self.httpAddress
        let grace = try DurationArgument.parse(shutdownGrace, "--shutdown-grace")
        // The parts as services (swift-service-lifecycle), as in `serve`: on SIGTERM or SIGINT the
        // controller stops taking work, finishes the reconciles in hand (at most --shutdown-grace)
        // and releases the Lease; the probes stop last.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let collector { services.append(.init(service: ProcessPart { await cancelWhenGracefulShutdown { await collector.run() } })) }
        if let httpAddress {
            services.append(
                .init(
                    service: ProcessPart {
                        // Ready: the leader once its cache is filled; a standby while it can reach the API server.
                        try await Observability.serve(address: httpAddress) {
                            guard let elector else { return controller.hasSynced }
                            return elector.isLeader ? controller.hasSynced : elector.isReachable
                        }
                    }))
        }
        services.append(
            .init(
                service: ProcessPart {
                    let lost = await withGracefulShutdownHandler {
                        await cancelWhenGracefulShutdown { () async -> Bool in
                            guard let elector else {
                                await controller.run()
                                return false
                            }
                            return await elector.run {
                                FileHandle.standardOutput.write(Data("modelplane: leading (\(elector.configuration.identity))\n".utf8))
                                await controller.run()
                            } == .lostLeadership
                        }
                    } onGracefulShutdown: {
                        FileHandle.standardError.write(Data("modelplane: stopping: finishing the work in hand (at most \(grace))\n".utf8))
                        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
                        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                            FileHandle.standardError.write(Data("modelplane: work still running after the grace period; exiting\n".utf8))
                            Modelplane.terminate(2)
                        }
                    }
                    if lost { throw LostLeadership() }
                }, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        var logger = Logger(label: "modelplane.controller")
        logger.logLevel = .warning
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch is LostLeadership {
            FileHandle.standardError.write(Data("modelplane: lost leadership (the lease was not renewed in time); exiting\n".utf8))
            throw ExitCode(1)
        }
        FileHandle.standardError.write(Data("modelplane: controller stopped; the lease is released and every action it took is in the audit log\n".utf8))
    }
}

/// A leader that could not renew its lease in time: the process exits 1, to be restarted as a standby.
struct LostLeadership: Error {}

/// Durations on the command line: `500ms`, `15s`, `5m`, `1h`, or plain seconds (`2.5`).
enum DurationArgument {
    static func parse(_ text: String, _ option: String) throws -> Duration {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value > 0 { return .milliseconds(Int64((value * scale * 1000).rounded())) }
        }
        if let value = Double(text), value > 0 { return .milliseconds(Int64((value * 1000).rounded())) }
        throw ValidationError("\(option) \(text): give a positive duration such as 500ms, 15s, 5m or 1h")
    }
}

/// `modelplane audit verify`.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the audit log.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that the audit log is intact.",
            discussion: Help.text(
                """
                Checks that no record was edited, removed, inserted or cut off the end. Exit 0 and the record count when \
                the chain is intact; exit 1 naming the first broken line otherwise, or when there is no log or no record to verify.
                """))

        @Option(help: "The audit log (default: DATA/audit.log; DATA is $MODELPLANE_DATA, else ~/.modelplane).")
        var file: String?

        func run() throws {
            let path = file ?? DataDirectory(path: DataDirectory.default).path + "/audit.log"
            guard FileManager.default.fileExists(atPath: path) else {
                let hint =
                    file == nil
                    ? "the server writes DATA/audit.log in its data directory: give --file, or set MODELPLANE_DATA to the directory `modelplane serve --data` uses"
                    : "the server writes audit.log in its data directory (`modelplane serve --data DIR`), or where `modelplane controller --audit-log` says"
                throw CLIError("no audit log at \(path): \(hint)")
            }
            let count: Int
            do {
                count = try AuditLog.verify(path: path)
            } catch let problem as AuditLog.Problem {
                throw CLIError("\(path):\(problem)")
            } catch {
                throw CLIError(plainMessage(error))
            }
            // An empty log is no evidence of anything: say so, and do not pass.
            guard count > 0 else {
                throw CLIError(
                    "\(path) holds no records, so there is nothing to verify; if the controller has acted, this is not the log it writes (see `modelplane serve --help`)"
                )
            }
            print("\(path): \(count) record\(count == 1 ? "" : "s"), chain intact")
        }
    }
}
