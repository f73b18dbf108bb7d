import ArgumentParser
import Foundation
import MuleBacktest
import MuleCore

extension MuleStream.Rules {
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Backtest two rule sets on the same events and list the alerts the new set adds and removes.",
            discussion: """
            OLD and NEW are rule files or folders. Alerts are compared as (account, rule id) pairs — versions \
            differ between sets, so rules are matched by id; rules only in one set are listed. Prints summary counts \
            first, then the added and removed pairs with the event time of the pair's first alert.

            Example:
              mulestream rules diff Rules Rules.new --events events.ndjson
            """
        )

        @Argument(help: ArgumentHelp("The current rule file or folder.", valueName: "old"))
        var old: String

        @Argument(help: ArgumentHelp("The changed rule file or folder.", valueName: "new"))
        var new: String

        @Option(help: ArgumentHelp("NDJSON file of payment events.", valueName: "file"))
        var events: String

        @Flag(help: "Print the comparison as one JSON object.")
        var json = false

        @OptionGroup var detector: DetectorOptions

        func run() throws {
            let oldRules = try loadRules(old)
            let newRules = try loadRules(new)
            let config = try detector.detectorConfig()
            try requireEventsFile(events)
            let a: BacktestSummary
            let b: BacktestSummary
            do {
                a = try MuleBacktest.Backtest.run(eventsPath: events, rules: oldRules, config: config) { _ in }
                b = try MuleBacktest.Backtest.run(eventsPath: events, rules: newRules, config: config) { _ in }
            } catch {
                throw CLIFailure.runtime("\(error)")
            }
            let diff = RuleSetDiff(old: oldRules, new: newRules, oldSummary: a, newSummary: b)
            say(json ? jsonText(diff, a, b, oldRules, newRules) : text(diff, a, b, oldRules, newRules))
        }

        func text(_ d: RuleSetDiff, _ a: BacktestSummary, _ b: BacktestSummary, _ oldRules: [Rule], _ newRules: [Rule]) -> String {
            var out: [String] = []
            out.append("events: \(a.lines) lines, \(a.applied) applied")
            out.append("old \(old): \(oldRules.map(\.key).joined(separator: ", ")): \(a.alerts) alerts on \(a.flagged.count) accounts")
            out.append("new \(new): \(newRules.map(\.key).joined(separator: ", ")): \(b.alerts) alerts on \(b.flagged.count) accounts")
            out.append("(account, rule) pairs: \(d.added.count) added, \(d.removed.count) removed, \(d.kept) in both")
            if !d.onlyInOld.isEmpty { out.append("rules only in old: \(d.onlyInOld.joined(separator: ", "))") }
            if !d.onlyInNew.isEmpty { out.append("rules only in new: \(d.onlyInNew.joined(separator: ", "))") }
            for (title, list) in [("added", d.added), ("removed", d.removed)] {
                out.append("\(title): \(list.count)")
                if list.isEmpty { continue }
                let w = max(10, (list.map(\.account.count).max() ?? 0) + 2)
                let rw = max(6, (list.map(\.ruleId.count).max() ?? 0) + 2)
                out.append("  " + pad("account", w) + pad("rule", rw) + "first alert (event time)")
                for c in list { out.append("  " + pad(c.account, w) + pad(c.ruleId, rw) + UTCDay.timestamp(c.firstAlertTs)) }
            }
            return out.joined(separator: "\n")
        }

        func jsonText(_ d: RuleSetDiff, _ a: BacktestSummary, _ b: BacktestSummary, _ oldRules: [Rule], _ newRules: [Rule]) -> String {
            func side(_ path: String, _ rules: [Rule], _ s: BacktestSummary) -> [String: Any] {
                ["path": path, "rules": rules.map(\.key), "alerts": s.alerts, "flagged_accounts": s.flagged.count]
            }
            func list(_ cs: [RuleSetDiff.Change]) -> [[String: Any]] {
                cs.map { ["account": $0.account, "rule": $0.ruleId, "first_alert_ts": $0.firstAlertTs, "first_alert": UTCDay.timestamp($0.firstAlertTs)] }
            }
            let obj: [String: Any] = [
                "events": a.lines, "old": side(old, oldRules, a), "new": side(new, newRules, b),
                "added_count": d.added.count, "removed_count": d.removed.count, "kept_count": d.kept,
                "only_in_old": d.onlyInOld, "only_in_new": d.onlyInNew, "added": list(d.added), "removed": list(d.removed),
            ]
            let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }
}
