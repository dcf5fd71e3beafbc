import Foundation
import Monitoring
import Testing

/// Reference profiles and pane windows: binned figures exact however the values are split
/// (panes, replicas), rank figures exact while the values fit the sample and within the stated
/// error beyond, old panes leaving as new ones fill.
@Suite struct WindowTests {
    static func values(_ count: Int, shift: Double = 0, seed: UInt64) -> [Double] {
        var normal = SeededNormal(seed: seed)
        return (0..<count).map { _ in normal.next() + shift }
    }

    @Test func twoReplicasSeeingHalvesGiveWhatOneSeeingAllGives() {
        let profile = NumericProfile(reference: Self.values(3000, seed: 1), sampleLimit: 5000)
        let traffic = Self.values(2000, shift: 0.3, seed: 2)
        var whole = NumericSummary(bins: 10)
        var first = NumericSummary(bins: 10)
        var second = NumericSummary(bins: 10, seed: 99)
        for (index, value) in traffic.enumerated() {
            whole.add(value, edges: profile.edges)
            if index % 2 == 0 { first.add(value, edges: profile.edges) } else { second.add(value, edges: profile.edges) }
        }
        let merged = first.merged(with: second)
        #expect(merged.counts == whole.counts && merged.count == whole.count)
        for method in [DriftStatistics.Method.psi, .jensenShannon, .hellinger, .lInfinity, .chiSquared] {
            #expect(
                NumericDrift.evaluate(method, profile: profile, current: merged) == NumericDrift.evaluate(method, profile: profile, current: whole),
                "\(method) is exact across replicas")
        }
        // The rank methods: exact while every value fits the sample (2,000 < 5,000).
        let ks = NumericDrift.evaluate(.ks, profile: profile, current: merged)
        let raw = DriftStatistics.ksTest(Self.values(3000, seed: 1), traffic)
        #expect(ks.statistic == raw.statistic && ks.p == raw.p && ks.error == 0)
    }

    @Test func aBoundedReferenceSampleIsWithinItsStatedError() {
        let reference = Self.values(40_000, seed: 3)
        let profile = NumericProfile(reference: reference, sampleLimit: 2000)
        #expect(profile.sample.count == 2000 && profile.count == 40_000 && profile.sampleError == 1.0 / 2000)
        let current = Self.values(1500, shift: 0.2, seed: 4)
        var summary = NumericSummary(bins: 10)
        for value in current { summary.add(value, edges: profile.edges) }
        let bounded = NumericDrift.evaluate(.ks, profile: profile, current: summary)
        let exact = DriftStatistics.ksStatistic(reference, current)
        #expect(abs(bounded.statistic - exact) <= bounded.error, "\(bounded.statistic) against \(exact), error \(bounded.error)")
        // PSI from the profile's counts is PSI on the whole reference.
        #expect(
            DriftStatistics.psi(referenceCounts: profile.counts, currentCounts: summary.counts) == DriftStatistics.psi(reference: reference, current: current))
    }

    @Test func aDeploymentOfAHundredFeaturesStaysWithinItsMemoryBudget() {
        // What grows with traffic is the values kept for the rank methods: bounded by the profile's
        // sample limit and the window's budget, whatever the traffic.
        let profile = NumericProfile(reference: Self.values(50_000, seed: 8))
        var window = PaneWindow(panes: 10, requestsPerPane: 1000, bins: 10)
        for value in Self.values(30_000, seed: 9) { window.add(value, edges: profile.edges) }
        #expect(profile.sample.count == 1000 && window.sampledValues <= 1000 && window.summary.count == 10_000)
        let bytesPerFeature = (profile.sample.count + window.sampledValues) * MemoryLayout<Double>.size + (profile.counts.count + 10 * 10) * 8
        #expect(bytesPerFeature * 100 < 2 << 20, "100 features: \(bytesPerFeature * 100) bytes")
        // And a window sampled down is within its stated error of the exact KS.
        var exact = NumericSummary(bins: 10, capacity: 10_000)
        for value in Self.values(30_000, seed: 9).suffix(10_000) { exact.add(value, edges: profile.edges) }
        let sampled = NumericDrift.evaluate(.ks, profile: profile, current: window.summary)
        let full = NumericDrift.evaluate(.ks, profile: profile, current: exact)
        #expect(abs(sampled.statistic - full.statistic) <= sampled.error, "\(sampled) against \(full)")
    }

    @Test func paneWindowsForgetTheOldestPaneAsTheNewestFills() {
        let profile = NumericProfile(reference: Self.values(5000, seed: 5))
        var window = PaneWindow(panes: 10, requestsPerPane: 100, bins: 10)
        let before = Self.values(3000, seed: 6)
        let after = Self.values(1000, shift: 1, seed: 7)
        for value in before + after { window.add(value, edges: profile.edges) }
        let summary = window.summary
        #expect(summary.count == 1000, "ten panes of a hundred: the last thousand values")
        var last = NumericSummary(bins: 10)
        for value in after { last.add(value, edges: profile.edges) }
        #expect(summary.counts == last.counts, "only the shifted values remain")
        #expect(summary.isExact && summary.sample == after, "and the rank methods see exactly them")
        let drift = NumericDrift.evaluate(.psi, profile: profile, current: summary)
        #expect(drift.statistic > 0.25, "a 1 sigma shift is far past PSI's 0.25: \(drift.statistic)")
        // NaN is missing: counted, never binned; it takes its place in the window like any request
        // (here it opens a new pane, and the oldest goes).
        window.add(.nan, edges: profile.edges)
        #expect(window.summary.missing == 1 && window.summary.counts.reduce(0, +) == 900)
    }
}

