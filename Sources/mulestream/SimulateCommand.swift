import ArgumentParser
import MuleSimulator
import MuleCore

extension MuleStream {
    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic payment stream with planted mule gangs, and its labels.",
            discussion: """
            Deterministic: the same flags always write the same bytes. The population is --accounts ordinary \
            accounts (shops, shared bills, salaries, refunds, …) plus planted gangs of mules; the labels name every \
            mule with its role (first layer, deeper layer, sink).

            Example:
              mulestream simulate --seed 1 --accounts 100000 --events 1000000 \\
                --out events.ndjson --labels labels.csv
            """
        )

        @Option(help: "Random seed (same seed and sizes, same stream).")
        var seed: UInt64

        @Option(help: "Background population size: ordinary accounts besides the planted gangs (at least 10).")
        var accounts: Int

        @Option(help: "Approximate number of events to write (at least 1).")
        var events: Int

        @Option(help: ArgumentHelp("NDJSON output file.", valueName: "file"))
        var out: String

        @Option(help: ArgumentHelp("Labels CSV output file (account,is_mule,role).", valueName: "file"))
        var labels: String

        @Option(help: ArgumentHelp("Simulated period, e.g. 2h or 3d (at least 2h; default: derived from --events / --accounts, 1–60 days).", valueName: "duration"))
        var duration: String?

        func run() throws {
            guard accounts >= 10 else { throw CLIFailure.usage("--accounts must be at least 10") }
            guard events >= 1 else { throw CLIFailure.usage("--events must be at least 1") }
            var config = SimulationConfig(seed: seed, accounts: accounts, events: events)
            config.seed = seed
            if let duration {
                guard let ms = DurationText.milliseconds(duration), ms >= 2 * 3_600_000 else {
                    throw CLIFailure.usage("--duration must be a duration of at least 2h (e.g. 2h, 36h, 3d), got `\(duration)`")
                }
                config.durationMillis = ms
            }
            do {
                let r = try SimulationWriter.write(config: config, eventsPath: out, labelsPath: labels)
                say("wrote \(r.events) events to \(out) and \(r.accounts) labels to \(labels)")
            } catch {
                throw CLIFailure.runtime("\(error)")
            }
        }
    }
}
