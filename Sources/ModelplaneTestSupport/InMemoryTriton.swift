public import Foundation
public import ModelplaneAPI
import Synchronization
public import Triton

/// A Triton model repository and server in memory, with the behaviour the controller relies on
/// (as observed on tritonserver 2.51): a load names its versions by the config's version policy
/// (without a config: the repository's own, the latest version); a load with a failing version
/// is refused with that version's reason, leaves it UNAVAILABLE and keeps what served before;
/// versions a reload drops, and all versions on unload, become UNAVAILABLE ("unloaded"); a
/// model's config can be read only while a version is loaded; a load with files of a model the
/// repository lacks creates it from the files' `VERSION/` prefixes, and such uploaded models are
/// left out of the index (metadata still shows their loaded versions). Inference answers
/// `OUTPUT0 = INPUT0 × version` for the first input, or fails for versions named in
/// `failingInference`. Not emulated: LOADING/UNLOADING states (loads are instant).
public final class InMemoryTriton: TritonAPI {
    public let baseURL: String
    private struct Model {
        var versions: Set<Int>
        var broken: [Int: String]
        var config: JSONValue
        var states: [Int: (TritonModelState.State, String)] = [:]
        var uploaded = false
    }
    private let models: Mutex<[String: Model]>
    private let calls = Mutex<[String]>([])
    private let onLoad: (@Sendable (String) -> Void)?
    private let failingInference: [String: Set<Int>]

    /// `repository`: model name → versions (and reasons for versions that fail to load);
    /// `failingInference`: model name → versions that load but fail every inference.
    public init(
        baseURL: String = "http://in-memory-triton", repository: [String: (versions: Set<Int>, broken: [Int: String])],
        failingInference: [String: Set<Int>] = [:], onLoad: (@Sendable (String) -> Void)? = nil
    ) {
        self.baseURL = baseURL
        self.onLoad = onLoad
        self.failingInference = failingInference
        models = Mutex(
            repository.mapValues { entry in
                Model(versions: entry.versions, broken: entry.broken, config: ["backend": "python", "max_batch_size": 0, "input": [["name": "INPUT0"]]])
            })
    }

    /// Every call so far, as "load NAME", "unload NAME", "index", "config NAME".
    public var history: [String] { calls.withLock { $0 } }

    public func index() async throws(TritonError) -> [TritonModelState] {
        calls.withLock { $0.append("index") }
        // A snapshot (copy on write), listed outside the lock: loads need not wait for the sort.
        let models = models.withLock { $0 }
        return models.sorted { $0.key < $1.key }.flatMap { name, model -> [TritonModelState] in
            if model.uploaded { return [] }
            if model.states.isEmpty { return [TritonModelState(name: name, version: nil, state: .unknown)] }
            return model.states.sorted { $0.key < $1.key }.map { version, state in
                TritonModelState(name: name, version: String(version), state: state.0, reason: state.1)
            }
        }
    }

    public func load(_ name: String, config: JSONValue?, files: [String: Data]) async throws(TritonError) {
        calls.withLock { $0.append("load \(name)") }
        onLoad?(name)
        try models.withLock { (models) throws(TritonError) in
            if !files.isEmpty {
                guard let config else { throw TritonError(.refused, status: 400, "failed to load '\(name)': load with file override requires 'config'") }
                let versions = Set(files.keys.compactMap { path in path.split(separator: "/").first.flatMap { Int($0) } })
                var model = models[name] ?? Model(versions: [], broken: [:], config: config, uploaded: true)
                model.versions = versions
                model.config = config
                model.config["version_policy"] = nil
                models[name] = model
            }
            guard var model = models[name] else { throw TritonError(.refused, status: 400, "failed to load '\(name)', failed to poll from model repository") }
            let wanted: Set<Int>
            if case .array(let versions)? = config?["version_policy"]?["specific"]?["versions"] {
                wanted = Set(versions.compactMap { if case .int(let v) = $0 { Int(v) } else { nil } })
            } else {
                wanted = model.versions.max().map { [$0] } ?? []
            }
            if let missing = wanted.first(where: { !model.versions.contains($0) }) {
                throw TritonError(.refused, status: 400, "failed to load '\(name)', no version is available (version \(missing) not found)")
            }
            if let failing = wanted.sorted().first(where: { model.broken[$0] != nil }) {
                model.states[failing] = (.unavailable, model.broken[failing]!)
                models[name] = model
                throw TritonError(
                    .refused, status: 400, "load failed for model '\(name)': version \(failing) is at UNAVAILABLE state: \(model.broken[failing]!);")
            }
            for (version, state) in model.states where state.0 == .ready && !wanted.contains(version) { model.states[version] = (.unavailable, "unloaded") }
            for version in wanted { model.states[version] = (.ready, "") }
            models[name] = model
        }
    }

    public func config(_ name: String) async throws(TritonError) -> JSONValue {
        calls.withLock { $0.append("config \(name)") }
        return try models.withLock { (models) throws(TritonError) -> JSONValue in
            guard let model = models[name], model.states.values.contains(where: { $0.0 == .ready }) else {
                throw TritonError(.refused, status: 400, "Request for unknown model: '\(name)' has no available versions")
            }
            var config = model.config
            config["name"] = .string(name)
            let ready = model.states.filter { $0.value.0 == .ready }.keys.sorted()
            config["version_policy"] = ["specific": ["versions": .array(ready.map { .int(Int64($0)) })]]
            return config
        }
    }

    public func isReady(_ name: String, version: String) async throws(TritonError) -> Bool {
        models.withLock { models in
            guard let version = Int(version), let state = models[name]?.states[version] else { return false }
            return state.0 == .ready
        }
    }

    public func loadedVersions(_ name: String) async throws(TritonError) -> [String] {
        models.withLock { models in
            (models[name]?.states ?? [:]).filter { $0.value.0 == .ready }.keys.sorted().map(String.init)
        }
    }

    public func infer(_ name: String, version: String?, request: JSONValue) async throws(TritonError) -> JSONValue {
        calls.withLock { $0.append("infer \(name)") }
        let ready = try await loadedVersions(name).compactMap { Int($0) }
        guard let chosen = version.flatMap({ Int($0) }) ?? ready.max(), ready.contains(chosen) else {
            throw TritonError(.refused, status: 400, "Request for unknown model: '\(name)' version \(version ?? "") is not at ready state")
        }
        if failingInference[name]?.contains(chosen) == true {
            throw TritonError(.refused, status: 500, "Failed to process the request(s) for model '\(name)', message: inference failed")
        }
        guard case .array(let inputs)? = request["inputs"], case .array(let data)? = inputs.first?["data"] else {
            throw TritonError(.refused, status: 400, "inference request has no inputs")
        }
        let outputs: [JSONValue] = data.map { value in
            switch value {
            case .int(let number): .double(Double(number) * Double(chosen))
            case .double(let number): .double(number * Double(chosen))
            default: value
            }
        }
        return [
            "model_name": .string(name), "model_version": .string(String(chosen)),
            "outputs": [["name": "OUTPUT0", "datatype": "FP32", "shape": inputs.first?["shape"] ?? [], "data": .array(outputs)]],
        ]
    }

    public func unload(_ name: String) async throws(TritonError) {
        calls.withLock { $0.append("unload \(name)") }
        models.withLock { models in
            guard var model = models[name] else { return }
            for (version, state) in model.states where state.0 == .ready { model.states[version] = (.unavailable, "unloaded") }
            models[name] = model
        }
    }
}
