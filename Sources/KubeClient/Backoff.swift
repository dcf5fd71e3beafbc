/// Exponential backoff with jitter, as client-go's reflector uses (800 ms doubling to 30 s, with
/// up to 100% jitter), so many clients recovering at once do not retry in step.
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    public var factor: Double
    /// Each delay grows by a random fraction of itself up to this (1.0 = up to double).
    public var jitter: Double
    private var current: Duration?

    public init(initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30), factor: Double = 2, jitter: Double = 1) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
    }

    /// The next delay; grows until `reset()`.
    public mutating func next(using random: inout some RandomNumberGenerator) -> Duration {
        let base = current.map { min($0 * factor, maximum) } ?? initial
        current = base
        let spread = jitter > 0 ? Double.random(in: 0...jitter, using: &random) : 0
        return min(base + base * spread, maximum * (1 + jitter))
    }

    public mutating func next() -> Duration {
        var random = SystemRandomNumberGenerator()
        return next(using: &random)
    }

    public mutating func reset() { current = nil }
}
