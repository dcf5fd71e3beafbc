import Foundation
import ModelplaneAPI
import ModelplaneTestSupport
import Monitoring
import Testing

/// Drift statistics held to scipy: the oracle (`Tests/Peers/drift_oracle.py`, scipy and numpy in
/// a venv of their own) computes each statistic on seeded data at test time (normal and shifted
/// samples, ties, one- and two-value samples, a constant reference, disjoint supports, unseen and
/// vanished categories), and the Swift implementation must agree within 1e-9 relative.
@Suite struct DriftStatisticsTests {
    static func oracle() async throws -> JSONValue {
        let python = try Peers.statsPython
        let result = try await CommandResult.run(python, [Peers.script("drift_oracle.py")])
        guard result.status == 0 else { throw PeerError("drift_oracle.py: \(result.stderr)") }
        return try JSONValue(parsing: Data(result.stdout.utf8))
    }

    static func numbers(_ value: JSONValue?) -> [Double] {
        (value?.arrayValue ?? []).compactMap { value in
            switch value {
            case .double(let d): d
            case .int(let i): Double(i)
            default: nil
            }
        }
    }

    static func number(_ value: JSONValue?) -> Double? { numbers(.array([value ?? .null])).first }

    /// Within 1e-9 of `expected`, relatively however small it is (a p-value of 1e-170 too);
    /// within 1e-12 of an expected 0.
    static func close(_ actual: Double, _ expected: Double) -> Bool {
        if expected.isInfinite || actual.isInfinite { return actual == expected }
        if expected == 0 { return abs(actual) <= 1e-12 }
        return abs(actual - expected) <= 1e-9 * abs(expected)
    }

    @Test func numericStatisticsAgreeWithScipy() async throws {
        let oracle = try await Self.oracle()
        let cases = try #require(oracle["numeric"]?.arrayValue)
        #expect(cases.count >= 11)
        for item in cases {
            let name = item["name"]?.stringValue ?? "?"
            let reference = Self.numbers(item["reference"])
            let current = Self.numbers(item["current"])
            let ks = DriftStatistics.ksTest(reference, current)
            let checks: [(String, Double)] = [
                ("ks", DriftStatistics.ksStatistic(reference, current)), ("ksP", ks.p),
                ("wasserstein", DriftStatistics.wasserstein(reference, current)),
                ("normedWasserstein", DriftStatistics.normedWasserstein(reference: reference, current: current)),
                ("psi", DriftStatistics.psi(reference: reference, current: current)),
            ]
            for (statistic, actual) in checks {
                let expected = try #require(Self.number(item[statistic]), "\(name): \(statistic)")
                #expect(Self.close(actual, expected), "\(name): \(statistic) is \(actual), scipy says \(expected)")
            }
        }
    }

    @Test func categoricalStatisticsAgreeWithScipy() async throws {
        let oracle = try await Self.oracle()
        let cases = try #require(oracle["categorical"]?.arrayValue)
        #expect(cases.count >= 6)
        for item in cases {
            let name = item["name"]?.stringValue ?? "?"
            let reference = Self.numbers(item["reference"])
            let current = Self.numbers(item["current"])
            let chi2 = DriftStatistics.chi2Contingency([reference, current])
            var checks: [(String, Double)] = [
                ("chi2", chi2.statistic), ("chi2P", chi2.p), ("chi2Dof", Double(chi2.dof)),
                ("jensenShannon", DriftStatistics.jensenShannon(reference, current)),
                ("jensenShannon2", DriftStatistics.jensenShannon(reference, current, base: 2)),
                ("entropy", DriftStatistics.entropy(reference)), ("entropy2", DriftStatistics.entropy(reference, base: 2)),
                ("hellinger", DriftStatistics.hellinger(reference, current)), ("linf", DriftStatistics.lInfinity(reference, current)),
            ]
            if item["chisquare"] != .null, item["chisquare"] != nil {
                let total = current.reduce(0, +)
                let expected = DriftStatistics.shares(reference).map { $0 * total }
                let gof = DriftStatistics.chisquare(observed: current, expected: expected)
                checks += [("chisquare", gof.statistic), ("chisquareP", gof.p), ("klDivergence", DriftStatistics.entropy(current, reference))]
            }
            for (statistic, actual) in checks {
                let expected = try #require(Self.number(item[statistic]), "\(name): \(statistic)")
                #expect(Self.close(actual, expected), "\(name): \(statistic) is \(actual), scipy says \(expected)")
            }
        }
    }

