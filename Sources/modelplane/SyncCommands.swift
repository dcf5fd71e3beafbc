import ArgumentParser
import Controller
import Foundation
import GitSync
import KubeClient
import Logging

/// Where to sync ModelDeployments from: shared by `modelplane sync` and `modelplane serve --git`.
struct GitOptions: ParsableArguments {
    @Option(help: "A Git repository to sync ModelDeployments from: a path, file://, https:// or ssh:// URL, or user@host:path.")
    var git: String?

    @Option(help: "The branch to follow.")
    var branch = "main"

    @Option(help: "A directory (read recursively) or file in the repository holding the manifests (default: the whole repository).")
    var path = ""

    @Option(help: "How often to sync: 30s, 5m, 1h, or seconds.")
    var interval = "30s"

    @Option(help: "A file holding a token for an https remote, re-read before every fetch.")
    var gitTokenFile: String?

    @Option(help: "The user name sent with the token (GitHub: any; GitLab: oauth2).")
    var gitTokenUser = "x-access-token"

    @Option(help: "A private key file for an ssh remote.")
    var gitSSHKey: String?

    @Option(help: "A known_hosts file the ssh server's key must be in (default: trust the first key seen, and remember it).")
    var gitKnownHosts: String?

    /// The source, or nil without `--git`.
    func source() throws -> GitSource? {
        guard let git else { return nil }
        let source: GitSource
        do {
            source = try GitSource(
                url: git, branch: branch, path: path,
                credentials: .init(tokenFile: gitTokenFile, tokenUser: gitTokenUser, sshKeyFile: gitSSHKey, knownHostsFile: gitKnownHosts))
        } catch {
            throw ValidationError(error.description)
        }
        if source.urlCredentials != nil {
            // git never sees them on its command line, but this process has them on its own.
            FileHandle.standardError.write(
                Data(
                    "warning: the credentials in --git \(source.redactedURL) are on this process's command line, which every local user can read; put the token or password in --git-token-file (with --git-token-user) instead\n"
                        .utf8))
        }
        return source
    }

    func period() throws -> Duration {
        let period = try DurationArgument.parse(interval, "--interval")
        guard period >= .seconds(1) else { throw ValidationError("--interval \(interval): give at least 1s") }
        return period
    }

    func validate() throws {
        _ = try source()
        _ = try period()
        for file in [gitTokenFile, gitSSHKey, gitKnownHosts].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("cannot read \(file)")
        }
    }

    /// `quiet`: no log lines (the caller prints the report itself).
    func syncer(client: KubernetesClient, workDirectory: String, quiet: Bool = false) throws -> GitSyncer? {
        guard let source = try source() else { return nil }
        let host = ProcessInfo.processInfo.hostName
        var logger = Logger(label: "modelplane.sync")
        if quiet { logger.logLevel = .critical }
        do {
            return try GitSyncer(
                source: source, workDirectory: workDirectory, client: client,
                events: EventRecorder(client: client, controller: "modelplane.dev/git-sync", instance: "\(host)-\(ProcessInfo.processInfo.processIdentifier)"),
                logger: logger)
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// `modelplane sync`: the Git sync alone (in a cluster, next to the controller).
struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sync ModelDeployments from a Git repository.",
        discussion: Help.text(
            """
            Each sync fetches the branch, reads every manifest under --path as `modelplane validate` does, creates
            and updates the ModelDeployments it finds, and deletes those it created before that are no longer
            there. A commit with any invalid manifest applies nothing (each problem is printed with FILE:LINE:COLUMN
            and the commit); what was applied stays. Objects the sync did not create are never changed or deleted,
            and an object annotated modelplane.dev/sync-paused=true is left alone. See docs/gitops.md.
            """))

    @OptionGroup var source: GitOptions

    @Flag(help: "Sync once and exit: 0 when everything applied, 1 otherwise.")
    var once = false

    @Option(help: "Where the sync keeps its Git mirror.")
    var workDir: String = DataDirectory.default + "/git"

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if source.git == nil { throw ValidationError("--git URL is required") }
    }

    func run() async throws {
        guard let syncer = try source.syncer(client: try connection.client(), workDirectory: workDir, quiet: once) else { return }
        if once {
            let report = await syncer.sync()
            for key in report.created { print("modeldeployment.modelplane.dev/\(Self.name(key)) created") }
            for key in report.configured { print("modeldeployment.modelplane.dev/\(Self.name(key)) configured") }
            for key in report.pruned { print("modeldeployment.modelplane.dev/\(Self.name(key)) pruned") }
            for key in report.paused { print("modeldeployment.modelplane.dev/\(Self.name(key)) paused (left alone)") }
            for line in report.problems + report.errors { FileHandle.standardError.write(Data("\(line)\n".utf8)) }
            print(report)
            if !report.succeeded { throw ExitCode(1) }
            return
        }
        FileHandle.standardOutput.write(Data("modelplane: syncing \(syncer.source.description) every \(source.interval)\n".utf8))
        await syncer.run(interval: try source.period())
    }

    /// "NAMESPACE/NAME" as kubectl prints it: the name, namespaced only outside "default".
    static func name(_ key: String) -> String {
        key.hasPrefix("default/") ? String(key.dropFirst("default/".count)) : key
    }
}
