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

    @Test func aChainThroughAForgottenAccountIsReportedFromTheNextKnownAccount() throws {
        // M1 (paid by eight victims) forwards to M2, which forwards to M3: M2's forward is a
        // depth-2 hop. Between the two forwards, new accounts push M1 out under the cap and its
        // id goes to a newcomer. The alert on M2 must not name the newcomer (or a freed id) as
        // the chain's first mule: the chain is reported from M2, the first account still known.
        let minute: Int64 = 60_000
        var config = DetectorConfig()
        config.maxAccounts = 10
        config.allowedLatenessMillis = 0
        let chainRule = Rule(id: "chain", version: "1", windowMillis: 2 * 3_600_000, trigger: .debit,
                             conditions: .all([.metric(.chainDepth, Bound(min: 2))]))
        var s = SceneBuilder(rules: [chainRule], config: config)
        var t: Int64 = 1_764_000_000_000
        for v in 1...8 {
            s.pay("victim-\(v)", "M1", "1000", at: t, channel: .qr)
            t += minute
        }
        t += 3 * minute
        s.pay("M1", "M2", "7880", at: t, channel: .p2p)
        t += minute
        s.pay("victim-9", "M2", "1000", at: t, channel: .qr)
        // Eight newcomers push out victims 2-8 and then M1, the least recently used (victim 1
        // went when victim 9 came).
        for x in 1...7 {
            t += minute
            s.pay("x\(x)", "y", "5", at: t, channel: .p2p)
        }
        t += minute
        s.pay("M2", "M3", "8747", at: t, channel: .p2p)
        let alerts = s.driver.finish()
        #expect(s.driver.detector.counters.accountsEvictedCap == 10)
        let alert = try #require(alerts.first { $0.account == "M2" })
        #expect(alert.chain == ["M2", "M3"])
        #expect(alert.hops?.map(\.from) == ["M2"])
    }
}
