import APIServer
import Controller
import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import ResourceStore
import Rollout
import Synchronization
import TritonBackend

/// Issue 26's scale target: 1,000 canaries with 3 metrics each at a 10 s interval must cost the
/// controller under 5 % of a core. The controller runs in process against the embedded API server
/// (so its status writes, and the server's work for them, count too), over an in-memory Triton,
/// with a simulated clock (`ManualClock`) and a fake `router` provider whose figures grow with
/// that clock: ten simulated minutes of analysis run as fast as the machine allows, and the
/// process's CPU time over them, divided by the simulated time, is the share of a core it costs.
/// Then the reaction time: a canary's error rate turns bad, and the clock moves until its weights
/// are back at stable, measured on the simulated clock (the analysis's interval plus the passes).
func analysisBench(store: ResourceStore, api: KubernetesAPI, token: String) async throws -> [Measurement] {
    let canaries = 1000
    let namespace = "analysis"
    let clock = ManualClock(start: Date())
    let client = KubernetesClient(
        configuration: KubernetesClientConfiguration(server: "https://in-process", credentials: .bearerToken(Secret(token))),
        transport: InProcessTransport(api: api))
    let triton = InMemoryTriton(
        baseURL: "http://bench-triton-analysis:8000",
        repository: Dictionary(uniqueKeysWithValues: (0..<canaries).map { ("a\($0)", (versions: Set([1, 2]), broken: [Int: String]())) }))
    // The fake router: every revision answers 10 requests a second, all fast; `failing` ones fail
    // every request from the moment they are named.
    let failing = Mutex<Set<String>>([])
    let figures: AnalysisMeasurer.RequestFiguresSource = { namespace, name, revision in
        let seconds = clock.now.components.seconds
        var figures = RequestFigures(namespace: namespace, name: name, revision: revision, version: "2", since: "2026-01-01T00:00:00Z")
        figures.requests = seconds * 10
        figures.errors = failing.withLock { $0.contains(name) } ? seconds * 10 : 0
        figures.buckets[40] = seconds * 10
        return ["fake": figures]
    }
    let measurer = AnalysisMeasurer(http: HTTPClient(), requestFigures: figures)
    for i in 0..<canaries {
        var md = ModelDeployment(
            name: "a\(i)", namespace: namespace,
            spec: .init(model: .init(name: "a\(i)", version: "1"), backend: .init(triton: .init(url: triton.baseURL))))
        md.spec.rollout = .init(
            strategy: .canary,
            canary: .init(
                steps: [.weight(10), .pause()],
                analysis: .init(
                    interval: "10s",
                    metrics: [
                        .init(name: "errors", router: .errorRate, minRequests: 10, max: 0.01),
                        .init(name: "p99", router: .latencyP99, max: 0.5),
                        .init(name: "rate", router: .requestRate, min: 1),
                    ])))
        _ = try store.create(.modelDeployments, namespace: namespace, try JSONValueCoding.encode(md))
    }
    let backends = BackendRegistry([TritonServingBackend(triton: { _ in triton })])
    let cache = ObjectCache<ModelDeployment>.modelDeployments(backends: backends)
    let reconciler = CountingReconciler(
        inner: DeploymentReconciler(
            client: client, cache: cache, backends: backends, audit: nil, events: EventRecorder(client: client, instance: "bench"), clock: clock,
            analysis: measurer))
    let controller = Controller(
        client: client, scope: ControllerScope(namespaces: [namespace]), cache: cache, reconciler: reconciler, resyncPeriod: .seconds(86_400), clock: clock)
    let task = Task { await controller.run() }
    defer { task.cancel() }

    func all(_ condition: (ModelDeployment) -> Bool) throws -> Int {
        try store.list(.modelDeployments, filter: ObjectFilter(namespace: namespace)).items.filter {
            condition(try JSONValueCoding.decode(ModelDeployment.self, from: $0.object))
        }.count
    }
    /// Moves the clock in steps of `step` until `condition` holds for every canary (or `limit`).
    func drive(step: Duration, limit: Int, _ condition: (ModelDeployment) -> Bool) async throws {
        for _ in 0..<limit {
            while await controller.queue.outstanding > 0 { try await Task.sleep(for: .milliseconds(2)) }
            if try all(condition) == canaries { return }
            clock.advance(by: step)
            try await Task.sleep(for: .milliseconds(5))
        }
        FileHandle.standardError.write(Data("analysis bench: the canaries did not get there\n".utf8))
        exit(1)
    }
    try await drive(step: .milliseconds(100), limit: 10_000) { $0.status?.servingVersion == "1" && $0.status?.phase == .ready }
    for i in 0..<canaries {
        _ = try await client.patch(ModelDeployment.self, name: "a\(i)", namespace: namespace, .merge(["spec": ["model": ["version": "2"]]]))
    }
    // Every canary at its pause with its background analysis measured once (the router's baseline).
    try await drive(step: .milliseconds(100), limit: 10_000) { md in
        md.status?.canary?.phase == .paused && md.status?.analysis?.runs.first?.metrics.allSatisfy { $0.message != nil } == true
    }

    let simulated = 600
    let cpuBefore = cpuSeconds()
    let wallBefore = ContinuousClock.now
    let reconcilesBefore = reconciler.count.load(ordering: .relaxed)
    for _ in 0..<simulated {
        clock.advance(by: .seconds(1))
        try await Task.sleep(for: .milliseconds(1))
        while await controller.queue.outstanding > 0 { try await Task.sleep(for: .milliseconds(2)) }
    }
    let cpu = cpuSeconds() - cpuBefore
    let wall = ContinuousClock.now - wallBefore
    let reconciles = reconciler.count.load(ordering: .relaxed) - reconcilesBefore
    let measured = try all { ($0.status?.analysis?.runs.first?.metrics.first?.measured ?? 0) >= Int64(simulated / 10 - 2) }
    guard measured == canaries else {
        FileHandle.standardError.write(Data("analysis bench: only \(measured) of \(canaries) canaries were measured every interval\n".utf8))
        exit(1)
    }

    // Reaction: canary a0 starts failing; the clock moves in 100 ms steps until its weights are
    // back at stable.
    failing.withLock { $0.insert("a0") }
    let failedAt = clock.now
    var reaction: Duration?
    for _ in 0..<1000 {
        clock.advance(by: .milliseconds(100))
        try await Task.sleep(for: .milliseconds(2))
        while await controller.queue.outstanding > 0 { try await Task.sleep(for: .milliseconds(2)) }
        let md = try JSONValueCoding.decode(ModelDeployment.self, from: try store.get(.modelDeployments, namespace: namespace, name: "a0"))
        if md.status?.trafficSummary == "1:100" {
            reaction = clock.now - failedAt
            break
        }
    }
    let share = cpu / Double(simulated) * 100
    return [
        Measurement(
            name:
                "analysis: \(canaries) canaries x 3 router metrics every 10 s, \(simulated) simulated seconds (\(reconciles) reconciles, CPU \(String(format: "%.2f", cpu)) s = \(String(format: "%.2f", share)) % of a core; target < 5 %)",
            samples: [wall], detail: ""),
        Measurement(
            name: "analysis: reaction, from a canary's error rate turning bad to its weights back at stable (simulated clock; interval 10 s, target <= 12 s)",
            samples: [reaction ?? .seconds(999)], detail: ""),
    ]
}
