import Foundation
import HTTPClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing
import Triton

/// One scenario against a real tritonserver and against `InMemoryTriton`, so the fake the
/// controller benchmark uses behaves as Triton does where the controller depends on it.
@Suite(.timeLimit(.minutes(3))) struct TritonContractTests {
    enum Peer: String, CaseIterable { case real, inMemory }

    /// A real tritonserver with `models` in its repository (stop it when done), or `fake`.
    static func start(_ peer: Peer, http: HTTPClient, models: [TritonPeer.Model], fake: @autoclosure () -> InMemoryTriton) async throws -> (
        any TritonAPI, TritonPeer?
    ) {
        switch peer {
        case .real:
            let triton = try await TritonPeer.start(models: models)
            return (TritonClient(baseURL: triton.url, http: http), triton)
        case .inMemory:
            return (fake(), nil)
        }
    }

    @Test(arguments: Peer.allCases) func versionsFailuresAndUnload(_ peer: Peer) async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        let (backend, triton) = try await Self.start(
            peer, http: http, models: [.init(name: "echo", versions: [1, 2, 3], broken: [3: "weights are corrupt"])],
            fake: InMemoryTriton(repository: ["echo": ([1, 2, 3], [3: "weights are corrupt"])]))
        defer { triton?.stop() }
        func ready() async throws -> Set<String> {
            Set(try await backend.index().filter { $0.name == "echo" && $0.state == .ready }.compactMap(\.version))
        }
        var config = TritonClientTests.config("echo")

        #expect(try await backend.index().contains { $0.name == "echo" })
        #expect(try await ready().isEmpty)
        await #expect(throws: TritonError.self, "no config while nothing is loaded") { _ = try await backend.config("echo") }

        config["version_policy"] = ["specific": ["versions": [1, 2]]]
        try await backend.load("echo", config: config, files: [:])
        #expect(try await ready() == ["1", "2"])
        let running = try await backend.config("echo")
        #expect(running["version_policy"]?["specific"]?["versions"] == [1, 2] && running["input"] != nil, "\(running)")

        config["version_policy"] = ["specific": ["versions": [2]]]
        try await backend.load("echo", config: config, files: [:])
        #expect(try await ready() == ["2"])

        config["version_policy"] = ["specific": ["versions": [3]]]
        do {
            try await backend.load("echo", config: config, files: [:])
            Issue.record("a version that fails at init must be refused")
        } catch {
            #expect(error.kind == .refused && error.message.contains("weights are corrupt"), "\(error)")
        }
        #expect(try await ready() == ["2"], "the old version keeps serving")
        #expect(try await backend.index().contains { $0.version == "3" && $0.state == .unavailable && $0.reason.contains("weights are corrupt") })

        // Without a config: the repository's own policy (the latest version), which fails here.
        await #expect(throws: TritonError.self) { try await backend.load("echo", config: nil, files: [:]) }
        #expect(try await ready() == ["2"])

        // Unloading is asynchronous on Triton (UNLOADING first); it ends UNAVAILABLE.
        try await backend.unload("echo")
        var unloaded = false
        for _ in 0..<100 where !unloaded {
            unloaded = try await backend.index().contains { $0.name == "echo" && $0.version == "2" && $0.state == .unavailable }
            if !unloaded { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(unloaded)
        #expect(try await ready().isEmpty)
    }

    @Test(arguments: Peer.allCases) func uploadedModelsMetadataAndInference(_ peer: Peer) async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        let (backend, triton) = try await Self.start(peer, http: http, models: [], fake: InMemoryTriton(repository: [:], failingInference: ["up": [3]]))
        defer { triton?.stop() }
        let model = TritonPeer.Model(name: "up", versions: [1, 2, 3], failsInference: [3])
        func answer(_ version: String) async throws -> JSONValue? {
            let response = try await backend.infer(
                "up", version: version, request: ["inputs": [["name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [2.0]]]])
            return response["outputs"]?.arrayValue?.first?["data"]
        }
        #expect(try await backend.loadedVersions("up").isEmpty, "an unknown model has no versions")

        var config = TritonClientTests.config("up")
        await #expect(throws: TritonError.self, "files need a config") { try await backend.load("up", config: nil, files: model.files) }
        config["version_policy"] = ["specific": ["versions": [1, 2]]]
        try await backend.load("up", config: config, files: model.files.filter { !$0.key.hasPrefix("3/") })
        // Triton's index leaves uploaded models out; their metadata shows what is loaded.
        #expect(try await !backend.index().contains { $0.name == "up" })
        #expect(try await backend.loadedVersions("up") == ["1", "2"])
        #expect(try await backend.rows(of: "up", in: backend.index()).map(\.version) == ["1", "2"])
        #expect(try await answer("2") == [4.0])

        config["version_policy"] = ["specific": ["versions": [2, 3]]]
        try await backend.load("up", config: config, files: model.files.filter { !$0.key.hasPrefix("1/") })
        #expect(try await backend.loadedVersions("up") == ["2", "3"])
        do {
            _ = try await answer("3")
            Issue.record("version 3 fails every inference")
        } catch let error as TritonError {
            #expect(error.kind == .refused && error.message.contains("inference"), "\(error)")
        }
        #expect(try await answer("2") == [4.0])

        try await backend.unload("up")
        var gone = false
        for _ in 0..<100 where !gone {
            gone = try await backend.loadedVersions("up").isEmpty
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone)
    }
}
