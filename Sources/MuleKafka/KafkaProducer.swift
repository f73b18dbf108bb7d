import Crdkafka

/// A producer over librdkafka with delivery reports surfaced as counts and errors, never dropped.
///
/// `enable.idempotence` defaults to `true` (an explicit user setting wins), so retries neither
/// duplicate nor reorder messages per partition. `send` copies the bytes into librdkafka and
/// applies back-pressure when its queue is full. Delivery reports are served by `poll`, `flush`
/// and by `send` while it waits for queue space; failures are kept for `takeDeliveryFailures` so
/// the engine never commits input offsets past an alert that was not delivered.
///
/// `@unchecked Sendable`: the handle may move between threads or tasks, but calls must come from
/// one thread at a time (delivery reports mutate counters on the calling thread). librdkafka's
/// internal threads only touch the immutable log handler and redactor.
public final class KafkaProducer: @unchecked Sendable {
    let rk: OpaquePointer  // internal for KafkaProducer+Transactions.swift
    private let state: ProducerState
    private(set) var isClosed = false

    /// Failures kept for `takeDeliveryFailures` beyond which only `failedCount` grows.
    public static let retainedFailureLimit = 64

    /// - Parameter onError: called on the calling thread (from `poll`, `flush`, `send`) for
    ///   non-fatal client errors such as all brokers down; librdkafka keeps retrying.
    public init(config: KafkaConfig, onError: @escaping (KafkaError) -> Void = { _ in }) throws {
        let state = ProducerState(config: config, onError: onError)
        let conf = try config.makeConf(defaults: [("enable.idempotence", "true")])
        state.install(on: conf)
        rd_kafka_conf_set_dr_msg_cb(conf, producerDeliveryCallback)
        rd_kafka_conf_set_error_cb(conf, producerErrorCallback)
        rk = try makeKafkaHandle(RD_KAFKA_PRODUCER, conf: conf, redactor: state.redactor, what: "producer")
        self.state = state
    }

    deinit { close() }

    /// Enqueues one message; the bytes are copied (`RD_KAFKA_MSG_F_COPY`) before it returns.
    ///
    /// When librdkafka's queue is full it serves delivery reports and retries until there is room
    /// or `timeoutMillis` has passed, then throws `_QUEUE_FULL`: nothing is dropped silently.
    /// - Parameter partition: nil lets the configured partitioner choose (by key).
    public func send(topic: String, partition: Int32? = nil, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer,
                     headers: [(String, [UInt8])] = [], timeoutMillis: Int32 = 30_000) throws {
        guard !isClosed else { throw KafkaError.closed("producer") }
        if let fatal = state.fatal { throw fatal }
        var headerList: OpaquePointer?
        if !headers.isEmpty {
            headerList = rd_kafka_headers_new(headers.count)
            for (name, bytes) in headers {
                _ = bytes.withUnsafeBytes { rd_kafka_header_add(headerList, name, -1, $0.baseAddress, $0.count) }
            }
        }
        var deadline: ContinuousClock.Instant?
        try topic.withCString { topicName in
            try withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { vus in
                var n = 0
                func add(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
                    var vu = rd_kafka_vu_t()
                    vu.vtype = type
                    fill(&vu)
                    vus.initializeElement(at: n, to: vu)
                    n += 1
                }
                add(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topicName }
                add(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition ?? RD_KAFKA_PARTITION_UA }
                add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                // The message's sequence number rides as its opaque, for the delivery report.
                let sequence = state.settles.next
                add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = UnsafeMutableRawPointer(bitPattern: UInt(sequence)) }
                // A nil base address would make an empty value a null (tombstone) value.
                add(RD_KAFKA_VTYPE_VALUE) {
                    $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress ?? UnsafeRawPointer(emptyPayload))
                    $0.u.mem.size = value.count
                }
                if let key {
                    add(RD_KAFKA_VTYPE_KEY) {
                        $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress ?? UnsafeRawPointer(emptyPayload))
                        $0.u.mem.size = key.count
                    }
                }
                if let headerList { add(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = headerList } }
                defer { vus.baseAddress!.deinitialize(count: n) }

