import ArgumentParser
import Foundation
import MuleBacktest
import MuleCore

extension MuleStream {
    struct Gangs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay an event file and print the gangs the chains tie together.",
            discussion: """
            Accounts are tied into a gang by chains of two or more forwarding hops, by mule-style forwarders \
            paying the same account (a shared sink) and by mule-style forwarders passing on the same payer's \
            money; ties fade after --gang-horizon. Prints each gang alive at the end of the replay: its id (the \
            `gang` field of alerts), members, size, the volume moved along its ties and its time span.

            Example:
              mulestream gangs --events events.ndjson --rules Rules --labels labels.csv
            """
        )

        @OptionGroup var input: ReplayInput

        @Option(help: ArgumentHelp("Labels CSV: members are shown with their role.", valueName: "file"))
        var labels: String?

        @Flag(help: "Print the gangs as one JSON object.")
        var json = false


        func run() throws {
            let (ruleSet, config) = try input.load()
            let truth = try labels.map(loadLabels)
            let summary: BacktestSummary
            do {
                summary = try MuleBacktest.Backtest.run(eventsPath: input.events, rules: ruleSet, config: config) { _ in }
            } catch {
                throw CLIFailure.runtime("\(error)")
            }
            if json {
                let gangs: [[String: Any]] = summary.gangs.map { g in
                    ["id": g.id, "size": g.size, "members": g.members, "volume": g.volume.description,
                     "first": formatRFC3339(millis: g.first), "last": formatRFC3339(millis: g.last)]
                }
                let data = try JSONSerialization.data(
                    withJSONObject: ["gangs": gangs, "peak_hops": summary.peakHops, "peak_chain_bytes": summary.peakChainBytes],
                    options: [.sortedKeys])
                say(String(decoding: data, as: UTF8.self))
                return
            }
            say("\(summary.gangs.count) gang\(summary.gangs.count == 1 ? "" : "s") alive at the end of the replay")
            if summary.peakHops > 0 {
                say("chain state at its largest: \(summary.peakHops) hops remembered, \(summary.peakChainBytes) bytes (\(summary.peakChainBytes / summary.peakHops) bytes per hop, ties and forwarder index included)")
            }
            for g in summary.gangs {
                let hours = Double(g.last - g.first) / 3_600_000
                say("")
                say("\(g.id)  \(g.size) members  volume \(g.volume)  \(formatRFC3339(millis: g.first)) → \(formatRFC3339(millis: g.last)) (\(String(format: "%.1f", hours)) h)")
                for m in g.members {
                    let role = truth.map { l in l.roles[m] ?? (l.mules.contains(m) ? "mule" : "not a mule") }
                    say("  \(m)" + (role.map { "  [\($0)]" } ?? ""))
                }
            }
        }
    }
}
