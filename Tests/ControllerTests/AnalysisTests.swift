import Controller
import Foundation
import HTTPClient
import ModelplaneAPI
import ModelplaneTestSupport
import Rollout
import Testing

/// The metric analysis, pure: what a reading says of a metric, how a metric's measurements add up
/// under Argo Rollouts' limits, and what a run of several metrics decides.
@Suite struct AnalysisTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func measurements(_ metric: Analysis.Metric, _ readings: [Analysis.Reading]) -> [Analysis.Measurement] {
        readings.enumerated().map { Analysis.judge($1, metric, at: now.addingTimeInterval(Double($0) * 30)) }
    }

    @Test(arguments: [
        (Analysis.Reading.value(0.01), Analysis.Outcome.successful, "at the maximum passes"),
        (.value(0.0100001), .failed, "just above the maximum fails"),
        (.value(0.001), .failed, "below the minimum fails"),
        (.value(0.002), .successful, "at the minimum passes"),
        (.value(.nan), .inconclusive, "NaN is no pass"),
        (.noData("12 requests, fewer than minRequests 100"), .inconclusive, "too little data"),
        (.error("Prometheus: connection refused"), .error, "the provider could not be asked"),
    ])
    func aReadingIsJudgedAgainstBothThresholds(reading: Analysis.Reading, expected: Analysis.Outcome, why: String) {
        let metric = Analysis.Metric(name: "error-rate", max: 0.01, min: 0.002)
        #expect(Analysis.judge(reading, metric, at: Self.now).outcome == expected, "\(why)")
    }

    @Test func messagesSayTheValueAndTheThreshold() {
        let metric = Analysis.Metric(name: "p99", max: 0.25)
        #expect(Analysis.judge(.value(0.4), metric, at: Self.now).message == "p99 is 0.4, above its maximum 0.25")
        #expect(Analysis.judge(.value(0.1), metric, at: Self.now).message == "p99 is 0.1, at most 0.25")
        #expect(Analysis.Metric(name: "agreement", min: 0.98).threshold == "at least 0.98")
        #expect(Analysis.Metric(name: "rps", max: 200, min: 10).threshold == "between 10 and 200")
    }

    @Test func failureLimitIsHowManyFailuresAreTolerated() {
        var metric = Analysis.Metric(name: "error-rate", max: 0.01, count: 5)
        let readings: [Analysis.Reading] = [.value(0.001), .value(0.2), .value(0.001)]
        guard case .failed(let last) = Analysis.phase(metric, Self.measurements(metric, readings)) else {
            Issue.record("one failure fails a metric with failureLimit 0")
            return
        }
        #expect(last.value == 0.2)
        metric.failureLimit = 1
        #expect(Analysis.phase(metric, Self.measurements(metric, readings)) == .running, "one failure tolerated, two more to take")
        #expect(Analysis.phase(metric, Self.measurements(metric, readings + [.value(0.3)])).isFailed, "the second failure is one too many")
        #expect(Analysis.phase(metric, Self.measurements(metric, readings + [.value(0.001), .value(0.001)])) == .successful)
    }

    @Test func inconclusiveMeasurementsPauseRatherThanFail() {
        let metric = Analysis.Metric(name: "error-rate", max: 0.01, count: 3, inconclusiveLimit: 1)
        let one: [Analysis.Reading] = [.value(0.001), .noData("no requests yet")]
        #expect(Analysis.phase(metric, Self.measurements(metric, one)) == .running)
        let two = one + [.noData("no requests yet")]
        guard case .inconclusive(let why) = Analysis.phase(metric, Self.measurements(metric, two)) else {
            Issue.record("a second inconclusive measurement is one too many")
            return
        }
        #expect(why == "error-rate: no requests yet (2 inconclusive, 1 tolerated)")
        #expect(Analysis.phase(metric, Self.measurements(metric, two + [.value(0.5)])).isFailed, "a failure outranks being inconclusive")
    }

    @Test func errorsInARowBeyondTheLimitAreInconclusiveNeverFailed() {
        let metric = Analysis.Metric(name: "p99", max: 0.25, count: 3)
        let down = Analysis.Reading.error("Prometheus: connection refused")
        #expect(Analysis.phase(metric, Self.measurements(metric, Array(repeating: down, count: 4))) == .running, "four errors are tolerated")
        guard case .inconclusive(let why) = Analysis.phase(metric, Self.measurements(metric, Array(repeating: down, count: 5))) else {
            Issue.record("five errors in a row are one too many")
            return
        }
        #expect(why == "p99 could not be measured 5 times in a row: Prometheus: connection refused")
        // A measurement between them starts the count again; errors are no measurements for `count`.
        let mixed: [Analysis.Reading] = [down, down, down, down, .value(0.1), down, down, down, down, .value(0.1)]
        #expect(Analysis.phase(metric, Self.measurements(metric, mixed)) == .running)
        #expect(Analysis.phase(metric, Self.measurements(metric, mixed + [.value(0.1)])) == .successful)
        // Once five in a row were errors, later answers do not undo the verdict.
        let stuck = Array(repeating: down, count: 5) + [.value(0.1), .value(0.1), .value(0.1)]
        #expect(Analysis.phase(metric, Self.measurements(metric, stuck)) != .successful)
    }

    @Test func aBackgroundMetricWithoutACountRunsUntilStopped() {
        let metric = Analysis.Metric(name: "error-rate", max: 0.01)
        let many = Array(repeating: Analysis.Reading.value(0.001), count: 200)
        #expect(Analysis.phase(metric, Self.measurements(metric, many)) == .running)
    }

    @Test func aRunFailsOnItsFirstFailingMetricIsInconclusiveNextAndSucceedsOnlyWhenAllDo() {
        let errors = Analysis.Metric(name: "error-rate", max: 0.01, count: 2)
        let latency = Analysis.Metric(name: "p99", max: 0.25, count: 2)
        let agreement = Analysis.Metric(name: "agreement", min: 0.98, count: 2)
        func run(_ e: [Analysis.Reading], _ l: [Analysis.Reading], _ a: [Analysis.Reading]) -> Analysis.Verdict {
            Analysis.verdict([
                (errors, Self.measurements(errors, e)), (latency, Self.measurements(latency, l)), (agreement, Self.measurements(agreement, a)),
            ])
        }
        let good: [Analysis.Reading] = [.value(0.001), .value(0.002)]
        #expect(run(good, [.value(0.1), .value(0.2)], [.value(0.99), .value(1)]) == .successful)
        #expect(run(good, [.value(0.1)], [.value(0.99), .value(1)]) == .running, "p99 has one more to take")
        guard case .failed(let metric, let measurement) = run(good, [.value(0.1), .value(0.9)], [.noData("no shadow answers yet")]) else {
            Issue.record("a failed metric fails the run, even beside an inconclusive one")
            return
        }
        #expect(metric == "p99" && measurement.value == 0.9)
        #expect(run(good, [.value(0.1)], [.noData("no shadow answers yet")]) == .inconclusive("agreement: no shadow answers yet (1 inconclusive, 0 tolerated)"))
        #expect(Analysis.verdict([]) == .running, "no metrics decide nothing")
    }
}

