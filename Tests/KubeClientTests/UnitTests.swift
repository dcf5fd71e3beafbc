import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import Testing

@Suite struct LineSplitterTests {
    /// Whatever the chunking, the same lines come out: checked over many random cuts.
    @Test func randomChunkingGivesTheSameLines() throws {
        let lines = (0..<200).map { #"{"type":"ADDED","object":{"n":\#($0),"pad":"\#(String(repeating: "é", count: $0 % 37))"}}"# }
        let text = Data((lines.joined(separator: "\n") + "\n").utf8)
        var random = SeededRandom(seed: 42)
        for _ in 0..<300 {
            var splitter = LineSplitter()
            var out: [Data] = []
            var i = 0
            while i < text.count {
                let size = Int.random(in: 1...max(1, Int.random(in: 1...400, using: &random)), using: &random)
                out += try splitter.append(text[i..<min(text.count, i + size)])
                i += size
            }
            #expect(splitter.finish() == nil)
            #expect(out.map { String(decoding: $0, as: UTF8.self) } == lines)
        }
    }

    @Test func handlesCRLFEmptyLinesAndATrailingLine() throws {
        var splitter = LineSplitter()
        let out = try splitter.append(Data("a\r\n\nb\nc".utf8))
        #expect(out == [Data("a".utf8), Data("b".utf8)])
        #expect(splitter.finish() == Data("c".utf8))
    }

    @Test func boundsLineLength() {
        var splitter = LineSplitter(maxLineBytes: 10)
        #expect(throws: LineSplitter.LineTooLong.self) { _ = try splitter.append(Data(String(repeating: "x", count: 11).utf8)) }
    }
}

/// A deterministic generator, so a failing chunking can be reproduced.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct StatusDecodingTests {
    @Test func decodesInvalidWithCauses() throws {
        let body = #"""
            {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
             "message":"ModelDeployment.modelplane.dev \"x\" is invalid: spec.model.version: Required value",
             "reason":"Invalid","details":{"name":"x","group":"modelplane.dev","kind":"ModelDeployment",
             "causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.model.version"}]},"code":422}
            """#
        let status = try JSONDecoder().decode(APIStatus.self, from: Data(body.utf8))
        let error = KubernetesError.api(status)
        #expect(error.isInvalid)
        #expect(!error.isTransient)
        #expect(status.reason == .invalid)
        #expect(status.details?.causes == [APIStatus.Cause(reason: "FieldValueRequired", message: "Required value", field: "spec.model.version")])
        #expect(error.description.contains("spec.model.version: Required value"))
    }

    @Test func classifiesByCodeAndReason() {
        #expect(KubernetesError.api(APIStatus(code: 409, reason: .alreadyExists, message: nil)).isAlreadyExists)
        #expect(!KubernetesError.api(APIStatus(code: 409, reason: .alreadyExists, message: nil)).isConflict)
        #expect(KubernetesError.api(APIStatus(code: 409, reason: .conflict, message: nil)).isConflict)
        #expect(KubernetesError.api(APIStatus(code: 410, reason: .expired, message: nil)).isGone)
        #expect(KubernetesError.api(APIStatus(code: 429, reason: .tooManyRequests, message: nil)).isTransient)
        #expect(KubernetesError.transport(HTTPClientError(.couldNotConnect, "refused")).isTransient)
        #expect(!KubernetesError.api(APIStatus(code: 403, reason: .forbidden, message: nil)).isTransient)
        #expect(StatusReason.forCode(410) == .gone)
    }
}

@Suite struct BackoffTests {
    @Test func growsToTheMaximumAndResets() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1), jitter: 0)
        let delays = (0..<6).map { _ in backoff.next() }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
    }

    @Test func jitterStaysWithinBounds() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(10), jitter: 1)
        var random = SeededRandom(seed: 7)
        let first = backoff.next(using: &random)
        #expect(first >= .milliseconds(100) && first <= .milliseconds(200))
    }
}

@Suite struct SecretTests {
    @Test func credentialsNeverPrintTheirValue() {
        let token = "s3cr3t-token"
        #expect(!"\(Secret(token))".contains(token))
        #expect(!String(reflecting: Secret(token)).contains(token))
        #expect(!"\(Credentials.bearerToken(Secret(token)))".contains(token))
        let configuration = KubernetesClientConfiguration(server: "https://x", credentials: .bearerToken(Secret(token)))
        #expect(!"\(configuration)".contains(token))
    }
}

@Suite struct PathTests {
    @Test func namesArePercentEncodedOnlyWhereNeeded() {
        let kube = KubernetesClient(configuration: KubernetesClientConfiguration(server: "https://127.0.0.1:1"))
        #expect(
            kube.path(ModelDeployment.self, namespace: "team-a", name: "fraud_v2.1~x")
                == "/apis/modelplane.dev/v1alpha1/namespaces/team-a/modeldeployments/fraud_v2.1~x")
        #expect(
            kube.path(ModelDeployment.self, namespace: "a b", name: "x/y?é") == "/apis/modelplane.dev/v1alpha1/namespaces/a%20b/modeldeployments/x%2Fy%3F%C3%A9"
        )
        #expect(kube.path(Lease.self, namespace: "ns", name: "") == "/apis/coordination.k8s.io/v1/namespaces/ns/leases/")
    }
}

@Suite struct SubprocessTests {
    @Test func reportsExitCodesSignalsOutputAndTimeouts() async throws {
        let exited = try await Subprocess.run("/bin/sh", ["-c", "cat; echo oops >&2; exit 7"], environment: [:], input: Data("hi".utf8), timeout: .seconds(60))
        #expect(exited.status == 7)
        #expect(String(decoding: exited.stdout, as: UTF8.self) == "hi")
        #expect(String(decoding: exited.stderr, as: UTF8.self) == "oops\n")
        #expect(!exited.timedOut)
        let killed = try await Subprocess.run("/bin/sh", ["-c", "kill -KILL $$"], environment: [:], timeout: .seconds(60))
        #expect(killed.status == SIGKILL, "a signal's number, as Foundation's terminationStatus gives it")
        // Ignoring SIGTERM (as children of `serve` do, inheriting its disposition) does not
        // outlast the timeout.
        let started = ContinuousClock.now
        let slow = try await Subprocess.run("/bin/sh", ["-c", "trap '' TERM; sleep 30"], environment: [:], timeout: .milliseconds(200))
        #expect(slow.timedOut)
        #expect(slow.status == SIGKILL)
        #expect(ContinuousClock.now - started < .seconds(25))
    }
}
