@testable import MuleCore
import MuleTesting
import Testing

private let minute: Int64 = 60_000
private let t0: Int64 = 1_764_000_000_000

private func leg(_ ts: Int64, tag: Int) -> Leg {
    Leg(ts: ts, amount: Int64(tag), txHandle: UInt64(tag), counterparty: 1, isCredit: true,
        channel: .p2p, ownKind: .personal, counterpartyKind: .personal)
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

private func intern(_ t: inout AccountTable, _ s: String) -> Int32 {
    bytes(s).withUnsafeBytes { t.intern($0).id }
}

/// The free lists threaded through the leg pool and the account table, and the states written
/// through one pointer per transfer, are plain values: a copy never shares them.
@Suite struct ValueSemanticsTests {
    @Test func aCopiedLegPoolKeepsItsOwnLegsAndFreeChunks() {
        var pool = LegPool()
        var rings = [LegRing](repeating: LegRing(), count: 4)
        for r in rings.indices {
            for k in 0..<(r + 3) { _ = pool.append(leg(t0 + Int64(k), tag: 100 * r + k), to: &rings[r], cap: 64) }
        }
        pool.release(&rings[0])
        pool.release(&rings[1])
        let freeBefore = pool.freeChunks
        var copy = pool
        var copyRings = rings
        // The copy hands out the freed chunks and overwrites them; the original keeps its lists.
        for k in 0..<5 { _ = copy.append(leg(t0 + 50 + Int64(k), tag: 900 + k), to: &copyRings[0], cap: 64) }
        copy.release(&copyRings[3])
        #expect(pool.freeChunks == freeBefore)
        #expect(copy.freeChunks != freeBefore)
        for k in 0..<6 { #expect(pool[rings[3], k].amount == Int64(300 + k)) }
        // The original then does the same and gets the same chunk the copy got.
        var again = rings
        for k in 0..<5 { _ = pool.append(leg(t0 + 50 + Int64(k), tag: 900 + k), to: &again[0], cap: 64) }
        #expect(again[0].base == copyRings[0].base)
        for k in 0..<5 { #expect(copy[copyRings[0], k].amount == Int64(900 + k)) }
    }

    @Test func freedAccountIdsAreHandedOutLastFreedFirstAndCopiesKeepTheirOwn() {
        var t = AccountTable()
        let a = intern(&t, "a"), b = intern(&t, "b"), c = intern(&t, "c")
        t.remove(a)
        t.remove(c)
        #expect(t.freeIds == [a, c])
        var copy = t
        #expect(intern(&t, "x") == c)
        #expect(t.freeIds == [a])
        #expect(copy.freeIds == [a, c], "the copy's free list is its own")
        #expect(intern(&copy, "y") == c)
        #expect(intern(&copy, "z") == a)
        #expect(intern(&t, "w") == a)
        for (table, names) in [(t, ["b", "x", "w"]), (copy, ["b", "y", "z"])] {
            #expect(table.count == 3)
            for n in names { #expect(bytes(n).withUnsafeBytes { table.lookup($0) } != nil, "\(n)") }
        }
        #expect(bytes("y").withUnsafeBytes { t.lookup($0) } == nil)
        #expect(bytes("x").withUnsafeBytes { copy.lookup($0) } == nil)
        #expect(t.name(b) == "b" && copy.name(b) == "b")
    }

    /// A detector copied after accounts were forgotten (free ids and free leg chunks waiting to
    /// be reused) and then fed different transfers raises what a detector fed only its own
    /// stream raises; the original is not touched by what the copy does.
    @Test func aCopiedDetectorRaisesWhatAFreshOneFedTheSameStreamRaises() {
        var config = DetectorConfig()
        config.allowedLatenessMillis = 0
        let rule = Rule(id: "pass-through", version: "1", windowMillis: 10 * minute, cooldownMillis: 0, trigger: .debit,
                        conditions: .all([.metric(.distinctPayers, Bound(min: 5)), .metric(.passThrough, Bound(min: 0.9))]))
        func prefix(_ s: inout SceneBuilder) {
            for i in 0..<300 { s.pay("a\(i)", "b\(i % 7)", "10", at: t0 + Int64(i)) }
            // Past the window: the accounts above are forgotten as time moves.
            for k in 0..<40 { s.pay("p\(k % 3)", "q", "1", at: t0 + 30 * minute + Int64(k)) }
        }
        func mule(_ s: inout SceneBuilder, _ m: String, at t: Int64) {
            for i in 0..<6 { s.pay("\(m)-v\(i)", m, "100", at: t + Int64(i)) }
            s.pay(m, "\(m)-out", "595", at: t + minute)
            s.pay("p0", "q", "1", at: t + 5 * minute)
        }
        var original = SceneBuilder(rules: [rule], config: config)
        prefix(&original)
        #expect(original.driver.takeAlerts().isEmpty)
        var copy = original
        mule(&original, "m1", at: t0 + 40 * minute)
        mule(&copy, "m2", at: t0 + 41 * minute)
        let fromOriginal = original.driver.finish()
        let fromCopy = copy.driver.finish()
        #expect(fromOriginal.map(\.account) == ["m1"])
        #expect(fromCopy.map(\.account) == ["m2"])
        var fresh = SceneBuilder(rules: [rule], config: config)
        prefix(&fresh)
        mule(&fresh, "m2", at: t0 + 41 * minute)
        let fromFresh = fresh.driver.finish()
        #expect(fromCopy.map(\.alertId) == fromFresh.map(\.alertId))
        #expect(fromCopy.map(\.evidence) == fromFresh.map(\.evidence))
        #expect(copy.driver.detector.trackedAccounts == fresh.driver.detector.trackedAccounts)
        #expect(copy.driver.detector.legs.freeChunks == fresh.driver.detector.legs.freeChunks)
        #expect(copy.driver.detector.accounts.freeIds == fresh.driver.detector.accounts.freeIds)
    }
}
