public import Controller
import Synchronization
public import Triton

/// Repository indexes by Triton URL, reused for `ttl`: a resync of many deployments on one
/// Triton costs one index call, not one per deployment. Our own actions invalidate it. One call
/// per Triton at a time: the workers that find the index stale together share the call that
/// is under way instead of each making its own.
public final class TritonIndexCache: Sendable {
    let ttl: Duration
    typealias Rows = [String: [TritonModelState]]
    private struct State {
        /// Rows grouped by model, so each deployment's lookup is one dictionary access.
        var entries: [String: (at: Duration, rows: Rows)] = [:]
        /// The index call under way for each Triton: the generation it started in, and the rows
        /// our own actions observed since, which its answer may predate.
        var fetches: [String: (generation: Int, task: Task<Result<Rows, TritonError>, Never>, updates: Rows)] = [:]
        /// Bumped by `invalidate`: a call that started before it neither stores its rows nor is
        /// joined by anyone after it.
        var generations: [String: Int] = [:]
        /// A Triton found unreachable, and when.
        var failures: [String: (at: Duration, error: TritonError)] = [:]
    }
    private let state = Mutex(State())

    private let clock: any RuntimeClock

    public init(ttl: Duration = .seconds(1), clock: any RuntimeClock = SystemClock()) {
        self.ttl = ttl
        self.clock = clock
    }

    /// A Triton found unreachable is not asked again for this long: every deployment on it fails
    /// fast instead of each holding a worker until its own timeout.
    let unreachableFor: Duration = .seconds(5)

    /// The rows for `model` in the index of `backend`'s Triton.
    public func rows(_ backend: any TritonAPI, model: String) async throws(TritonError) -> [TritonModelState] {
        let now = clock.now
        let key = Self.key(backend.baseURL)
        enum Next {
            case cached([TritonModelState])
            case failed(TritonError)
            case wait(Task<Result<Rows, TritonError>, Never>)
        }
        let next = state.withLock { state -> Next in
            if let entry = state.entries[key], now - entry.at < ttl { return .cached(entry.rows[model] ?? []) }
            if let failure = state.failures[key], now - failure.at < unreachableFor { return .failed(failure.error) }
            let generation = state.generations[key, default: 0]
            if let running = state.fetches[key], running.generation == generation { return .wait(running.task) }
            let task = Task { [self] () async -> Result<Rows, TritonError> in
                let result: Result<Rows, TritonError>
                do throws(TritonError) {
                    result = .success(Dictionary(grouping: try await backend.index(), by: \.name))
                } catch {
                    result = .failure(error)
                }
                return finished(key, generation: generation, result, startedAt: now)
            }
            state.fetches[key] = (generation, task, [:])
            return .wait(task)
        }
        switch next {
        case .cached(let rows): return rows
        case .failed(let error): throw error
        case .wait(let task): return try await task.value.get()[model] ?? []
        }
    }

    /// Keeps what a finished index call found, with what our own actions observed meanwhile,
    /// unless it was invalidated since it started; returns that.
    private func finished(
        _ key: String, generation: Int, _ result: Result<Rows, TritonError>, startedAt: Duration
    ) -> Result<Rows, TritonError> {
        state.withLock { state in
            guard state.generations[key, default: 0] == generation, let fetch = state.fetches.removeValue(forKey: key) else { return result }
            switch result {
            case .success(var rows):
                rows.merge(fetch.updates) { _, ours in ours }
                state.entries[key] = (startedAt, rows)
                state.failures[key] = nil
                return .success(rows)
            case .failure(let error):
                if error.kind == .unreachable { state.failures[key] = (clock.now, error) }
                return result
            }
        }
    }

    public func invalidate(_ url: String) {
        state.withLock { state in
            let key = Self.key(url)
            state.entries[key] = nil
            state.fetches[key] = nil
            state.generations[key, default: 0] += 1
        }
    }

    /// Replaces one model's rows in the cached index (after our own action, which we observed).
    public func update(_ url: String, model: String, rows: [TritonModelState]) {
        state.withLock { state in
            let key = Self.key(url)
            state.entries[key]?.rows[model] = rows
            state.fetches[key]?.updates[model] = rows
        }
    }

    private static func key(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }
}
