import CMulePrefetch

/// Remembers the transfer ids seen within the dedup horizon (by 64-bit hash), so a repeated
/// id is processed once.
///
/// Ids are kept as `ByteHash` values: two different ids collide with probability about
/// n/2^64 per event (n = ids in the horizon; ≈ 5·10⁻¹⁴ at a million), an accepted trade for
/// not storing id strings. Entries expire in arrival order once their event time falls
/// behind `watermark - horizon`; `maxEntries` bounds memory (the oldest are forgotten early,
/// and counted).
public struct DedupIndex: Sendable {
    @usableFromInline var slots: LineArray<UInt64>  // 0 = empty (a real hash of 0 is stored as 1)
    @usableFromInline var mask: Int
    @usableFromInline var liveCount = 0
    // FIFO of (event time, hash) in arrival order: a ring whose size is a power of two (a mask,
    // not a division, per step), one 16-byte entry per id (one cache line touched, not two).
    @usableFromInline var fifo: LineArray<Entry>
    @usableFromInline var fifoHead = 0
    @usableFromInline var fifoCount = 0
    public let maxEntries: Int
    /// Entries forgotten before their horizon because `maxEntries` was reached.
    public internal(set) var forcedExpiries: UInt64 = 0

    @usableFromInline
    struct Entry: Sendable, BitwiseCopyable {
        @usableFromInline var ts: Int64
        @usableFromInline var hash: UInt64

        @inlinable init(ts: Int64, hash: UInt64) {
            self.ts = ts
            self.hash = hash
        }
    }

    public init(maxEntries: Int, initialCapacity: Int = 4096) {
        self.maxEntries = max(16, maxEntries)
        var cap = 16
        while cap < initialCapacity * 2 { cap <<= 1 }
        slots = LineArray(repeating: 0, count: cap)
        mask = cap - 1
        fifo = LineArray(repeating: Entry(ts: 0, hash: 0), count: cap / 2)
    }

    public var count: Int { liveCount }

    /// The value stored for `rawHash`: 0 marks an empty slot, so a hash of 0 is kept as 1.
    @inlinable @inline(__always)
    static func key(_ rawHash: UInt64) -> UInt64 { rawHash == 0 ? 1 : rawHash }

    /// Starts loading the slot where `insert(rawHash, …)` will probe first (a hint; see `MulePrefetch.h`).
    @inlinable @inline(__always)
    public func prefetch(hash rawHash: UInt64) {
        let s = Int(truncatingIfNeeded: DedupIndex.key(rawHash)) & mask
        slots.withUnsafeBufferPointer { mule_prefetch_write($0.baseAddress! + s) }
    }

    /// Records `hash` seen at event time `ts`; returns false if it was already present.
    @inlinable
    public mutating func insert(_ rawHash: UInt64, at ts: Int64) -> Bool {
        let h = DedupIndex.key(rawHash)
        let m = mask
        // Probe, and claim the empty slot, through one pointer: one uniqueness check per insert.
        let inserted: Bool = slots.withUnsafeMutableBufferPointer { sl in
            var s = Int(truncatingIfNeeded: h) & m
            while true {
                let v = sl[s]
                if v == 0 { break }
                if v == h { return false }
                s = (s &+ 1) & m
            }
            guard liveCount < maxEntries else { return true }
            sl[s] = h
            return true
        }
        guard inserted else { return false }
        if liveCount >= maxEntries { expireOldest(); return insert(rawHash, at: ts) }
        liveCount += 1
        pushFifo(ts, h)
        if liveCount * 2 >= slots.count { grow() }
        return true
    }

    /// Forgets every entry whose event time is before `cutoff` (arrival order: an entry that
    /// arrived late keeps younger ones behind it alive a little longer, never shorter).
    @inlinable
    public mutating func expire(before cutoff: Int64) {
        while fifoCount > 0 && fifo[fifoHead].ts < cutoff {
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
        let h = fifo[fifoHead].hash
        fifoHead = (fifoHead &+ 1) & (fifo.count &- 1)
        fifoCount -= 1
        remove(h)
    }

    /// The remembered entries in arrival order.
    func forEachEntry(_ body: (Entry) -> Void) {
        let m = fifo.count - 1
        for i in 0..<fifoCount { body(fifo[(fifoHead + i) & m]) }
    }

    @inlinable
    mutating func pushFifo(_ ts: Int64, _ h: UInt64) {
        if fifoCount == fifo.count { growFifo() }
        let tail = (fifoHead &+ fifoCount) & (fifo.count &- 1)
        fifo[tail] = Entry(ts: ts, hash: h)
        fifoCount += 1
    }

    /// Re-lays the full ring in order at double size (two block copies; the new half is left
    /// uninitialised: entries past `fifoCount` are written before they are read).
    @usableFromInline
    mutating func growFifo() {
        let n = fifo.count
        let head = fifoHead
        var grown = LineArray<Entry>(unsafeUninitializedCount: n * 2)
        fifo.withUnsafeBufferPointer { src in
            grown.withUnsafeMutableBufferPointer { dst in
                let first = n - head
                dst.baseAddress!.update(from: src.baseAddress! + head, count: first)
                (dst.baseAddress! + first).update(from: src.baseAddress!, count: head)
            }
        }
        fifo = grown
        fifoHead = 0
    }

    @usableFromInline
    mutating func remove(_ h: UInt64) {
        let m = mask
        let removed: Bool = slots.withUnsafeMutableBufferPointer { sl in
            var s = Int(truncatingIfNeeded: h) & m
            while sl[s] != h {
                if sl[s] == 0 { return false }
                s = (s &+ 1) & m
            }
            // Backward-shift deletion keeps probe chains intact without tombstones.
            var hole = s
            var j = (s &+ 1) & m
            while sl[j] != 0 {
                let home = Int(truncatingIfNeeded: sl[j]) & m
                if (j &- home) & m >= (j &- hole) & m {
                    sl[hole] = sl[j]
                    hole = j
                }
                j = (j &+ 1) & m
            }
            sl[hole] = 0
            return true
        }
        if removed { liveCount -= 1 }
    }

    @usableFromInline
    mutating func grow() { rehash(to: slots.count * 2) }

    /// Makes room for `ids` ids (at most `maxEntries`) without growing: see
    /// `DetectorConfig.reserveTransferIds`. Never shrinks.
    public mutating func reserve(ids: Int) {
        let n = min(ids, maxEntries)
        var cap = slots.count
        while n * 2 >= cap { cap <<= 1 }
        if cap > slots.count { rehash(to: cap) }
        while fifo.count < n { growFifo() }
    }

    mutating func rehash(to cap: Int) {
        let old = slots
        slots = LineArray(repeating: 0, count: cap)
        mask = slots.count - 1
        let m = mask
        slots.withUnsafeMutableBufferPointer { sl in
            for h in old where h != 0 {
                var s = Int(truncatingIfNeeded: h) & m
                while sl[s] != 0 { s = (s &+ 1) & m }
                sl[s] = h
            }
        }
    }

    public var memoryBytes: Int { slots.capacity * 8 + fifo.capacity * MemoryLayout<Entry>.stride }
}
