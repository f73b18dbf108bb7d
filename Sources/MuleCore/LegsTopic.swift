/// The records of the internal legs topic (`<app-id>-legs`). Each value starts with a tag byte:
///
/// | tag | record | key | rest of the value |
/// | --- | --- | --- | --- |
/// | `C`, `D`, `B` | leg(s) of a transfer: credit, debit, both (payer and payee share the partition) | the account | the input event, byte for byte |
/// | `L` | a link from another task (`LinkMessage`) | the account it is about | binary |
/// | `M` | a marker (`LegsMarker`) | none | binary |
public enum LegsRecordKind: Sendable, Equatable {
    case legs(LegSides)
    case link
    case marker
    case unknown(UInt8)

    public init(firstByte b: UInt8?) {
        guard let b else {
            self = .unknown(0)
            return
        }
        if let s = LegSides(tag: b) {
            self = .legs(s)
        } else if b == LinkMessage.tag {
            self = .link
        } else if b == LegsMarker.tag {
            self = .marker
        } else {
            self = .unknown(b)
        }
    }
}

/// Progress markers on the legs topic (see `TaskClock`).
public enum LegsMarker: Sendable, Equatable {
    /// From the route stage of input partition `input` (of `inputCount`).
    case route(input: Int32, inputCount: Int32, watermark: Int64, newest: Int64, lowest: Int64, idle: Bool)
    /// From the detect task of legs partition `partition`.
    case task(partition: Int32, floor: Int64)

    static let tag = UInt8(ascii: "M")

    public func encode() -> [UInt8] {
        var w = CheckpointWriter(reserving: 40)
        w.u8(Self.tag)
        switch self {
        case .route(let i, let n, let wm, let newest, let lowest, let idle):
            w.u8(UInt8(ascii: "R"))
            w.i32(i)
            w.i32(n)
            w.i64(wm)
            w.i64(newest)
            w.i64(lowest)
            w.bool(idle)
        case .task(let p, let floor):
            w.u8(UInt8(ascii: "T"))
            w.i32(p)
            w.i64(floor)
        }
        return w.bytes
    }

    public static func decode(_ value: UnsafeRawBufferPointer) throws(CheckpointError) -> LegsMarker {
        var r = CheckpointReader([UInt8](value))
        guard try r.u8("tag") == tag else { throw .corrupt("not a marker") }
        let m: LegsMarker
        switch try r.u8("kind") {
        case UInt8(ascii: "R"):
            let i = try r.i32("input partition")
            let n = try r.i32("input partitions")
            guard n > 0 && n <= 100_000 && i >= 0 && i < n else { throw .corrupt("input partition \(i) of \(n)") }
            m = .route(input: i, inputCount: n, watermark: try r.i64("watermark"), newest: try r.i64("newest"),
                       lowest: try r.i64("lowest"), idle: try r.bool("idle"))
        case UInt8(ascii: "T"):
            let p = try r.i32("partition")
            guard p >= 0 else { throw .corrupt("partition \(p)") }
            m = .task(partition: p, floor: try r.i64("floor"))
        case let k: throw .corrupt("unknown marker kind \(k)")
        }
        guard r.isAtEnd else { throw .corrupt("bytes left after the marker") }
        return m
    }
}

/// The route stage's decisions for one input partition: which legs partitions a transfer goes
/// to, which events are late, and the watermark its markers carry.
///
/// An event is late when it is behind the partition's newest event time by more than the
/// allowed lateness: a single instance would declare it late too (its watermark is at most
/// that), so splitting the work drops nothing a single instance would apply. (A single
/// instance holds the watermark to the *slowest* partition, so it may also drop an event a
/// little behind other partitions; the detect tasks do the same check against their own
/// watermark, which is that of the slowest partition.)
public struct LegRouter: Sendable {
    public let partitioner: LegPartitioner
    public let latenessMillis: Int64
    /// Newest event time per input partition.
    public private(set) var newest: [Int32: Int64] = [:]
    /// Lowest event time routed per input partition (since this stage took it over).
    public private(set) var lowest: [Int32: Int64] = [:]

    public init(partitioner: LegPartitioner, latenessMillis: Int64) {
        self.partitioner = partitioner
        self.latenessMillis = latenessMillis
    }

    public enum Route: Sendable, Equatable {
        /// Both accounts live in one partition: one record with both legs.
        case together(partition: Int32)
        /// Credit leg to the payee's partition, debit leg to the payer's.
        case apart(payee: Int32, payer: Int32)
        case late(behindMillis: Int64)
    }

    public mutating func route(_ t: DecodedTransfer, in bytes: UnsafeRawBufferPointer, input: Int32) -> Route {
        let w = watermark(input: input)
        if t.timestamp < w { return .late(behindMillis: w - t.timestamp) }
        if t.timestamp > newest[input, default: .min] { newest[input] = t.timestamp }
        if t.timestamp < lowest[input, default: .max] { lowest[input] = t.timestamp }
        let payee = partitioner.partition(of: t.payee.bytes(in: bytes))
        let payer = partitioner.partition(of: t.payer.bytes(in: bytes))
        return payee == payer ? .together(partition: payee) : .apart(payee: payee, payer: payer)
    }

    /// Every event of `input` not dropped as late from now on has event time ≥ this.
    public func watermark(input: Int32) -> Int64 {
        let n = newest[input, default: .min]
        return n == .min ? .min : n &- latenessMillis
    }

    /// Forgets a partition (revoked): whoever takes it over starts from its own first events.
    public mutating func forget(input: Int32) {
        newest.removeValue(forKey: input)
        lowest.removeValue(forKey: input)
    }

    /// The marker that reports `input` (`idle`: quiet and caught up).
    public func marker(input: Int32, of inputCount: Int32, idle: Bool) -> LegsMarker {
        .route(input: input, inputCount: inputCount, watermark: watermark(input: input), newest: newest[input] ?? .min,
               lowest: lowest[input] ?? .max, idle: idle)
    }
}

extension TaskClock {
    public func writeCheckpoint(to w: inout CheckpointWriter) {
        w.tag("CLCK")
        w.count(inputs.count)
        for m in inputs {
            w.i64(m.watermark)
            w.i64(m.first)
            w.i64(m.newest)
            w.bool(m.idle)
            w.bool(m.heard)
        }
        w.count(peers.count)
        for p in peers {
            w.bool(p != nil)
            w.i64(p ?? .min)
        }
    }

    /// The clock `writeCheckpoint` wrote, for the same partition and partition count.
    public mutating func readCheckpoint(from r: inout CheckpointReader) throws(CheckpointError) {
        try r.tag("CLCK")
        var ins: [InputMark] = []
        for _ in 0..<(try r.count("inputs", minBytes: 26)) {
            ins.append(InputMark(watermark: try r.i64(), first: try r.i64(), newest: try r.i64(), idle: try r.bool(), heard: try r.bool()))
        }
        let n = try r.count("peers", minBytes: 9)
        guard n == Int(partitions) else { throw .corrupt("clock of \(n) partitions, the legs topic has \(partitions)") }
        var ps: [Int64?] = []
        for _ in 0..<n {
            let known = try r.bool()
            let v = try r.i64()
            ps.append(known ? v : nil)
        }
        restore(inputs: ins, peers: ps)
    }
}
