/// Calendar arithmetic in China Standard Time (UTC+8, no DST), the time zone whose days and
/// nights shape the simulated traffic. Integer-only so it is exact everywhere.
enum LocalClock {
    static let hour: Int64 = 3_600_000
    static let minute: Int64 = 60_000
    static let second: Int64 = 1000
    static let day: Int64 = 24 * hour
    static let offset: Int64 = 8 * hour

    /// Hour of day (0–23) in UTC+8.
    @inline(__always)
    static func hourOfDay(_ ms: Int64) -> Int {
        Int(floorMod(ms + offset, day) / hour)
    }

    /// Index of the local (UTC+8) day since 1970-01-01.
    static func localDay(_ ms: Int64) -> Int64 { floorDiv(ms + offset, day) }

    /// Epoch ms of local midnight starting local day `d`.
    static func startOfLocalDay(_ d: Int64) -> Int64 { d * day - offset }

    /// Day of month (1–31) of local day `d`.
    static func dayOfMonth(_ d: Int64) -> Int { Int(civil(fromDays: d).day) }

    @inline(__always)
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    @inline(__always)
    static func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }

    /// Proleptic Gregorian date from days since 1970-01-01 (Howard Hinnant's algorithm).
    static func civil(fromDays z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Appends an RFC 3339 timestamp with milliseconds: `2025-11-24T10:07:01.120Z`, or with
    /// `+08:00` and local wall time when `chinaOffset` is set.
    static func appendRFC3339(_ ms: Int64, chinaOffset: Bool, to out: inout [UInt8]) {
        let wall = chinaOffset ? ms + offset : ms
        let days = floorDiv(wall, day)
        let rest = wall - days * day
        let date = civil(fromDays: days)
        appendPadded(date.year, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(date.month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(date.day, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendPadded(rest / hour, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(rest % hour / minute, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(rest % minute / second, width: 2, to: &out)
        out.append(UInt8(ascii: "."))
        appendPadded(rest % second, width: 3, to: &out)
        if chinaOffset {
            out.append(contentsOf: "+08:00".utf8)
        } else {
            out.append(UInt8(ascii: "Z"))
        }
    }
}

/// Decimal digits of a non-negative integer, left-padded with zeros to `width`.
func appendPadded(_ value: Int64, width: Int, to out: inout [UInt8]) {
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var n = value.magnitude
    var count = 0
    withUnsafeMutableBytes(of: &digits) { buf in
        repeat {
            buf[19 - count] = UInt8(48 + n % 10)
            n /= 10
            count += 1
        } while n > 0
        while count < width && count < 20 {
            buf[19 - count] = 48
            count += 1
        }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        out.append(contentsOf: buf[(20 - count)...])
    }
}
