import Foundation
import Testing

/// The risk-team analysis verbs through the built binary: backtest volume and delay, `sweep`, `rules diff`.
@Suite(.timeLimit(.minutes(3)))
struct AnalysisCLITests {
    /// The two receive-and-forward rules these expectations were worked out for (the chain and
    /// sink rules have their own tests), copied out of `Rules/`.
    static let rules: String = {
        let dir = Env.tempDir().appendingPathComponent("forward-rules")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in ["rapid-pass-through.yaml", "layered-forwarding.yaml"] {
            try! FileManager.default.copyItem(at: Env.repoRoot.appendingPathComponent("Rules/\(f)"), to: dir.appendingPathComponent(f))
        }
        return dir.path
    }()

    /// 2025-11-25T00:00:00Z.
    static let day1: Int64 = 1_764_028_800_000
    static let minute: Int64 = 60_000

    /// QR bursts into personal accounts, each forwarded 99 % a minute after the last payment:
    /// M5 (5 payers) on day 1, forwarding at once; M3 (3 payers) on day 1; M8 (8 payers) on day 2,
    /// which sent a 1.00 test transfer 10 minutes before it forwards.
    static func writeScene(_ dir: URL) throws -> (events: String, labels: String) {
        var lines: [String] = []
        var n = 0
        func pay(_ payer: String, _ payee: String, _ amount: String, _ ts: Int64) {
            n += 1
            lines.append(#"{"id":"tx-\#(n)","ts":\#(ts),"payer":"\#(payer)","payee":"\#(payee)","amount":"\#(amount)","channel":"qr","payee_kind":"personal"}"#)
        }
        func burst(_ mule: String, _ payers: Int, _ start: Int64) {
            for i in 0..<payers { pay("\(mule)-v\(i)", mule, "100.00", start + Int64(i) * minute) }
            pay(mule, "SINK", "\(payers * 99).00", start + Int64(payers) * minute)
        }
        burst("M5", 5, day1 + 60 * minute)
        burst("M3", 3, day1 + 180 * minute)
        pay("M8", "X", "1.00", day1 + 1440 * minute)
        burst("M8", 8, day1 + 1442 * minute)
        let events = dir.appendingPathComponent("scene.ndjson")
        let labels = dir.appendingPathComponent("scene-labels.csv")
        try (lines.joined(separator: "\n") + "\n").write(to: events, atomically: true, encoding: .utf8)
        try "account,is_mule\nM3,1\nM5,1\nM8,1\n".write(to: labels, atomically: true, encoding: .utf8)
        return (events.path, labels.path)
    }

    /// A copy of the shipped Rules folder with rapid-pass-through's `distinct_payers.min` set to `payers`, as version 3.
    static func rulesCopy(_ dir: URL, payers: Int) throws -> String {
        let copy = dir.appendingPathComponent("rules-\(payers)")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: Self.rules), to: copy)
        let file = copy.appendingPathComponent("rapid-pass-through.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        let changed = text.replacingOccurrences(of: "distinct_payers: { min: 5 }", with: "distinct_payers: { min: \(payers) }")
            .replacingOccurrences(of: "\nversion: 2\n", with: "\nversion: 3\n")
        #expect(changed != text)
        try changed.write(to: file, atomically: true, encoding: .utf8)
        return copy.path
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func backtestReportsAlertsPerDayAndDetectionDelay() throws {
        let dir = Env.tempDir()
        let (events, labels) = try Self.writeScene(dir)
        let (status, out, err) = try runToEnd(Env.mulestream, ["backtest", "--events", events, "--rules", Self.rules, "--labels", labels,
                                                               "--alerts-out", dir.appendingPathComponent("a.ndjson").path, "--json"])
        #expect(status == 0, "\(err)")
        let s = try json(out)
        #expect(s["alerts_per_day"] as? [String: Int] == ["2025-11-25": 1, "2025-11-26": 1])
        let byRule = try #require(s["alerts_per_day_by_rule"] as? [String: [String: Int]])
        #expect(byRule["rapid-pass-through@2"] == ["2025-11-25": 1, "2025-11-26": 1])
        #expect(byRule["layered-forwarding@1"] == ["2025-11-25": 0, "2025-11-26": 0])
        let delay = try #require(s["detection_delay"] as? [String: Any])
        let overall = try #require(delay["overall"] as? [String: Any])
        #expect(overall["count"] as? Int == 2)
        #expect(overall["median_s"] as? Double == 0)
        #expect(overall["p90_s"] as? Double == 600)
        #expect(overall["max_s"] as? Double == 600)
        // The scorecard keys scripts rely on are still there.
        #expect((s["overall"] as? [String: Any])?["recall"] != nil && s["per_rule"] != nil)

        let (_, _, text) = try runToEnd(Env.mulestream, ["backtest", "--events", events, "--rules", Self.rules, "--labels", labels])
        #expect(text.contains("alerts per day (UTC, by alert event time):"))
        #expect(text.contains("  2025-11-26  1"))
        #expect(text.contains("detection delay, first debit to first alert"))
    }

    @Test func sweepPrintsTheGridAndItsShippedPointMatchesTheBacktest() throws {
        let dir = Env.tempDir()
        let events = dir.appendingPathComponent("events.ndjson").path
        let labels = dir.appendingPathComponent("labels.csv").path
        let (s1, _, e1) = try runToEnd(Env.mulestream, ["simulate", "--seed", "11", "--accounts", "3000", "--events", "40000", "--out", events, "--labels", labels])
        #expect(s1 == 0, "\(e1)")
        let (s2, out2, e2) = try runToEnd(Env.mulestream, ["sweep", "--events", events, "--rules", Self.rules, "--rule", "rapid-pass-through",
                                                           "--vary", "distinct_payers.min=3,5,20,40", "--vary", "dwell.max=10m,30m,1h",
                                                           "--labels", labels, "--json"])
        #expect(s2 == 0, "\(e2)")
        #expect(out2.hasPrefix(#"{"rule":"rapid-pass-through@2","axes":["distinct_payers.min","dwell.max"],"points":[{"values":[3,600],"alerts":"#), "\(out2)")
        let sweep = try json(out2)
        let points = try #require(sweep["points"] as? [[String: Any]])
        #expect(points.count == 12)
        #expect(points.map { $0["values"] as? [Double] ?? [] }.map { $0.first ?? 0 } == [3, 3, 3, 5, 5, 5, 20, 20, 20, 40, 40, 40])
        for p in points {
            #expect(Set(p.keys) == ["values", "alerts", "flagged", "true_positives", "false_positives", "precision", "recall", "f1"])
        }
        // The grid point equal to the shipped rule (5 payers, 1 h) raises what `backtest` raises for it.
        let shipped = try #require(points.first { $0["values"] as? [Double] == [5, 3600] })
        let (s3, out3, e3) = try runToEnd(Env.mulestream, ["backtest", "--events", events, "--rules", Self.rules + "/rapid-pass-through.yaml",
                                                           "--labels", labels, "--alerts-out", dir.appendingPathComponent("a.ndjson").path, "--json"])
        #expect(s3 == 0, "\(e3)")
        let bt = try json(out3)
        let rule = try #require((bt["per_rule"] as? [String: Any])?["rapid-pass-through@2"] as? [String: Any])
        #expect(shipped["alerts"] as? Int == bt["alerts"] as? Int)
        #expect(shipped["flagged"] as? Int == rule["flagged"] as? Int)
        #expect(shipped["true_positives"] as? Int == rule["true_positives"] as? Int)
        #expect(shipped["recall"] as? Double == rule["recall"] as? Double)

        let (s4, out4, _) = try runToEnd(Env.mulestream, ["sweep", "--events", events, "--rules", Self.rules, "--rule", "rapid-pass-through@2",
                                                          "--vary", "pass_through.min=0.8,0.9", "--labels", labels])
        #expect(s4 == 0)
        #expect(out4.contains("pass_through.min") && out4.contains("precision"))
        #expect(out4.split(separator: "\n").count == 4)
    }

    @Test func sweepRejectsWhatTheRuleDoesNotHaveWithExitTwo() throws {
        let dir = Env.tempDir()
        let (events, labels) = try Self.writeScene(dir)
        let base = ["sweep", "--events", events, "--rules", Self.rules, "--labels", labels]
        let cases: [([String], String)] = [
            (["--rule", "rapid-pass-through", "--vary", "payer_count.min=3,4"], "unknown metric `payer_count`"),
            (["--rule", "rapid-pass-through", "--vary", "retained.max=0.02"], "has no `retained.max` bound"),
            (["--rule", "rapid-pass-through", "--vary", "distinct_payers.max=9"], "has no `distinct_payers.max` bound"),
            (["--rule", "rapid-pass-through", "--vary", "dwell.max=5"], "is not a duration"),
            (["--rule", "no-such-rule", "--vary", "distinct_payers.min=3"], "no such rule"),
            (["--rule", "rapid-pass-through"], "at least one --vary"),
        ]
        for (args, message) in cases {
            let (status, out, err) = try runToEnd(Env.mulestream, base + args)
            #expect(status == 2, "\(args)")
            #expect(err.contains(message), "\(args): \(err)")
            #expect(out.isEmpty)
        }
    }

    @Test func rulesDiffShowsOnlyRemovalsWhenTightenedAndOnlyAdditionsWhenLoosened() throws {
        let dir = Env.tempDir()
        let (events, _) = try Self.writeScene(dir)
        let tight = try Self.rulesCopy(dir, payers: 6)
        let loose = try Self.rulesCopy(dir, payers: 3)

        let (s1, out1, e1) = try runToEnd(Env.mulestream, ["rules", "diff", Self.rules, tight, "--events", events, "--json"])
        #expect(s1 == 0, "\(e1)")
        let t = try json(out1)
        #expect(t["added_count"] as? Int == 0)
        #expect(t["removed_count"] as? Int == 1)
        let removed = try #require(t["removed"] as? [[String: Any]])
        #expect(removed.first?["account"] as? String == "M5")
        #expect(removed.first?["rule"] as? String == "rapid-pass-through")
        #expect(removed.first?["first_alert"] as? String == "2025-11-25T01:05:00.000Z")
        #expect(t["only_in_old"] as? [String] == [] && t["only_in_new"] as? [String] == [])

        let (s2, out2, e2) = try runToEnd(Env.mulestream, ["rules", "diff", Self.rules, loose, "--events", events])
        #expect(s2 == 0, "\(e2)")
        let lines = out2.split(separator: "\n").map(String.init)
        #expect(lines.contains("(account, rule) pairs: 1 added, 0 removed, 2 in both"), "\(out2)")
        #expect(lines.contains("removed: 0"))
        let added = try #require(lines.firstIndex(of: "added: 1"))
        #expect(lines[added + 2].hasPrefix("  M3") && lines[added + 2].contains("rapid-pass-through") && lines[added + 2].hasSuffix("2025-11-25T03:03:00.000Z"))

        // A rule present in only one set is listed, and its alerts count as added or removed.
        let (s3, out3, _) = try runToEnd(Env.mulestream, ["rules", "diff", Self.rules + "/layered-forwarding.yaml", Self.rules, "--events", events])
        #expect(s3 == 0)
        #expect(out3.contains("rules only in new: rapid-pass-through"))
        #expect(out3.contains("2 added, 0 removed"), "\(out3)")
    }
}
