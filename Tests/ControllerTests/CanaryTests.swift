import Foundation
import HTTPClient
import ModelplaneAPI
import Rollout
import Testing

@testable import TrafficRouter

/// The canary strategy, pure: when a canary begins, how its steps advance with time, what
/// promote/abort/retry/pause do, and the routing table it publishes.
@Suite struct CanaryProgressTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let steps: [ModelDeployment.CanaryStep] = [.weight(10), .pause("30s"), .weight(50), .pause(), .weight(80)]

    /// A deployment on Canary at `version`, whose status says `serving` serves.
    static func deployment(version: String, serving: String?, canary: ModelDeployment.CanaryStatus? = nil, annotations: [String: String] = [:])
        -> ModelDeployment
    {
        var md = ModelDeployment(
            name: "scorer",
            spec: .init(
                model: .init(name: "m", version: version), backend: .init(triton: .init(url: "http://127.0.0.1:8000")),
                rollout: .init(strategy: .canary, canary: .init(steps: steps))))
        md.metadata.annotations = annotations.isEmpty ? nil : annotations
        var status = ModelDeployment.Status()
        status.servingVersion = serving
        status.revisions = [
            .init(revision: 1, hash: "a", version: "1", createdAt: "", cause: "created", spec: [:]),
            .init(revision: 2, hash: "b", version: "2", createdAt: "", cause: "changed", spec: [:]),
        ]
        status.canary = canary
        md.status = status
        return md
    }

    static func start(_ md: ModelDeployment, revision: Int64? = 2, now: Date = t0) -> CanaryProgress.Start {
        CanaryProgress.start(md, status: md.status!, revision: revision, now: now)
    }

    @Test func aNewVersionStartsACanaryBesideWhatServes() {
        let started = Self.start(Self.deployment(version: "2", serving: "1"))
        #expect(
            started.canary
                == .init(
                    stableVersion: "1", stableRevision: "1", canaryVersion: "2", canaryRevision: "2", phase: .loading,
                    startedAt: Timestamps.rfc3339Micro(Self.t0)))
        #expect(started.notes.map(\.message) == ["canary 2 loads beside stable 1"])
        #expect(CanaryProgress.placement(Self.deployment(version: "2", serving: "1"), canary: started.canary) == Placement(serve: "2", stable: "1", weight: 0))
        // Nothing serving yet (a first rollout), or the spec's version already serving: no canary.
        #expect(Self.start(Self.deployment(version: "2", serving: nil)).canary == nil)
        #expect(Self.start(Self.deployment(version: "1", serving: "1")).canary == nil)
        // Another strategy: none, and one in progress is dropped.
        var blueGreen = Self.deployment(version: "2", serving: "1", canary: .init(stableVersion: "1", canaryVersion: "2", phase: .progressing))
        blueGreen.spec.rollout?.strategy = .blueGreen
        blueGreen.spec.rollout?.canary = nil
        #expect(Self.start(blueGreen).canary == nil)
    }

    @Test func theSpecMovingMidCanaryReplacesOrDropsIt() {
        let running = ModelDeployment.CanaryStatus(stableVersion: "1", canaryVersion: "2", phase: .progressing, step: 2, weight: 10)
        let replaced = Self.start(Self.deployment(version: "3", serving: "1", canary: running), revision: 3).canary
        #expect(replaced?.stableVersion == "1" && replaced?.canaryVersion == "3" && replaced?.phase == .loading && replaced?.step == 0)
        let back = Self.start(Self.deployment(version: "1", serving: "1", canary: running), revision: 3)
        #expect(back.canary == nil)
        #expect(back.notes.map(\.message) == ["the spec went back to version 1: canary 2 dropped"])
    }

    @Test func stepsFollowTheClockAndWaitForAPersonAtAnOpenPause() {
        var c = ModelDeployment.CanaryStatus(stableVersion: "1", canaryVersion: "2", phase: .loading)
        var notes: [RolloutNote] = []
        // Loaded: the first weight at once, then the timed pause.
        #expect(CanaryProgress.advance(&c, steps: Self.steps, pausedByPerson: false, now: Self.t0, notes: &notes) == .wake(after: .seconds(30)))
        #expect(c.phase == .progressing && c.step == 1 && c.weight == 10)
        // Not yet.
        let later = Self.t0.addingTimeInterval(20)
        #expect(CanaryProgress.advance(&c, steps: Self.steps, pausedByPerson: false, now: later, notes: &notes) == .wake(after: .seconds(10)))
        // Past it: 50 %, then the open pause waits.
        let past = Self.t0.addingTimeInterval(31)
        #expect(CanaryProgress.advance(&c, steps: Self.steps, pausedByPerson: false, now: past, notes: &notes) == .waitForPerson)
        #expect(c.phase == .paused && c.step == 3 && c.weight == 50 && c.message == "waiting at step 4 of 5 for modelplane promote")
        #expect(notes.map(\.reason) == [.canaryStarted, .canaryWeight, .canaryWeight])
    }

    @Test func promoteAbortRetryAndPause() throws {
        let waiting = ModelDeployment.CanaryStatus(stableVersion: "1", canaryVersion: "2", phase: .paused, step: 3, weight: 50)
        // promote: past the open pause; the next advance sets 80 % and completes.
        var started = Self.start(Self.deployment(version: "2", serving: "1", canary: waiting, annotations: ["modelplane.dev/rollout-request": "promote@a1"]))
        var c = try #require(started.canary)
        #expect(c.step == 4 && c.lastRequest == "a1" && c.phase == .progressing)
        #expect(started.audits.map(\.action) == ["promote"] && started.audits.first?.outcome == .ok)
        var notes: [RolloutNote] = []
        #expect(CanaryProgress.advance(&c, steps: Self.steps, pausedByPerson: false, now: Self.t0, notes: &notes) == .completed)
        #expect(c.weight == 80)
        // The same request again (a crash before it was removed) does nothing.
        started = Self.start(Self.deployment(version: "2", serving: "1", canary: c, annotations: ["modelplane.dev/rollout-request": "promote@a1"]))
        #expect(started.canary == c && started.audits.isEmpty)

        // abort: the stable version alone; retry: from the first step.
        started = Self.start(Self.deployment(version: "2", serving: "1", canary: waiting, annotations: ["modelplane.dev/rollout-request": "abort@b2"]))
        let aborted = try #require(started.canary)
        #expect(aborted.phase == .aborted && aborted.weight == 0)
        #expect(CanaryProgress.placement(Self.deployment(version: "2", serving: "1"), canary: aborted) == Placement(serve: "1"))
        started = Self.start(Self.deployment(version: "2", serving: "1", canary: aborted, annotations: ["modelplane.dev/rollout-request": "promote@c3"]))
        #expect(started.canary?.phase == .aborted && started.audits.first?.outcome == .failed("the canary was aborted: `modelplane retry` starts it again"))
        started = Self.start(Self.deployment(version: "2", serving: "1", canary: aborted, annotations: ["modelplane.dev/rollout-request": "retry@d4"]))
        #expect(started.canary?.phase == .loading && started.canary?.step == 0)

        // promote-full: every step skipped.
        started = Self.start(Self.deployment(version: "2", serving: "1", canary: waiting, annotations: ["modelplane.dev/rollout-request": "promote-full@e5"]))
        c = try #require(started.canary)
        #expect(CanaryProgress.advance(&c, steps: Self.steps, pausedByPerson: false, now: Self.t0, notes: &notes) == .completed)

        // pause: the weights stay and time does not move it; resume goes on.
        c = ModelDeployment.CanaryStatus(
            stableVersion: "1", canaryVersion: "2", phase: .progressing, step: 1, stepStartedAt: "2027-01-15T08:00:00Z", weight: 10)
        let late = Date(timeIntervalSince1970: 1_800_000_000 + 3600)
        #expect(CanaryProgress.advance(&c, steps: Self.steps, pausedByPerson: true, now: late, notes: &notes) == .waitForPerson)
        #expect(c.phase == .paused && c.step == 1 && c.weight == 10)
        #expect(
            CanaryProgress.advance(&c, steps: Self.steps, pausedByPerson: false, now: late, notes: &notes) == .wake(after: .seconds(30)),
            "resumed, the timed pause starts again: the time paused by hand does not count")
        #expect(c.step == 1 && c.weight == 10 && c.phase == .progressing)

        // A request with no canary in progress is refused, and said.
        started = Self.start(Self.deployment(version: "1", serving: "1", annotations: ["modelplane.dev/rollout-request": "abort@f6"]))
        #expect(started.notes.map(\.message) == ["abort ignored: no canary is in progress"])
        // An unreadable request is said, not guessed at.
        started = Self.start(Self.deployment(version: "1", serving: "1", annotations: ["modelplane.dev/rollout-request": "promote"]))
        #expect(started.notes.first?.reason == .requestIgnored)
    }

    @Test func theRoutingTableAndItsSummary() {
        let c = ModelDeployment.CanaryStatus(
            stableVersion: "2", stableRevision: "4", canaryVersion: "3", canaryRevision: "5", phase: .progressing, step: 1, weight: 10)
        let shadow = ModelDeployment.Shadow(version: "4")
        let lines = CanaryProgress.traffic(serving: "2", servingRevision: "4", canary: c, ready: ["2", "3", "4"], shadow: shadow)
        #expect(
            lines == [
                .init(revision: "4", version: "2", weight: 90, role: .stable), .init(revision: "5", version: "3", weight: 10, role: .canary),
                .init(revision: nil, version: "4", weight: 100, role: .shadow),
            ])
        #expect(ModelDeployment.trafficSummary(lines) == "2:90 3:10 +4 shadow")
        // The canary not loaded yet, the shadow not ready: the stable version alone.
        #expect(
            CanaryProgress.traffic(serving: "2", servingRevision: "4", canary: c, ready: ["2"], shadow: shadow) == [
                .init(revision: "4", version: "2", weight: 100, role: .stable)
            ])
    }

    @Test func pauseDurations() {
        #expect(ModelDeployment.Pause(duration: "30s").length == .seconds(30))
        #expect(ModelDeployment.Pause(duration: "1h30m").length == .seconds(5400))
        #expect(ModelDeployment.Pause(duration: "250ms").length == .milliseconds(250))
        for bad in ["", "30", "s", "1.5s", "-1s", "10d", "99999999999999999999s", "9000h"] {
            #expect(ModelDeployment.Pause(duration: bad).length == nil, "\(bad)")
        }
    }
}

