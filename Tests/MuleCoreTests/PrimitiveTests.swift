import MuleCore
import MuleTesting
import Testing

private let second: Int64 = 1_000
private let minute: Int64 = 60_000
private let hour: Int64 = 3_600_000
/// The evaluation instant of most tests; the window is `[T - W, T]`.
private let T: Int64 = 1_764_000_000_000 + 3 * hour
private let W: Int64 = 10 * minute

private func config(lateness: Int64 = 0) -> DetectorConfig {
    var c = DetectorConfig()
    c.allowedLatenessMillis = lateness
    c.accountMemoryMillis = 24 * hour  // keep idle accounts long enough for `account_age`
    c.transferIdLogBytes = 1 << 16
    return c
}

private func rule(_ condition: Condition = .always, window: Int64 = W, trigger: RuleTrigger = .debit,
                  credits: LegFilter = .any, debits: LegFilter = .any, mode: RuleMode = .enforce,
                  base: Double = 1, signals: [ScoreSignal] = [], outcomes: [OutcomeBand] = []) -> Rule {
    Rule(id: "probe", version: "1", mode: mode, windowMillis: window, trigger: trigger, credits: credits,
         debits: debits, conditions: condition, scoreBase: base, signals: signals, outcomes: outcomes)
}

/// Runs `scene` against one rule and returns the alerts raised for account `m` at `at`.
private func alerts(_ r: Rule, at: Int64 = T, config c: DetectorConfig = config(),
                    _ scene: (inout SceneBuilder) -> Void) -> [Alert] {
    var s = SceneBuilder(rules: [r], config: c)
    scene(&s)
    return s.driver.finish().filter { $0.account == "m" && $0.eventTs == at }
}

/// Whether `metric` in `bound` holds for `m` at `T`, judged by a debit-triggered rule.
private func holds(_ metric: Metric, _ bound: Bound, credits: LegFilter = .any, debits: LegFilter = .any,
                   _ scene: (inout SceneBuilder) -> Void) -> Bool {
    !alerts(rule(.metric(metric, bound), credits: credits, debits: debits), scene).isEmpty
}

/// The metric equals `v` exactly: `[v, v]` holds and neither neighbouring double does.
private func isExactly(_ metric: Metric, _ v: Double, credits: LegFilter = .any, debits: LegFilter = .any,
                       _ scene: (inout SceneBuilder) -> Void) -> Bool {
    holds(metric, Bound(min: v, max: v), credits: credits, debits: debits, scene)
        && !holds(metric, Bound(min: v.nextUp), credits: credits, debits: debits, scene)
        && !holds(metric, Bound(max: v.nextDown), credits: credits, debits: debits, scene)
}

/// Credits at the window edge count, one millisecond before it do not; the debit at `T`
/// triggers the evaluation.
private func creditsAroundTheEdge(_ s: inout SceneBuilder) {
    s.pay("p0", "m", "7.00", at: T - W - 1)      // outside
    s.pay("p1", "m", "100.50", at: T - W)        // edge: inside
    s.pay("p2", "m", "200.25", at: T - 1)
    s.pay("p1", "m", "0.25", at: T - 1)
    s.pay("m", "x", "1.00", at: T)
}

/// Debits at and around the window edge.
private func debitsAroundTheEdge(_ s: inout SceneBuilder) {
    s.pay("p", "m", "1000.00", at: T - 2 * W)
    s.pay("m", "n1", "9.00", at: T - W - 1)      // outside
    s.pay("m", "n2", "10.00", at: T - W)         // edge: inside
    s.pay("m", "n2", "20.00", at: T - 5 * minute)
    s.pay("m", "n3", "30.5", at: T)
}

@Suite struct PrimitiveTests {
    @Test func inCountCountsCreditsFromTheWindowEdgeOn() throws {
        #expect(isExactly(.inCount, 3, creditsAroundTheEdge))
        let a = try #require(alerts(rule(), creditsAroundTheEdge).first)
        #expect(a.window?.inCount == 3)
        #expect(a.window?.start == T - W)
        #expect(a.evidenceCount == 4)
        #expect(a.evidence == ["tx-2", "tx-3", "tx-4", "tx-5"])
    }

    @Test func inAmountSumsCreditsInTheWindow() throws {
        #expect(isExactly(.inAmount, 301.00, creditsAroundTheEdge))
        let a = try #require(alerts(rule(), creditsAroundTheEdge).first)
        #expect(a.window?.inAmount == Money(decimal: "301.00"))
    }

