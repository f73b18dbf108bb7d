import ArgumentParser
import Foundation
import MuleBacktest
import MuleCore
import MuleRules

extension MuleStream {
    struct Backtest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay an NDJSON event file through the engine's core and score the alerts.",
            discussion: """
            Events are applied in event-time order within --allowed-lateness (raise it for unsorted files). Alerts go \
            to --alerts-out as NDJSON (or stdout). Prints alert volume per UTC day (of the alerts' event time), overall \
            and per rule. With --labels, prints precision, recall and F1 of the flagged accounts overall and per rule, \
            and the detection delay of flagged mules (event time from a mule's first debit to its first alert: count, \
            median, p90, max in seconds). --json prints the summary as one JSON object.

            Example:
              mulestream backtest --events events.ndjson --rules Rules \\
                --labels labels.csv --alerts-out alerts.ndjson
            """
        )

        @OptionGroup var input: ReplayInput

        @Option(help: ArgumentHelp("Labels CSV (account,is_mule[,…]).", valueName: "file"))
        var labels: String?

        @Option(help: ArgumentHelp("Write alerts here as NDJSON (default: stdout).", valueName: "file"))
        var alertsOut: String?

        @Option(help: ArgumentHelp("Snooze file (account,rule,until,reason): snoozed hits are counted, not written.", valueName: "file"))
        var snoozes: String?

        @Flag(help: "Print the summary as one JSON object.")
        var json = false


        func run() throws {
            let (ruleSet, config) = try input.load()
            let truth = try labels.map(loadLabels)
            let snoozeList: SnoozeList
            do { snoozeList = SnoozeList(try snoozes.map { try SnoozeFile.load(path: $0) } ?? []) } catch {
                throw CLIFailure.usage("\(error)")
            }
            let sink = try AlertFile(path: alertsOut)
            let summary: BacktestSummary
            do {
                summary = try MuleBacktest.Backtest.run(eventsPath: input.events, rules: ruleSet, config: config, snoozes: snoozeList, labels: truth) { alert in
                    sink.write(AlertEncoder.encode(alert, emittedAtMillis: alert.eventTs))
                }
            } catch {
                throw CLIFailure.runtime("\(error)")
            }
            sink.close()
            let report = BacktestReport(summary: summary, rules: ruleSet, labels: truth)
            let text = json ? report.json() : report.text()
            // Alerts own stdout when no --alerts-out is given; the summary then goes to stderr.
            if alertsOut == nil && !json { printError(text) } else { say(text) }
        }
    }
}

/// NDJSON alert output to a file or stdout. `emitted_at` in a backtest is the event time of the
/// alert (replays have no meaningful wall clock), so a backtest's output is reproducible.
final class AlertFile {
    private let handle: UnsafeMutablePointer<FILE>
    private let owned: Bool

    init(path: String?) throws {
        if let path {
            guard let f = fopen(path, "wb") else { throw CLIFailure.runtime("cannot write `\(path)`") }
            handle = f
            owned = true
        } else {
            fflush(nil)
            guard let f = fdopen(dup(1), "wb") else { throw CLIFailure.runtime("cannot write to stdout") }
            handle = f
            owned = true
        }
    }

    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, handle) }
        fputc(10, handle)
    }

    func close() {
        if owned { fclose(handle) } else { fflush(handle) }
    }
}

/// The backtest's summary as text or JSON.
struct BacktestReport {
    var summary: BacktestSummary
    var rules: [Rule]
    var labels: Labels?

