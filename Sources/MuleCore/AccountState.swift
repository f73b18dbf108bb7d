/// One side of a transfer as seen by one account: a credit (money in) or a debit (money out).
@usableFromInline
struct Leg: Sendable {
    @usableFromInline var ts: Int64
    @usableFromInline var amount: Int64
    @usableFromInline var txHandle: UInt64
    @usableFromInline var counterparty: Int32
    @usableFromInline var isCredit: Bool
    @usableFromInline var channel: Channel
    @usableFromInline var ownKind: AccountKind
    @usableFromInline var counterpartyKind: AccountKind

    @inlinable
    init(ts: Int64, amount: Int64, txHandle: UInt64, counterparty: Int32, isCredit: Bool,
         channel: Channel, ownKind: AccountKind, counterpartyKind: AccountKind) {
        self.ts = ts
        self.amount = amount
        self.txHandle = txHandle
        self.counterparty = counterparty
        self.isCredit = isCredit
        self.channel = channel
        self.ownKind = ownKind
        self.counterpartyKind = counterpartyKind
    }
}

/// Where one account's legs live in the detector's `LegPool`: a power-of-two ring of
/// `capacity` slots starting at `base`, holding `count` legs in event-time order from `head`.
/// It grows by doubling up to the per-account cap and then overwrites its oldest leg.
@usableFromInline
struct LegRing: Sendable {
    @usableFromInline var base: Int32 = 0
    @usableFromInline var capacity: Int32 = 0
    @usableFromInline var head: Int32 = 0
    @usableFromInline var legCount: Int32 = 0

    @usableFromInline init() {}

    @inlinable var count: Int { Int(legCount) }

    /// Position in the pool of the `i`-th leg.
    @inlinable @inline(__always)
    func slot(_ i: Int) -> Int { Int(base) &+ ((Int(head) &+ i) & (Int(capacity) &- 1)) }
}

/// Every account's legs in one contiguous array, handed out in power-of-two chunks with a free
/// list per size: no allocation per account or per leg once the pool has reached its high-water
/// mark, no array header per account, and an account without legs holds no chunk at all.
@usableFromInline
struct LegPool: Sendable {
    @usableFromInline var storage = ContiguousArray<Leg>()
    /// Free chunk offsets by log2 of their size.
    @usableFromInline var free = [[Int32]](repeating: [], count: 32)

    @usableFromInline init() {}

    @inlinable @inline(__always)
    subscript(ring: LegRing, i: Int) -> Leg {
        get { storage[ring.slot(i)] }
        set { storage[ring.slot(i)] = newValue }
    }

    /// Appends `leg`; returns true if the oldest leg had to be dropped to respect `cap`.
    @inlinable
    mutating func append(_ leg: Leg, to ring: inout LegRing, cap: Int) -> Bool {
        var evicted = false
        if ring.count == cap {
            ring.head = (ring.head &+ 1) & (ring.capacity &- 1)
            ring.legCount -= 1
            evicted = true
        } else if ring.legCount == ring.capacity {
            grow(&ring, minimum: ring.count + 1)
        }
        storage[ring.slot(ring.count)] = leg
        ring.legCount += 1
        return evicted
    }

    /// Inserts `leg` at its event-time position (only for late events processed anyway).
    mutating func insertSorted(_ leg: Leg, into ring: inout LegRing, cap: Int) -> Bool {
        let evicted = append(leg, to: &ring, cap: cap)
        var i = ring.count - 1
        while i > 0 && self[ring, i - 1].ts > leg.ts {
            self[ring, i] = self[ring, i - 1]
            i -= 1
        }
        self[ring, i] = leg
        return evicted
    }

    @usableFromInline
    mutating func grow(_ ring: inout LegRing, minimum: Int) {
        var cap = max(4, Int(ring.capacity) * 2)
        while cap < minimum { cap <<= 1 }
        let base = allocate(cap)
        let n = ring.legCount
        for i in 0..<Int(n) { storage[base + i] = storage[ring.slot(i)] }
        release(&ring)
        ring.base = Int32(base)
        ring.capacity = Int32(cap)
        ring.legCount = n
    }

    /// A chunk of `size` (a power of two) slots: a freed one if any, else new at the end.
    mutating func allocate(_ size: Int) -> Int {
        let k = size.trailingZeroBitCount
        if let off = free[k].popLast() { return Int(off) }
        let off = storage.count
        precondition(off + size <= Int(Int32.max), "leg pool full")
        storage.append(contentsOf: repeatElement(
            Leg(ts: 0, amount: 0, txHandle: 0, counterparty: -1, isCredit: false, channel: .unknown,
                ownKind: .unknown, counterpartyKind: .unknown), count: size))
        return off
    }

    /// Returns the ring's chunk to the pool; the ring is left empty.
    @usableFromInline
    mutating func release(_ ring: inout LegRing) {
        if ring.capacity > 0 { free[Int(ring.capacity).trailingZeroBitCount].append(ring.base) }
        ring = LegRing()
    }

    /// Drops legs older than `cutoff`; an emptied ring gives its chunk back.
    @inlinable
    mutating func dropBefore(_ cutoff: Int64, in ring: inout LegRing) {
        while ring.legCount > 0 && storage[Int(ring.base) &+ Int(ring.head)].ts < cutoff {
            ring.head = (ring.head &+ 1) & (ring.capacity &- 1)
            ring.legCount -= 1
        }
        if ring.legCount == 0 && ring.capacity > 0 { release(&ring) }
    }

    /// Index (within the ring) of the first leg with `ts >= from`.
    @inlinable
    func firstIndex(_ ring: LegRing, atOrAfter from: Int64) -> Int {
        // Most accounts hold a few legs: a forward walk over one or two cache lines beats the
        // mispredicted, dependent loads of a binary search there.
        if ring.count <= 8 {
            var i = 0
            while i < ring.count && storage[ring.slot(i)].ts < from { i &+= 1 }
            return i
        }
        var lo = 0
        var hi = ring.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if storage[ring.slot(mid)].ts < from { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Bytes of leg storage (chunks in use and free).
    var memoryBytes: Int {
        storage.capacity * MemoryLayout<Leg>.stride + free.reduce(0) { $0 + $1.capacity * 4 }
    }
}

/// What the core keeps per tracked account.
@usableFromInline
struct AccountState: Sendable {
    @usableFromInline var legs = LegRing()
    @usableFromInline var firstSeen: Int64
    @usableFromInline var lastActive: Int64
    /// Latest end of any rule's cool-down for this account (blocks eviction until then).
    @usableFromInline var cooldownUntil: Int64 = .min
    /// Transfers accepted but not yet applied that name this account (blocks eviction).
    @usableFromInline var pendingRefs: Int32 = 0
    @usableFromInline var lruPrev: Int32 = -1
    @usableFromInline var lruNext: Int32 = -1
    /// When it last took part in a hop: read on every chain-rule evaluation, so it lives with
    /// the state already loaded (a separate array by id cost a cache miss per evaluation).
    @usableFromInline var lastHop = HopTimes()

    @inlinable init(firstSeen: Int64) {
        self.firstSeen = firstSeen
        self.lastActive = firstSeen
    }
}

/// When an account last took part in a hop (`Int64.min`: never, or not since it was forgotten).
@usableFromInline
struct HopTimes: Sendable {
    /// Latest hop it made or received.
    @usableFromInline var any: Int64 = .min
    /// Latest mule-style hop it received.
    @usableFromInline var muleIn: Int64 = .min

    @usableFromInline init() {}
}
