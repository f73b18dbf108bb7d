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

/// An account's legs in event-time order, in a power-of-two ring that grows up to the
/// per-account cap and then overwrites its oldest leg.
@usableFromInline
struct LegRing: Sendable {
    @usableFromInline var buf: ContiguousArray<Leg> = []
    @usableFromInline var head = 0
    @usableFromInline var count = 0

    @usableFromInline init() {}

    @inlinable @inline(__always)
    subscript(i: Int) -> Leg {
        get { buf[(head + i) & (buf.count - 1)] }
        set { buf[(head + i) & (buf.count - 1)] = newValue }
    }

    /// Appends `leg`; returns true if the oldest leg had to be dropped to respect `cap`.
    @inlinable
    mutating func append(_ leg: Leg, cap: Int) -> Bool {
        var evicted = false
        if count == cap {
            head = (head + 1) & (buf.count - 1)
            count -= 1
            evicted = true
        } else if count == buf.count {
            grow(minimum: count + 1)
        }
        buf[(head + count) & (buf.count - 1)] = leg
        count += 1
        return evicted
    }

    /// Inserts `leg` at its event-time position (only for late events processed anyway).
    mutating func insertSorted(_ leg: Leg, cap: Int) -> Bool {
        let evicted = append(leg, cap: cap)
        var i = count - 1
        while i > 0 && self[i - 1].ts > leg.ts {
            self[i] = self[i - 1]
            i -= 1
        }
        self[i] = leg
        return evicted
    }

    @usableFromInline
    mutating func grow(minimum: Int) {
        var cap = max(4, buf.count * 2)
        while cap < minimum { cap <<= 1 }
        var fresh = ContiguousArray<Leg>()
        fresh.reserveCapacity(cap)
        for i in 0..<count { fresh.append(self[i]) }
        let filler = count > 0 ? self[0] : Leg(ts: 0, amount: 0, txHandle: 0, counterparty: -1, isCredit: false, channel: .unknown, ownKind: .unknown, counterpartyKind: .unknown)
        while fresh.count < cap { fresh.append(filler) }
        buf = fresh
        head = 0
    }

    /// Drops legs older than `cutoff`.
    @inlinable
    mutating func dropBefore(_ cutoff: Int64) {
        while count > 0 && buf[head].ts < cutoff {
            head = (head + 1) & (buf.count - 1)
            count -= 1
        }
        if count == 0 { head = 0 }
    }

    /// Index of the first leg with `ts >= from`.
    @inlinable
    func firstIndex(atOrAfter from: Int64) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if self[mid].ts < from { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Releases the storage when the account holds no legs, so idle accounts stay small.
    mutating func shrinkIfEmpty() {
        if count == 0 && buf.count > 0 {
            buf = []
            head = 0
        }
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

    @inlinable init(firstSeen: Int64) {
        self.firstSeen = firstSeen
        self.lastActive = firstSeen
    }
}
