import Foundation
@testable import MuleCore
import MuleTesting
import Testing

private let minute: Int64 = 60_000
private let t0: Int64 = 1_764_000_000_000

/// SplitMix64: a fixed, seedable sequence (the tests must not depend on the system generator).
private struct Mix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

private func leg(_ ts: Int64, tag: Int) -> Leg {
    Leg(ts: ts, amount: Int64(tag), txHandle: UInt64(tag), counterparty: 1, isCredit: tag & 1 == 0,
        channel: .p2p, ownKind: .personal, counterpartyKind: .personal)
}

/// Every ring holds the model's legs, in order; chunks are disjoint powers of two; the pool's
/// live slots are the chunks handed out; the oldest-leg bound holds.
private func check(_ pool: LegPool, _ rings: [LegRing], _ model: [[(ts: Int64, tag: Int)]],
                   sourceLocation: SourceLocation = #_sourceLocation) {
    var owner = [Int](repeating: -1, count: pool.storage.count)
    var live = 0
    for (r, ring) in rings.enumerated() {
        #expect(ring.count == model[r].count, "ring \(r)", sourceLocation: sourceLocation)
        guard ring.count == model[r].count else { return }
        for (k, m) in model[r].enumerated() {
            let l = pool[ring, k]
            #expect(l.ts == m.ts && l.amount == Int64(m.tag), "ring \(r) leg \(k)", sourceLocation: sourceLocation)
        }
        if let first = model[r].first {
            #expect(ring.oldestUnit == .min || Int64(ring.oldestUnit) << 10 <= first.ts, sourceLocation: sourceLocation)
        }
        guard ring.capacityLog2 > 0 else { continue }
        #expect(ring.capacityLog2 >= 2 && ring.count <= Int(ring.capacity), sourceLocation: sourceLocation)
        live += Int(ring.capacity)
        for s in Int(ring.base)..<Int(ring.base) + Int(ring.capacity) {
            #expect(owner[s] == -1, "slot \(s) in two chunks", sourceLocation: sourceLocation)
            owner[s] = r
        }
    }
    #expect(pool.liveSlots == live, sourceLocation: sourceLocation)
    var freeSlots = 0
    for (k, list) in pool.freeChunks.enumerated() {
        for base in list {
            for s in Int(base)..<Int(base) + (1 << k) {
                #expect(owner[s] == -1, "free slot \(s) also in use", sourceLocation: sourceLocation)
                owner[s] = -2
            }
            freeSlots += 1 << k
        }
    }
    #expect(live + freeSlots == pool.storage.count, sourceLocation: sourceLocation)
}

@Suite struct LegPoolTests {
    @Test func accountStateFitsSixtyFourBytes() {
        #expect(MemoryLayout<LegRing>.size == 17)
        #expect(MemoryLayout<AccountState>.stride == 64)
    }

    /// States and legs start on a cache line, so a state is one line and a leg half of one.
    @Test func statesAndLegsStartOnACacheLine() {
        var config = DetectorConfig()
        config.allowedLatenessMillis = 0
        let rule = Rule(id: "count", version: "1", windowMillis: 10 * minute, cooldownMillis: 0, trigger: .debit,
                        conditions: .all([.metric(.distinctPayers, Bound(min: 5))]))
        var s = SceneBuilder(rules: [rule], config: config)
        for k in 0..<300 { s.pay("p\(k % 37)", "q\(k % 41)", "1", at: t0 + Int64(k) * 1000) }
        let d = s.driver.detector
        #expect(d.trackedAccounts == 78)
        let statesBase = d.states.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let legsBase = d.legs.storage.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        #expect(statesBase != 0 && statesBase % 64 == 0)
        #expect(legsBase != 0 && legsBase % 64 == 0)
        #expect(MemoryLayout<Leg>.stride == 32)
    }

