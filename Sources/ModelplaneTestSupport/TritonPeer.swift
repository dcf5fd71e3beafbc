public import Foundation
import Synchronization

/// A real tritonserver (from nvidia-pytriton, installed into .peers/ by scripts/setup-peers) with
/// a model repository the test writes: small Python-backend models whose versions answer
/// `OUTPUT0 = INPUT0 * VERSION`, so a test can tell which version answered.
public final class TritonPeer: Sendable {
    public let repository: String
    public let process: PeerProcess
    private let commands = Mutex(0)

    public var url: String { process.baseURL }

    private init(repository: String, process: PeerProcess) {
        self.repository = repository
        self.process = process
    }

    /// Starts Triton on free ports over a fresh repository; `models` are written first.
    public static func start(models: [Model] = []) async throws -> TritonPeer {
        let directory = NSTemporaryDirectory() + "modelplane-triton-" + UUID().uuidString
        let repository = directory + "/repository"
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        for model in models { try model.write(into: repository) }
        let process = try await PeerProcess.start(Peers.python, [Peers.script("triton_peer.py"), "--repository", repository])
        return TritonPeer(repository: repository, process: process)
    }

    /// Kills Triton, as a crash would; `restart()` brings it back on the same port.
    public func kill() async throws { try await command("stop") }

    public func restart() async throws { try await command("start") }

    private func command(_ line: String) async throws {
        let expected = commands.withLock {
            $0 += 1
            return $0
        }
        process.send(line)
        guard await process.waitForOutput(timeout: .seconds(90), { $0.components(separatedBy: "\nOK").count - 1 >= expected }) else {
            throw PeerError("Triton peer did not answer \(line): \(process.log)")
        }
    }

    public func stop() { process.stop() }

    /// A Python-backend model for the repository.
    public struct Model: Sendable {
        public var name: String
        public var versions: [Int]
        /// Versions whose `initialize` raises, with this message.
        public var broken: [Int: String]
        /// Versions whose `initialize` takes this many seconds.
        public var slow: [Int: Int]
        /// Versions that load but fail every inference.
        public var failsInference: Set<Int>
        /// Versions whose every inference takes this many seconds.
        public var slowInference: [Int: Double]

        public init(
            name: String, versions: [Int], broken: [Int: String] = [:], slow: [Int: Int] = [:], failsInference: Set<Int> = [],
            slowInference: [Int: Double] = [:]
        ) {
            self.slowInference = slowInference
            self.name = name
            self.versions = versions
            self.broken = broken
            self.slow = slow
            self.failsInference = failsInference
        }

        /// The model's files as Triton's load API uploads them (`VERSION/model.py`), without config.pbtxt.
        public var files: [String: Data] {
            Dictionary(
                uniqueKeysWithValues: versions.map { version in
                    (
                        "\(version)/model.py",
                        Data(
                            Self.source(
                                version: version, broken: broken[version], slow: slow[version], failsInference: failsInference.contains(version),
                                slowInference: slowInference[version]
                            )
                            .utf8)
                    )
                })
        }

        public func write(into repository: String) throws {
            let directory = repository + "/" + name
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Self.config(name).write(toFile: directory + "/config.pbtxt", atomically: true, encoding: .utf8)
            for version in versions {
                try FileManager.default.createDirectory(atPath: "\(directory)/\(version)", withIntermediateDirectories: true)
                try Self.source(
                    version: version, broken: broken[version], slow: slow[version], failsInference: failsInference.contains(version),
                    slowInference: slowInference[version]
                ).write(toFile: "\(directory)/\(version)/model.py", atomically: true, encoding: .utf8)
            }
        }

        public static func config(_ name: String) -> String {
            """
            name: "\(name)"
            backend: "python"
            max_batch_size: 0
            input [{ name: "INPUT0", data_type: TYPE_FP32, dims: [ 1 ] }]
            output [{ name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 1 ] }]
            instance_group [{ kind: KIND_CPU, count: 1 }]
            """
        }

        public static func source(version: Int, broken: String?, slow: Int? = nil, failsInference: Bool = false, slowInference: Double? = nil) -> String {
            """
            import os
            import time
            import numpy as np
            import triton_python_backend_utils as pb_utils

            class TritonPythonModel:
                def initialize(self, args):
                    # A marker a test can wait for: this version's initialize has begun.
                    open(os.path.join(args["model_repository"], args["model_version"] + ".initializing"), "w").close()
                    time.sleep(\(slow ?? 0))
                    \(broken.map { "raise ValueError(\"\($0)\")" } ?? "pass")

                def execute(self, requests):
                    \(failsInference ? "raise RuntimeError(\"inference is broken in version \(version)\")" : "pass")
                    time.sleep(\(slowInference ?? 0))
                    responses = []
                    for request in requests:
                        x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
                        out = pb_utils.Tensor("OUTPUT0", (x * \(version)).astype(np.float32))
                        responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
                    return responses
            """
        }
    }
}
