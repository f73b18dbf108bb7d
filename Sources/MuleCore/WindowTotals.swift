/// Running totals of what the rules' `WindowNeeds` read — filtered credit count, debit count and
/// credited units — per leg ring and per distinct (leg filters, window length) of the loaded
/// rules, so that the usual verdict "this window cannot meet the rule's needs" takes O(1)
/// amortised instead of a walk over every leg in the window.
///
/// Each total covers the ring's legs from its own `tail` index to the newest. Appending a leg
/// adds it; legs leaving the ring's oldest end (dropped, evicted at the cap) are subtracted if
/// they were counted; before a check the tail is moved to the window's first leg (forward,
/// subtracting, as time moves on; backward, adding, if asked about an earlier time), so each leg
/// is added and subtracted about once per key. A late leg inserted out of order, a ring just
/// (re)acquired and every pool compaction, restore or rule reload recount from the legs.
///
/// Only rings of `minCapacityLog2` slots or more are tracked (smaller ones hold at most 8 legs:
/// the walk is as cheap). Totals live beside the pool, indexed by the chunk's offset / 16 (two
/// tracked chunks are at least 16 slots apart), never in `AccountState`: an idle account gives
/// its ring back and costs nothing here. They are never persisted.
@usableFromInline
struct WindowTotals: Sendable {
    /// One distinct (credit filter, debit filter, window) that some rule's needs are checked over.
    @usableFromInline
    struct Key: Sendable, Equatable {
        @usableFromInline var credits: LegFilterBits
        @usableFromInline var debits: LegFilterBits
        @usableFromInline var windowMillis: Int64
    }

    /// Totals over the ring's legs `tail..<count`.
    @usableFromInline
    struct Count: Sendable, Equatable {
        @usableFromInline var tail: Int32 = 0
        @usableFromInline var credits: Int32 = 0
        @usableFromInline var debits: Int32 = 0
        @usableFromInline var inUnits: Int64 = 0

        @usableFromInline init() {}

        /// Adds (`sign` 1) or subtracts (`sign` -1) one leg under `key`'s filters.
        @inlinable @inline(__always)
        mutating func add(_ leg: Leg, _ key: Key, sign: Int32) {
            if leg.isCredit {
                guard key.credits.accepts(leg) else { return }
                credits &+= sign
                inUnits &+= Int64(sign) &* leg.amount
            } else if key.debits.accepts(leg) {
                debits &+= sign
            }
        }
    }

    @usableFromInline static let minCapacityLog2: UInt8 = 4

    @usableFromInline var keys = ContiguousArray<Key>()
    /// `keys.count` totals per 16 pool slots (only those at tracked chunks' offsets are used).
    @usableFromInline var counts = ContiguousArray<Count>()

    @usableFromInline init() {}

    /// Keys for `plans`, each plan pointed at its key (`totalsKey`; -1 when its needs are nothing
    /// or it never walks legs).
    init(plans: inout ContiguousArray<RulePlan>) {
        for r in plans.indices {
            plans[r].totalsKey = -1
            let p = plans[r]
            guard !p.chainOnly, p.needs != .none else { continue }
            let key = Key(credits: p.creditBits, debits: p.debitBits, windowMillis: p.windowMillis)
            if let k = keys.firstIndex(of: key) {
                plans[r].totalsKey = Int32(k)
            } else {
                plans[r].totalsKey = Int32(keys.count)
                keys.append(key)
            }
        }
    }

    @inlinable var isActive: Bool { !keys.isEmpty }

    @inlinable @inline(__always)
    static func tracks(_ ring: LegRing) -> Bool { ring.capacityLog2 >= minCapacityLog2 }

    /// Index of the ring's first total.
    @inlinable @inline(__always)
    func index(_ ring: LegRing) -> Int { (Int(ring.base) &>> 4) &* keys.count }

    /// Makes room for the totals of a chunk at `ring.base`.
    @inlinable @inline(__always)
    mutating func reserve(_ ring: LegRing) {
        let need = index(ring) &+ keys.count
        if need > counts.count { grow(to: need) }
    }

    @usableFromInline
    mutating func grow(to need: Int) {
        counts.append(contentsOf: repeatElement(Count(), count: max(need, 2 * counts.count) - counts.count))
    }

    /// Counts the ring's legs afresh, every leg inside the totals (`tail` 0).
    @usableFromInline
    mutating func recount(_ ring: LegRing, in pool: LegPool) {
        reserve(ring)
        let b = index(ring)
        for k in keys.indices {
            var c = Count()
            for i in 0..<ring.count { c.add(pool[ring, i], keys[k], sign: 1) }
            counts[b + k] = c
        }
    }

