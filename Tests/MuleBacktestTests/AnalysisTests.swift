import Foundation
import MuleBacktest
import MuleCore
import MuleSimulator
import Testing

/// Events as NDJSON lines with explicit times, written to a temporary file.
struct EventFile {
    var lines: [String] = []
    var next = 0

    mutating func pay(_ payer: String, _ payee: String, _ amount: String, at ts: Int64, channel: String = "qr") {
        next += 1
        lines.append(#"{"id":"tx-\#(next)","ts":\#(ts),"payer":"\#(payer)","payee":"\#(payee)","amount":"\#(amount)","channel":"\#(channel)"}"#)
    }

    /// `payers` distinct payers pay `mule` 100.00 a minute apart from `start`; one minute after the
    /// last, the mule forwards 99 % to `sink`.
    mutating func burst(_ mule: String, payers: Int, from start: Int64, sink: String = "SINK") {
        for i in 0..<payers { pay("\(mule)-v\(i)", mule, "100.00", at: start + Int64(i) * 60_000) }
        pay(mule, sink, "\(payers * 99).00", at: start + Int64(payers) * 60_000)
    }

    func write() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("analysis-\(UUID()).ndjson").path
        _ = FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        return path
    }
}

/// 2025-11-25T00:00:00Z.
let day1: Int64 = 1_764_028_800_000
let minute: Int64 = 60_000

func passThroughRule(id: String = "pt", version: String = "1", payers: Double = 3, cooldownMillis: Int64 = 0) -> Rule {
    Rule(id: id, version: version, windowMillis: 3_600_000, cooldownMillis: cooldownMillis, trigger: .debit,
         conditions: .all([.metric(.distinctPayers, Bound(min: payers)), .metric(.passThrough, Bound(min: 0.9)),
                           .metric(.dwellMedian, Bound(max: 3_600_000))]))
}

@Suite struct AlertVolumeAndDelayTests {
    /// M1 forwards at once (delay 0); M2 and M3 first send a small test transfer 5 and 10 minutes
    /// before their burst is forwarded; F is flagged but not labelled; M4 is labelled, never flagged.
    static func scene() -> String {
        var f = EventFile()
        f.burst("M1", payers: 3, from: day1 + 60 * minute)                    // alert at day1 01:03
        f.pay("M2", "X", "1.00", at: day1 + 120 * minute)                      // first debit of M2
        f.burst("M2", payers: 3, from: day1 + 122 * minute)                    // alert at day1 02:05
        f.pay("M3", "X", "1.00", at: day1 + 1440 * minute + 30 * minute)       // day2 00:30
        f.burst("M3", payers: 4, from: day1 + 1440 * minute + 36 * minute)     // alert at day2 00:40
        f.burst("F", payers: 3, from: day1 + 1440 * minute + 120 * minute)     // day2, not a mule
        f.pay("M4", "X", "5.00", at: day1 + 1440 * minute + 200 * minute)
        return f.write()
    }

    @Test func countsAlertsPerUTCDayOverallAndPerRule() throws {
        let rules = [passThroughRule(), passThroughRule(id: "strict", payers: 4)]
        let s = try Backtest.run(eventsPath: Self.scene(), rules: rules, config: DetectorConfig()) { _ in }
        let d1 = UTCDay.day(of: day1)
        #expect(UTCDay.text(d1) == "2025-11-25")
        #expect(s.alertsByDay == [d1: 2, d1 + 1: 3])
        #expect(s.alertsPerDay(rule: "pt@1").map(\.alerts) == [2, 2])
        #expect(s.alertsPerDay(rule: "strict@1").map(\.alerts) == [0, 1])
        #expect(s.alertsByRule == ["pt@1": 4, "strict@1": 1])
        #expect(s.firstDebitAt.isEmpty, "no labels, no mule lookups")
        #expect(s.detectionDelay().count == 0)
    }

