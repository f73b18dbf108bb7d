import ArgumentParser
import MuleSimulator

extension MuleStream {
    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic payment stream with planted mule gangs, and its labels.",
            discussion: "Deterministic: the same flags always write the same bytes."
        )

        @Option(help: "Random seed.")
        var seed: UInt64

        @Option(help: "Background population size.")
        var accounts: Int

        @Option(help: "Approximate number of events.")
        var events: Int

        @Option(help: ArgumentHelp("NDJSON output file.", valueName: "file"))
        var out: String

        @Option(help: ArgumentHelp("Labels CSV output file (account,is_mule,role).", valueName: "file"))
        var labels: String

        func run() throws {
            guard accounts >= 10 else { throw CLIFailure.usage("--accounts must be at least 10") }
            guard events >= 1 else { throw CLIFailure.usage("--events must be at least 1") }
            var config = SimulationConfig(seed: seed, accounts: accounts, events: events)
            config.seed = seed
            do {
                let r = try SimulationWriter.write(config: config, eventsPath: out, labelsPath: labels)
                say("wrote \(r.events) events to \(out) and \(r.accounts) labels to \(labels)")
            } catch {
                throw CLIFailure.runtime("\(error)")
            }
        }
    }
}
