import Foundation
import HTTPClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing
import Triton

/// config.pbtxt read as Triton reads it, into the JSON its load API takes.
@Suite struct ModelConfigTextTests {
    @Test func readsTheTestModelsConfig() throws {
        #expect(
            try ModelConfigText.parse(TritonPeer.Model.config("echo")) == [
                "name": "echo", "backend": "python", "max_batch_size": 0,
                "input": [["name": "INPUT0", "data_type": "TYPE_FP32", "dims": [1]]],
                "output": [["name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [1]]],
                "instance_group": [["kind": "KIND_CPU", "count": 1]],
            ])
    }

    /// Every spelling protobuf's text format allows: comments, repeated blocks without brackets
    /// (one or several), `<...>`, optional separators, adjacent strings, maps as key/value
    /// entries, enums, floats and booleans.
    @Test func readsEverySpelling() throws {
        let text = """
            # a comment
            name: "resnet" "50"  # adjacent strings join
            platform: 'onnxruntime_onnx';
            max_batch_size: 8
            input { name: "x" data_type: TYPE_FP32 dims: [ 3, 224, 224 ] }
            output < name: "y", data_type: TYPE_FP32, dims: -1 >
            output { name: "z" data_type: TYPE_INT64 dims: 1 reshape { shape: [] } }
            dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 }
            instance_group [ { kind: KIND_GPU count: 2 gpus: 0 } ]
            parameters { key: "EXECUTION_ENV_PATH" value: { string_value: "/envs/py.tar.gz" } }
            parameters: { key: "threads" value: { string_value: "4" } }
            optimization { execution_accelerators { gpu_execution_accelerator: [ { name: "tensorrt" parameters { key: "precision_mode" value: "FP16" } } ] } }
            model_warmup [{ name: "w" batch_size: 1 inputs { key: "x" value: { data_type: TYPE_FP32 dims: 3 zero_data: true } } }]
            response_cache { enable: true }
            rate: 0.5
            """
        let config = try ModelConfigText.parse(text)
        #expect(config["name"] == "resnet50")
        #expect(config["platform"] == "onnxruntime_onnx")
        #expect(config["input"] == [["name": "x", "data_type": "TYPE_FP32", "dims": [3, 224, 224]]])
        #expect(
            config["output"] == [
                ["name": "y", "data_type": "TYPE_FP32", "dims": [-1]],
                ["name": "z", "data_type": "TYPE_INT64", "dims": [1], "reshape": ["shape": []]],
            ])
        #expect(config["dynamic_batching"] == ["preferred_batch_size": [4, 8], "max_queue_delay_microseconds": 100])
        #expect(config["instance_group"] == [["kind": "KIND_GPU", "count": 2, "gpus": [0]]])
        #expect(config["parameters"] == ["EXECUTION_ENV_PATH": ["string_value": "/envs/py.tar.gz"], "threads": ["string_value": "4"]])
        #expect(
            config["optimization"]?["execution_accelerators"]?["gpu_execution_accelerator"] == [
                ["name": "tensorrt", "parameters": ["precision_mode": "FP16"]]
            ])
        #expect(config["model_warmup"]?.arrayValue?.first?["inputs"]?["x"]?["zero_data"] == true)
        #expect(config["response_cache"] == ["enable": true])
        #expect(config["rate"] == 0.5)
    }

    /// Names that mean something else inside one message, and every escape.
    @Test func readsFieldsByWhereTheyStand() throws {
        let text = #"""
            name: "A\x42\103\tD"
            sequence_batching {
              control_input { name: "START" control { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } }
              state { input_name: "IN_STATE" output_name: "OUT_STATE" data_type: TYPE_FP32 dims: 4 initial_state { name: "zero" dims: 4 zero_data: true } }
            }
            optimization { cuda { graphs: true graph_spec { batch_size: 1 input { key: "x" value: { dim: 3 } } lower_bound { batch_size: 1 input { key: "x" value { dim: [ 1 ] } } } } } }
            batch_output { target_name: "y" kind: BATCH_SCATTER_WITH_INPUT_SHAPE source_input: "x" }
            batch_input { target_name: "z" kind: BATCH_ELEMENT_COUNT source_input: "x" }
            model_repository_agents { agents { name: "checksum" parameters { key: "MD5" value: "abc" } } }
            """#
        let config = try ModelConfigText.parse(text)
        #expect(config["name"] == "ABC\tD")
        #expect(
            config["sequence_batching"]?["control_input"] == [
                ["name": "START", "control": [["kind": "CONTROL_SEQUENCE_START", "int32_false_true": [0, 1]]]]
            ])
        #expect(config["sequence_batching"]?["state"]?.arrayValue?.first?["initial_state"] == [["name": "zero", "dims": [4], "zero_data": true]])
        let spec = config["optimization"]?["cuda"]?["graph_spec"]
        #expect(spec == [["batch_size": 1, "input": ["x": ["dim": [3]]], "lower_bound": ["batch_size": 1, "input": ["x": ["dim": [1]]]]]])
        #expect(config["batch_output"] == [["target_name": ["y"], "kind": "BATCH_SCATTER_WITH_INPUT_SHAPE", "source_input": ["x"]]])
        #expect(config["batch_input"] == [["target_name": "z", "kind": "BATCH_ELEMENT_COUNT", "source_input": ["x"]]])
        #expect(config["model_repository_agents"]?["agents"] == [["name": "checksum", "parameters": ["MD5": "abc"]]])
    }

    @Test(arguments: [
        ("name: \"x\"\ninput [ { name: \"a\" ", "config.pbtxt:2: missing '}'"),
        ("name \"x\"", "config.pbtxt:1: expected ':' or '{' after name"),
        ("name: \"x", "config.pbtxt:1: a string is not closed"),
        ("\n\ndims: [1 2]", "config.pbtxt:3: expected ']', found '2'"),
    ])
    func saysWhereAFileIsWrong(_ text: String, _ expected: String) {
        #expect {
            _ = try ModelConfigText.parse(text)
        } throws: { error in
            "\(error)".hasPrefix(expected)
        }
    }

    /// Against Triton itself: what Triton made of the same file (loaded from its repository)
    /// holds every value the reader found.
    @Test func agreesWithTritonsOwnReading() async throws {
        let model = TritonPeer.Model(name: "echo", versions: [1])
        let triton = try await TritonPeer.start(models: [model])
        defer { triton.stop() }
        let http = HTTPClient()
        defer { http.shutdown() }
        let client = TritonClient(baseURL: triton.url, http: http)
        try await client.load("echo", config: nil)
        let theirs = try await client.config("echo")
        let ours = try ModelConfigText.parse(TritonPeer.Model.config("echo"))
        func holds(_ ours: JSONValue, in theirs: JSONValue?, at path: String) {
            switch ours {
            case .object(let members): for (key, value) in members { holds(value, in: theirs?[key], at: path + "." + key) }
            case .array(let items):
                #expect(theirs?.arrayValue?.count == items.count, "\(path): \(String(describing: theirs))")
                for (i, item) in items.enumerated() { holds(item, in: theirs?.arrayValue?[i], at: path + "[\(i)]") }
            case .int(let n):
                // (Triton writes int64 fields as numbers or as strings.)
                #expect(theirs == .int(n) || theirs == .string(String(n)), "\(path): \(String(describing: theirs))")
            default: #expect(theirs == ours, "\(path): \(String(describing: theirs))")
            }
        }
        holds(ours, in: theirs, at: "config")
    }
}