    @Test func distinctPayersCountsEachPayerOnceAndOnlyInTheWindow() throws {
        #expect(isExactly(.distinctPayers, 2, creditsAroundTheEdge))
        let a = try #require(alerts(rule(), creditsAroundTheEdge).first)
        #expect(a.window?.distinctPayers == 2)
    }

    @Test func outCountCountsDebitsFromTheWindowEdgeOn() throws {
        #expect(isExactly(.outCount, 3, debitsAroundTheEdge))
        let a = try #require(alerts(rule(), debitsAroundTheEdge).first)
        #expect(a.window?.outCount == 3)
        #expect(a.window?.inCount == 0)
        #expect(a.window?.start == T - W)
    }

    @Test func outAmountSumsDebitsInTheWindow() throws {
        #expect(isExactly(.outAmount, 60.5, debitsAroundTheEdge))
        let a = try #require(alerts(rule(), debitsAroundTheEdge).first)
        #expect(a.window?.outAmount == Money(decimal: "60.50"))
    }

    @Test func distinctPayeesCountsEachPayeeOnceAndOnlyInTheWindow() throws {
        #expect(isExactly(.distinctPayees, 2, debitsAroundTheEdge))
        let a = try #require(alerts(rule(), debitsAroundTheEdge).first)
        #expect(a.window?.distinctPayees == 2)
    }

    @Test func passThroughIgnoresMoneySentBeforeItArrived() throws {
        let scene = { (s: inout SceneBuilder) in
            s.pay("m", "x", "100", at: T - 9 * minute)  // nothing received yet: not passed on
            s.pay("p", "m", "100", at: T - 8 * minute)
            s.pay("m", "x", "50", at: T)
        }
        #expect(isExactly(.passThrough, 0.5, scene))
        let a = try #require(alerts(rule(), scene).first)
        #expect(a.window?.passThrough == 0.5)
        #expect(a.window?.outAmount == Money(decimal: "150"))
    }

    @Test func passThroughIgnoresMoneyThatArrivedBeforeTheWindow() throws {
        let scene = { (s: inout SceneBuilder) in
            s.pay("p0", "m", "1000", at: T - W - 1)  // before the window
            s.pay("p1", "m", "200", at: T - 5 * minute)
            s.pay("m", "x", "1000", at: T)
        }
        #expect(isExactly(.passThrough, 1.0, scene))
        let a = try #require(alerts(rule(), scene).first)
        #expect(a.window?.inAmount == Money(decimal: "200"))
        #expect(a.window?.passThrough == 1.0)
    }

    @Test func passThroughIsUndefinedWithNothingReceived() throws {
        let scene = { (s: inout SceneBuilder) in _ = s.pay("m", "x", "10", at: T) }
        #expect(!holds(.passThrough, Bound(min: 0), scene))
        #expect(!holds(.passThrough, Bound(max: 1), scene))
        let a = try #require(alerts(rule(.not(.metric(.passThrough, Bound(min: 0)))), scene).first)
        #expect(a.window?.passThrough == 0)
        #expect(a.window?.medianDwellSeconds == nil)
    }

    @Test func dwellIsMoneyWeightedOverFIFOMatches() throws {
        // One debit spends three credits: 800 after 2 min, 100 after 6 min, 100 after 10 min.
        let oneDebit = { (s: inout SceneBuilder) in
            s.pay("p1", "m", "100", at: T - 10 * minute)  // window edge
            s.pay("p2", "m", "100", at: T - 6 * minute)
            s.pay("p3", "m", "800", at: T - 2 * minute)
            s.pay("m", "x", "1000", at: T)
        }
        #expect(isExactly(.dwellMedian, Double(2 * minute), oneDebit))
        #expect(isExactly(.dwellP90, Double(6 * minute), oneDebit))
        #expect(try #require(alerts(rule(), oneDebit).first).window?.medianDwellSeconds == 120)

        // FIFO across debits: 150 at T-4m spends 100 (6 min) + 50 (1 min); 50 at T spends the
        // rest of the second credit (5 min). Median needs half of 200: 50 + 50 at 5 min.
        let twoDebits = { (s: inout SceneBuilder) in
            s.pay("p1", "m", "100", at: T - 10 * minute)
            s.pay("p2", "m", "100", at: T - 5 * minute)
            s.pay("m", "x", "150", at: T - 4 * minute)
            s.pay("m", "x", "50", at: T)
        }
        #expect(isExactly(.dwellMedian, Double(5 * minute), twoDebits))
        #expect(isExactly(.dwellP90, Double(6 * minute), twoDebits))
        #expect(try #require(alerts(rule(), twoDebits).first).window?.medianDwellSeconds == 300)
    }

