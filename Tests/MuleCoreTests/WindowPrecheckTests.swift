import PropertyBased
import Testing

@testable import MuleCore

/// The cheap pre-checks of rule evaluation (`WindowNeeds`, `LegFilterBits`) must never change a
/// verdict: a window they reject fails the full scan's conditions too, and a window they pass is
/// described exactly as the full scan describes it.
@Suite struct WindowPrecheckTests {
    /// Random legs of one account (both sides, every channel and kind, a few repeated payers).
    static func window(_ g: inout StreamGenerator, at now: Int64) -> [Leg] {
        var ts = now - g.int64(0...7_200_000)
        return (0..<g.int(0...24)).map { _ in
            ts = min(now, ts + g.int64(0...600_000))
            return Leg(ts: ts, amount: g.pick([1, 50, 100, 1_000, 5_000]) * Money.scale, txHandle: 0,
                       counterparty: Int32(g.int(0...6)), isCredit: g.chance(0.6), channel: g.pick(Channel.allCases),
                       ownKind: g.pick(AccountKind.allCases), counterpartyKind: g.pick(AccountKind.allCases))
        }
    }

    /// Every metric a condition can read (chain metrics are filled in by the detector: zero here).
    static func metrics(_ s: inout WindowScan) -> [Double] {
        let slots: [ConditionProgram.Slot] = [.inCount, .inAmount, .distinctPayers, .outCount, .outAmount,
                                              .distinctPayees, .passThrough, .dwellMedian, .dwellP90, .retained,
                                              .burst, .accountAge]
        return slots.map { s.value($0, burstWidth: 60_000) }
    }

