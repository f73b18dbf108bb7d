import MuleCore

extension World {
    /// The NDJSON line for one transfer (CONTRACTS.md §1). Which legal variations a line uses —
    /// RFC 3339 `ts` (~3%), numeric `amount` (~10%), an unknown extra field (~1%) — follows
    /// from a hash of (seed, id), so it never depends on emission order.
    func encode(_ pending: PendingTransfer) -> [UInt8] {
        let t = pending.transfer
        let h = SplitMix64.mix(seed ^ 0xE4C0_DE00 ^ (pending.seq &* 0x9E37_79B9_7F4A_7C15))
        let tsForm = h % 1000
        let amountAsNumber = (h >> 10) % 100 < 10
        let extra = (h >> 20) % 1000 < 10 ? Int((h >> 30) % 3) : -1
        let extraEarly = (h >> 34) & 1 == 0

        var out: [UInt8] = []
        out.reserveCapacity(240)
        out.append(contentsOf: #"{"id":"tx-"#.utf8)
        appendPadded(Int64(pending.seq), width: 9, to: &out)
        out.append(contentsOf: #"","ts":"#.utf8)
        if tsForm < 30 {
            out.append(UInt8(ascii: "\""))
            LocalClock.appendRFC3339(t.ts, chinaOffset: tsForm < 10, to: &out)
            out.append(UInt8(ascii: "\""))
        } else {
            appendPadded(t.ts, width: 1, to: &out)
        }
        if extra >= 0 && extraEarly { appendExtra(extra, h, to: &out) }
        out.append(contentsOf: #","payer":""#.utf8)
        population.appendID(t.payer, to: &out)
        out.append(contentsOf: #"","payee":""#.utf8)
        population.appendID(t.payee, to: &out)
        out.append(contentsOf: #"","amount":"#.utf8)
        let amount = Money(units: t.amount).description
        if amountAsNumber {
            out.append(contentsOf: amount.utf8)
        } else {
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: amount.utf8)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: #","currency":"CNY","channel":""#.utf8)
        out.append(contentsOf: t.channel.name.utf8)
        out.append(UInt8(ascii: "\""))
        if t.qr > 0 {
            out.append(contentsOf: #","qr":"QR-"#.utf8)
            population.appendDigits(t.payee, to: &out)
            out.append(UInt8(ascii: "-"))
            appendPadded(Int64(t.qr), width: 1, to: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: #","payer_kind":""#.utf8)
        out.append(contentsOf: (population.isMerchant(t.payer) ? "merchant" : "personal").utf8)
        out.append(contentsOf: #"","payee_kind":""#.utf8)
        out.append(contentsOf: (population.isMerchant(t.payee) ? "merchant" : "personal").utf8)
        out.append(UInt8(ascii: "\""))
        if extra >= 0 && !extraEarly { appendExtra(extra, h, to: &out) }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Fields a real processor might add that the contract says to ignore.
    private func appendExtra(_ kind: Int, _ h: UInt64, to out: inout [UInt8]) {
        switch kind {
        case 0:
            out.append(contentsOf: #","device":"dv-"#.utf8)
            appendPadded(Int64(h >> 40 & 0xFFFFF), width: 6, to: &out)
            out.append(UInt8(ascii: "\""))
        case 1:
            out.append(contentsOf: #","meta":{"app":"8.0.49","os":"android","risk":[0,1]}"#.utf8)
        default:
            out.append(contentsOf: #","note":"午饭 AA \"ok\"""#.utf8)
        }
    }
}
