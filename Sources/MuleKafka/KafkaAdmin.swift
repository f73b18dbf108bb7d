import Crdkafka

/// Cluster administration needed at start-up (creating the engine's topics) on real clusters.
///
/// librdkafka 2.0's mock cluster does not answer CreateTopics (the request waits for a controller
/// until it times out): create mock topics with `MockCluster.createTopic` instead.
public enum KafkaAdmin {
    /// A topic to create, with topic-level configuration (`cleanup.policy=compact`, `retention.ms`, …).
    public struct NewTopic: Sendable {
        public var name: String
        public var partitions: Int32
        public var replicationFactor: Int16
        /// Topic configuration entries, passed to the broker verbatim.
        public var configs: [(key: String, value: String)]

        public init(name: String, partitions: Int32, replicationFactor: Int16, configs: [(key: String, value: String)] = []) {
            self.name = name
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.configs = configs
        }
    }

    /// Creates topics and waits for the result. A topic that already exists counts as success.
    /// Throws the first per-topic failure (naming every failed topic), or `_TIMED_OUT`.
    public static func createTopics(config: KafkaConfig,
                                    topics: [(name: String, partitions: Int32, replicationFactor: Int16)],
                                    timeoutMillis: Int32) throws {
        try createTopics(config: config, newTopics: topics.map { NewTopic(name: $0.name, partitions: $0.partitions, replicationFactor: $0.replicationFactor) },
                         timeoutMillis: timeoutMillis)
    }

    /// Creates topics with their configuration and waits for the result. A topic that already
    /// exists counts as success (its configuration is left as it is).
    public static func createTopics(config: KafkaConfig, newTopics topics: [NewTopic], timeoutMillis: Int32) throws {
        guard !topics.isEmpty else { return }
        let state = ClientState(config: config)
        let conf = try config.makeConf()
        state.install(on: conf)
        let rk = try makeKafkaHandle(RD_KAFKA_PRODUCER, conf: conf, redactor: state.redactor, what: "admin client")
        defer { withExtendedLifetime(state) { rd_kafka_destroy(rk) } }

        var newTopics: [OpaquePointer?] = []
        defer { for t in newTopics { rd_kafka_NewTopic_destroy(t) } }
        for topic in topics {
            var errstr = [CChar](repeating: 0, count: 512)
            guard let t = rd_kafka_NewTopic_new(topic.name, topic.partitions, Int32(topic.replicationFactor), &errstr, errstr.count) else {
                let detail = errstr.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                throw KafkaError.invalidArgument("cannot create topic \(topic.name): \(detail)")
            }
            newTopics.append(t)
            for (key, value) in topic.configs {
                let err = rd_kafka_NewTopic_set_config(t, key, value)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(err, "topic \(topic.name): config \(key)=\(value)")
                }
            }
        }

        let options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errstr = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMillis, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMillis, &errstr, errstr.count)

        let queue = rd_kafka_queue_new(rk)
        defer { rd_kafka_queue_destroy(queue) }
        newTopics.withUnsafeMutableBufferPointer {
            rd_kafka_CreateTopics(rk, $0.baseAddress, $0.count, options, queue)
        }
        // librdkafka enforces the request timeout itself; the margin only guards against a lost event.
        guard let event = rd_kafka_queue_poll(queue, timeoutMillis &+ 5_000) else {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, "create topics \(topics.map(\.name).joined(separator: ", "))")
        }
        defer { rd_kafka_event_destroy(event) }
        let err = rd_kafka_event_error(event)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let detail = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            var error = KafkaError(err, "create topics \(topics.map(\.name).joined(separator: ", "))")
            if !detail.isEmpty { error.message += " (\(state.redactor.scrub(detail)))" }
            throw error
        }
        guard let result = rd_kafka_event_CreateTopics_result(event) else {
            throw KafkaError.invalidArgument("create topics: unexpected admin event \(rd_kafka_event_type(event))")
        }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
        var failures: [KafkaError] = []
        for i in 0..<count {
            guard let r = results[i] else { continue }
            let code = rd_kafka_topic_result_error(r)
            guard code != RD_KAFKA_RESP_ERR_NO_ERROR, code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else { continue }
            let name = String(cString: rd_kafka_topic_result_name(r))
            var error = KafkaError(code, "create topic \(name)")
            if let detail = rd_kafka_topic_result_error_string(r) { error.message = "create topic \(name): \(String(cString: detail))" }
            failures.append(error)
        }
        if var first = failures.first {
            if failures.count > 1 { first.message += " (\(failures.count) topics failed)" }
            throw first
        }
    }
}

extension KafkaAdmin {
    /// The number of partitions of `topic`, from cluster metadata. Note that a metadata request
    /// for a missing topic may auto-create it when the cluster allows that (as the mock does).
    public static func partitionCount(config: KafkaConfig, topic: String, timeoutMillis: Int32) throws -> Int {
        let state = ClientState(config: config)
        let conf = try config.makeConf()
        state.install(on: conf)
        let rk = try makeKafkaHandle(RD_KAFKA_PRODUCER, conf: conf, redactor: state.redactor, what: "admin client")
        defer { withExtendedLifetime(state) { rd_kafka_destroy(rk) } }
        guard let rkt = rd_kafka_topic_new(rk, topic, nil) else {
            throw KafkaError.invalidArgument("invalid topic name \"\(topic)\"")
        }
        defer { rd_kafka_topic_destroy(rkt) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(rk, 0, rkt, &metadata, timeoutMillis)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(err, "metadata for \(topic)") }
        defer { rd_kafka_metadata_destroy(metadata) }
        let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
        guard let entry = topics.first(where: { String(cString: $0.topic) == topic }) else {
            throw KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "metadata for \(topic)")
        }
        guard entry.err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(entry.err, "metadata for \(topic)") }
        return Int(entry.partition_cnt)
    }
}

extension KafkaAdmin {
    /// Low and high watermark offsets of each partition of `topic`, asked of the brokers
    /// (`high - low` messages are retained; `high` is the offset the next message will get).
    public static func watermarks(config: KafkaConfig, topic: String, partitions: [Int32],
                                  timeoutMillis: Int32) throws -> [(low: Int64, high: Int64)] {
        let state = ClientState(config: config)
        let conf = try config.makeConf()
        state.install(on: conf)
        let rk = try makeKafkaHandle(RD_KAFKA_PRODUCER, conf: conf, redactor: state.redactor, what: "admin client")
        defer { withExtendedLifetime(state) { rd_kafka_destroy(rk) } }
        return try partitions.map { p in
            var low: Int64 = -1
            var high: Int64 = -1
            let err = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, timeoutMillis)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "watermarks of \(topic)[\(p)]") }
            return (low, high)
        }
    }
}