    @Test(.shrinking(false)) func precheckDecidesExactlyAsTheFullScan() async {
        let tally = PrecheckTally()
        await propertyCheck(count: 4_000, input: Gen.uint64()) { seed in
            var g = StreamGenerator(seed: seed)
            let rule = g.rule(index: 0)
            let now: Int64 = 1_764_000_000_000
            var program = ConditionProgram()
            var signals = ContiguousArray<SignalPlan>()
            let plan = RulePlan(rule, program: &program, signals: &signals)
            // The same plan without pre-checks, asking for every metric: the full scan.
            var full = plan.reporting
            full.needs = .none

            var pool = LegPool()
            var ring = LegRing()
            for leg in Self.window(&g, at: now) { _ = pool.append(leg, to: &ring, cap: 64) }
            let start = pool.firstIndex(ring, atOrAfter: now - rule.windowMillis)

            var reference = WindowScan()
            let described = reference.run(pool: pool, ring: ring, from: now - rule.windowMillis, rule: full, now: now, firstSeen: now - 1)
            #expect(described && reference.start == start)
            // Every metric computed exactly first, so no shortcut of `holds` is taken here.
            reference.completeAll()
            let holds = reference.holds(program, plan.condition)
            let enough = ring.count - start >= plan.needs.legs

            var fast = WindowScan()
            let possible = enough && fast.run(pool: pool, ring: ring, from: now - rule.windowMillis, rule: plan, now: now, firstSeen: now - 1)
            if !possible {
                #expect(!holds, "pre-check rejected a window whose conditions hold (seed \(seed))")
                tally.add(rejected: true, holds: holds)
                return
            }
            tally.add(rejected: false, holds: holds)
            #expect(fast.holds(program, plan.condition) == holds, "seed \(seed)")
            // Counts and amounts are exact; the rest are exact for the metrics the rule reads.
            #expect(fast.inCount == reference.inCount && fast.inAmount == reference.inAmount)
            #expect(fast.outCount == reference.outCount && fast.outAmount == reference.outAmount)
            if plan.needsDistinctPayers { #expect(fast.distinctPayers == reference.distinctPayers) }
            if plan.needsDistinctPayees { #expect(fast.distinctPayees == reference.distinctPayees) }
            if plan.needsMatching {
                let a = fast.matched, b = reference.matched
                #expect(a == b)
            }
            if plan.needsDwell {
                let a = (fast.dwellMedian, fast.dwellP90), b = (reference.dwellMedian, reference.dwellP90)
                #expect(a == b)
            }
            if plan.needsCreditTimes { #expect(fast.creditTimes == reference.creditTimes) }
        }
        let t = tally.snapshot()
        print("window pre-check: \(t.runs) windows, \(t.rejected) rejected, \(t.held) held")
        // Worth something only if it both rejects windows and lets holding ones through.
        #expect(t.rejected > t.runs / 10)
        #expect(t.held > t.runs / 20)
    }

    /// The detector counts a window with `WindowTally` alone and runs the scan only when the
    /// needs are met: the tally must count exactly what a forward pass over the window's legs
    /// with the rule's filters counts, and find the window's first leg, in rings that wrapped
    /// (head not at 0) and rings with legs older than the window.
    @Test func tallyCountsTheWindowExactly() {
        for seed in 0..<2_000 as Range<UInt64> {
            var g = StreamGenerator(seed: seed)
            let now: Int64 = 1_764_000_000_000
            let credits = LegFilterBits(g.filter()), debits = LegFilterBits(g.filter())
            var pool = LegPool()
            var ring = LegRing()
            for leg in Self.window(&g, at: now) { _ = pool.append(leg, to: &ring, cap: g.pick([4, 8, 64])) }
            let from = now - g.int64(0...7_200_000)
            let tally = pool.storage.withUnsafeBufferPointer {
                WindowTally(counting: $0, ring: ring, from: from, credits: credits, debits: debits)
            }
            let start = pool.firstIndex(ring, atOrAfter: from)
            let window = (start..<ring.count).map { pool[ring, $0] }
            let inLegs = window.filter { $0.isCredit && credits.accepts($0) }
            let outLegs = window.filter { !$0.isCredit && debits.accepts($0) }
            #expect(tally.start == start, "seed \(seed)")
            #expect(tally.inCount == inLegs.count && tally.inAmount == inLegs.reduce(0) { $0 + $1.amount }, "seed \(seed)")
            #expect(tally.outCount == outLegs.count && tally.outAmount == outLegs.reduce(0) { $0 + $1.amount }, "seed \(seed)")
            #expect(tally.amountsPositive == window.allSatisfy { $0.amount >= 0 }, "seed \(seed)")
        }
    }

    @Test func needsFollowTheConditionTree() {
        let payers5 = Condition.metric(.distinctPayers, Bound(min: 5))
        let in2000 = Condition.metric(.inAmount, Bound(min: 2000))
        let pass = Condition.metric(.passThrough, Bound(min: 0.9))
        #expect(WindowNeeds(.all([payers5, in2000, pass])) == WindowNeeds(credits: 5, debits: 1, inAmount: 2000))
        #expect(WindowNeeds(.any([payers5, .metric(.outCount, Bound(min: 2.5))])) == WindowNeeds(credits: 0, debits: 0, inAmount: -.infinity))
        #expect(WindowNeeds(.any([payers5, .metric(.inCount, Bound(min: 2))])) == WindowNeeds(credits: 2, debits: 0, inAmount: -.infinity))
        #expect(WindowNeeds(.not(payers5)) == .none)
        #expect(WindowNeeds(.any([])) == .none)
        #expect(WindowNeeds(.all([])) == .none)
        // A ratio bounded only above still needs money in (undefined otherwise), not money out.
        #expect(WindowNeeds(.metric(.passThrough, Bound(max: 0.5))) == WindowNeeds(credits: 1, debits: 0, inAmount: -.infinity))
        #expect(WindowNeeds(.metric(.dwellMedian, Bound(max: 60_000))) == WindowNeeds(credits: 1, debits: 1, inAmount: -.infinity))
        #expect(WindowNeeds(.metric(.retained, Bound())) == WindowNeeds(credits: 1, debits: 0, inAmount: -.infinity))
        #expect(WindowNeeds(.metric(.distinctPayees, Bound(min: 1e300))).debits == Int(Int32.max))
        #expect(WindowNeeds(.metric(.inCount, Bound(min: -3))) == .none)
        #expect(WindowNeeds(.metric(.outAmount, Bound(min: 10))) == .none)
    }

    @Test func conditionsCompileCheapestFirst() {
        var program = ConditionProgram()
        let root = program.compile(.all([
            .metric(.dwellMedian, Bound(max: 60_000)),
            .any([.metric(.passThrough, Bound(min: 0.9)), .metric(.outCount, Bound(min: 3))]),
            .metric(.burst(subWindowMillis: 1_000), Bound(min: 2)),
            .metric(.distinctPayers, Bound(min: 5)),
            .metric(.inCount, Bound(min: 1)),
        ]))
        #expect(root == 0)
        let metrics = program.ops.filter { $0.kind == .metric }.map(\.slot)
        // Stable among equals (distinct payers stays before in_count); inside the `any`, the
        // count before the matched ratio.
        #expect(metrics == [.distinctPayers, .inCount, .burst, .outCount, .passThrough, .dwellMedian])
    }

    @Test func passThroughBoundedByOutflowNeedsNoMatching() {
        // 1000 in, 500 out: pass-through is at most 0.5, so `≥ 0.9` fails before matching.
        var pool = LegPool()
        var ring = LegRing()
        let t: Int64 = 1_764_000_000_000
        for (i, credit) in [true, false].enumerated() {
            let leg = Leg(ts: t + Int64(i), amount: (credit ? 1_000 : 500) * Money.scale, txHandle: 0, counterparty: 1,
                          isCredit: credit, channel: .qr, ownKind: .personal, counterpartyKind: .personal)
            _ = pool.append(leg, to: &ring, cap: 8)
        }
        var program = ConditionProgram()
        var signals = ContiguousArray<SignalPlan>()
        let rule = Rule(id: "r", version: "1", windowMillis: 60_000, conditions: .metric(.passThrough, Bound(min: 0.9)))
        let plan = RulePlan(rule, program: &program, signals: &signals)
        var scan = WindowScan()
        let ran = scan.run(pool: pool, ring: ring, from: t, rule: plan, now: t + 1, firstSeen: t)
        let holds = scan.holds(program, plan.condition)
        #expect(ran && !holds)
        #expect(!scan.matchingDone, "decided from the outflow alone")
        let matched = scan.matched
        #expect(matched == 500 * Money.scale)
    }

    @Test func filterBitsAcceptExactlyWhatTheFilterAccepts() {
        var g = StreamGenerator(seed: 7)
        for _ in 0..<200 {
            let f = g.filter()
            let bits = LegFilterBits(f)
            for c in Channel.allCases {
                for own in AccountKind.allCases {
                    for cp in AccountKind.allCases {
                        let leg = Leg(ts: 0, amount: 1, txHandle: 0, counterparty: 0, isCredit: true,
                                      channel: c, ownKind: own, counterpartyKind: cp)
                        #expect(bits.accepts(leg) == f.accepts(channel: c, accountKind: own, counterpartyKind: cp))
                    }
                }
            }
        }
    }
}

/// Tallies across the property's runs (the body may not capture mutable locals).
final class PrecheckTally: @unchecked Sendable {
    private var runs = 0, rejected = 0, held = 0
    func add(rejected r: Bool, holds: Bool) {
        runs += 1
        if r { rejected += 1 }
        if holds { held += 1 }
    }
    func snapshot() -> (runs: Int, rejected: Int, held: Int) { (runs, rejected, held) }
}
