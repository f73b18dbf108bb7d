import MuleCore
import MuleTesting
import Testing

/// Following money through layers: hops, chains, sinks and gangs, on hand-built planted
/// structures and on ordinary chains that must stay unlinked.
@Suite struct ChainTests {
    static let second: Int64 = 1000
    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000
    static let t0: Int64 = 1_764_000_000_000

    static let chainRule = Rule(id: "chain", version: "1", windowMillis: 2 * hour, trigger: .debit,
                                conditions: .all([.metric(.chainDepth, Bound(min: 2))]))
    static let sinkRule = Rule(id: "sink", version: "1", windowMillis: 24 * hour, trigger: .credit,
                               conditions: .all([.metric(.chainPayers, Bound(min: 2))]))
    /// Fires on any forward so the alert's chain and gang context can be read for every account.
    static let anyForward = Rule(id: "any", version: "1", windowMillis: 2 * hour, trigger: .anyLeg,
                                 conditions: .all([.metric(.chainDepth, Bound(min: 1))]))

    struct Gang {
        var s: SceneBuilder
        var t: Int64 = ChainTests.t0
        var victims = 0

        init(rules: [Rule] = [ChainTests.chainRule, ChainTests.sinkRule, ChainTests.anyForward]) {
            var c = DetectorConfig()
            c.allowedLatenessMillis = 0
            s = SceneBuilder(rules: rules, config: c)
        }

        /// `n` victims pay `mule` by QR, a minute apart; returns the total.
        mutating func victimsPay(_ mule: String, _ n: Int, each: Int64 = 1000) -> Int64 {
            for _ in 0..<n {
                victims += 1
                s.pay("victim-\(victims)", mule, "\(each)", at: t, channel: .qr)
                t += ChainTests.minute
            }
            return Int64(n) * each
        }

        /// `from` forwards 98.5 % of `amount` (split evenly over `to`) a few minutes later.
        @discardableResult
        mutating func forward(_ from: String, _ amount: Int64, to: [String]) -> Int64 {
            t += 3 * ChainTests.minute
            let total = amount * 985 / 1000
            for dest in to {
                s.pay(from, dest, "\(total / Int64(to.count))", at: t, channel: .p2p)
                t += 30 * ChainTests.second
            }
            return total
        }

        mutating func finish() -> [Alert] { s.driver.finish() }

        mutating func gangs() -> [GangSummary] { s.driver.detector.gangSummaries() }
    }

    static func accounts(_ alerts: [Alert], rule: String) -> Set<String> {
        Set(alerts.filter { $0.ruleId == rule }.map(\.account))
    }

    @Test(arguments: [1, 2, 3, 4])
    func everyLayerOfAPlantedChainIsLinked(layers: Int) throws {
        var g = Gang()
        var amount = g.victimsPay("M1", 8)
        for layer in 1...layers {
            let next = layer == layers ? "SINK" : "M\(layer + 1)"
            amount = g.forward("M\(layer)", amount, to: [next])
        }
        let alerts = g.finish()
        // The deepest alert's chain runs from the first mule to the sink, hop by hop.
        let deepest = try #require(alerts.filter { $0.chain != nil }.max { $0.chain!.count < $1.chain!.count })
        #expect(deepest.chain == (1...layers).map { "M\($0)" } + ["SINK"])
        #expect(deepest.hops?.count == layers)
        #expect(deepest.hops?.allSatisfy { $0.delaySeconds >= 180 && $0.retained >= 0 && $0.retained < 0.03 } == true)
        if layers >= 2 {
            #expect(Self.accounts(alerts, rule: "chain") == Set((2...layers).map { "M\($0)" }))
            let gangs = g.gangs()
            #expect(gangs.count == 1)
            #expect(gangs.first?.members == ((1...layers).map { "M\($0)" } + ["SINK"]).sorted())
            let ids = Set(alerts.compactMap(\.gang))
            #expect(ids == [gangs[0].id])
        } else {
            #expect(Self.accounts(alerts, rule: "chain").isEmpty)
            #expect(g.gangs().isEmpty)
        }
    }