/// The router's choices: smooth weights and shadow shares over many requests, and how shadow
/// answers are compared.
@Suite struct TrafficChoiceTests {
    static func deployment(_ traffic: [ModelDeployment.TrafficTarget]) -> ModelDeployment {
        var md = ModelDeployment(name: "scorer", spec: .init(model: .init(name: "m", version: "3"), backend: .init(triton: .init(url: "http://t"))))
        md.status = ModelDeployment.Status()
        md.status?.traffic = traffic
        return md
    }

    @Test func weightsAreExactAndSpreadOut() {
        let table = TrafficTable()
        table.replace([
            Self.deployment([
                .init(revision: "1", version: "2", weight: 90, role: .stable), .init(revision: "2", version: "3", weight: 10, role: .canary),
                .init(revision: nil, version: "4", weight: 30, role: .shadow),
            ])
        ])
        var counts: [String: Int] = [:]
        var longestRun = 0
        var run = 0
        var mirrored = 0
        for _ in 0..<10_000 {
            let line = table.choose(namespace: "default", name: "scorer")
            counts[line?.version ?? "none", default: 0] += 1
            run = line?.version == "2" ? run + 1 : 0
            longestRun = max(longestRun, run)
            if table.mirror(namespace: "default", name: "scorer") != nil { mirrored += 1 }
        }
        #expect(counts == ["2": 9000, "3": 1000], "the shadow never answers; the split is exact")
        // Metadata and readiness describe the version taking the most, and take no turn.
        #expect(table.primary(namespace: "default", name: "scorer")?.version == "2")
        #expect(longestRun <= 9, "the canary's share is spread out, not in bursts")
        #expect(mirrored == 3000)
    }

