import Foundation
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

/// kubectl (the pinned one setup-peers installs) against `modelplane serve` (a separate process, as users run it), through
/// the kubeconfig serve writes: HTTPS with its local CA and the bearer token.
@Suite(.timeLimit(.minutes(5))) struct KubectlTests {
    final class Serve {
        let directory = NSTemporaryDirectory() + "modelplane-serve-" + UUID().uuidString
        var process: PeerProcess!
        var kubeconfig: String { directory + "/kubeconfig" }

        init(controller: Bool = false) async throws {
            process = try await PeerProcess.modelplaneServe(data: directory, controller: controller)
        }

        func kubectl(_ arguments: String..., stdin: String? = nil) async throws -> CommandResult {
            try await CommandResult.run(Peers.kubectl, ["--kubeconfig", kubeconfig] + arguments, stdin: stdin)
        }

        /// The CLI, against this server.
        func modelplane(_ arguments: String..., stdin: String? = nil) async throws -> CommandResult {
            try await CommandResult.run(Peers.modelplane, arguments + ["--kubeconfig", kubeconfig], stdin: stdin)
        }

        deinit {
            process.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    static let manifest = try! String(contentsOfFile: Peers.repositoryRoot + "/manifests/examples/triton-minimal.yaml", encoding: .utf8)

    /// `modelplane get -o name` and `-o jsonpath=` print exactly what kubectl prints for the same
    /// objects and templates.
    @Test func getNameAndJSONPathMatchKubectl() async throws {
        let serve = try await Serve()
        var result = try await serve.kubectl("apply", "-f", Peers.repositoryRoot + "/manifests/examples")
        #expect(result.status == 0, "\(result.stderr)")
        let status =
            #"{"status": {"phase": "Ready", "servingVersion": "2", "conditions": [{"type": "Ready", "status": "True", "reason": "Serving", "message": "ok", "lastTransitionTime": "2026-12-07T10:00:00Z"}, {"type": "Degraded", "status": "False", "reason": "Serving", "message": "", "lastTransitionTime": "2026-12-07T10:00:00Z"}]}}"#
        result = try await serve.kubectl("patch", "md", "sentiment", "--subresource=status", "--type=merge", "-p", status)
        #expect(result.status == 0, "\(result.stderr)")
        let listings: [[String]] = [
            ["-o", "name"],
            ["-o", "jsonpath={.items[*].metadata.name}"],
            ["-o", #"jsonpath={range .items[*]}{.metadata.name}{"\t"}{.spec.model.version}{"\n"}{end}"#],
            ["-o", "jsonpath={.items[0].spec.backend}"],
            ["-o", #"jsonpath={.items[?(@.metadata.name=="sentiment")].spec.model.name}"#],
            ["-o", #"jsonpath={.items[-1:].metadata.name}"#],
            ["sentiment", "-o", #"jsonpath={.status.conditions[?(@.type=="Ready")].status} serving {.status.servingVersion}"#],
            ["sentiment", "-o", "jsonpath={.metadata.labels}"],
            ["sentiment", "-o", "jsonpath={.spec.nope}{.metadata.name}"],
            ["-o", "jsonpath={.items[0:2].metadata.name}"],
            ["sentiment", "-o", "name"],
        ]
        for arguments in listings {
            let theirs = try await CommandResult.run(Peers.kubectl, ["--kubeconfig", serve.kubeconfig, "get", "modeldeployments"] + arguments)
            let ours = try await CommandResult.run(Peers.modelplane, ["get"] + arguments + ["--kubeconfig", serve.kubeconfig])
            #expect(theirs.status == 0, "kubectl \(arguments): \(theirs.stderr)")
            #expect(ours.status == theirs.status && ours.stdout == theirs.stdout, "\(arguments): ours \(ours.stdout)\(ours.stderr) kubectl \(theirs.stdout)")
        }
        // A template that is not one: refused before anything is read.
        let broken = try await serve.modelplane("get", "-o", "jsonpath={.items[")
        #expect(broken.status != 0 && broken.stderr.contains("-o jsonpath: unclosed"), "\(broken.stderr)")
    }

    @Test func applyGetPatchStatusAndDelete() async throws {
        let serve = try await Serve()
        var result = try await serve.kubectl("apply", "-f", "-", stdin: Self.manifest)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment created\n")

        result = try await serve.kubectl(
            "apply", "-f", "-", stdin: Self.manifest.replacingOccurrences(of: "version: \"2\"", with: "version: \"3\""))
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment configured\n", "\(result.stderr)")

        result = try await serve.kubectl(
            "patch", "md", "sentiment", "--subresource=status", "--type=merge", "-p", #"{"status":{"phase":"Ready","servingVersion":"3"}}"#)
        #expect(result.status == 0, "\(result.stderr)")

        result = try await serve.kubectl("get", "modeldeployment", "sentiment", "-o", "jsonpath={.spec.model.version} {.metadata.generation} {.status.phase}")
        #expect(result.stdout == "3 2 Ready")

        // Printer columns, through the server's Table output.
        result = try await serve.kubectl("get", "md")
        let lines = result.stdout.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace) }
        #expect(lines.first == ["NAME", "MODEL", "VERSION", "SERVING", "TRAFFIC", "BACKEND", "READY", "PHASE", "AGE"], "\(result.stdout)\(result.stderr)")
        #expect(lines.last?.prefix(5) == ["sentiment", "sentiment", "3", "3", "Ready"], "\(result.stdout)")
        result = try await serve.kubectl("get", "md", "-o", "wide")
        #expect(result.stdout.split(separator: "\n").first?.hasSuffix("REVISION   STRATEGY    COMMIT") == true, "\(result.stdout)")
        // The manifest names no strategy: the server stored the schema's default at admission,
        // so kubectl shows what `modelplane get -o wide` shows.
        #expect(!Self.manifest.contains("strategy:"))
        #expect(result.stdout.split(separator: "\n").last?.split(whereSeparator: \.isWhitespace).contains("Immediate") == true, "\(result.stdout)")
        let ours = try await serve.modelplane("get", "-o", "wide")
        #expect(ours.stdout.split(separator: "\n").last?.split(whereSeparator: \.isWhitespace).contains("Immediate") == true, "\(ours.stdout)")
        result = try await serve.kubectl(
            "get", "md", "sentiment", "-o", "jsonpath={.spec.rollout.strategy} {.spec.rollout.progressDeadlineSeconds} {.spec.revisionHistoryLimit}")
        #expect(result.stdout == "Immediate 600 10", "\(result.stdout)")
        // Applying a manifest that matches the live object is unchanged, for kubectl and for us,
        // though it leaves the defaults out.
        let current = Self.manifest.replacingOccurrences(of: "version: \"2\"", with: "version: \"3\"")
        result = try await serve.kubectl("apply", "-f", "-", stdin: current)
        #expect(result.stdout.hasSuffix("unchanged\n"), "\(result.stdout)\(result.stderr)")
        // (Ours replaces annotations, so its first apply drops kubectl's last-applied one.)
        _ = try await serve.modelplane("apply", "-f", "-", stdin: current)
        let again = try await serve.modelplane("apply", "-f", "-", stdin: current)
        #expect(again.stdout.hasSuffix("unchanged\n"), "\(again.stdout)\(again.stderr)")

        result = try await serve.kubectl("delete", "md", "sentiment")
        #expect(result.stdout == "modeldeployment.modelplane.dev \"sentiment\" deleted\n", "\(result.stderr)")
        result = try await serve.kubectl("get", "md", "sentiment")
        #expect(result.status != 0)
        #expect(result.stderr.contains("NotFound"), "\(result.stderr)")
    }

    @Test func describeShowsTheObjectAndItsEvents() async throws {
        let serve = try await Serve()
        _ = try await serve.kubectl("apply", "-f", "-", stdin: Self.manifest)
        let uid = try await serve.kubectl("get", "md", "sentiment", "-o", "jsonpath={.metadata.uid}").stdout
        let event = """
            apiVersion: events.k8s.io/v1
            kind: Event
            metadata: {name: sentiment.load-failed, namespace: default}
            eventTime: "2026-01-02T03:04:05.000000Z"
            series: {count: 3, lastObservedTime: "2026-01-02T03:09:05.000000Z"}
            reportingController: modelplane.dev/controller
            reportingInstance: test
            action: Load
            reason: LoadFailed
            type: Warning
            note: "version 3 failed to load: model.py raised ValueError"
            regarding: {apiVersion: modelplane.dev/v1alpha1, kind: ModelDeployment, namespace: default, name: sentiment, uid: \(uid)}
            """
        var result = try await serve.kubectl("create", "-f", "-", stdin: event)
        #expect(result.status == 0, "\(result.stderr)")
        // An event about another object must not show up.
        result = try await serve.kubectl(
            "create", "-f", "-",
            stdin: event.replacingOccurrences(of: "sentiment.load-failed", with: "other").replacingOccurrences(of: "name: sentiment,", with: "name: other,"))
        #expect(result.status == 0, "\(result.stderr)")

        result = try await serve.kubectl("describe", "md", "sentiment")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Kind:         ModelDeployment"), "\(result.stdout)")
        #expect(result.stdout.contains("Triton"), "\(result.stdout)")
        let events = result.stdout.components(separatedBy: "Events:").last ?? ""
        #expect(events.contains("Warning  LoadFailed"), "\(result.stdout)")
        #expect(events.contains("(x3 over"), "\(result.stdout)")
        #expect(events.contains("modelplane.dev/controller  version 3 failed to load: model.py raised ValueError"), "\(result.stdout)")
        #expect(events.split(separator: "\n").filter { $0.contains("LoadFailed") }.count == 1, "\(result.stdout)")

        // The core/v1 view is what `kubectl get events` reads; it cannot be written.
        result = try await serve.kubectl("get", "events", "--field-selector", "involvedObject.name=sentiment", "--no-headers")
        #expect(result.stdout.split(separator: "\n").count == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("LoadFailed"), "\(result.stdout)")
        result = try await serve.kubectl("delete", "events", "sentiment.load-failed")
        #expect(result.status != 0)
        #expect(result.stderr.contains("read-only"), "\(result.stderr)")
    }

    @Test func invalidManifestsAreRefusedWithFieldErrors() async throws {
        let serve = try await Serve()
        let result = try await serve.kubectl(
            "apply", "-f", "-", stdin: Self.manifest.replacingOccurrences(of: "version: \"2\"", with: "version: \"two\""))
        #expect(result.status != 0)
        #expect(result.stderr.contains("spec.model.version"), "\(result.stderr)")
        #expect(result.stderr.contains("Triton model versions are positive integers"), "\(result.stderr)")
    }

    @Test func defaultValidationRefusesUnknownFields() async throws {
        let serve = try await Serve()
        let result = try await serve.kubectl(
            "apply", "-f", "-", stdin: Self.manifest.replacingOccurrences(of: "    version: \"2\"", with: "    version: \"2\"\n    verison: \"3\""))
        #expect(result.status != 0)
        #expect(result.stderr.contains("spec.model.verison: unknown field"), "\(result.stderr)")
        let explain = try await serve.kubectl("explain", "md.spec.rollout.strategy")
        #expect(explain.stdout.contains("Immediate (default), BlueGreen or Canary."), "\(explain.stdout)\(explain.stderr)")
    }

    @Test func discoveryKnowsTheShortNames() async throws {
        let serve = try await Serve()
        let result = try await serve.kubectl("api-resources", "--api-group=modelplane.dev", "--no-headers")
        #expect(
            result.stdout.split(whereSeparator: \.isWhitespace).prefix(5) == [
                "modeldeployments", "md,mdep", "modelplane.dev/v1alpha1", "true", "ModelDeployment",
            ])
    }

    /// `kubectl version` reads the server's version and the platform it really runs on.
    @Test func versionNamesThePlatformItRunsOn() async throws {
        let serve = try await Serve()
        let result = try await serve.kubectl("version", "-o", "json")
        #expect(result.status == 0, "\(result.stderr)")
        let server = try JSONValue(parsing: Data(result.stdout.utf8))["serverVersion"]
        let machine = try await CommandResult.run("/usr/bin/env", ["uname", "-m"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let arch = ["x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"][machine] ?? machine
        #expect(server?["platform"] == .string("linux/\(arch)"))
        #expect(server?["gitVersion"]?.stringValue?.hasPrefix("v1.33.0+modelplane-") == true, "\(String(describing: server))")
    }

    @Test func refusesAStrangersToken() async throws {
        let serve = try await Serve()
        // Not through the kubeconfig: its tokenFile would win over --token.
        let result = try await CommandResult.run(
            Peers.kubectl,
            [
                "--kubeconfig", "/dev/null", "--server", "https://127.0.0.1:\(serve.process.port)",
                "--certificate-authority", serve.directory + "/ca.crt", "--token", "not-the-token", "get", "md",
            ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("Unauthorized") || result.stderr.contains("provide credentials"), "\(result.stderr)")
    }
}
