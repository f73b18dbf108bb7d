import Crdkafka

/// Kafka transactions (exactly-once): messages produced between `beginTransaction` and
/// `commitTransaction` become visible to `read_committed` consumers together with the consumer
/// offsets sent by `sendOffsetsToTransaction`, or not at all. The producer needs a
/// `transactional.id`. Errors are `KafkaError`s with `requiresAbort` (call `abortTransaction`
/// and start over from the last commit), `isRetriable` or `isFatal` set as librdkafka says.
extension KafkaProducer {
    /// Registers the `transactional.id` with the coordinator, fencing any older producer with
    /// the same id (its open transaction is aborted). Once, before the first transaction.
    public func initTransactions(timeoutMillis: Int32) throws {
        guard !isClosed else { throw KafkaError.closed("producer") }
        if let error = rd_kafka_init_transactions(rk, timeoutMillis) {
            throw KafkaError(consuming: error, "init transactions")
        }
    }

    public func beginTransaction() throws {
        guard !isClosed else { throw KafkaError.closed("producer") }
        if let error = rd_kafka_begin_transaction(rk) { throw KafkaError(consuming: error, "begin transaction") }
    }

    /// Adds the consumer's offsets (each the next offset to read) to the open transaction: they
    /// are committed for `consumer`'s group if and only if the transaction commits.
    public func sendOffsetsToTransaction(_ offsets: [TopicPartitionOffset], consumer: KafkaConsumer,
                                         timeoutMillis: Int32) throws {
        guard !isClosed else { throw KafkaError.closed("producer") }
        guard !offsets.isEmpty else { return }
        guard let metadata = consumer.groupMetadata() else {
            throw KafkaError.invalidArgument("the consumer has no group metadata (closed, or not in a group)")
        }
        defer { rd_kafka_consumer_group_metadata_destroy(metadata) }
        let list = PartitionList(offsets)
        if let error = list.withPointer({ rd_kafka_send_offsets_to_transaction(rk, $0, metadata, timeoutMillis) }) {
            throw KafkaError(consuming: error, "send offsets to transaction")
        }
    }

    /// Flushes what the transaction produced and commits it with its offsets.
    public func commitTransaction(timeoutMillis: Int32) throws {
        guard !isClosed else { throw KafkaError.closed("producer") }
        if let error = rd_kafka_commit_transaction(rk, timeoutMillis) { throw KafkaError(consuming: error, "commit transaction") }
        // Messages of a committed transaction are delivered: serve their reports now.
        rd_kafka_poll(rk, 0)
    }

    /// Aborts the open transaction: its messages are never shown to `read_committed` readers
    /// and its offsets are not committed. Pending delivery failures are dropped with it.
    public func abortTransaction(timeoutMillis: Int32) throws {
        guard !isClosed else { throw KafkaError.closed("producer") }
        if let error = rd_kafka_abort_transaction(rk, timeoutMillis) { throw KafkaError(consuming: error, "abort transaction") }
        rd_kafka_poll(rk, 0)
        _ = takeDeliveryFailures()
    }
}

extension KafkaConsumer {
    /// The group metadata a transactional producer needs to commit this consumer's offsets
    /// (caller destroys it); nil when closed.
    func groupMetadata() -> OpaquePointer? {
        guard !isClosed else { return nil }
        return rd_kafka_consumer_group_metadata(rk)
    }
}
