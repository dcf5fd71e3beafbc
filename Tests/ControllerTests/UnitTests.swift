import Digests
import Foundation
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Rollout
import Synchronization
import Testing
import Triton

@testable import Controller
@testable import TritonBackend

@Suite struct PlannerTests {
    static let url = "http://triton:8000"

    static func input(
        _ version: Int, ready: [Int], failed: [Int] = [], strategy: ModelDeployment.Rollout.Strategy = .immediate,
        record: ModelDeployment.TritonRecord? = .init(url: url, model: "m"), failedBefore: String? = nil
    ) -> TritonPlanInput {
        TritonPlanInput(
            url: url, model: "m", version: version, strategy: strategy,
            observed: ready.map { TritonModelState(name: "m", version: String($0), state: .ready) }
                + failed.map { TritonModelState(name: "m", version: String($0), state: .unavailable, reason: "boom") },
            record: record, failedForThisGeneration: failedBefore)
    }

    @Test func convergedWhenTheVersionServesAlone() {
        #expect(TritonPlanner.next(Self.input(2, ready: [2])) == .converged)
        #expect(TritonPlanner.next(Self.input(2, ready: [2], record: nil)) == .adopt)
        // Whoever loaded it, the same model serving is converged: an adopted record stays adopted.
        #expect(TritonPlanner.next(Self.input(2, ready: [2], record: .init(url: Self.url, model: "m", origin: .adopted))) == .converged)
        #expect(TritonPlanner.next(Self.input(2, ready: [2], record: .init(url: Self.url, model: "m", origin: .loaded))) == .converged)
        // An adopted model on a new version is loaded by us.
        #expect(
            TritonPlanner.next(Self.input(3, ready: [2], record: .init(url: Self.url, model: "m", origin: .adopted)))
                == .load(url: Self.url, model: "m", versions: [3]))
    }

    @Test func immediateLoadsOnlyTheNewVersion() {
        #expect(TritonPlanner.next(Self.input(3, ready: [2])) == .load(url: Self.url, model: "m", versions: [3]))
        #expect(TritonPlanner.next(Self.input(3, ready: [])) == .load(url: Self.url, model: "m", versions: [3]))
    }

    @Test func blueGreenLoadsBesideThenDropsTheOld() {
        #expect(TritonPlanner.next(Self.input(3, ready: [2], strategy: .blueGreen)) == .load(url: Self.url, model: "m", versions: [2, 3]))
        #expect(TritonPlanner.next(Self.input(3, ready: [2, 3], strategy: .blueGreen)) == .load(url: Self.url, model: "m", versions: [3]))
    }

    @Test func aSmokeInferenceComesBeforeTheOldVersionGoes() {
        var input = Self.input(3, ready: [2, 3], strategy: .blueGreen)
        input.smokeTestPending = true
        #expect(TritonPlanner.next(input) == .smokeTest(version: 3))
        input.smokeTestPending = false
        #expect(TritonPlanner.next(input) == .load(url: Self.url, model: "m", versions: [3]))
    }

    @Test func aFailedVersionIsNotRetriedHot() {
        #expect(TritonPlanner.next(Self.input(3, ready: [2], failed: [3], failedBefore: "boom")) == .blocked(reason: "boom"))
        // Once it serves (someone fixed it and it loaded), the failure no longer matters.
        #expect(TritonPlanner.next(Self.input(3, ready: [3], failedBefore: "boom")) == .converged)
    }

    @Test func movingTheModelUnloadsTheOldPlaceOnlyAfterTheNewServes() {
        let old = ModelDeployment.TritonRecord(url: "http://old:8000", model: "m")
        #expect(TritonPlanner.next(Self.input(2, ready: [], record: old)) == .load(url: Self.url, model: "m", versions: [2]))
        #expect(TritonPlanner.next(Self.input(2, ready: [2], record: old)) == .unload(old))
    }
}

@Suite struct WorkQueueTests {
    @Test func deduplicatesAndNeverHandsOneKeyToTwoWorkers() async {
        let queue = WorkQueue<String>()
        await queue.add("a")
        await queue.add("a")
        await queue.add("b")
        #expect(await queue.depth == 2)
        let first = await queue.next()
        #expect(first == "a")
        // Added while a worker holds it: not handed out again until done.
        await queue.add("a")
        #expect(await queue.next() == "b")
        #expect(await queue.depth == 0)
        await queue.done("a")
        #expect(await queue.next() == "a")
    }

