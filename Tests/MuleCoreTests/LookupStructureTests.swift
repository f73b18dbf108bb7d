@testable import MuleCore
import MuleTesting
import Testing

/// The core's lookup structures (account interning, dedup index, transfer-id ring, reorder
/// buffer) checked against plain models under seeded random operation sequences.
@Suite struct LookupStructureTests {
    @Test func dedupIndexAgreesWithAModelUnderRandomInsertAndExpiry() {
        for seed: UInt64 in 1...12 {
            var rng = SeededRandom(state: seed)
            let cap = seed % 2 == 0 ? 300 : 100_000
            var d = DedupIndex(maxEntries: cap, initialCapacity: 16)
            var fifo: [(ts: Int64, hash: UInt64)] = []  // the model: arrival order
            var head = 0
            var forced: UInt64 = 0
            var now: Int64 = 0
            for _ in 0..<8_000 {
                now += Int64.random(in: 0..<5, using: &rng)
                if Int.random(in: 0..<50, using: &rng) == 0 {
                    let cutoff = now - Int64.random(in: 0..<200, using: &rng)
                    d.expire(before: cutoff)
                    while head < fifo.count && fifo[head].ts < cutoff { head += 1 }
                    continue
                }
                // Hash 0 is stored as 1: both name the same id here.
                var h = UInt64.random(in: 0..<2_000, using: &rng)
                if h == 1 { h = 0 }
                let ts = now - Int64.random(in: 0..<20, using: &rng)
                let present = fifo[head...].contains { $0.hash == h }
                if !present && fifo.count - head >= cap { head += 1; forced += 1 }
                #expect(d.insert(h, at: ts) == !present, "seed \(seed)")
                if !present { fifo.append((ts, h)) }
                #expect(d.count == fifo.count - head, "seed \(seed)")
            }
            #expect(d.forcedExpiries == forced)
            var order: [UInt64] = []
            d.forEachEntry { order.append($0.hash == 1 ? 0 : $0.hash) }
            #expect(order == fifo[head...].map(\.hash), "seed \(seed)")
        }
    }

    @Test func transferIdLogReturnsEveryIdUntilTheRingOverwritesIt() {
        var rng = SeededRandom(state: 3)
        var log = TransferIdLog(capacityBytes: 1024)
        var appended: [(handle: UInt64, id: String)] = []
        var written: UInt64 = 0
        for k in 0..<3_000 {
            let n = Int.random(in: 0..<90, using: &rng)
            let id = String((0..<n).map { i in Character(UnicodeScalar(UInt8(97 + (k + i) % 26))) })
            var s = id
            let handle = s.withUTF8 { log.append(UnsafeRawBufferPointer($0)) }
            #expect(handle == written)
            written += UInt64(n + 1)
            appended.append((handle, id))
            if k % 97 == 0 {
                for (h, expected) in appended {
                    #expect(log.name(h) == (written - h <= 1024 ? expected : nil))
                }
            }
        }
    }

    @Test func reorderBufferReleasesInTimeThenIdHashOrder() {
        var rng = SeededRandom(state: 11)
        var b = ReorderBuffer()
        var model: [(ts: Int64, idHash: UInt64)] = []
        func pending(_ ts: Int64, _ h: UInt64) -> PendingTransfer {
            PendingTransfer(ts: ts, idHash: h, amount: 1, txHandle: h, offset: 0, partition: 0, payer: 0, payee: 1,
                            channel: .p2p, payerKind: .personal, payeeKind: .personal)
        }
        for _ in 0..<4_000 {
            if Int.random(in: 0..<3, using: &rng) > 0 || model.isEmpty {
                let p = pending(Int64.random(in: 0..<500, using: &rng), UInt64.random(in: 0..<50, using: &rng))
                b.push(p)
                model.append((p.ts, p.idHash))
            } else {
                let i = model.indices.min { (model[$0].ts, model[$0].idHash) < (model[$1].ts, model[$1].idHash) }!
                let expected = model.remove(at: i)
                #expect(b.minTimestamp == expected.ts)
                let p = b.popMin()
                #expect(p.ts == expected.ts && p.idHash == expected.idHash && p.txHandle == expected.idHash)
            }
            #expect(b.count == model.count)
        }
    }
}
