/// Event-time arithmetic for the decoder: RFC 3339 timestamps to UTC epoch milliseconds with
/// integer arithmetic only (no calendar library, no clock).
///
/// Accepted: `YYYY-MM-DD` + `T`/`t`/space + `hh:mm:ss` + optional `.` and 1–9 fraction digits
/// (truncated to milliseconds) + `Z`/`z` or `±hh:mm` (`-00:00`, "offset unknown", is read as UTC).
/// Month lengths and leap years are checked; results must fall in 1970…9999 UTC.
/// Leap seconds: `:60` is accepted only where a leap second can occur — the last minute of the
/// UTC day (`23:59:60Z`, `07:59:60+08:00`) — and is read as `:59.999` of that minute, so event
/// order is kept and no instant of the next day is claimed. Anywhere else `:60` is rejected.
enum RFC3339 {
    /// 9999-12-31T23:59:59.999Z; later timestamps are rejected as absurd.
    static let maxEpochMillis: Int64 = 253_402_300_799_999

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    @inline(__always)
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    @inline(__always)
    static func isLeapYear(_ y: Int64) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    @inline(__always)
    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Parses the raw string bytes `start..<end` of `base` (no quotes) to epoch milliseconds.
    static func epochMillis(_ base: UnsafeRawPointer, _ start: Int, _ end: Int) throws(DecodeError) -> Int64 {
        let notRFC3339: DecodeError = .invalidValue(field: "ts", detail: "must be an RFC 3339 timestamp with offset, e.g. 2025-11-24T10:07:01.120Z")
        let len = end - start
        guard len >= 20 else { throw notRFC3339 }  // shortest: YYYY-MM-DDThh:mm:ssZ
        @inline(__always) func byte(_ k: Int) -> UInt8 { base.load(fromByteOffset: start + k, as: UInt8.self) }
        // A run of decimal digits at k..<k+count, or -1.
        @inline(__always) func digits(_ k: Int, _ count: Int) -> Int64 {
            var v: Int64 = 0
            for j in k..<(k + count) {
                let d = byte(j) &- 0x30
                if d > 9 { return -1 }
                v = v * 10 + Int64(d)
            }
            return v
        }
        let year = digits(0, 4), month = digits(5, 2), day = digits(8, 2)
        let hour = digits(11, 2), minute = digits(14, 2)
        var second = digits(17, 2)
        let sep = byte(10)
        guard year >= 0, month >= 0, day >= 0, hour >= 0, minute >= 0, second >= 0,
              byte(4) == 0x2D, byte(7) == 0x2D, byte(13) == 0x3A, byte(16) == 0x3A,
              sep == 0x54 || sep == 0x74 || sep == 0x20
        else { throw notRFC3339 }

        var k = 19
        var millis: Int64 = 0
        if byte(k) == 0x2E {  // "."
            k += 1
            var count = 0
            while k < len, byte(k) &- 0x30 <= 9 {
                if count < 3 { millis = millis * 10 + Int64(byte(k) - 0x30) }
                count += 1
                k += 1
            }
            guard count >= 1, count <= 9 else { throw notRFC3339 }
            while count < 3 {
                millis *= 10
                count += 1
            }
        }
        guard k < len else { throw notRFC3339 }
        var offsetMinutes: Int64 = 0
        switch byte(k) {
        case 0x5A, 0x7A:  // Z z
            k += 1
        case 0x2B, 0x2D:  // + -
            guard len - k >= 6, byte(k + 3) == 0x3A else { throw notRFC3339 }
            let oh = digits(k + 1, 2), om = digits(k + 4, 2)
            guard oh >= 0, om >= 0 else { throw notRFC3339 }
            guard oh <= 23, om <= 59 else { throw .invalidValue(field: "ts", detail: "has an invalid UTC offset") }
            offsetMinutes = (oh * 60 + om) * (byte(k) == 0x2D ? -1 : 1)
            k += 6
        default:
            throw notRFC3339
        }
        guard k == len else { throw notRFC3339 }

        guard month >= 1, month <= 12, day >= 1, day <= daysInMonth(year: year, month: month) else {
            throw .invalidValue(field: "ts", detail: "has an invalid calendar date")
        }
        guard hour <= 23, minute <= 59, second <= 60 else {
            throw .invalidValue(field: "ts", detail: "has an invalid time of day")
        }
        if second == 60 {
            let utcMinuteOfDay = ((hour * 60 + minute - offsetMinutes) % 1440 + 1440) % 1440
            guard utcMinuteOfDay == 1439 else {
                throw .invalidValue(field: "ts", detail: "has a leap second outside the last minute of a UTC day")
            }
            second = 59
            millis = 999
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let utcSeconds = ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60 + second
        let result = utcSeconds * 1000 + millis
        guard result >= 0 else { throw .invalidValue(field: "ts", detail: "is before 1970") }
        guard result <= maxEpochMillis else { throw .invalidValue(field: "ts", detail: "is after year 9999") }
        return result
    }
}

/// Epoch milliseconds of an RFC 3339 date-time (`2026-12-01T00:00:00Z`, `…+08:00`) or of a
/// plain date (`2026-12-01`, read as midnight UTC); nil for anything else. For configuration
/// (snoozes, flags), not for the hot path.
public func parseTimestamp(_ text: String) -> Int64? {
    var t = text
    if t.utf8.count == 10 { t += "T00:00:00Z" }
    return t.withUTF8 { buf -> Int64? in
        guard let base = buf.baseAddress, buf.count > 0 else { return nil }
        return try? RFC3339.epochMillis(UnsafeRawPointer(base), 0, buf.count)
    }
}
