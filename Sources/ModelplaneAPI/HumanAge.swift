public import Foundation

/// kubectl's human-readable durations (`5s`, `3m20s`, `2h`, `4d5h`, `2y30d`), for AGE columns.
public enum HumanAge {
    /// The age of an RFC 3339 timestamp at `now`, or nil if it does not parse.
    public static func since(_ timestamp: String, now: Date) -> String? {
        guard let then = try? Date(timestamp, strategy: .iso8601) else { return nil }
        let seconds = max(0, Int(now.timeIntervalSince(then)))
        let minutes = seconds / 60
        let hours = minutes / 60
        let days = hours / 24
        let years = days / 365
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<600: return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s"
        case ..<(3 * 3600): return "\(minutes)m"
        case ..<(8 * 3600): return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m"
        case ..<(48 * 3600): return "\(hours)h"
        case ..<(8 * 86_400): return hours % 24 == 0 ? "\(days)d" : "\(days)d\(hours % 24)h"
        case ..<(2 * 365 * 86_400): return "\(days)d"
        case ..<(8 * 365 * 86_400): return days % 365 == 0 ? "\(years)y" : "\(years)y\(days % 365)d"
        default: return "\(years)y"
        }
    }
}
