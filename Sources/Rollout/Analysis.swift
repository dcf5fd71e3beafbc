public import Foundation

/// Metric analysis for progressive delivery, pure, with Argo Rollouts' meaning of its limits: the
/// first step of "progressive delivery that decides by itself". What a measurement says of one
/// metric, how a metric's measurements add up, and what a run of several metrics decides. Nothing
/// here measures (providers do: the router's figures, Prometheus, a webhook) or acts (the rollout
/// machine aborts or pauses on the verdict, `AnalysisRuns` keeps the runs in `status.analysis`).
public enum Analysis {
    /// One metric's thresholds and limits.
    public struct Metric: Sendable, Hashable {
        public var name: String
        /// A value above it fails.
        public var max: Double?
        /// A value below it fails.
        public var min: Double?
        /// Measurements to take (nil: until the analysis stops, as a background analysis runs).
        public var count: Int?
        /// Failed measurements tolerated; one more fails the metric (Argo's default 0).
        public var failureLimit: Int
        /// Inconclusive measurements tolerated; one more makes the metric inconclusive (default 0).
        public var inconclusiveLimit: Int
        /// Measurement errors in a row tolerated (default 4); one more makes the metric
        /// inconclusive (a provider that is down never fails a canary, and never promotes it).
        public var consecutiveErrorLimit: Int

        public init(
            name: String, max: Double? = nil, min: Double? = nil, count: Int? = nil, failureLimit: Int = 0, inconclusiveLimit: Int = 0,
            consecutiveErrorLimit: Int = 4
        ) {
            self.name = name
            self.max = max
            self.min = min
            self.count = count
            self.failureLimit = failureLimit
            self.inconclusiveLimit = inconclusiveLimit
            self.consecutiveErrorLimit = consecutiveErrorLimit
        }

        /// The thresholds in words: `at most 0.01`, `at least 0.98`, `between 0.1 and 0.2`.
        public var threshold: String {
            switch (min, max) {
            case (let low?, let high?): "between \(Analysis.format(low)) and \(Analysis.format(high))"
            case (let low?, nil): "at least \(Analysis.format(low))"
            case (nil, let high?): "at most \(Analysis.format(high))"
            case (nil, nil): "any value"
            }
        }
    }

    /// What a provider answered for one measurement.
    public enum Reading: Sendable, Hashable {
        case value(Double)
        /// No answer to judge: no data yet, too few requests (`minRequests`). Inconclusive.
        case noData(String)
        /// The provider could not be asked, or answered nonsense (Prometheus down, a vector of
        /// three series). Counts toward `consecutiveErrorLimit`, never as a failure.
        case error(String)
        /// The provider itself says it failed (a webhook answering other than 2xx).
        case failed(String)
    }

    public enum Outcome: String, Sendable, Hashable, Codable {
        case successful = "Successful"
        case failed = "Failed"
        case inconclusive = "Inconclusive"
        case error = "Error"
    }

    /// One judged measurement.
    public struct Measurement: Sendable, Hashable {
        public var outcome: Outcome
        public var value: Double?
        public var message: String
        public var at: Date

        public init(outcome: Outcome, value: Double?, message: String, at: Date) {
            self.outcome = outcome
            self.value = value
            self.message = message
            self.at = at
        }
    }

    /// What one reading says of `metric`. A value that is not a number (NaN) is inconclusive, not
    /// a pass.
    public static func judge(_ reading: Reading, _ metric: Metric, at: Date) -> Measurement {
        switch reading {
        case .noData(let why): return Measurement(outcome: .inconclusive, value: nil, message: why, at: at)
        case .error(let why): return Measurement(outcome: .error, value: nil, message: why, at: at)
        case .failed(let why): return Measurement(outcome: .failed, value: nil, message: why, at: at)
        case .value(let value) where value.isNaN:
            return Measurement(outcome: .inconclusive, value: nil, message: "\(metric.name) is not a number (NaN)", at: at)
        case .value(let value):
            if let max = metric.max, value > max {
                return Measurement(outcome: .failed, value: value, message: "\(metric.name) is \(format(value)), above its maximum \(format(max))", at: at)
            }
            if let min = metric.min, value < min {
                return Measurement(outcome: .failed, value: value, message: "\(metric.name) is \(format(value)), below its minimum \(format(min))", at: at)
            }
            return Measurement(outcome: .successful, value: value, message: "\(metric.name) is \(format(value)), \(metric.threshold)", at: at)
        }
    }

