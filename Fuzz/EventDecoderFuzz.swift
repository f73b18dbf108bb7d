// libFuzzer entry point for `EventDecoder` (built by Fuzz/run.sh together with the MuleCore
// sources, so this file sees MuleCore's internals as the same module).
//
// Besides "never crash" (ASan + Swift's own checks), it asserts what a decoded event promises:
// spans lie inside the buffer, amounts are in range, payer ≠ payee, limits hold.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    let limits = DecoderLimits(maxEventBytes: 4096, maxStringBytes: 128, maxDepth: 16, maxFields: 64)
    let decoder = EventDecoder(limits: limits)
    do {
        let t = try decoder.decode(bytes)
        for span in [t.id, t.payer, t.payee, t.qr] {
            precondition(span.start >= 0 && span.count >= 0 && Int(span.start) + Int(span.count) <= bytes.count, "span outside buffer")
        }
        for span in [t.id, t.payer, t.payee] { precondition(span.count >= 1 && span.count <= 128, "id length") }
        precondition(t.qr.count <= 128, "qr length")
        precondition(t.amount.units > 0 && t.amount <= Money.maxEventAmount, "amount range")
        precondition(t.timestamp >= 0 && t.timestamp <= RFC3339.maxEpochMillis, "ts range")
        precondition(t.payer.bytes(in: bytes).elementsEqual(t.payee.bytes(in: bytes)) == false, "payer == payee")
        precondition(!t.id.bytes(in: bytes).contains(0x5C), "escape in id")
    } catch {
        // Every error must render its reason without trapping.
        precondition(!error.reason.isEmpty && !error.code.isEmpty)
        if case .oversized = error { precondition(bytes.count > limits.maxEventBytes) }
    }
    if let base = bytes.baseAddress { checkFastPaths(base, bytes.count) }
    return 0
}

/// Differential check of the decoder's fast paths: at every quote in the input, wherever a
/// fast path answers, the general path it short-cuts must read the same thing to the same place.
func checkFastPaths(_ base: UnsafeRawPointer, _ n: Int) {
    for q in 0..<n where base.load(fromByteOffset: q, as: UInt8.self) == 0x22 {
        if let (field, member) = Field.scanKnownMember(base, from: q + 1, end: n) {
            var cur = JSONCursor(base: base, count: n)
            cur.i = q
            let name = try? Field.scanNameGeneral(&cur)
            cur.skipWhitespace()
            precondition(name == field && (try? cur.expect(0x3A, "")) != nil && cur.i == member, "scanKnownMember")
        }
        var fast = JSONCursor(base: base, count: n)
        fast.i = q
        if let range = fast.shortPlainRange() {
            var slow = JSONCursor(base: base, count: n)
            slow.i = q
            let r = try? slow.scanString()
            precondition(r?.start == range.start && r?.end == range.end && r?.escaped == false && slow.i == fast.i, "shortPlainRange")
        }
        if let (money, next) = EventDecoder.shortAmount(base, from: q + 1, end: n) {
            var slow = JSONCursor(base: base, count: n)
            slow.i = q
            let r = try? slow.scanString()
            precondition(r != nil && r?.escaped == false && slow.i == next, "shortAmount cursor")
            let parsed = Money.parseDecimal(UnsafeRawBufferPointer(start: base + r!.start, count: r!.count))
            precondition(parsed == money, "shortAmount value")
        }
    }
}