    /// Before a leg is added to the ring `before` (now `ring`, after `dropBefore`): subtracts
    /// the legs that left its oldest end and the one `append` will evict at `cap`, if counted.
    /// Only for in-order appends (`didAdd` recounts after an insert).
    @inlinable @inline(__always)
    mutating func willAppend(before: LegRing, ring: LegRing, cap: Int, pool: LegPool) {
        guard isActive, WindowTotals.tracks(ring) else { return }
        var removed = before.count &- ring.count
        if ring.count == cap { removed &+= 1 }
        if removed > 0 { subtractOldest(removed, of: before, pool: pool) }
    }

    @usableFromInline
    mutating func subtractOldest(_ removed: Int, of ring: LegRing, pool: LegPool) {
        let b = index(ring)
        for k in keys.indices {
            var c = counts[b + k]
            let key = keys[k]
            if Int(c.tail) < removed {
                for i in Int(c.tail)..<removed { c.add(pool[ring, i], key, sign: -1) }
                c.tail = 0
            } else {
                c.tail &-= Int32(removed)
            }
            counts[b + k] = c
        }
    }

    /// After `leg` was added to `before` (the ring after `dropBefore`), giving `ring`.
    @inlinable @inline(__always)
    mutating func didAdd(_ leg: Leg, before: LegRing, ring: LegRing, inOrder: Bool, pool: LegPool) {
        guard isActive, WindowTotals.tracks(ring) else { return }
        if inOrder && WindowTotals.tracks(before) {
            appended(leg, moved: before.base != ring.base ? before : nil, ring: ring)
        } else {
            recount(ring, in: pool)
        }
    }

    /// The new leg is the newest: inside every total. `moved`: the ring grew out of that chunk.
    @usableFromInline
    mutating func appended(_ leg: Leg, moved old: LegRing?, ring: LegRing) {
        reserve(ring)
        let b = index(ring)
        let from = old.map(index) ?? b
        for k in keys.indices {
            var c = counts[from + k]
            c.add(leg, keys[k], sign: 1)
            counts[b + k] = c
        }
    }

    /// Whether the ring's legs in `[from, …]` can meet `needs` under key `k` (moves its tail there).
    @inlinable @inline(__always)
    mutating func canMeet(_ needs: WindowNeeds, key k: Int, ring: LegRing, from: Int64, pool: LegPool) -> Bool {
        let i = index(ring) &+ k
        let key = keys[k]
        var c = counts[i]
        pool.storage.withUnsafeBufferPointer { buf in
            let tail = Int(c.tail)
            var t = tail
            while t < ring.count {
                let leg = buf[ring.slot(t)]
                if leg.ts >= from { break }
                c.add(leg, key, sign: -1)
                t &+= 1
            }
            // Asked about an earlier time than before (a link delivered late): legs come back.
            if t == tail {
                while t > 0 {
                    let leg = buf[ring.slot(t &- 1)]
                    if leg.ts < from { break }
                    c.add(leg, key, sign: 1)
                    t &-= 1
                }
            }
            c.tail = Int32(truncatingIfNeeded: t)
        }
        counts[i] = c
        return needs.met(credits: Int(c.credits), debits: Int(c.debits), inUnits: c.inUnits)
    }

    /// The ring's totals recounted from its legs, to check the running ones (tests).
    func recounted(_ ring: LegRing, key k: Int, in pool: LegPool) -> Count {
        var c = Count()
        let tail = counts[index(ring) + k].tail
        c.tail = tail
        for i in Int(tail)..<ring.count { c.add(pool[ring, i], keys[k], sign: 1) }
        return c
    }

    var memoryBytes: Int { counts.capacity * MemoryLayout<Count>.stride }
}

extension Detector {
    /// Points the plans at fresh keys and recounts every tracked ring (rules loaded or replaced,
    /// state restored, pool compacted).
    mutating func rebuildWindowTotals() {
        windowTotals = WindowTotals(plans: &plans)
        guard windowTotals.isActive else { return }
        for i in states.indices where WindowTotals.tracks(states[i].legs) && accounts.contains(Int32(i)) {
            windowTotals.recount(states[i].legs, in: legs)
        }
    }

    /// Whether every tracked ring's running totals equal a recount from its legs (tests).
    func windowTotalsAreExact() -> Bool {
        guard windowTotals.isActive else { return true }
        for i in states.indices where WindowTotals.tracks(states[i].legs) && accounts.contains(Int32(i)) {
            let ring = states[i].legs
            for k in windowTotals.keys.indices {
                let c = windowTotals.counts[windowTotals.index(ring) + k]
                guard c.tail >= 0, Int(c.tail) <= ring.count, windowTotals.recounted(ring, key: k, in: legs) == c else {
                    return false
                }
            }
        }
        return true
    }
}
