/// One side of a transfer as seen by one account: a credit (money in) or a debit (money out).
@usableFromInline
struct Leg: Sendable, BitwiseCopyable {
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
///
/// 17 bytes, so that with the rest of `AccountState` it fits 64: the capacity is kept as its
/// log2 (0 = no chunk), and `oldestUnit` lets `LegPool.dropBefore` answer "nothing to drop"
/// (the usual case) from the account state alone, without a cache miss into the pool.
@usableFromInline
struct LegRing: Sendable, BitwiseCopyable {
    @usableFromInline var base: Int32 = 0
    @usableFromInline var head: Int32 = 0
    @usableFromInline var legCount: Int32 = 0
    /// A lower bound of the oldest leg's time in units of 1024 ms (`ts >> 10`: 32 bits reach
    /// 2039), `Int32.min` when unknown. Legs only leave from the oldest end, so it stays a
    /// bound until refreshed.
    @usableFromInline var oldestUnit: Int32 = .min
    /// log2 of the chunk's size; 0 when the ring holds no chunk (chunks have 4 slots or more).
    @usableFromInline var capacityLog2: UInt8 = 0

    @usableFromInline init() {}

    @inlinable var count: Int { Int(legCount) }
    @inlinable var capacity: Int32 { (1 &<< Int32(capacityLog2)) & ~1 }
    @inlinable var mask: Int32 { (1 &<< Int32(capacityLog2)) &- 1 }

    /// Position in the pool of the `i`-th leg.
    @inlinable @inline(__always)
    func slot(_ i: Int) -> Int { Int(base) &+ ((Int(head) &+ i) & Int(mask)) }

    /// Whether a leg older than `cutoff` may be held (false: certainly none).
    @inlinable @inline(__always)
    func mayHold(before cutoff: Int64) -> Bool {
        legCount > 0 && (Int64(oldestUnit) &<< 10 < cutoff || oldestUnit == .min)
    }

    /// `ts >> 10` (floor of ts / 1024) as a lower bound that fits 32 bits (`Int32.min`: unknown).
    @inlinable @inline(__always)
    static func unit(_ ts: Int64) -> Int32 {
        let u = ts &>> 10
        if u >= Int64(Int32.max) { return .max }
        return u > Int64(Int32.min) ? Int32(truncatingIfNeeded: u) : .min
    }
}

/// Every account's legs in one contiguous array, handed out in power-of-two chunks with a free
/// list per size: no allocation per account or per leg once the pool has reached its high-water
/// mark, no array header per account, and an account without legs holds no chunk at all.
///
/// The free lists are threaded through the free chunks themselves (a free chunk's first slot
/// names the next free chunk of its size) with their heads inline in the pool: handing out or
/// giving back a chunk writes into `storage` only. Lists of `[Int32]` per size had cost three
/// uniqueness checks per chunk handed out and given back (outer array, inner array, `popLast`)
/// and memory for the offsets.
@usableFromInline
struct LegPool: Sendable {
    @usableFromInline var storage = LineArray<Leg>()
    /// First free chunk by log2 of its size (-1: none); the chunk's first slot's `counterparty`
    /// is the next one's offset.
    @usableFromInline var freeHeads = InlineArray<32, Int32>(repeating: -1)
    /// Slots in chunks handed out (the rest of `storage` is on the free lists).
    @usableFromInline var liveSlots = 0
    /// Slots kept allocated (capacity) even by `compacted`: `DetectorConfig.reserveAccounts`.
    var reservedSlots = 0

    @usableFromInline init() {}

    @inlinable @inline(__always)
    subscript(ring: LegRing, i: Int) -> Leg {
        get { storage[ring.slot(i)] }
        set { storage[ring.slot(i)] = newValue }
    }

