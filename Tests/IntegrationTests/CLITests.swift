import Foundation
import Testing

/// The CLI verbs of CONTRACTS.md §4 as scripts use them: exit codes, output files, messages.
@Suite(.timeLimit(.minutes(3)))
struct CLITests {
    @Test func rulesCheckAcceptsTheShippedRules() throws {
        let (status, out, err) = try runToEnd(Env.mulestream, ["rules", "check", "Rules"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("ok Rules/rapid-pass-through.yaml: rapid-pass-through@2"))
        #expect(out.contains("layered-forwarding@1"))
    }

    @Test func rulesCheckNamesFileLineColumnAndFieldAndExitsTwo() throws {
        let dir = Env.tempDir()
        let file = dir.appendingPathComponent("broken.yaml")
        try """
        id: broken
        version: 1
        severity: high
        window: 2h
        conditions:
          all:
            - pass_through: { min: 1.5 }
            - pass_thru: { min: 0.5 }
        """.write(to: file, atomically: true, encoding: .utf8)
        let (status, _, err) = try runToEnd(Env.mulestream, ["rules", "check", file.path])
        #expect(status == 2)
        #expect(err.contains("broken.yaml:7:"))
        #expect(err.contains("conditions.all[0].pass_through.min: must be between 0 and 1, got 1.5"))
        #expect(err.contains("did you mean `pass_through`"))
    }

    @Test func simulateThenBacktestScoresAgainstLabels() throws {
        let dir = Env.tempDir()
        let events = dir.appendingPathComponent("events.ndjson").path
        let labels = dir.appendingPathComponent("labels.csv").path
        let alerts = dir.appendingPathComponent("alerts.ndjson").path
        let (s1, out1, e1) = try runToEnd(Env.mulestream, ["simulate", "--seed", "11", "--accounts", "3000", "--events", "40000", "--out", events, "--labels", labels])
        #expect(s1 == 0, "\(e1)")
        #expect(out1.contains("wrote"))
        let header = try String(contentsOfFile: labels, encoding: .utf8).split(separator: "\n").first
        #expect(header == "account,is_mule,role")

        let (s2, out2, e2) = try runToEnd(Env.mulestream, ["backtest", "--events", events, "--rules", "Rules", "--labels", labels, "--alerts-out", alerts, "--json"])
        #expect(s2 == 0, "\(e2)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(out2.utf8)) as? [String: Any])
        let overall = try #require(summary["overall"] as? [String: Any])
        #expect((overall["precision"] as? Double ?? 0) >= 0.95, "\(overall)")
        #expect((overall["recall"] as? Double ?? 0) >= 0.6, "\(overall)")
        let perRule = try #require(summary["per_rule"] as? [String: Any])
        #expect(perRule.keys.sorted() == ["gang-sink@1", "layered-chain@1", "layered-forwarding@1", "rapid-pass-through@2"])
        let lines = try String(contentsOfFile: alerts, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == summary["alerts"] as? Int)
        #expect(lines.allSatisfy { $0.hasPrefix("{\"alert_id\":") })

        // Same input, same alerts: the backtest is reproducible byte for byte.
        let again = dir.appendingPathComponent("again.ndjson").path
        _ = try runToEnd(Env.mulestream, ["backtest", "--events", events, "--rules", "Rules", "--alerts-out", again])
        #expect(try Data(contentsOf: URL(fileURLWithPath: again)) == Data(contentsOf: URL(fileURLWithPath: alerts)))
    }

    @Test func gangsGroupsEachPlantedGangAroundItsSink() throws {
        let dir = Env.tempDir()
        let events = dir.appendingPathComponent("events.ndjson").path
        let labels = dir.appendingPathComponent("labels.csv").path
        let (s1, _, e1) = try runToEnd(Env.mulestream, ["simulate", "--seed", "4", "--accounts", "6000", "--events", "80000", "--out", events, "--labels", labels])
        #expect(s1 == 0, "\(e1)")
        let (s2, out, e2) = try runToEnd(Env.mulestream, ["gangs", "--events", events, "--rules", "Rules", "--json"])
        #expect(s2 == 0, "\(e2)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let gangs = try #require(obj["gangs"] as? [[String: Any]])
        var roles: [String: String] = [:]
        for line in try String(contentsOfFile: labels, encoding: .utf8).split(separator: "\n").dropFirst() {
            let c = line.split(separator: ",")
            if c.count >= 3 { roles[String(c[0])] = String(c[2]) }
        }
        let sinks = Set(roles.filter { $0.value == "sink" }.keys)
        #expect(!gangs.isEmpty)
        // Every gang is built around exactly one planted sink, and every planted sink heads one gang.
        var sinksSeen = Set<String>()
        for g in gangs {
            let members = g["members"] as? [String] ?? []
            let mine = Set(members).intersection(sinks)
            #expect(mine.count == 1, "\(g)")
            sinksSeen.formUnion(mine)
            let planted = members.filter { roles[$0]?.hasPrefix("mule") == true || roles[$0] == "sink" }
            #expect(Double(planted.count) >= 0.9 * Double(members.count), "\(g)")
            #expect((g["id"] as? String)?.hasPrefix("G-") == true)
        }
        #expect(sinksSeen == sinks)
        #expect((obj["peak_hops"] as? Int ?? 0) > 0)
    }

    @Test func backtestReportsUnreadableInputAsUsageError() throws {
        let (status, _, err) = try runToEnd(Env.mulestream, ["backtest", "--events", "/nonexistent.ndjson", "--rules", "Rules"])
        #expect(status == 2)
        #expect(err.contains("cannot read events file"))
    }

    @Test func demoFindsEveryPlantedFirstLayerMuleAndExitsZero() throws {
        let (status, out, err) = try runToEnd(Env.mulestream, ["demo"], timeout: 120)
        #expect(status == 0, "\(err)")
        let line = try #require(out.split(separator: "\n").first { $0.contains("planted mule:") })
        let counts = line.split(separator: " ").last { $0.contains("/") }.map { $0.split(separator: "/") }
        #expect(counts?.count == 2 && counts?[0] == counts?[1], "\(out)\n\(err)")
        #expect(out.contains("false flags:           0"))
        #expect(out.contains("dead-lettered:         5"))
    }
}
