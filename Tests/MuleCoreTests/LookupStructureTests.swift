@testable import MuleCore
import MuleTesting
import Testing

/// The core's lookup structures (account interning, dedup index, transfer-id ring, reorder
/// buffer) checked against plain models under seeded random operation sequences.
@Suite struct LookupStructureTests {
    private func name(_ k: Int) -> [UInt8] {
        // Lengths 0…40 so both the word loop and the tail of the hash and compare are exercised.
        Array("acct-\(k)-".utf8) + [UInt8](repeating: UInt8(k % 251), count: k % 33)
    }

    private func intern(_ t: inout AccountTable, _ bytes: [UInt8]) -> (id: Int32, isNew: Bool) {
        bytes.withUnsafeBytes { t.intern($0) }
    }

    private func lookup(_ t: AccountTable, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBytes { t.lookup($0) }
    }

    /// Every live name maps to its own id, every id to its name, and removed names are unknown.
    private func expectAgrees(_ t: AccountTable, _ model: [[UInt8]: Int32], _ removed: Set<[UInt8]>) {
        #expect(t.count == model.count)
        for (bytes, id) in model {
            #expect(lookup(t, bytes) == id)
            #expect(t.contains(id))
            #expect(t.withName(id) { Array($0) } == bytes)
        }
        for bytes in removed where model[bytes] == nil { #expect(lookup(t, bytes) == nil) }
    }

    @Test func accountTableAgreesWithADictionaryUnderRandomInternAndRemove() {
        for seed: UInt64 in 1...12 {
            var rng = SeededRandom(state: seed)
            var t = AccountTable(initialCapacity: 16)
            var model: [[UInt8]: Int32] = [:]
            var removed = Set<[UInt8]>()
            for _ in 0..<6_000 {
                let bytes = name(Int.random(in: 0..<1_500, using: &rng))
                if Int.random(in: 0..<3, using: &rng) == 0, let id = model[bytes] {
                    t.remove(id)
                    model[bytes] = nil
                    removed.insert(bytes)
                    continue
                }
                let (id, isNew) = intern(&t, bytes)
                #expect(isNew == (model[bytes] == nil), "seed \(seed)")
                if let known = model[bytes] { #expect(id == known, "seed \(seed)") }
                // A new name never gets an id a live name holds.
                if isNew { #expect(!model.values.contains(id), "seed \(seed)") }
                model[bytes] = id
            }
            expectAgrees(t, model, removed)
        }
    }

    /// Past 2^16 and 2^17 ids the slots give the tag a bit less room each time (`widenIds`);
    /// lookups, removal (backward shift) and growth must be unaffected.
    @Test func accountTableKeepsEveryNameAcrossIdWidening() {
        var t = AccountTable()
        var model: [[UInt8]: Int32] = [:]
        for k in 0..<140_000 {
            let bytes = Array("w\(k)".utf8)
            let (id, isNew) = intern(&t, bytes)
            #expect(isNew && Int(id) == k)
            model[bytes] = id
        }
        #expect(t.idBits == 18)
        var removed = Set<[UInt8]>()
        for k in stride(from: 0, to: 140_000, by: 3) {
            let bytes = Array("w\(k)".utf8)
            t.remove(model[bytes]!)
            model[bytes] = nil
            removed.insert(bytes)
        }
        expectAgrees(t, model, removed)
        // Freed ids are handed out again, below the widened id range.
        let (again, isNew) = intern(&t, Array("fresh".utf8))
        #expect(isNew && again % 3 == 0 && again < 140_000)
    }

    /// Names removed and new ones interned until the arena is compacted (more than half of it
    /// garbage) several times: every live name still reads back, every removed one is unknown.
    @Test func accountTableKeepsNamesAcrossArenaCompaction() {
        var t = AccountTable(initialCapacity: 16)
        var model: [[UInt8]: Int32] = [:]
        var removed = Set<[UInt8]>()
        for round in 0..<6 {
            for k in 0..<2_000 {
                let bytes = name(round * 10_000 + k)
                model[bytes] = intern(&t, bytes).id
            }
            for k in 0..<2_000 where k % 10 != 0 {
                let bytes = name(round * 10_000 + k)
                t.remove(model[bytes]!)
                model[bytes] = nil
                removed.insert(bytes)
            }
            #expect(t.garbageBytes * 2 <= t.arenaUsed || t.garbageBytes <= 4096)
        }
        expectAgrees(t, model, removed)
        #expect(t.arenaUsed - t.garbageBytes == model.keys.reduce(0) { $0 + $1.count })
    }

    @Test func accountTableCheckpointRestoresIdsNamesAndFreeIds() throws {
        var rng = SeededRandom(state: 7)
        var t = AccountTable()
        var model: [[UInt8]: Int32] = [:]
        for k in 0..<70_000 { model[name(k)] = intern(&t, name(k)).id }
        for _ in 0..<20_000 {
            let k = Int.random(in: 0..<70_000, using: &rng)
            if let id = model[name(k)] { t.remove(id); model[name(k)] = nil }
        }
        var w = CheckpointWriter()
        t.writeCheckpoint(to: &w)
        var r = CheckpointReader(w.bytes)
        var restored = try AccountTable.readCheckpoint(from: &r)
        #expect(restored.idCapacity == t.idCapacity)
        expectAgrees(restored, model, [])
        // Both hand out the same freed id next.
        #expect(intern(&restored, Array("new".utf8)).id == intern(&t, Array("new".utf8)).id)
    }

    @Test func accountTableCheckpointWithARepeatedNameIsRejected() {
        var w = CheckpointWriter()
        w.tag("ACCT")
        w.count(2)
        for _ in 0..<2 { w.i32(3); w.raw(Array("abc".utf8)) }
        w.count(0)
        var r = CheckpointReader(w.bytes)
        #expect(throws: CheckpointError.self) { _ = try AccountTable.readCheckpoint(from: &r) }
    }

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

    /// `HopStore.hop(_:)` answers exactly for the sequence numbers still remembered: not for
    /// expired ones (before and after the store drops its expired front), not past the newest,
    /// not for `Hop.none`; and `hop(forTransfer:)` finds the hops the transfers made.
    @Test func hopStoreAnswersExactlyTheRememberedHops() {
        var rng = SeededRandom(state: 11)
        var store = HopStore()
        var added: [Hop] = []
        var cutoff: Int64 = 0
        for step in 0..<6_000 {
            let h = Hop(from: Int32(step % 97), to: Int32(step % 89), ts: Int64(step) * 10, amount: 1, delayMillis: 0,
                        retained: 0, depth: 1, muleStyle: step % 3 == 0, parent: Hop.none, txHandle: UInt64(step))
            #expect(store.add(h) == UInt64(added.count))
            added.append(h)
            if Int.random(in: 0..<50, using: &rng) == 0 {
                cutoff = max(cutoff, Int64(step) * 10 - Int64.random(in: 0...8_000, using: &rng))
                store.expire(before: cutoff)
            }
            if step % 500 == 499 || step == 5_999 {
                for seq in 0..<(added.count + 3) {
                    let kept = seq < added.count && added[seq].ts >= cutoff
                    #expect(store.hop(UInt64(seq)) == (kept ? added[seq] : nil), "seq \(seq) at step \(step)")
                    if seq < added.count {
                        #expect(store.hop(forTransfer: UInt64(seq))?.hop == (kept ? added[seq] : nil))
                    }
                }
                #expect(store.hop(Hop.none) == nil)
            }
        }
        #expect(store.base > 0, "the expired front was dropped at least once")
    }

    @Test func intMapAgreesWithADictionaryUnderRandomSetAndRemove() {
        for seed: UInt64 in 1...8 {
            var rng = SeededRandom(state: seed)
            var m = IntMap<Int32, (from: Int32, ts: Int64)>(filler: (-1, 0))
            var model: [Int32: Int64] = [:]
            // Few distinct keys for many operations: long probe chains, many backward shifts.
            let keys = Int32(seed % 2 == 0 ? 300 : 40_000)
            for step in 0..<20_000 {
                let k = Int32.random(in: 0..<keys, using: &rng)
                if Bool.random(using: &rng) {
                    m[k] = (k &+ 1, Int64(step))
                    model[k] = Int64(step)
                } else {
                    m.removeValue(forKey: k)
                    model[k] = nil
                }
                #expect(m[k]?.ts == model[k], "seed \(seed)")
            }
            #expect(m.count == model.count)
            var seen: [Int32: Int64] = [:]
            for (k, v) in m {
                #expect(v.from == k &+ 1)
                seen[k] = v.ts
            }
            #expect(seen == model, "seed \(seed)")
        }
    }
}
