import MuleTesting
import Testing

@testable import MuleCore

/// `reserveAccounts` / `reserveTransferIds`: the tables are sized at start, do not grow (a copy
/// of the whole table while an event waits) before the reserved count, keep their room across
/// a checkpoint and a leg-pool compaction, and change no result.
@Suite struct ReservationTests {
    static let rules = [
        Rule(id: "in", version: "1", windowMillis: 3_600_000, conditions: .metric(.inCount, Bound(min: 6))),
        Rule(id: "out", version: "1", windowMillis: 600_000, trigger: .debit, conditions: .metric(.outCount, Bound(min: 3))),
    ]

    /// 4 000 transfers among 500 accounts; the alerts raised, in order.
    static func run(_ d: inout CoreDriver) -> [String] {
        var g = StreamGenerator(seed: 7)
        var ts: Int64 = 1_764_000_000_000
        var alerts: [Alert] = []
        for i in 0..<4_000 {
            ts += g.pick([0, 1, 500, 20_000] as [Int64])
            d.send(id: "tx-\(i)", ts: ts, payer: "a\(g.int(0...499))", payee: "a\(g.int(0...499))", amount: "\(g.int(1...900)).00")
            alerts += d.takeAlerts()
        }
        alerts += d.finish()
        return alerts.map { "\($0.account) \($0.ruleId) \($0.eventTs)" }
    }

    struct Room: Equatable {
        var accountSlots: Int
        var stateCapacity: Int
        var legCapacity: Int
        var dedupSlots: Int
        var dedupFifo: Int

        init(_ d: Detector) {
            accountSlots = d.accounts.slots.count
            stateCapacity = d.states.capacity
            legCapacity = d.legs.storage.capacity
            dedupSlots = d.dedup.slots.count
            dedupFifo = d.dedup.fifo.count
        }
    }

    static var reserved: DetectorConfig {
        var c = DetectorConfig()
        c.allowedLatenessMillis = 0
        c.reserveAccounts = 500
        c.reserveTransferIds = 4_000
        return c
    }

    @Test func reservedTablesDoNotGrowAndResultsAreTheSame() {
        var plain = DetectorConfig()
        plain.allowedLatenessMillis = 0
        var a = CoreDriver(rules: Self.rules, config: plain)
        var b = CoreDriver(rules: Self.rules, config: Self.reserved)
        let plainAtStart = Room(a.detector)
        let before = Room(b.detector)
        #expect(before.accountSlots * 3 > 500 * 4)
        #expect(before.stateCapacity >= 500)
        #expect(before.legCapacity >= 500 * DetectorConfig.reservedLegsPerAccount)
        #expect(before.dedupSlots > 2 * 4_000)
        #expect(before.dedupFifo >= 4_000)
        let expected = Self.run(&a)
        #expect(expected.count > 10)
        #expect(Self.run(&b) == expected)
        #expect(Room(b.detector) == before, "a reserved table grew")
        // Without the reservation the same stream grows them.
        #expect(Room(a.detector).legCapacity > plainAtStart.legCapacity)
        #expect(Room(a.detector).stateCapacity > plainAtStart.stateCapacity)
    }

    @Test func theRoomSurvivesACheckpointAndACompaction() throws {
        var d = CoreDriver(rules: Self.rules, config: Self.reserved)
        _ = Self.run(&d)
        let restored = try Detector(rules: Self.rules, config: Self.reserved, restoring: d.detector.checkpointState())
        let room = Room(restored)
        #expect(room.accountSlots * 3 > 500 * 4)
        #expect(room.stateCapacity >= 500)
        #expect(room.legCapacity >= 500 * DetectorConfig.reservedLegsPerAccount)
        #expect(room.dedupSlots > 2 * 4_000)
        #expect(restored.trackedAccounts == d.detector.trackedAccounts)
        var compacted = restored
        compacted.compactLegs()
        #expect(compacted.legs.storage.capacity >= 500 * DetectorConfig.reservedLegsPerAccount)
    }

    @Test func theDuplicateIndexReservesNoMoreThanItsCap() {
        var c = DetectorConfig()
        c.maxDedupEntries = 10_000
        c.reserveTransferIds = 1_000_000
        let d = Detector(rules: Self.rules, config: c)
        #expect(d.dedup.slots.count == 32_768)  // the smallest power of two above 2 × 10 000
        #expect(d.dedup.fifo.count == 16_384)
    }

    @Test func theLegPoolIsNotCompactedWithinItsReservedRoom() {
        var pool = LegPool()
        pool.storage = LineArray(repeating: Leg(ts: 0, amount: 0, txHandle: 0, counterparty: -1, isCredit: false, channel: .unknown,
                                                      ownKind: .unknown, counterpartyKind: .unknown), count: 1 << 16)
        pool.liveSlots = 100
        #expect(pool.isSparse)
        pool.reservedSlots = 1 << 16
        #expect(!pool.isSparse, "compacting inside the reservation gives nothing back")
        pool.reservedSlots = 1 << 15
        #expect(pool.isSparse)
    }
}
