import Foundation
public import ModelplaneAPI
public import Rollout
import Synchronization

/// A third serving backend, in memory and for tests only: it proves the `ServingBackend` seam
/// (nothing in the controller names it). A deployment labelled `test.modelplane.dev/backend=
/// scripted` is served by it (its spec stays valid: it still names Triton, and removing the label
/// is a migration to Triton); its record lives in `status.extensions["scripted"]`. Deploying is
/// synchronous, or asynchronous (done by the next look) with `asynchronous`; versions in `broken`
/// fail; every call is logged in order (`calls`).
public struct ScriptedBackend: ServingBackend {
    public static let id: BackendID = "scripted"
    public static let label = "test.modelplane.dev/backend"

    /// The backend's world: what serves, and the ordered calls made to it.
    public final class Server: Sendable {
        struct State {
            /// Model → (version serving, version being deployed, the owner tag).
            var models: [String: (serving: String?, deploying: String?, owner: String?)] = [:]
            var calls: [String] = []
        }
        let state = Mutex(State())
        public let broken: Set<String>
        public let asynchronous: Bool

        public init(broken: Set<String> = [], asynchronous: Bool = false) {
            self.broken = broken
            self.asynchronous = asynchronous
        }

        /// Every call so far, in order: `observe m`, `deploy m 2`, `remove m`.
        public var calls: [String] { state.withLock { $0.calls } }
        public func serving(_ model: String) -> String? { state.withLock { $0.models[model]?.serving } }

        /// Something deployed outside Modelplane (with an owner tag, or none).
        public func preload(_ model: String, version: String, owner: String? = nil) {
            state.withLock { $0.models[model] = (version, nil, owner) }
        }
    }

    public struct Desired: Sendable, Hashable {
        public var model: String
        public var version: String
        public var owner: String
    }

    public struct Record: Codable, Sendable, Hashable {
        public var model: String
        public var adopted: Bool

        public init(model: String, adopted: Bool) {
            self.model = model
            self.adopted = adopted
        }
    }

    public struct Observation: Sendable, Hashable {
        public var serving: String?
        public var deploying: String?
        public var owner: String?

        public init(serving: String? = nil, deploying: String? = nil, owner: String? = nil) {
            self.serving = serving
            self.deploying = deploying
            self.owner = owner
        }
    }

    public enum Action: BackendAction {
        case adopt(owned: Bool)
        case deploy(String)

        public var changesBackend: Bool {
            if case .deploy = self { return true }
            return false
        }
        public var preview: String? {
            switch self {
            case .adopt: "adopt what serves"
            case .deploy(let version): "deploy version \(version)"
            }
        }
        public var description: String { preview ?? "" }
    }

    public let server: Server
    public var pollInterval: Duration { .milliseconds(50) }

    public init(_ server: Server) { self.server = server }

    public static func desired(_ md: ModelDeployment) -> Desired? {
        guard md.metadata.labels?[label] == id.rawValue else { return nil }
        return Desired(model: md.spec.model.name, version: md.spec.model.version, owner: "\(md.metadata.namespace ?? "default")/\(md.metadata.name ?? "")")
    }

    public static func record(in status: ModelDeployment.Status) -> Record? {
        status.extensions?[id.rawValue].flatMap { try? JSONValueCoding.decode(Record.self, from: $0) }
    }

    public static func store(_ record: Record?, in status: inout ModelDeployment.Status) {
        var extensions = status.extensions ?? [:]
        extensions[id.rawValue] = record.flatMap { try? JSONValueCoding.encode($0) }
        status.extensions = extensions.isEmpty ? nil : extensions
    }

    public static func claims(_ desired: Desired) -> [Claim] { [claim(desired.model)] }
    public static func claims(_ record: Record) -> [Claim] { [claim(record.model)] }
    static func claim(_ model: String) -> Claim { Claim(key: "scripted#\(model)", subject: "scripted model \(model)", unit: "one scripted model") }

