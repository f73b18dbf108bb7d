import Foundation
import MuleCore

/// Text for HTML and inline SVG: every value that came from data (account ids, rule names,
/// evidence ids) goes through `escape`, so an id like `<script>` is shown, never run.
enum Markup {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A coordinate or size with at most one decimal, no trailing `.0` (keeps SVG small and stable).
    static func n(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        let tenths = (v * 10).rounded()
        if tenths.truncatingRemainder(dividingBy: 10) == 0 { return String(Int64(tenths / 10)) }
        return String(format: "%.1f", tenths / 10)
    }

    static func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    /// `1234567.5` → `1,234,567.50`.
    static func money(_ m: Money) -> String {
        let text = m.description
        let parts = text.split(separator: ".", maxSplits: 1)
        var whole = String(parts[0])
        let negative = whole.hasPrefix("-")
        if negative { whole.removeFirst() }
        var grouped = ""
        for (i, ch) in whole.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { grouped.append(",") }
            grouped.append(ch)
        }
        return (negative ? "-" : "") + String(grouped.reversed()) + (parts.count > 1 ? "." + parts[1].prefix(2) : "")
    }

    /// `12345.67` → `12.3k`, `2500000` → `2.5M`: for edge labels where space is short.
    static func compactMoney(_ m: Money) -> String {
        let v = Double(m.units) / Double(Money.scale)
        switch abs(v) {
        case 1_000_000...: return fixed(v / 1_000_000, 1) + "M"
        case 10_000...: return fixed(v / 1000, 0) + "k"
        case 1000...: return fixed(v / 1000, 1) + "k"
        default: return fixed(v, 0)
        }
    }

    /// Milliseconds as `45s`, `12m 30s`, `3h 05m`.
    static func duration(millis: Int64) -> String {
        let s = millis / 1000
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" + (s % 60 == 0 ? "" : " \(s % 60)s") }
        let m = s / 60 % 60
        return "\(s / 3600)h " + (m < 10 ? "0" : "") + "\(m)m"
    }

    /// UTC event time as `11-24 10:07` (axis labels, where the year is in the header).
    static func shortMinute(_ millis: Int64) -> String { String(minute(millis).dropFirst(5)) }

    /// UTC event time as `2026-11-24 10:07`.
    static func minute(_ millis: Int64) -> String {
        let t = formatRFC3339(millis: millis)
        return String(t.prefix(10)) + " " + String(t.dropFirst(11).prefix(5))
    }

    /// Tick positions for an axis from 0 to `maxValue`: 1, 2 or 5 times a power of ten, at most ~`count` of them.
    /// `integers` keeps the step at least 1 (for counts).
    static func ticks(maxValue: Double, count: Int = 5, integers: Bool = false) -> [Double] {
        guard maxValue > 0 else { return [0, 1] }
        let raw = maxValue / Double(count)
        let p = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 5, 10].map { $0 * p }.first { $0 >= raw } ?? 10 * p
        if integers { step = max(step, 1) }
        var out: [Double] = []
        var v = 0.0
        while v < maxValue + step * 0.5 {
            out.append(v)
            v += step
        }
        return out
    }

    /// A number as an axis label: integers without decimals, others with up to two.
    static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        var s = fixed(v, 2)
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }
}

/// Colours shared by the charts (fixed order, so the same rule gets the same colour every run).
enum Palette {
    static let series = ["#2563eb", "#dc2626", "#059669", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]
    static let axis = "#475569"
    static let grid = "#e2e8f0"
    static let ink = "#0f172a"
    static let muted = "#64748b"
}
