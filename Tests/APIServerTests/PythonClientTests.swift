import Foundation
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

/// The official Kubernetes Python client against a real `modelplane serve`, through the
/// kubeconfig serve writes (`Tests/Peers/python_client_contract.py` does the client's part).
@Suite(.timeLimit(.minutes(3))) struct PythonClientTests {
    final class Session {
        let directory = NSTemporaryDirectory() + "modelplane-python-" + UUID().uuidString
        var server: PeerProcess!

        init(_ arguments: [String] = []) async throws { server = try await PeerProcess.modelplaneServe(data: directory, extraArguments: arguments) }

        func check(_ name: String) async throws -> JSONValue {
            let result = try await CommandResult.run(try Peers.python, [Peers.script("python_client_contract.py"), directory + "/kubeconfig", name])
            guard result.status == 0 else { throw PeerError("python \(name) failed:\n\(result.stdout)\(result.stderr)") }
            return try JSONValue(parsing: result.stdout)
        }

        deinit {
            server.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func createListReplaceConflictsAndStatus() async throws {
        let result = try await Session().check("crud")
        #expect(result["listResourceVersion"] == "1")
        #expect(result["items"] == 1)
        #expect(result["conflict"] == ["status": 409, "reason": "Conflict"])
        #expect(result["invalid"] == ["status": 422, "fields": ["spec.model.version"]])
        #expect(result["phase"] == "Ready")
        #expect(result["generation"] == 2)
    }

    @Test func watchesFromAListsResourceVersion() async throws {
        let result = try await Session().check("watch")
        // An empty store lists at version 0; the object created after the watch starts is version 1.
        #expect(result["start"] == "0")
        #expect(result["events"] == [["type": "ADDED", "name": "w", "resourceVersion": "1"]], "\(result)")
    }

    @Test func goneThenRelist() async throws {
        let result = try await Session(["--history", "10"]).check("gone")
        #expect(result["expired"] == 410)
        #expect(result["relisted"] == 300)
        #expect(result["afterRelist"] == "after")
    }

    /// `dry_run="All"` on create, replace, patch, status patch and delete: answered, never stored,
    /// never watched; an invalid object and a stale resourceVersion fail as in a real write.
    @Test func dryRunWritesNothing() async throws {
        let result = try await Session().check("dryrun")
        #expect(result["created"] == ["b", .null])
        #expect(result["replaced"] == ["2", 2])
        #expect(result["patched"] == "3")
        #expect(result["status"] == "Ready")
        #expect(result["deleted"] == "a")
        #expect(result["invalid"] == ["status": 422, "reason": "Invalid"])
        #expect(result["conflict"] == ["status": 409, "reason": "Conflict"])
        #expect(result["unsupported"] == ["status": 422, "reason": "Invalid"])
        #expect(result["stored"] == ["1", 1, false])
        #expect(result["names"] == ["a"])
        // The only events are the two real label patches.
        #expect(result["events"] == [["MODIFIED", "a", "yes"], ["MODIFIED", "a", "again"]], "\(result)")
    }

    @Test func leaderElectionWithLeaseLock() async throws {
        let result = try await Session().check("leader")
        #expect(result["first"] == "LEADING candidate-a")
        #expect(result["secondWhileFirstAlive"] == .null, "only one leader while the first renews")
        #expect(result["second"] == "LEADING candidate-b", "the lease passes on once the leader is killed")
        // (The handover is measured, not bounded here: timing belongs to the benchmark.)
        guard case .double = result["handoverSeconds"] else {
            Issue.record("no handover measured: \(result)")
            return
        }
    }
}