    /// `LineArray` against `ContiguousArray` under seeded appends, writes, reserves and copies:
    /// same elements, copies independent (copy on write), storage always line-aligned.
    @Test func lineArrayBehavesLikeAnArrayAndStaysAligned() {
        var rng = Mix(state: 7)
        var a = LineArray<Int64>(), model = ContiguousArray<Int64>()
        var snapshots: [(LineArray<Int64>, ContiguousArray<Int64>)] = []
        for step in 0..<5_000 {
            switch rng.next() % 8 {
            case 0, 1, 2:
                let v = Int64(bitPattern: rng.next())
                a.append(v); model.append(v)
            case 3:
                let n = Int(rng.next() % 40), v = Int64(step)
                a.append(repeating: v, count: n); model.append(contentsOf: repeatElement(v, count: n))
            case 4 where !model.isEmpty:
                let i = Int(rng.next() % UInt64(model.count)), v = Int64(-step)
                a[i] = v; model[i] = v
            case 5 where !model.isEmpty:
                let i = Int(rng.next() % UInt64(model.count))
                a[i] += 3; model[i] += 3
            case 6:
                a.reserveCapacity(model.count + Int(rng.next() % 100))
                #expect(a.capacity >= model.count)
            default:
                if snapshots.count < 20 { snapshots.append((a, model)) }
            }
            #expect(a.count == model.count)
            if a.capacity > 0 { #expect(a.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } % 64 == 0) }
        }
        #expect(a.withUnsafeBufferPointer { Array($0) } == Array(model))
        #expect(a.indices.map { a[$0] } == Array(model))
        for (copy, expected) in snapshots {
            #expect(copy.withUnsafeBufferPointer { Array($0) } == Array(expected), "a copy changed when the original did")
        }
        var b = a
        b.withUnsafeMutableBufferPointer { $0[0] = 42 }
        #expect(a[0] == model[0] && b[0] == 42)
        // Past `hugeBlockBytes` the block is mapped for huge pages: the same behaviour, freed by
        // unmapping (a copy taken on the way keeps its own block).
        var big = LineArray<Int64>()
        var early = big
        for k in 0..<400_000 {
            big.append(Int64(k))
            if k == 1_000 { early = big }
        }
        #expect(big.capacity * 8 >= LineArray<Int64>.hugeBlockBytes)
        #expect(big.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } % 64 == 0)
        #expect(big.indices.allSatisfy { big[$0] == Int64($0) })
        #expect(early.count == 1_001 && early[1_000] == 1_000)
        var bigCopy = big
        bigCopy[399_999] = -1
        #expect(big[399_999] == 399_999 && bigCopy[399_999] == -1)
        let filled = LineArray(repeating: Int32(5), count: 33)
        #expect(filled.count == 33 && filled.indices.allSatisfy { filled[$0] == 5 })
        #expect(LineArray<Int32>().isEmpty && LineArray<Int32>().withUnsafeBufferPointer { $0.isEmpty })
    }

    @Test func oldestBoundIsAFloorAndSaturates() {
        for ts: Int64 in [0, 1, 1023, 1024, 1025, -1, -1024, -1025, t0, t0 + 999] {
            let u = LegRing.unit(ts)
            #expect(Int64(u) << 10 <= ts && ts < (Int64(u) + 1) << 10, "\(ts)")
        }
        #expect(LegRing.unit(.max) == .max)
        #expect(LegRing.unit(.min) == .min)
        #expect(LegRing.unit(Int64(Int32.min) << 10) == .min)  // unknown: dropBefore reads the pool
    }

    /// Random append / drop / late insert / release / compaction over many rings against a
    /// model of plain arrays, with a per-ring cap, negative and positive times.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func ringsMatchAModel(seed: UInt64) {
        var rng = Mix(state: seed)
        let n = 24
        let cap = 12
        var pool = LegPool()
        var rings = [LegRing](repeating: LegRing(), count: n)
        var model = [[(ts: Int64, tag: Int)]](repeating: [], count: n)
        var clock = (0..<n).map { $0 < 8 ? Int64(-40_000) : t0 }
        var evicted = 0
        var modelEvicted = 0
        for step in 0..<6000 {
            let r = rng.below(n)
            switch rng.below(12) {
            case 0..<6:  // in-order append
                clock[r] += Int64(rng.below(3000))
                if pool.append(leg(clock[r], tag: step), to: &rings[r], cap: cap) { evicted += 1 }
                if model[r].count == cap { model[r].removeFirst(); modelEvicted += 1 }
                model[r].append((clock[r], step))
            case 6..<9:  // drop what left a window ending around now
                let cutoff = clock[r] - Int64(rng.below(12_000))
                pool.dropBefore(cutoff, in: &rings[r])
                model[r].removeAll { $0.ts < cutoff }
                if model[r].isEmpty { #expect(rings[r].capacityLog2 == 0, "an emptied ring keeps no chunk") }
            case 9:  // late leg, inserted at its place
                let ts = clock[r] - Int64(rng.below(8000))
                if pool.insertSorted(leg(ts, tag: step), into: &rings[r], cap: cap) { evicted += 1 }
                if model[r].count == cap { model[r].removeFirst(); modelEvicted += 1 }
                let at = model[r].firstIndex { $0.ts > ts } ?? model[r].count
                model[r].insert((ts, step), at: at)
            case 10:  // the account is forgotten or went idle
                pool.release(&rings[r])
                model[r] = []
            default:
                if step % 7 == 0 {
                    var states = LineArray<AccountState>()
                    for ring in rings {
                        var s = AccountState(firstSeen: 0)
                        s.legs = ring
                        states.append(s)
                    }
                    pool = pool.compacted(&states) { _ in true }
                    rings = states.map(\.legs)
                }
            }
            if step % 50 == 0 { check(pool, rings, model) }
        }
        check(pool, rings, model)
        #expect(evicted == modelEvicted)
    }

    @Test func releasedChunksAreReused() {
        var pool = LegPool()
        var rings = [LegRing](repeating: LegRing(), count: 100)
        for round in 0..<5 {
            for r in rings.indices {
                for k in 0..<(r % 9 + 1) { _ = pool.append(leg(t0 + Int64(k), tag: k), to: &rings[r], cap: 64) }
            }
            let high = pool.storage.count
            for r in rings.indices { pool.release(&rings[r]) }
            #expect(pool.liveSlots == 0)
            if round > 0 { #expect(pool.storage.count == high, "round \(round) grew the pool") }
        }
    }

    /// Accounts remembered past their window (`accountMemoryMillis`) give back their legs and the
    /// pool shrinks; they stay tracked with their first-seen time and behave as before.
    @Test func idleAccountsGiveBackTheirLegs() {
        var config = DetectorConfig()
        config.allowedLatenessMillis = 0
        config.accountMemoryMillis = 24 * 60 * minute
        let rule = Rule(id: "pass-through", version: "1", windowMillis: 10 * minute, cooldownMillis: 0, trigger: .debit,
                        conditions: .all([.metric(.distinctPayers, Bound(min: 5)), .metric(.passThrough, Bound(min: 0.9)),
                                          .metric(.accountAge, Bound(min: Double(60 * minute)))]))
        var s = SceneBuilder(rules: [rule], config: config)
        let pairs = 10_000  // 20 000 rings of 4 slots: enough for the pool to compact
        for i in 0..<pairs { s.pay("a\(i)", "b\(i)", "1", at: t0 + Int64(i)) }
        #expect(s.driver.detector.legs.liveSlots == (2 * pairs - 2) * 4, "all but the last pair applied")
        // Event time moves past the window; each step walks at most 256 accounts.
        for k in 0..<100 { s.pay("c\(k % 2)", "d", "1", at: t0 + 20 * minute + Int64(k)) }
        let d = s.driver.detector
        #expect(d.trackedAccounts == 2 * pairs + 3)
        #expect(d.legs.liveSlots == 64 + 64 + 128, "only c0, c1 and d hold legs")
        // Compacted once most of it was free (to a quarter of its 80 000 slots), not again below 64 Ki.
        #expect(d.legs.storage.count <= 2 * pairs, "the pool was compacted")
        #expect(d.accountMemory.states / d.trackedAccounts <= 64 * 2)
        // a0 comes back: its age runs from its first transfer, its window holds only new legs.
        for i in 0..<6 { s.pay("v\(i)", "a0", "100", at: t0 + 70 * minute + Int64(i)) }
        s.pay("a0", "x", "595", at: t0 + 71 * minute)
        let alerts = s.driver.finish()
        #expect(alerts.map(\.account) == ["a0"])
        #expect(alerts.first?.window?.inCount == 6)
        #expect(alerts.first?.window?.outAmount == Money(decimal: "595"))
    }

    @Test func coolDownKeepsAnAccountAndForgettingClearsIt() {
        var config = DetectorConfig()
        config.allowedLatenessMillis = 0
        let rule = Rule(id: "pass-through", version: "1", windowMillis: 10 * minute, cooldownMillis: 120 * minute, trigger: .debit,
                        conditions: .all([.metric(.distinctPayers, Bound(min: 5)), .metric(.passThrough, Bound(min: 0.9))]))
        var s = SceneBuilder(rules: [rule], config: config)
        for i in 0..<6 { s.pay("v\(i)", "m", "100", at: t0 + Int64(i)) }
        s.pay("m", "x", "595", at: t0 + minute)
        s.pay("p", "q", "1", at: t0 + 60 * minute)  // applies m's forward (no lateness: the next event moves time)
        #expect(s.driver.takeAlerts().count == 1)
        #expect(s.driver.detector.cooldownEnds.count == 1)
        s.pay("p", "q", "1", at: t0 + 61 * minute)
        #expect(s.driver.detector.trackedAccounts == 3, "m is kept while its cool-down runs")
        #expect(s.driver.detector.legs.liveSlots == 8, "but holds no legs")
        s.pay("p", "q", "1", at: t0 + 200 * minute)
        s.pay("p", "q", "1", at: t0 + 201 * minute)
        #expect(s.driver.detector.trackedAccounts == 2)
        #expect(s.driver.detector.cooldownEnds.isEmpty)
    }

    /// A checkpoint written by main before the state shrank (`MainCheckpointFixture.swift`)
    /// restores; the restored detector, fed the rest of the stream, raises what a detector fed
    /// all of it does, and what it writes restores again.
    @Test func checkpointFromMainRestores() throws {
        var config = DetectorConfig()
        config.allowedLatenessMillis = 0
        config.accountMemoryMillis = 24 * 60 * minute
        config.transferIdLogBytes = 1 << 12
        config.maxDedupEntries = 1024
        let rule = Rule(id: "pass-through", version: "1", windowMillis: 60 * minute, cooldownMillis: 120 * minute, trigger: .debit,
                        conditions: .all([.metric(.distinctPayers, Bound(min: 5)), .metric(.passThrough, Bound(min: 0.9))]))
        typealias E = (String, Int64, String, String, String)
        var partA: [E] = []
        for i in 0..<6 { partA.append(("a-v\(i)", t0 + Int64(i) * minute, "v\(i)", "m1", "100.00")) }
        partA.append(("a-m1", t0 + 8 * minute, "m1", "x", "590.00"))
        for i in 0..<20 { partA.append(("a-q\(i)", t0 + 10 * minute + Int64(i) * 1000, "q\(i)", "r\(i)", "1.00")) }
        for i in 0..<4 { partA.append(("a-w\(i)", t0 + Int64(20 + i) * minute, "w\(i)", "m2", "100.00")) }
        var partB: [E] = [("b-w4", t0 + 35 * minute, "w4", "m2", "100.00"), ("b-w5", t0 + 36 * minute, "w5", "m2", "100.00"),
                          ("b-m2", t0 + 40 * minute, "m2", "y", "590.00")]
        for i in 6..<12 { partB.append(("b-v\(i)", t0 + Int64(44 + i) * minute, "v\(i)", "m1", "100.00")) }
        partB.append(("b-m1", t0 + 58 * minute, "m1", "x", "590.00"))  // within m1's cool-down
        for i in 0..<6 { partB.append(("b-u\(i)", t0 + 180 * minute + Int64(i) * minute, "u\(i)", "q0", "100.00")) }
        partB.append(("b-q0", t0 + 190 * minute, "q0", "z", "590.00"))  // q0: idle since part A
        func feed(_ driver: inout CoreDriver, _ events: [E]) {
            for (id, ts, payer, payee, amount) in events { driver.send(id: id, ts: ts, payer: payer, payee: payee, amount: amount) }
        }
        var whole = CoreDriver(rules: [rule], config: config)
        feed(&whole, partA)
        whole.detector.advanceWatermark(to: t0 + 30 * minute)
        let alertsA = whole.takeAlerts()
        #expect(alertsA.map(\.alertId) == ["07b878c396ed888bb2388ce2e32edf14"], "the alert main raised before its checkpoint")
        feed(&whole, partB)
        let expected = whole.finish()
        #expect(expected.map(\.account) == ["m2", "q0"])

        let old = try #require(Data(base64Encoded: mainCheckpointBase64, options: .ignoreUnknownCharacters))
        var restored = CoreDriver(rules: [rule], config: config)
        restored.detector = try Detector(rules: [rule], config: config, restoring: Array(old))
        #expect(restored.detector.cooldownEnds.count == 1, "m1's cool-down came back")
        let again = try Detector(rules: [rule], config: config, restoring: restored.detector.checkpointState())
        feed(&restored, partB)
        #expect(restored.finish().map(\.alertId) == expected.map(\.alertId))
        #expect(restored.detector.counters.alertsSuppressedCooldown == whole.detector.counters.alertsSuppressedCooldown)
        #expect(restored.detector.counters.alertsSuppressedCooldown == 1)
        var rewritten = CoreDriver(rules: [rule], config: config)
        rewritten.detector = again
        feed(&rewritten, partB)
        #expect(rewritten.finish().map(\.alertId) == expected.map(\.alertId))
    }
}
