public import Foundation

/// Sequential detection of a small persistent shift in a feature's mean (issue 27): a two-sided
/// CUSUM on the feature's values standardized by the reference (z = (x − μ_ref) / σ_ref). Each
/// side accumulates z − k (or −z − k), floored at 0, and alarms past h; an alarm resets both.
/// `k` is half the shift it is tuned to detect (in reference standard deviations). `h` comes from
/// a false-alarm budget (`threshold(...)`) through Siegmund's approximation of the in-control
/// average run length, so a deployment of many features watched around the clock stays within
/// its budget of false alarms a day.
public struct Cusum: Sendable, Hashable {
    public let k: Double
    public let h: Double
    /// The two sides' sums.
    public private(set) var high = 0.0
    public private(set) var low = 0.0
    /// Values seen since the last alarm (or the start).
    public private(set) var count = 0

    public init(k: Double, h: Double) {
        self.k = k
        self.h = h
    }

    public enum Alarm: Sendable, Hashable {
        /// The mean went up (the sum reached `h` after `after` values).
        case up(after: Int)
        case down(after: Int)
    }

    /// Adds one standardized value; the alarm it raises, if any (both sides start again).
    public mutating func add(_ z: Double) -> Alarm? {
        guard z.isFinite else { return nil }
        count += 1
        high = max(0, high + z - k)
        low = max(0, low - z - k)
        guard high > h || low > h else { return nil }
        let alarm: Alarm = high > h ? .up(after: count) : .down(after: count)
        high = 0
        low = 0
        count = 0
        return alarm
    }

    /// Siegmund's approximation of a one-sided CUSUM's average run length for N(shift, 1)
    /// values: (e^(−2Δb) + 2Δb − 1) / (2Δ²) with Δ = shift − k and b = h + 1.166.
    public static func averageRunLength(shift: Double, k: Double, h: Double) -> Double {
        let delta = shift - k
        let b = h + 1.166
        if abs(delta) < 1e-9 { return b * b }
        return (exp(-2 * delta * b) + 2 * delta * b - 1) / (2 * delta * delta)
    }

    /// The smallest h whose charts stay within `falseAlarmsPerDay` for a deployment of `features`
    /// features seeing `samplesPerDay` values each: every feature has two one-sided charts, so
    /// each must run `2 · features · samplesPerDay / falseAlarmsPerDay` values between false
    /// alarms, and a margin of 2 covers the approximation and the resets.
    public static func threshold(k: Double, falseAlarmsPerDay: Double, samplesPerDay: Double, features: Int) -> Double {
        let target = 2 * 2 * Double(max(features, 1)) * samplesPerDay / max(falseAlarmsPerDay, 1e-9)
        var low = 0.0
        var high = 1.0
        while averageRunLength(shift: 0, k: k, h: high) < target, high < 1e6 { high *= 2 }
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if averageRunLength(shift: 0, k: k, h: mid) < target { low = mid } else { high = mid }
        }
        return high
    }
}

/// SplitMix64: a small seeded generator, the same stream on every machine (a window's reservoir
/// sampling and the simulations).
public struct SplitMix64: Sendable, Hashable, Codable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A seeded source of standard normal values for simulations and tests (SplitMix64 and
/// Box–Muller): the same seed gives the same stream on every machine.
public struct SeededNormal: Sendable {
    private var bits: SplitMix64
    private var spare: Double?

    public init(seed: UInt64) { bits = SplitMix64(seed: seed) }

    public mutating func uniform() -> Double {
        // 53 random bits in (0, 1).
        (Double(bits.next() >> 11) + 0.5) / 9_007_199_254_740_992
    }

    public mutating func next() -> Double {
        if let spare {
            self.spare = nil
            return spare
        }
        let r = (-2 * log(uniform())).squareRoot()
        let theta = 2 * Double.pi * uniform()
        spare = r * sin(theta)
        return r * cos(theta)
    }
}
