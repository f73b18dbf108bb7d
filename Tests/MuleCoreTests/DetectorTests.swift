import MuleCore
import MuleTesting
import Testing

private let minute: Int64 = 60_000
private let t0: Int64 = 1_764_000_000_000

/// The walking-skeleton receive-and-forward rule: ≥ 5 distinct payers and ≥ 90 % passed on.
private func passThroughRule(window: Int64 = 60 * minute, cooldown: Int64 = 0) -> Rule {
    Rule(id: "pass-through", version: "1", windowMillis: window, cooldownMillis: cooldown, trigger: .debit,
         conditions: .all([.metric(.distinctPayers, Bound(min: 5)), .metric(.passThrough, Bound(min: 0.9))]))
}

private func noLateness() -> DetectorConfig {
    var c = DetectorConfig()
    c.allowedLatenessMillis = 0
    return c
}

@Suite struct DetectorTests {
    @Test func muleThatForwardsAlmostEverythingIsFlagged() {
        var s = SceneBuilder(rules: [passThroughRule()], config: noLateness())
        for i in 0..<6 { s.pay("victim-\(i)", "mule", "1000.00", at: t0 + Int64(i) * minute) }
        s.pay("mule", "next", "5910.00", at: t0 + 8 * minute)
        let alerts = s.driver.finish()
        #expect(alerts.count == 1)
        let a = try! #require(alerts.first)
        #expect(a.account == "mule")
        #expect(a.ruleId == "pass-through")
        #expect(a.window?.inCount == 6)
        #expect(a.window?.distinctPayers == 6)
        #expect(a.window?.outAmount == Money(decimal: "5910.00"))
        #expect(a.window?.passThrough == 0.985)
        #expect(a.evidenceCount == 7)
        #expect(a.evidence.first == "tx-1")
        #expect(a.window?.start == t0)
        #expect(a.window?.end == t0 + 8 * minute)
    }

    @Test func fourPayersAreNotEnough() {
        var s = SceneBuilder(rules: [passThroughRule()], config: noLateness())
        for i in 0..<4 { s.pay("friend-\(i)", "collector", "50.00", at: t0 + Int64(i) * minute) }
        s.pay("collector", "restaurant", "200.00", at: t0 + 10 * minute)
        #expect(s.driver.finish().isEmpty)
    }

    @Test func windowEdgeIsInclusive() {
        // Credit exactly `window` before the debit counts; one millisecond earlier does not.
        for (offset, expected) in [(Int64(0), 1), (Int64(1), 0)] {
            var s = SceneBuilder(rules: [passThroughRule(window: 10 * minute)], config: noLateness())
            s.pay("v0", "m", "100", at: t0 - offset)
            for i in 1..<5 { s.pay("v\(i)", "m", "100", at: t0 + Int64(i)) }
            s.pay("m", "x", "495", at: t0 + 10 * minute)
            #expect(s.driver.finish().count == expected, "offset \(offset)")
        }
    }

    @Test func outOfOrderWithinLatenessEqualsInOrder() {
        var events: [(String, Int64, String, String, String)] = []
        for i in 0..<8 { events.append(("tx-\(i)", t0 + Int64(i) * 1000, "p\(i)", "m", "100")) }
        events.append(("tx-out", t0 + 20_000, "m", "n", "790"))
        var config = DetectorConfig()
        config.allowedLatenessMillis = 30_000
        var inOrder = CoreDriver(rules: [passThroughRule()], config: config)
        for e in events { inOrder.send(id: e.0, ts: e.1, payer: e.2, payee: e.3, amount: e.4) }
        var shuffled = CoreDriver(rules: [passThroughRule()], config: config)
        for e in events.reversed() {
            #expect(shuffled.send(id: e.0, ts: e.1, payer: e.2, payee: e.3, amount: e.4) == .accepted)
        }
        let a = inOrder.finish()
        let b = shuffled.finish()
        #expect(a.count == 1)
        #expect(a == b)
    }

    @Test func lateEventIsDroppedAndCounted() {
        var config = DetectorConfig()
        config.allowedLatenessMillis = 1000
        var d = CoreDriver(rules: [passThroughRule()], config: config)
        d.send(id: "a", ts: t0 + 10_000, payer: "x", payee: "y", amount: "1")
        #expect(d.send(id: "b", ts: t0, payer: "x", payee: "y", amount: "1") == .late(behindMillis: 9000))
        #expect(d.send(id: "c", ts: t0 + 9000, payer: "x", payee: "y", amount: "1") == .accepted)
        #expect(d.detector.counters.lateDropped == 1)
    }

    @Test func lateEventCanBeProcessedAnyway() {
        var config = DetectorConfig()
        config.allowedLatenessMillis = 0
        config.latePolicy = .process
        var d = CoreDriver(rules: [passThroughRule()], config: config)
        d.send(id: "a", ts: t0 + 10_000, payer: "x", payee: "y", amount: "1")
        #expect(d.send(id: "b", ts: t0, payer: "x", payee: "y", amount: "1") == .lateProcessed)
        #expect(d.detector.counters.lateProcessed == 1)
    }

