/// Writes alerts as one-line JSON objects (CONTRACTS.md §2), without Foundation.
public enum AlertEncoder {
    /// The alert as JSON bytes (no trailing newline). `emittedAtMillis` is the wall-clock time
    /// the engine publishes it (the core has no clock, so the caller supplies it).
    public static func encode(_ a: Alert, emittedAtMillis: Int64) -> [UInt8] {
        var o = JSONWriter()
        o.raw("{")
        o.key("alert_id", first: true); o.string(a.alertId)
        o.key("account"); o.string(a.account)
        o.key("rule"); o.string(a.ruleId)
        o.key("rule_version"); o.string(a.ruleVersion)
        if let rs = a.ruleSet { o.key("rule_set"); o.string(rs) }
        o.key("severity"); o.string(a.severity.name)
        o.key("mode"); o.string(a.mode.name)
        if let action = a.action { o.key("action"); o.string(action) }
        o.key("score"); o.raw(formatRatio(a.score))
        o.key("event_ts"); o.raw(String(a.eventTs))
        o.key("emitted_at"); o.string(formatRFC3339(millis: emittedAtMillis))
        if let w = a.window {
            o.key("window"); o.raw("{")
            o.key("start", first: true); o.raw(String(w.start))
            o.key("end"); o.raw(String(w.end))
            o.key("in_count"); o.raw(String(w.inCount))
            o.key("in_amount"); o.string(w.inAmount.description)
            o.key("distinct_payers"); o.raw(String(w.distinctPayers))
            o.key("out_count"); o.raw(String(w.outCount))
            o.key("out_amount"); o.string(w.outAmount.description)
            o.key("distinct_payees"); o.raw(String(w.distinctPayees))
            o.key("pass_through"); o.raw(formatRatio(w.passThrough))
            if let d = w.medianDwellSeconds { o.key("median_dwell_s"); o.raw(String(d)) }
            o.raw("}")
        }
        o.key("evidence"); o.raw("[")
        for (i, e) in a.evidence.enumerated() {
            if i > 0 { o.raw(",") }
            o.string(e)
        }
        o.raw("]")
        o.key("evidence_count"); o.raw(String(a.evidenceCount))
        if let chain = a.chain {
            o.key("chain"); o.raw("[")
            for (i, e) in chain.enumerated() {
                if i > 0 { o.raw(",") }
                o.string(e)
            }
            o.raw("]")
        }
        if let hops = a.hops {
            o.key("hops"); o.raw("[")
            for (i, h) in hops.enumerated() {
                if i > 0 { o.raw(",") }
                o.raw("{")
                o.key("from", first: true); o.string(h.from)
                o.key("to"); o.string(h.to)
                o.key("amount"); o.string(h.amount.description)
                o.key("delay_s"); o.raw(String(h.delaySeconds))
                o.key("retained"); o.raw(formatRatio(h.retained))
                o.raw("}")
            }
            o.raw("]")
        }
        if let gang = a.gang {
            o.key("gang"); o.string(gang)
            if let n = a.gangSize { o.key("gang_size"); o.raw(String(n)) }
        }
        o.raw("}")
        return o.bytes
    }

    /// A ratio with at most three decimals and no trailing zeros: 0.93, 0.984, 1.
    public static func formatRatio(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        let thousandths = Int64((v * 1000).rounded())
        let neg = thousandths < 0
        let m = thousandths.magnitude
        var frac = Int(m % 1000)
        var text = (neg ? "-" : "") + String(m / 1000)
        if frac == 0 { return text }
        var digits = 3
        while frac % 10 == 0 {
            frac /= 10
            digits -= 1
        }
        var f = String(frac)
        while f.count < digits { f = "0" + f }
        text += "." + f
        return text
    }
}

/// Epoch milliseconds as RFC 3339 UTC with milliseconds: `2026-11-24T10:07:01.120Z`.
public func formatRFC3339(millis: Int64) -> String {
    let ms = ((millis % 1000) + 1000) % 1000
    let secs = (millis - ms) / 1000
    let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
    let sod = secs - days * 86_400
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    var y = yoe + era * 400
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    if m <= 2 { y += 1 }
    func pad(_ v: Int64, _ n: Int) -> String {
        var s = String(v)
        while s.count < n { s = "0" + s }
        return s
    }
    return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2)).\(pad(ms, 3))Z"
}

/// Minimal JSON text builder for alert output (and, within the package, JSON log lines and the
/// double-quoted YAML scalars of `--print-config`).
package struct JSONWriter {
    package var bytes: [UInt8] = []

    package init() { bytes.reserveCapacity(512) }

    package mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    package mutating func key(_ k: String, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        string(k)
        bytes.append(UInt8(ascii: ":"))
    }

    package mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 0x0A: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