    static func answer(_ outputs: JSONValue, binary: Data? = nil) -> Upstream.Answer {
        let document: JSONValue = ["outputs": outputs]
        var body = Data(document.canonicalText.utf8)
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let binary {
            headers.set("Inference-Header-Content-Length", String(body.count))
            body.append(binary)
        }
        return Upstream.Answer(status: 200, headers: headers, body: body)
    }

    @Test func shadowAnswersAreComparedByValueOrByClass() {
        let primary = Self.answer([["name": "OUT", "shape": [2, 3], "datatype": "FP32", "data": [0.1, 0.7, 0.2, 0.5, 0.3, 0.2]]])
        let close = Self.answer([["name": "OUT", "shape": [2, 3], "datatype": "FP32", "data": [0.1, 0.6, 0.3, 0.6, 0.2, 0.2]]])
        let absolute = ShadowComparison.compare(primary: primary, shadow: close, .init(tolerance: 0.05))
        #expect(absolute?.agree == false && absolute?.elements == 6)
        #expect(abs((absolute?.absDiff ?? 0) - 0.4) < 1e-9)
        #expect(ShadowComparison.compare(primary: primary, shadow: close, .init(tolerance: 0.1))?.agree == true)
        // By class: each row's winner is the same.
        #expect(ShadowComparison.compare(primary: primary, shadow: close, .init(mode: .argmax))?.agree == true)
        let flipped = Self.answer([["name": "OUT", "shape": [2, 3], "datatype": "FP32", "data": [0.1, 0.7, 0.2, 0.2, 0.3, 0.5]]])
        #expect(ShadowComparison.compare(primary: primary, shadow: flipped, .init(mode: .argmax))?.agree == false)
        // Binary tensors (tritonclient's binary_data outputs) read as numbers too.
        var floats = Data()
        for value: Float in [0.1, 0.7, 0.2, 0.5, 0.3, 0.2] { withUnsafeBytes(of: value) { floats.append(contentsOf: $0) } }
        let binary = Self.answer(
            [["name": "OUT", "shape": [2, 3], "datatype": "FP32", "parameters": ["binary_data_size": .int(Int64(floats.count))]]], binary: floats)
        let same = ShadowComparison.compare(primary: primary, shadow: binary, .init(tolerance: 1e-6))
        #expect(same?.agree == true && same?.elements == 6)
        // A shadow without the output, or of another shape, cannot agree.
        #expect(ShadowComparison.compare(primary: primary, shadow: Self.answer([["name": "X", "data": [1]]]), nil) == nil)
        // NaN or infinity never agrees and adds nothing to the difference.
        var nanFloats = Data()
        for value: Float in [.nan, 0.7, 0.2, 0.5, 0.3, 0.2] { withUnsafeBytes(of: value) { nanFloats.append(contentsOf: $0) } }
        let nan = Self.answer(
            [["name": "OUT", "shape": [2, 3], "datatype": "FP32", "parameters": ["binary_data_size": .int(Int64(nanFloats.count))]]], binary: nanFloats)
        let withNaN = ShadowComparison.compare(primary: primary, shadow: nan, .init(tolerance: 1))
        #expect(withNaN?.agree == false && (withNaN?.absDiff ?? 1) < 1e-6 && withNaN?.elements == 5, "the NaN has no difference to count")
        // Half precision, as Triton sends FP16 outputs.
        var halves = Data()
        for value: Float16 in [0.1, 0.7, 0.2, 0.5, 0.3, 0.2] { withUnsafeBytes(of: value.bitPattern) { halves.append(contentsOf: $0) } }
        let fp16 = Self.answer(
            [["name": "OUT", "shape": [2, 3], "datatype": "FP16", "parameters": ["binary_data_size": .int(Int64(halves.count))]]], binary: halves)
        #expect(ShadowComparison.compare(primary: primary, shadow: fp16, .init(tolerance: 1e-3))?.agree == true)
    }
}
