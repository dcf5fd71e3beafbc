import ModelplaneAPI
import Testing

@testable import GitSync

/// `modelplane promote|abort|pause|retry` are annotations, and a canary's progress is status: a
/// sync from Git, which replaces the spec and sets Git's labels and annotations over the live
/// ones, leaves both alone.
@Suite struct RolloutRequestSyncTests {
    @Test func aSyncKeepsRolloutRequestsPausesAndTheCanary() throws {
        var desired = ModelDeployment(
            name: "scorer",
            spec: .init(
                model: .init(name: "m", version: "3"), backend: .init(triton: .init(url: "http://triton:8000")),
                rollout: .init(strategy: .canary, canary: .init(steps: [.weight(10), .pause()]))))
        desired.metadata.annotations = [ModelDeployment.gitCommitAnnotation: "c2"]
        desired.metadata.labels = ["team": "risk"]
        var live = desired.withSchemaDefaults()
        live.metadata.labels = [:]
        live.metadata.annotations = [
            ModelDeployment.gitCommitAnnotation: "c1", ModelDeployment.rolloutRequestAnnotation: "abort@a1",
            ModelDeployment.rolloutPausedAnnotation: "true",
        ]
        live.status = ModelDeployment.Status()
        live.status?.canary = .init(stableVersion: "2", canaryVersion: "3", phase: .aborted, lastRequest: "a0")
        // A commit that changes a label: applied, and what the commands wrote stays.
        let updated = try #require(GitSyncer.update(live, toMatch: desired))
        #expect(updated.metadata.labels == ["team": "risk"])
        #expect(updated.metadata.annotations?[ModelDeployment.rolloutRequestAnnotation] == "abort@a1")
        #expect(updated.metadata.annotations?[ModelDeployment.rolloutPausedAnnotation] == "true")
        #expect(updated.status?.canary == live.status?.canary)
        #expect(updated.spec == live.spec, "the same version in Git: the aborted canary stays aborted")
        // The same commit again: nothing to write.
        #expect(GitSyncer.update(updated, toMatch: desired) == nil)
    }
}