    @Test func backsOffPerKeyAndForgetsOnSuccess() async throws {
        let queue = WorkQueue<String>(policy: RetryPolicy(baseDelay: .milliseconds(10), maxDelay: .seconds(1), jitter: 1...1))
        var delays: [RetryPolicy.Decision] = []
        for _ in 0..<8 {
            await queue.add("k")
            _ = await queue.next()
            delays.append(await queue.finish("k", .failure(.transient("down"))).decision)
        }
        #expect(delays == [10, 20, 40, 80, 160, 320, 640, 1000].map { .retry(after: .milliseconds($0)) })
        #expect(await queue.failureCount("k") == 8)
        await queue.add("k")
        _ = await queue.next()
        #expect(await queue.finish("k", .success(.converged)).decision == .forget)
        #expect(await queue.failureCount("k") == 0)
    }

    @Test func delayedAddsArriveWhenTheirTimeComes() async {
        let clock = ManualClock()
        let queue = WorkQueue<String>(clock: clock)
        await queue.add("later", after: .milliseconds(50))
        #expect(await queue.depth == 0)
        await clock.waitForSleepers(1)
        clock.advance(by: .milliseconds(49))
        let depth = await queue.depth
        #expect(clock.sleepers == 1 && depth == 0, "not before its time")
        clock.advance(by: .milliseconds(1))
        #expect(await queue.next() == "later")
    }

    @Test func shutDownReleasesWaitingWorkers() async {
        let queue = WorkQueue<String>()
        async let waiting = queue.next()
        // Shut down only once the worker is waiting (else this would test an empty queue).
        while await queue.waitingWorkers == 0 { await Task.yield() }
        await queue.shutDown()
        #expect(await waiting == nil)
        // A stopping controller takes no new work, even what is already queued.
        let stopping = WorkQueue<String>()
        await stopping.add("queued")
        await stopping.shutDown()
        #expect(await stopping.next() == nil)
    }
}

@Suite struct OwnWriteTests {
    static func md(_ resourceVersion: String, phase: ModelDeployment.Phase? = nil) -> ModelDeployment {
        var md = ModelDeployment(name: "a", spec: .init(model: .init(name: "m", version: "1"), backend: .init(triton: .init(url: "http://t:8000"))))
        md.metadata.namespace = "default"
        md.metadata.resourceVersion = resourceVersion
        if let phase {
            md.status = .init()
            md.status?.phase = phase
        }
        return md
    }

    @Test func theEchoOfOurOwnWriteNeedsNoReconcileButAnyoneElsesChangeDoes() {
        let cache = ObjectCache<ModelDeployment>()
        let key = ObjectKey(namespace: "default", name: "a")
        #expect(cache.observe(Self.md("4")), "a change we did not make")
        cache.wrote(Self.md("5", phase: .progressing))
        cache.wrote(Self.md("6", phase: .ready))
        #expect(cache[key]?.status?.phase == .ready, "read back before the watch delivers it")
        #expect(cache.isAsWeLeftIt(key))
        #expect(!cache.observe(Self.md("5", phase: .progressing)), "an earlier write of ours, already superseded")
        #expect(cache[key]?.metadata.resourceVersion == "6", "an older event never replaces a newer object")
        #expect(!cache.observe(Self.md("6", phase: .ready)), "the echo of our latest write")
        #expect(cache.observe(Self.md("7")), "someone else's change")
        #expect(cache[key]?.metadata.resourceVersion == "7")
        #expect(!cache.isAsWeLeftIt(key))
        // An answer older than what the watch already delivered does not go back in time.
        cache.wrote(Self.md("6"))
        #expect(cache[key]?.metadata.resourceVersion == "7")
    }

    @Test func aRepeatAddedWhileProcessingIsDroppedOnlyWhenNothingChanged() async {
        let queue = WorkQueue<String>()
        await queue.add("a")
        _ = await queue.next()
        await queue.add("a")  // the echo, arriving while the worker still holds the key
        await queue.done("a", unlessUnchanged: { true })
        #expect(await queue.depth == 0)
        await queue.add("a")
        _ = await queue.next()
        await queue.add("a")
        await queue.done("a", unlessUnchanged: { false })
        #expect(await queue.next() == "a")
        // Nothing added meanwhile: not asked, nothing queued.
        await queue.done(
            "a",
            unlessUnchanged: {
                Issue.record("asked without a repeat")
                return false
            })
        #expect(await queue.depth == 0)
    }