    @Test func dwellIsUndefinedWhenNothingWasPassedOn() {
        let scene = { (s: inout SceneBuilder) in
            s.pay("m", "x", "10", at: T - minute)
            s.pay("p", "m", "10", at: T - 1)
            s.pay("p", "m", "10", at: T)
        }
        let r = rule(.not(.metric(.dwellMedian, Bound(min: 0))), trigger: .credit)
        #expect(alerts(r, scene).count == 1)
        #expect(alerts(rule(.metric(.dwellP90, Bound(min: 0)), trigger: .credit), scene).isEmpty)
    }

    @Test func retainedCommissionBandIncludesOneAndOnePointEightPercent() {
        func forwards(_ out: String) -> (inout SceneBuilder) -> Void {
            { s in
                s.pay("p1", "m", "400", at: T - 3 * minute)
                s.pay("p2", "m", "600", at: T - 2 * minute)
                s.pay("m", "x", out, at: T)
            }
        }
        let band = Bound(min: 0.01, max: 0.018)
        #expect(holds(.retained, band, forwards("990")), "keeps 1 %")
        #expect(holds(.retained, band, forwards("985")), "keeps 1.5 %")
        #expect(holds(.retained, band, forwards("982")), "keeps 1.8 %")
        #expect(!holds(.retained, band, forwards("995")), "keeps 0.5 %")
        #expect(!holds(.retained, band, forwards("981.9")), "keeps 1.81 %")
        #expect(!holds(.retained, band, forwards("990.1")), "keeps 0.99 %")
        // Paying out more than came in (a bill splitter adding their share) retains < 0.
        #expect(isExactly(.retained, -0.25, forwards("1250")))
    }

    @Test func retainedIsUndefinedWithNothingReceived() {
        let scene = { (s: inout SceneBuilder) in _ = s.pay("m", "x", "10", at: T) }
        #expect(!holds(.retained, Bound(max: 1), scene))
        #expect(!holds(.retained, Bound(min: 0), scene))
    }

    @Test func burstCountsCreditsInTheDensestClosedSubWindow() {
        let scene = { (s: inout SceneBuilder) in
            s.pay("p0", "m", "1", at: T - W - 1)  // outside the window
            s.pay("p1", "m", "1", at: T - W)
            s.pay("p2", "m", "1", at: T - W + minute)
            s.pay("p3", "m", "1", at: T - W + 2 * minute + 1)
            s.pay("m", "x", "1", at: T)  // debits are not part of a burst
            s.pay("m", "x", "1", at: T)
        }
        let m = { (w: Int64) in Metric.burst(subWindowMillis: w) }
        #expect(isExactly(m(minute), 2, scene))  // [x, x + 1 min] holds both ends
        #expect(isExactly(m(minute - 1), 1, scene))
        #expect(isExactly(m(minute + 1), 2, scene))  // the credit outside the window would make 3
        #expect(isExactly(m(2 * minute), 2, scene))
        #expect(isExactly(m(2 * minute + 1), 3, scene))
        #expect(isExactly(m(0), 1, scene))
    }

    @Test func channelFilterKeepsOnlyListedChannels() throws {
        let scene = { (s: inout SceneBuilder) in
            s.pay("p1", "m", "100", at: T - 3 * minute, channel: .qr)
            s.pay("p2", "m", "200", at: T - 2 * minute, channel: .p2p)
            s.pay("p3", "m", "400", at: T - 1 * minute, channel: .card)
            s.pay("m", "x", "50", at: T - 1, channel: .p2p)
            s.pay("m", "x", "70", at: T, channel: .bank)
        }
        let r = rule(credits: LegFilter(channels: [.qr, .card]), debits: LegFilter(channels: [.bank]))
        let a = try #require(alerts(r, scene).first)
        #expect(a.window?.inCount == 2)
        #expect(a.window?.inAmount == Money(decimal: "500"))
        #expect(a.window?.outCount == 1)
        #expect(a.window?.outAmount == Money(decimal: "70"))
        #expect(a.evidence == ["tx-1", "tx-3", "tx-5"])
        #expect(isExactly(.inAmount, 500, credits: LegFilter(channels: [.qr, .card]), scene))
    }

