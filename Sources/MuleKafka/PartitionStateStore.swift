import Crdkafka
import Synchronization

/// Snapshots of per-partition task state kept on a Kafka topic, so that state follows its
/// partition to whichever instance owns it after a rebalance or a crash.
///
/// The snapshot of task partition `p` lives in partition `p` of the state topic, as one or more
/// chunk records of at most `chunkBytes` bytes. Every chunk carries headers naming its snapshot
/// (`mule.state.seq`), its place (`mule.state.chunk` of `mule.state.chunks`), the snapshot's
/// length (`mule.state.length`) and CRC-32C (`mule.state.crc32c`), all as ASCII decimals so
/// `kcat -f '%k %h\n'` shows them. A reader keeps the newest sequence whose chunks are all present
/// and whose checksum matches; torn or corrupt sets are skipped, reported and counted.
///
/// The state topic must have `cleanup.policy=compact` and at least as many partitions as the task
/// topic (`KafkaAdmin.ensureTopic`). Keys are `"<partition>/<slot>/<chunk>"`: compaction keeps the
/// newest record of each chunk in each of two slots, and a write goes to the slot *not* holding the
/// newest complete snapshot this store knows of (read or written), so a write torn by a crash can
/// only overwrite the older of the two retained snapshots, never the one a restore needs. Restore
/// reads every retained record of the partition: compaction keeps that to about two snapshots, but
/// the active segment is never compacted, so give the topic a `segment.ms` / `segment.bytes` that
/// rolls it after a few snapshots.
///
/// On librdkafka's mock cluster (tests, `mulestream dev-broker`) nothing is compacted and a
/// partition keeps only its newest ~5 MiB: snapshots up to about 5 MiB restore; `write` throws for a
/// larger one (retention deleted its first chunks before the write finished).
///
/// Thread-safe: writes are serialised on the one producer; each read uses a reader of its own.
public final class PartitionStateStore: Sendable {
    /// The state topic.
    public let topic: String
    /// Largest chunk value in bytes (each chunk is one Kafka record).
    public let chunkBytes: Int

    private let producer: KafkaProducer
    /// Serialises writes: the producer's delivery reports are served on the writing thread.
    private let writing = Mutex(())
    private let readerConfig: KafkaConfig
    /// Per state partition, the slot holding the newest complete snapshot this store has seen.
    private let newestSlot = Mutex<[Int32: UInt8]>([:])
    private let rejectedTotal = Atomic<UInt64>(0)

    /// Largest accepted `chunkBytes`: a chunk plus its headers must fit `message.max.bytes` of the
    /// producer and the broker (1 MB by default on both).
    public static let maxChunkBytes = 1_000_000 - 1_024

    /// - Parameters:
    ///   - config: client properties (`bootstrap.servers`, security, …) for the producer and the readers.
    ///     The producer always uses `acks=all` and `enable.idempotence=true` and never a
    ///     `transactional.id`; readers read one partition each, outside any consumer group.
    ///   - chunkBytes: largest record value; 1 … `maxChunkBytes`.
    public init(config: KafkaConfig, topic: String, chunkBytes: Int = 512 * 1024) throws {
        guard !topic.isEmpty else { throw KafkaError.invalidArgument("the state store needs a topic name") }
        guard (1...Self.maxChunkBytes).contains(chunkBytes) else {
            throw KafkaError.invalidArgument("state chunk size \(chunkBytes) is outside 1…\(Self.maxChunkBytes) bytes")
        }
        var producerConfig = config
        // Snapshots are not part of the engine's transactions (if it uses any).
        producerConfig.properties.removeAll { $0.key == "transactional.id" }
        producerConfig.set("acks", "all")
        producerConfig.set("enable.idempotence", "true")
        producer = try KafkaProducer(config: producerConfig)
        var reader = config
        // Readers are no group's members: no coordinator lookups, nothing to commit.
        reader.properties.removeAll { $0.key == "group.id" || $0.key == "group.instance.id" }
        reader.set("enable.partition.eof", "true")
        reader.set("auto.offset.reset", "earliest")
        // Whole chunks per fetch; fewer round trips on restore.
        if reader["max.partition.fetch.bytes"] == nil { reader.set("max.partition.fetch.bytes", "\(8 << 20)") }
        readerConfig = reader
        self.topic = topic
        self.chunkBytes = chunkBytes
    }