    /// Appends `leg`; returns true if the oldest leg had to be dropped to respect `cap`.
    @inlinable
    mutating func append(_ leg: Leg, to ring: inout LegRing, cap: Int) -> Bool {
        let (slot, evicted) = reserve(at: leg.ts, in: &ring, cap: cap)
        storage[slot] = leg
        return evicted
    }

    /// `append` but for the write: the ring counts a leg at `ts` whose slot is returned, for the
    /// caller to write (two legs through one pointer: one uniqueness check, not two).
    @inlinable
    mutating func reserve(at ts: Int64, in ring: inout LegRing, cap: Int) -> (slot: Int, evicted: Bool) {
        var evicted = false
        if ring.count == cap {
            // The old bound still holds: the new oldest leg is not older than the one dropped.
            ring.head = (ring.head &+ 1) & ring.mask
            ring.legCount -= 1
            evicted = true
        } else if ring.legCount == ring.capacity {
            grow(&ring, minimum: ring.count + 1)
        }
        if ring.legCount == 0 { ring.oldestUnit = LegRing.unit(ts) }
        let slot = ring.slot(ring.count)
        ring.legCount += 1
        return (slot, evicted)
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
        ring.oldestUnit = min(ring.oldestUnit, LegRing.unit(leg.ts))
        return evicted
    }

    @usableFromInline
    mutating func grow(_ ring: inout LegRing, minimum: Int) {
        // An account's first leg (most grows: accounts come and go): a chunk of 4, nothing to
        // move or give back.
        if ring.capacityLog2 == 0 && ring.legCount == 0 && minimum <= 4 {
            ring.base = Int32(allocate(4))
            ring.head = 0
            ring.capacityLog2 = 2
            return
        }
        var cap = max(4, Int(ring.capacity) * 2)
        while cap < minimum { cap <<= 1 }
        let base = allocate(cap)
        let n = ring.legCount
        let oldest = ring.oldestUnit
        for i in 0..<Int(n) { storage[base + i] = storage[ring.slot(i)] }
        release(&ring)
        ring.base = Int32(base)
        ring.capacityLog2 = UInt8(cap.trailingZeroBitCount)
        ring.legCount = n
        ring.oldestUnit = oldest
    }

    /// A chunk of `size` (a power of two) slots: a freed one if any, else new at the end.
    mutating func allocate(_ size: Int) -> Int {
        let k = size.trailingZeroBitCount
        liveSlots += size
        let head = freeHeads[k]
        if head >= 0 {
            freeHeads[k] = storage[Int(head)].counterparty
            return Int(head)
        }
        let off = storage.count
        precondition(off + size <= Int(Int32.max), "leg pool full")
        storage.append(repeating:
            Leg(ts: 0, amount: 0, txHandle: 0, counterparty: -1, isCredit: false, channel: .unknown,
                ownKind: .unknown, counterpartyKind: .unknown), count: size)
        return off
    }

    /// Returns the ring's chunk to the pool; the ring is left empty.
    @usableFromInline
    mutating func release(_ ring: inout LegRing) {
        if ring.capacityLog2 > 0 {
            let k = Int(ring.capacityLog2)
            storage[Int(ring.base)].counterparty = freeHeads[k]
            freeHeads[k] = ring.base
            liveSlots -= Int(ring.capacity)
        }
        ring = LegRing()
    }

    /// The free chunks' offsets by log2 of their size, most recently freed first (for tests).
    var freeChunks: [[Int32]] {
        (0..<32).map { k in
            var out: [Int32] = []
            var c = freeHeads[k]
            while c >= 0 {
                out.append(c)
                c = storage[Int(c)].counterparty
            }
            return out
        }
    }

    /// Drops legs older than `cutoff`; an emptied ring gives its chunk back. The usual case,
    /// nothing to drop, is answered from the ring header alone.
    @inlinable @inline(__always)
    mutating func dropBefore(_ cutoff: Int64, in ring: inout LegRing) {
        if ring.mayHold(before: cutoff) { dropOld(cutoff, in: &ring) }
    }