                while true {
                    // On success librdkafka owns the copied bytes and the header list.
                    guard let error = rd_kafka_produceva(rk, vus.baseAddress, n) else {
                        state.settles.accept()
                        return
                    }
                    let code = rd_kafka_error_code(error)
                    if code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                        let end = deadline ?? ContinuousClock.now + .milliseconds(Int(timeoutMillis))
                        deadline = end
                        if ContinuousClock.now < end {
                            rd_kafka_error_destroy(error)
                            rd_kafka_poll(rk, 10)  // serve delivery reports: that is what frees queue space
                            continue
                        }
                    }
                    if let headerList { rd_kafka_headers_destroy(headerList) }
                    if code == RD_KAFKA_RESP_ERR__FATAL, let fatal = KafkaError.fatal(of: rk, redactor: state.redactor) {
                        rd_kafka_error_destroy(error)
                        state.fatal = fatal
                        throw fatal
                    }
                    let target = partition.map { "\(topic)[\($0)]" } ?? topic
                    var failure = KafkaError(consuming: error, "produce to \(target)")
                    if code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                        failure.message += " (no room after waiting \(timeoutMillis) ms)"
                    }
                    throw failure
                }
            }
        }
    }

    /// Convenience over byte arrays.
    public func send(topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8],
                     headers: [(String, [UInt8])] = [], timeoutMillis: Int32 = 30_000) throws {
        try value.withUnsafeBytes { valueBytes in
            if let key {
                try key.withUnsafeBytes { keyBytes in
                    try send(topic: topic, partition: partition, key: keyBytes, value: valueBytes,
                             headers: headers, timeoutMillis: timeoutMillis)
                }
            } else {
                try send(topic: topic, partition: partition, key: nil, value: valueBytes,
                         headers: headers, timeoutMillis: timeoutMillis)
            }
        }
    }

    /// Serves delivery reports and client errors, waiting at most `timeoutMillis` for the first.
    public func poll(timeoutMillis: Int32) {
        guard !isClosed else { return }
        rd_kafka_poll(rk, timeoutMillis)
    }

    /// Messages and requests not yet acknowledged, plus delivery reports not yet served (`rd_kafka_outq_len`).
    public var outstanding: Int {
        isClosed ? 0 : Int(rd_kafka_outq_len(rk))
    }

    /// Sequence number of the last message accepted by `send` (the first is 1; 0: none yet).
    public var sentCount: UInt64 { state.settles.sent }

    /// Every message with a sequence number up to this is settled: acknowledged by the broker,
    /// or failed for good (the failure is then in `takeDeliveryFailures`). Grows as `poll`,
    /// `flush` and `send` serve delivery reports. Compare with a `sentCount` noted earlier to
    /// wait for the messages sent before a point and not for those sent after it.
    public var settledThrough: UInt64 { state.settles.settledThrough }

    /// Messages acknowledged by the broker.
    public var deliveredCount: UInt64 { state.deliveredCount }
    /// Messages whose delivery failed for good (after librdkafka's retries).
    public var failedCount: UInt64 { state.failedCount }
    /// Non-fatal client errors seen (also passed to `onError`).
    public var errorCount: UInt64 { state.errorCount }

    /// Whether delivery failures are waiting in `takeDeliveryFailures` (they stay there).
    public var hasDeliveryFailures: Bool { !state.failures.isEmpty }

    /// Delivery failures not yet taken, oldest first (at most `retainedFailureLimit`), and forgets them.

    public func takeDeliveryFailures() -> [KafkaError] {
        defer { state.failures.removeAll() }
        return state.failures
    }

    /// Waits until every message is delivered or failed. Throws if messages remain after
    /// `timeoutMillis`, or if delivery failures are waiting in `takeDeliveryFailures` (which keeps
    /// them), or on a fatal error.
    public func flush(timeoutMillis: Int32) throws {
        guard !isClosed else { throw KafkaError.closed("producer") }
        let err = rd_kafka_flush(rk, timeoutMillis)
        if let fatal = state.fatal { throw fatal }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            var error = KafkaError(err, "flush")
            error.message += ": \(rd_kafka_outq_len(rk)) messages still outstanding after \(timeoutMillis) ms"
            throw error
        }
        if let first = state.failures.first {
            var error = first
            error.message = "\(state.failures.count) delivery failure(s) not yet taken; first: \(first.message)"
            throw error
        }
    }

    /// Releases the handle. Idempotent; also done on deinit. Messages not flushed are discarded.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        rd_kafka_destroy(rk)
    }
}

// A valid address for empty keys and values, so that empty is not mistaken for null.
nonisolated(unsafe) private let emptyPayload: UnsafeMutableRawPointer = {
    let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    p.storeBytes(of: 0, as: UInt8.self)
    return p
}()

/// Producer callback state; mutated only on the thread calling `poll`/`flush`/`send`.
final class ProducerState: ClientState, @unchecked Sendable {
    let onError: (KafkaError) -> Void
    var deliveredCount: UInt64 = 0
    var failedCount: UInt64 = 0
    var errorCount: UInt64 = 0
    var failures: [KafkaError] = []
    var fatal: KafkaError?
    var settles = SettleLog()

    init(config: KafkaConfig, onError: @escaping (KafkaError) -> Void) {
        self.onError = onError
        super.init(config: config)
    }
}

private let producerDeliveryCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, opaque in
    guard let message, let opaque else { return }
    // Exact type known: this callback is only installed by KafkaProducer.
    let state = Unmanaged<ProducerState>.fromOpaque(opaque).takeUnretainedValue()
    let err = message.pointee.err
    state.settles.settle(UInt64(UInt(bitPattern: message.pointee._private)))
    if err == RD_KAFKA_RESP_ERR_NO_ERROR {
        state.deliveredCount &+= 1
        return
    }
    state.failedCount &+= 1
    if state.failures.count < KafkaProducer.retainedFailureLimit {
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
        state.failures.append(KafkaError(err, "delivery to \(topic)[\(message.pointee.partition)] failed"))
    }
}

private let producerErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    rk, err, reason, opaque in
    guard let rk, let opaque else { return }
    let state = Unmanaged<ProducerState>.fromOpaque(opaque).takeUnretainedValue()
    let code = rd_kafka_resp_err_t(err)
    if code == RD_KAFKA_RESP_ERR__FATAL {
        state.fatal = KafkaError.fatal(of: rk, redactor: state.redactor) ?? KafkaError(code, "producer")
        return
    }
    var error = KafkaError(code, "")
    if let reason { error.message = state.redactor.scrub(String(cString: reason)) }
    state.errorCount &+= 1
    state.onError(error)
}
