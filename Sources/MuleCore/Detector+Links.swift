/// A record one detect task sends to the owners of other partitions: what it learnt about their
/// accounts. `partition` -1 means every partition but the sender's (gang ties: every task keeps
/// the whole gang graph). `value` is a `LinkMessage` encoding, starting with the tag `L`.
public struct OutboundLink: Sendable, Equatable {
    public var partition: Int32
    /// The account it is about (the record key on the legs topic).
    public var key: [UInt8]
    public var value: [UInt8]
}

/// One hop as it travels between partitions: account names instead of local ids.
struct LinkHop: Sendable, Equatable {
    var from: String
    var to: String
    var ts: Int64
    var amount: Int64
    var delayMillis: Int64
    var retained: Double
    var depth: UInt8
    var muleStyle: Bool
}

/// What crosses partitions, and when it takes effect at the receiver (`deliverAt`, event time:
/// the sender's event time plus the link delay).
enum LinkMessage: Sendable, Equatable {
    /// A hop into the receiver's account `chain.last.to`, made by the transfer `transferId`;
    /// `chain` is the chain it ends, first hop first (the receiver cannot look up the sender's
    /// earlier hops). `at` is the sender's event time when it found the hop.
    case hop(transferId: String, chain: [LinkHop], at: Int64)
    /// Mule-style forwarder `forwarder` passed on money paid by the receiver's account `upstream`.
    case upstream(upstream: String, forwarder: String, at: Int64)
    /// A gang tie between two accounts.
    case tie(a: String, b: String, at: Int64, amount: Int64)

    static let tag = UInt8(ascii: "L")
    static let version: UInt8 = 1
    /// Longest account or transfer id a link may carry (the decoder's own limit is 128 bytes).
    static let maxName = 1024

