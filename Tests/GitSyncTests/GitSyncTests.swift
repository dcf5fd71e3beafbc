import Foundation
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

/// A real Git repository the test commits to (the remote the sync fetches from).
final class Repository: Sendable {
    let path: String

    init(_ path: String) async throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try await git("init", "--quiet", "--initial-branch=main")
    }

    @discardableResult
    func git(_ arguments: String...) async throws -> String {
        let result = try await CommandResult.run(
            "/usr/bin/env", ["git", "-c", "user.email=test@modelplane.dev", "-c", "user.name=test"] + arguments, directory: path,
            environment: ["GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"])
        guard result.status == 0 else { throw PeerError("git \(arguments.joined(separator: " ")): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func write(_ file: String, _ text: String) throws {
        let full = path + "/" + file
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }

    func remove(_ file: String) throws { try FileManager.default.removeItem(atPath: path + "/" + file) }

    /// Commits everything; returns the commit.
    @discardableResult
    func commit(_ message: String) async throws -> String {
        try await git("add", "--all")
        try await git("commit", "--quiet", "--allow-empty", "-m", message)
        return try await git("rev-parse", "HEAD")
    }

    static func manifest(_ name: String, version: String, namespace: String? = nil, extra: String = "") -> String {
        """
        apiVersion: modelplane.dev/v1alpha1
        kind: ModelDeployment
        metadata:
          name: \(name)
        \(namespace.map { "  namespace: \($0)" } ?? "")
        spec:
          model: {name: \(name), version: "\(version)"}
          backend: {triton: {url: "http://127.0.0.1:9"}}
        \(extra)
        """
    }
}

/// `modelplane sync` and `modelplane serve --git` against real repositories (the real `git`),
/// and the embedded API server.
@Suite(.timeLimit(.minutes(5))) struct GitSyncTests {
    final class World {
        let directory = NSTemporaryDirectory() + "modelplane-gitsync-" + UUID().uuidString
        let repository: Repository
        var serve: PeerProcess!
        let kube: KubernetesClient

        init(controller: Bool = false, environment: [String: String] = [:], serveArguments: (String) -> [String] = { _ in [] }) async throws {
            repository = try await Repository(directory + "/origin")
            try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
            serve = try await PeerProcess.modelplaneServe(
                data: directory + "/data", controller: controller, extraArguments: serveArguments(directory + "/origin"), environment: environment)
            kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/data/kubeconfig"))
        }

        func sync(_ arguments: String...) async throws -> CommandResult {
            try await CommandResult.run(
                Peers.modelplane, ["sync", "--once", "--git", repository.path, "--path", "deploy"] + arguments,
                environment: ["MODELPLANE_DATA": directory + "/data", "MODELPLANE_KUBECONFIG": ""])
        }

        func get(_ name: String, _ namespace: String = "default") async throws -> ModelDeployment? {
            do {
                return try await kube.get(ModelDeployment.self, name: name, namespace: namespace)
            } catch  where error.isNotFound {
                return nil
            }
        }

        deinit {
            kube.shutdown()
            serve.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func addChangeDeletePruneInvalidCommitPauseAndForcePush() async throws {
        let world = try await World()
        let repo = world.repository
        try repo.write("deploy/a.yaml", Repository.manifest("a", version: "1"))
        try repo.write("deploy/team/b.yml", Repository.manifest("b", version: "1", namespace: "team"))
        try repo.write("deploy/README.md", "not a manifest")
        try repo.write("elsewhere/c.yaml", Repository.manifest("c", version: "1"))
        let first = try await repo.commit("add a and b")
        // Someone's own deployment: the sync never touches it.
        _ = try await world.kube.create(
            ModelDeployment(name: "manual", spec: .init(model: .init(name: "manual", version: "1"), backend: .init(triton: .init(url: "http://127.0.0.1:9")))))

        // Add.
        var result = try await world.sync()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("modeldeployment.modelplane.dev/a created") && result.stdout.contains("team/b created"), "\(result.stdout)")
        var a = try #require(try await world.get("a"))
        #expect(a.metadata.annotations?[ModelDeployment.gitCommitAnnotation] == first)
        #expect(a.metadata.annotations?[ModelDeployment.gitSourceAnnotation] == "\(repo.path) (branch main, path deploy)")
        #expect(a.metadata.labels?[ModelDeployment.syncLabel]?.isEmpty == false)
        #expect(try await world.get("b", "team") != nil)
        #expect(try await world.get("c") == nil, "outside --path")
        result = try await world.sync()
        #expect(result.stdout.contains("0 created, 0 configured, 2 unchanged, 0 pruned"), "a second sync changes nothing: \(result.stdout)")
        let wide = try await CommandResult.run(
            Peers.modelplane, ["get", "a", "-o", "wide"], environment: ["MODELPLANE_DATA": world.directory + "/data", "MODELPLANE_KUBECONFIG": ""])
        #expect(wide.stdout.contains("COMMIT") && wide.stdout.contains(String(first.prefix(12))), "\(wide.stdout)")

        // Change: only a is rewritten, and only a records the new commit.
        try repo.write("deploy/a.yaml", Repository.manifest("a", version: "2"))
        let second = try await repo.commit("a to version 2")
        result = try await world.sync()
        #expect(result.stdout.contains("a configured") && result.stdout.contains("1 unchanged"), "\(result.stdout)")
        a = try #require(try await world.get("a"))
        #expect(a.spec.model.version == "2" && a.metadata.annotations?[ModelDeployment.gitCommitAnnotation] == second)
        #expect(try await world.get("b", "team")?.metadata.annotations?[ModelDeployment.gitCommitAnnotation] == first)

        // Delete: b is pruned; the manual deployment stays.
        try repo.remove("deploy/team/b.yml")
        try await repo.commit("remove b")
        result = try await world.sync()
        #expect(result.stdout.contains("team/b pruned"), "\(result.stdout)")
        #expect(try await world.get("b", "team") == nil)
        #expect(try await world.get("manual") != nil)

        // A manifest naming the manual deployment: refused for that object, the rest applies.
        try repo.write("deploy/manual.yaml", Repository.manifest("manual", version: "9"))
        try await repo.commit("claim manual")
        result = try await world.sync()
        #expect(result.status == 1 && result.stderr.contains("default/manual exists and was not created by this sync"), "\(result.stderr)")
        #expect(try await world.get("manual")?.spec.model.version == "1")
        try repo.remove("deploy/manual.yaml")

        // An invalid commit applies nothing, not even its valid changes, and says where and which commit.
        try repo.write("deploy/a.yaml", Repository.manifest("a", version: "3"))
        try repo.write("deploy/bad.yaml", Repository.manifest("bad", version: "1", extra: "  rollout: {strategy: Rolling}\n  replicas: 3"))
        let invalid = try await repo.commit("version 3 and a bad manifest")
        result = try await world.sync()
        #expect(result.status == 1)
        #expect(result.stderr.contains("deploy/bad.yaml:9:") && result.stderr.contains("spec.rollout.strategy"), "\(result.stderr)")
        #expect(result.stderr.contains("spec.replicas") && result.stderr.contains("(commit \(invalid.prefix(12)))"), "\(result.stderr)")
        #expect(result.stdout.contains("nothing applied, the last good commit stays in force"), "\(result.stdout)")
        #expect(try await world.get("a")?.spec.model.version == "2")
        #expect(try await world.get("bad") == nil)
        let events = try await world.kube.listAll(Event.self, namespace: "default").items
        #expect(events.contains { $0.reason == "InvalidCommit" && ($0.note ?? "").contains(invalid) }, "\(events.map(\.note))")

        // Fixed: the next commit applies.
        try repo.remove("deploy/bad.yaml")
        try await repo.commit("drop the bad manifest")
        result = try await world.sync()
        #expect(result.status == 0 && result.stdout.contains("a configured"), "\(result.stdout)\(result.stderr)")
        #expect(try await world.get("a")?.spec.model.version == "3")

        // Paused: a manual change survives syncs until the pause is lifted.
        a = try #require(try await world.get("a"))
        a.metadata.annotations?[ModelDeployment.syncPausedAnnotation] = "true"
        a.spec.model.version = "1"
        _ = try await world.kube.update(a)
        result = try await world.sync()
        #expect(result.stdout.contains("a paused (left alone)"), "\(result.stdout)")
        #expect(try await world.get("a")?.spec.model.version == "1")
        a = try #require(try await world.get("a"))
        a.metadata.annotations?[ModelDeployment.syncPausedAnnotation] = nil
        _ = try await world.kube.update(a)
        result = try await world.sync()
        #expect(result.stdout.contains("a configured"), "\(result.stdout)")
        #expect(try await world.get("a")?.spec.model.version == "3")

        // A force-push back to the first commit: its state returns (b again, a at version 1).
        try await repo.git("reset", "--quiet", "--hard", first)
        result = try await world.sync()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("team/b created") && result.stdout.contains("a configured"), "\(result.stdout)")
        #expect(try await world.get("a")?.spec.model.version == "1")

        // A path the commit does not have is an error, not an empty repository (which would prune everything).
        let wrongPath = try await CommandResult.run(
            Peers.modelplane, ["sync", "--once", "--git", repo.path, "--path", "deploy/nope"],
            environment: ["MODELPLANE_DATA": world.directory + "/data", "MODELPLANE_KUBECONFIG": ""])
        #expect(wrongPath.status == 1 && wrongPath.stderr.contains("path \"deploy/nope\" does not exist in commit"), "\(wrongPath.stderr)")
        #expect(try await world.get("a") != nil)
    }

    @Test func serveSyncsInTheBackgroundAndKeepsTheLastGoodStateWhileTheRemoteIsGone() async throws {
        let world = try await World(serveArguments: { origin in ["--git", origin, "--path", "deploy", "--interval", "1s"] })
        try world.repository.write("deploy/a.yaml", Repository.manifest("a", version: "1"))
        try await world.repository.commit("a")
        func waitFor(_ condition: (ModelDeployment?) -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if condition(try await world.get("a")) { return true }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
        // The repository had no commit when serve started: the sync backs off, then catches up.
        #expect(try await waitFor { $0?.spec.model.version == "1" })

        // The remote disappears: nothing is pruned, and the sync keeps trying.
        try FileManager.default.moveItem(atPath: world.repository.path, toPath: world.directory + "/moved")
        var failed = false
        let deadline = ContinuousClock.now + .seconds(20)
        while !failed, ContinuousClock.now < deadline {
            let events = try await world.kube.listAll(Event.self, namespace: "default").items
            failed = events.contains { $0.reason == "SyncFailed" && ($0.note ?? "").contains("cannot fetch") }
            if !failed { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(failed, "a SyncFailed event says the fetch failed")
        #expect(try await world.get("a") != nil, "nothing is pruned while the remote is gone")

        // Back, with a new commit: applied.
        try FileManager.default.moveItem(atPath: world.directory + "/moved", toPath: world.repository.path)
        try world.repository.write("deploy/a.yaml", Repository.manifest("a", version: "2"))
        try await world.repository.commit("a to 2")
        #expect(try await waitFor { $0?.spec.model.version == "2" })
    }

    /// `serve` ignores signals (SIGPIPE, which SwiftNIO needs ignored; its ServiceGroup sets
    /// SIGTERM to ignored before a dispatch source takes it); the git it starts
    /// must not inherit any of that, nor a blocked mask: git would live through a SIGPIPE that
    /// should end it, and a `kill -TERM` of a hung fetch.
    @Test func gitStartedByServeHasDefaultSignals() async throws {
        let bin = NSTemporaryDirectory() + "modelplane-git-wrapper-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bin) }
        let git = try #require(Subprocess.find("git"))
        // A git that writes down its own parent and signal state first (sh execs from the spawned
        // process; it reads its status with builtins, since while it waits for a child its mask is
        // its own business), one file per run: git runs git too, and only serve's child is the point.
        let script = """
            #!/bin/sh
            while IFS= read -r line; do case "$line" in PPid:*|SigIgn:*|SigBlk:*) printf '%s\\n' "$line";; esac; done < /proc/$$/status > '\(bin)/run-'$$.tmp
            mv '\(bin)/run-'$$.tmp '\(bin)/run-'$$
            exec '\(git)' "$@"

            """
        try script
            .write(toFile: bin + "/git", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/git")
        let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let world = try await World(environment: ["PATH": path]) { origin in ["--git", origin, "--path", "deploy", "--interval", "1s"] }
        func servesChild() throws -> String? {
            try FileManager.default.contentsOfDirectory(atPath: bin).filter { $0.hasPrefix("run-") && !$0.hasSuffix(".tmp") }
                .map { try String(contentsOfFile: bin + "/" + $0, encoding: .utf8) }
                .first { $0.contains("PPid:\t\(world.serve.pid)\n") }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while try servesChild() == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        func mask(_ text: String, _ field: String) throws -> UInt64 {
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(field + ":") })
            return try #require(UInt64(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces), radix: 16))
        }
        // serve does ignore SIGPIPE (else this test would prove nothing)…
        let serve = try String(contentsOfFile: "/proc/\(world.serve.pid)/status", encoding: .utf8)
        #expect(try mask(serve, "SigIgn") & (UInt64(1) << (SIGPIPE - 1)) != 0, "\(serve)")
        // …and its git ignores and blocks none of the standard signals (1–31; glibc's posix_spawn
        // leaves its two internal real-time signals, 32 and 33, ignored in every child).
        let child = try #require(try servesChild(), "serve ran no git")
        #expect(try mask(child, "SigIgn") & 0x7fff_ffff == 0, "\(child)")
        #expect(try mask(child, "SigBlk") & 0x7fff_ffff == 0, "\(child)")
    }

    /// Git over ssh against a real sshd on a loopback port (Tests/Peers/ssh_peer.py): key
    /// authentication, a known_hosts file, trust on first use remembered, and a server whose key
    /// changed refused with ssh's own words, nothing applied or pruned.
    @Test func sshRemotesWithKeysKnownHostsAndAHostKeyThatChanged() async throws {
        let world = try await World()
        try world.repository.write("deploy/a.yaml", Repository.manifest("a", version: "1"))
        try await world.repository.commit("a")
        let keys = world.directory + "/ssh"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        for name in ["host", "other-host", "client", "stranger"] {
            let made = try await CommandResult.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", "\(keys)/\(name)"])
            #expect(made.status == 0, "\(made.stderr)")
        }
        try FileManager.default.copyItem(atPath: keys + "/client.pub", toPath: keys + "/authorized_keys")
        let sshd = try await PeerProcess.start(
            Peers.python,
            [Peers.script("ssh_peer.py"), "--dir", keys, "--host-key", keys + "/host", "--authorized-keys", keys + "/authorized_keys"])
        defer { sshd.stop() }
        let user = ProcessInfo.processInfo.environment["USER"] ?? (getuid() == 0 ? "root" : NSUserName())
        let url = "ssh://\(user)@127.0.0.1:\(sshd.port)\(world.repository.path)"
        let hostKey = try String(contentsOfFile: keys + "/host.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "[127.0.0.1]:\(sshd.port) \(hostKey)\n".write(toFile: keys + "/known_hosts", atomically: true, encoding: .utf8)
        func sync(_ arguments: [String]) async throws -> CommandResult {
            try await CommandResult.run(
                Peers.modelplane, ["sync", "--once", "--path", "deploy", "--git", url] + arguments,
                environment: ["MODELPLANE_DATA": world.directory + "/data", "MODELPLANE_KUBECONFIG": ""])
        }

        // The key, and a known_hosts file naming the server's key.
        var result = try await sync(["--git-ssh-key", keys + "/client", "--git-known-hosts", keys + "/known_hosts"])
        #expect(result.status == 0 && result.stdout.contains("a created"), "\(result.stdout)\(result.stderr)\n\(sshd.errorLog)")
        // A key the server does not accept: refused, in ssh's words.
        result = try await sync(["--git-ssh-key", keys + "/stranger", "--git-known-hosts", keys + "/known_hosts"])
        #expect(result.status == 1 && result.stderr.contains("Permission denied (publickey)"), "\(result.stderr)")
        // Without a known_hosts file the first key seen is trusted and remembered.
        try world.repository.write("deploy/a.yaml", Repository.manifest("a", version: "2"))
        try await world.repository.commit("a to 2")
        result = try await sync(["--git-ssh-key", keys + "/client"])
        #expect(result.status == 0 && result.stdout.contains("a configured"), "\(result.stdout)\(result.stderr)")

        // The server's key changes: refused, with or without the known_hosts file; nothing
        // applied, nothing pruned.
        sshd.send("rekey \(keys)/other-host")
        #expect(await sshd.waitForOutput(timeout: .seconds(30)) { $0.contains("\nOK") }, "\(sshd.log)")
        try world.repository.remove("deploy/a.yaml")
        try world.repository.write("deploy/b.yaml", Repository.manifest("b", version: "1"))
        try await world.repository.commit("a gone, b added")
        for arguments in [["--git-ssh-key", keys + "/client"], ["--git-ssh-key", keys + "/client", "--git-known-hosts", keys + "/known_hosts"]] {
            result = try await sync(arguments)
            #expect(result.status == 1 && result.stderr.contains("Host key verification failed"), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("cannot fetch"), "\(result.stderr)")
        }
        #expect(try await world.get("a")?.spec.model.version == "2")
        #expect(try await world.get("b") == nil)
    }

    @Test func httpsWithATokenThatRotatesAndNoSecretInAnyMessage() async throws {
        let world = try await World()
        try world.repository.write("deploy/a.yaml", Repository.manifest("a", version: "1"))
        try await world.repository.commit("a")
        // The real git http-backend, serving a bare clone, behind basic auth.
        let root = world.directory + "/served"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = try await CommandResult.run("/usr/bin/env", ["git", "clone", "--quiet", "--bare", world.repository.path, root + "/models.git"])
        let tokenFile = world.directory + "/token"
        try "first-s3cret-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let server = try await PeerProcess.start(Peers.python, [Peers.script("git_http_peer.py"), "--root", root, "--token-file", tokenFile])
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/models.git"
        // git, first on the PATH the syncs see: records every command line it is given (what any
        // local user could read in /proc), then runs the real one.
        let bin = world.directory + "/bin"
        let argvLog = world.directory + "/git-argv.log"
        let realGit = try #require(Subprocess.find("git"))
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '\(argvLog)'\nexec '\(realGit)' \"$@\"\n".write(
            toFile: bin + "/git", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/git")
        func sync(_ arguments: [String]) async throws -> CommandResult {
            try await CommandResult.run(
                Peers.modelplane, ["sync", "--once", "--path", "deploy"] + arguments,
                environment: [
                    "MODELPLANE_DATA": world.directory + "/data", "MODELPLANE_KUBECONFIG": "",
                    "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
                ])
        }

        var result = try await sync(["--git", url, "--git-token-file", tokenFile])
        #expect(result.status == 0 && result.stdout.contains("a created"), "\(result.stdout)\(result.stderr)")

        // The token is read again before every fetch: a rotated one works, an old one would not.
        try "second-s3cret-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        result = try await sync(["--git", url, "--git-token-file", tokenFile])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")

        // Refused credentials, and credentials in the URL: the error says so without the secret.
        let wrong = world.directory + "/wrong-token"
        try "wrong-s3cret-token".write(toFile: wrong, atomically: true, encoding: .utf8)
        result = try await sync(["--git", url, "--git-token-file", wrong])
        #expect(result.status == 1 && result.stderr.contains("cannot fetch"), "\(result.stderr)")
        let inURL = "http://user:url-s3cret-token@127.0.0.1:\(server.port)/models.git"
        let refused = try await sync(["--git", inURL])
        #expect(refused.status == 1 && refused.stderr.contains("http://***@127.0.0.1"), "\(refused.stderr)")
        // Right credentials in the URL (percent-encoded, as URLs carry them) work, and reach git
        // through its environment, never its command line.
        // (A URL that differs is another sync, which would leave the first one's object alone.)
        try "p@ss s3cret/token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        _ = try await world.kube.delete(ModelDeployment.self, name: "a", namespace: "default")
        let accepted = try await sync(["--git", "http://user:p%40ss%20s3cret%2Ftoken@127.0.0.1:\(server.port)/models.git"])
        #expect(accepted.status == 0 && accepted.stdout.contains("a created"), "\(accepted.stdout)\(accepted.stderr)")
        // On modelplane's own command line they are visible, though: it says so.
        #expect(accepted.stderr.contains("warning: the credentials in --git http://***@127.0.0.1"), "\(accepted.stderr)")
        let argv = try String(contentsOfFile: argvLog, encoding: .utf8)
        #expect(argv.contains("fetch") && argv.contains("http://127.0.0.1:\(server.port)/models.git"), "\(argv)")
        #expect(!argv.contains("s3cret") && !argv.contains("user:") && !argv.contains("Authorization"), "\(argv)")
        let events = try await world.kube.listAll(Event.self, namespace: "default").items
        let everything =
            result.stdout + result.stderr + refused.stdout + refused.stderr + accepted.stdout + accepted.stderr + events.map { $0.note ?? "" }.joined()
            + world.serve.log
        #expect(!everything.contains("s3cret"), "\(everything)")
        let annotations = try await world.kube.listAll(ModelDeployment.self, namespace: nil).items.map { "\($0.metadata.annotations ?? [:])" }.joined()
        #expect(!annotations.contains("s3cret"))
    }

    @Test func rollingBackASyncedDeploymentWarnsThatGitWinsUnlessItsSyncIsPaused() async throws {
        // The controller records revisions even while the backend is unreachable.
        let world = try await World(controller: true)
        let environment = ["MODELPLANE_DATA": world.directory + "/data", "MODELPLANE_KUBECONFIG": ""]
        func revisions() async throws -> Int { try await world.get("a")?.status?.revisions?.count ?? 0 }
        for version in ["1", "2"] {
            try world.repository.write("deploy/a.yaml", Repository.manifest("a", version: version))
            try await world.repository.commit("a at \(version)")
            await #expect(try world.sync().status == 0)
            let deadline = ContinuousClock.now + .seconds(30)
            while try await revisions() < Int(version)!, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(try await revisions() == 2)
        var result = try await CommandResult.run(Peers.modelplane, ["rollback", "a"], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("synced from Git") && result.stderr.contains("modelplane.dev/sync-paused=true"), "\(result.stderr)")
        // Unpaused, the next sync restores what Git says.
        #expect(try await world.get("a")?.spec.model.version == "1")
        await #expect(try world.sync().stdout.contains("a configured"))
        #expect(try await world.get("a")?.spec.model.version == "2")

        // Paused first: no warning, and the rollback stays.
        let deadline = ContinuousClock.now + .seconds(30)
        while try await revisions() < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        var a = try #require(try await world.get("a"))
        a.metadata.annotations?[ModelDeployment.syncPausedAnnotation] = "true"
        _ = try await world.kube.update(a)
        result = try await CommandResult.run(Peers.modelplane, ["rollback", "a"], environment: environment)
        #expect(result.status == 0 && !result.stderr.contains("warning"), "\(result.stderr)")
        _ = try await world.sync()
        #expect(try await world.get("a")?.spec.model.version == "1")
    }

    @Test func aThousandManifestsInOneCommit() async throws {
        let world = try await World()
        for index in 0..<1000 {
            try world.repository.write("deploy/team-\(index % 10)/model-\(index).yaml", Repository.manifest("model-\(index)", version: "\(index % 3 + 1)"))
        }
        try await world.repository.commit("a thousand models")
        let result = try await world.sync()
        #expect(result.status == 0 && result.stdout.contains("1000 created"), "\(result.stdout.suffix(300))\(result.stderr)")
        #expect(try await world.kube.listAll(ModelDeployment.self, namespace: nil).items.count == 1000)
        let again = try await world.sync()
        #expect(again.stdout.contains("1000 unchanged"), "\(again.stdout.suffix(300))")
    }
}
