import Foundation
import ModelplaneAPI
import Rollout
import Testing

/// The canary's analysis, pure and table-driven: runs begun on the way into a step (or once the
/// canary takes requests), measurements due and recorded, and what a verdict does to the canary
/// (go on, wait, pause, abort), with promote, abort, retry, a spec change and a restart in the
/// middle. Each pass is what the controller does: measure what is due, record it, advance.
@Suite struct AnalysisRunTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static let steps: [ModelDeployment.CanaryStep] = [
        .shadowGate(.init(minRequests: 10, minAgreement: 0.9)), .weight(10), .analysis(["error-rate"], count: 2), .weight(50),
    ]
    static let analysis = ModelDeployment.CanaryAnalysis(
        interval: "10s",
        metrics: [
            .init(name: "error-rate", router: .errorRate, max: 0.01),
            .init(name: "p99", prometheus: .init(address: "http://127.0.0.1:9090", query: "p99"), max: 0.25),
        ], inconclusiveLimit: 1)

    /// A deployment whose canary 2 replaces stable 1, as the controller would see it.
    struct World {
        var md: ModelDeployment
        var now = AnalysisRunTests.t0
        var notes: [RolloutNote] = []
        var audits: [AuditEntry] = []

        init(steps: [ModelDeployment.CanaryStep] = AnalysisRunTests.steps, analysis: ModelDeployment.CanaryAnalysis? = AnalysisRunTests.analysis) {
            md = ModelDeployment(
                name: "scorer",
                spec: .init(
                    model: .init(name: "m", version: "2"), backend: .init(triton: .init(url: "http://127.0.0.1:8000")),
                    rollout: .init(strategy: .canary, canary: .init(steps: steps, analysis: analysis))))
            var status = ModelDeployment.Status()
            status.canary = .init(
                stableVersion: "1", stableRevision: "1", canaryVersion: "2", canaryRevision: "2", phase: .loading,
                startedAt: Timestamps.rfc3339Micro(AnalysisRunTests.t0))
            md.status = status
        }

        var c: ModelDeployment.CanaryStatus { md.status!.canary! }
        var runs: [ModelDeployment.AnalysisRun] { md.status?.analysis?.runs ?? [] }
        func run(_ name: String) -> ModelDeployment.AnalysisRun? { runs.last { $0.name == name } }

        /// What is due now, by metric.
        var due: [String] { AnalysisRuns.due(md, now: now).map(\.metric).sorted() }

        /// One pass: the due measurements answered by `answers` (by metric; a metric not named is
        /// not measured), then the canary advanced.
        @discardableResult
        mutating func pass(_ answers: [String: AnalysisRuns.Result] = [:], after seconds: Double = 0) -> CanaryProgress.Advance {
            now = now.addingTimeInterval(seconds)
            let due = AnalysisRuns.due(md, now: now).filter { answers[$0.metric] != nil }
            AnalysisRuns.record(due.map { ($0, answers[$0.metric]!) }, in: &md, now: now)
            var c = self.c
            var analysis = md.status?.analysis
            let advance = CanaryProgress.advance(&c, md, analysis: &analysis, pausedByPerson: false, now: now, notes: &notes, audits: &audits)
            md.status?.canary = c
            md.status?.analysis = AnalysisRuns.settle(analysis, canary: c, now: now)
            return advance
        }

        /// A rollout request, as the next pass's start applies it.
        mutating func request(_ annotation: String) {
            md.metadata.annotations = [ModelDeployment.rolloutRequestAnnotation: annotation]
            let start = CanaryProgress.start(md, status: md.status!, revision: 2, now: now)
            md.status?.canary = start.canary
            md.status?.analysis = start.analysis
            notes += start.notes
            audits += start.audits
        }

        /// The controller restarted: all it has is the stored status.
        mutating func restart() throws {
            md = try JSONDecoder().decode(ModelDeployment.self, from: JSONEncoder().encode(md))
        }
    }

    static func value(_ v: Double) -> AnalysisRuns.Result { .reading(.value(v)) }

    @Test func aGoodCanaryPassesItsGateAndItsAnalysisStepAndCompletes() throws {
        var world = World()
        // Ready: the first step is the shadow gate; its run begins and is measured at once.
        #expect(world.pass() == .wake(after: .zero))
        #expect(world.c.step == 0 && world.c.weight == 0 && world.run("step 1")?.phase == .running)
        #expect(world.due == ["shadow-agreement"])
        // Too few answers compared: nothing judged, looked at again shortly.
        #expect(world.pass(["shadow-agreement": .notYet("3 of 10 answers compared")]) == .wake(after: .seconds(2)))
        #expect(world.c.message == "receiving copies of requests at the shadow gate of step 1 of 4")
        #expect(world.due.isEmpty)
        // Enough, and they agree: past the gate, 10 %, and the background analysis begins.
        #expect(world.pass(["shadow-agreement": Self.value(0.95)], after: 2) == .wake(after: .zero))
        #expect(world.run("step 1")?.phase == .successful && world.c.weight == 10 && world.c.step == 2)
        #expect(world.run("background")?.phase == .running && world.run("step 3")?.phase == .running)
        #expect(world.notes.contains { $0.reason == .analysisPassed && $0.message == "canary 2 passed the shadow gate of step 1 of 4" })
        #expect(world.due == ["error-rate", "error-rate", "p99"], "the background's two metrics and the step's")

        // The router's first look is a baseline; the values come one interval later.
        world.pass(["error-rate": .notYet("the first look"), "p99": Self.value(0.1)])
        #expect(world.run("step 3")?.metrics.first?.measured == 0 && world.run("background")?.metrics[1].measured == 1)
        #expect(world.pass(after: 5) == .wake(after: .seconds(5)), "nothing due until the interval is over")
        world.pass(["error-rate": Self.value(0.001), "p99": Self.value(0.12)], after: 5)
        #expect(world.c.step == 2, "one of the step's two measurements")
        world.pass(["error-rate": Self.value(0.0), "p99": Self.value(0.2)], after: 10)
        #expect(world.run("step 3")?.phase == .successful && world.run("step 3")?.metrics.first?.value == 0)
        // Past the analysis step: 50 %, and the steps are done.
        #expect(world.c.weight == 50 && world.c.step == 4)
        #expect(world.run("background")?.phase == .running, "the background analysis ends with the canary, not before")
        #expect(world.audits.isEmpty)
    }

    @Test func aFailingMetricAbortsTheCanaryAndSaysWhy() throws {
        var world = World(steps: [.weight(10), .pause()])
        world.pass()
        world.pass(["error-rate": .notYet("the first look"), "p99": Self.value(0.1)])
        #expect(world.c.phase == .paused)
        world.pass(["error-rate": Self.value(0.2), "p99": Self.value(0.1)], after: 10)
        #expect(world.c.phase == .aborted && world.c.weight == 0)
        #expect(
            world.c.message
                == "aborted by the background analysis at step 2 of 2: error-rate is 0.2, above its maximum 0.01; stable 1 takes every request")
        #expect(CanaryProgress.placement(world.md, canary: world.c) == Placement(serve: "1"), "the stable version alone, the canary unloads")
        #expect(world.run("background")?.phase == .failed && world.run("background")?.metrics.first?.phase == .failed)
        #expect(world.notes.last?.reason == .analysisFailed && world.notes.last?.type == .warning)
        let audit = try #require(world.audits.last)
        #expect(audit.action == "abort" && audit.detail?["cause"] == "analysis" && audit.detail?["analysis"] == "background")
        // Further passes change nothing: no second abort, no second audit.
        world.pass(after: 30)
        #expect(world.audits.count == 1 && world.notes.filter { $0.reason == .analysisFailed }.count == 1)
        #expect(AnalysisRuns.due(world.md, now: world.now).isEmpty)

        // Retry: a new attempt, whose analysis starts afresh (the failed run is history).
        world.request("retry@r1")
        #expect(world.c.phase == .loading)
        world.pass()
        #expect(world.c.phase == .paused && world.c.weight == 10)
        #expect(world.runs.filter { $0.name == "background" }.map(\.phase) == [.failed, .running])
    }

    @Test func aProviderThatIsDownPausesNeverAbortsAndPromoteGoesOn() throws {
        var world = World(steps: [.weight(10), .pause("1h")])
        world.pass()
        world.pass(["error-rate": .notYet("the first look"), "p99": Self.value(0.1)])
        // Prometheus down: the canary holds where it is while it cannot be measured, and goes on
        // once it is measured again.
        let down = AnalysisRuns.Result.reading(.error("Prometheus at http://127.0.0.1:9090 cannot be reached"))
        world.pass(["error-rate": Self.value(0), "p99": down], after: 10)
        #expect(world.c.phase == .paused && world.c.weight == 10)
        #expect(
            world.c.message
                == "holding at step 2 of 2: p99 cannot be measured (Prometheus at http://127.0.0.1:9090 cannot be reached), 1 in a row; it goes on once measured again"
        )
        #expect(world.notes.last?.reason == .analysisError)
        world.pass(["error-rate": Self.value(0), "p99": Self.value(0.1)], after: 10)
        #expect(world.c.phase == .progressing && world.notes.last?.reason == .resumed)
        // Five errors in a row (four tolerated) make p99 inconclusive.
        for _ in 0..<4 {
            world.pass(["error-rate": Self.value(0), "p99": down], after: 10)
            #expect(world.c.phase == .paused && world.c.message?.hasPrefix("holding") == true)
        }
        world.pass(["error-rate": Self.value(0), "p99": down], after: 10)
        #expect(world.c.phase == .paused && world.c.weight == 10, "paused where it is: never aborted, never promoted")
        #expect(
            world.c.message?.hasPrefix("paused: the background analysis is inconclusive at step 2 of 2: p99 could not be measured 5 times in a row") == true)
        #expect(world.run("background")?.phase == .inconclusive)
        #expect(world.notes.filter { $0.reason == .analysisInconclusive }.count == 1)
        world.pass(after: 60)
        #expect(world.c.phase == .paused && world.notes.filter { $0.reason == .analysisInconclusive }.count == 1, "said once")
        // promote: the canary goes on, and the background analysis starts again.
        world.request("promote@p1")
        #expect(world.audits.last?.outcome == .ok)
        world.pass()
        #expect(world.c.phase == .progressing)
        #expect(world.runs.filter { $0.name == "background" }.map(\.phase) == [.terminated, .running])
    }

    @Test func noDataIsInconclusiveWithinItsLimit() throws {
        var world = World(steps: [.weight(10), .pause()])
        world.pass()
        world.pass(["error-rate": .notYet("the first look"), "p99": .reading(.noData("the query returned no series"))])
        #expect(world.c.phase == .paused && world.c.message == "waiting at step 2 of 2 for modelplane promote", "one inconclusive tolerated")
        world.pass(["error-rate": Self.value(0), "p99": .reading(.noData("the query returned no series"))], after: 10)
        #expect(world.c.message?.contains("p99: the query returned no series (2 inconclusive, 1 tolerated)") == true)
    }

    @Test func aShadowThatDisagreesFailsTheGateBeforeAnyTraffic() throws {
        var world = World()
        world.pass()
        world.pass(["shadow-agreement": Self.value(0.5)])
        #expect(world.c.phase == .aborted && world.c.weight == 0 && world.c.step == 0)
        #expect(world.c.message?.contains("shadow-agreement is 0.5, below its minimum 0.9") == true)
        #expect(world.run("background") == nil, "the canary never took a request")
    }

    @Test func theGateMirrorsToTheCanaryAndNothingElseTakesItsRequests() {
        var world = World()
        world.pass()
        let lines = CanaryProgress.traffic(serving: "1", servingRevision: "1", canary: world.c, ready: ["1", "2"], shadow: nil, gate: true)
        #expect(ModelDeployment.trafficSummary(lines) == "1:100 2:0 +2 shadow")
        #expect(world.md.shadowGate?.minRequests == 10, "the router mirrors to the canary while it is at the gate")
        world.md.spec.rollout?.canary?.steps[0].analysis?.shadow?.compare = .init(mode: .argmax)
        #expect(world.md.shadowCompare(version: "2") == .init(mode: .argmax), "and compares its answers as the gate says")
    }

    @Test func aRestartMidAnalysisResumesWhereItWas() throws {
        var world = World()
        world.pass()
        world.pass(["shadow-agreement": Self.value(0.95)])
        world.pass(["error-rate": .notYet("the first look"), "p99": Self.value(0.1)])
        world.pass(["error-rate": Self.value(0.001), "p99": Self.value(0.1)], after: 10)
        let before = world.md.status
        try world.restart()
        #expect(world.md.status == before, "everything the analysis needs is in the status")
        world.pass(["error-rate": Self.value(0.0), "p99": Self.value(0.1)], after: 10)
        #expect(world.c.step == 4 && world.c.weight == 50, "the step's second measurement, after the restart")
        #expect(world.runs.filter { $0.name == "step 3" }.count == 1, "no step run begun twice")
    }

    @Test func aSpecChangeMidAnalysisEndsItsRuns() throws {
        var world = World()
        world.pass()
        world.pass(["shadow-agreement": Self.value(0.95)])
        #expect(world.run("background")?.phase == .running)
        // Version 3 replaces canary 2: its runs end, and the new canary's begin afresh.
        world.md.spec.model.version = "3"
        let start = CanaryProgress.start(world.md, status: world.md.status!, revision: 3, now: world.now)
        let settled = AnalysisRuns.settle(start.analysis, canary: start.canary, now: world.now)
        #expect(settled?.runs.filter { $0.canaryVersion == "2" }.allSatisfy { $0.phase.isFinished } == true)
        #expect(settled?.runs.first { $0.name == "background" }?.phase == .terminated)
    }

    @Test func aPauseByHandStopsTheStepsNotTheBackgroundAnalysis() throws {
        var world = World(steps: [.weight(10), .pause("1h")])
        world.pass()
        world.pass(["error-rate": .notYet("the first look"), "p99": Self.value(0.1)])
        world.md.metadata.annotations = [ModelDeployment.rolloutPausedAnnotation: "true"]
        var c = world.c
        var analysis = world.md.status?.analysis
        world.now = world.now.addingTimeInterval(10)
        let due = AnalysisRuns.due(world.md, now: world.now)
        AnalysisRuns.record(due.map { ($0, $0.metric == "p99" ? Self.value(0.1) : Self.value(0.5)) }, in: &world.md, now: world.now)
        analysis = world.md.status?.analysis
        _ = CanaryProgress.advance(&c, world.md, analysis: &analysis, pausedByPerson: true, now: world.now, notes: &world.notes, audits: &world.audits)
        #expect(c.phase == .aborted, "a failing canary is aborted even while a person holds its steps")
    }

    @Test func promoteFullEndsTheAnalysisAndAMetricLeavingTheSpecEndsItsPart() throws {
        var world = World()
        world.pass()
        world.pass(["shadow-agreement": Self.value(0.95)])
        #expect(world.run("background")?.phase == .running && world.run("step 3")?.phase == .running)
        // The spec renames a metric mid-run: the old name ends, the run decides on the others.
        world.md.spec.rollout?.canary?.analysis?.metrics[1].name = "latency"
        world.pass(["error-rate": .notYet("the first look")])
        let background = try #require(world.run("background"))
        #expect(background.phase == .running && background.metrics.first { $0.name == "p99" }?.phase == .terminated)
        #expect(!world.due.contains("p99"), "nothing measures a metric the spec no longer has")
        // promote --full: every run of the attempt ends, and nothing holds the canary.
        world.request("promote-full@f1")
        #expect(world.runs.allSatisfy { $0.phase.isFinished }, "\(world.runs.map(\.phase))")
        #expect(world.pass() == .completed)
    }

    @Test func blueGreenWithAnalysisSwitchesThenSwitchesBackWhenThePostPromotionAnalysisFails() throws {
        var world = World(steps: [], analysis: nil)
        world.md.spec.rollout = .init(
            strategy: .blueGreen,
            blueGreen: .init(
                prePromotionAnalysis: .init(shadow: .init(minRequests: 10, minAgreement: 0.9)), postPromotionAnalysis: .init(metrics: ["errors"], count: 3),
                analysis: .init(interval: "10s", metrics: [.init(name: "errors", router: .errorRate, max: 0.01)])))
        #expect(world.md.validate() == [])
        #expect(world.md.spec.rollout?.plannedCanary?.steps.count == 3)
        // Before the switch: copies only; the gate passes; then every request to the new version.
        world.pass()
        #expect(world.c.weight == 0 && world.due == ["shadow-agreement"])
        world.pass(["shadow-agreement": Self.value(1)])
        #expect(world.c.weight == 100 && world.c.step == 2, "switched, the old version still loaded")
        #expect(CanaryProgress.placement(world.md, canary: world.c) == Placement(serve: "2", stable: "1", weight: 100))
        #expect(world.run("background") == nil, "BlueGreen measures only in its analyses")
        // After it: the error rate fails within the window, and the old version takes everything back.
        world.pass(["errors": .notYet("the first look")])
        world.pass(["errors": Self.value(0.3)], after: 10)
        #expect(world.c.phase == .aborted && world.c.weight == 0)
        #expect(world.c.message?.hasPrefix("aborted by the analysis of step 3 at step 3 of 3: errors is 0.3") == true, "\(world.c.message ?? "")")
        #expect(CanaryProgress.placement(world.md, canary: world.c) == Placement(serve: "1"))
    }

    @Test func finishedRunsAreBounded() {
        var analysis: ModelDeployment.AnalysisStatus? = ModelDeployment.AnalysisStatus()
        for index in 0..<20 {
            analysis?.runs.append(
                .init(
                    name: "step \(index)", canaryVersion: "2", phase: .successful, startedAt: Timestamps.rfc3339Micro(Self.t0.addingTimeInterval(Double(index)))
                ))
        }
        analysis?.runs.append(.init(name: "background", canaryVersion: "2", startedAt: Timestamps.rfc3339Micro(Self.t0)))
        AnalysisRuns.end(&analysis, .terminated, "test", now: Self.t0) { _ in false }
        #expect(analysis?.runs.count == ModelDeployment.AnalysisStatus.keep + 1)
        #expect(analysis?.runs.contains { $0.name == "background" } == true, "a running run is never dropped")
        #expect(analysis?.runs.first?.name == "step 12", "the oldest finished ones go")
    }
}