    @Test func duplicateIdIsProcessedOnce() {
        var s = CoreDriver(rules: [passThroughRule()], config: noLateness())
        for i in 0..<5 { s.send(id: "tx-\(i)", ts: t0 + Int64(i), payer: "p\(i)", payee: "m", amount: "100") }
        #expect(s.send(id: "tx-0", ts: t0 + 5, payer: "p0", payee: "m", amount: "100") == .duplicate)
        s.send(id: "out", ts: t0 + 100, payer: "m", payee: "n", amount: "495")
        let alerts = s.finish()
        #expect(alerts.first?.window?.inCount == 5)
        #expect(s.detector.counters.duplicates == 1)
    }

    @Test func cooldownSuppressesRepeatAlerts() {
        var s = SceneBuilder(rules: [passThroughRule(cooldown: 30 * minute)], config: noLateness())
        for i in 0..<5 { s.pay("v\(i)", "m", "100", at: t0 + Int64(i)) }
        s.pay("m", "n", "250", at: t0 + minute)
        s.pay("m", "n", "245", at: t0 + 2 * minute)
        s.pay("m", "n", "1", at: t0 + 20 * minute)
        s.pay("m", "n", "1", at: t0 + 40 * minute)
        let alerts = s.driver.finish()
        #expect(alerts.count == 2)
        #expect(s.driver.detector.counters.alertsSuppressedCooldown == 1)
    }

    @Test func alertIdIsDeterministic() {
        func run() -> [Alert] {
            var s = SceneBuilder(rules: [passThroughRule()], config: noLateness())
            for i in 0..<5 { s.pay("v\(i)", "m", "100", at: t0 + Int64(i)) }
            s.pay("m", "n", "495", at: t0 + minute)
            return s.driver.finish()
        }
        let a = run(), b = run()
        #expect(a.count == 1)
        #expect(a.map(\.alertId) == b.map(\.alertId))
        #expect(a[0].alertId.count == 32)
    }

    @Test func idleAccountsAreEvicted() {
        var s = SceneBuilder(rules: [passThroughRule(window: 10 * minute)], config: noLateness())
        for i in 0..<100 { s.pay("a\(i)", "b\(i)", "1", at: t0 + Int64(i)) }
        #expect(s.driver.detector.trackedAccounts == 200)
        s.pay("late-comer", "other", "1", at: t0 + 60 * minute)
        s.pay("late-comer", "other", "1", at: t0 + 61 * minute)
        #expect(s.driver.detector.trackedAccounts == 2)
        #expect(s.driver.detector.counters.accountsEvictedIdle == 200)
    }

    @Test func accountCapEvictsLeastRecentlyActive() {
        var config = noLateness()
        config.maxAccounts = 10
        var s = SceneBuilder(rules: [passThroughRule()], config: config)
        for i in 0..<20 { s.pay("a\(i)", "b\(i)", "1", at: t0 + Int64(i)) }
        #expect(s.driver.detector.trackedAccounts <= 11)
        #expect(s.driver.detector.counters.accountsEvictedCap >= 29)
    }

    @Test func legsPerAccountAreCapped() {
        var config = noLateness()
        config.maxLegsPerAccount = 8
        var s = SceneBuilder(rules: [passThroughRule()], config: config)
        for i in 0..<20 { s.pay("p\(i)", "shop", "1", at: t0 + Int64(i)) }
        _ = s.driver.finish()
        #expect(s.driver.detector.counters.legsEvicted == 12)
    }

    @Test func encoderWritesContractFields() {
        var s = SceneBuilder(rules: [passThroughRule()], config: noLateness())
        for i in 0..<5 { s.pay("v\(i)", "m\"q", "100", at: t0 + Int64(i)) }
        s.pay("m\"q", "n", "495", at: t0 + minute)
        let a = s.driver.finish()[0]
        let text = String(decoding: AlertEncoder.encode(a, emittedAtMillis: 1_764_000_421_120), as: UTF8.self)
        #expect(text.hasPrefix("{\"alert_id\":\""))
        #expect(text.contains("\"account\":\"m\\\"q\""))
        #expect(text.contains("\"rule\":\"pass-through\",\"rule_version\":\"1\",\"rule_set\":\"\(s.driver.detector.ruleSet)\",\"severity\":\"high\""))
        #expect(text.contains("\"emitted_at\":\"2025-11-24T16:07:01.120Z\""))
        #expect(text.contains("\"in_amount\":\"500.00\""))
        #expect(text.contains("\"pass_through\":0.99"))
        #expect(text.contains("\"evidence\":[\"tx-1\",\"tx-2\",\"tx-3\",\"tx-4\",\"tx-5\",\"tx-6\"]"))
    }

    @Test func rfc3339Formatting() {
        #expect(formatRFC3339(millis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(formatRFC3339(millis: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(formatRFC3339(millis: -1) == "1969-12-31T23:59:59.999Z")
    }
}
