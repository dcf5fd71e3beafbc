public import ModelplaneAPI
import Synchronization

/// The ModelDeployments the router serves, as its reflector last saw them, and a smooth weighted
/// choice per deployment over the lines of `status.traffic` that take requests (stable and
/// canary). The router follows the table the controller publishes; it decides no weights itself.
public final class TrafficTable: Sendable {
    private struct State {
        var deployments: [String: ModelDeployment] = [:]
        /// Smooth weighted round robin (nginx's): each line's running credit, per deployment.
        var credits: [String: [Int64]] = [:]
        /// The shadow's running credit per deployment: `percent` per request, a copy per 100.
        var shadowCredits: [String: Int64] = [:]
        var synced = false
    }

    private let state = Mutex(State())

    public init() {}

    static func key(_ namespace: String, _ name: String) -> String { namespace + "/" + name }

    /// Replaces the whole table (a list or relist).
    public func replace(_ items: [ModelDeployment]) {
        state.withLock { state in
            state.deployments = Dictionary(items.map { (Self.key($0.metadata.namespace ?? "default", $0.metadata.name ?? ""), $0) }) { $1 }
            state.credits = [:]
            state.synced = true
        }
    }

    public func upsert(_ md: ModelDeployment) {
        let key = Self.key(md.metadata.namespace ?? "default", md.metadata.name ?? "")
        state.withLock { state in
            if state.deployments[key]?.status?.traffic != md.status?.traffic { state.credits[key] = nil }
            state.deployments[key] = md
        }
    }

    public func remove(_ md: ModelDeployment) {
        let key = Self.key(md.metadata.namespace ?? "default", md.metadata.name ?? "")
        state.withLock { state in
            state.deployments[key] = nil
            state.credits[key] = nil
        }
    }

    /// Whether the first list has arrived.
    public var synced: Bool { state.withLock { $0.synced } }

    public func deployment(namespace: String, name: String) -> ModelDeployment? {
        state.withLock { $0.deployments[Self.key(namespace, name)] }
    }

    /// The line the next request goes to: the one with the most credit after every line earns
    /// its weight, which then pays the total (smooth: a 90/10 split sends the 10 % spread out,
    /// not in bursts). Nil when no line takes requests.
    public func choose(namespace: String, name: String) -> ModelDeployment.TrafficTarget? {
        state.withLock { state in
            let key = Self.key(namespace, name)
            let lines = (state.deployments[key]?.status?.traffic ?? []).filter { $0.role != .shadow && $0.weight > 0 }
            guard !lines.isEmpty else { return nil }
            if lines.count == 1 { return lines[0] }
            var credits = state.credits[key] ?? Array(repeating: 0, count: lines.count)
            if credits.count != lines.count { credits = Array(repeating: 0, count: lines.count) }
            let total = lines.reduce(0) { $0 + $1.weight }
            var best = 0
            for index in lines.indices {
                credits[index] += lines[index].weight
                if credits[index] > credits[best] { best = index }
            }
            credits[best] -= total
            state.credits[key] = credits
            return lines[best]
        }
    }

    /// The line that takes the most requests (the stable one on a tie), without taking a turn of
    /// the split: what metadata and readiness describe.
    public func primary(namespace: String, name: String) -> ModelDeployment.TrafficTarget? {
        state.withLock { state in
            let lines = (state.deployments[Self.key(namespace, name)]?.status?.traffic ?? []).filter { $0.role != .shadow && $0.weight > 0 }
            return lines.max { ($0.weight, $0.role == .stable ? 1 : 0) < ($1.weight, $1.role == .stable ? 1 : 0) }
        }
    }

    /// The shadow line a request should be copied to, if any: `weight` percent of requests,
    /// spread evenly (a running credit, not chance).
    public func mirror(namespace: String, name: String) -> ModelDeployment.TrafficTarget? {
        state.withLock { state in
            let key = Self.key(namespace, name)
            guard let line = state.deployments[key]?.status?.traffic?.first(where: { $0.role == .shadow && $0.weight > 0 }) else { return nil }
            if line.weight >= 100 { return line }
            let credit = (state.shadowCredits[key] ?? 0) + line.weight
            if credit >= 100 {
                state.shadowCredits[key] = credit - 100
                return line
            }
            state.shadowCredits[key] = credit
            return nil
        }
    }
}
