public import Foundation

/// Kubernetes' time formats, in UTC. Written digit by digit: every write the API server stores
/// and every event the controller records carries a timestamp, and Foundation's ISO 8601 format
/// style with `String(format:)` cost a few microseconds each.
public enum Timestamps {
    /// `2006-01-02T15:04:05.000000Z` (Kubernetes MicroTime).
    public static func rfc3339Micro(_ date: Date) -> String {
        let seconds = floor(date.timeIntervalSince1970)
        let micros = min(999_999, max(0, Int((date.timeIntervalSince1970 - seconds) * 1_000_000)))
        return format(Int64(seconds), micros: micros)
    }

    /// `2006-01-02T15:04:05Z`.
    public static func rfc3339(_ date: Date) -> String {
        format(Int64(floor(date.timeIntervalSince1970)), micros: nil)
    }

    /// Seconds since 1970 (UTC) as RFC 3339, with six fractional digits when `micros` is given.
    static func format(_ epochSeconds: Int64, micros: Int?) -> String {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        let secondOfDay = Int(epochSeconds - days * 86_400)
        let (year, month, day) = civil(fromDays: days)
        var out: [UInt8] = []
        out.reserveCapacity(27)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var value = value
            for _ in 0..<count {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                value %= divisor
                divisor /= 10
            }
        }
        if year < 0 || year > 9999 {
            // Outside what four digits hold (never a real object's time): still unambiguous.
            out += String(year).utf8
        } else {
            digits(Int(year), 4)
        }
        out.append(UInt8(ascii: "-"))
        digits(month, 2)
        out.append(UInt8(ascii: "-"))
        digits(day, 2)
        out.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2)
        out.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        out.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        if let micros {
            out.append(UInt8(ascii: "."))
            digits(micros, 6)
        }
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