    /// Where one metric stands after its measurements, oldest first.
    public enum Phase: Sendable, Hashable {
        /// More measurements to take.
        case running
        /// Every measurement it takes is in, within its limits.
        case successful
        /// More failed measurements than `failureLimit`: the last failure says why.
        case failed(Measurement)
        /// More inconclusive measurements than `inconclusiveLimit`, or more errors in a row than
        /// `consecutiveErrorLimit`.
        case inconclusive(String)
    }

    /// What a metric's measurements add up to: the counts its limits are about, and the last
    /// measurement of each kind (what a verdict quotes).
    public struct Tally: Sendable, Hashable {
        /// Measurements taken, errors not counted (what `count` counts, as in Argo).
        public var measured = 0
        public var failed = 0
        public var inconclusive = 0
        public var errors = 0
        /// Errors since the last measurement that was not one.
        public var consecutiveErrors = 0
        /// The longest run of errors so far: once it is past the limit the metric is
        /// inconclusive for good (a later answer does not undo a verdict given).
        public var longestErrorRun = 0
        public var lastFailure: Measurement?
        public var lastInconclusive: Measurement?
        public var lastError: Measurement?

        public init() {}

        public mutating func add(_ measurement: Measurement) {
            switch measurement.outcome {
            case .error:
                errors += 1
                consecutiveErrors += 1
                longestErrorRun = Swift.max(longestErrorRun, consecutiveErrors)
                lastError = measurement
                return
            case .failed:
                failed += 1
                lastFailure = measurement
            case .inconclusive:
                inconclusive += 1
                lastInconclusive = measurement
            case .successful: break
            }
            measured += 1
            consecutiveErrors = 0
        }
    }

    public static func phase(_ metric: Metric, _ measurements: [Measurement]) -> Phase {
        var tally = Tally()
        for measurement in measurements { tally.add(measurement) }
        return phase(metric, tally)
    }

    public static func phase(_ metric: Metric, _ tally: Tally) -> Phase {
        if tally.failed > metric.failureLimit, let last = tally.lastFailure { return .failed(last) }
        if tally.inconclusive > metric.inconclusiveLimit, let last = tally.lastInconclusive {
            return .inconclusive("\(metric.name): \(last.message) (\(tally.inconclusive) inconclusive, \(metric.inconclusiveLimit) tolerated)")
        }
        if tally.longestErrorRun > metric.consecutiveErrorLimit, let last = tally.lastError {
            return .inconclusive("\(metric.name) could not be measured \(tally.longestErrorRun) times in a row: \(last.message)")
        }
        if let count = metric.count, tally.measured >= count { return .successful }
        return .running
    }

    /// What a run of several metrics decides: failed as soon as one metric fails (the first in the
    /// spec's order), else inconclusive as soon as one is, else successful once every metric is,
    /// else running.
    public enum Verdict: Sendable, Hashable {
        case running
        case successful
        case failed(metric: String, Measurement)
        case inconclusive(String)
    }

    public static func verdict(_ metrics: [(Metric, [Measurement])]) -> Verdict {
        verdict(phases: metrics.map { ($0.0.name, phase($0.0, $0.1)) })
    }

    /// The verdict of metrics' phases, in the spec's order.
    public static func verdict(phases: [(name: String, phase: Phase)]) -> Verdict {
        for (name, phase) in phases {
            if case .failed(let measurement) = phase { return .failed(metric: name, measurement) }
        }
        for (_, phase) in phases {
            if case .inconclusive(let why) = phase { return .inconclusive(why) }
        }
        return !phases.isEmpty && phases.allSatisfy { $0.phase == .successful } ? .successful : .running
    }

    /// A figure as status and messages print it: up to 6 significant digits, no exponent for
    /// everyday sizes.
    public static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.6g", value)
    }
}
