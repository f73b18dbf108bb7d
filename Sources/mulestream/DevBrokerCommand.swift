import ArgumentParser
import Foundation
import MuleKafka

extension MuleStream {
    struct DevBroker: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dev-broker",
            abstract: "Run a local development Kafka broker (librdkafka's mock cluster). Not for production.",
            discussion: """
            Speaks the real Kafka wire protocol on 127.0.0.1, so kcat or any Kafka client can use it; keeps \
            everything in memory (a restart loses all topics), caps retention at about 5 MiB per partition and does \
            not implement real transactions. Prints its bootstrap address on stdout, writes it to --bootstrap-file if \
            asked, and serves until SIGTERM or SIGINT. To rehearse a broker outage, SIGUSR1 takes every broker \
            down (connections are closed and refused; topics and offsets are kept) and SIGUSR2 brings them back up.

            Example:
              mulestream dev-broker --topic payments:4 --topic alerts:2 \\
                --bootstrap-file /tmp/broker.txt
            """
        )

        @Option(help: ArgumentHelp("Write the bootstrap address to this file once the broker is ready.", valueName: "file"))
        var bootstrapFile: String?

        @Option(help: "Number of brokers in the mock cluster.")
        var brokers: Int32 = 1

        @Option(name: .customLong("topic"), help: ArgumentHelp("Create a topic at start (repeatable).", valueName: "name[:partitions]"))
        var topics: [String] = []

        func run() throws {
            // Block the stop signals before librdkafka starts its threads, then wait for them here.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGTERM)
            sigaddset(&set, SIGINT)
            sigaddset(&set, SIGUSR1)
            sigaddset(&set, SIGUSR2)
            pthread_sigmask(SIG_BLOCK, &set, nil)
            var specs: [(String, Int32)] = []
            for t in topics {
                let parts = t.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count <= 2, !parts[0].isEmpty, let n = parts.count == 2 ? Int32(parts[1]) : 1, n >= 1 else {
                    throw CLIFailure.usage("--topic must be name or name:partitions, got `\(t)`")
                }
                specs.append((String(parts[0]), n))
            }
            guard brokers >= 1 && brokers <= 16 else { throw CLIFailure.usage("--brokers must be between 1 and 16") }
            let cluster: MockCluster
            do {
                cluster = try MockCluster(brokers: brokers)
                for (name, n) in specs { try cluster.createTopic(name, partitions: n) }
            } catch {
                throw CLIFailure.runtime("cannot start the development broker: \(error)")
            }
            let address = cluster.bootstrapServers
            if let bootstrapFile {
                let tmp = bootstrapFile + ".tmp"
                do {
                    try (address + "\n").write(toFile: tmp, atomically: false, encoding: .utf8)
                    guard rename(tmp, bootstrapFile) == 0 else { throw CLIFailure.runtime("rename failed (errno \(errno))") }
                } catch {
                    throw CLIFailure.runtime("cannot write \(bootstrapFile): \(error)")
                }
            }
            say(address)
            printError("mulestream dev-broker: serving at \(address) (development only; in memory). Stop with SIGTERM or Ctrl-C.")
            var sig: Int32 = 0
            while sigwait(&set, &sig) == 0, sig == SIGUSR1 || sig == SIGUSR2 {
                let up = sig == SIGUSR2
                do {
                    for id in 1...brokers { try cluster.setBroker(id, up: up) }
                    printError("mulestream dev-broker: brokers \(up ? "up" : "down (outage)")")
                } catch {
                    printError("mulestream dev-broker: cannot set brokers \(up ? "up" : "down"): \(error)")
                }
            }
            printError("mulestream dev-broker: stopping")
            withExtendedLifetime(cluster) {}
        }
    }
}
