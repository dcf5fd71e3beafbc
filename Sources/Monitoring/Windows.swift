public import Foundation

/// A numeric feature's reference, frozen once: the bins the binned methods count in (the
/// reference's quantiles), its counts in them, its mean and standard deviation (for CUSUM and the
/// normed Wasserstein distance), and a bounded sample for the rank methods (KS, Wasserstein).
///
/// The sample is every k-th value of the sorted reference, so its empirical CDF is within
/// 1/`sampleLimit` of the reference's everywhere, and a KS statistic or Wasserstein distance on
/// it is within that of the one on the whole reference (Wasserstein: that times the range).
public struct NumericProfile: Sendable, Hashable, Codable {
    public var edges: [Double]
    public var counts: [Int]
    public var mean: Double
    public var standardDeviation: Double
    public var sample: [Double]
    public var count: Int
    /// Reference values that were not numbers (NaN, infinite): reported, never counted.
    public var missing: Int

    /// `sampleLimit`: 1,000 by default, so the sample's CDF is within 0.001 of the reference's and
    /// a profile takes about 8 KiB (a deployment of 100 features stays within its memory budget).
    public init(reference raw: [Double], bins: Int = 10, sampleLimit: Int = 1000) {
        let (values, missing) = DriftStatistics.finite(raw)
        let sorted = values.sorted()
        self.missing = missing
        count = sorted.count
        edges = DriftStatistics.quantileEdges(sorted, bins: bins)
        counts = DriftStatistics.binCounts(sorted, edges: edges)
        mean = sorted.isEmpty ? .nan : sorted.reduce(0, +) / Double(sorted.count)
        standardDeviation = DriftStatistics.standardDeviation(sorted)
        if sorted.count <= sampleLimit {
            sample = sorted
        } else {
            // Evenly spaced ranks, the first and last included.
            sample = (0..<sampleLimit).map { sorted[Int((Double($0) * Double(sorted.count - 1) / Double(sampleLimit - 1)).rounded())] }
        }
    }

    /// The most the sample's empirical CDF is off the whole reference's.
    public var sampleError: Double { sample.count == count ? 0 : 1 / Double(sample.count) }
}

/// What a pane (or a whole window) of current values holds for one numeric feature: counts in
/// the profile's bins (exact, and exactly mergeable), the count, missing values and sum, and a
/// bounded uniform sample of the values for the rank methods (exact while the values fit in it).
public struct NumericSummary: Sendable, Hashable, Codable {
    public var counts: [Int]
    public var count = 0
    public var missing = 0
    public var sum = 0.0
    public var sample: [Double] = []
    public var capacity: Int
    /// A deterministic generator for the sample (so replicas and replays agree).
    private var random: SplitMix64

    public init(bins: Int, capacity: Int = 5000, seed: UInt64 = 0x5EED) {
        counts = Array(repeating: 0, count: bins)
        self.capacity = capacity
        random = SplitMix64(seed: seed)
    }

    /// The sample is exactly every value seen.
    public var isExact: Bool { sample.count == count }

    public mutating func add(_ value: Double, edges: [Double]) {
        guard value.isFinite else {
            missing += 1
            return
        }
        counts[DriftStatistics.binCounts([value], edges: edges).firstIndex(of: 1) ?? 0] += 1
        count += 1
        sum += value
        if sample.count < capacity {
            sample.append(value)
        } else {
            // Reservoir sampling: the value replaces a random one with probability capacity/count.
            let slot = Int(random.next() % UInt64(count))
            if slot < capacity { sample[slot] = value }
        }
    }

    /// This summary and `other`'s together (another pane, another replica's): counts add
    /// exactly, and the samples are joined (the result holds what its parts held, no more), so
    /// parts whose samples are exact make an exact whole.
    public func merged(with other: NumericSummary) -> NumericSummary {
        var result = self
        result.counts = zip(counts, other.counts).map { $0 + $1 }
        result.count += other.count
        result.missing += other.missing
        result.sum += other.sum
        result.capacity = capacity + other.capacity
        result.sample = sample + other.sample
        return result
    }
}

/// A sliding window of panes: the last `panes` panes of `requestsPerPane` values each. When the
/// newest pane fills, the oldest goes: the window always covers between
/// (panes − 1)·requestsPerPane and panes·requestsPerPane of the latest values. The window keeps
/// at most `sampleBudget` values for the rank methods (1,000 by default: about 8 KiB a feature),
/// shared out over its panes; a window no larger than that is exact, a larger one a uniform
/// sample of each pane.
public struct PaneWindow: Sendable, Hashable, Codable {
    public let panes: Int
    public let requestsPerPane: Int
    public private(set) var ring: [NumericSummary]
    let bins: Int

    /// Values each pane keeps for the rank methods.
    public let paneCapacity: Int

    public init(panes: Int, requestsPerPane: Int, bins: Int, sampleBudget: Int = 1000) {
        self.panes = max(1, panes)
        self.requestsPerPane = max(1, requestsPerPane)
        self.bins = bins
        paneCapacity = min(self.requestsPerPane, max(1, sampleBudget / self.panes))
        ring = [NumericSummary(bins: bins, capacity: paneCapacity)]
    }

    /// Values held for the rank methods, over every pane (what the window's memory grows with).
    public var sampledValues: Int { ring.reduce(0) { $0 + $1.sample.count } }

    public mutating func add(_ value: Double, edges: [Double]) {
        if ring[ring.count - 1].count + ring[ring.count - 1].missing >= requestsPerPane {
            ring.append(NumericSummary(bins: bins, capacity: paneCapacity, seed: UInt64(ring.count) &* 0x9E37))
            if ring.count > panes { ring.removeFirst(ring.count - panes) }
        }
        ring[ring.count - 1].add(value, edges: edges)
    }

