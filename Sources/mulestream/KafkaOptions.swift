import ArgumentParser

/// librdkafka pass-through (kcat-style) of `mulestream run`; merged with the other sources of
/// `kafka.properties` by `RunSettings` (a later `-X` for the same key wins).
struct KafkaOptions: ParsableArguments {
    @Option(name: .customShort("X"), help: .runSetting("kafka.properties"))
    var properties: [String] = []

    @Option(name: .customLong("kafka-config"), help: .runSetting("kafka.config_file"))
    var kafkaConfigFile: String?
}