    func encode(deliverAt: Int64) -> [UInt8] {
        var w = CheckpointWriter(reserving: 128)
        w.u8(Self.tag)
        w.u8(Self.version)
        switch self {
        case .hop(let id, let chain, let at):
            w.u8(1)
            w.i64(deliverAt)
            w.i64(at)
            w.string(id)
            w.count(chain.count)
            for h in chain {
                w.string(h.from)
                w.string(h.to)
                w.i64(h.ts)
                w.i64(h.amount)
                w.i64(h.delayMillis)
                w.f64(h.retained)
                w.u8(h.depth)
                w.bool(h.muleStyle)
            }
        case .upstream(let up, let by, let at):
            w.u8(2)
            w.i64(deliverAt)
            w.i64(at)
            w.string(up)
            w.string(by)
        case .tie(let a, let b, let at, let amount):
            w.u8(3)
            w.i64(deliverAt)
            w.i64(at)
            w.string(a)
            w.string(b)
            w.i64(amount)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(CheckpointError) -> (message: LinkMessage, deliverAt: Int64) {
        var r = CheckpointReader(bytes)
        guard try r.u8("tag") == tag else { throw .corrupt("not a link record") }
        let v = try r.u8("version")
        guard v == version else { throw .corrupt("link record version \(v) (this build reads \(version))") }
        let kind = try r.u8("kind")
        let deliverAt = try r.i64("deliver at")
        let at = try r.i64("at")
        func name(_ what: String) throws(CheckpointError) -> String {
            let s = try r.string(what)
            guard !s.isEmpty, s.utf8.count <= maxName else { throw .corrupt("\(what) is empty or longer than \(maxName) bytes") }
            return s
        }
        let message: LinkMessage
        switch kind {
        case 1:
            let id = try name("transfer id")
            var chain: [LinkHop] = []
            let n = try r.count("hops", minBytes: 42)
            guard n >= 1 && n <= 64 else { throw .corrupt("a hop link carries \(n) hops (1–64)") }
            for _ in 0..<n {
                chain.append(LinkHop(from: try name("from"), to: try name("to"), ts: try r.i64("ts"), amount: try r.i64("amount"),
                                     delayMillis: try r.i64("delay"), retained: try r.f64("retained"), depth: try r.u8("depth"),
                                     muleStyle: try r.bool("mule-style")))
            }
            message = .hop(transferId: id, chain: chain, at: at)
        case 2: message = .upstream(upstream: try name("upstream"), forwarder: try name("forwarder"), at: at)
        case 3: message = .tie(a: try name("a"), b: try name("b"), at: at, amount: try r.i64("amount"))
        default: throw .corrupt("unknown link kind \(kind)")
        }
        guard r.isAtEnd else { throw .corrupt("bytes left after the link record") }
        guard deliverAt > at else { throw .corrupt("link delivered before it was made") }
        return (message, deliverAt)
    }
}

/// A link received and waiting for the watermark to pass its delivery time.
struct PendingLink: Sendable {
    var deliverAt: Int64
    /// Hash of the record bytes: the tie-break among links delivered at the same time, and the
    /// key that drops a second copy (a sender replaying after it moved to another instance).
    var hash: UInt64
    var bytes: [UInt8]
    var message: LinkMessage

    func precedes(_ o: PendingLink) -> Bool { deliverAt < o.deliverAt || (deliverAt == o.deliverAt && hash < o.hash) }
}

/// Received links in delivery order. Links are rare (hops and ties, not transfers): a sorted
/// array, newest first, so the next one is popped from the end.
struct LinkQueue: Sendable {
    var items: [PendingLink] = []
    var hashes: Set<UInt64> = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var minDeliverAt: Int64? { items.last?.deliverAt }

    /// False when the same record is already waiting.
    mutating func push(_ l: PendingLink) -> Bool {
        guard hashes.insert(l.hash).inserted else { return false }
        var i = items.count
        while i > 0 && items[i - 1].precedes(l) { i -= 1 }
        items.insert(l, at: i)
        return true
    }

    mutating func popMin() -> PendingLink {
        let l = items.removeLast()
        hashes.remove(l.hash)
        return l
    }
}

/// What the detector did with a received link record.
public enum LinkOutcome: Sendable, Equatable {
    case accepted
    /// Its delivery time is already behind the watermark: a copy replayed by a sender that
    /// restarted from a snapshot (the original was applied). Dropped.
    case stale
    /// The same record is already waiting. Dropped.
    case duplicate
    /// Not a link record this build understands: dead-letter it with the reason.
    case malformed(String)
}

/// Counters of the link exchange between partitions.
public struct LinkCounters: Sendable, Equatable {
    public var sent: UInt64 = 0
    public var received: UInt64 = 0
    public var applied: UInt64 = 0
    public var stale: UInt64 = 0
    public var duplicates: UInt64 = 0
    /// Hop links whose transfer's credit leg is not (or no longer) here: kept for chains only.
    public var unmatched: UInt64 = 0

    public init() {}
}

/// Splitting the detector's work across partitions of the legs topic (`DetectorScope`).
///
/// Each transfer's legs are applied by the owners of their accounts. Everything a transfer
/// teaches about *other* partitions' accounts — a hop into their account (so their next forward
/// can extend the chain and their rules see `chain_payers`), a forwarder of their account's money
/// (shared-upstream gang ties), gang ties — is sent as a `LinkRecord` and applied there at
/// `deliverAt` = the sender's event time + the link delay, in (delivery time, record hash) order
/// together with the legs. Because the engine advances a task's watermark only as far as every
/// other task has promised to send nothing earlier (`pendingFloor` + link delay), the set of
/// records applied before any event time is the same whatever the timing, the instance count
/// or the order records arrived in.
extension Detector {
    /// Accepts one leg record: the event with the legs of it this partition owns.
    public mutating func ingest(_ t: DecodedTransfer, sides: LegSides, in bytes: UnsafeRawBufferPointer,
                                position: SourcePosition = .none) -> IngestOutcome {
        admit(t, sides: sides, in: bytes, position: position)
    }

    /// Accepts a link record from another partition (`value` of an `OutboundLink`).
    public mutating func ingestLink(_ value: UnsafeRawBufferPointer) -> LinkOutcome {
        let bytes = [UInt8](value)
        let decoded: (message: LinkMessage, deliverAt: Int64)
        do throws(CheckpointError) { decoded = try LinkMessage.decode(bytes) } catch { return .malformed(error.description) }
        linkCounters.received &+= 1
        if decoded.deliverAt < watermark {
            linkCounters.stale &+= 1
            return .stale
        }
        let hash = ByteHash.hash(value, seed: ByteHash.transferSeed ^ 0x4C49_4E4B)
        guard links.push(PendingLink(deliverAt: decoded.deliverAt, hash: hash, bytes: bytes, message: decoded.message)) else {
            linkCounters.duplicates &+= 1
            return .duplicate
        }
        return .accepted
    }

    /// Hands over the links made since the last call (publish them, flush, then advertise the
    /// new `pendingFloor`).
    public mutating func takeLinks() -> [OutboundLink] {
        if outbox.isEmpty { return [] }
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    /// Event time below which this detector will make no more links: nothing it still holds (a
    /// buffered transfer or a waiting link) is earlier. Links it makes later are delivered at
    /// this plus the link delay or later. `Int64.max` when it holds nothing.
    public var pendingFloor: Int64 { min(buffer.minTimestamp ?? .max, links.minDeliverAt ?? .max) }

    /// Links received and not yet applied.
    public var waitingLinks: Int { links.count }

    /// Whether this detector (scoped or not) owns `account`.
    func owns(_ account: Int32) -> Bool {
        guard let scope else { return true }
        return accounts.withName(account) { scope.partitioner.partition(of: $0) } == scope.partition
    }

    /// Queues a link about `account` for its owner (or, `partition` -1, for everyone).
    mutating func send(_ m: LinkMessage, about key: String, to partition: Int32) {
        guard let scope else { return }
        outbox.append(OutboundLink(partition: partition, key: Array(key.utf8),
                                   value: m.encode(deliverAt: applyingTime &+ scope.linkDelayMillis)))
        linkCounters.sent &+= 1
    }

    func partition(of account: Int32) -> Int32 {
        accounts.withName(account) { scope!.partitioner.partition(of: $0) }
    }

    /// Ties two accounts into a gang here and, when the work is split, everywhere.
    mutating func tieEverywhere(_ a: Int32, _ b: Int32, at ts: Int64, amount: Int64, earlier: (Int32, Int32) -> Bool) {
        gangs.tie(a, b, at: ts, amount: amount, earlier: earlier)
        if let scope, scope.partitioner.partitions > 1 {
            send(.tie(a: accounts.name(a), b: accounts.name(b), at: ts, amount: amount), about: accounts.name(a), to: -1)
        }
    }

    /// The local id of an account another partition told us about: interned if new, kept
    /// at least as long as an account active at `ts`.
    mutating func remoteAccount(_ name: String, at ts: Int64) -> Int32 {
        var n = name
        let id = n.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            return internAccount(bytes, hash: AccountTable.hash(bytes), at: ts).id
        }
        let i = Int(id)
        if ts > states[i].lastActive {
            states[i].lastActive = ts
            lruTouch(id)
        }
        return id
    }

    /// Applies a link at its delivery time (called in delivery order by `advanceWatermark`).
    mutating func applyLink(_ l: PendingLink) {
        linkCounters.applied &+= 1
        applyingTime = l.deliverAt
        applying = .none
        let horizon = config.chains.gangHorizonMillis
        switch l.message {
        case .hop(let transferId, let chain, let at):
            guard let last = chain.last else { return }
            let to = remoteAccount(last.to, at: last.ts)
            var parent = Hop.none
            for h in chain.dropLast() {
                parent = hops.add(Hop(from: remoteAccount(h.from, at: h.ts), to: remoteAccount(h.to, at: h.ts), ts: h.ts,
                                      amount: h.amount, delayMillis: h.delayMillis, retained: h.retained, depth: h.depth,
                                      muleStyle: h.muleStyle, parent: parent, txHandle: Hop.none))
            }
            let from = remoteAccount(last.from, at: last.ts)
            let tx = creditLeg(of: to, transfer: transferId, ts: last.ts, amount: last.amount)
            if tx == Hop.none { linkCounters.unmatched &+= 1 }
            _ = hops.add(Hop(from: from, to: to, ts: last.ts, amount: last.amount, delayMillis: last.delayMillis,
                             retained: last.retained, depth: last.depth, muleStyle: last.muleStyle, parent: parent, txHandle: tx))
            states[Int(to)].lastHop.any = max(states[Int(to)].lastHop.any, last.ts)
            guard last.muleStyle else { return }
            states[Int(to)].lastHop.muleIn = max(states[Int(to)].lastHop.muleIn, last.ts)
            let earlier = nameOrder()
            if let prev = lastForwarderInto[to], prev.from != from, at &- prev.ts <= horizon, stillSameAccount(prev.from, since: prev.ts) {
                tieEverywhere(prev.from, to, at: at, amount: 0, earlier: earlier)
                tieEverywhere(from, to, at: at, amount: last.amount, earlier: earlier)
            }
            lastForwarderInto[to] = (from, at)
            // Rules reading `chain_payers` on money coming in see the hop now, not at the
            // credit (the link arrives later than the leg).
            evaluate(account: to, at: l.deliverAt, credit: true, chainRulesOnly: true)
        case .upstream(let upstreamName, let forwarder, let at):
            let upstream = remoteAccount(upstreamName, at: at)
            let by = remoteAccount(forwarder, at: at)
            if let prev = lastForwarderOf[upstream], prev.by != by, at &- prev.ts <= horizon, stillSameAccount(prev.by, since: prev.ts) {
                tieEverywhere(prev.by, by, at: at, amount: 0, earlier: nameOrder())
            }
            lastForwarderOf[upstream] = (by, at)
        case .tie(let a, let b, let at, let amount):
            let x = remoteAccount(a, at: at)
            let y = remoteAccount(b, at: at)
            if x != y { gangs.tie(x, y, at: at, amount: amount, earlier: nameOrder()) }
        }
    }

    /// The id handle of `account`'s credit leg for transfer `id` at `ts`, or `Hop.none`.
    func creditLeg(of account: Int32, transfer id: String, ts: Int64, amount: Int64) -> UInt64 {
        let ring = states[Int(account)].legs
        var i = ring.count
        while i > 0 {
            i -= 1
            let leg = legs[ring, i]
            if leg.ts < ts { break }
            if leg.isCredit && leg.ts == ts && leg.amount == amount && transferIds.name(leg.txHandle) == id { return leg.txHandle }
        }
        return Hop.none
    }

    /// The hop's chain as it travels: names, first hop first.
    func linkChain(endingAt seq: UInt64) -> [LinkHop] {
        knownChain(endingAt: seq).map {
            LinkHop(from: accounts.name($0.from), to: accounts.name($0.to), ts: $0.ts, amount: $0.amount,
                    delayMillis: $0.delayMillis, retained: $0.retained, depth: $0.depth, muleStyle: $0.muleStyle)
        }
    }

    func writeLinks(to w: inout CheckpointWriter) {
        w.tag("LNKS")
        w.count(links.items.count)
        for l in links.items { w.raw(l.bytes) }
        w.count(outbox.count)
        for o in outbox {
            w.i32(o.partition)
            w.raw(o.key)
            w.raw(o.value)
        }
        let c = linkCounters
        for v in [c.sent, c.received, c.applied, c.stale, c.duplicates, c.unmatched] { w.u64(v) }
    }

    mutating func readLinks(from r: inout CheckpointReader) throws(CheckpointError) {
        try r.tag("LNKS")
        for _ in 0..<(try r.count("links", minBytes: 8)) {
            let bytes = Array(try r.raw("link"))
            let d = try LinkMessage.decode(bytes)
            let hash = bytes.withUnsafeBytes { ByteHash.hash($0, seed: ByteHash.transferSeed ^ 0x4C49_4E4B) }
            _ = links.push(PendingLink(deliverAt: d.deliverAt, hash: hash, bytes: bytes, message: d.message))
        }
        for _ in 0..<(try r.count("outbox", minBytes: 20)) {
            outbox.append(OutboundLink(partition: try r.i32("partition"), key: Array(try r.raw("key")), value: Array(try r.raw("value"))))
        }
        linkCounters.sent = try r.u64()
        linkCounters.received = try r.u64()
        linkCounters.applied = try r.u64()
        linkCounters.stale = try r.u64()
        linkCounters.duplicates = try r.u64()
        linkCounters.unmatched = try r.u64()
    }
}
