import ArgumentParser
import Foundation
import MuleBacktest
import MuleCore

extension MuleStream {
    struct Sweep: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score a grid of thresholds for one rule in a single replay of an event file.",
            discussion: """
            Each --vary METRIC.BOUND=v1,v2,… changes the `min` or `max` of the first condition in the rule's \
            `conditions` that reads METRIC (distinct_payers, in_count, in_amount, out_count, out_amount, \
            distinct_payees, pass_through, retained, dwell (the dwell leaf, whatever its stat), dwell.median, \
            dwell.p90, burst, account_age). Durations are written like 10m; --json reports them in seconds. Every \
            combination becomes a copy of the rule with version VERSION+sweep.N, and all copies run side by side in \
            one pass over the events. Prints one row per combination, in grid order (first --vary slowest): the \
            values, alerts, flagged accounts, TP, FP, precision, recall, F1.

            Example:
              mulestream sweep --events events.ndjson --rules Rules \\
                --rule rapid-pass-through --labels labels.csv \\
                --vary distinct_payers.min=3,4,5,6 --vary dwell.max=10m,30m,1h
            """
        )

        @OptionGroup var input: ReplayInput

        @Option(help: ArgumentHelp("The rule to sweep: its id, or id@version when several versions are loaded.", valueName: "id[@version]"))
        var rule: String

        @Option(help: ArgumentHelp("A bound and the values to try, e.g. distinct_payers.min=3,4,5,6 or dwell.max=10m,30m,1h (repeatable).", valueName: "metric.bound=v1,v2,…"))
        var vary: [String] = []

        @Option(help: ArgumentHelp("Labels CSV (account,is_mule[,…]).", valueName: "file"))
        var labels: String

        @Flag(help: "Print the grid as one JSON object.")
        var json = false


        func run() throws {
            let (ruleSet, config) = try input.load()
            let base = try pickRule(rule, from: ruleSet)
            let sweep: MuleBacktest.Sweep
            do {
                sweep = try MuleBacktest.Sweep(rule: base, axes: vary.map { spec throws(SweepError) in try SweepAxis(parsing: spec) })
            } catch {
                throw CLIFailure.usage(error.description)
            }
            let truth = try loadLabels(labels)
            let result: (points: [SweepPoint], summary: BacktestSummary)
            do {
                result = try sweep.run(eventsPath: input.events, config: config, labels: truth)
            } catch {
                throw CLIFailure.runtime("\(error)")
            }
            say(json ? SweepReport.json(sweep, result.points) : SweepReport.text(sweep, result.points, result.summary, mules: truth.mules.count))
        }
    }
}

/// Finds `id` or `id@version` in a loaded rule set (usage error when absent or ambiguous).
func pickRule(_ spec: String, from rules: [Rule]) throws -> Rule {
    let parts = spec.split(separator: "@", maxSplits: 1).map(String.init)
    let matches = rules.filter { $0.id == parts.first && (parts.count == 1 || $0.version == parts[1]) }
    switch matches.count {
    case 1: return matches[0]
    case 0: throw CLIFailure.usage("--rule \(spec): no such rule; loaded: \(rules.map(\.key).joined(separator: ", "))")
    default: throw CLIFailure.usage("--rule \(spec): several versions are loaded (\(matches.map(\.key).joined(separator: ", "))); name one as id@version")
    }
}

/// The sweep grid as a table or as the JSON the HTML report reads.
enum SweepReport {
    static func text(_ sweep: MuleBacktest.Sweep, _ points: [SweepPoint], _ summary: BacktestSummary, mules: Int) -> String {
        var out: [String] = []
        out.append("sweep of \(sweep.rule.key): \(points.count) combinations in one pass over \(summary.lines) events (\(String(format: "%.2f", summary.seconds)) s), \(mules) labelled mules")
        let widths = sweep.axes.map { max(8, $0.name.count + 2) }
        out.append("  " + zip(sweep.axes, widths).map { pad($0.name, $1) }.joined() + pad("alerts", 8) + pad("flagged", 9)
            + pad("TP", 6) + pad("FP", 6) + pad("precision", 11) + pad("recall", 9) + "F1")
        for (i, p) in points.enumerated() {
            let s = p.score
            out.append("  " + zip(sweep.texts(i), widths).map { pad($0, $1) }.joined() + pad("\(p.alerts)", 8) + pad("\(p.flagged.count)", 9)
                + pad("\(s?.truePositives ?? 0)", 6) + pad("\(s?.falsePositives ?? 0)", 6)
                + pad(f3(s?.precision ?? 0), 11) + pad(f3(s?.recall ?? 0), 9) + f3(s?.f1 ?? 0))
        }
        return out.joined(separator: "\n")
    }

    /// `{"rule":…,"axes":[…],"points":[{"values":[…],"alerts":…,…}]}` with keys in this order.
    static func json(_ sweep: MuleBacktest.Sweep, _ points: [SweepPoint]) -> String {
        var out = "{\"rule\":" + jsonString(sweep.rule.key) + ",\"axes\":[" + sweep.axes.map { jsonString($0.name) }.joined(separator: ",") + "],\"points\":["
        out += points.map { p in
            let s = p.score
            let values = zip(sweep.axes, p.values).map { jsonNumber($0.reported($1)) }.joined(separator: ",")
            return "{\"values\":[\(values)],\"alerts\":\(p.alerts),\"flagged\":\(p.flagged.count),"
                + "\"true_positives\":\(s?.truePositives ?? 0),\"false_positives\":\(s?.falsePositives ?? 0),"
                + "\"precision\":\(jsonNumber(s?.precision ?? 0)),\"recall\":\(jsonNumber(s?.recall ?? 0)),\"f1\":\(jsonNumber(s?.f1 ?? 0))}"
        }.joined(separator: ",")
        return out + "]}"
    }
}

/// A finite number as JSON: whole numbers without a fraction (`3`, not `3.0`).
func jsonNumber(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
    return "\(v)"
}

func jsonString(_ s: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [s], options: [])) ?? Data("[\"\"]".utf8)
    return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
}