    @Test func aMuleFanningOutToThreeNextLayerMulesIsOneGang() {
        var g = Gang()
        let got = g.victimsPay("M1", 9)
        let each = g.forward("M1", got, to: ["M2a", "M2b", "M2c"]) / 3
        for m in ["M2a", "M2b", "M2c"] { g.forward(m, each, to: ["SINK"]) }
        let alerts = g.finish()
        #expect(Self.accounts(alerts, rule: "chain") == ["M2a", "M2b", "M2c"])
        #expect(Self.accounts(alerts, rule: "sink") == ["SINK"])
        let gangs = g.gangs()
        #expect(gangs.count == 1)
        #expect(gangs.first?.members == ["M1", "M2a", "M2b", "M2c", "SINK"])
    }

    @Test func aMuleAggregatingSeveralPaymentsIntoOneOnwardTransferIsLinked() throws {
        var g = Gang()
        var total: Int64 = 0
        for _ in 0..<3 {  // three first-layer mules each pass on one batch to the same aggregator
            let name = "M1-\(g.victims)"
            total += g.forward(name, g.victimsPay(name, 6), to: ["AGG"])
        }
        g.forward("AGG", total, to: ["SINK"])
        let alerts = g.finish()
        #expect(Self.accounts(alerts, rule: "chain") == ["AGG"])
        let agg = try #require(alerts.first { $0.account == "AGG" && $0.ruleId == "chain" })
        #expect(agg.chain?.last == "SINK")
        #expect(agg.chain?.count == 3)
        #expect(g.gangs().first?.members.count == 5)  // three first-layer mules, AGG, SINK
    }

    @Test func aOneLayerGangIsFoundThroughItsSharedSink() {
        var g = Gang()
        for i in 0..<3 { g.forward("M\(i)", g.victimsPay("M\(i)", 5), to: ["SINK"]) }
        let alerts = g.finish()
        #expect(Self.accounts(alerts, rule: "sink") == ["SINK"])
        #expect(Self.accounts(alerts, rule: "chain").isEmpty)
        #expect(g.gangs().map(\.members) == [["M0", "M1", "M2", "SINK"]])
    }

    @Test func twoGangsSharingNoAccountsStayApart() {
        var g = Gang()
        for gang in ["A", "B"] {
            for i in 0..<2 {
                let m1 = "\(gang)-M1-\(i)"
                let got = g.forward(m1, g.victimsPay(m1, 5), to: ["\(gang)-M2"])
                _ = got
            }
            g.forward("\(gang)-M2", 2 * 4925, to: ["\(gang)-SINK"])
        }
        let alerts = g.finish()
        let gangs = g.gangs()
        #expect(gangs.count == 2)
        #expect(Set(gangs.map(\.members)) == [["A-M1-0", "A-M1-1", "A-M2", "A-SINK"], ["B-M1-0", "B-M1-1", "B-M2", "B-SINK"]])
        let idA = alerts.first { $0.account == "A-M2" && $0.ruleId == "chain" }?.gang
        let idB = alerts.first { $0.account == "B-M2" && $0.ruleId == "chain" }?.gang
        #expect(idA != nil && idB != nil && idA != idB)
    }

    @Test func aSinkThatAlsoReceivesSalaryIsStillTheGangsSink() {
        var g = Gang()
        g.s.pay("EMPLOYER", "SINK", "15000", at: g.t, channel: .bank, payerKind: .merchant)
        for i in 0..<2 { g.forward("M\(i)", g.victimsPay("M\(i)", 6), to: ["SINK"]) }
        g.t += ChainTests.hour
        g.s.pay("EMPLOYER", "SINK", "15000", at: g.t, channel: .bank, payerKind: .merchant)
        let alerts = g.finish()
        #expect(Self.accounts(alerts, rule: "sink") == ["SINK"])
        let members = g.gangs().first?.members ?? []
        #expect(members == ["M0", "M1", "SINK"])
        #expect(!members.contains("EMPLOYER"))
    }

