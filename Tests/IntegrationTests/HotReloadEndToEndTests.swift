import Foundation
import Testing

/// Changing rules under a running `mulestream run` process (SIGHUP), and deterministic replay:
/// `backtest` and `run` give the same alerts for the same events and rule set.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct HotReloadEndToEndTests {
    let e2e = EndToEndTests()

    func startBroker(dir: URL, topics: [String]) throws -> (Child, String) {
        let file = dir.appendingPathComponent("bootstrap")
        let broker = try Child(Env.mulestream, ["dev-broker", "--bootstrap-file", file.path] + topics.flatMap { ["--topic", $0] },
                               dir: dir, name: "broker")
        let address = eventually(seconds: 15) { () -> String? in
            let text = (try? String(contentsOf: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            return text?.isEmpty == false ? text : nil
        }
        return (broker, try #require(address, "dev-broker did not write its bootstrap file: \(broker.stderr)"))
    }

    static func copyRules(to dir: URL) throws -> URL {
        let rules = dir.appendingPathComponent("Rules")
        try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
        let src = Env.repoRoot.appendingPathComponent("Rules")
        for name in try FileManager.default.contentsOfDirectory(atPath: src.path) where name.hasSuffix(".yaml") {
            try FileManager.default.copyItem(at: src.appendingPathComponent(name), to: rules.appendingPathComponent(name))
        }
        return rules
    }

    @Test func sighupReloadsChangedRulesRefusesABadFileAndKeepsRunning() throws {
        let dir = Env.tempDir()
        let (broker, brokers) = try startBroker(dir: dir, topics: ["payments:2", "alerts:1", "payments.dlq:1", "alerts.shadow:1"])
        defer { broker.terminate(); broker.wait(seconds: 10) }
        let rules = try Self.copyRules(to: dir)
        let file = rules.appendingPathComponent("rapid-pass-through.yaml")
        let original = try String(contentsOf: file, encoding: .utf8)

        let engine = try Child(Env.mulestream, [
            "run", "--brokers", brokers, "--input", "payments", "--output", "alerts", "--rules", rules.path,
            "--group", "hup", "--idle-flush", "1s", "--commit-interval", "500ms", "--allowed-lateness", "30s",
            "--rule-check-interval", "0s", "-X", "session.timeout.ms=6000",
        ], dir: dir, name: "engine")
        defer { engine.terminate(); engine.wait(seconds: 10) }
        #expect(eventually(seconds: 30) { engine.stderr.contains("partitions assigned") ? true : nil } == true, "\(engine.stderr)")

        // A broken edit: refused with the file and line, the engine keeps running the old rules.
        try original.replacingOccurrences(of: "severity: high", with: "severity: extreme").write(to: file, atomically: true, encoding: .utf8)
        kill(engine.process.processIdentifier, SIGHUP)
        #expect(eventually(seconds: 10) { engine.stderr.contains("rule reload refused: \(file.path):") ? true : nil } == true,
                "bad file not reported: \(engine.stderr)")
        #expect(engine.process.isRunning, "SIGHUP stopped the engine: \(engine.stderr)")

        // The fixed edit: a new version of the rule.
        try original.replacingOccurrences(of: "\nversion: 2\n", with: "\nversion: 3\n").write(to: file, atomically: true, encoding: .utf8)
        kill(engine.process.processIdentifier, SIGHUP)
        #expect(eventually(seconds: 10) { engine.stderr.contains("rules reloaded") ? true : nil } == true, "no reload: \(engine.stderr)")
        #expect(engine.stderr.contains("rapid-pass-through@2,") || engine.stderr.contains("rapid-pass-through@2 →"))
        #expect(engine.stderr.contains("rapid-pass-through@3"))

        try e2e.produce(EndToEndTests.inTimeOrder(EndToEndTests.mule("M-HUP", at: EndToEndTests.start)), brokers: brokers)
        let got = try eventually(seconds: 60, every: 0.5) { () -> [[String: Any]]? in
            let a = try e2e.alerts(brokers: brokers)
            return a.count >= 2 ? a : nil
        }
        let alerts = try #require(got, "no alerts after the reload: \(engine.stderr)")
        let rapid = try #require(alerts.first { $0["rule"] as? String == "rapid-pass-through" })
        #expect(rapid["rule_version"] as? String == "3")
        #expect(rapid["account"] as? String == "M-HUP")
        engine.terminate()
        #expect(engine.wait(seconds: 30) == 0, "engine did not stop cleanly: \(engine.stderr)")
        #expect(engine.stderr.contains("rule_reloads=1"))
        #expect(engine.stderr.contains("rule_reload_failures=1"))
    }

    /// Same events, same rule set: `backtest` and `run` write the same alerts, byte for byte,
    /// except `emitted_at` (the wall clock in `run`, the event time in `backtest`).
    @Test func backtestAndRunGiveIdenticalAlertsForTheSameEventsAndRuleSet() throws {
        let dir = Env.tempDir()
        let events = dir.appendingPathComponent("events.ndjson")
        let (simStatus, _, simErr) = try runToEnd(Env.mulestream, [
            "simulate", "--seed", "9", "--accounts", "3000", "--events", "20000",
            "--out", events.path, "--labels", dir.appendingPathComponent("labels.csv").path,
        ])
        #expect(simStatus == 0, "\(simErr)")
        let backtestOut = dir.appendingPathComponent("backtest-alerts.ndjson")
        let (btStatus, _, btErr) = try runToEnd(Env.mulestream, ["backtest", "--events", events.path, "--rules", "Rules",
                                                                 "--alerts-out", backtestOut.path], timeout: 120)
        #expect(btStatus == 0, "\(btErr)")

        // One partition, in the file's (event-time) order: the engine sees what the backtest reads.
        let (broker, brokers) = try startBroker(dir: dir, topics: ["replay-in:1", "replay-alerts:1", "replay-alerts.shadow:1", "replay-in.dlq:1"])
        defer { broker.terminate(); broker.wait(seconds: 10) }
        let lines = try String(contentsOf: events, encoding: .utf8).split(separator: "\n").count
        let (pStatus, _, pErr) = try runToEnd(Env.kcat, ["-P", "-b", brokers, "-t", "replay-in", "-p", "0", "-l", events.path], timeout: 120)
        #expect(pStatus == 0, "kcat -P failed: \(pErr)")
        let engine = try Child(Env.mulestream, [
            "run", "--brokers", brokers, "--input", "replay-in", "--output", "replay-alerts", "--rules", "Rules",
            "--group", "replay", "--exit-when-idle", "3s", "-X", "session.timeout.ms=6000",
        ], dir: dir, name: "engine")
        #expect(engine.wait(seconds: 180) == 0, "engine failed: \(engine.stderr)")
        #expect(EndToEndTests.consumedCount(engine.stderr) == lines, "not every event was read (mock retention?): \(engine.stderr)")

        func normalized(_ text: [String]) -> [String] {
            text.filter { !$0.isEmpty }
                .map { $0.replacingOccurrences(of: #""emitted_at":"[^"]*","#, with: "", options: .regularExpression) }
                .sorted()
        }
        let fromBacktest = normalized(try String(contentsOf: backtestOut, encoding: .utf8).split(separator: "\n").map(String.init))
        let fromRun = normalized(try e2e.consume("replay-alerts", brokers: brokers) + e2e.consume("replay-alerts.shadow", brokers: brokers))
        #expect(fromBacktest.count > 10, "the stream should raise alerts")
        #expect(fromRun.allSatisfy { !$0.contains("emitted_at") })
        #expect(fromRun == fromBacktest, "run and backtest differ: \(Set(fromRun).symmetricDifference(fromBacktest).prefix(6))")
    }
}
