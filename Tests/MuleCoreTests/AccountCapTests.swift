import MuleTesting
import Testing

@testable import MuleCore

/// The cap on tracked accounts evicts only accounts nothing refers to.
@Suite struct AccountCapTests {
    @Test func aNewAccountIsNeverEvictedToMakeRoomForItself() {
        // Every tracked account is named by a buffered transfer, so the only account with no
        // reference when the cap is passed is the one being added: it must stay (the cap gives
        // way until something can go), not be forgotten and its id handed back to the caller.
        var config = DetectorConfig()
        config.maxAccounts = 2
        config.allowedLatenessMillis = 60_000
        let rule = Rule(id: "r", version: "1", windowMillis: 3_600_000, conditions: .metric(.inCount, Bound(min: 1)))
        var d = CoreDriver(rules: [rule], config: config)
        let t0: Int64 = 1_764_000_000_000
        #expect(d.send(id: "t1", ts: t0, payer: "a", payee: "b", amount: "10.00") == .accepted)
        #expect(d.send(id: "t2", ts: t0 + 1, payer: "c", payee: "d", amount: "20.00") == .accepted)
        #expect(d.detector.counters.accountsEvictedCap == 0)
        let alerts = d.finish()
        #expect(alerts.map(\.account) == ["b", "d"])
        #expect(d.detector.counters.applied == 2)
    }

    @Test func lateLegsProcessedWithATinyCapKeepEveryIdValid() {
        // Late transfers processed at once, with the cap at three accounts, used to forget the
        // account being added and crash on its freed id (`AccountTable.remove`/`name`).
        var config = DetectorConfig()
        config.maxAccounts = 3
        config.latePolicy = .process
        config.allowedLatenessMillis = 1_000
        let rule = Rule(id: "r", version: "1", windowMillis: 3_600_000, conditions: .metric(.outCount, Bound(min: 1)))
        var d = CoreDriver(rules: [rule], config: config)
        var g = StreamGenerator(seed: 42)
        var ts: Int64 = 1_764_000_000_000
        var raised = 0
        for i in 0..<2_000 {
            ts += g.pick([0, 1, 500, 2_000, 60_000] as [Int64])
            let at = g.chance(0.2) ? ts - g.pick([1_500, 30_000] as [Int64]) : ts
            d.send(id: "tx-\(i)", ts: at, payer: "a\(g.int(0...5))", payee: "a\(g.int(0...5))", amount: "1.00")
            raised += d.takeAlerts().count
        }
        raised += d.finish().count
        #expect(raised > 0)
        #expect(d.detector.trackedAccounts <= 6)
        #expect(d.detector.counters.accountsEvictedCap > 0)
    }
}