    @Test func addsManyAtOnceWithoutDuplicates() async {
        let queue = WorkQueue<String>()
        await queue.add("a")
        _ = await queue.next()
        await queue.add(contentsOf: ["a", "b", "c", "b"])
        // "a" is being processed: it waits for done; "b" is queued once.
        #expect(await queue.depth == 2)
        #expect(await queue.next() == "b")
        #expect(await queue.next() == "c")
        await queue.done("a")
        #expect(await queue.next() == "a")
    }

    @Test func finishAppliesThePolicysDecision() async throws {
        let queue = WorkQueue<String>(policy: RetryPolicy(baseDelay: .milliseconds(10), maxDelay: .seconds(1), jitter: 1...1))
        await queue.add(contentsOf: ["ok", "later", "failing", "conflict", "other"])
        for _ in 0..<4 { _ = await queue.next() }
        // Converged: forgotten and done; a repeat that arrived meanwhile is queued again.
        await queue.add("ok")
        var (decision, depth) = await queue.finish("ok", .success(.converged), unlessUnchanged: { false })
        #expect(decision == .forget && depth == 2)
        // Requeued after a delay: not waiting now, back after it.
        (decision, depth) = await queue.finish("later", .success(.requeueAfter(.milliseconds(30))))
        #expect(decision == .requeue(after: .milliseconds(30)) && depth == 2)
        // Failed: backs off.
        (decision, _) = await queue.finish("failing", .failure(.transient("down")))
        #expect(decision == .retry(after: .milliseconds(10)))
        // A conflict: queued again at once (after what is waiting), the failure counted.
        (decision, depth) = await queue.finish("conflict", .failure(.conflict("409")))
        #expect(decision == .retryAtOnce && depth == 3)
        #expect(await queue.failureCount("conflict") == 1)
        #expect(await queue.next() == "other")
        #expect(await queue.next() == "ok")
        #expect(await queue.next() == "conflict")
        var seen: Set<String> = []
        for _ in 0..<2 { if let key = await queue.next() { seen.insert(key) } }
        #expect(seen == ["later", "failing"])
    }
}

/// The runtime's whole retry behaviour, as one table: what follows each kind of ending, after
/// how many failures in a row.
@Suite struct RetryPolicyTests {
    static let policy = RetryPolicy(baseDelay: .milliseconds(50), maxDelay: .seconds(300), jitter: 0.8...1.2, immediateConflictRetries: 3)

    /// (result, failures in a row before it, how many of the latest were conflicts, jitter) → decision.
    @Test(arguments: [
        (Result<ReconcileResult, ReconcileError>.success(.converged), 0, 0, 1.0, RetryPolicy.Decision.forget),
        (.success(.converged), 7, 2, 1.0, .forget),
        (.success(.requeueAfter(.seconds(60))), 3, 0, 1.2, .requeue(after: .seconds(60))),
        (.failure(.transient("unreachable")), 0, 0, 1.0, .retry(after: .milliseconds(50))),
        (.failure(.transient("unreachable")), 1, 0, 1.0, .retry(after: .milliseconds(100))),
        (.failure(.transient("unreachable")), 4, 0, 1.0, .retry(after: .milliseconds(800))),
        (.failure(.transient("unreachable")), 0, 0, 0.8, .retry(after: .milliseconds(40))),
        (.failure(.transient("unreachable")), 0, 0, 1.2, .retry(after: .milliseconds(60))),
        // Capped at five minutes, jitter applied after the cap; no overflow however many failures.
        (.failure(.transient("unreachable")), 13, 0, 1.0, .retry(after: .seconds(300))),
        (.failure(.transient("unreachable")), 1000, 0, 0.8, .retry(after: .seconds(240))),
        (.failure(.terminal("no such backend")), 0, 0, 1.0, .forget),
        (.failure(.terminal("no such backend")), 9, 0, 1.0, .forget),
        (.failure(.notLeader), 0, 0, 1.0, .forget),
        // Conflicts: retried at once three in a row, then they back off like any failure...
        (.failure(.conflict("409")), 0, 0, 1.0, .retryAtOnce),
        (.failure(.conflict("409")), 2, 2, 1.0, .retryAtOnce),
        (.failure(.conflict("409")), 3, 3, 1.0, .retry(after: .milliseconds(400))),
        // ...however many other failures came before them.
        (.failure(.conflict("409")), 6, 0, 1.0, .retryAtOnce),
    ])
    func decides(_ result: Result<ReconcileResult, ReconcileError>, failures: Int, conflicts: Int, jitter: Double, expected: RetryPolicy.Decision) {
        #expect(Self.policy.decide(result, failures: failures, conflicts: conflicts, jitter: jitter) == expected)
    }

