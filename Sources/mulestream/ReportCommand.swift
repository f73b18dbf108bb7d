import ArgumentParser
import Foundation
import MuleBacktest
import MuleCore
import MuleReport

extension MuleStream {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay an NDJSON event file and write one self-contained HTML page of pictures.",
            discussion: """
            The page (inline CSS and SVG, nothing fetched) shows the run's facts, a precision–recall curve from \
            --sweep (or the replay's single operating point), alerts per rule over time, the detection-delay \
            histogram (with --labels), the top flagged accounts, and a drawing of each detected chain or gang.

            Example:
              mulestream report --events events.ndjson --rules Rules \\
                --labels labels.csv --sweep sweep.json --out report.html
            """
        )

        @OptionGroup var input: ReplayInput

        @Option(help: ArgumentHelp("Labels CSV (account,is_mule[,role]).", valueName: "file"))
        var labels: String?

        @Option(help: ArgumentHelp("Sweep JSON as written by `mulestream sweep --json`.", valueName: "file"))
        var sweep: String?

        @Option(help: ArgumentHelp("Where to write the HTML page.", valueName: "file.html"))
        var out: String


        func run() throws {
            let (ruleSet, config) = try input.load()
            let truth = try labels.map(loadLabels)
            let curve: SweepCurve? = try sweep.map { path in
                do { return try SweepCurve.load(path: path) } catch { throw CLIFailure.usage("\(error)") }
            }
            let report: RunReport
            do {
                report = try RunReport.build(eventsPath: input.events, rules: ruleSet, config: config, labels: truth, sweep: curve)
            } catch {
                throw CLIFailure.runtime("\(error)")
            }
            let page = ReportPage.render(report)
            guard FileManager.default.createFile(atPath: out, contents: Data(page.utf8)) else {
                throw CLIFailure.runtime("cannot write `\(out)`")
            }
            say("wrote \(out): \(report.summary.alerts) alerts on \(report.flagged.count) accounts, \(report.gangs.count) chains/gangs drawn")
        }
    }
}