    @usableFromInline
    mutating func dropOld(_ cutoff: Int64, in ring: inout LegRing) {
        let oldest: Int64? = storage.withUnsafeBufferPointer { buf in
            while ring.legCount > 0 && buf[Int(ring.base) &+ Int(ring.head)].ts < cutoff {
                ring.head = (ring.head &+ 1) & ring.mask
                ring.legCount -= 1
            }
            return ring.legCount > 0 ? buf[Int(ring.base) &+ Int(ring.head)].ts : nil
        }
        if let oldest { ring.oldestUnit = LegRing.unit(oldest) } else { release(&ring) }
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

    /// Whether most of the storage sits on the free lists (worth `compacted`). Never within the
    /// reserved room: compacting would give nothing back, and it stops the event that triggered
    /// it for a copy of every live leg.
    var isSparse: Bool { storage.count >= 1 << 16 && storage.count > reservedSlots && liveSlots * 4 < storage.count }

    /// A pool holding the same legs in chunks just big enough, and `rings` pointed at them: gives
    /// back the memory of rings freed since the high-water mark (after many accounts went idle).
    func compacted(_ rings: inout LineArray<AccountState>, live: (Int) -> Bool) -> LegPool {
        var out = LegPool()
        out.reservedSlots = reservedSlots
        out.storage.reserveCapacity(max(liveSlots, reservedSlots))
        for i in rings.indices where live(i) && rings[i].legs.legCount > 0 {
            let old = rings[i].legs
            var ring = LegRing()
            out.grow(&ring, minimum: old.count)
            for k in 0..<old.count { out.storage[ring.slot(k)] = self[old, k] }
            ring.legCount = old.legCount
            ring.oldestUnit = old.oldestUnit
            rings[i].legs = ring
        }
        return out
    }

    /// Bytes of leg storage (chunks in use and free; the free lists live in the free chunks).
    var memoryBytes: Int { storage.capacity * MemoryLayout<Leg>.stride }
}

/// What the core keeps per tracked account: 64 bytes (`AccountStateLayoutTests`).
@usableFromInline
struct AccountState: Sendable, BitwiseCopyable {
    @usableFromInline var legs = LegRing()
    /// `hasCooldown`: the account raised an alert whose cool-down end is in the detector's
    /// `cooldownEnds` (rare, so it does not take 8 bytes of every account).
    @usableFromInline var flags: UInt8 = 0
    /// Transfers accepted but not yet applied that name this account (blocks eviction).
    @usableFromInline var pendingRefs: Int32 = 0
    @usableFromInline var lruPrev: Int32 = -1
    @usableFromInline var lruNext: Int32 = -1
    @usableFromInline var firstSeen: Int64
    @usableFromInline var lastActive: Int64
    /// When it last took part in a hop: read on every chain-rule evaluation, so it lives with
    /// the state already loaded (a separate array by id cost a cache miss per evaluation).
    @usableFromInline var lastHop = HopTimes()

    @usableFromInline static let hasCooldown: UInt8 = 1

    @inlinable init(firstSeen: Int64) {
        self.firstSeen = firstSeen
        self.lastActive = firstSeen
    }
}

/// When an account last took part in a hop (`Int64.min`: never, or not since it was forgotten).
@usableFromInline
struct HopTimes: Sendable, BitwiseCopyable {
    /// Latest hop it made or received.
    @usableFromInline var any: Int64 = .min
    /// Latest mule-style hop it received.
    @usableFromInline var muleIn: Int64 = .min

    @usableFromInline init() {}
}

extension Detector {
    /// Records that `account` raised an alert whose cool-down runs until `until`.
    @usableFromInline
    mutating func noteCooldown(of account: Int32, until: Int64) {
        states[Int(account)].flags |= AccountState.hasCooldown
        if until > cooldownEnds[account, default: .min] { cooldownEnds[account] = until }
    }