    /// The reconciler's failures, typed by what the runtime does with them.
    @Test func theReconcilersFailuresAreTyped() {
        let conflict = KubernetesError.api(APIStatus(code: 409, reason: .conflict, message: "the object has been modified"))
        #expect(DeploymentReconciler.reconcileError(conflict).kind == .conflict)
        #expect(DeploymentReconciler.reconcileError(KubernetesError.api(APIStatus(code: 500, reason: nil, message: "boom"))).kind == .transient)
        #expect(DeploymentReconciler.reconcileError(NotLeading()) == .notLeader)
        #expect(DeploymentReconciler.reconcileError(ReconcileError.terminal("no")) == .terminal("no"))
        #expect(DeploymentReconciler.reconcileError(CocoaError(.fileNoSuchFile)).kind == .transient)
    }
}

/// Deadlines on a manual clock: what fires, fires when the time comes, whatever the machine's load.
@Suite struct DeadlineTests {
    @Test func aCallThatFinishesInTimeReturnsItsOutcome() async throws {
        let deadlines = Deadlines(clock: ManualClock())
        try await deadlines.run(within: .seconds(1)) {}
        await #expect(throws: CancellationError.self) { try await deadlines.run(within: .seconds(1)) { throw CancellationError() } }
    }

    @Test func aCallPastItsDeadlineIsCancelledAndReported() async throws {
        let clock = ManualClock()
        let deadlines = Deadlines(clock: clock)
        let cancelled = Mutex(false)
        let call = Task {
            try await deadlines.run(within: .milliseconds(100)) {
                do {
                    try await clock.sleep(until: .seconds(600))
                } catch {
                    cancelled.withLock { $0 = true }
                    throw error
                }
            }
        }
        await clock.waitForSleepers { $0 == [.milliseconds(100), .seconds(600)] }  // the watchdog, and the call
        clock.advance(by: .milliseconds(99))
        #expect(clock.deadlines == [.milliseconds(100), .seconds(600)], "nothing fires before the deadline")
        clock.advance(by: .milliseconds(1))
        await #expect(throws: DeadlineExceeded.self) { try await call.value }
        #expect(cancelled.withLock { $0 }, "the late call was cancelled, not left running")
    }

    /// One watchdog serves every deadline: a short one armed after long ones still fires on time,
    /// and finished calls leave nothing behind that fires later.
    @Test func deadlinesOfDifferentLengthsEachFireOnTime() async throws {
        let clock = ManualClock()
        let deadlines = Deadlines(clock: clock)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    // (Absolute times: a call that starts late still ends when the others do.)
                    try await deadlines.run(within: .seconds(120)) { try await clock.sleep(until: .milliseconds(300)) }
                    return true
                }
            }
            await clock.waitForSleepers(20)
            group.addTask {
                do {
                    try await deadlines.run(within: .milliseconds(50)) { try await clock.sleep(until: .seconds(600)) }
                    return true
                } catch is DeadlineExceeded {
                    return false
                }
            }
            // The watchdog now wakes for the short deadline; the 21 calls sleep.
            await clock.waitForSleepers { $0 == [.milliseconds(50)] + Array(repeating: .milliseconds(300), count: 20) + [.seconds(600)] }
            clock.advance(by: .milliseconds(50))
            #expect(try await group.next() == false, "the short deadline fired first, on its own")
            clock.advance(by: .milliseconds(250))
            var finished = 0
            for try await outcome in group { if outcome { finished += 1 } }
            #expect(finished == 20)
        }
    }
}

@Suite struct AuditLogTests {
    func log() throws -> (AuditLog, String) {
        let path = NSTemporaryDirectory() + "audit-\(UUID().uuidString)/audit.log"
        let log = try AuditLog(path: path)
        for i in 0..<5 {
            try log.append(.init(deployment: "default/m", revision: Int64(i), action: "load", target: "http://t:8000#m", outcome: "ok"))
        }
        return (log, path)
    }

