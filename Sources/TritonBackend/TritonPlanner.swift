public import ModelplaneAPI
public import Triton

/// What Triton should do next for one ModelDeployment. Pure: the same inputs give the same step,
/// which is what `modelplane diff` prints and what the reconciler executes, one step at a time,
/// observing again after each.
public enum TritonStep: Sendable, Hashable, CustomStringConvertible {
    /// The desired version (with those held beside it) serves where the spec says, and it is
    /// recorded as ours.
    case converged
    /// The desired version alone already serves, loaded by someone else (or by us before a
    /// crash): record it, as adopted, instead of loading again. Adopted, it is left loaded when
    /// the deployment goes (after a crash that is the safe mistake).
    case adopt
    /// Load `model` on Triton with exactly `versions` (a config override naming them).
    case load(url: String, model: String, versions: [Int])
    /// Unload (or, adopted, release) what we served before the spec moved it (another model
    /// name or Triton).
    case unload(ModelDeployment.TritonRecord)
    /// The desired version is ready beside others, and must answer the spec's smoke inference
    /// before the others go.
    case smokeTest(version: Int)
    /// The desired version failed to load for this generation already: do not retry hot.
    case blocked(reason: String)

    public var description: String {
        switch self {
        case .converged: "nothing to do"
        case .adopt: "adopt the version already serving"
        case .load(let url, let model, let versions): "load \(model) versions \(versions.map(String.init).joined(separator: ",")) on \(url)"
        case .unload(let record) where record.isAdopted: "release \(record.model) on \(record.url) (adopted: it stays loaded)"
        case .unload(let record): "unload \(record.model) from \(record.url)"
        case .smokeTest(let version): "run the smoke inference on version \(version)"
        case .blocked(let reason): "wait: \(reason)"
        }
    }
}

/// What the reconciler knows when it plans.
public struct TritonPlanInput: Sendable {
    public var url: String
    public var model: String
    public var version: Int
    /// Versions held beside it: the stable one while a canary runs, a shadow.
    public var beside: Set<Int>
    public var strategy: ModelDeployment.Rollout.Strategy
    /// The desired model's versions as Triton's index shows them.
    public var observed: [TritonModelState]
    /// What we loaded before (status.triton).
    public var record: ModelDeployment.TritonRecord?
    /// The desired version already failed to load for the current generation.
    public var failedForThisGeneration: String?
    /// The spec gives a smoke inference, and the desired version has not answered it yet.
    public var smokeTestPending: Bool

    public init(
        url: String, model: String, version: Int, beside: Set<Int> = [], strategy: ModelDeployment.Rollout.Strategy, observed: [TritonModelState],
        record: ModelDeployment.TritonRecord?, failedForThisGeneration: String? = nil, smokeTestPending: Bool = false
    ) {
        self.beside = beside
        self.smokeTestPending = smokeTestPending
        self.url = url
        self.model = model
        self.version = version
        self.strategy = strategy
        self.observed = observed
        self.record = record
        self.failedForThisGeneration = failedForThisGeneration
    }

    /// Versions READY now.
    public var ready: Set<Int> { Set(observed.filter { $0.state == .ready }.compactMap { $0.version.flatMap(Int.init) }) }
}

public enum TritonPlanner {
    public static func next(_ input: TritonPlanInput) -> TritonStep {
        let desired = ModelDeployment.TritonRecord(url: input.url, model: input.model)
        let ready = input.ready
        let wanted = input.beside.union([input.version])
        if ready == wanted {
            if let record = input.record, !record.isSameModel(as: desired) { return .unload(record) }
            return input.record == nil ? .adopt : .converged
        }
        if !ready.contains(input.version), let reason = input.failedForThisGeneration { return .blocked(reason: reason) }
        if ready.contains(input.version) {
            // Beside the old versions (BlueGreen, or a crash mid-rollout): prove it, then drop them.
            if input.smokeTestPending { return .smokeTest(version: input.version) }
            return .load(url: input.url, model: input.model, versions: wanted.sorted())
        }
        switch input.strategy {
        case .immediate: return .load(url: input.url, model: input.model, versions: wanted.sorted())
        // What serves stays loaded until the new version is ready (a canary names the stable
        // version in `beside` itself).
        case .blueGreen, .canary: return .load(url: input.url, model: input.model, versions: ready.union(wanted).sorted())
        }
    }
}
