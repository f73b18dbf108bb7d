import Crdkafka

/// librdkafka's built-in mock cluster: brokers inside this process that listen on loopback TCP
/// and speak the real Kafka wire protocol, so any client (ours, kcat, Python) can connect.
/// For tests, the demo and `mulestream dev-broker` — not for production: in memory only, at most
/// 5 MiB or 100,000 batches retained per partition, transactions not real.
///
/// Behaviour with librdkafka 2.0.2:
/// - Unknown topics are auto-created with 4 partitions and replication factor 1 (the mock's
///   built-in default, not changeable through the public API) on the first metadata request that
///   names them: by a producer, by `KafkaAdmin.partitionCount`, and even by a consumer's
///   subscription (the mock ignores the consumer's `allow.auto.create.topics=false`).
/// - Admin CreateTopics does not complete (the mock has no controller; `KafkaAdmin` times out):
///   use `createTopic(_:partitions:)`.
/// - A consumer group's first join takes about 3 s (the mock's group initial rebalance delay);
///   the first message arrives about 0.6 s after the assignment.
///
/// `@unchecked Sendable`: the handles are only read after init, and the `rd_kafka_mock_*`
/// functions post commands to the mock's own thread, so they may be called from any thread.
public final class MockCluster: @unchecked Sendable {
    private let rk: OpaquePointer
    private let cluster: OpaquePointer
    private let state: ClientState
    /// `host:port,…` for `bootstrap.servers`.
    public let bootstrapServers: String

    /// Starts `brokers` brokers (ids 1…brokers) on ephemeral loopback ports.
    public init(brokers: Int32 = 1, logHandler: @escaping @Sendable (KafkaLogRecord) -> Void = KafkaLogRecord.standardError) throws {
        guard brokers >= 1 else { throw KafkaError.invalidArgument("a mock cluster needs at least one broker") }
        var config = KafkaConfig()
        // The hosting handle never connects anywhere: its "no bootstrap.servers" notice is noise.
        config.logHandler = { record in
            if record.facility == "CONFWARN" && record.message.contains("bootstrap.servers") { return }
            logHandler(record)
        }
        let state = ClientState(config: config)
        let conf = try config.makeConf()
        state.install(on: conf)
        let rk = try makeKafkaHandle(RD_KAFKA_PRODUCER, conf: conf, redactor: state.redactor, what: "mock cluster host")
        guard let cluster = rd_kafka_mock_cluster_new(rk, brokers) else {
            withExtendedLifetime(state) { rd_kafka_destroy(rk) }  // callbacks may run during destroy
            throw KafkaError.invalidArgument("cannot start mock cluster (see librdkafka log)")
        }
        self.rk = rk
        self.cluster = cluster
        self.state = state
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(rk)
    }

    /// Creates a topic with `partitions` partitions (replication factor 1).
    public func createTopic(_ name: String, partitions: Int32) throws {
        let err = rd_kafka_mock_topic_create(cluster, name, partitions, 1)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "create mock topic \(name)") }
    }

    /// Makes the next `errors.count` requests of protocol type `apiKey` (e.g. 25 AddOffsetsToTxn,
    /// 26 EndTxn) fail with these broker error codes, one each, to exercise error handling.
    public func failNextRequests(apiKey: Int16, errors: [Int32]) {
        let codes = errors.map { rd_kafka_resp_err_t($0) }
        codes.withUnsafeBufferPointer { rd_kafka_mock_push_request_errors_array(cluster, apiKey, $0.count, $0.baseAddress) }
    }

    /// Moves the leadership of `topic`'s `partition` to broker `id`, so that one broker's
    /// behaviour (`delayNextRequests`, `setBroker`) affects that partition and not the others.
    public func setLeader(topic: String, partition: Int32, broker id: Int32) throws {
        let err = rd_kafka_mock_partition_set_leader(cluster, topic, partition, id)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "set leader of \(topic)[\(partition)] to mock broker \(id)") }
    }

    /// Makes broker `id` answer its next `count` requests of protocol type `apiKey` (0 Produce,
    /// 8 OffsetCommit, …) each `millis` late, with broker error code `error` (0: none, the
    /// request is carried out): a slow broker, for tests of what waits for acknowledgements.
    /// Once a broker has had such answers queued for `apiKey`, it no longer takes that type's
    /// errors from `failNextRequests` (librdkafka's mock looks at the broker's queue only).
    public func delayNextRequests(broker id: Int32, apiKey: Int16, count: Int = 1, millis: Int32, error: Int32 = 0) throws {
        for _ in 0..<count {
            let err = mulestream_mock_push_broker_request_error(cluster, id, apiKey, rd_kafka_resp_err_t(error), millis)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "delay mock broker \(id) requests") }
        }
    }

    /// Takes broker `id` down or brings it back up, to exercise failure handling.
    public func setBroker(_ id: Int32, up: Bool) throws {
        let err = up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "set mock broker \(id) \(up ? "up" : "down")") }
    }
}
