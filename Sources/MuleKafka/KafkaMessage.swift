import Crdkafka

/// A consumed record lent to `KafkaConsumer.poll`'s body. Its bytes point into librdkafka's
/// buffers and are only valid inside the body; copy what must outlive it. Nothing is decoded or
/// allocated until asked for (`topic` and header names create Strings; `topicIndex` does not).
public struct KafkaMessage: ~Copyable {
    let pointer: UnsafeMutablePointer<rd_kafka_message_t>
    /// Index of this message's topic in `KafkaConsumer.topics` (subscribed topics first, in order).
    public let topicIndex: Int

    init(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>, topicIndex: Int) {
        self.pointer = pointer
        self.topicIndex = topicIndex
    }

    /// The topic name (allocates a String; prefer `topicIndex` on hot paths).
    public var topic: String { String(cString: rd_kafka_topic_name(pointer.pointee.rkt)) }
    public var partition: Int32 { pointer.pointee.partition }
    public var offset: Int64 { pointer.pointee.offset }

    /// Key bytes, or nil for a null key.
    public var key: UnsafeRawBufferPointer? {
        guard let key = pointer.pointee.key else { return nil }
        return UnsafeRawBufferPointer(start: key, count: pointer.pointee.key_len)
    }

    /// Value bytes; empty for a null value (see `isNullValue`).
    public var value: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: pointer.pointee.payload, count: pointer.pointee.len)
    }

    /// A null value (a tombstone), as opposed to an empty one.
    public var isNullValue: Bool { pointer.pointee.payload == nil }

    /// Create or log-append time in milliseconds since the epoch, if the broker supplied one.
    public var timestampMillis: Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(pointer, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0 ? nil : ts
    }

    private var headers: OpaquePointer? {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(pointer, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return headers
    }

    /// Number of headers.
    public var headerCount: Int { headers.map { rd_kafka_header_cnt($0) } ?? 0 }

    /// The value of the last header named `name`: nil if absent, `.some(nil)` if present with a null value.
    public func header(_ name: String) -> UnsafeRawBufferPointer?? {
        guard let headers else { return nil }
        var value: UnsafeRawPointer?
        var size = 0
        guard rd_kafka_header_get_last(headers, name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return .some(value.map { UnsafeRawBufferPointer(start: $0, count: size) })
    }

    /// Calls `body` with each header in order (names as Strings; values lent).
    public func forEachHeader(_ body: (String, UnsafeRawBufferPointer?) throws -> Void) rethrows {
        guard let headers else { return }
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            try body(name.map { String(cString: $0) } ?? "", value.map { UnsafeRawBufferPointer(start: $0, count: size) })
            index += 1
        }
    }
}
