import CMulePrefetch

/// Software prefetch on the way from accepting a transfer to applying it (`MulePrefetch.h`).
/// `admit` prefetches the dedup and account-table slots itself; this is the release side.
extension Detector {
    /// Transfers released this many ahead get their accounts' state lines prefetched...
    @usableFromInline static let prefetchStatesAhead = 8
    /// ...and, this many ahead (their state lines now loaded), their leg rings' ends.
    @usableFromInline static let prefetchLegsAhead = 4

    /// Starts loading what applying the transfers a few releases ahead will touch: the lane that
    /// releases next holds them in release order (other lanes and the heap's few may come in
    /// between; a hint that misses costs little). Far ahead, the payer's and payee's `AccountState` lines; nearer,
    /// through those states, the slot where each ring's next leg goes and its oldest leg
    /// (where dropping old legs and the window scans start).
    @inline(__always)
    func prefetchReleases() {
        guard let near = buffer.upcoming(Detector.prefetchLegsAhead) else { return }
        states.withUnsafeBufferPointer { st in
            if let far = buffer.upcoming(Detector.prefetchStatesAhead) {
                Detector.prefetchState(far.payer, in: st)
                Detector.prefetchState(far.payee, in: st)
            }
            legs.storage.withUnsafeBufferPointer { pool in
                Detector.prefetchLegEnds(st[Int(near.payer)].legs, in: pool)
                Detector.prefetchLegEnds(st[Int(near.payee)].legs, in: pool)
            }
        }
    }

    /// Both cache lines an `AccountState` may straddle (64 bytes, not line-aligned in the array).
    @inline(__always)
    static func prefetchState(_ id: Int32, in st: UnsafeBufferPointer<AccountState>) {
        let p = UnsafeRawPointer(st.baseAddress! + Int(id))
        mule_prefetch_write(p)
        mule_prefetch_write(p + (MemoryLayout<AccountState>.stride &- 1))
    }

    @inline(__always)
    static func prefetchLegEnds(_ ring: LegRing, in pool: UnsafeBufferPointer<Leg>) {
        guard ring.capacityLog2 != 0 else { return }
        mule_prefetch_write(pool.baseAddress! + ring.slot(ring.count))
        mule_prefetch_read(pool.baseAddress! + ring.slot(0))
    }
}
