import Foundation
import ModelplaneAPI
import Testing

@Suite struct TimestampsTests {
    static let foundation = Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: TimeZone(identifier: "UTC")!)

    /// The hand-written formatter agrees with Foundation's ISO 8601 style on every kind of date:
    /// before 1970, leap days, century years, the ends of months and years, and random ones.
    /// (From 1583 on: before the Gregorian reform Foundation writes Julian dates, while RFC 3339,
    /// Go and so Kubernetes use the Gregorian calendar throughout, as we do.)
    @Test func writesWhatFoundationWrites() {
        var seconds: [Int64] = [
            0, -1, 59, 86_399, 86_400, -86_400, -86_401, 951_782_400, 951_868_800, 4_107_542_400, 4_107_628_800, 1_709_164_800,
            253_402_300_799, -12_212_553_600, 1_798_761_599,
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 { seconds.append(Int64.random(in: -12_212_553_600...253_402_300_799, using: &generator)) }
        for second in seconds {
            let date = Date(timeIntervalSince1970: TimeInterval(second))
            #expect(Timestamps.rfc3339(date) == date.formatted(Self.foundation), "\(second)")
        }
    }

    @Test func microsecondsAreSixDigits() {
        let date = Date(timeIntervalSince1970: 1_764_288_000.012_5)
        #expect(Timestamps.rfc3339Micro(date) == "2025-11-28T00:00:00.012500Z")
        #expect(Timestamps.rfc3339Micro(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500000Z")
        #expect(Timestamps.rfc3339Micro(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
        // Proleptic Gregorian, like Go: year 1 began on a Monday, 719,162 days before 1970.
        #expect(Timestamps.rfc3339(Date(timeIntervalSince1970: -62_135_596_800)) == "0001-01-01T00:00:00Z")
    }
}
