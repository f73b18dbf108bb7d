import MuleTesting
import PropertyBased
import Testing

@testable import MuleCore

/// The running needs totals (`WindowTotals`) must always equal a recount from the legs, and the
/// detector must raise exactly what it raises when every window is walked — through appends,
/// drops, evictions at the leg cap, late legs inserted out of order, rule reloads, pool
/// compactions and checkpoint restores.
@Suite struct WindowTotalsTests {
    /// A rule whose needs are not nothing (so it has totals), with random filters and window.
    static func needyRule(_ g: inout StreamGenerator, index: Int) -> Rule {
        var r = g.rule(index: index)
        let need: Condition = g.pick([
            .metric(.distinctPayers, Bound(min: Double(g.int(1...4)))),
            .metric(.outCount, Bound(min: Double(g.int(1...5)))),
            .metric(.inAmount, Bound(min: Double(g.pick([10, 500, 3_000])))),
            .metric(.passThrough, Bound(min: 0.5)),
        ])
        r.conditions = g.chance(0.3) ? need : .all([need, r.conditions])
        return r
    }

    static func rules(_ g: inout StreamGenerator) -> [Rule] {
        (0..<g.int(1...4)).map { g.chance(0.7) ? needyRule(&g, index: $0) : g.rule(index: $0) }
    }

    @Test(.shrinking(false)) func totalsEqualRecountAndVerdictsEqualTheWalk() async {
        let tally = TotalsTally()
        await propertyCheck(count: 300, input: Gen.uint64()) { seed in
            var g = StreamGenerator(seed: seed)
            var config = DetectorConfig()
            config.allowedLatenessMillis = g.pick([0, 1_000, 30_000])
            config.latePolicy = .process
            config.maxLegsPerAccount = g.pick([9, 12, 17, 40, 1_024])
            config.accountMemoryMillis = g.pick([0, 600_000])
            // (Not a cap of a few accounts: `maxAccounts` 3 with late legs processed crashes in
            // `AccountTable.remove`/`name` with or without the totals; reported, not fixed here.)
            config.maxAccounts = 1_000
            config.transferIdLogBytes = 1 << 16
            let rules = Self.rules(&g)
            var fast = CoreDriver(rules: rules, config: config)
            var walk = CoreDriver(rules: rules, config: config)
            walk.detector.useWindowTotals = false
            let names = (0..<g.int(2...5)).map { "a\($0)" }
            var ts: Int64 = 1_764_000_000_000
            var tracked = false
            for i in 0..<g.int(40...400) {
                ts += g.pick([0, 1, 1_000, 30_000, 60_000, 300_000, 900_000] as [Int64])
                // Late legs (processed out of order), now and then far behind.
                let at = g.chance(0.1) ? ts - g.pick([1, 2_000, 45_000, 1_800_000] as [Int64]) : ts
                let id = "tx-\(i)"
                let payer = g.pick(names), payee = g.pick(names)
                let amount = Money(units: Int64(g.int(1...5_000)) * 100).description
                let channel = g.pick(Channel.allCases)
                let kinds = (g.pick(AccountKind.allCases), g.pick(AccountKind.allCases))
                for d in [0, 1] {
                    if d == 0 {
                        fast.send(id: id, ts: at, payer: payer, payee: payee, amount: amount, channel: channel,
                                  payerKind: kinds.0, payeeKind: kinds.1)
                    } else {
                        walk.send(id: id, ts: at, payer: payer, payee: payee, amount: amount, channel: channel,
                                  payerKind: kinds.0, payeeKind: kinds.1)
                    }
                }
                if g.chance(0.03) {
                    let next = Self.rules(&g)
                    fast.detector.replaceRules(next)
                    walk.detector.replaceRules(next)
                }
                if g.chance(0.02) {
                    fast.detector.compactLegs()
                    walk.detector.compactLegs()
                }
                if g.chance(0.02) {
                    // Both restored (a restore renumbers accounts, which the cap's eviction order
                    // follows); the totals are rebuilt from the legs, not read back.
                    let rules = fast.detector.ruleList
                    guard let a = try? Detector(rules: rules, config: config, restoring: fast.detector.checkpointState()),
                          var b = try? Detector(rules: rules, config: config, restoring: walk.detector.checkpointState())
                    else {
                        Issue.record("restore failed (seed \(seed))")
                        return
                    }
                    b.useWindowTotals = false
                    fast.detector = a
                    walk.detector = b
                }
                tracked = tracked || fast.detector.states.contains { WindowTotals.tracks($0.legs) }
                guard fast.detector.windowTotalsAreExact() else {
                    Issue.record("running totals differ from a recount after transfer \(i) (seed \(seed))")
                    return
                }
                #expect(fast.takeAlerts() == walk.takeAlerts(), "seed \(seed), transfer \(i)")
            }
            #expect(fast.finish() == walk.finish(), "seed \(seed)")
            #expect(fast.detector.windowTotalsAreExact(), "seed \(seed)")
            #expect(fast.detector.counters == walk.detector.counters, "seed \(seed)")
            tally.add(tracked: tracked, alerts: Int(walk.detector.counters.alertsRaised))
        }
        let t = tally.snapshot()
        print("window totals: \(t.runs) streams, \(t.tracked) with tracked rings, \(t.alerts) alerts")
        #expect(t.tracked > t.runs / 2)
        #expect(t.alerts > 0)
    }

    @Test func totalsFollowAnAccountThroughItsRing() {
        // One account paid 40 times a minute apart, then paying on: the 30-minute window's
        // totals hold the last 31 credits whatever has left the ring.
        let rule = Rule(id: "r", version: "1", windowMillis: 1_800_000,
                        conditions: .metric(.distinctPayers, Bound(min: 40)))
        var config = DetectorConfig()
        config.maxLegsPerAccount = 20
        var d = CoreDriver(rules: [rule], config: config)
        let t0: Int64 = 1_764_000_000_000
        for i in 0..<40 {
            d.send(id: "in-\(i)", ts: t0 + Int64(i) * 60_000, payer: "p\(i)", payee: "m", amount: "10.00")
        }
        d.send(id: "out", ts: t0 + 40 * 60_000, payer: "m", payee: "x", amount: "390.00")
        _ = d.finish()
        #expect(d.detector.windowTotals.keys.count == 1)
        #expect(d.detector.windowTotalsAreExact())
        #expect(d.detector.counters.legsEvicted > 0)
    }
}

/// Tallies across the property's runs (the body is not allowed to capture mutable locals; the
/// property runs its cases one after another).
final class TotalsTally: @unchecked Sendable {
    private var runs = 0, tracked = 0, alerts = 0

    func add(tracked t: Bool, alerts a: Int) {
        runs += 1
        if t { tracked += 1 }
        alerts += a
    }

    func snapshot() -> (runs: Int, tracked: Int, alerts: Int) { (runs, tracked, alerts) }
}
