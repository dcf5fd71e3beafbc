import Foundation
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

/// The CLI against a real `modelplane serve`, found with no flags through MODELPLANE_DATA.
@Suite(.timeLimit(.minutes(5))) struct CLITests {
    final class Session {
        let directory = NSTemporaryDirectory() + "modelplane-cli-" + UUID().uuidString
        var server: PeerProcess!

        init() async throws { server = try await PeerProcess.modelplaneServe(data: directory) }

        func modelplane(_ arguments: String..., stdin: String? = nil) async throws -> CommandResult {
            try await CommandResult.run(
                Peers.modelplane, arguments, stdin: stdin, directory: Peers.repositoryRoot,
                environment: ["MODELPLANE_DATA": directory, "MODELPLANE_KUBECONFIG": ""])
        }

        deinit {
            server.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func applyCreatesThenConfiguresThenLeavesAlone() async throws {
        let session = try await Session()
        var result = try await session.modelplane("apply", "-f", "manifests/examples")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout == """
                modeldeployment.modelplane.dev/churn-predictor created
                modeldeployment.modelplane.dev/recommender created
                modeldeployment.modelplane.dev/fraud-detector created
                modeldeployment.modelplane.dev/sentiment created

                """)
        result = try await session.modelplane("apply", "-f", "manifests/examples/triton-minimal.yaml")
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment unchanged\n")
        let changed = try String(contentsOfFile: Peers.repositoryRoot + "/manifests/examples/triton-minimal.yaml", encoding: .utf8).replacingOccurrences(
            of: "version: \"2\"", with: "version: \"3\"")
        result = try await session.modelplane("apply", "-f", "-", stdin: changed)
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment configured\n", "\(result.stderr)")

        // What commands set on the live object (a pause, a pending request) outlives an apply of a
        // manifest that does not name it; the manifest's own annotations are replaced as before.
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: session.directory + "/kubeconfig"))
        var live = try await kube.get(ModelDeployment.self, name: "sentiment", namespace: "default")
        live.metadata.annotations = (live.metadata.annotations ?? [:]).merging(
            [ModelDeployment.rolloutPausedAnnotation: "true", ModelDeployment.rolloutRequestAnnotation: "promote@7", "team": "old"]) { $1 }
        _ = try await kube.update(live)
        result = try await session.modelplane("apply", "-f", "-", stdin: changed)
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment configured\n", "\(result.stderr)")
        var after = try await kube.get(ModelDeployment.self, name: "sentiment", namespace: "default").metadata.annotations ?? [:]
        #expect(after[ModelDeployment.rolloutPausedAnnotation] == "true" && after[ModelDeployment.rolloutRequestAnnotation] == "promote@7", "\(after)")
        #expect(after["team"] == nil, "an annotation only the live object had, and not a command's, goes")
        // A request not yet acted on was for this version: a manifest with another one drops it.
        result = try await session.modelplane("apply", "-f", "-", stdin: changed.replacingOccurrences(of: "version: \"3\"", with: "version: \"4\""))
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment configured\n", "\(result.stderr)")
        after = try await kube.get(ModelDeployment.self, name: "sentiment", namespace: "default").metadata.annotations ?? [:]
        #expect(after[ModelDeployment.rolloutPausedAnnotation] == "true" && after[ModelDeployment.rolloutRequestAnnotation] == nil, "\(after)")
    }

    @Test func applyRefusesAnInvalidSetWhole() async throws {
        let session = try await Session()
        let broken = try String(contentsOfFile: Peers.repositoryRoot + "/manifests/examples/triton-minimal.yaml", encoding: .utf8).replacingOccurrences(
            of: "version: \"2\"", with: "version: 2")
        let result = try await session.modelplane("apply", "-f", "manifests/examples/triton-fraud-detector.yaml", "-f", "-", stdin: broken)
        #expect(result.status == 1)
        #expect(result.stderr.contains("<stdin>:10:14: spec.model.version: Invalid type"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was applied"))
        #expect(try await session.modelplane("get").stderr == "No resources found in default namespace.\n")
    }

    @Test func getPrintsTablesAndDocuments() async throws {
        let session = try await Session()
        _ = try await session.modelplane("apply", "-f", "manifests/examples")
        var result = try await session.modelplane("get")
        let lines = result.stdout.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace) }
        #expect(lines.first == ["NAME", "MODEL", "VERSION", "SERVING", "TRAFFIC", "BACKEND", "READY", "PHASE", "AGE"])
        #expect(
            lines.dropFirst().map { $0.prefix(3) } == [
                ["fraud-detector", "fraud", "1"], ["recommender", "recommender", "2"], ["sentiment", "sentiment", "2"],
            ])
        result = try await session.modelplane("get", "-A", "-o", "wide")
        #expect(result.stdout.split(separator: "\n").count == 5)
        #expect(result.stdout.hasPrefix("NAMESPACE   NAME"))
        result = try await session.modelplane("get", "sentiment", "-o", "json")
        let object = try JSONValue(parsing: result.stdout)
        #expect(object["spec"]?["model"]?["version"] == "2")
        result = try await session.modelplane("get", "sentiment", "-o", "yaml")
        #expect(result.stdout.contains("version: \"2\""))
        #expect(result.stdout.contains("creationTimestamp: \""), "timestamps are quoted for YAML 1.1 readers")
    }

    @Test func getWatchPrintsARowPerChange() async throws {
        let session = try await Session()
        _ = try await session.modelplane("apply", "-f", "manifests/examples/triton-minimal.yaml")
        // Ready once the table's header is out; the port is not used.
        let watcher = try await PeerProcess.start(
            Peers.modelplane, ["get", "-w"], environment: ["MODELPLANE_DATA": session.directory, "MODELPLANE_KUBECONFIG": ""]
        ) { $0.hasPrefix("NAME ") ? 0 : nil }
        defer { watcher.stop() }
        #expect(await watcher.waitForOutput { $0.contains("\nsentiment ") }, "\(watcher.log)")
        let changed = try String(contentsOfFile: Peers.repositoryRoot + "/manifests/examples/triton-minimal.yaml", encoding: .utf8).replacingOccurrences(
            of: "version: \"2\"", with: "version: \"3\"")
        _ = try await session.modelplane("apply", "-f", "-", stdin: changed)
        _ = try await session.modelplane("apply", "-f", "manifests/examples/triton-fraud-detector.yaml")
        #expect(await watcher.waitForOutput { $0.contains("\nfraud-detector ") }, "\(watcher.log)")
        let rows = watcher.log.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace).prefix(3) }
        #expect(rows == [["NAME", "MODEL", "VERSION"], ["sentiment", "sentiment", "2"], ["sentiment", "sentiment", "3"], ["fraud-detector", "fraud", "1"]])
        // Rows after the table line up with it.
        let lines = watcher.log.split(separator: "\n")
        #expect(
            lines[2].ranges(of: "sentiment").last?.lowerBound.utf16Offset(in: lines[2])
                == lines[0].firstRange(of: "MODEL")?.lowerBound.utf16Offset(in: lines[0]))
    }

    /// A deletion in `get -w`, as kubectl shows one: the row goes to `Terminating` while a
    /// finalizer holds it, and its last row comes when it is gone; `--output-watch-events` names
    /// each event.
    @Test func getWatchShowsDeletions() async throws {
        let session = try await Session()
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: session.directory + "/kubeconfig"))
        _ = try await session.modelplane("apply", "-f", "manifests/examples/triton-minimal.yaml")
        // A finalizer someone holds: the delete first marks the object.
        var md = try await kube.get(ModelDeployment.self, name: "sentiment", namespace: "default")
        md.metadata.finalizers = ["example.com/hold"]
        _ = try await kube.update(md)
        let watcher = try await PeerProcess.start(
            Peers.modelplane, ["get", "-A", "-w", "--output-watch-events"],
            environment: ["MODELPLANE_DATA": session.directory, "MODELPLANE_KUBECONFIG": ""]
        ) { $0.hasPrefix("EVENT ") ? 0 : nil }
        defer { watcher.stop() }
        #expect(await watcher.waitForOutput { $0.contains("\nADDED ") }, "\(watcher.log)")
        try await kube.delete(ModelDeployment.self, name: "sentiment", namespace: "default")
        #expect(await watcher.waitForOutput { $0.contains("Terminating") }, "\(watcher.log)")
        md = try await kube.get(ModelDeployment.self, name: "sentiment", namespace: "default")
        md.metadata.finalizers = []
        _ = try await kube.update(md)
        #expect(await watcher.waitForOutput { $0.contains("\nDELETED ") }, "\(watcher.log)")
        let rows = watcher.log.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace) }
        #expect(
            rows.map { $0.prefix(3) } == [
                ["EVENT", "NAMESPACE", "NAME"], ["ADDED", "default", "sentiment"], ["MODIFIED", "default", "sentiment"], ["DELETED", "default", "sentiment"],
            ])
        #expect(rows.dropFirst(2).allSatisfy { $0.contains("Terminating") }, "\(watcher.log)")
        // The flag needs --watch.
        let alone = try await session.modelplane("get", "--output-watch-events")
        #expect(alone.status != 0 && alone.stderr.contains("--output-watch-events needs --watch"), "\(alone.stderr)")
    }

    @Test func describeShowsSpecStatusConditionsAndEvents() async throws {
        let session = try await Session()
        _ = try await session.modelplane("apply", "-f", "manifests/examples/triton-minimal.yaml")
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: session.directory + "/kubeconfig"))
        defer { kube.shutdown() }
        var md = try await kube.get(ModelDeployment.self, name: "sentiment", namespace: "default")
        var status = ModelDeployment.Status()
        status.phase = .degraded
        status.servingVersion = "1"
        status.observedGeneration = 1
        status.conditions = [
            Condition(type: "Ready", status: .true, lastTransitionTime: "2026-01-01T00:00:00Z", reason: "Serving", message: "version 1 answers"),
            Condition(type: "Degraded", status: .true, lastTransitionTime: "2026-01-01T00:00:00Z", reason: "LoadFailed", message: "version 2: bad config"),
        ]
        md.status = status
        _ = try await kube.updateStatus(md)
        for (index, (name, uid)) in [("sentiment", md.metadata.uid), ("sentiment", "someone-else"), ("other", md.metadata.uid)].enumerated() {
            _ = try await kube.create(
                Event(
                    metadata: ObjectMeta(name: "e\(index)", namespace: "default"), eventTime: "2026-01-01T00:00:0\(index).000000Z",
                    reportingController: "modelplane.dev/controller", reportingInstance: "test", action: "Load", reason: "LoadFailed\(index)",
                    regarding: ObjectReference(apiVersion: ModelDeployment.apiVersion, kind: ModelDeployment.kind, namespace: "default", name: name, uid: uid),
                    note: "note \(index)", type: .warning))
        }
        let result = try await session.modelplane("describe", "sentiment")
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        #expect(text.contains("Name:         sentiment\n"), "\(text)")
        #expect(text.contains("  Triton:     http://127.0.0.1:8000\n"), "\(text)")
        #expect(text.contains("Rollout:      Immediate (progress deadline 600s, 10 revisions kept)"), "defaults are shown: \(text)")
        #expect(text.contains("  Phase:      Degraded\n  Serving:    version 1\n"), "\(text)")
        #expect(text.contains("Degraded   True     LoadFailed"), "\(text)")
        #expect(text.contains("version 2: bad config"), "\(text)")
        #expect(text.contains("Warning   LoadFailed0"), "\(text)")
        #expect(!text.contains("LoadFailed1") && !text.contains("LoadFailed2"), "only this object's events: \(text)")
        #expect(try await session.modelplane("describe", "ghost").stderr == "error: modeldeployment.modelplane.dev \"ghost\" not found\n")
    }

    @Test func deleteAndMissingObjects() async throws {
        let session = try await Session()
        _ = try await session.modelplane("apply", "-f", "manifests/examples/triton-minimal.yaml")
        var result = try await session.modelplane("delete", "sentiment", "ghost")
        #expect(result.status == 1)
        #expect(result.stdout == "modeldeployment.modelplane.dev \"sentiment\" deleted\n")
        #expect(result.stderr == "error: modeldeployment.modelplane.dev \"ghost\" not found\n")
        result = try await session.modelplane("get", "sentiment")
        #expect(result.status == 1)
        #expect(result.stderr == "error: modeldeployment.modelplane.dev \"sentiment\" not found\n")
    }

    /// `audit verify` says where it looked when there is no log, never calls an empty log
    /// intact, and says every problem in one plain sentence (never a Foundation error dump).
    @Test func auditVerifySaysWhereItLookedAndNeverPassesAnEmptyLog() async throws {
        let data = NSTemporaryDirectory() + "modelplane-audit-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        func verify(_ arguments: String...) async throws -> CommandResult {
            try await CommandResult.run(Peers.modelplane, ["audit", "verify"] + arguments, environment: ["MODELPLANE_DATA": data])
        }
        var result = try await verify()
        #expect(result.status == 1 && result.stdout.isEmpty)
        #expect(
            result.stderr
                == "error: no audit log at \(data)/audit.log: the server writes DATA/audit.log in its data directory: give --file, or set MODELPLANE_DATA to the directory `modelplane serve --data` uses\n"
        )
        result = try await verify("--file", data + "/elsewhere.log")
        #expect(result.status == 1 && result.stderr.hasPrefix("error: no audit log at \(data)/elsewhere.log: "), "\(result.stderr)")
        // A directory where the log should be: one sentence naming it.
        result = try await verify("--file", data)
        #expect(result.status == 1 && result.stderr.hasPrefix("error: \(data)"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1 && !result.stderr.contains("Domain"), "\(result.stderr)")
        // An empty log proves nothing.
        FileManager.default.createFile(atPath: data + "/audit.log", contents: nil)
        result = try await verify()
        #expect(result.status == 1 && result.stderr.contains("holds no records, so there is nothing to verify"), "\(result.stderr)")
        #expect(!result.stdout.contains("intact") && !result.stderr.contains("intact"))
        // The help names its default once.
        let help = try await verify("--help")
        #expect(help.stdout.components(separatedBy: "default:").count == 2, "\(help.stdout)")
    }

    /// Every command's help as a user reads it (80 columns, as in a pipe): a one-line overview,
    /// paragraphs wrapped whole (a hard break in the source used to leave a line of a few words
    /// mid-sentence), each default named once, plain section headers, and one line per
    /// subcommand in a listing.
    @Test func everyHelpReadsCleanly() async throws {
        let commands = [
            [], ["serve"], ["controller"], ["apply"], ["get"], ["describe"], ["delete"], ["diff"], ["history"], ["rollback"], ["validate"], ["sync"],
            ["router"],
            ["audit"], ["audit", "verify"], ["crd"],
        ]
        for command in commands {
            let help = try await CommandResult.run(Peers.modelplane, command + ["--help"])
            let name = (["modelplane"] + command).joined(separator: " ")
            #expect(help.status == 0, "\(name)")
            let lines = help.stdout.components(separatedBy: "\n")
            #expect(lines.count > 2 && lines[0].hasPrefix("OVERVIEW: ") && lines[1].isEmpty, "\(name): the overview wraps: \(lines.prefix(3))")
            let usage = lines.firstIndex { $0.hasPrefix("USAGE: ") } ?? lines.count
            // The discussion: every line of a paragraph but its last is filled (wrapped at 80).
            let discussion = lines[2..<usage]
            for (line, next) in zip(discussion, discussion.dropFirst()) where !line.isEmpty && !next.isEmpty && !line.hasPrefix(" ") && !next.hasPrefix(" ") {
                #expect(line.count >= 55, "\(name): a paragraph broken mid-sentence at \"\(line)\"")
            }
            // Sections: plain headers; an option's help names its default once; one line per subcommand.
            var section = ""
            var option: [String] = []
            func endOption() {
                #expect(option.joined(separator: " ").components(separatedBy: "default:").count <= 2, "\(name): two defaults in \(option)")
                option = []
            }
            for line in lines[usage...].dropFirst() {
                if !line.hasPrefix(" "), line.hasSuffix(":") {
                    endOption()
                    section = line
                    #expect(line.allSatisfy { $0.isUppercase || $0 == " " || $0 == ":" }, "\(name): section header \(line)")
                } else if line.hasPrefix("  -") || (line.hasPrefix("  ") && !line.hasPrefix("   ")) {
                    endOption()
                    option = [line]
                } else if line.hasPrefix("      ") {
                    #expect(section != "SUBCOMMANDS:", "\(name): a subcommand's abstract wraps: \(line)")
                    option.append(line)
                }
            }
            endOption()
        }
    }

    /// A router port someone else holds stops serve with one sentence that says what to do.
    @Test func aBusyRouterPortIsAClearError() async throws {
        let holder = try await PeerProcess.httpPeer()
        defer { holder.stop() }
        let data = NSTemporaryDirectory() + "modelplane-busy-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        let result = try await CommandResult.run(
            Peers.modelplane, ["serve", "--data", data, "--listen", "127.0.0.1:0", "--no-controller", "--router-listen", "127.0.0.1:\(holder.port)"])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("error: the inference router cannot listen on 127.0.0.1:\(holder.port)")
                && result.stderr.contains("give --router-listen another address, or --no-router"), "\(result.stderr)")
    }

    @Test func saysWhenNoServerIsRunning() async throws {
        let session = try await Session()
        session.server.stop()
        // Each command ends the same way: one plain line, exit 1, after its own clean-up (a
        // command used to exit from inside, past the shutdown of its HTTP client).
        for command in [["get"], ["diff", "-f", "manifests/examples/triton-minimal.yaml"], ["history", "sentiment"], ["rollback", "sentiment"]] {
            let result = try await CommandResult.run(
                Peers.modelplane, command, directory: Peers.repositoryRoot, environment: ["MODELPLANE_DATA": session.directory, "MODELPLANE_KUBECONFIG": ""])
            #expect(result.status == 1, "\(command)")
            #expect(result.stderr.hasPrefix("error: cannot reach the API server ("), "\(command): \(result.stderr)")
            #expect(result.stderr.hasSuffix("is `modelplane serve` running?\n"), "\(command): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(command): \(result.stderr)")
        }
    }
}