    @Test func aShopPayingASupplierWhoPaysAWholesalerDaysLaterIsNotLinked() {
        var g = Gang()
        for i in 0..<30 {
            g.s.pay("customer-\(i)", "SHOP", "45", at: g.t, channel: .qr, payeeKind: .merchant)
            g.t += 10 * ChainTests.minute
        }
        g.s.pay("SHOP", "SUPPLIER", "1200", at: g.t, channel: .bank, payerKind: .merchant, payeeKind: .merchant)
        g.t += 3 * 24 * ChainTests.hour
        g.s.pay("SUPPLIER", "WHOLESALER", "1150", at: g.t, channel: .bank, payerKind: .merchant, payeeKind: .merchant)
        // Even between personal accounts, days apart is not a hop.
        g.s.pay("P-1", "P-2", "500", at: g.t, channel: .p2p)
        g.t += 2 * 24 * ChainTests.hour
        g.s.pay("P-2", "P-3", "490", at: g.t, channel: .p2p)
        let alerts = g.finish()
        #expect(alerts.isEmpty)
        #expect(g.gangs().isEmpty)
    }

    @Test func friendsPassingOnASharedBillAreNotLinked() {
        var g = Gang()
        // Alice collects from friends and passes it to Bob, who paid; Bob pays his share on to
        // a flatmate. One mule-style hop, then an ordinary one: no chain, no gang.
        for i in 0..<4 { g.s.pay("friend-\(i)", "ALICE", "62.50", at: g.t + Int64(i) * ChainTests.minute, channel: .qr) }
        g.t += 10 * ChainTests.minute
        g.s.pay("ALICE", "BOB", "250", at: g.t, channel: .p2p)
        g.t += 5 * ChainTests.minute
        g.s.pay("BOB", "RESTAURANT", "250", at: g.t, channel: .qr, payeeKind: .merchant)
        let alerts = g.finish()
        #expect(Self.accounts(alerts, rule: "chain").isEmpty)
        #expect(Self.accounts(alerts, rule: "sink").isEmpty)
        #expect(g.gangs().isEmpty)
    }

    @Test func aParentPassingOnSalaryDoesNotStartAChain() {
        var g = Gang()
        g.s.pay("EMPLOYER", "PARENT", "9000", at: g.t, channel: .bank, payerKind: .merchant)
        g.t += 10 * ChainTests.minute
        g.s.pay("PARENT", "CHILD", "8000", at: g.t, channel: .p2p)
        g.t += 10 * ChainTests.minute
        g.s.pay("CHILD", "LANDLORD", "7800", at: g.t, channel: .bank)
        let alerts = g.finish()
        #expect(Self.accounts(alerts, rule: "chain").isEmpty)
        #expect(g.gangs().isEmpty)
    }

    @Test func gangTiesFadeAfterTheHorizon() {
        var c = DetectorConfig()
        c.allowedLatenessMillis = 0
        c.chains.gangHorizonMillis = 24 * ChainTests.hour
        var g = Gang()
        g.s = SceneBuilder(rules: [ChainTests.chainRule], config: c)
        g.forward("M1", g.victimsPay("M1", 6), to: ["M2"])
        g.forward("M2", 5900, to: ["SINK"])
        g.s.driver.detector.advanceWatermark(to: g.t + 1)
        #expect(g.gangs().count == 1)
        g.t += 3 * 24 * ChainTests.hour
        g.s.pay("X", "Y", "1", at: g.t)
        g.s.pay("X", "Y", "1", at: g.t + 1)
        #expect(g.gangs().isEmpty)
    }
}