    /// Snapshot sets skipped by reads so far because they were incomplete or corrupt.
    public var rejectedSnapshots: UInt64 { rejectedTotal.load(ordering: .relaxed) }

    // MARK: - Writing

    /// Stores `snapshot` as sequence `sequence` of `partition` and returns once every chunk is
    /// acknowledged by all in-sync replicas. Throws (with what failed, how many chunks) on a
    /// delivery failure, on a timeout (chunks still queued are purged: the set stays incomplete and
    /// readers skip it), or when retention already deleted part of what was written.
    ///
    /// `sequence` should grow with every snapshot of the partition: readers take the highest.
    public func write(partition: Int32, sequence: UInt64, snapshot: UnsafeRawBufferPointer, timeoutMillis: Int32) throws {
        guard partition >= 0 else { throw KafkaError.invalidArgument("state partition \(partition) is negative") }
        let deadline = ContinuousClock.now + .milliseconds(Int(max(0, timeoutMillis)))
        let target = "\(topic)[\(partition)]"
        try writing.withLock { _ in
            let slot = newestSlot.withLock { known in known[partition].map { 1 - $0 } ?? UInt8(sequence & 1) }
            let plan = ChunkPlan(partition: partition, slot: slot, sequence: sequence, snapshot: snapshot, chunkBytes: chunkBytes)
            // Failures left by an earlier write belong to it (it already threw).
            _ = producer.takeDeliveryFailures()
            let before = try producer.watermarks(topic: topic, partition: partition, timeoutMillis: millis(until: deadline))
            do {
                for i in 0..<plan.count {
                    try plan.key(i).withUnsafeBytes { key in
                        try producer.send(topic: topic, partition: partition, key: key, value: plan.value(i, of: snapshot),
                                          headers: plan.headers(i), timeoutMillis: millis(until: deadline))
                    }
                }
                try producer.flush(timeoutMillis: millis(until: deadline))
            } catch var error as KafkaError {
                // Nothing of a failed write may trickle out later: readers skip the incomplete set.
                // (The purge's own delivery reports say nothing more than `error`.)
                producer.abandonOutstanding()
                _ = producer.takeDeliveryFailures()
                error.message = "state write of \(target) sequence \(sequence) (\(plan.count) chunks, \(snapshot.count) bytes) "
                    + "failed: \(error.message)"
                throw error
            }
            let after = try producer.watermarks(topic: topic, partition: partition, timeoutMillis: millis(until: deadline))
            if after.low > before.high {
                throw KafkaError(code: KafkaError.Code.state, message:
                    "state write of \(target) sequence \(sequence) (\(snapshot.count) bytes) did not survive: retention already "
                    + "deleted records from offset \(before.high) (low watermark now \(after.low)); the topic must use "
                    + "cleanup.policy=compact (librdkafka's mock cluster keeps only ~5 MiB per partition)")
            }
            newestSlot.withLock { $0[partition] = slot }
        }
    }

    /// Convenience over a byte array.
    public func write(partition: Int32, sequence: UInt64, snapshot: [UInt8], timeoutMillis: Int32) throws {
        try snapshot.withUnsafeBytes { try write(partition: partition, sequence: sequence, snapshot: $0, timeoutMillis: timeoutMillis) }
    }

    // MARK: - Reading

    /// The newest complete, intact snapshot of `partition`, or nil when there is none (empty
    /// partition, or every set rejected: see `read` for why).
    public func readLatest(partition: Int32, timeoutMillis: Int32) throws -> StoredSnapshot? {
        try read(partition: partition, timeoutMillis: timeoutMillis).latest
    }

