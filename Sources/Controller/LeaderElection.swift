import Foundation
public import KubeClient
public import Logging
import Metrics
import ModelplaneAPI
import Synchronization

/// Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
/// acquire or renew with GET then PUT carrying the resourceVersion (a 409 means someone else
/// won), judge another holder's lease expired by how long its record has gone *unchanged on our
/// local clock* (never by comparing its renewTime with our wall clock), and stop leading as soon as
/// a renewal has not succeeded within `renewDeadline`.
public final class LeaderElector: Sendable {
    public struct Configuration: Sendable {
        public var namespace: String
        public var name: String
        /// Unique per process: `HOSTNAME_RANDOM` by default.
        public var identity: String
        /// How long a lease is good for without renewal (client-go: 15 s).
        public var leaseDuration: Duration
        /// How long the leader keeps trying to renew before it gives up leading (client-go: 10 s).
        public var renewDeadline: Duration
        /// Time between attempts (client-go: 2 s, with up to 20% jitter).
        public var retryPeriod: Duration

        public init(
            namespace: String, name: String, identity: String = LeaderElector.defaultIdentity(), leaseDuration: Duration = .seconds(15),
            renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2)
        ) {
            self.namespace = namespace
            self.name = name
            self.identity = identity
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }

        /// client-go's rule: leaseDuration > renewDeadline > retryPeriod × 1.2.
        public func problem() -> String? {
            if !(leaseDuration > renewDeadline) { return "the lease duration must be longer than the renew deadline" }
            if !(renewDeadline > retryPeriod * 1.2) { return "the renew deadline must be longer than 1.2 × the retry period" }
            return nil
        }
    }

    public static func defaultIdentity() -> String {
        ProcessInfo.processInfo.hostName + "_" + UUID().uuidString.prefix(8).lowercased()
    }

    public let configuration: Configuration
    let client: KubernetesClient
    let logger: Logger

    private struct State {
        /// The lease as last read, and when (local monotonic clock) it was last seen to change.
        var observed: Lease?
        var observedAt: ContinuousClock.Instant?
        /// When the last successful acquire or renew was *sent*: we lead until that plus renewDeadline.
        var renewedAt: ContinuousClock.Instant?
        var leading = false
        /// The API server answered the last attempt (whoever holds the lease).
        var reachable = false
    }
    private let state = Mutex(State())
    private let leaderGauge = Gauge(label: "modelplane_leader")

    public init(client: KubernetesClient, configuration: Configuration, logger: Logger = Logger(label: "modelplane.leader-election")) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        leaderGauge.record(0)
    }

    /// Whether this process may act as the leader *now*: it holds the lease and renewed it less than
    /// `renewDeadline` ago. Check it right before every action with effects outside the API: a
    /// process that was paused (or cut off) past its deadline stops acting at once, before it even
    /// learns that someone else leads.
    public var isLeader: Bool {
        state.withLock { state in
            guard state.leading, let renewed = state.renewedAt else { return false }
            return ContinuousClock.now - renewed < configuration.renewDeadline
        }
    }

    /// Whether the last attempt reached the API server (a standby that can reach it is ready to lead).
    public var isReachable: Bool { state.withLock { $0.reachable } }

    /// The identity holding the lease when last read, if any.
    public var observedHolder: String? { state.withLock { $0.observed?.spec?.holderIdentity } }

    public enum Outcome: Sendable, Equatable {
        /// Leadership was lost (a renewal did not succeed within the deadline): stop, and usually exit.
        case lostLeadership
        /// The task was cancelled (shutdown); the lease was released if held.
        case cancelled
    }

    /// Waits until this process holds the lease, runs `lead` (as a child task) while it keeps it,
    /// and cancels `lead` as soon as a renewal misses the deadline. On cancellation the lease is
    /// released (holderIdentity cleared) so a successor need not wait for it to expire.
    public func run(lead: @escaping @Sendable () async -> Void) async -> Outcome {
        // Acquire.
        while !Task.isCancelled {
            if await tryAcquireOrRenew() { break }
            try? await Task.sleep(for: jittered(configuration.retryPeriod))
        }
        if Task.isCancelled { return .cancelled }
        leaderGauge.record(1)
        logger.notice("became the leader", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)", "identity": "\(configuration.identity)"])
        let outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                await lead()
                return nil
            }
            group.addTask { await self.renewLoop() }
            var result = Outcome.cancelled
            while let next = await group.next() {
                if let next {
                    result = next
                    break
                }
            }
            group.cancelAll()
            return result
        }
        state.withLock { $0.leading = false }
        leaderGauge.record(0)
        // Released from a task of its own: this one is cancelled, and would cancel the requests.
        if outcome == .cancelled { await Task { await self.release() }.value }
        return outcome
    }

    /// Renews every retryPeriod; returns `.lostLeadership` once renewals have failed for
    /// renewDeadline, or `.cancelled` when cancelled.
    private func renewLoop() async -> Outcome {
        while !Task.isCancelled {
            try? await Task.sleep(for: jittered(configuration.retryPeriod))
            if Task.isCancelled { return .cancelled }
            _ = await tryAcquireOrRenew()
            if !isLeader {
                logger.error(
                    "lost leadership: the lease was not renewed within the renew deadline",
                    metadata: ["lease": "\(configuration.namespace)/\(configuration.name)", "holder": "\(observedHolder ?? "")"])
                return .lostLeadership
            }
        }
        return .cancelled
    }

    /// One attempt, client-go's tryAcquireOrRenew. True when we hold the lease afterwards.
    func tryAcquireOrRenew() async -> Bool {
        let sent = ContinuousClock.now
        let now = Timestamps.rfc3339Micro(Date())
        let seconds = Int32(configuration.leaseDuration.components.seconds)
        let me = configuration.identity
        do {
            let current: Lease
            do {
                current = try await client.get(Lease.self, name: configuration.name, namespace: configuration.namespace)
            } catch  where error.isNotFound {
                let lease = Lease(
                    metadata: ObjectMeta(name: configuration.name, namespace: configuration.namespace),
                    spec: .init(holderIdentity: me, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now, leaseTransitions: 0))
                let created = try await client.create(lease)
                record(created, at: sent, leading: true)
                return true
            }
            state.withLock { state in
                state.reachable = true
                if state.observed?.spec != current.spec {
                    state.observed = current
                    state.observedAt = sent
                }
            }
            let spec = current.spec ?? Lease.Spec()
            let holder = spec.holderIdentity ?? ""
            if !holder.isEmpty, holder != me {
                // Another holder's lease expires when it has not changed for its duration, by our clock.
                let duration = Duration.seconds(Int64(spec.leaseDurationSeconds ?? seconds))
                let unchangedFor = state.withLock { state in state.observedAt.map { sent - $0 } ?? .zero }
                if unchangedFor < duration {
                    state.withLock { $0.leading = false }
                    return false
                }
            }
            var updated = current
            let takingOver = holder != me
            updated.spec = .init(
                holderIdentity: me, leaseDurationSeconds: seconds, acquireTime: takingOver ? now : (spec.acquireTime ?? now), renewTime: now,
                leaseTransitions: takingOver ? (spec.leaseTransitions ?? 0) + 1 : (spec.leaseTransitions ?? 0))
            let written = try await client.update(updated)
            record(written, at: sent, leading: true)
            return true
        } catch {
            // A conflict means someone else wrote the lease first; anything else: try again.
            let unreachable = if case .transport = error { true } else { false }
            state.withLock { $0.reachable = !unreachable }
            if !error.isConflict {
                logger.warning("leader election: cannot reach the lease", metadata: ["error": "\(error)"])
            }
            return false
        }
    }

    private func record(_ lease: Lease, at sent: ContinuousClock.Instant, leading: Bool) {
        state.withLock { state in
            state.observed = lease
            state.observedAt = sent
            state.renewedAt = sent
            state.leading = leading
            state.reachable = true
        }
    }

    /// Gives the lease up (holderIdentity cleared, duration 1 s), if we still hold it.
    private func release() async {
        guard let lease = try? await client.get(Lease.self, name: configuration.name, namespace: configuration.namespace),
            lease.spec?.holderIdentity == configuration.identity
        else { return }
        var released = lease
        released.spec?.holderIdentity = nil
        released.spec?.leaseDurationSeconds = 1
        released.spec?.renewTime = Timestamps.rfc3339Micro(Date())
        if (try? await client.update(released)) != nil {
            logger.notice("released the lease", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)"])
        }
    }

    private func jittered(_ period: Duration) -> Duration { period * Double.random(in: 1...1.2) }
}