    @Test func accountKindFilterReadsTheKindTheEventReportsForTheAccount() throws {
        let scene = { (s: inout SceneBuilder) in
            s.pay("p1", "m", "100", at: T - 3 * minute, payerKind: .merchant, payeeKind: .personal)
            s.pay("p2", "m", "200", at: T - 2 * minute, payerKind: .personal, payeeKind: .merchant)
            s.pay("p3", "m", "400", at: T - 1 * minute, payerKind: .personal, payeeKind: .unknown)
            s.pay("m", "x", "50", at: T - 1, payerKind: .merchant, payeeKind: .personal)
            s.pay("m", "x", "70", at: T, payerKind: .personal, payeeKind: .merchant)
        }
        let r = rule(credits: LegFilter(accountKinds: [.personal, .unknown]), debits: LegFilter(accountKinds: [.personal]))
        let a = try #require(alerts(r, scene).first)
        #expect(a.window?.inAmount == Money(decimal: "500"))  // payee_kind personal/unknown
        #expect(a.window?.outAmount == Money(decimal: "70"))  // payer_kind personal
    }

    @Test func counterpartyKindFilterReadsTheOtherSidesKind() throws {
        let scene = { (s: inout SceneBuilder) in
            s.pay("p1", "m", "100", at: T - 3 * minute, payerKind: .merchant, payeeKind: .personal)
            s.pay("p2", "m", "200", at: T - 2 * minute, payerKind: .personal, payeeKind: .merchant)
            s.pay("p3", "m", "400", at: T - 1 * minute, payerKind: .unknown, payeeKind: .personal)
            s.pay("m", "x", "50", at: T - 1, payerKind: .merchant, payeeKind: .personal)
            s.pay("m", "x", "70", at: T, payerKind: .personal, payeeKind: .merchant)
        }
        let r = rule(credits: LegFilter(counterpartyKinds: [.merchant]),
                     debits: LegFilter(counterpartyKinds: [.personal, .unknown]))
        let a = try #require(alerts(r, scene).first)
        #expect(a.window?.inAmount == Money(decimal: "100"))  // payer_kind merchant
        #expect(a.window?.outAmount == Money(decimal: "50"))  // payee_kind personal
        #expect(a.window?.distinctPayers == 1)
    }

    @Test func accountAgeRunsFromTheAccountsEarliestTransfer() {
        let scene = { (s: inout SceneBuilder) in
            s.pay("m", "y", "1", at: T - 3 * hour)  // long before any window
            s.pay("p", "m", "1", at: T - 1 * hour)
            s.pay("m", "x", "1", at: T)
        }
        #expect(isExactly(.accountAge, Double(3 * hour), scene))
        // A brand-new account is 0 ms old on its first transfer.
        #expect(isExactly(.accountAge, 0) { s in _ = s.pay("m", "x", "1", at: T) })
    }

    @Test func accountAgeUsesTheEarliestTransferEvenWhenItArrivesSecond() {
        var s = SceneBuilder(rules: [rule(.metric(.accountAge, Bound(min: Double(8 * second), max: Double(8 * second))))],
                             config: config(lateness: 10 * second))
        s.pay("p", "m", "1", at: T - 5 * second)
        s.pay("p", "m", "1", at: T - 8 * second)  // earlier, arrives later (within the lateness)
        s.pay("m", "x", "1", at: T)
        #expect(s.driver.finish().filter { $0.account == "m" }.map(\.eventTs) == [T])
    }

    @Test func allAnyAndNotCombineConditions() {
        let scene = { (s: inout SceneBuilder) in
            s.pay("p1", "m", "10", at: T - minute)
            s.pay("p2", "m", "10", at: T - 1)
            s.pay("m", "x", "19.8", at: T)
        }
        let yes = Condition.metric(.inCount, Bound(min: 2, max: 2))
        let no = Condition.metric(.outCount, Bound(min: 2))
        func fires(_ c: Condition) -> Bool { !alerts(rule(c), scene).isEmpty }
        #expect(fires(yes))
        #expect(!fires(no))
        #expect(fires(.all([yes, yes])))
        #expect(!fires(.all([yes, no])))
        #expect(fires(.any([no, yes])))
        #expect(!fires(.any([no, no])))
        #expect(fires(.not(no)))
        #expect(!fires(.not(yes)))
        #expect(fires(.all([])))
        #expect(!fires(.any([])))
        #expect(fires(.any([.not(.all([yes, no])), no])))
    }

    @Test func triggersChooseWhichLegsEvaluateTheRule() {
        func firings(_ trigger: RuleTrigger) -> [Int64] {
            var s = SceneBuilder(rules: [rule(trigger: trigger)], config: config())
            s.pay("p", "m", "10", at: T - minute)
            s.pay("m", "x", "9.8", at: T)
            return s.driver.finish().filter { $0.account == "m" }.map(\.eventTs)
        }
        #expect(firings(.credit) == [T - minute])
        #expect(firings(.debit) == [T])
        #expect(firings(.anyLeg) == [T - minute, T])
    }