    @Test func measuresDelayFromFirstDebitToFirstAlertForLabelledMules() throws {
        let labels = try Labels.parse("account,is_mule\nM1,1\nM2,1\nM3,1\nM4,1\nF,0\n")
        let rules = [passThroughRule(), passThroughRule(id: "strict", payers: 4)]
        let s = try Backtest.run(eventsPath: Self.scene(), rules: rules, config: DetectorConfig(), labels: labels) { _ in }
        #expect(s.firstDebitAt == ["M1": day1 + 63 * minute, "M2": day1 + 120 * minute,
                                   "M3": day1 + 1470 * minute, "M4": day1 + 1640 * minute])
        let overall = s.detectionDelay()
        #expect(overall == DetectionDelay(seconds: [0, 300, 600]))
        #expect(overall.count == 3 && overall.median == 300 && overall.p90 == 600 && overall.max == 600)
        let strict = s.detectionDelay(rule: "strict@1")
        #expect(strict.count == 1 && strict.median == 600)
    }

    @Test func nearestRankPercentiles() {
        let d = DetectionDelay(seconds: (1...10).map(Double.init).reversed())
        #expect(d.count == 10 && d.median == 5 && d.p90 == 9 && d.max == 10)
        #expect(DetectionDelay(seconds: []) == DetectionDelay(seconds: []))
        #expect(UTCDay.timestamp(day1 + 63 * minute + 7_250) == "2025-11-25T01:03:07.250Z")
        #expect(UTCDay.text(UTCDay.day(of: -1)) == "1969-12-31")
    }
}

@Suite struct SweepTests {
    static let rule = Rule(
        id: "rpt", version: "2", windowMillis: 2 * 3_600_000, cooldownMillis: 3_600_000, trigger: .debit,
        credits: LegFilter(channels: [.qr]),
        conditions: .all([.metric(.distinctPayers, Bound(min: 5)),
                          .any([.not(.metric(.passThrough, Bound(max: 0.5))), .metric(.passThrough, Bound(min: 0.9))]),
                          .metric(.dwellMedian, Bound(max: 3_600_000))]),
        scoreBase: 0.6, signals: [ScoreSignal(weight: 0.2, condition: .metric(.distinctPayers, Bound(min: 10)))],
        outcomes: [OutcomeBand(action: "review", minScore: 0.6)])