    /// The whole window as one summary.
    public var summary: NumericSummary {
        ring.dropFirst().reduce(ring[0]) { $0.merged(with: $1) }
    }
}

/// One numeric feature's drift, by `method`, from its profile and a window's summary.
public enum NumericDrift {
    public struct Result: Sendable, Hashable {
        public var statistic: Double
        /// For the tests (KS, chi-square); nil for a distance.
        public var p: Double?
        /// How far off a rank method's KS statistic may be for the bounded samples (0 when exact;
        /// for a sampled window, with probability 0.999).
        public var error: Double
    }

    public static func evaluate(_ method: DriftStatistics.Method, profile: NumericProfile, current: NumericSummary) -> Result {
        let reference = profile.counts.map(Double.init)
        let window = current.counts.map(Double.init)
        // A sampled window's CDF is within √(ln(2/0.001) / 2n) of the whole window's with
        // probability 0.999 (Dvoretzky–Kiefer–Wolfowitz); the profile's sample is within 1/limit
        // always.
        let windowError = current.isExact ? 0 : (log(2 / 0.001) / (2 * Double(max(current.sample.count, 1)))).squareRoot()
        let sampleError = profile.sampleError + windowError
        switch method {
        case .ks:
            let test = DriftStatistics.ksTest(profile.sample, current.sample)
            return Result(statistic: test.statistic, p: test.p, error: sampleError)
        case .wasserstein:
            let distance = DriftStatistics.wasserstein(profile.sample, current.sample) / max(profile.standardDeviation, 0.001)
            return Result(statistic: distance, p: nil, error: sampleError)
        case .psi: return Result(statistic: DriftStatistics.psi(referenceCounts: profile.counts, currentCounts: current.counts), p: nil, error: 0)
        case .jensenShannon: return Result(statistic: DriftStatistics.jensenShannon(reference, window), p: nil, error: 0)
        case .hellinger: return Result(statistic: DriftStatistics.hellinger(reference, window), p: nil, error: 0)
        case .lInfinity: return Result(statistic: DriftStatistics.lInfinity(reference, window), p: nil, error: 0)
        case .chiSquared:
            let test = DriftStatistics.chi2Contingency([reference, window])
            return Result(statistic: test.statistic, p: test.p, error: 0)
        }
    }
}

/// A categorical feature's reference: its categories in a fixed order and their counts. Values
/// the reference never saw are counted apart in a window, as one more category, so a new value
/// showing up is drift rather than noise left out.
public struct CategoricalProfile: Sendable, Hashable, Codable {
    public var categories: [String]
    public var counts: [Int]
    public var missing: Int

    /// `reference`: one value per row (nil: missing).
    public init(reference: [String?]) {
        var counts: [String: Int] = [:]
        var missing = 0
        for value in reference {
            if let value { counts[value, default: 0] += 1 } else { missing += 1 }
        }
        categories = counts.keys.sorted()
        self.counts = categories.map { counts[$0]! }
        self.missing = missing
    }
}

/// A window's counts of a categorical feature, in the profile's order, with values the reference
/// never saw in one more slot; merges exactly.
public struct CategoricalSummary: Sendable, Hashable, Codable {
    public var counts: [Int]
    public var unseen: Int = 0
    public var missing: Int = 0
    /// Up to 16 of the unseen values, for the report.
    public var unseenExamples: [String] = []

    public init(profile: CategoricalProfile) { counts = Array(repeating: 0, count: profile.categories.count) }

    public mutating func add(_ value: String?, profile: CategoricalProfile, index: [String: Int]? = nil) {
        guard let value else {
            missing += 1
            return
        }
        if let slot = index?[value] ?? profile.categories.firstIndex(of: value) {
            counts[slot] += 1
        } else {
            unseen += 1
            if unseenExamples.count < 16, !unseenExamples.contains(value) { unseenExamples.append(value) }
        }
    }

    public func merged(with other: CategoricalSummary) -> CategoricalSummary {
        var result = self
        result.counts = zip(counts, other.counts).map { $0 + $1 }
        result.unseen += other.unseen
        result.missing += other.missing
        for example in other.unseenExamples where result.unseenExamples.count < 16 && !result.unseenExamples.contains(example) {
            result.unseenExamples.append(example)
        }
        return result
    }

    /// The counts compared with the profile's: the categories, then the unseen (0 in the reference).
    public var comparable: [Double] { counts.map(Double.init) + [Double(unseen)] }
}

extension NumericDrift {
    /// A categorical feature's drift: chi-square (the default for small references),
    /// Jensen–Shannon (large ones), Hellinger, L∞ or PSI over the categories; KS and Wasserstein
    /// do not apply (NaN).
    public static func evaluate(_ method: DriftStatistics.Method, profile: CategoricalProfile, current: CategoricalSummary) -> Result {
        let reference = profile.counts.map(Double.init) + [0]
        let window = current.comparable
        switch method {
        case .ks, .wasserstein:
            // Rank methods need an order categories do not have (validation refuses them there).
            return Result(statistic: .nan, p: nil, error: 0)
        case .chiSquared:
            let test = DriftStatistics.chi2Contingency([reference, window])
            return Result(statistic: test.statistic, p: test.p, error: 0)
        case .jensenShannon: return Result(statistic: DriftStatistics.jensenShannon(reference, window), p: nil, error: 0)
        case .hellinger: return Result(statistic: DriftStatistics.hellinger(reference, window), p: nil, error: 0)
        case .lInfinity: return Result(statistic: DriftStatistics.lInfinity(reference, window), p: nil, error: 0)
        case .psi:
            return Result(
                statistic: DriftStatistics.psi(referenceCounts: reference.map { Int($0) }, currentCounts: window.map { Int($0) }), p: nil, error: 0)
        }
    }
}
