/// The input position a checkpoint covers for one partition: every event before `next` is in
/// the checkpointed state (applied, or waiting in the reorder buffer) or was dead-lettered and
/// acknowledged; reading resumes at `next`.
public struct CheckpointOffset: Sendable, Equatable, Hashable {
    public var topic: String
    public var partition: Int32
    public var next: Int64

    public init(topic: String, partition: Int32, next: Int64) {
        self.topic = topic
        self.partition = partition
        self.next = next
    }
}

/// A snapshot of the detector's complete state together with the input offsets it covers and
/// the rule set it was taken under, and its file format:
///
/// ```
/// "MULECKPT"              8 bytes magic
/// format version          u32 little-endian (Checkpoint.formatVersion)
/// flags                   u32 (0)
/// payload length          u64
/// CRC-32C of the payload  u32
/// payload                 offsets, rule set, taken-at, detector state (Detector.checkpointState)
/// ```
///
/// Offsets are kept per partition so a later version that keeps state per input partition
/// (one detector per partition) can restore each partition's state independently.
public struct Checkpoint: Sendable, Equatable {
    public static let formatVersion: UInt32 = 1
    static let magic: [UInt8] = Array("MULECKPT".utf8)
    static let headerBytes = 8 + 4 + 4 + 8 + 4

    /// Next offset to read per input partition.
    public var offsets: [CheckpointOffset]
    /// `ruleSetHash` of the rules the state was built under.
    public var ruleSet: String
    /// Wall-clock time it was taken (epoch ms), for logs only.
    public var takenAtMillis: Int64
    /// The detector's state (`Detector.checkpointState()`).
    public var detectorState: [UInt8]

    public init(offsets: [CheckpointOffset], ruleSet: String, takenAtMillis: Int64, detectorState: [UInt8]) {
        self.offsets = offsets
        self.ruleSet = ruleSet
        self.takenAtMillis = takenAtMillis
        self.detectorState = detectorState
    }

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        var p = CheckpointWriter(reserving: detectorState.count + 256)
        p.count(offsets.count)
        for o in offsets {
            p.string(o.topic)
            p.i32(o.partition)
            p.i64(o.next)
        }
        p.string(ruleSet)
        p.i64(takenAtMillis)
        p.raw(detectorState)
        var out = CheckpointWriter(reserving: p.bytes.count + Self.headerBytes)
        for b in Self.magic { out.u8(b) }
        out.u32(Self.formatVersion)
        out.u32(0)
        out.count(p.bytes.count)
        out.u32(CRC32C.checksum(p.bytes))
        var bytes = out.bytes
        bytes.append(contentsOf: p.bytes)
        return bytes
    }

    /// Reads a file's bytes; any damage is a `CheckpointError` (never a trap).
    public static func decode(_ bytes: [UInt8]) throws(CheckpointError) -> Checkpoint {
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else { throw .badMagic }
        guard bytes.count >= headerBytes else { throw .truncated(expected: headerBytes, got: bytes.count) }
        var h = CheckpointReader(Array(bytes.prefix(headerBytes)))
        _ = try h.take(magic.count, "magic")
        let version = try h.u32("version")
        guard version == formatVersion else { throw .unsupportedVersion(version) }
        _ = try h.u32("flags")
        let length = try h.u64("length")
        let stored = try h.u32("checksum")
        guard length <= UInt64(Int.max - headerBytes) else { throw .corrupt("payload length \(length)") }
        let expected = headerBytes + Int(length)
        guard bytes.count >= expected else { throw .truncated(expected: expected, got: bytes.count) }
        guard bytes.count == expected else { throw .corrupt("\(bytes.count - expected) bytes after the payload") }
        let payload = bytes[headerBytes...]
        let computed = CRC32C.checksum(payload)
        guard computed == stored else { throw .checksumMismatch(stored: stored, computed: computed) }
        var r = CheckpointReader(Array(payload))
        var offsets: [CheckpointOffset] = []
        for _ in 0..<(try r.count("offsets", minBytes: 20)) {
            let topic = try r.string("topic")
            let partition = try r.i32("partition")
            let next = try r.i64("offset")
            guard partition >= 0, next >= 0 else { throw .corrupt("offset \(topic)[\(partition)]@\(next)") }
            offsets.append(CheckpointOffset(topic: topic, partition: partition, next: next))
        }
        let ruleSet = try r.string("rule set")
        let taken = try r.i64("taken at")
        let state = Array(try r.raw("detector state"))
        guard r.isAtEnd else { throw .corrupt("bytes left after the detector state") }
        return Checkpoint(offsets: offsets, ruleSet: ruleSet, takenAtMillis: taken, detectorState: state)
    }
}
