import Crdkafka

/// One partition of a topic.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// A partition and an offset. For commits and `committed(_:)` the offset is the *next* offset to
/// consume (last processed + 1), as Kafka defines it.
public struct TopicPartitionOffset: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    /// librdkafka's `RD_KAFKA_OFFSET_INVALID`: no committed offset.
    public static let noOffset: Int64 = -1001
    /// librdkafka's `RD_KAFKA_OFFSET_BEGINNING`: the oldest retained message (for assignments).
    public static let beginning: Int64 = -2
    /// librdkafka's `RD_KAFKA_OFFSET_END`: only messages produced from now on (for assignments).
    public static let end: Int64 = -1

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
    public var description: String { "\(topic)[\(partition)]@\(offset)" }
}

/// A change to the consumer's partition assignment, delivered during `KafkaConsumer.poll`.
public enum RebalanceEvent: Sendable, Equatable {
    /// These partitions now belong to this consumer (the whole set for eager protocols, the
    /// added ones for cooperative-sticky).
    case assigned([TopicPartition])
    /// These partitions are being taken away; the consumer may still commit them from the callback.
    case revoked([TopicPartition])
    /// These partitions were lost (session timeout, fencing): do not commit them, another member may own them.
    case lost([TopicPartition])
    /// The group protocol reported an error; the assignment was cleared.
    case failed(KafkaError)
}

// MARK: - rd_kafka_topic_partition_list_t conversion (C stays inside this module)

/// An owned `rd_kafka_topic_partition_list_t`, destroyed on deinit.
final class PartitionList {
    private let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(capacity: Int) {
        pointer = rd_kafka_topic_partition_list_new(Int32(clamping: max(capacity, 1)))
    }

    /// A list of exactly these partitions and offsets.
    convenience init(_ offsets: [TopicPartitionOffset]) {
        self.init(capacity: offsets.count)
        for o in offsets { add(o.topic, o.partition, offset: o.offset) }
    }

    /// Takes ownership of a list librdkafka returned.
    init(owning pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        self.pointer = pointer
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    /// Lends the C list for one call; the list lives until `body` returns.
    func withPointer<R>(_ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(pointer) }
    }

    func add(_ topic: String, _ partition: Int32, offset: Int64 = TopicPartitionOffset.noOffset) {
        let element = rd_kafka_topic_partition_list_add(pointer, topic, partition)!
        element.pointee.offset = offset
    }

    static func elements(of list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> UnsafeBufferPointer<rd_kafka_topic_partition_t> {
        UnsafeBufferPointer(start: list.pointee.elems, count: Int(list.pointee.cnt))
    }

    static func partitions(of list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [TopicPartition] {
        guard let list else { return [] }
        return elements(of: list).map { TopicPartition(topic: String(cString: $0.topic), partition: $0.partition) }
    }

    // Conversions are methods, not a lent `elements` buffer: `self` (and so the C list) stays alive
    // for the whole read, whereas a buffer taken from a temporary could outlive it.

    func topicPartitions() -> [TopicPartition] { Self.partitions(of: pointer) }

    func offsets() -> [TopicPartitionOffset] { Self.offsets(of: pointer) }

    /// The first per-partition error, if any, with `context`.
    func firstError(_ context: String) -> KafkaError? { Self.firstError(of: pointer, context) }

    /// The same for a list this code does not own (one lent to a callback).
    static func offsets(of list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartitionOffset] {
        elements(of: list).map {
            TopicPartitionOffset(topic: String(cString: $0.topic), partition: $0.partition, offset: $0.offset)
        }
    }

    static func firstError(of list: UnsafePointer<rd_kafka_topic_partition_list_t>, _ context: String) -> KafkaError? {
        for e in elements(of: list) where e.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            return KafkaError(e.err, "\(context) \(String(cString: e.topic))[\(e.partition)]")
        }
        return nil
    }
}
