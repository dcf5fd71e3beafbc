import Foundation
import ModelplaneAPI
import ModelplaneTestSupport
import Rollout
import Testing
import TritonBackend

/// The rollout state machine on its own: (spec, status, observation, last result) → (status,
/// events, outcome), with no I/O, through the scripted backend's pure plan.
@Suite struct RolloutMachineTests {
    typealias Machine = RolloutMachine<ScriptedBackend>
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func deployment(version: String = "2", generation: Int64 = 1, status: ModelDeployment.Status? = nil) -> ModelDeployment {
        var md = ModelDeployment(name: "d", spec: .init(model: .init(name: "m", version: version), backend: .init(triton: .init(url: "http://t"))))
        md.metadata.labels = [ScriptedBackend.label: "scripted"]
        md.metadata.generation = generation
        md.status = status
        return md
    }

    static func machine(_ md: ModelDeployment, now: Date = now) throws -> Machine {
        Machine(deployment: md, desired: try #require(ScriptedBackend.desired(md)), pollInterval: .seconds(5), now: now)
    }

    static func finish(_ next: Machine.Next) throws -> RolloutDecision {
        guard case .finish(let decision) = next else { throw PeerError("expected the pass to end, got \(next)") }
        return decision
    }

    @Test func aNewVersionIsDeployedThenServes() throws {
        var machine = try Self.machine(Self.deployment())
        guard case .execute(let action) = machine.observed(.init(serving: nil)) else { throw PeerError("no action") }
        #expect(action == .deploy("2"))
        let decision = try Self.finish(
            machine.finished(StepResult(.init(serving: "2"), record: .init(model: "m", adopted: false), notes: [.normal(.loaded, action: "Deploy", "x")])))
        #expect(decision.outcome == .converged)
        #expect(decision.status.phase == .ready)
        #expect(decision.status.servingVersion == "2")
        #expect(decision.status.currentRevision == "1")
        #expect(decision.status.backend == "scripted")
        // The routing table the inference router follows: the serving version takes everything.
        #expect(decision.status.traffic == [.init(revision: "1", version: "2", weight: 100, role: .stable)])
        #expect(decision.status.conditions?[.ready]?.reason == "Serving")
        // The load that made it serve is folded into one Serving event.
        #expect(decision.events.map(\.reason) == [.serving])
        #expect(decision.events.first?.action == "Load")
        #expect(ScriptedBackend.record(in: decision.status) == .init(model: "m", adopted: false))
    }

    @Test func aFailureIsDegradedAndGatesTheSameGenerationUntilTheRecheck() throws {
        var machine = try Self.machine(Self.deployment())
        _ = machine.observed(.init(serving: "1"))
        let failure = RolloutFailure(.loadFailed, "version 2 is broken")
        let decision = try Self.finish(machine.finished(StepResult(.init(serving: "1"), record: nil, .failed(failure))))
        #expect(decision.outcome == .requeueAfter(FailureGate.recheckAfter))
        #expect(decision.status.phase == .degraded)
        #expect(decision.status.conditions?[.degraded]?.reason == "LoadFailed")
        #expect(decision.status.conditions?[.ready]?.reason == "ServingPrevious")
        #expect(decision.degraded == .loadFailed)

        // The next pass of the same generation does not try again: blocked, no action.
        var again = try Self.machine(Self.deployment(status: decision.status), now: Self.now.addingTimeInterval(60))
        let blocked = try Self.finish(again.observed(.init(serving: "1")))
        #expect(again.actions.isEmpty)
        #expect(blocked.status.conditions?[.degraded]?.message == "version 2 is broken")
        // After the recheck interval, or with a new generation, it does.
        var later = try Self.machine(Self.deployment(status: decision.status), now: Self.now.addingTimeInterval(301))
        #expect(later.observed(.init(serving: "1")) == .execute(.deploy("2")))
        var edited = try Self.machine(Self.deployment(version: "3", generation: 2, status: decision.status), now: Self.now.addingTimeInterval(60))
        #expect(edited.observed(.init(serving: "1")) == .execute(.deploy("3")))
    }

    @Test func anUnreachableBackendIsDegradedOnceAndBacksOff() throws {
        var machine = try Self.machine(Self.deployment())
        let error = BackendError(.backendUnavailable, "connection refused")
        let decision = machine.unavailable(error)
        #expect(decision.outcome == .unavailable(error))
        #expect(decision.status.conditions?[.degraded]?.reason == "BackendUnavailable")
        #expect(decision.events.map(\.reason) == [.backendUnavailable])
        // Still unreachable on the next pass: no second event.
        var again = try Self.machine(Self.deployment(status: decision.status))
        #expect(again.unavailable(error).events.isEmpty)
    }

    /// A backend that refuses to answer at all (SageMaker's AccessDenied on a describe) is a
    /// rollout failure the gate holds, not an outage to retry with backoff.
    @Test func aRefusalIsAGatedFailureNotAnOutage() throws {
        var machine = try Self.machine(Self.deployment())
        let decision = machine.refused(RolloutFailure(.invalidRequest, "SageMaker refused: AccessDeniedException"))
        #expect(decision.outcome == .requeueAfter(FailureGate.recheckAfter))
        #expect(decision.status.phase == .failed)
        #expect(decision.events.map(\.reason) == [.invalidRequest])
        #expect(FailureGate.blocked(decision.status, generation: 1, now: Self.now)?.reason == .invalidRequest)
    }

    @Test func asynchronousWorkPollsThenPassesTheProgressDeadline() throws {
        var machine = try Self.machine(Self.deployment())
        _ = machine.observed(.init(serving: nil))
        let started = try Self.finish(machine.finished(StepResult(.init(serving: nil, deploying: "2"), record: nil, .started("deploying version 2"))))
        #expect(started.outcome == .requeueAfter(.seconds(5)))
        #expect(started.status.phase == .progressing)
        #expect(started.status.conditions?[.progressing]?.reason == "Deploying")
        // 601 s later (the default deadline is 600 s) it is still deploying: said once, still polled.
        var late = try Self.machine(Self.deployment(status: started.status), now: Self.now.addingTimeInterval(601))
        let exceeded = try Self.finish(late.observed(.init(serving: nil, deploying: "2")))
        #expect(exceeded.status.conditions?[.degraded]?.reason == "ProgressDeadlineExceeded")
        #expect(exceeded.status.phase == .failed)
        #expect(exceeded.events.map(\.reason) == [.progressDeadlineExceeded])
        #expect(exceeded.outcome == .requeueAfter(.seconds(5)))
    }

    /// A failure whose message is longer than a condition says (a traceback) is announced once:
    /// the next pass finds its summary in the condition and records no second event.
    @Test func aMultiLineFailureIsAnnouncedOnce() throws {
        let failure = RolloutFailure(.invalidRequest, "refused: the role cannot read the model\nAt:\n  frame 1\n  frame 2")
        var machine = try Self.machine(Self.deployment())
        let first = machine.refused(failure)
        #expect(first.events.map(\.reason) == [.invalidRequest])
        #expect(first.status.conditions?[.degraded]?.message == "refused: the role cannot read the model (more in the events)")
        var again = try Self.machine(Self.deployment(status: first.status))
        #expect(again.refused(failure).events.isEmpty)
    }

    @Test func reasonsRenderAsTheirStableTexts() {
        let texts = RolloutReason.allCases.map(\.rawValue)
        #expect(Set(texts).count == texts.count)
        #expect(texts.allSatisfy { $0.first?.isUppercase == true && !$0.contains(" ") })
        #expect(
            RolloutReason.allCases.filter(\.gatesRetry).map(\.rawValue).sorted() == [
                "EndpointFailed", "InvalidRequest", "LoadFailed", "ProgressDeadlineExceeded", "SmokeTestFailed", "UpdateRolledBack",
            ])
    }
}

