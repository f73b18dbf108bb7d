/// Remembers the transfer ids seen within the dedup horizon (by 64-bit hash), so a repeated
/// id is processed once.
///
/// Ids are kept as `ByteHash` values: two different ids collide with probability about
/// n/2^64 per event (n = ids in the horizon; ≈ 5·10⁻¹⁴ at a million), an accepted trade for
/// not storing id strings. Entries expire in arrival order once their event time falls
/// behind `watermark - horizon`; `maxEntries` bounds memory (the oldest are forgotten early,
/// and counted).
public struct DedupIndex: Sendable {
    @usableFromInline var slots: [UInt64]  // 0 = empty (a real hash of 0 is stored as 1)
    @usableFromInline var mask: Int
    @usableFromInline var liveCount = 0
    // FIFO of (event time, hash) in arrival order, as a ring.
    @usableFromInline var fifoTs: [Int64]
    @usableFromInline var fifoHash: [UInt64]
    @usableFromInline var fifoHead = 0
    @usableFromInline var fifoCount = 0
    public let maxEntries: Int
    /// Entries forgotten before their horizon because `maxEntries` was reached.
    public internal(set) var forcedExpiries: UInt64 = 0

    public init(maxEntries: Int, initialCapacity: Int = 4096) {
        self.maxEntries = max(16, maxEntries)
        var cap = 16
        while cap < initialCapacity * 2 { cap <<= 1 }
        slots = Array(repeating: 0, count: cap)
        mask = cap - 1
        fifoTs = Array(repeating: 0, count: cap / 2)
        fifoHash = Array(repeating: 0, count: cap / 2)
    }

    public var count: Int { liveCount }

    /// Records `hash` seen at event time `ts`; returns false if it was already present.
    @inlinable
    public mutating func insert(_ rawHash: UInt64, at ts: Int64) -> Bool {
        let h = rawHash == 0 ? 1 : rawHash
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let v = slots[s]
            if v == 0 { break }
            if v == h { return false }
            s = (s + 1) & mask
        }
        if liveCount >= maxEntries { expireOldest(); return insert(rawHash, at: ts) }
        slots[s] = h
        liveCount += 1
        pushFifo(ts, h)
        if liveCount * 2 >= slots.count { grow() }
        return true
    }

    /// Forgets every entry whose event time is before `cutoff` (arrival order: an entry that
    /// arrived late keeps younger ones behind it alive a little longer, never shorter).
    @inlinable
    public mutating func expire(before cutoff: Int64) {
        while fifoCount > 0 && fifoTs[fifoHead] < cutoff {
            removeFront()
        }
    }

    @usableFromInline
    mutating func expireOldest() {
        forcedExpiries &+= 1
        removeFront()
    }

    @usableFromInline
    mutating func removeFront() {
        let h = fifoHash[fifoHead]
        fifoHead = (fifoHead + 1) % fifoTs.count
        fifoCount -= 1
        remove(h)
    }

    @usableFromInline
    mutating func pushFifo(_ ts: Int64, _ h: UInt64) {
        if fifoCount == fifoTs.count {
            // Re-lay the ring in order at double size.
            var nts = [Int64](repeating: 0, count: fifoTs.count * 2)
            var nh = [UInt64](repeating: 0, count: fifoTs.count * 2)
            for i in 0..<fifoCount {
                let j = (fifoHead + i) % fifoTs.count
                nts[i] = fifoTs[j]
                nh[i] = fifoHash[j]
            }
            fifoTs = nts
            fifoHash = nh
            fifoHead = 0
        }
        let tail = (fifoHead + fifoCount) % fifoTs.count
        fifoTs[tail] = ts
        fifoHash[tail] = h
        fifoCount += 1
    }

    @usableFromInline
    mutating func remove(_ h: UInt64) {
        var s = Int(truncatingIfNeeded: h) & mask
        while slots[s] != h {
            if slots[s] == 0 { return }
            s = (s + 1) & mask
        }
        var hole = s
        var j = (s + 1) & mask
        while slots[j] != 0 {
            let home = Int(truncatingIfNeeded: slots[j]) & mask
            if (j - home) & mask >= (j - hole) & mask {
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slots[hole] = 0
        liveCount -= 1
    }

    @usableFromInline
    mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        for h in old where h != 0 {
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] != 0 { s = (s + 1) & mask }
            slots[s] = h
        }
    }

    public var memoryBytes: Int { slots.capacity * 8 + fifoTs.capacity * 8 + fifoHash.capacity * 8 }
}
