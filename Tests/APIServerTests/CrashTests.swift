import Foundation
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Synchronization
import Testing

/// `modelplane serve` killed with SIGKILL while a client writes as fast as it can: after a restart
/// on the same data directory every acknowledged write is there, and versions are never reused.
@Suite(.timeLimit(.minutes(3))) struct CrashTests {
    final class Acknowledged: Sendable {
        let names = Mutex<[String]>([])
        let lastVersion = Mutex<Int>(0)
    }

    @Test func killNineMidWriteLosesNothingAcknowledged() async throws {
        let directory = NSTemporaryDirectory() + "modelplane-crash-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let acknowledged = Acknowledged()
        var highestBeforeKill = 0
        for round in 0..<5 {
            let server = try await PeerProcess.modelplaneServe(data: directory)
            let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig", environment: [:]))

            // What the previous rounds acknowledged survived, and versions moved on.
            let list = try await kube.listAll(ModelDeployment.self, namespace: "default")
            let present = Set(list.items.compactMap(\.metadata.name))
            let missing = acknowledged.names.withLock { $0.filter { !present.contains($0) } }
            #expect(missing.isEmpty, "round \(round): acknowledged but lost: \(missing)")
            #expect(Int(list.resourceVersion) ?? 0 >= highestBeforeKill)

            // Write until enough are acknowledged, then kill the server with requests in flight.
            let target = 30 + round * 7
            // Each acknowledgement is announced, so the test waits on them rather than spinning.
            let (acks, ack) = AsyncStream.makeStream(of: Void.self)
            let writer = Task {
                var i = 0
                while !Task.isCancelled {
                    let name = "r\(round)-md-\(i)"
                    i += 1
                    do {
                        let created = try await kube.create(
                            ModelDeployment(
                                name: name, spec: .init(model: .init(name: "m", version: "1"), backend: .init(triton: .init(url: "http://127.0.0.1:8000")))))
                        let version = Int(created.metadata.resourceVersion ?? "") ?? 0
                        acknowledged.names.withLock { $0.append(name) }
                        acknowledged.lastVersion.withLock { $0 = max($0, version) }
                        ack.yield()
                    } catch {
                        ack.finish()
                        return  // the server is gone
                    }
                }
            }
            var acked = 0
            for await _ in acks {
                acked += 1
                if acked >= target { break }
            }
            #expect(acked >= target, "round \(round): the server went before \(target) writes were acknowledged")
            server.stop()  // SIGKILL
            _ = await writer.result
            highestBeforeKill = acknowledged.lastVersion.withLock { $0 }
            kube.shutdown()
        }
        // A last start: nothing lost, and a new write gets a version never used before.
        let server = try await PeerProcess.modelplaneServe(data: directory)
        defer { server.stop() }
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig", environment: [:]))
        let names = Set(try await kube.listAll(ModelDeployment.self, namespace: "default").items.compactMap(\.metadata.name))
        #expect(acknowledged.names.withLock { $0.allSatisfy(names.contains) })
        let fresh = try await kube.create(
            ModelDeployment(
                name: "after-crashes", spec: .init(model: .init(name: "m", version: "1"), backend: .init(triton: .init(url: "http://127.0.0.1:8000")))))
        #expect(Int(fresh.metadata.resourceVersion ?? "") ?? 0 > highestBeforeKill)
    }
}
