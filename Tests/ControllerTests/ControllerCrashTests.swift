import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing
import Triton

/// `modelplane controller` killed with -9 at random points during a sequence of changes, 20 times:
/// it converges each time, loads nothing twice or left over, and its audit chain stays intact.
@Suite(.timeLimit(.minutes(8))) struct ControllerCrashTests {
    @Test func killedTwentyTimesItConvergesEachTime() async throws {
        let directory = NSTemporaryDirectory() + "modelplane-crash-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let triton = try await TritonPeer.start(models: [.init(name: "echo", versions: [1, 2, 3]), .init(name: "spare", versions: [1])])
        defer { triton.stop() }
        let serve = try await PeerProcess.modelplaneServe(data: directory)
        defer { serve.stop() }
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
        defer { kube.shutdown() }
        let http = HTTPClient()
        defer { http.shutdown() }
        let backend = TritonClient(baseURL: triton.url, http: http)
        let audit = directory + "/audit.log"

        func startController() async throws -> PeerProcess {
            try await PeerProcess.start(
                Peers.modelplane,
                ["controller", "--kubeconfig", directory + "/kubeconfig", "--audit-log", audit, "--resync", "2", "--no-leader-elect"]
            ) { $0.hasPrefix("modelplane: controller running") ? 0 : nil }
        }

        var md = ModelDeployment(name: "echo", spec: .init(model: .init(name: "echo", version: "1"), backend: .init(triton: .init(url: triton.url))))
        md = try await kube.create(md)
        let versions = ["2", "3", "1", "3", "2"]
        for round in 0..<20 {
            let version = versions[round % versions.count]
            // Change the spec, let the controller run for a random moment, kill it.
            var current = try await kube.get(ModelDeployment.self, name: "echo", namespace: "default")
            current.spec.model.version = version
            current.spec.rollout = .init(strategy: round % 2 == 0 ? .immediate : .blueGreen)
            _ = try await kube.update(current)
            let victim = try await startController()
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...1500)))
            victim.stop()  // SIGKILL

            // A fresh controller converges from whatever state that left.
            let controller = try await startController()
            let deadline = ContinuousClock.now + .seconds(60)
            var converged: ModelDeployment?
            while converged == nil, ContinuousClock.now < deadline {
                let now = try await kube.get(ModelDeployment.self, name: "echo", namespace: "default")
                if now.status?.observedGeneration == now.metadata.generation, now.status?.phase == .ready, now.status?.servingVersion == version {
                    converged = now
                } else {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            controller.stop()
            #expect(converged != nil, "round \(round): did not converge to version \(version): \(controller.log)")
            let ready = try await backend.index().filter { $0.state == .ready }.map { "\($0.name):\($0.version ?? "")" }
            #expect(ready == ["echo:\(version)"], "round \(round): exactly the desired version is loaded, nothing else: \(ready)")
        }
        let verify = try await CommandResult.run(Peers.modelplane, ["audit", "verify", "--file", audit])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let loads = try String(contentsOfFile: audit, encoding: .utf8).components(separatedBy: #""action":"load""#).count - 1
        #expect(loads >= 20, "every round's load is in the audit log (\(loads))")
    }
}
