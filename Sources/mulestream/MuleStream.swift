import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `mulestream`: the command line of CONTRACTS.md §4.
@main
struct MuleStream: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mulestream",
        abstract: "Real-time detection of running-points (跑分) money-mule accounts on a Kafka payment stream.",
        discussion: """
        Exit status: 0 success, 1 runtime failure, 2 usage or validation error (with a one-line reason on stderr).

        Examples:
          mulestream demo
          mulestream run --config /etc/mulestream/mulestream.yaml
          mulestream backtest --events events.ndjson --rules Rules --labels labels.csv
        """,
        subcommands: [Demo.self, Run.self, DevBroker.self, Simulate.self, Backtest.self, Sweep.self, Report.self, Gangs.self, Rules.self, Config.self]
    )

    /// Parses and runs, mapping errors to the contract's exit codes (ArgumentParser's own usage
    /// errors would otherwise exit 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch let failure as CLIFailure {
            printError("mulestream: \(failure.message)")
            Glibc.exit(failure.status)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                MuleStream.exit(withError: error)  // --help, --version
            }
            if code == .validationFailure {
                printError(fullMessage(for: error))
                Glibc.exit(2)
            }
            printError("mulestream: \(error)")
            Glibc.exit(1)
        }
    }
}

/// An error carrying the exit status the contract assigns to it.
struct CLIFailure: Error {
    var message: String
    var status: Int32

    static func usage(_ m: String) -> CLIFailure { CLIFailure(message: m, status: 2) }
    static func runtime(_ m: String) -> CLIFailure { CLIFailure(message: m, status: 1) }
}

func printError(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    var bytes = Array(line.utf8)
    _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
}

/// Prints to stdout and flushes (so scripts reading a pipe see lines promptly).
func say(_ text: String) {
    print(text)
    fflush(nil)
}
