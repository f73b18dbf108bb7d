@testable import MuleEngine
import MuleKafka
import Testing

/// The few librdkafka defaults the engine changes (README, "Kafka client settings of
/// `mulestream run`"): set when the user left them out, never over a value the user gave.
struct EngineClientDefaultsTests {
    @Test func theConsumerQueuesAMillionMessagesUnlessTold() {
        var config = KafkaConfig([("bootstrap.servers", "127.0.0.1:9")])
        config.setEngineConsumerDefaults()
        #expect(config["queued.min.messages"] == "1000000")

        var mine = KafkaConfig([("bootstrap.servers", "127.0.0.1:9"), ("queued.min.messages", "5000")])
        mine.setEngineConsumerDefaults()
        #expect(mine["queued.min.messages"] == "5000")
    }

    @Test func theProducerLingersOneMillisecondUnlessTold() {
        var config = KafkaConfig([("bootstrap.servers", "127.0.0.1:9")])
        config.setEngineProducerDefaults()
        #expect(config["linger.ms"] == "1")

        var linger = KafkaConfig([("linger.ms", "20")])
        linger.setEngineProducerDefaults()
        #expect(linger["linger.ms"] == "20")

        // The older name of the same property also counts as the user's choice.
        var alias = KafkaConfig([("queue.buffering.max.ms", "7")])
        alias.setEngineProducerDefaults()
        #expect(alias["linger.ms"] == nil)
        #expect(alias["queue.buffering.max.ms"] == "7")
    }
}
