public import Foundation
public import ModelplaneAPI

/// What the controller would do for a deployment, without doing it: the same machine and the
/// same plans, with each action's `predicted` result standing in for executing it. What
/// `modelplane diff` prints.
public struct PlanPreview<B: ServingBackend>: Sendable {
    /// The actions, in order.
    public var actions: [B.Action]
    /// How the pass would end; nil when it stops at an action whose result only the backend can tell.
    public var ending: RolloutMachine<B>.Ending?

    /// `deployment` carries the desired spec, and the live object's status and generation (its
    /// generation plus one when the spec differs, as the API server would make it).
    public init(deployment: ModelDeployment, desired: B.Desired, observation: B.Observation, now: Date) {
        var machine = RolloutMachine<B>(deployment: deployment, desired: desired, pollInterval: .zero, now: now)
        var next = machine.observed(observation)
        var ending: RolloutMachine<B>.Ending?
        loop: while true {
            switch next {
            case .finish:
                ending = machine.ending
                break loop
            case .execute(let action):
                guard let result = B.predicted(action, machine.input) else { break loop }
                next = machine.finished(result)
            }
        }
        self.actions = machine.actions
        self.ending = ending
    }

    /// Whether the backend would be asked to change anything.
    public var changesBackend: Bool { actions.contains { $0.changesBackend } }

    /// `diff`'s lines for the backend: each action, then how the pass ends.
    public var lines: [String] {
        let id = B.id.rawValue
        var lines = actions.compactMap { $0.preview.map { "\(id): \($0)" } }
        switch ending {
        case .converged(let message) where lines.isEmpty: lines.append("\(id): nothing to do, already serving: \(message)")
        case .converged, nil: break
        case .failed(let failure): lines.append("\(id): waiting: \(failure.reason.rawValue): \(failure.message)")
        case .waiting(let progress): lines.append("\(id): wait: \(progress); the plan continues when the backend is done")
        case .rollingBack(let message): lines.append("\(id): wait: \(message)")
        case .conflict(let message): lines.append("\(id): cannot: \(message)")
        case .unavailable(let error): lines.append("\(id): cannot observe: \(error.message); no plan")
        case .canary(let message): lines.append("\(id): \(message)")
        case .aborted(let message): lines.append("\(id): \(message)")
        }
        return lines
    }
}
