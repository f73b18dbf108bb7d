import ArgumentParser
import MuleKafka

/// librdkafka pass-through shared by the verbs that talk to Kafka (kcat-style).
struct KafkaOptions: ParsableArguments {
    @Option(name: .customShort("X"), help: ArgumentHelp("librdkafka property key=value, passed through verbatim (repeatable; later wins).", valueName: "key=value"))
    var properties: [String] = []

    @Option(name: .customLong("kafka-config"), help: ArgumentHelp("librdkafka properties file (Java-properties format), applied before -X.", valueName: "FILE"))
    var kafkaConfigFile: String?

    /// File first, then -X in order (so a flag overrides the file).
    func apply(to config: inout KafkaConfig) throws {
        if let path = kafkaConfigFile {
            do {
                for (k, v) in try KafkaConfig.loadProperties(path: path) { config.set(k, v) }
            } catch {
                throw CLIFailure.usage("\(error)")
            }
        }
        for text in properties {
            do {
                let (k, v) = try KafkaConfig.parseAssignment(text)
                config.set(k, v)
            } catch {
                throw CLIFailure.usage("\(error)")
            }
        }
    }
}