    /// Reads `partition` from its low to its high watermark (records written meanwhile may be
    /// read too) and returns the newest complete, intact snapshot with every newer set that was
    /// rejected (and why). Older sets are not examined: the newest complete one supersedes them.
    /// Throws only on Kafka errors or when the partition cannot be read to its end within `timeoutMillis`.
    public func read(partition: Int32, timeoutMillis: Int32) throws -> SnapshotRead {
        guard partition >= 0 else { throw KafkaError.invalidArgument("state partition \(partition) is negative") }
        let deadline = ContinuousClock.now + .milliseconds(Int(max(0, timeoutMillis)))
        // librdkafka handles are thread-safe; a watermark query serves no producer callbacks.
        let marks = try producer.watermarks(topic: topic, partition: partition, timeoutMillis: millis(until: deadline))
        var assembler = SnapshotAssembler()
        guard marks.high > marks.low else { return assembler.finish() }
        let reader = try PartitionReader(config: readerConfig, topic: topic, partition: partition, offset: marks.low)
        try reader.read(through: marks.high - 1, deadline: deadline) { assembler.add($0) }
        let result = assembler.finish()
        if !result.rejected.isEmpty { rejectedTotal.add(UInt64(result.rejected.count), ordering: .relaxed) }
        if let latest = result.latest { newestSlot.withLock { $0[partition] = latest.slot } }
        return result
    }
}

/// A snapshot read back from the state topic.
public struct StoredSnapshot: Sendable, Equatable {
    public var sequence: UInt64
    public var bytes: [UInt8]
    /// How many chunk records it was stored as.
    public var chunks: Int
    /// Offsets of its first and last chunk records in the state partition.
    public var offsets: ClosedRange<Int64>
    /// Which of the two key slots it occupies (see `PartitionStateStore`).
    public var slot: UInt8
}

/// A snapshot set a read skipped, with the reason.
public struct RejectedSnapshot: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Error, Sendable, Equatable {
        /// Chunks missing: a write torn by a crash or a timeout, or chunks deleted by retention.
        case incomplete(present: Int, expected: Int)
        /// The chunks do not add up to the announced length.
        case lengthMismatch(announced: UInt64, actual: UInt64)
        /// The bytes do not match the announced CRC-32C.
        case checksumMismatch
    }

    public var sequence: UInt64
    public var reason: Reason

    public var description: String {
        switch reason {
        case .incomplete(let present, let expected): "sequence \(sequence): incomplete, \(present) of \(expected) chunks"
        case .lengthMismatch(let announced, let actual): "sequence \(sequence): \(actual) bytes, \(announced) announced"
        case .checksumMismatch: "sequence \(sequence): CRC-32C mismatch"
        }
    }
}

/// What `PartitionStateStore.read` found in one partition.
public struct SnapshotRead: Sendable, Equatable {
    /// The newest complete, intact snapshot, if any.
    public var latest: StoredSnapshot?
    /// Sets newer than `latest` (all sets when it is nil) that were skipped, newest first.
    public var rejected: [RejectedSnapshot]
    /// Records without valid state headers (tombstones excluded): not written by a state store.
    public var malformedRecords: Int
    /// Records read.
    public var records: Int
}

// MARK: - Chunk layout (shared by the writer, the reader and tests)

enum StateHeader {
    static let sequence = "mule.state.seq"
    static let chunk = "mule.state.chunk"
    static let chunks = "mule.state.chunks"
    static let length = "mule.state.length"
    static let crc = "mule.state.crc32c"
    static let slot = "mule.state.slot"
}

/// How one snapshot is cut into chunk records.
struct ChunkPlan {
    let partition: Int32
    let slot: UInt8
    let sequence: UInt64
    let length: Int
    let crc: UInt32
    let chunkBytes: Int
    /// At least one: an empty snapshot is one empty chunk.
    let count: Int

    init(partition: Int32, slot: UInt8, sequence: UInt64, snapshot: UnsafeRawBufferPointer, chunkBytes: Int) {
        self.partition = partition
        self.slot = slot
        self.sequence = sequence
        self.chunkBytes = chunkBytes
        length = snapshot.count
        crc = CRC32C.checksum(snapshot)
        count = max(1, (snapshot.count + chunkBytes - 1) / chunkBytes)
    }

    func key(_ index: Int) -> [UInt8] { Array("\(partition)/\(slot)/\(index)".utf8) }

    func value(_ index: Int, of snapshot: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let start = index * chunkBytes
        return UnsafeRawBufferPointer(rebasing: snapshot[start..<min(snapshot.count, start + chunkBytes)])
    }

    func headers(_ index: Int) -> [(String, [UInt8])] {
        [(StateHeader.sequence, ascii(sequence)), (StateHeader.chunk, ascii(UInt64(index))),
         (StateHeader.chunks, ascii(UInt64(count))), (StateHeader.length, ascii(UInt64(length))),
         (StateHeader.crc, ascii(UInt64(crc))), (StateHeader.slot, ascii(UInt64(slot)))]
    }

