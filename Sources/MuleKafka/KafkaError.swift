import Crdkafka

/// A failure reported by librdkafka or by this layer, as a value with a reason a person can act on.
///
/// `code` is librdkafka's raw `rd_kafka_resp_err_t` (negative values are client-side errors such as
/// `-192` message timed out, positive values are broker error codes). Messages never contain secret
/// configuration values.
public struct KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Raw `rd_kafka_resp_err_t` value.
    public var code: Int32
    /// Human-readable reason.
    public var message: String
    /// The client instance is unusable and must be recreated (for example a fenced idempotent producer).
    public var isFatal: Bool
    /// Retrying the same operation may succeed.
    public var isRetriable: Bool
    /// A transaction operation failed in a way that needs `abortTransaction` (then start over
    /// from the last committed transaction).
    public var requiresAbort = false

    public init(code: Int32, message: String, isFatal: Bool = false, isRetriable: Bool = false) {
        self.code = code
        self.message = message
        self.isFatal = isFatal
        self.isRetriable = isRetriable
    }

    /// librdkafka's symbolic name for `code`, for example `_MSG_TIMED_OUT` or `UNKNOWN_TOPIC_OR_PART`.
    public var name: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(code))) }

    public var description: String { "\(name): \(message)" }

    /// Well-known codes callers match on.
    public enum Code {
        public static let noError: Int32 = 0
        public static let invalidArgument: Int32 = RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue
        public static let messageTimedOut: Int32 = RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue
        public static let queueFull: Int32 = RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue
        public static let timedOut: Int32 = RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue
        public static let unknownPartition: Int32 = RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION.rawValue
        public static let unknownTopicOrPartition: Int32 = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART.rawValue
        public static let topicAlreadyExists: Int32 = RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS.rawValue
        public static let invalidPartitions: Int32 = RD_KAFKA_RESP_ERR_INVALID_PARTITIONS.rawValue
        public static let fatal: Int32 = RD_KAFKA_RESP_ERR__FATAL.rawValue
        public static let state: Int32 = RD_KAFKA_RESP_ERR__STATE.rawValue
        public static let partitionEOF: Int32 = RD_KAFKA_RESP_ERR__PARTITION_EOF.rawValue
    }

    // MARK: - Internal constructors from C

    /// A configuration or argument problem found by this layer.
    static func invalidArgument(_ message: String) -> KafkaError {
        KafkaError(code: Code.invalidArgument, message: message)
    }

    /// An operation on a closed client.
    static func closed(_ what: String) -> KafkaError {
        KafkaError(code: Code.state, message: "\(what) is closed")
    }

    /// From a bare response code; `context` says what was being done.
    init(_ err: rd_kafka_resp_err_t, _ context: String) {
        let reason = String(cString: rd_kafka_err2str(err))
        self.init(code: err.rawValue, message: context.isEmpty ? reason : "\(context): \(reason)",
                  isFatal: err == RD_KAFKA_RESP_ERR__FATAL, isRetriable: Self.retriableCodes.contains(err.rawValue))
    }

    /// From an `rd_kafka_error_t`, which it destroys.
    init(consuming error: OpaquePointer, _ context: String) {
        let err = rd_kafka_error_code(error)
        let reason = String(cString: rd_kafka_error_string(error))
        self.init(code: err.rawValue, message: context.isEmpty ? reason : "\(context): \(reason)",
                  isFatal: rd_kafka_error_is_fatal(error) != 0, isRetriable: rd_kafka_error_is_retriable(error) != 0)
        requiresAbort = rd_kafka_error_txn_requires_abort(error) != 0
        rd_kafka_error_destroy(error)
    }

    /// The underlying fatal error of a client, if one was raised.
    static func fatal(of rk: OpaquePointer, redactor: Redactor) -> KafkaError? {
        var buffer = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(rk, &buffer, buffer.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        let reason = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return KafkaError(code: err.rawValue, message: "fatal: " + redactor.scrub(reason), isFatal: true)
    }

    // Codes for which librdkafka itself would retry or a later call may succeed.
    private static let retriableCodes: Set<Int32> = [
        RD_KAFKA_RESP_ERR__TRANSPORT.rawValue, RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue,
        RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE.rawValue,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE.rawValue,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR.rawValue, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS.rawValue,
    ]
}