    public static func servingVersion(_ observation: Observation, record: Record?) -> String? { observation.serving }

    public static func plan(_ input: PlanInput<Self>) -> BackendPlan<Action> {
        let desired = input.desired
        let observed = input.observation
        if observed.serving == desired.version {
            guard input.record != nil else {
                if let owner = observed.owner, owner != desired.owner { return .conflict("scripted model \(desired.model) belongs to \(owner)") }
                return .act(.adopt(owned: observed.owner == desired.owner))
            }
            return .converged("version \(desired.version) of \(desired.model) is serving on the scripted backend")
        }
        if observed.deploying == desired.version { return .waiting("deploying version \(desired.version)") }
        if let blocked = input.blocked { return .blocked(blocked) }
        return .act(.deploy(desired.version))
    }

    public static func predicted(_ action: Action, _ input: PlanInput<Self>) -> StepResult<Self>? {
        switch action {
        case .adopt(let owned): StepResult(input.observation, record: Record(model: input.desired.model, adopted: !owned))
        case .deploy: nil
        }
    }

    public func observe(_ desired: Desired, record: Record?, deployment: ModelDeployment) async throws(BackendError) -> Observation {
        server.state.withLock { state in
            state.calls.append("observe \(desired.model)")
            // An asynchronous deploy is done by the next look.
            if var model = state.models[desired.model], let deploying = model.deploying {
                model.serving = deploying
                model.deploying = nil
                state.models[desired.model] = model
            }
            let model = state.models[desired.model]
            return Observation(serving: model?.serving, deploying: model?.deploying, owner: model?.owner)
        }
    }

    public func execute(_ action: Action, _ input: PlanInput<Self>, _ context: ActionContext) async throws -> StepResult<Self> {
        let desired = input.desired
        switch action {
        case .adopt(let owned):
            try context.audit(AuditEntry("adopt", "scripted#\(desired.model)", .ok))
            return StepResult(
                input.observation, record: Record(model: desired.model, adopted: !owned),
                notes: [.normal(.adopted, action: "Adopt", "version \(desired.version) of \(desired.model) was already serving")])
        case .deploy(let version):
            server.state.withLock { $0.calls.append("deploy \(desired.model) \(version)") }
            if server.broken.contains(version) {
                let failure = RolloutFailure(.loadFailed, "version \(version) of \(desired.model) is broken")
                try context.audit(AuditEntry("deploy", "scripted#\(desired.model)", .failed(failure.message)))
                return StepResult(input.observation, record: input.record, notes: [.warning(.loadFailed, action: "Deploy", failure.message)], .failed(failure))
            }
            let asynchronous = server.asynchronous
            server.state.withLock { state in
                var model = state.models[desired.model] ?? (nil, nil, nil)
                if asynchronous { model.deploying = version } else { model.serving = version }
                model.owner = desired.owner
                state.models[desired.model] = model
            }
            try context.audit(AuditEntry("deploy", "scripted#\(desired.model)", detail: ["version": .string(version)], .ok))
            var observation = input.observation
            let record = Record(model: desired.model, adopted: false)
            if asynchronous {
                observation.deploying = version
                return StepResult(observation, record: record, .started("deploying version \(version)"))
            }
            observation.serving = version
            return StepResult(observation, record: record, notes: [.normal(.loaded, action: "Deploy", "deployed version \(version)")])
        }
    }

    public func tearDown(_ record: Record, _ context: ActionContext) async throws -> TearDown<Record> {
        try context.ensureLeading()
        if record.adopted {
            try context.audit(AuditEntry("release", "scripted#\(record.model)", .ok))
            return .done([.normal(.released, action: "Release", "left \(record.model) serving: Modelplane did not deploy it")])
        }
        server.state.withLock { state in
            state.calls.append("remove \(record.model)")
            state.models[record.model] = nil
        }
        try context.audit(AuditEntry("remove", "scripted#\(record.model)", .ok))
        return .done([.normal(.unloaded, action: "Remove", "removed \(record.model)")])
    }
}
