import Crdkafka

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A consumer-group member over librdkafka's high-level consumer, with manual commits only.
///
/// Offsets are committed only by `commit(_:)` with exactly what the caller says was processed:
/// `enable.auto.commit` and `enable.auto.offset.store` default to `false` here (an explicit user
/// setting wins). Rebalances are applied with `rd_kafka_assign` for eager protocols and
/// `rd_kafka_incremental_assign`/`unassign` for `cooperative-sticky`, and reported to `onRebalance`
/// during `poll` (a revocation is reported *before* the partitions are released, so the callback
/// may still commit them).
///
/// `@unchecked Sendable`: the handle may be moved to another thread or task, but all calls,
/// including the callbacks it triggers, must come from one thread at a time (the engine's poll
/// loop). librdkafka's internal threads only touch the immutable log handler and redactor.
public final class KafkaConsumer: @unchecked Sendable {
    let rk: OpaquePointer  // internal for KafkaProducer+Transactions.swift
    private let state: ConsumerState
    /// The consumer queue (a reference of our own): background commits report to it, so their
    /// outcome is served by `poll` on the polling thread.
    private let queue: OpaquePointer
    private(set) var isClosed = false

    /// Topic names by `KafkaMessage.topicIndex`: the subscribed topics in order, then any other
    /// topic seen (from regex subscriptions such as `^alerts-.*`).
    public private(set) var topics: [String]
    // NUL-terminated copies of `topics`, compared with strcmp so lookup allocates nothing.
    private var topicKeys: [ContiguousArray<CChar>]
    private var lastTopicIndex = 0

    /// Creates the consumer and subscribes to `topics`. Requires `group.id`.
    ///
    /// - Parameters:
    ///   - onRebalance: called on the polling thread during `poll` (and `close`) when the assignment changes.
    ///   - onError: called on the polling thread for non-fatal errors (broker down, unknown topic, …);
    ///     librdkafka keeps retrying. Fatal errors are thrown by `poll` instead.
    public convenience init(config: KafkaConfig, topics: [String],
                            onRebalance: @escaping (RebalanceEvent) -> Void = { _ in },
                            onError: @escaping (KafkaError) -> Void = { _ in }) throws {
        guard !topics.isEmpty, topics.allSatisfy({ !$0.isEmpty }) else {
            throw KafkaError.invalidArgument("the consumer needs at least one non-empty topic name")
        }
        try self.init(config: config, topics: topics, onRebalance: onRebalance, onError: onError,
                      what: "subscribe to \(topics.joined(separator: ", "))") { rk in
            let subscription = PartitionList(capacity: topics.count)
            for topic in topics { subscription.add(topic, RD_KAFKA_PARTITION_UA) }
            return subscription.withPointer { rd_kafka_subscribe(rk, $0) }
        }
    }

    /// Creates a consumer that reads exactly `assignment` (each offset the first to read, or
    /// `TopicPartitionOffset.beginning`/`.end`) without joining a consumer group: no rebalances,
    /// and every instance reads the whole of what it is given (side inputs such as a compacted
    /// table). librdkafka still needs a `group.id` to poll; it is never joined, and nothing should
    /// be committed with it. Partitions added to the topic later are not picked up.
    public convenience init(config: KafkaConfig, assignment: [TopicPartitionOffset],
                            onError: @escaping (KafkaError) -> Void = { _ in }) throws {
        guard !assignment.isEmpty, assignment.allSatisfy({ !$0.topic.isEmpty }) else {
            throw KafkaError.invalidArgument("the consumer needs at least one partition to read")
        }
        var topics: [String] = []
        for o in assignment where !topics.contains(o.topic) { topics.append(o.topic) }
        try self.init(config: config, topics: topics, onRebalance: { _ in }, onError: onError,
                      what: "assign \(assignment.map(\.description).joined(separator: ", "))") { rk in
            PartitionList(assignment).withPointer { rd_kafka_assign(rk, $0) }
        }
    }