/// Analysis's `webhook` provider against a real HTTP server that checks the signature itself
/// (Python's hmac, Tests/Peers/http_peer.py).
@Suite(.timeLimit(.minutes(2))) struct WebhookProviderTests {
    @Test func aSignedCallIsMeasuredAndAnythingElseFailsOrErrs() async throws {
        let peer = try await PeerProcess.httpPeer()
        defer { peer.stop() }
        let http = HTTPClient()
        defer { http.shutdown() }
        let provider = WebhookProvider(http: http)
        let context = AnalysisContext(namespace: "ml-prod", deployment: "scorer", revision: "3", version: "7")
        let secret = Array("s3cret".utf8)
        let base = peer.baseURL

        #expect(
            await provider.measure(url: base + "/webhook/0.004?secret=s3cret", metric: "error-rate", thresholds: true, secret: secret, context) == .value(0.004)
        )
        let told = try JSONValue(parsing: try await http.execute(HTTPRequest(url: base + "/webhook-last")).body)
        #expect(
            told["metric"] == "error-rate" && told["deployment"] == "scorer" && told["namespace"] == "ml-prod" && told["revision"] == "3"
                && told["version"] == "7")

        // A wrong key, or none, is refused by the receiver: the measurement fails, and the message
        // names the hook without its query (which may carry a token).
        let forged = await provider.measure(
            url: base + "/webhook/0.004?secret=s3cret", metric: "error-rate", thresholds: true, secret: Array("guess".utf8), context)
        #expect(forged == .failed("the webhook \(base)/webhook/0.004 answered 401"))
        #expect(await provider.measure(url: base + "/webhook/0.004?secret=s3cret", metric: "error-rate", thresholds: true, context) == forged)

        // 2xx without a number: a pass for a metric without thresholds, an error for one with.
        #expect(await provider.measure(url: base + "/webhook/ok?secret=s3cret", metric: "smoke", thresholds: false, secret: secret, context) == .value(1))
        guard case .error(let why) = await provider.measure(url: base + "/webhook/ok?secret=s3cret", metric: "p99", thresholds: true, secret: secret, context)
        else {
            Issue.record("a 2xx without a number cannot be compared")
            return
        }
        #expect(why.contains("without a number to compare") && !why.contains("s3cret"), "\(why)")
        #expect(
            await provider.measure(url: base + "/status/500", metric: "smoke", thresholds: false, context)
                == .failed("the webhook \(base)/status/500 answered 500"))
        #expect(
            await provider.measure(url: base + "/status/503", metric: "smoke", thresholds: false, context)
                == .error("the webhook \(base)/status/503 is unavailable (503)"), "a gateway saying the hook is down is no failure")
        guard case .error(let unreadable) = await provider.measure(url: "ftp://user:hunter2@x/hook?token=abc", metric: "smoke", thresholds: false, context)
        else {
            Issue.record("a URL the client cannot call is an error")
            return
        }
        #expect(!unreadable.contains("hunter2") && !unreadable.contains("abc"), "\(unreadable)")
        guard case .error(let down) = await provider.measure(url: "http://127.0.0.1:1/hook", metric: "smoke", thresholds: false, context) else {
            Issue.record("no answer is an error, not a failure")
            return
        }
        #expect(down.hasPrefix("the webhook http://127.0.0.1:1/hook cannot be reached"))
        #expect(Analysis.judge(.failed("the webhook answered 500"), Analysis.Metric(name: "smoke"), at: Date()).outcome == .failed)
    }
}

extension Analysis.Phase {
    var isFailed: Bool {
        if case .failed = self { return true }
        return false
    }
}