    @Test func outcomeBandsPickTheHighestReachedAndBelowTheLowestRaiseNothing() throws {
        let twoPayers = Condition.metric(.inCount, Bound(min: 2))
        let threePayers = Condition.metric(.inCount, Bound(min: 3))
        // Only `m` (which receives) can fire; its payers' debits never do.
        let r = rule(.metric(.inCount, Bound(min: 1)), base: 0.5, signals: [ScoreSignal(weight: 0.2, condition: twoPayers),
                                          ScoreSignal(weight: 0.2, condition: threePayers)],
                     outcomes: [OutcomeBand(action: "block", minScore: 0.85), OutcomeBand(action: "review", minScore: 0.6)])
        func run(payers: Int) -> (alerts: [Alert], counters: DetectorCounters) {
            var s = SceneBuilder(rules: [r], config: config())
            for i in 0..<payers { s.pay("p\(i)", "m", "10", at: T - minute + Int64(i)) }
            s.pay("m", "x", "1", at: T)
            return (s.driver.finish(), s.driver.detector.counters)
        }
        let one = run(payers: 1)
        #expect(one.alerts.isEmpty)  // score 0.5 < 0.6
        #expect(one.counters.firingsBelowBands == 1)
        let two = try #require(run(payers: 2).alerts.first)
        #expect(two.action == "review")
        #expect(abs(two.score - 0.7) < 1e-12)
        let three = try #require(run(payers: 3).alerts.first)
        #expect(three.action == "block")
        #expect(abs(three.score - 0.9) < 1e-12)

        // Scores are clamped to 0…1; without bands every firing raises an alert, action nil.
        let high = alerts(rule(base: 0.9, signals: [ScoreSignal(weight: 0.5, condition: .always)])) { s in
            s.pay("m", "x", "1", at: T)
        }
        #expect(high.first?.score == 1)
        #expect(high.first?.action == nil)
        let low = alerts(rule(base: 0.1, signals: [ScoreSignal(weight: -0.5, condition: .always)])) { s in
            s.pay("m", "x", "1", at: T)
        }
        #expect(low.first?.score == 0)
    }

    @Test func shadowRulesMarkTheirAlerts() {
        let scene = { (s: inout SceneBuilder) in _ = s.pay("m", "x", "1", at: T) }
        #expect(alerts(rule(mode: .shadow), scene).first?.mode == .shadow)
        #expect(alerts(rule(mode: .enforce), scene).first?.mode == .enforce)
    }

    @Test func legCapDropsTheOldestLegs() throws {
        var c = config()
        c.maxLegsPerAccount = 4
        var s = SceneBuilder(rules: [rule()], config: c)
        for i in 0..<6 { s.pay("p\(i)", "m", "10", at: T - 6 * minute + Int64(i) * minute) }
        s.pay("m", "x", "50", at: T)
        let a = try #require(s.driver.finish().first { $0.account == "m" })
        #expect(s.driver.detector.counters.legsEvicted == 3)  // 7 legs, 4 kept
        #expect(a.window?.inCount == 3)
        #expect(a.evidence == ["tx-4", "tx-5", "tx-6", "tx-7"])
        #expect(a.window?.start == T - 3 * minute)
    }

    @Test func latePolicyProcessAppliesLateTransfersWithoutEvaluatingThem() throws {
        var c = config(lateness: 0)
        c.latePolicy = .process
        var s = SceneBuilder(rules: [rule(trigger: .anyLeg)], config: c)
        s.pay("p1", "m", "100", at: T - minute)
        s.pay("p2", "m", "50", at: T - 30 * second)
        #expect(s.pay("p3", "m", "200", at: T - 2 * minute) == .lateProcessed)
        s.pay("m", "x", "340", at: T)
        let alerts = s.driver.finish().filter { $0.account == "m" }
        #expect(s.driver.detector.counters.lateProcessed == 1)
        #expect(!alerts.contains { $0.eventTs == T - 2 * minute })  // the late leg is not evaluated
        let last = try #require(alerts.last)
        #expect(last.eventTs == T)
        #expect(last.window?.inCount == 3)
        #expect(last.window?.start == T - 2 * minute)  // inserted at its event-time position
        #expect(last.evidence == ["tx-3", "tx-1", "tx-2", "tx-4"])
        #expect(last.window?.medianDwellSeconds == 120)  // FIFO from the late (oldest) credit first
    }
}