    /// Creates the handle, then `start`s consumption (subscribe or assign).
    private init(config: KafkaConfig, topics: [String], onRebalance: @escaping (RebalanceEvent) -> Void,
                 onError: @escaping (KafkaError) -> Void, what: String,
                 start: (OpaquePointer) -> rd_kafka_resp_err_t) throws {
        guard let group = config["group.id"], !group.isEmpty else {
            throw KafkaError.invalidArgument("the consumer needs a consumer group: set group.id")
        }
        let state = ConsumerState(config: config, onRebalance: onRebalance, onError: onError)
        let conf = try config.makeConf(defaults: [
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
        ])
        state.install(on: conf)
        rd_kafka_conf_set_rebalance_cb(conf, consumerRebalanceCallback)
        rd_kafka_conf_set_error_cb(conf, consumerErrorCallback)
        let rk = try makeKafkaHandle(RD_KAFKA_CONSUMER, conf: conf, redactor: state.redactor, what: "consumer")
        // Route the main queue (errors, logs-as-events, rebalances) to the consumer queue so one poll serves all.
        rd_kafka_poll_set_consumer(rk)

        let err = start(rk)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            withExtendedLifetime(state) { rd_kafka_destroy(rk) }  // callbacks may run during destroy
            throw KafkaError(err, what)
        }
        self.rk = rk
        self.state = state
        self.queue = rd_kafka_queue_get_consumer(rk)
        self.topics = topics
        self.topicKeys = topics.map { ContiguousArray($0.utf8CString) }
    }

    deinit { close() }

    /// Non-fatal errors seen so far (also passed to `onError`).
    public var errorCount: UInt64 { state.errorCount }
    /// Partition-EOF events seen (only with `enable.partition.eof=true`); they are not messages.
    public var partitionEOFCount: UInt64 { state.partitionEOFCount }

    /// Delivers up to `max` messages to `body`, waiting at most `timeoutMillis` for the first and
    /// not at all for the rest. Returns how many were delivered. Message bytes are lent, never copied.
    ///
    /// Messages are fetched one at a time with `rd_kafka_consumer_poll` and handed over before the
    /// next is fetched, so a rebalance reported in between is ordered exactly with the messages
    /// (librdkafka 2.0's batch call can return messages of partitions already revoked).
    /// Partition EOF and non-fatal errors are counted and passed to `onError`, not delivered.
    /// Throws a fatal error, or whatever `body` throws (the rest of the batch is left for the next poll).
    public func poll(max: Int, timeoutMillis: Int32, _ body: (borrowing KafkaMessage) throws -> Void) throws -> Int {
        guard !isClosed else { throw KafkaError.closed("consumer") }
        if let fatal = state.fatal { throw fatal }
        var delivered = 0
        var wait = timeoutMillis
        var deadline: ContinuousClock.Instant?  // only computed if error events eat into the wait
        while delivered < max, let message = rd_kafka_consumer_poll(rk, wait) {
            defer { rd_kafka_message_destroy(message) }
            if message.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                state.report(message: message, rk: rk)
                if let fatal = state.fatal { throw fatal }
                if delivered == 0 && wait > 0 {
                    let end = deadline ?? ContinuousClock.now + .milliseconds(Int(timeoutMillis))
                    deadline = end
                    wait = millis(until: end)
                }
                continue
            }
            wait = 0
            let index = topicIndex(of: message.pointee.rkt)
            try body(KafkaMessage(message, topicIndex: index))
            delivered += 1
        }
        if let fatal = state.fatal { throw fatal }
        return delivered
    }

    /// Commits exactly these offsets synchronously (each the next offset to consume).
    public func commit(_ offsets: [TopicPartitionOffset]) throws {
        guard !isClosed else { throw KafkaError.closed("consumer") }
        // An empty list would make librdkafka commit the stored offsets of the whole assignment.
        guard !offsets.isEmpty else { return }
        let list = PartitionList(offsets)
        let err = list.withPointer { rd_kafka_commit(rk, $0, 0) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, "commit \(offsets.map(\.description).joined(separator: ", "))")
        }
        if let error = list.firstError("commit") { throw error }
    }

    /// Sends a commit of exactly these offsets (each the next offset to consume) and returns at
    /// once, without waiting for the coordinator. Its outcome is collected during later `poll`s
    /// (the consumer queue serves it) and handed out by `takeCommitResults()`. librdkafka sends
    /// commits to the coordinator in the order they are made, so a later commit (in the
    /// background or not) is never overtaken by an earlier one.
    public func commitInBackground(_ offsets: [TopicPartitionOffset]) throws {
        guard !isClosed else { throw KafkaError.closed("consumer") }
        guard !offsets.isEmpty else { return }
        let list = PartitionList(offsets)
        let err = list.withPointer { rd_kafka_commit_queue(rk, $0, queue, consumerCommitCallback, state.opaque) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, "commit \(offsets.map(\.description).joined(separator: ", "))")
        }
        state.commitsInFlight += 1
    }

    /// Background commits whose outcome is known, oldest first, each once.
    public func takeCommitResults() -> [CommitResult] {
        defer { state.commitResults = [] }
        return state.commitResults
    }

    /// Whether `takeCommitResults()` has anything to hand out.
    public var hasCommitResults: Bool { !state.commitResults.isEmpty }

    /// Background commits sent whose outcome has not been collected by a `poll` yet.
    public var commitsInFlight: Int { state.commitsInFlight }

    /// The group's committed offsets for `partitions`; `TopicPartitionOffset.noOffset` where none.
    public func committed(_ partitions: [TopicPartition], timeoutMillis: Int32) throws -> [TopicPartitionOffset] {
        guard !isClosed else { throw KafkaError.closed("consumer") }
        guard !partitions.isEmpty else { return [] }
        let list = PartitionList(capacity: partitions.count)
        for p in partitions { list.add(p.topic, p.partition) }
        let err = list.withPointer { rd_kafka_committed(rk, $0, timeoutMillis) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "fetch committed offsets") }
        if let error = list.firstError("fetch committed offset for") { throw error }
        return list.offsets()
    }

    /// How many messages each partition has beyond this consumer's position, from the high
    /// watermarks librdkafka cached from its last fetch responses (no broker round trip).
    /// nil for a partition whose position or watermark is not known yet.
    /// `fallback` gives, per partition, the offset to assume when nothing has been consumed from it
    /// yet (for example the group's committed offset).
    public func cachedLag(_ partitions: [TopicPartition], fallback: [Int64?]? = nil) -> [Int64?] {
        guard !isClosed, !partitions.isEmpty else { return partitions.map { _ in nil } }
        let list = PartitionList(capacity: partitions.count)
        for p in partitions { list.add(p.topic, p.partition) }
        let err = list.withPointer { rd_kafka_position(rk, $0) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { return partitions.map { _ in nil } }
        let positions = list.offsets()
        var out: [Int64?] = []
        for (i, p) in partitions.enumerated() {
            var low: Int64 = -1
            var high: Int64 = -1
            let e = rd_kafka_get_watermark_offsets(rk, p.topic, p.partition, &low, &high)
            guard e == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { out.append(nil); continue }
            var position = positions[i].offset
            if position < 0, let f = fallback?[i] ?? nil, f >= 0 { position = f }
            if position >= 0 {
                out.append(max(0, high - position))
            } else {
                // Nothing consumed yet: caught up only if the partition holds nothing to read.
                out.append(high == low ? 0 : nil)
            }
        }
        return out
    }

    /// Where to start reading partitions when they are next assigned (instead of the group's
    /// committed offset): a restored checkpoint's offsets, or how far the engine's state already
    /// goes. Partitions not listed start at the committed offset (or `auto.offset.reset`).
    public var startOffsets: [TopicPartition: Int64] {
        get { state.startOffsets }
        set { state.startOffsets = newValue }
    }

    /// Asked, on the polling thread, for where to start the partitions being assigned, before
    /// they are assigned (after `startOffsets`, which it overrides): state that lives elsewhere
    /// (a snapshot in a state topic) is loaded here and says where its partition resumes.
    /// Partitions it leaves out start at `startOffsets`, the committed offset or `auto.offset.reset`.
    public var assignmentOffsets: (([TopicPartition]) -> [TopicPartition: Int64])? {
        get { state.assignmentOffsets }
        set { state.assignmentOffsets = newValue }
    }

    /// The partitions currently assigned to this member.
    public var assignment: [TopicPartition] {
        get throws {
            guard !isClosed else { throw KafkaError.closed("consumer") }
            var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            let err = rd_kafka_assignment(rk, &list)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(err, "read assignment") }
            return PartitionList(owning: list).topicPartitions()
        }
    }

    /// The rebalance protocol in use: `EAGER`, `COOPERATIVE`, or `NONE` before the first join.
    public var rebalanceProtocol: String {
        guard !isClosed, let p = rd_kafka_rebalance_protocol(rk) else { return "NONE" }
        return String(cString: p)
    }

    /// Leaves the group (revocation is reported to `onRebalance`) and releases the handle.
    /// Idempotent; also done on deinit. Commit processed offsets before calling it.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        let err = rd_kafka_consumer_close(rk)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { state.report(KafkaError(err, "close consumer")) }
        rd_kafka_queue_destroy(queue)
        rd_kafka_destroy(rk)
    }

    private func topicIndex(of rkt: OpaquePointer?) -> Int {
        guard let rkt, let name = rd_kafka_topic_name(rkt) else { return -1 }
        if lastTopicIndex < topicKeys.count,
           topicKeys[lastTopicIndex].withUnsafeBufferPointer({ strcmp(name, $0.baseAddress!) }) == 0 {
            return lastTopicIndex
        }
        for i in topicKeys.indices where topicKeys[i].withUnsafeBufferPointer({ strcmp(name, $0.baseAddress!) }) == 0 {
            lastTopicIndex = i
            return i
        }
        let topic = String(cString: name)
        topics.append(topic)
        topicKeys.append(ContiguousArray(topic.utf8CString))
        lastTopicIndex = topics.count - 1
        return lastTopicIndex
    }
}

