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

    @Test(arguments: Peer.allCases) func versionsFailuresAndUnload(_ peer: Peer) async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        var triton: TritonPeer?
        defer { triton?.stop() }
        let backend: any TritonAPI
        switch peer {
        case .real:
            triton = try await TritonPeer.start(models: [.init(name: "echo", versions: [1, 2, 3], broken: [3: "weights are corrupt"])])
            backend = TritonClient(baseURL: triton!.url, http: http)
        case .inMemory:
            backend = InMemoryTriton(repository: ["echo": ([1, 2, 3], [3: "weights are corrupt"])])
        }
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
}
