import Crdkafka

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension KafkaAdmin {
    /// What `ensureTopic` found or did.
    public enum TopicOutcome: Sendable, Equatable {
        /// The topic was there with the expected partition count (its configuration is not checked).
        case existed
        /// The topic was created with the given partitions and configuration.
        case created
    }

    /// Makes sure `topic` exists with exactly `topic.partitions` partitions: an existing topic is
    /// checked, a missing one is created (CreateTopics with `topic.configs`) and then looked up
    /// again until it shows in metadata. Throws `invalidPartitions` naming the expected and actual
    /// counts when they differ, and `_TIMED_OUT` when the cluster does not answer CreateTopics
    /// (librdkafka 2.0's mock cluster never does: create mock topics with `MockCluster.createTopic`
    /// or `mulestream dev-broker --topic name:partitions`).
    ///
    /// Looks the topic up in a listing of all topics, never by name, so that a cluster that
    /// auto-creates topics on metadata requests (the mock does) does not create it with its defaults.
    @discardableResult
    public static func ensureTopic(config: KafkaConfig, topic: NewTopic, timeoutMillis: Int32) throws -> TopicOutcome {
        let deadline = ContinuousClock.now + .milliseconds(Int(max(0, timeoutMillis)))
        if let actual = try topicPartitionCounts(config: config, timeoutMillis: timeoutMillis)[topic.name] {
            try check(topic, actual: actual, context: "topic \(topic.name) exists")
            return .existed
        }
        do {
            try createTopics(config: config, newTopics: [topic], timeoutMillis: millis(until: deadline))
        } catch var error as KafkaError where error.code == KafkaError.Code.timedOut {
            error.message = "create topic \(topic.name) (\(topic.partitions) partitions): the cluster did not answer CreateTopics "
                + "within \(timeoutMillis) ms (librdkafka 2.0's mock cluster never does: create the topic beforehand)"
            throw error
        }
        // Creation reaches every broker's metadata a little later.
        while true {
            if let actual = try topicPartitionCounts(config: config, timeoutMillis: max(1, millis(until: deadline)))[topic.name] {
                // Created concurrently by someone else with another count: CreateTopics said "already exists".
                try check(topic, actual: actual, context: "topic \(topic.name) was created")
                return .created
            }
            guard ContinuousClock.now < deadline else {
                throw KafkaError(code: KafkaError.Code.timedOut,
                                 message: "topic \(topic.name) was created but is not in metadata after \(timeoutMillis) ms")
            }
            var sleep = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            nanosleep(&sleep, nil)
        }
    }

    private static func check(_ topic: NewTopic, actual: Int, context: String) throws {
        guard actual != Int(topic.partitions) else { return }
        throw KafkaError(code: KafkaError.Code.invalidPartitions,
                         message: "\(context) with \(actual) partitions, expected \(topic.partitions); "
                             + "Kafka cannot shrink a topic: recreate it, or run with \(actual) partitions")
    }

    /// Partition counts of every topic in the cluster, from one all-topics metadata request.
    static func topicPartitionCounts(config: KafkaConfig, timeoutMillis: Int32) throws -> [String: Int] {
        let state = ClientState(config: config)
        let conf = try config.makeConf()
        state.install(on: conf)
        let rk = try makeKafkaHandle(RD_KAFKA_PRODUCER, conf: conf, redactor: state.redactor, what: "admin client")
        defer { withExtendedLifetime(state) { rd_kafka_destroy(rk) } }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(rk, 1, nil, &metadata, timeoutMillis)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(err, "list topics") }
        defer { rd_kafka_metadata_destroy(metadata) }
        var counts: [String: Int] = [:]
        for entry in UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
        where entry.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            counts[String(cString: entry.topic)] = Int(entry.partition_cnt)
        }
        return counts
    }
}