/// Consumer callback state; mutated only on the polling thread (rebalance and error callbacks
/// are served from `rd_kafka_consumer_poll`/`rd_kafka_consumer_close`).
final class ConsumerState: ClientState, @unchecked Sendable {
    let onRebalance: (RebalanceEvent) -> Void
    let onError: (KafkaError) -> Void
    var errorCount: UInt64 = 0
    var partitionEOFCount: UInt64 = 0
    var fatal: KafkaError?
    var startOffsets: [TopicPartition: Int64] = [:]
    var assignmentOffsets: (([TopicPartition]) -> [TopicPartition: Int64])?
    var commitResults: [CommitResult] = []
    var commitsInFlight = 0

    init(config: KafkaConfig, onRebalance: @escaping (RebalanceEvent) -> Void, onError: @escaping (KafkaError) -> Void) {
        self.onRebalance = onRebalance
        self.onError = onError
        super.init(config: config)
    }

    func report(_ error: KafkaError) {
        errorCount += 1
        onError(error)
    }

    /// An error event returned by poll in place of a message.
    func report(message: UnsafeMutablePointer<rd_kafka_message_t>, rk: OpaquePointer) {
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
            partitionEOFCount += 1
            return
        }
        if err == RD_KAFKA_RESP_ERR__FATAL {
            fatal = KafkaError.fatal(of: rk, redactor: redactor) ?? KafkaError(err, "consumer")
            return
        }
        var context = "consumer"
        if let rkt = message.pointee.rkt {
            context = "consume \(String(cString: rd_kafka_topic_name(rkt)))[\(message.pointee.partition)]"
        }
        var error = KafkaError(err, context)
        if let detail = rd_kafka_message_errstr(message) {
            error.message = "\(context): \(redactor.scrub(String(cString: detail)))"
        }
        report(error)
    }
}