    @Test func anIntactChainVerifies() throws {
        let (_, path) = try log()
        #expect(try AuditLog.verify(path: path) == 5)
        // Reopening continues the chain.
        try AuditLog(path: path).append(.init(deployment: "default/m", revision: 9, action: "unload", target: "t", outcome: "ok"))
        #expect(try AuditLog.verify(path: path) == 6)
    }

    @Test func editsDeletionsAndTruncationAreDetected() throws {
        for tamper in ["edit", "delete", "truncate", "reorder"] {
            let (_, path) = try log()
            var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
            switch tamper {
            case "edit": lines[2] = lines[2].replacingOccurrences(of: #""outcome":"ok""#, with: #""outcome":"skipped""#)
            case "delete": lines.remove(at: 1)
            case "truncate": lines.removeLast()
            default: lines.swapAt(1, 2)
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: AuditLog.Problem.self, "\(tamper) was not detected") { try AuditLog.verify(path: path) }
        }
    }

    @Test func digestMatchesTheStandardVector() {
        #expect(SHA256Digest.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite struct AuditRecoveryTests {
    @Test func aCrashBetweenRecordAndHeadOrMidRecordIsRepairedOnOpen() throws {
        let path = NSTemporaryDirectory() + "audit-\(UUID().uuidString)/audit.log"
        let log = try AuditLog(path: path)
        for i in 0..<3 { try log.append(.init(deployment: "d/m", revision: Int64(i), action: "load", target: "t", outcome: "ok")) }
        let head = try String(contentsOfFile: path + ".head", encoding: .utf8)
        try log.append(.init(deployment: "d/m", revision: 3, action: "load", target: "t", outcome: "ok"))
        // Crash after the record was synced, before the head moved; and a torn record after it.
        try head.write(toFile: path + ".head", atomically: true, encoding: .utf8)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"action":"lo"#.utf8))
        try handle.close()
        #expect(throws: AuditLog.Problem.self) { try AuditLog.verify(path: path) }
        _ = try AuditLog(path: path)
        #expect(try AuditLog.verify(path: path) == 4)
    }
}

/// A Triton for the index cache's tests: only its index answers; every other call does nothing.
protocol IndexOnlyTriton: TritonAPI {}

extension IndexOnlyTriton {
    func load(_ model: String, config: JSONValue?, files: [String: Data]) async throws(TritonError) {}
    func config(_ model: String) async throws(TritonError) -> JSONValue { [:] }
    func unload(_ model: String) async throws(TritonError) {}
    func isReady(_ model: String, version: String) async throws(TritonError) -> Bool { false }
    func loadedVersions(_ model: String) async throws(TritonError) -> [String] { [] }
    func infer(_ model: String, version: String?, request: JSONValue) async throws(TritonError) -> JSONValue { [:] }
}

/// A Triton nobody answers at, counting the index calls.
final class FailingTriton: IndexOnlyTriton {
    let baseURL = "http://unreachable-triton:8000"
    private let count = Mutex(0)
    var calls: Int { count.withLock { $0 } }
    func index() async throws(TritonError) -> [TritonModelState] {
        count.withLock { $0 += 1 }
        throw TritonError(.unreachable, "couldNotConnect: Failed to connect")
    }
}

/// A Triton whose index answers only once let through, counting the calls.
final class GatedTriton: IndexOnlyTriton {
    let baseURL = "http://gated-triton:8000"
    private struct State {
        var rows: [TritonModelState]
        var calls = 0
        var open = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(rows: [TritonModelState]) { state = Mutex(State(rows: rows)) }

    var calls: Int { state.withLock { $0.calls } }

    /// Answers every index call made so far, and every later one at once.
    func release() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Waits until `count` index calls are waiting.
    func waitForCalls(_ count: Int) async throws {
        while state.withLock({ $0.waiting.count }) < count { try await Task.sleep(for: .milliseconds(1)) }
    }

    func setRows(_ rows: [TritonModelState]) { state.withLock { $0.rows = rows } }

    /// The rows as they were when asked.
    func index() async throws(TritonError) -> [TritonModelState] {
        let (rows, open) = state.withLock { state in
            state.calls += 1
            return (state.rows, state.open)
        }
        if !open {
            await withCheckedContinuation { continuation in
                let open = state.withLock { state in
                    if !state.open { state.waiting.append(continuation) }
                    return state.open
                }
                if open { continuation.resume() }
            }
        }
        return rows
    }
}

/// (On a manual clock: a loaded machine cannot expire the index mid-test.)
@Suite(.timeLimit(.minutes(1))) struct TritonIndexCacheTests {
    static let before = [TritonModelState(name: "a", version: "1", state: .ready), TritonModelState(name: "b", version: "1", state: .ready)]
    static let loaded = [TritonModelState(name: "a", version: "2", state: .ready)]

    /// The index is kept for its TTL, then asked again; an unreachable Triton is not asked again
    /// for five seconds (every deployment on it fails fast meanwhile).
    @Test func theIndexIsKeptForItsTTLAndAnOutageForFiveSeconds() async throws {
        let clock = ManualClock()
        let triton = GatedTriton(rows: Self.before)
        triton.release()
        let cache = TritonIndexCache(ttl: .seconds(1), clock: clock)
        #expect(try await cache.rows(triton, model: "a") == [Self.before[0]])
        clock.advance(by: .milliseconds(999))
        #expect(try await cache.rows(triton, model: "b") == [Self.before[1]])
        #expect(triton.calls == 1)
        clock.advance(by: .milliseconds(1))
        triton.setRows(Self.loaded)
        #expect(try await cache.rows(triton, model: "a") == Self.loaded)
        #expect(triton.calls == 2)

        let down = FailingTriton()
        await #expect(throws: TritonError.self) { try await cache.rows(down, model: "a") }
        clock.advance(by: .milliseconds(4999))
        await #expect(throws: TritonError.self) { try await cache.rows(down, model: "a") }
        #expect(down.calls == 1, "failed fast, without asking")
        clock.advance(by: .milliseconds(1))
        await #expect(throws: TritonError.self) { try await cache.rows(down, model: "a") }
        #expect(down.calls == 2)
    }

    /// Many workers finding the index stale at once share one call.
    @Test func concurrentLookupsShareOneIndexCall() async throws {
        let triton = GatedTriton(rows: Self.before)
        let cache = TritonIndexCache(clock: ManualClock())
        let lookups = (0..<20).map { i in Task { try await cache.rows(triton, model: i % 2 == 0 ? "a" : "b") } }
        try await triton.waitForCalls(1)
        try await Task.sleep(for: .milliseconds(50))
        triton.release()
        for (i, lookup) in lookups.enumerated() { #expect(try await lookup.value == [Self.before[i % 2]]) }
        #expect(triton.calls == 1)
        #expect(try await cache.rows(triton, model: "a") == [Self.before[0]])
        #expect(triton.calls == 1)
    }

    /// After `invalidate` (our own action, not yet observed), nobody joins a call that started
    /// before it, and its answer is not kept.
    @Test func aCallFromBeforeAnInvalidationIsNeitherJoinedNorKept() async throws {
        let triton = GatedTriton(rows: Self.before)
        let cache = TritonIndexCache(clock: ManualClock())
        let early = Task { try await cache.rows(triton, model: "a") }
        try await triton.waitForCalls(1)
        cache.invalidate(triton.baseURL)
        triton.setRows(Self.loaded)
        let late = Task { try await cache.rows(triton, model: "a") }
        try await triton.waitForCalls(2)
        triton.release()
        #expect(try await early.value == [Self.before[0]])
        #expect(try await late.value == Self.loaded)
        #expect(try await cache.rows(triton, model: "a") == Self.loaded)
        #expect(triton.calls == 2)
    }

    /// What our own action observed (`update`) while a call was under way outlives its answer.
    @Test func anUpdateDuringACallIsKeptOverItsAnswer() async throws {
        let triton = GatedTriton(rows: Self.before)
        let cache = TritonIndexCache(clock: ManualClock())
        let lookup = Task { try await cache.rows(triton, model: "a") }
        try await triton.waitForCalls(1)
        cache.update(triton.baseURL, model: "a", rows: Self.loaded)
        triton.release()
        #expect(try await lookup.value == Self.loaded)
        #expect(try await cache.rows(triton, model: "a") == Self.loaded)
        #expect(try await cache.rows(triton, model: "b") == [Self.before[1]])
        #expect(triton.calls == 1)
    }
}