    /// End of the account's latest cool-down (`Int64.min`: it never raised an alert).
    @inline(__always)
    func cooldownEnd(of id: Int32, _ s: AccountState) -> Int64 {
        s.flags & AccountState.hasCooldown == 0 ? .min : cooldownEnds[id, default: .min]
    }

    /// Gives back the leg chunks of accounts still tracked (for `accountMemoryMillis`, or held
    /// by a pending transfer, a cool-down or a gang tie) whose legs have all left every window:
    /// an idle account then costs its `AccountState` and its name, not a ring of legs. Walks the
    /// LRU list from where it stopped, at most `limit` accounts, up to the first account active
    /// since `watermark - longestWindow` (minus the link delay when the work is split, so a hop
    /// link still finds the credit leg it names). Such legs are out of every rule's window (no
    /// rule is evaluated before the watermark) and the account's next leg would drop them anyway.
    /// Compacts the pool when most of it is then free.
    @inline(__always)
    mutating func releaseIdleLegs(limit: Int) {
        // Cheap test first (the usual answer): the account there was active within the window.
        guard idleScan >= 0, states[Int(idleScan)].lastActive &+ longestWindow < watermark,
              let horizon = legHorizon, states[Int(idleScan)].lastActive < horizon else { return }
        releaseIdleLegs(before: horizon, limit: limit)
    }

    /// Legs of accounts last active before this have left every window (nil: none yet).
    var legHorizon: Int64? {
        let keep = longestWindow &+ (scope?.linkDelayMillis ?? 0)
        return watermark > Int64.min &+ keep ? watermark &- keep : nil
    }

    /// The same for one account `evictIdle` keeps (and moves to the LRU tail, past the walk).
    mutating func releaseLegsIfIdle(_ id: Int32) {
        guard let horizon = legHorizon, states[Int(id)].lastActive < horizon else { return }
        legs.release(&states[Int(id)].legs)
    }

    mutating func releaseIdleLegs(before horizon: Int64, limit: Int) {
        var budget = limit
        var released = false
        while budget > 0, idleScan >= 0 {
            let i = Int(idleScan)
            guard states[i].lastActive < horizon else { break }
            if states[i].legs.capacityLog2 > 0 {
                legs.release(&states[i].legs)
                released = true
            }
            idleScan = states[i].lruNext
            budget -= 1
        }
        if released && legs.isSparse { compactLegs() }
    }

    /// Sizes the tables for `config.reserveAccounts` accounts and the duplicate index for
    /// `config.reserveTransferIds` ids, so that they do not grow (and stop the event that needs
    /// the room while they are copied) before that. At start and after a checkpoint is restored.
    mutating func reserveConfiguredCapacity() {
        let n = config.reserveAccounts
        if n > 0 {
            accounts.reserve(accounts: n, nameBytes: n * DetectorConfig.reservedNameBytesPerAccount)
            states.reserveCapacity(n)
            legs.reservedSlots = n * DetectorConfig.reservedLegsPerAccount
            legs.storage.reserveCapacity(legs.reservedSlots)
        }
        if config.reserveTransferIds > 0 { dedup.reserve(ids: config.reserveTransferIds) }
    }

    /// Moves every account's legs into a pool just big enough (see `LegPool.compacted`).
    mutating func compactLegs() {
        let table = accounts
        legs = legs.compacted(&states) { table.contains(Int32($0)) }
    }

    /// Bytes of per-account state by part (`stateBytes` adds dedup, the id log and buffers).
    public var accountMemory: (table: Int, states: Int, legPool: Int, legPoolFree: Int, cooldowns: Int) {
        (accounts.memoryBytes, states.capacity * MemoryLayout<AccountState>.stride, legs.memoryBytes,
         (legs.storage.count - legs.liveSlots) * MemoryLayout<Leg>.stride, cooldownEnds.capacity * 16)
    }
}