    @Test func chiSquareTailsAgreeWithScipyFarOut() async throws {
        let oracle = try await Self.oracle()
        for item in try #require(oracle["chi2sf"]?.arrayValue) {
            let x = try #require(Self.number(item["x"]))
            let dof = Int(try #require(Self.number(item["dof"])))
            let expected = try #require(Self.number(item["sf"]))
            let actual = DriftStatistics.chi2Survival(x, dof: dof)
            #expect(Self.close(actual, expected), "chi2.sf(\(x), \(dof)) is \(actual), scipy says \(expected)")
        }
    }

    @Test func multipleTestingCorrectionsAgreeWithScipy() async throws {
        let oracle = try await Self.oracle()
        for item in try #require(oracle["corrections"]?.arrayValue) {
            let name = item["name"]?.stringValue ?? "?"
            let p = Self.numbers(item["p"])
            for (correction, key) in [(DriftStatistics.Correction.benjaminiHochberg, "bh"), (.bonferroni, "bonferroni")] {
                let actual = DriftStatistics.adjusted(p, correction)
                let expected = Self.numbers(item[key])
                #expect(
                    actual.count == expected.count && zip(actual, expected).allSatisfy { Self.close($0, $1) }, "\(name), \(key): \(actual) against \(expected)")
            }
        }
    }

    @Test func evidentlysDefaultMethodPerFeature() {
        #expect(DriftStatistics.defaultMethod(referenceCount: 800, distinctValues: 40, categorical: false) == (.ks, 0.05))
        #expect(DriftStatistics.defaultMethod(referenceCount: 800, distinctValues: 4, categorical: false) == (.chiSquared, 0.05))
        #expect(DriftStatistics.defaultMethod(referenceCount: 800, distinctValues: 40, categorical: true) == (.chiSquared, 0.05))
        #expect(DriftStatistics.defaultMethod(referenceCount: 5000, distinctValues: 40, categorical: false) == (.wasserstein, 0.1))
        #expect(DriftStatistics.defaultMethod(referenceCount: 5000, distinctValues: 40, categorical: true) == (.jensenShannon, 0.1))
    }

    @Test func missingValuesAreSplitOffAndCounted() {
        let (values, missing) = DriftStatistics.finite([1, .nan, 2, .infinity, 3])
        #expect(values == [1, 2, 3] && missing == 2)
        #expect(DriftStatistics.ksStatistic([], [1]).isNaN, "no reference: no statistic, not 0")
    }
}

/// The CUSUM detector: quiet on stationary values, quick on a half-sigma shift, its threshold
/// from a false-alarm budget.
@Suite struct CusumTests {
    @Test func theThresholdGrowsWithTheBudgetsStrictness() {
        let loose = Cusum.threshold(k: 0.25, falseAlarmsPerDay: 10, samplesPerDay: 864_000, features: 10)
        let strict = Cusum.threshold(k: 0.25, falseAlarmsPerDay: 1, samplesPerDay: 864_000, features: 10)
        #expect(strict > loose && loose > 0)
        // Its in-control run length meets the target it was solved for.
        #expect(Cusum.averageRunLength(shift: 0, k: 0.25, h: strict) >= 4 * 10 * 864_000)
        // And a half-sigma shift is found in far fewer values than that.
        #expect(Cusum.averageRunLength(shift: 0.5, k: 0.25, h: strict) < 200)
    }

    @Test func quietOnStationaryValuesQuickOnAShift() {
        let h = Cusum.threshold(k: 0.25, falseAlarmsPerDay: 1, samplesPerDay: 864_000, features: 10)
        var normal = SeededNormal(seed: 27)
        var chart = Cusum(k: 0.25, h: h)
        var alarms = 0
        for _ in 0..<200_000 where chart.add(normal.next()) != nil { alarms += 1 }
        #expect(alarms == 0, "200,000 stationary values, no alarm")
        var detected: Int?
        for i in 1...2_000 {
            if case .up(let after)? = chart.add(normal.next() + 0.5) {
                detected = i
                #expect(after > 0)
                break
            }
        }
        #expect(detected.map { $0 < 400 } == true, "a half-sigma shift found within 400 values: \(String(describing: detected))")
        // NaN is missing, not a value.
        #expect(chart.add(.nan) == nil && chart.count == 0)
    }
}
