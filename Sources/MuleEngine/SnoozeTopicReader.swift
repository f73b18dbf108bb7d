#if canImport(Glibc)
import Glibc
#endif
import MuleKafka

/// Reads the snooze topic from its beginning without joining a consumer group (every engine
/// instance needs every snooze, not a share of the partitions), then follows new records.
/// Polled from the engine loop; nothing is committed.
final class SnoozeTopicReader {
    let topic: String
    private let consumer: KafkaConsumer
    private let partitions: [Int32]
    private let adminConfig: KafkaConfig
    /// Next offset to read per partition, from the records delivered.
    private var next: [Int32: Int64] = [:]

    init(config: KafkaConfig, topic: String, timeoutMillis: Int32) throws {
        self.topic = topic
        let admin = config.withoutConsumerProperties
        adminConfig = admin
        let count = try KafkaAdmin.partitionCount(config: admin, topic: topic, timeoutMillis: timeoutMillis)
        partitions = (0..<Int32(count)).map { $0 }
        // A group id of its own that is never joined: librdkafka needs one to poll.
        var kc = KafkaConfig(config.properties.filter { $0.key != "group.instance.id" }.map { ($0.key, $0.value) })
        kc.logHandler = config.logHandler
        kc.set("group.id", "mulestream-snoozes-\(getpid())-\(wallClockMillis())")
        kc.set("enable.auto.commit", "false")
        consumer = try KafkaConsumer(config: kc, assignment: partitions.map {
            TopicPartitionOffset(topic: topic, partition: $0, offset: TopicPartitionOffset.beginning)
        })
    }

    /// Delivers every record up to the high watermarks the topic has now; false if that took
    /// longer than `timeoutMillis` (what was read is kept, the rest follows with `poll`).
    func readToEnd(timeoutMillis: Int64, _ body: (borrowing KafkaMessage) -> Void) throws -> Bool {
        let marks = try KafkaAdmin.watermarks(config: adminConfig, topic: topic, partitions: partitions,
                                              timeoutMillis: Int32(clamping: timeoutMillis))
        let deadline = ContinuousClock.now + .milliseconds(timeoutMillis)
        func done() -> Bool {
            let lags = consumer.cachedLag(partitions.map { TopicPartition(topic: topic, partition: $0) })
            for (i, p) in partitions.enumerated() {
                let (low, high) = marks[i]
                // Compaction leaves gaps and transaction markers take offsets: the consumer's
                // position (lag 0) also counts as being at the end.
                if high <= low || next[p, default: low] >= high || lags[i] == 0 { continue }
                return false
            }
            return true
        }
        while !done() {
            if ContinuousClock.now >= deadline { return false }
            _ = try poll(max: 1000, timeoutMillis: 100, body)
        }
        return true
    }

    /// Delivers what has arrived (at most `max` records).
    @discardableResult
    func poll(max: Int, timeoutMillis: Int32, _ body: (borrowing KafkaMessage) -> Void) throws -> Int {
        try consumer.poll(max: max, timeoutMillis: timeoutMillis) { message in
            next[message.partition] = message.offset + 1
            body(message)
        }
    }

    func close() { consumer.close() }
}
