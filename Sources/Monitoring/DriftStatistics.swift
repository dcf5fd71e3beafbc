public import Foundation

/// The statistics drift monitoring compares a reference with current traffic by (issue 27), pure
/// and exact: each is defined as its reference implementation defines it (scipy's, or the numpy
/// formula the reference document gives), and `DriftStatisticsTests` hold them to scipy on seeded
/// data within 1e-9 relative. Inputs are finite values (a caller splits NaN off as missing, and
/// reports it: `finite(_:)`) or category counts.
public enum DriftStatistics {
    /// The finite values, and how many were not (NaN, infinite): missing, to be reported.
    public static func finite(_ values: [Double]) -> (values: [Double], missing: Int) {
        let kept = values.filter(\.isFinite)
        return (kept, values.count - kept.count)
    }

    // MARK: - Numeric: rank and distance

    /// The two-sample Kolmogorov–Smirnov statistic D: the largest distance between the two
    /// empirical CDFs over the pooled values (`scipy.stats.ks_2samp(...).statistic`).
    public static func ksStatistic(_ a: [Double], _ b: [Double]) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return .nan }
        let x = a.sorted()
        let y = b.sorted()
        var i = 0
        var j = 0
        var d = 0.0
        // Walk the pooled values in order; at each distinct value both CDFs step past every copy.
        while i < x.count || j < y.count {
            let value = min(i < x.count ? x[i] : .infinity, j < y.count ? y[j] : .infinity)
            while i < x.count, x[i] <= value { i += 1 }
            while j < y.count, y[j] <= value { j += 1 }
            d = max(d, abs(Double(i) / Double(x.count) - Double(j) / Double(y.count)))
        }
        return d
    }

    /// The two-sample Kolmogorov–Smirnov test, two-sided: D and its p-value, exact (the
    /// probability that two samples of these sizes from one distribution differ by D or more)
    /// while each sample has at most 10,000 values, as `scipy.stats.ks_2samp`'s default does.
    /// Beyond that the p-value is Kolmogorov's limiting distribution at √(nm/(n+m))·D, where scipy
    /// uses an exact one-sample distribution instead (the two agree to about 1e-3 there).
    public static func ksTest(_ a: [Double], _ b: [Double]) -> (statistic: Double, p: Double) {
        let d = ksStatistic(a, b)
        guard !d.isNaN else { return (.nan, .nan) }
        let (n1, n2) = (a.count, b.count)
        if max(n1, n2) <= 10_000 {
            let g = greatestCommonDivisor(n1, n2)
            let lcm = (n1 / g) * n2
            // D is a multiple of 1/lcm: the lattice step the path counts work in.
            let h = Int((d * Double(lcm)).rounded(.toNearestOrEven))
            if h == 0 { return (0, 1) }
            let p = n1 == n2 ? outsideSquare(n: n1, h: h) : outsideBand(m: n1, n: n2, g: g, h: h)
            return (Double(h) / Double(lcm), min(1, max(0, p)))
        }
        let en = Double(n1) * Double(n2) / Double(n1 + n2)
        return (d, min(1, max(0, kolmogorovSurvival(en.squareRoot() * d))))
    }

    static func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int { b == 0 ? a : greatestCommonDivisor(b, a % b) }

    /// P(D ≥ h/n) for two samples of n each: 2·Σ_k (−1)^(k+1)·C(2n, n−kh)/C(2n, n), each ratio a
    /// product of h factors, summed from the innermost term outward (no cancellation).
    static func outsideSquare(n: Int, h: Int) -> Double {
        var total = 0.0
        var k = n / h
        while k >= 0 {
            var ratio = 1.0
            for j in 0..<h { ratio = Double(n - k * h - j) * ratio / Double(n + k * h + j + 1) }
            total = ratio * (1 - total)
            k -= 1
        }
        return 2 * total
    }

    /// P(D ≥ h/lcm) for samples of m and n: the share of monotone lattice paths from (0, 0) to
    /// (m, n) that leave the band |x/m − y/n| < h/lcm (Hodges' inside method), computed as that
    /// share directly, column by column over the band's window, so every value stays in [0, 1]
    /// (Viehmann's recursion, arXiv:2102.08037).
    static func outsideBand(m larger: Int, n smaller: Int, g: Int, h: Int) -> Double {
        let (m, n) = larger >= smaller ? (larger, smaller) : (smaller, larger)
        let mg = m / g
        let ng = n / g
        var low = 0
        var high = min(Int((Double(h) / Double(mg)).rounded(.up)), n + 1)
        var width = high - low
        var column = Array(repeating: 1.0, count: min(2 * high + 2, n + 1))
        for j in low..<high { column[j] = 0 }
        for i in 1...m {
            let lastLow = low
            let lastWidth = width
            low = min(max(Int((Double(ng * i - h) / Double(mg)).rounded(.down)) + 1, 0), n)
            high = min(Int((Double(ng * i + h) / Double(mg)).rounded(.up)), n + 1)
            if high <= low { return 1 }
            var value = low == 0 ? 0.0 : 1.0
            for offset in 0..<(high - low) {
                let j = offset + low
                value = (column[offset + low - lastLow] * Double(i) + value * Double(j)) / Double(i + j)
                column[offset] = value
            }
            width = high - low
            if lastWidth > width {
                for index in width..<min(lastWidth, column.count) { column[index] = 1 }
            }
        }
        return column[high - low - 1]
    }

    /// Kolmogorov's limiting distribution, P(K > x) = 2·Σ (−1)^(k−1)·e^(−2k²x²).
    static func kolmogorovSurvival(_ x: Double) -> Double {
        // (Below 0.2 it is 1 to double precision, where the series converges slowly.)
        if x < 0.2 { return 1 }
        var total = 0.0
        for k in 1...100 {
            let term = exp(-2 * Double(k * k) * x * x)
            total += (k % 2 == 1 ? 1 : -1) * term
            if term < 1e-17 { break }
        }
        return 2 * total
    }

    /// The first Wasserstein distance between the two samples' distributions:
    /// ∫ |F_u − F_v| dx (`scipy.stats.wasserstein_distance(u, v)`).
    public static func wasserstein(_ u: [Double], _ v: [Double]) -> Double {
        guard !u.isEmpty, !v.isEmpty else { return .nan }
        let us = u.sorted()
        let vs = v.sorted()
        let all = (u + v).sorted()
        var total = 0.0
        var i = 0
        var j = 0
        for k in 0..<(all.count - 1) {
            // CDFs just after all[k] (searchsorted side='right'), over the gap to the next value.
            while i < us.count, us[i] <= all[k] { i += 1 }
            while j < vs.count, vs[j] <= all[k] { j += 1 }
            total += abs(Double(i) / Double(us.count) - Double(j) / Double(vs.count)) * (all[k + 1] - all[k])
        }
        return total
    }

    /// Evidently's normed Wasserstein: the distance divided by the reference's standard deviation
    /// (population, at least 0.001), so one threshold (0.1) fits every feature's scale.
    public static func normedWasserstein(reference: [Double], current: [Double]) -> Double {
        wasserstein(reference, current) / max(standardDeviation(reference), 0.001)
    }

    /// The population standard deviation (`numpy.std`).
    public static func standardDeviation(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let mean = values.reduce(0, +) / Double(values.count)
        return (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
    }

    // MARK: - Numeric: binned

    /// Upper edges of `bins` bins fixed by the reference's quantiles (`numpy.quantile`, linear):
    /// the bins are right-closed and the outer two open, so every value lands in one.
    public static func quantileEdges(_ reference: [Double], bins: Int = 10) -> [Double] {
        let sorted = reference.sorted()
        guard !sorted.isEmpty, bins > 1 else { return [] }
        return (1..<bins).map { quantile(sorted, Double($0) / Double(bins)) }
    }

    /// `numpy.quantile(sorted, q)` with the default linear interpolation.
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let low = Int(position.rounded(.down))
        let high = min(low + 1, sorted.count - 1)
        let fraction = position - Double(low)
        return sorted[low] + (sorted[high] - sorted[low]) * fraction
    }

    /// Counts of `values` in the bins `edges` bound (the bin of a value equal to an edge is the
    /// one the edge closes).
    public static func binCounts(_ values: [Double], edges: [Double]) -> [Int] {
        var counts = Array(repeating: 0, count: edges.count + 1)
        for value in values {
            var low = 0
            var high = edges.count
            while low < high {
                let mid = (low + high) / 2
                if edges[mid] < value { low = mid + 1 } else { high = mid }
            }
            counts[low] += 1
        }
        return counts
    }

    /// The population stability index over 10 reference-decile bins: Σ (c − r)·ln(c / r) over the
    /// bins' shares, an empty bin's share taken as 1e-4.
    public static func psi(reference: [Double], current: [Double], bins: Int = 10) -> Double {
        guard !reference.isEmpty, !current.isEmpty else { return .nan }
        let edges = quantileEdges(reference, bins: bins)
        return psi(referenceCounts: binCounts(reference, edges: edges), currentCounts: binCounts(current, edges: edges))
    }

    /// PSI from the counts per bin (what a streaming window keeps).
    public static func psi(referenceCounts: [Int], currentCounts: [Int]) -> Double {
        let r = shares(referenceCounts.map(Double.init)).map { $0 == 0 ? 1e-4 : $0 }
        let c = shares(currentCounts.map(Double.init)).map { $0 == 0 ? 1e-4 : $0 }
        return zip(r, c).reduce(0) { $0 + ($1.1 - $1.0) * log($1.1 / $1.0) }
    }

    // MARK: - Categorical (and binned) distributions

    /// Counts as shares of their total.
    public static func shares(_ counts: [Double]) -> [Double] {
        let total = counts.reduce(0, +)
        return total > 0 ? counts.map { $0 / total } : counts.map { _ in .nan }
    }

    /// x·ln(x/y), 0 when x is 0, infinite when y is 0 and x is not (`scipy.special.rel_entr`).
    static func relativeEntropy(_ x: Double, _ y: Double) -> Double {
        if x > 0, y > 0 { return x * log(x / y) }
        if x == 0, y >= 0 { return 0 }
        return .infinity
    }

    /// The Shannon entropy of `p`, or with `q` the Kullback–Leibler divergence of `p` from `q`,
    /// both normalized first; natural log unless `base` (`scipy.stats.entropy(pk, qk, base)`).
    public static func entropy(_ p: [Double], _ q: [Double]? = nil, base: Double? = nil) -> Double {
        let ps = shares(p)
        let value: Double
        if let q {
            let qs = shares(q)
            value = zip(ps, qs).reduce(0) { $0 + relativeEntropy($1.0, $1.1) }
        } else {
            value = ps.reduce(0) { $0 + ($1 > 0 ? -$1 * log($1) : 0) }
        }
        return base.map { value / log($0) } ?? value
    }

    /// The Jensen–Shannon distance (the square root of the divergence), natural log unless
    /// `base` (`scipy.spatial.distance.jensenshannon(p, q, base)`).
    public static func jensenShannon(_ p: [Double], _ q: [Double], base: Double? = nil) -> Double {
        let ps = shares(p)
        let qs = shares(q)
        let m = zip(ps, qs).map { ($0 + $1) / 2 }
        var divergence = zip(ps, m).reduce(0) { $0 + relativeEntropy($1.0, $1.1) } + zip(qs, m).reduce(0) { $0 + relativeEntropy($1.0, $1.1) }
        if let base { divergence /= log(base) }
        return (divergence / 2).squareRoot()
    }

    /// The Hellinger distance ‖√p − √q‖ / √2 of the normalized distributions (0 to 1).
    public static func hellinger(_ p: [Double], _ q: [Double]) -> Double {
        let ps = shares(p)
        let qs = shares(q)
        return zip(ps, qs).reduce(0) { $0 + ($1.0.squareRoot() - $1.1.squareRoot()) * ($1.0.squareRoot() - $1.1.squareRoot()) }.squareRoot()
            / 2.0.squareRoot()
    }

    /// The L∞ distance max_k |p_k − q_k| of the normalized distributions (SageMaker Model
    /// Monitor's categorical check).
    public static func lInfinity(_ p: [Double], _ q: [Double]) -> Double {
        zip(shares(p), shares(q)).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    // MARK: - Many features at once

    /// Adjusted p-values for testing many features at once: Bonferroni's (each times the number of
    /// tests, at most 1) or Benjamini–Hochberg's false-discovery-rate step-up
    /// (`scipy.stats.false_discovery_control(ps, method='bh')`). A feature drifts when its adjusted
    /// p-value is below the threshold.
    public enum Correction: String, Sendable, Hashable, CaseIterable {
        case none = "None"
        case bonferroni = "Bonferroni"
        case benjaminiHochberg = "BenjaminiHochberg"
    }

    public static func adjusted(_ p: [Double], _ correction: Correction) -> [Double] {
        let m = Double(p.count)
        switch correction {
        case .none: return p
        case .bonferroni: return p.map { min(1, $0 * m) }
        case .benjaminiHochberg:
            // Sorted ascending, p_(i)·m/i, made monotone from the largest down, put back in order.
            let order = p.indices.sorted { p[$0] < p[$1] }
            var adjusted = Array(repeating: 0.0, count: p.count)
            var running = 1.0
            for rank in stride(from: order.count, through: 1, by: -1) {
                let index = order[rank - 1]
                running = min(running, p[index] * m / Double(rank))
                adjusted[index] = min(1, running)
            }
            return adjusted
        }
    }

    /// Evidently's default method for a feature, from the reference: up to 1,000 rows, the KS test
    /// for a numeric feature of more than 5 values and the chi-square test otherwise (drift when
    /// p ≤ 0.05, resp. < 0.05); beyond, the normed Wasserstein distance for a numeric feature and
    /// the Jensen–Shannon distance for a categorical one (drift at 0.1 or more).
    public enum Method: String, Sendable, Hashable, CaseIterable {
        case ks = "KS"
        case chiSquared = "ChiSquared"
        case wasserstein = "Wasserstein"
        case jensenShannon = "JensenShannon"
        case psi = "PSI"
        case hellinger = "Hellinger"
        case lInfinity = "LInfinity"

        /// A p-value (drift below the threshold) or a distance (drift at or above it).
        public var isTest: Bool { self == .ks || self == .chiSquared }
    }

    public static func defaultMethod(referenceCount: Int, distinctValues: Int, categorical: Bool) -> (method: Method, threshold: Double) {
        if referenceCount <= 1000 {
            return !categorical && distinctValues > 5 ? (.ks, 0.05) : (.chiSquared, 0.05)
        }
        return categorical ? (.jensenShannon, 0.1) : (.wasserstein, 0.1)
    }

    // MARK: - Chi-square tests

    /// Pearson's chi-square test of homogeneity on a table of counts (a row per sample, a column
    /// per category), with Yates' correction when it has one degree of freedom
    /// (`scipy.stats.chi2_contingency`). Columns empty in every row are not categories and are
    /// left out (scipy refuses a zero expected count).
    public static func chi2Contingency(_ table: [[Double]]) -> (statistic: Double, p: Double, dof: Int) {
        guard let width = table.first?.count else { return (.nan, .nan, 0) }
        let columns = (0..<width).filter { c in table.contains { $0[c] > 0 } }
        let observed = table.map { row in columns.map { row[$0] } }
        let rows = observed.map { $0.reduce(0, +) }
        let sums = columns.indices.map { c in observed.reduce(0) { $0 + $1[c] } }
        let total = rows.reduce(0, +)
        let dof = (observed.count - 1) * (columns.count - 1)
        guard total > 0, !rows.contains(0) else { return (.nan, .nan, dof) }
        guard dof > 0 else { return (0, 1, 0) }
        var statistic = 0.0
        for (r, row) in observed.enumerated() {
            for (c, value) in row.enumerated() {
                let expected = rows[r] * sums[c] / total
                var o = value
                if dof == 1 {
                    // Yates: each count moves half a unit (at most) toward what is expected.
                    let difference = expected - o
                    o += min(0.5, abs(difference)) * (difference > 0 ? 1 : difference < 0 ? -1 : 0)
                }
                statistic += (o - expected) * (o - expected) / expected
            }
        }
        return (statistic, chi2Survival(statistic, dof: dof), dof)
    }

    /// Pearson's goodness-of-fit test of observed counts against expected ones (with the same
    /// total), `k − 1` degrees of freedom (`scipy.stats.chisquare`).
    public static func chisquare(observed: [Double], expected: [Double]) -> (statistic: Double, p: Double) {
        let statistic = zip(observed, expected).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) / $1.1 }
        return (statistic, chi2Survival(statistic, dof: observed.count - 1))
    }

    /// P(X > x) for X ~ χ²(dof): the regularized upper incomplete gamma Q(dof/2, x/2)
    /// (`scipy.stats.chi2.sf`).
    public static func chi2Survival(_ x: Double, dof: Int) -> Double {
        guard dof > 0, !x.isNaN else { return .nan }
        if x <= 0 { return 1 }
        return regularizedGammaQ(Double(dof) / 2, x / 2)
    }

    /// Q(a, x) = Γ(a, x) / Γ(a): by its series (as 1 − P) below a + 1, by Lentz's continued
    /// fraction above, each to double precision.
    static func regularizedGammaQ(_ a: Double, _ x: Double) -> Double {
        let logPrefix = a * log(x) - x - lgamma(a)
        if x < a + 1 {
            var term = 1 / a
            var sum = term
            var n = a
            for _ in 0..<10_000 {
                n += 1
                term *= x / n
                sum += term
                if abs(term) < abs(sum) * 1e-17 { break }
            }
            return max(0, 1 - sum * exp(logPrefix))
        }
        let tiny = 1e-300
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var h = d
        for i in 1...10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-17 { break }
        }
        return exp(logPrefix) * h
    }
}