/// Categorical features: unseen values are a category of their own, summaries merge exactly.
@Suite struct CategoricalWindowTests {
    @Test func anUnseenValueIsDriftAndReplicasMergeExactly() {
        let profile = CategoricalProfile(reference: Array(repeating: "FR", count: 60) + Array(repeating: "DE", count: 40) + [nil])
        #expect(profile.categories == ["DE", "FR"] && profile.counts == [40, 60] && profile.missing == 1)
        var whole = CategoricalSummary(profile: profile)
        var first = CategoricalSummary(profile: profile)
        var second = CategoricalSummary(profile: profile)
        let traffic: [String?] = Array(repeating: "FR", count: 50) + Array(repeating: "DE", count: 30) + Array(repeating: "US", count: 20) + [nil]
        for (index, value) in traffic.enumerated() {
            whole.add(value, profile: profile)
            if index % 3 == 0 { first.add(value, profile: profile) } else { second.add(value, profile: profile) }
        }
        #expect(whole.unseen == 20 && whole.unseenExamples == ["US"] && whole.missing == 1)
        let merged = first.merged(with: second)
        #expect(merged.counts == whole.counts && merged.unseen == whole.unseen && merged.missing == whole.missing)
        let drift = NumericDrift.evaluate(.chiSquared, profile: profile, current: merged)
        #expect(drift.p.map { $0 < 0.001 } == true, "a fifth of the traffic in a new country is drift: \(drift)")
        #expect(drift == NumericDrift.evaluate(.chiSquared, profile: profile, current: whole))
        #expect(NumericDrift.evaluate(.lInfinity, profile: profile, current: whole).statistic == 0.2)
        // The same mix as the reference is no drift.
        var same = CategoricalSummary(profile: profile)
        for value in Array(repeating: "FR", count: 60) + Array(repeating: "DE", count: 40) { same.add(value, profile: profile) }
        #expect(NumericDrift.evaluate(.jensenShannon, profile: profile, current: same).statistic == 0)
        #expect(NumericDrift.evaluate(.ks, profile: profile, current: same).statistic.isNaN, "no rank method on categories")
    }
}
