/// One hop of money through an account: `from` passed on to `to` money it had received within
/// the hop window.
public struct Hop: Sendable, Equatable {
    public var from: Int32
    public var to: Int32
    /// Event time of the onward transfer.
    public var ts: Int64
    /// Units passed on.
    public var amount: Int64
    /// Money-weighted mean time the passed-on money sat in `from`, ms.
    public var delayMillis: Int64
    /// Fraction `from` kept of what it received within the hop window, as of this transfer.
    public var retained: Double
    /// Consecutive forwarding hops ending with this one (1 = `from` passed on money that was
    /// not itself forwarded to it).
    public var depth: UInt8
    /// Mule-style: the money passed on came from two or more payers (or the hop is at depth ≥ 2)
    /// and the forwarder kept about a commission (an ordinary forward — a parent passing on part
    /// of a salary, a friend paying a bill with their own share on top — is not).
    public var muleStyle: Bool
    /// Sequence number of the hop that brought the money into `from`, or `Hop.none`.
    public var parent: UInt64
    /// The onward transfer's id handle (evidence).
    public var txHandle: UInt64

    public static let none = UInt64.max
}

/// The recent hops, in event-time order, indexed by the transfer that made them so the next
/// hop down the chain can find its parent. Hops older than the memory horizon are dropped.
@usableFromInline
struct HopStore: Sendable {
    // Internal (not private) for HopStore+Checkpoint.swift.
    var hops: [Hop] = []
    var front = 0
    /// Sequence number of `hops[0]`.
    var base: UInt64 = 0
    var byTx = TxHopMap(filler: 0)

    var count: Int { hops.count - front }

    /// Records a hop; returns its sequence number.
    mutating func add(_ h: Hop) -> UInt64 {
        let seq = base + UInt64(hops.count)
        hops.append(h)
        // A hop learnt from another partition may have no transfer here (`Hop.none`): kept for
        // the chains it belongs to, not indexed.
        if h.txHandle != Hop.none { byTx[h.txHandle] = seq }
        return seq
    }

    func hop(_ seq: UInt64) -> Hop? {
        // One unsigned comparison for both ends (`Hop.none` lands above them as well):
        // looked up for nearly every leg of a mule account's window.
        let i = seq &- base
        guard seq != Hop.none, i &- UInt64(truncatingIfNeeded: front) < UInt64(truncatingIfNeeded: hops.count &- front)
        else { return nil }
        return hops[Int(truncatingIfNeeded: i)]
    }

    /// The hop made by the transfer with this id handle, if it was one and is still remembered.
    func hop(forTransfer tx: UInt64) -> (seq: UInt64, hop: Hop)? {
        guard let seq = byTx[tx], let h = hop(seq) else { return nil }
        return (seq, h)
    }

    /// The chain ending with hop `seq`, first hop first (parents that are no longer remembered
    /// end the walk).
    func chain(endingAt seq: UInt64, limit: Int = 16) -> [Hop] {
        var out: [Hop] = []
        var s = seq
        while out.count < limit, let h = hop(s) {
            out.append(h)
            s = h.parent
        }
        return out.reversed()
    }

    /// Forgets hops older than `cutoff`.
    mutating func expire(before cutoff: Int64) {
        while front < hops.count && hops[front].ts < cutoff {
            let h = hops[front]
            if h.txHandle != Hop.none, byTx[h.txHandle] == base + UInt64(front) { byTx.removeValue(forKey: h.txHandle) }
            front += 1
        }
        if front > 1024 && front * 2 > hops.count {
            hops.removeFirst(front)
            base += UInt64(front)
            front = 0
        }
    }

    var memoryBytes: Int { hops.capacity * MemoryLayout<Hop>.stride + byTx.memoryBytes }
}

/// Transfer id handle → hop sequence number. Looked up for every credit a forward spends and
/// every leg of an account with recent hops, almost always missing: `Dictionary`'s seeded
/// SipHash cost more than the rest of the lookup.
@usableFromInline
typealias TxHopMap = IntMap<UInt64, UInt64>