private let consumerErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    rk, err, reason, opaque in
    guard let rk, let state = ClientState.from(opaque) as? ConsumerState else { return }
    let code = rd_kafka_resp_err_t(err)
    if code == RD_KAFKA_RESP_ERR__FATAL {
        state.fatal = KafkaError.fatal(of: rk, redactor: state.redactor) ?? KafkaError(code, "consumer")
        return
    }
    var error = KafkaError(code, "")
    if let reason { error.message = state.redactor.scrub(String(cString: reason)) }
    state.report(error)
}

/// The outcome of one background commit (`KafkaConsumer.commitInBackground`).
public struct CommitResult: Sendable, Equatable {
    /// The offsets as sent.
    public var offsets: [TopicPartitionOffset]
    /// nil when every partition's offset was committed; else the first error (the request's, or
    /// a partition's). A failed commit changes nothing: commit the same or newer offsets again.
    public var error: KafkaError?

    public init(offsets: [TopicPartitionOffset], error: KafkaError?) {
        self.offsets = offsets
        self.error = error
    }
}

/// Served on the polling thread (from the consumer queue) when a background commit completes.
private let consumerCommitCallback: @convention(c) (
    OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?
) -> Void = { _, err, partitions, opaque in
    guard let state = ClientState.from(opaque) as? ConsumerState else { return }
    let offsets = partitions.map { PartitionList.offsets(of: $0) } ?? []
    var error = partitions.flatMap { PartitionList.firstError(of: $0, "commit") }
    if err != RD_KAFKA_RESP_ERR_NO_ERROR {
        error = KafkaError(err, "commit \(offsets.map(\.description).joined(separator: ", "))")
    }
    state.commitsInFlight = max(0, state.commitsInFlight - 1)
    state.commitResults.append(CommitResult(offsets: offsets, error: error))
}