    private func ascii(_ n: UInt64) -> [UInt8] { Array(String(n).utf8) }
}

/// Groups chunk records by sequence as they are read; keeps only sets that may still be the answer.
struct SnapshotAssembler {
    private struct ChunkSet {
        var count: Int
        var length: UInt64
        var crc: UInt32
        var slot: UInt8
        var chunks: [Int: (offset: Int64, bytes: [UInt8])] = [:]
    }

    private var sets: [UInt64: ChunkSet] = [:]
    /// The highest sequence known complete and intact: lower ones can no longer win.
    private var best: StoredSnapshot?
    private var malformed = 0
    private var records = 0

    mutating func add(_ message: borrowing KafkaMessage) {
        records += 1
        if message.isNullValue { return }  // a tombstone
        guard let sequence = Self.number(message, StateHeader.sequence),
              let index = Self.number(message, StateHeader.chunk).flatMap({ Int(exactly: $0) }),
              let count = Self.number(message, StateHeader.chunks).flatMap({ Int(exactly: $0) }),
              let length = Self.number(message, StateHeader.length),
              let crc = Self.number(message, StateHeader.crc).flatMap({ UInt32(exactly: $0) }),
              let slot = Self.number(message, StateHeader.slot).flatMap({ UInt8(exactly: $0) }),
              count >= 1, index < count
        else {
            malformed += 1
            return
        }
        if let best, sequence <= best.sequence { return }
        let fresh = ChunkSet(count: count, length: length, crc: crc, slot: slot)
        var set = sets[sequence] ?? fresh
        // Different parameters: the sequence was written again (say by a new owner after a torn
        // write); the later write wins, as compaction would decide.
        if set.count != count || set.length != length || set.crc != crc || set.slot != slot { set = fresh }
        // A later record for the same chunk wins, as it would after compaction.
        set.chunks[index] = (message.offset, Array(message.value))
        sets[sequence] = set
        if set.chunks.count == set.count, case .success(let snapshot) = Self.assemble(sequence, set) {
            best = snapshot
            sets = sets.filter { $0.key > sequence }
        }
    }

    /// The answer: the best complete set, and every newer set with why it was rejected.
    func finish() -> SnapshotRead {
        var rejected: [RejectedSnapshot] = []
        for (sequence, set) in sets.sorted(by: { $0.key > $1.key }) {
            if case .failure(let reason) = Self.assemble(sequence, set) {
                rejected.append(RejectedSnapshot(sequence: sequence, reason: reason))
            }
        }
        return SnapshotRead(latest: best, rejected: rejected, malformedRecords: malformed, records: records)
    }

    private static func assemble(_ sequence: UInt64, _ set: ChunkSet) -> Result<StoredSnapshot, RejectedSnapshot.Reason> {
        guard set.chunks.count == set.count else { return .failure(.incomplete(present: set.chunks.count, expected: set.count)) }
        let actual = set.chunks.values.reduce(UInt64(0)) { $0 + UInt64($1.bytes.count) }
        guard actual == set.length else { return .failure(.lengthMismatch(announced: set.length, actual: actual)) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(actual))
        var first = Int64.max
        var last = Int64.min
        for i in 0..<set.count {
            let chunk = set.chunks[i]!
            bytes.append(contentsOf: chunk.bytes)
            first = min(first, chunk.offset)
            last = max(last, chunk.offset)
        }
        guard bytes.withUnsafeBytes({ CRC32C.checksum($0) }) == set.crc else { return .failure(.checksumMismatch) }
        return .success(StoredSnapshot(sequence: sequence, bytes: bytes, chunks: set.count, offsets: first...last, slot: set.slot))
    }

    /// An ASCII decimal header value.
    private static func number(_ message: borrowing KafkaMessage, _ name: String) -> UInt64? {
        guard case .some(.some(let value)) = message.header(name), !value.isEmpty, value.count <= 20 else { return nil }
        var n: UInt64 = 0
        for b in value {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            let (times, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(b - 0x30))
            guard !o1 && !o2 else { return nil }
            n = sum
        }
        return n
    }
}

