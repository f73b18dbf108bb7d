/// A fixed-point amount: `units` are 1/10 000 of a currency unit (CONTRACTS.md allows at most
/// four fraction digits), so sums and ratios are exact and need no floating point.
public struct Money: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var units: Int64

    /// Units per currency unit.
    public static let scale: Int64 = 10_000
    /// The largest amount a single event may carry (10^12 currency units). Larger values are
    /// rejected by the decoder as absurd; this also keeps sums of many legs far from overflow.
    public static let maxEventAmount = Money(units: 1_000_000_000_000 * 10_000)
    public static let zero = Money(units: 0)

    @inlinable public init(units: Int64) { self.units = units }

    @inlinable public static func < (a: Money, b: Money) -> Bool { a.units < b.units }
    @inlinable public static func + (a: Money, b: Money) -> Money { Money(units: a.units &+ b.units) }
    @inlinable public static func - (a: Money, b: Money) -> Money { Money(units: a.units &- b.units) }
    @inlinable public static func += (a: inout Money, b: Money) { a.units &+= b.units }
    @inlinable public static func -= (a: inout Money, b: Money) { a.units &-= b.units }

    /// Decimal text with at least two and at most four fraction digits: `1250.00`, `0.0125`.
    public var description: String {
        let negative = units < 0
        let magnitude = units.magnitude
        let whole = magnitude / UInt64(Money.scale)
        var frac = magnitude % UInt64(Money.scale)
        var digits = 4
        while digits > 2 && frac % 10 == 0 {
            frac /= 10
            digits -= 1
        }
        var fracText = String(frac)
        while fracText.count < digits { fracText = "0" + fracText }
        return (negative ? "-" : "") + String(whole) + "." + fracText
    }

    /// Parses a plain decimal (`"1250"`, `"1250.5"`, `"0.0125"`); nil for anything else,
    /// including more than four fraction digits, signs, exponents and overflow.
    public init?(decimal text: String) {
        var t = text
        let parsed: Money? = t.withUTF8 { Money.parseDecimal(UnsafeRawBufferPointer($0)) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Byte-level decimal parser shared by the event decoder and the rule loader.
    /// Accepts `digits[.digits]` with 1–4 fraction digits; no sign, no exponent.
    @inlinable
    public static func parseDecimal(_ bytes: UnsafeRawBufferPointer) -> Money? {
        var i = 0
        let n = bytes.count
        var whole: Int64 = 0
        var sawDigit = false
        while i < n {
            let c = bytes[i]
            guard c >= 48 && c <= 57 else { break }
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(c - 48))
            if o1 || o2 { return nil }
            whole = s
            sawDigit = true
            i += 1
        }
        guard sawDigit else { return nil }
        var frac: Int64 = 0
        var fracDigits = 0
        if i < n && bytes[i] == 46 {  // "."
            i += 1
            while i < n {
                let c = bytes[i]
                guard c >= 48 && c <= 57 else { return nil }
                fracDigits += 1
                if fracDigits > 4 { return nil }
                frac = frac * 10 + Int64(c - 48)
                i += 1
            }
            if fracDigits == 0 { return nil }
        }
        guard i == n else { return nil }
        while fracDigits < 4 {
            frac *= 10
            fracDigits += 1
        }
        let (w, o) = whole.multipliedReportingOverflow(by: scale)
        if o { return nil }
        let (total, o2) = w.addingReportingOverflow(frac)
        if o2 { return nil }
        return Money(units: total)
    }
}
