import Foundation
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

/// The CLI against a real `modelplane serve`, found with no flags through MODELPLANE_DATA.
@Suite(.timeLimit(.minutes(2))) struct CLITests {
    final class Session {
        let directory = NSTemporaryDirectory() + "modelplane-cli-" + UUID().uuidString
        var server: PeerProcess!

        init() async throws { server = try await PeerProcess.modelplaneServe(data: directory) }

        func modelplane(_ arguments: String..., stdin: String? = nil) throws -> CommandResult {
            try CommandResult.run(
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
        var result = try session.modelplane("apply", "-f", "manifests/examples")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout == """
                modeldeployment.modelplane.dev/churn-predictor created
                modeldeployment.modelplane.dev/fraud-detector created
                modeldeployment.modelplane.dev/sentiment created

                """)
        result = try session.modelplane("apply", "-f", "manifests/examples/triton-minimal.yaml")
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment unchanged\n")
        let changed = try String(contentsOfFile: Peers.repositoryRoot + "/manifests/examples/triton-minimal.yaml", encoding: .utf8).replacingOccurrences(
            of: "version: \"2\"", with: "version: \"3\"")
        result = try session.modelplane("apply", "-f", "-", stdin: changed)
        #expect(result.stdout == "modeldeployment.modelplane.dev/sentiment configured\n", "\(result.stderr)")
    }

    @Test func applyRefusesAnInvalidSetWhole() async throws {
        let session = try await Session()
        let broken = try String(contentsOfFile: Peers.repositoryRoot + "/manifests/examples/triton-minimal.yaml", encoding: .utf8).replacingOccurrences(
            of: "version: \"2\"", with: "version: 2")
        let result = try session.modelplane("apply", "-f", "manifests/examples/triton-fraud-detector.yaml", "-f", "-", stdin: broken)
        #expect(result.status == 1)
        #expect(result.stderr.contains("<stdin>:10:14: spec.model.version: Invalid type"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was applied"))
        #expect(try session.modelplane("get").stderr == "No resources found in default namespace.\n")
    }

    @Test func getPrintsTablesAndDocuments() async throws {
        let session = try await Session()
        _ = try session.modelplane("apply", "-f", "manifests/examples")
        var result = try session.modelplane("get")
        let lines = result.stdout.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace) }
        #expect(lines.first == ["NAME", "MODEL", "VERSION", "SERVING", "BACKEND", "READY", "PHASE", "AGE"])
        #expect(lines.dropFirst().map { $0.prefix(3) } == [["fraud-detector", "fraud", "1"], ["sentiment", "sentiment", "2"]])
        result = try session.modelplane("get", "-A", "-o", "wide")
        #expect(result.stdout.split(separator: "\n").count == 4)
        #expect(result.stdout.hasPrefix("NAMESPACE   NAME"))
        result = try session.modelplane("get", "sentiment", "-o", "json")
        let object = try JSONValue(parsing: result.stdout)
        #expect(object["spec"]?["model"]?["version"] == "2")
        result = try session.modelplane("get", "sentiment", "-o", "yaml")
        #expect(result.stdout.contains("version: \"2\""))
        #expect(result.stdout.contains("creationTimestamp: \""), "timestamps are quoted for YAML 1.1 readers")
    }

    @Test func deleteAndMissingObjects() async throws {
        let session = try await Session()
        _ = try session.modelplane("apply", "-f", "manifests/examples/triton-minimal.yaml")
        var result = try session.modelplane("delete", "sentiment", "ghost")
        #expect(result.status == 1)
        #expect(result.stdout == "modeldeployment.modelplane.dev \"sentiment\" deleted\n")
        #expect(result.stderr == "error: modeldeployment.modelplane.dev \"ghost\" not found\n")
        result = try session.modelplane("get", "sentiment")
        #expect(result.status == 1)
        #expect(result.stderr == "error: modeldeployment.modelplane.dev \"sentiment\" not found\n")
    }

    @Test func saysWhenNoServerIsRunning() async throws {
        let session = try await Session()
        session.server.stop()
        let result = try session.modelplane("get")
        #expect(result.status == 1)
        #expect(result.stderr.contains("is `modelplane serve` running?"), "\(result.stderr)")
    }
}
