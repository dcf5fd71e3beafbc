public import Foundation

/// Kubernetes' time formats, in UTC.
public enum Timestamps {
    /// `2006-01-02T15:04:05.000000Z` (Kubernetes MicroTime).
    public static func rfc3339Micro(_ date: Date) -> String {
        let seconds = floor(date.timeIntervalSince1970)
        let micros = Int((date.timeIntervalSince1970 - seconds) * 1_000_000)
        return rfc3339(Date(timeIntervalSince1970: seconds)).dropLast() + String(format: ".%06dZ", micros)
    }

    /// `2006-01-02T15:04:05Z`.
    public static func rfc3339(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: TimeZone(identifier: "UTC")!))
    }
}
