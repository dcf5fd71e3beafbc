/// The inference router's running figures of one revision of a deployment: requests, server
/// errors, and a latency histogram on fixed bounds, so figures from several router replicas add
/// up, and two looks at the same router subtract to the interval between them. What analysis's
/// `router` provider measures (errorRate, latency percentiles, requestRate); served by a router
/// on `/revisions` for a controller apart.
public struct RequestFigures: Codable, Sendable, Hashable {
    public var namespace: String
    public var name: String
    public var revision: String
    public var version: String
    /// RFC 3339: when these figures started (the router started, or first saw the revision).
    public var since: String
    public var requests: Int64
    /// Answered 5xx, or not answered at all.
    public var errors: Int64
    /// Requests whose latency fell at or below `bounds[i]` and above the bound before it; the
    /// last counts those above every bound.
    public var buckets: [Int64]

    public init(
        namespace: String, name: String, revision: String, version: String, since: String, requests: Int64 = 0, errors: Int64 = 0, buckets: [Int64]? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.revision = revision
        self.version = version
        self.since = since
        self.requests = requests
        self.errors = errors
        self.buckets = buckets ?? Array(repeating: 0, count: Self.bounds.count + 1)
    }

    /// Upper bounds of the latency buckets, in seconds: 100 µs to about 11 minutes (beyond any
    /// router timeout), 12 % apart, so a percentile interpolated within its bucket is within
    /// 12 % of the true one.
    public static let bounds: [Double] = (0..<140).map { 0.0001 * pow112($0) }

    private static func pow112(_ n: Int) -> Double {
        var value = 1.0
        for _ in 0..<n { value *= 1.12 }
        return value
    }

    /// The bucket a latency of `seconds` falls in.
    public static func bucket(_ seconds: Double) -> Int {
        var low = 0
        var high = bounds.count
        while low < high {
            let mid = (low + high) / 2
            if bounds[mid] < seconds { low = mid + 1 } else { high = mid }
        }
        return low
    }

    public mutating func record(seconds: Double, error: Bool) {
        requests += 1
        if error { errors += 1 }
        let index = Self.bucket(seconds)
        if buckets.count != Self.bounds.count + 1 { buckets = Array(repeating: 0, count: Self.bounds.count + 1) }
        buckets[index] += 1
    }

    /// These figures and `other`'s together (another replica's).
    public func adding(_ other: RequestFigures) -> RequestFigures {
        var sum = self
        sum.requests += other.requests
        sum.errors += other.errors
        sum.buckets = zip(Self.padded(buckets), Self.padded(other.buckets)).map { $0 + $1 }
        return sum
    }

    /// What happened since `earlier` (a look at the same figures): nil when they restarted
    /// in between (a count went down), so no difference can be trusted.
    public func since(_ earlier: RequestFigures) -> RequestFigures? {
        let mine = Self.padded(buckets)
        let theirs = Self.padded(earlier.buckets)
        guard requests >= earlier.requests, errors >= earlier.errors, zip(mine, theirs).allSatisfy({ $0 >= $1 }) else { return nil }
        var delta = self
        delta.requests -= earlier.requests
        delta.errors -= earlier.errors
        delta.buckets = zip(mine, theirs).map { $0 - $1 }
        return delta
    }

    /// The latency at quantile `q` (0 to 1), in seconds, interpolated within its bucket; nil
    /// without requests.
    public func quantile(_ q: Double) -> Double? {
        let counts = Self.padded(buckets)
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = q * Double(total)
        var seen: Int64 = 0
        for (index, count) in counts.enumerated() where count > 0 {
            if Double(seen + count) >= rank {
                let lower = index == 0 ? 0 : Self.bounds[index - 1]
                // Above every bound: the last bound is the best that can be said.
                guard index < Self.bounds.count else { return Self.bounds[Self.bounds.count - 1] }
                let upper = Self.bounds[index]
                let within = (rank - Double(seen)) / Double(count)
                return lower + (upper - lower) * Swift.max(0, Swift.min(1, within))
            }
            seen += count
        }
        return Self.bounds.last
    }

    static func padded(_ buckets: [Int64]) -> [Int64] {
        let size = bounds.count + 1
        if buckets.count == size { return buckets }
        return Array(buckets.prefix(size)) + Array(repeating: 0, count: Swift.max(0, size - buckets.count))
    }
}