    @Test func parsesAxesAndRejectsWhatTheRuleDoesNotHave() throws {
        let a = try SweepAxis(parsing: "dwell.max=10m,1h")
        #expect(a.values == [600_000, 3_600_000] && !a.isMin && a.reported(600_000) == 600)
        #expect(throws: SweepError.self) { try SweepAxis(parsing: "foo.min=1") }
        #expect(throws: SweepError.self) { try SweepAxis(parsing: "pass_through.avg=1") }
        #expect(throws: SweepError.self) { try SweepAxis(parsing: "dwell.max=5") }
        #expect(throws: SweepError.self) { try SweepAxis(parsing: "pass_through.min=") }
        #expect(throws: SweepError.notInRule(axis: "retained.max", rule: "rpt@2")) {
            try Sweep(rule: Self.rule, axes: [SweepAxis(parsing: "retained.max=0.1")])
        }
        #expect(throws: SweepError.notInRule(axis: "distinct_payers.max", rule: "rpt@2")) {
            try Sweep(rule: Self.rule, axes: [SweepAxis(parsing: "distinct_payers.max=9")])
        }
        #expect(throws: SweepError.repeatedAxis("dwell.median.max")) {
            try Sweep(rule: Self.rule, axes: [SweepAxis(parsing: "dwell.max=1m"), SweepAxis(parsing: "dwell.median.max=2m")])
        }
    }

    @Test func buildsOneVersionedVariantPerCombinationInGridOrder() throws {
        let s = try Sweep(rule: Self.rule, axes: [SweepAxis(parsing: "distinct_payers.min=3,4"), SweepAxis(parsing: "pass_through.max=0.4,0.6,0.7")])
        #expect(s.grid == [[3, 0.4], [3, 0.6], [3, 0.7], [4, 0.4], [4, 0.6], [4, 0.7]])
        #expect(s.texts(4) == ["4", "0.6"])
        let v = s.variants
        #expect(v.map(\.version) == (0..<6).map { "2+sweep.\($0)" })
        // The first leaf reading the metric changes (here the one under `not`); the rest stays.
        #expect(v[5].conditions == .all([.metric(.distinctPayers, Bound(min: 4)),
                                        .any([.not(.metric(.passThrough, Bound(max: 0.7))), .metric(.passThrough, Bound(min: 0.9))]),
                                        .metric(.dwellMedian, Bound(max: 3_600_000))]))
        #expect(v[5].signals == Self.rule.signals && v[5].cooldownMillis == Self.rule.cooldownMillis)
    }

    @Test func onePassAgreesWithASeparateBacktestPerVariant() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let events = dir.appendingPathComponent("events.ndjson").path
        let labelsPath = dir.appendingPathComponent("labels.csv").path
        _ = try SimulationWriter.write(config: SimulationConfig(seed: 7, accounts: 2000, events: 25_000), eventsPath: events, labelsPath: labelsPath)
        let labels = try Labels.load(path: labelsPath)
        let sweep = try Sweep(rule: Self.rule, axes: [SweepAxis(parsing: "distinct_payers.min=2,10,20,40"), SweepAxis(parsing: "dwell.max=2m,1h")])
        let (points, _) = try sweep.run(eventsPath: events, config: DetectorConfig(), labels: labels)
        #expect(points.count == 8)
        #expect(Set(points.map(\.flagged.count)).count > 1, "the grid should matter on this history")
        for p in points {
            var ids: [String] = []
            let single = try Backtest.run(eventsPath: events, rules: [p.variant], config: DetectorConfig()) { ids.append($0.alertId) }
            #expect(single.flaggedByRule[p.variant.key] ?? [] == p.flagged, "\(p.values)")
            #expect(single.alerts == p.alerts, "\(p.values)")
            #expect(Score(flagged: single.flagged, labels: labels) == p.score)
        }
    }
}

@Suite struct RuleSetDiffTests {
    @Test func tighteningOnlyRemovesAndLooseningOnlyAdds() throws {
        var f = EventFile()
        f.burst("M3", payers: 3, from: day1)
        f.burst("M5", payers: 5, from: day1 + 30 * minute)
        f.burst("M8", payers: 8, from: day1 + 60 * minute)
        let events = f.write()
        let current = [passThroughRule(payers: 5), passThroughRule(id: "other", payers: 8)]
        let tight = [passThroughRule(version: "2", payers: 6), passThroughRule(id: "other", payers: 8)]
        let loose = [passThroughRule(version: "3", payers: 3), passThroughRule(id: "other", payers: 8), passThroughRule(id: "extra", payers: 8)]
        func run(_ rules: [Rule]) throws -> BacktestSummary { try Backtest.run(eventsPath: events, rules: rules, config: DetectorConfig()) { _ in } }
        let base = try run(current)

        let t = RuleSetDiff(old: current, new: tight, oldSummary: base, newSummary: try run(tight))
        #expect(t.added.isEmpty)
        #expect(t.removed == [RuleSetDiff.Change(account: "M5", ruleId: "pt", firstAlertTs: day1 + 35 * minute)])
        #expect(t.kept == 2 && t.onlyInOld.isEmpty && t.onlyInNew.isEmpty)

        let l = RuleSetDiff(old: current, new: loose, oldSummary: base, newSummary: try run(loose))
        #expect(l.removed.isEmpty)
        #expect(l.added.map { "\($0.account)/\($0.ruleId)" } == ["M3/pt", "M8/extra"])
        #expect(l.onlyInNew == ["extra"])
    }
}