private let consumerRebalanceCallback: @convention(c) (
    OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?
) -> Void = { rk, err, partitions, opaque in
    guard let rk, let state = ClientState.from(opaque) as? ConsumerState else { return }
    let cooperative = rd_kafka_rebalance_protocol(rk).map { strcmp($0, "COOPERATIVE") == 0 } ?? false
    let list = PartitionList.partitions(of: partitions)
    switch err {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        if let partitions, !state.startOffsets.isEmpty || state.assignmentOffsets != nil {
            let asked = state.assignmentOffsets?(list) ?? [:]
            for i in 0..<Int(partitions.pointee.cnt) {
                let e = partitions.pointee.elems[i]
                let tp = TopicPartition(topic: String(cString: e.topic), partition: e.partition)
                if let offset = asked[tp] ?? state.startOffsets[tp] { partitions.pointee.elems[i].offset = offset }
            }
        }
        if cooperative {
            if let error = rd_kafka_incremental_assign(rk, partitions) {
                state.onRebalance(.failed(KafkaError(consuming: error, "incremental assign")))
                return
            }
        } else {
            let e = rd_kafka_assign(rk, partitions)
            if e != RD_KAFKA_RESP_ERR_NO_ERROR {
                state.onRebalance(.failed(KafkaError(e, "assign")))
                return
            }
        }
        state.onRebalance(.assigned(list))
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        // Report first: the application may still commit what it processed for these partitions.
        state.onRebalance(rd_kafka_assignment_lost(rk) != 0 ? .lost(list) : .revoked(list))
        if cooperative {
            if let error = rd_kafka_incremental_unassign(rk, partitions) {
                state.onRebalance(.failed(KafkaError(consuming: error, "incremental unassign")))
            }
        } else {
            _ = rd_kafka_assign(rk, nil)
        }
    default:
        _ = rd_kafka_assign(rk, nil)
        state.onRebalance(.failed(KafkaError(err, "rebalance")))
    }
}