/// `modelplane diff`'s preview follows the same records as the controller: a model moved to
/// another name is loaded, the old one unloaded, and the new one is ours (no "adopt" after).
@Suite struct PlanPreviewTests {
    @Test func aMovedModelPreviewsLoadThenUnloadAndEndsServing() throws {
        var md = ModelDeployment(name: "d", spec: .init(model: .init(name: "b", version: "1"), backend: .init(triton: .init(url: "http://t"))))
        md.metadata.generation = 1
        var status = ModelDeployment.Status()
        status.triton = .init(url: "http://t", model: "a", origin: .loaded)
        md.status = status
        let desired = try #require(TritonServingBackend.desired(md))
        let preview = PlanPreview<TritonServingBackend>(
            deployment: md, desired: desired, observation: TritonObservation(rows: []), now: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(
            preview.actions == [.load(url: "http://t", model: "b", versions: [1], unloads: []), .unload(.init(url: "http://t", model: "a", origin: .loaded))])
        #expect(preview.lines == ["triton: load b versions 1 on http://t", "triton: unload a from http://t"])
        #expect(preview.changesBackend)
    }
}

@Suite struct ConditionSummaryTests {
    @Test func aConditionSaysTheFirstLineOnly() {
        #expect(Conditions.summary("load failed: weights are corrupt") == "load failed: weights are corrupt")
        #expect(Conditions.summary("\n  load failed: bad  \n\nAt:\n  model.py(8): initialize\n") == "load failed: bad (more in the events)")
        #expect(Conditions.summary(String(repeating: "x", count: 2_000)) == String(repeating: "x", count: 1_024) + " (more in the events)")
        #expect(Conditions.summary("\n \n") == "")
    }
}
