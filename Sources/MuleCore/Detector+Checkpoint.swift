/// Checkpoint and restore of the detector's complete state: accounts, legs, cool-downs, the
/// dedup index, the transfer-id ring, the reorder buffer, per-partition event time and
/// watermark, hops, gang ties, the forwarder indexes and the counters.
///
/// What is *not* in it: the rules (they come from the rule files at restore; the state itself
/// is rule-independent — legs, hops and ties — except that cool-downs are keyed by rule and
/// legs older than the old rules' longest window are already gone) and alerts not yet taken
/// (take them first: the engine publishes and flushes them before it checkpoints).
///
/// Each section is written field by field by its type's `+Checkpoint.swift` extension, and
/// restored through the types' own insert paths where they have hash tables or pools, so
/// their in-memory layout may change without changing the format.
extension Detector {
    /// The state as bytes (the payload of a `Checkpoint`).
    public func checkpointState() -> [UInt8] {
        var w = CheckpointWriter(reserving: 1 << 16)
        // DET2: buffered transfers carry which legs apply, and a links section follows the
        // counters. DETR (before legs could be split) is still read.
        w.tag("DET2")
        w.count(rules.count)
        for r in rules {
            w.string(r.key)
            w.string(r.id)
        }
        w.i64(maxSeen)
        w.i64(watermark)
        w.count(partitionMax.count)
        for i in 0..<partitionMax.count {
            w.i64(partitionMax[i])
            w.bool(partitionHolds[i])
        }
        accounts.writeCheckpoint(to: &w)
        writeAccountStates(to: &w)
        transferIds.writeCheckpoint(to: &w)
        dedup.writeCheckpoint(to: &w)
        buffer.writeCheckpoint(to: &w)
        hops.writeCheckpoint(to: &w)
        gangs.writeCheckpoint(to: &w)
        w.tag("COOL")
        w.count(lastAlertAt.count)
        for (key, at) in lastAlertAt {
            w.u64(key)
            w.i64(at)
        }
        w.tag("FWDS")
        w.count(lastForwarderInto.count)
        for (k, v) in lastForwarderInto {
            w.i32(k)
            w.i32(v.from)
            w.i64(v.ts)
        }
        w.count(lastForwarderOf.count)
        for (k, v) in lastForwarderOf {
            w.i32(k)
            w.i32(v.by)
            w.i64(v.ts)
        }
        w.tag("CNTR")
        let c = counters
        for v in [c.ingested, c.applied, c.duplicates, c.lateDropped, c.lateProcessed, c.legsEvicted,
                  c.accountsEvictedIdle, c.accountsEvictedCap, c.alertsRaised, c.alertsSuppressedCooldown,
                  c.firingsBelowBands, c.dedupForcedExpiries] {
            w.u64(v)
        }
        writeLinks(to: &w)
        w.tag("END.")
        return w.bytes
    }

    /// A detector for `rules` and `config` holding the state `checkpointState()` wrote. When the
    /// rules differ from those the state was taken under, cool-downs carry over exactly as in a
    /// hot reload (same `id@version`, else same `id`).
    public init(rules: [Rule], config: DetectorConfig, scope: DetectorScope? = nil, restoring state: [UInt8]) throws(CheckpointError) {
        self.init(rules: rules, config: config, scope: scope)
        var r = CheckpointReader(state)
        let split = r.takeTag("DET2")
        if !split { try r.tag("DETR") }
        var oldKeys: [String] = []
        var oldIds: [String] = []
        for _ in 0..<(try r.count("rules", minBytes: 16)) {
            oldKeys.append(try r.string("rule key"))
            oldIds.append(try r.string("rule id"))
        }
        maxSeen = try r.i64("max event time")
        watermark = try r.i64("watermark")
        let parts = try r.count("partitions", minBytes: 9)
        growPartitions(parts)
        for i in 0..<parts {
            partitionMax[i] = try r.i64("partition event time")
            partitionHolds[i] = try r.bool("partition hold")
        }
        accounts = try AccountTable.readCheckpoint(from: &r)
        try readAccountStates(from: &r)
        try transferIds.readCheckpoint(from: &r)
        try dedup.readCheckpoint(from: &r)
        buffer = try ReorderBuffer.readCheckpoint(from: &r, accounts: accounts, withSides: split)
        hops = try HopStore.readCheckpoint(from: &r)
        try gangs.readCheckpoint(from: &r, accounts: accounts, earlier: nameOrder())
        try r.tag("COOL")
        let remap = Detector.ruleRemap(oldKeys: oldKeys, oldIds: oldIds, to: rules)
        for _ in 0..<(try r.count("cool-downs", minBytes: 16)) {
            let key = try r.u64("cool-down key")
            let at = try r.i64("cool-down time")
            guard Int(key & 0xFFFF) < oldKeys.count, accounts.contains(Int32(truncatingIfNeeded: key >> 16)) else {
                throw .corrupt("cool-down of unknown account or rule")
            }
            if let ni = remap[Int(key & 0xFFFF)] { lastAlertAt[(key & ~0xFFFF) | UInt64(ni)] = at }
        }
        try r.tag("FWDS")
        for _ in 0..<(try r.count("forwarders into", minBytes: 16)) {
            lastForwarderInto[try r.i32("account")] = (try r.i32("from"), try r.i64("ts"))
        }
        for _ in 0..<(try r.count("forwarders of", minBytes: 16)) {
            lastForwarderOf[try r.i32("account")] = (try r.i32("by"), try r.i64("ts"))
        }
        try r.tag("CNTR")
        counters.ingested = try r.u64()
        counters.applied = try r.u64()
        counters.duplicates = try r.u64()
        counters.lateDropped = try r.u64()
        counters.lateProcessed = try r.u64()
        counters.legsEvicted &+= try r.u64()  // plus any dropped by a lower leg cap above
        counters.accountsEvictedIdle = try r.u64()
        counters.accountsEvictedCap = try r.u64()
        counters.alertsRaised = try r.u64()
        counters.alertsSuppressedCooldown = try r.u64()
        counters.firingsBelowBands = try r.u64()
        counters.dedupForcedExpiries = try r.u64()
        if split { try readLinks(from: &r) }
        try r.tag("END.")
        guard r.isAtEnd else { throw .corrupt("bytes left after the detector state") }
        reserveConfiguredCapacity()  // the tables read back are just big enough
    }

    /// Where each old rule's cool-downs go in a new rule list: the rule with the same
    /// `id@version`, else the first with the same `id` (each new rule takes one old rule).
    static func ruleRemap(oldKeys: [String], oldIds: [String], to newRules: [Rule]) -> [Int: Int] {
        var remap: [Int: Int] = [:]
        for (ni, r) in newRules.enumerated() {
            if let oi = oldKeys.firstIndex(of: r.key) ?? oldIds.firstIndex(of: r.id), remap[oi] == nil {
                remap[oi] = ni
            }
        }
        return remap
    }
}
