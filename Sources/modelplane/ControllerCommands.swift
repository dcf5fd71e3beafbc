import ArgumentParser
import Controller
import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI

/// Builds the controller both `serve` and `controller` run.
enum ControllerOptions {
    static func make(client: KubernetesClient, namespace: String?, auditLog: String, workers: Int, resync: Int) throws -> Controller<DeploymentReconciler> {
        let audit: AuditLog
        do {
            audit = try AuditLog(path: auditLog)
        } catch {
            throw CLIError("cannot open the audit log \(auditLog): \(error)")
        }
        let cache = ObjectCache<ModelDeployment>.modelDeployments()
        let host = ProcessInfo.processInfo.hostName
        let reconciler = DeploymentReconciler(
            client: client, cache: cache, http: HTTPClient(), audit: audit,
            events: EventRecorder(client: client, instance: "\(host)-\(ProcessInfo.processInfo.processIdentifier)"))
        return Controller(client: client, namespace: namespace, cache: cache, reconciler: reconciler, workers: workers, resyncPeriod: .seconds(resync))
    }
}

/// `modelplane controller`: the controller alone, against any Kubernetes-style API server.
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run the controller alone against a Kubernetes-style API server (a cluster, or `modelplane serve --no-controller`).")

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .shortAndLong, help: "Reconcile only this namespace (default: all).")
    var namespace: String?

    @Option(help: "Where to append the audit log.")
    var auditLog: String = DataDirectory(path: DataDirectory.default).path + "/audit.log"

    @Option(help: "How many ModelDeployments are reconciled at once.")
    var workers = 4

    @Option(help: "Seconds between re-checks of every ModelDeployment against its backend.")
    var resync = 60

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1...64") }
        guard resync >= 1 else { throw ValidationError("--resync must be at least 1 second") }
    }

    func run() async throws {
        let controller = try ControllerOptions.make(client: try connection.client(), namespace: namespace, auditLog: auditLog, workers: workers, resync: resync)
        FileHandle.standardOutput.write(
            Data("modelplane: controller running (\(namespace.map { "namespace \($0)" } ?? "all namespaces")); audit log: \(auditLog)\n".utf8))
        await controller.run()
    }
}

/// `modelplane audit verify`.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the audit log.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that no audit record was edited, removed, inserted or cut off the end.",
            discussion: "Exit 0 and the record count when the chain is intact; exit 1 naming the first broken line otherwise.")

        @Option(help: "The audit log (default: DATA/audit.log).")
        var file: String = DataDirectory(path: DataDirectory.default).path + "/audit.log"

        func run() throws {
            do {
                let count = try AuditLog.verify(path: file)
                print("\(file): \(count) record\(count == 1 ? "" : "s"), chain intact")
            } catch let problem as AuditLog.Problem {
                fail("\(file):\(problem)")
            } catch {
                fail("\(file): \(error)")
            }
        }
    }
}