    func text() -> String {
        var out: [String] = []
        let rejected = summary.rejected.values.reduce(0, +)
        out.append("events: \(summary.lines) lines, \(summary.applied) applied, \(rejected) rejected, \(summary.duplicates) duplicates, \(summary.late) late")
        for (code, n) in summary.rejected.sorted(by: { $0.key < $1.key }) { out.append("  rejected \(code): \(n)") }
        for s in summary.rejectedSamples { out.append("  e.g. \(s)") }
        out.append("alerts: \(summary.alerts) on \(summary.flagged.count) accounts" + (summary.snoozed > 0 ? ", \(summary.snoozed) snoozed hits not written" : ""))
        out.append("speed: \(Int(summary.eventsPerSecond)) events/s (\(String(format: "%.2f", summary.seconds)) s)")
        if let labels {
            out.append("scores against \(labels.mules.count) labelled mules:")
            out.append("  " + pad("rule", 34) + pad("flagged", 9) + pad("TP", 6) + pad("FP", 6) + pad("precision", 11) + pad("recall", 9) + "F1")
            for (name, s) in scores(labels) {
                out.append("  " + pad(name, 34) + pad("\(s.flagged)", 9) + pad("\(s.truePositives)", 6) + pad("\(s.falsePositives)", 6)
                    + pad(f3(s.precision), 11) + pad(f3(s.recall), 9) + f3(s.f1))
            }
            out.append("detection delay, first debit to first alert (event time, s):")
            out.append("  " + pad("rule", 34) + pad("mules", 9) + pad("median", 10) + pad("p90", 10) + "max")
            for (name, d) in delays() {
                out.append("  " + pad(name, 34) + pad("\(d.count)", 9) + pad(secs(d.median), 10) + pad(secs(d.p90), 10) + secs(d.max))
            }
        }
        let days = summary.alertsPerDay()
        if !days.isEmpty {
            out.append("alerts per day (UTC, by alert event time):")
            out.append("  " + pad("day", 12) + pad("all", 8) + rules.map { pad($0.key, max(10, $0.key.count + 2)) }.joined())
            let byRule = rules.map { r in Dictionary(uniqueKeysWithValues: summary.alertsPerDay(rule: r.key).map { ($0.day, $0.alerts) }) }
            for d in days {
                out.append("  " + pad(UTCDay.text(d.day), 12) + pad("\(d.alerts)", 8)
                    + zip(rules, byRule).map { r, m in pad("\(m[d.day] ?? 0)", max(10, r.key.count + 2)) }.joined())
            }
        }
        return out.joined(separator: "\n")
    }

    func scores(_ labels: Labels) -> [(String, Score)] {
        var rows = [("overall", Score(flagged: summary.flagged, labels: labels))]
        for r in rules {
            rows.append((r.key, Score(flagged: summary.flaggedByRule[r.key] ?? [], labels: labels)))
        }
        return rows
    }

    func delays() -> [(String, DetectionDelay)] {
        [("overall", summary.detectionDelay())] + rules.map { ($0.key, summary.detectionDelay(rule: $0.key)) }
    }

    func json() -> String {
        var obj: [String: Any] = [
            "events": summary.lines, "applied": summary.applied, "rejected": summary.rejected,
            "duplicates": summary.duplicates, "late": summary.late, "alerts": summary.alerts, "snoozed": summary.snoozed,
            "flagged_accounts": summary.flagged.count, "seconds": summary.seconds,
            "events_per_second": summary.eventsPerSecond,
        ]
        if let labels {
            var perRule: [String: Any] = [:]
            var overall: [String: Any] = [:]
            for (name, s) in scores(labels) {
                let o: [String: Any] = ["flagged": s.flagged, "true_positives": s.truePositives, "false_positives": s.falsePositives,
                                        "mules": s.mules, "precision": s.precision, "recall": s.recall, "f1": s.f1]
                if name == "overall" { overall = o } else { perRule[name] = o }
            }
            obj["overall"] = overall
            obj["per_rule"] = perRule
            func delay(_ d: DetectionDelay) -> [String: Any] { ["count": d.count, "median_s": d.median, "p90_s": d.p90, "max_s": d.max] }
            obj["detection_delay"] = [
                "overall": delay(summary.detectionDelay()),
                "per_rule": Dictionary(uniqueKeysWithValues: rules.map { ($0.key, delay(summary.detectionDelay(rule: $0.key))) }),
            ]
        }
        func days(_ rule: String?) -> [String: Int] {
            Dictionary(uniqueKeysWithValues: summary.alertsPerDay(rule: rule).map { (UTCDay.text($0.day), $0.alerts) })
        }
        obj["alerts_per_day"] = days(nil)
        obj["alerts_per_day_by_rule"] = Dictionary(uniqueKeysWithValues: rules.map { ($0.key, days($0.key)) })
        obj["alerts_by_rule"] = Dictionary(uniqueKeysWithValues: rules.map { ($0.key, summary.alertsByRule[$0.key] ?? 0) })
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
func f3(_ v: Double) -> String { String(format: "%.3f", v) }
func secs(_ v: Double) -> String { String(format: "%.0f", v) }