/// CRC-32C (Castagnoli), the checksum of stored snapshots: the same function as MuleCore's
/// checkpoint checksum (MuleKafka does not depend on MuleCore), sliced by 8 (~1.4 GB/s here)
/// because snapshots run to tens of megabytes.
enum CRC32C {
    /// Eight 256-entry tables, slice k at k * 256 (slicing-by-8).
    static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
        }
        return t
    }()

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            var i = 0
            let n = bytes.count
            while n - i >= 8 {
                let lo = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        return c ^ 0xFFFF_FFFF
    }
}

// MARK: - Reading one partition

/// Reads one partition from an offset with librdkafka's simple (legacy) consumer: no group, and
/// messages are taken straight from the partition's fetch queue. The high-level consumer with an
/// assignment left fetched messages unseen by `rd_kafka_consumer_poll` for about a second in one
/// restore out of ten (librdkafka 2.0.2, measured with `broker state-restore`).
final class PartitionReader {
    private let rk: OpaquePointer
    private let rkt: OpaquePointer
    private let state: ClientState
    let topic: String
    let partition: Int32

    init(config: KafkaConfig, topic: String, partition: Int32, offset: Int64) throws {
        let state = ClientState(config: config)
        let conf = try config.makeConf()
        state.install(on: conf)
        let rk = try makeKafkaHandle(RD_KAFKA_CONSUMER, conf: conf, redactor: state.redactor, what: "state reader")
        guard let rkt = rd_kafka_topic_new(rk, topic, nil) else {
            withExtendedLifetime(state) { rd_kafka_destroy(rk) }
            throw KafkaError.invalidArgument("invalid topic name \"\(topic)\"")
        }
        guard rd_kafka_consume_start(rkt, partition, offset) == 0 else {
            let error = KafkaError(rd_kafka_last_error(), "start reading \(topic)[\(partition)] at \(offset)")
            rd_kafka_topic_destroy(rkt)
            withExtendedLifetime(state) { rd_kafka_destroy(rk) }
            throw error
        }
        self.rk = rk
        self.rkt = rkt
        self.state = state
        self.topic = topic
        self.partition = partition
    }

    deinit {
        rd_kafka_consume_stop(rkt, partition)
        rd_kafka_topic_destroy(rkt)
        withExtendedLifetime(state) { rd_kafka_destroy(rk) }
    }

    /// Delivers records to `body` until one at or past `lastOffset`, or the end of the partition
    /// (`enable.partition.eof` must be on). Errors are retried by librdkafka; the last one is
    /// named when `deadline` passes first.
    func read(through lastOffset: Int64, deadline: ContinuousClock.Instant, _ body: (borrowing KafkaMessage) -> Void) throws {
        var last: Int64 = -1
        var lastError: KafkaError?
        while last < lastOffset {
            let wait = millis(until: deadline)
            guard wait > 0 else {
                throw KafkaError(code: KafkaError.Code.timedOut, message: "state read of \(topic)[\(partition)] reached offset \(last), "
                                 + "not \(lastOffset), before its deadline" + (lastError.map { " (last error: \($0))" } ?? ""))
            }
            guard let message = rd_kafka_consume(rkt, partition, min(wait, 100)) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let err = message.pointee.err
            if err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                lastError = KafkaError(err, "read \(topic)[\(partition)]")
                continue
            }
            last = message.pointee.offset
            body(KafkaMessage(message, topicIndex: 0))
        }
    }
}

// MARK: - Producer helpers for the store

extension KafkaProducer {
    /// Low and high watermarks of one partition, asked of its leader with this producer's connections.
    func watermarks(topic: String, partition: Int32, timeoutMillis: Int32) throws -> (low: Int64, high: Int64) {
        guard !isClosed else { throw KafkaError.closed("producer") }
        var low: Int64 = -1
        var high: Int64 = -1
        let err = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, max(1, timeoutMillis))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "watermarks of \(topic)[\(partition)]") }
        return (low, high)
    }

    /// Drops messages not yet acknowledged (their delivery reports say so) and serves the reports,
    /// so a failed batch does not leak into the next one.
    func abandonOutstanding() {
        guard !isClosed else { return }
        _ = rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
        _ = rd_kafka_flush(rk, 1_000)
    }
}
