import Foundation
import HTTPClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing
import Triton

/// The Triton client against a real tritonserver (CPU, Python backend).
@Suite(.timeLimit(.minutes(3))) struct TritonClientTests {
    static let input: JSONValue = ["inputs": [["name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [2.0]]]]

    static func output(_ response: JSONValue) -> Double? {
        guard case .array(let outputs)? = response["outputs"], case .array(let data)? = outputs.first?["data"] else { return nil }
        switch data.first {
        case .double(let d)?: return d
        case .int(let i)?: return Double(i)
        default: return nil
        }
    }

    /// config.pbtxt of the test models, as the JSON a config override takes (it replaces the file whole).
    static func config(_ name: String) -> JSONValue {
        [
            "name": .string(name), "backend": "python", "max_batch_size": 0,
            "input": [["name": "INPUT0", "data_type": "TYPE_FP32", "dims": [1]]],
            "output": [["name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [1]]],
        ]
    }

    @Test func loadsVersionsByPolicyAndReportsFailures() async throws {
        let triton = try await TritonPeer.start(models: [.init(name: "echo", versions: [1, 2, 3], broken: [3: "weights are corrupt"])])
        defer { triton.stop() }
        let http = HTTPClient()
        defer { http.shutdown() }
        let client = TritonClient(baseURL: triton.url, http: http)
        #expect(await client.isReady())
        #expect(try await client.index().contains { $0.name == "echo" && $0.version == nil })

        // Version 1 alone, through a config override naming it. The override replaces
        // config.pbtxt whole; a loaded model's config is where a full one comes from.
        var config = Self.config("echo")
        config["version_policy"] = ["specific": ["versions": [1]]]
        try await client.load("echo", config: config)
        #expect(try await client.isReady("echo", version: "1"))
        #expect(try await client.isReady("echo", version: "2") == false)
        #expect(Self.output(try await client.infer("echo", version: nil, request: Self.input)) == 2.0)

        // Versions 1 and 2 side by side, then 2 alone.
        config["version_policy"] = ["specific": ["versions": [1, 2]]]
        try await client.load("echo", config: config)
        #expect(try await client.isReady("echo", version: "1"))
        #expect(Self.output(try await client.infer("echo", version: "2", request: Self.input)) == 4.0)
        config["version_policy"] = ["specific": ["versions": [2]]]
        try await client.load("echo", config: config)
        #expect(try await client.isReady("echo", version: "1") == false)

        // A version that fails at init: refused with Triton's reason, version 2 keeps answering.
        config["version_policy"] = ["specific": ["versions": [3]]]
        await #expect {
            try await client.load("echo", config: config)
        } throws: { error in
            let error = error as? TritonError
            return error?.kind == .refused && error?.message.contains("weights are corrupt") == true
        }
        #expect(Self.output(try await client.infer("echo", version: nil, request: Self.input)) == 4.0)
        let index = try await client.index()
        #expect(index.contains { $0.name == "echo" && $0.version == "3" && $0.state == .unavailable && $0.reason.contains("weights are corrupt") }, "\(index)")

        try await client.unload("echo")
        var unloaded = false
        for _ in 0..<100 where !unloaded {
            unloaded = try await client.isReady("echo", version: "2") == false
            if !unloaded { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(unloaded)
    }

    @Test func uploadsModelFiles() async throws {
        let triton = try await TritonPeer.start()
        defer { triton.stop() }
        let http = HTTPClient()
        defer { http.shutdown() }
        let client = TritonClient(baseURL: triton.url, http: http)
        var config = Self.config("uploaded")
        config["version_policy"] = ["specific": ["versions": [7]]]
        try await client.load("uploaded", config: config, files: ["7/model.py": Data(TritonPeer.Model.source(version: 7, broken: nil).utf8)])
        #expect(Self.output(try await client.infer("uploaded", version: "7", request: Self.input)) == 14.0)
        // What Triton runs, as JSON: the base for the next override.
        let running = try await client.config("uploaded")
        #expect(running["input"]?.arrayValue?.first?["name"] == "INPUT0" && running["version_policy"]?["specific"]?["versions"] == [7], "\(running)")
    }

    @Test func saysWhenTritonIsUnreachable() async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        let client = TritonClient(baseURL: "http://127.0.0.1:9", http: http, timeout: .seconds(2))
        #expect(await client.isReady() == false)
        await #expect {
            _ = try await client.index()
        } throws: { error in
            (error as? TritonError)?.kind == .unreachable
        }
    }
}
