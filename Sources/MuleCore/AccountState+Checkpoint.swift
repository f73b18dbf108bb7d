/// Checkpointing per-account state: each live account's scalars and its legs in event-time
/// order (the leg pool's chunks are rebuilt, so its layout is free to change), then the LRU order.
/// The format is the same as before `AccountState` shrank to 64 bytes: times are written as 64-bit
/// values, the cool-down end from `cooldownEnds` (`Int64.min` for an account that never alerted).
extension Leg {
    func writeCheckpoint(to w: inout CheckpointWriter) {
        w.i64(ts)
        w.i64(amount)
        w.u64(txHandle)
        w.i32(counterparty)
        w.bool(isCredit)
        w.u8(channel.rawValue)
        w.u8(ownKind.rawValue)
        w.u8(counterpartyKind.rawValue)
    }

    static func readCheckpoint(from r: inout CheckpointReader) throws(CheckpointError) -> Leg {
        Leg(ts: try r.i64("leg ts"), amount: try r.i64("leg amount"), txHandle: try r.u64("leg tx"),
            counterparty: try r.i32("leg counterparty"), isCredit: try r.bool("leg side"),
            channel: try r.enumValue(Channel.self, "leg channel"), ownKind: try r.enumValue(AccountKind.self, "leg kind"),
            counterpartyKind: try r.enumValue(AccountKind.self, "leg counterparty kind"))
    }
}

extension Detector {
    func writeAccountStates(to w: inout CheckpointWriter) {
        w.tag("STAT")
        w.count(accounts.idCapacity)
        for i in 0..<accounts.idCapacity where accounts.contains(Int32(i)) {
            let s = states[i]
            w.i32(Int32(i))
            w.i64(s.firstSeen)
            w.i64(s.lastActive)
            w.i64(cooldownEnd(of: Int32(i), s))
            w.i32(s.pendingRefs)
            w.i64(s.lastHop.any)
            w.i64(s.lastHop.muleIn)
            w.count(s.legs.count)
            for k in 0..<s.legs.count { legs[s.legs, k].writeCheckpoint(to: &w) }
        }
        w.i32(-1)
        var order: [Int32] = []
        var id = lruHead
        while id >= 0 {
            order.append(id)
            id = states[Int(id)].lruNext
        }
        w.count(order.count)
        for id in order { w.i32(id) }
    }

    mutating func readAccountStates(from r: inout CheckpointReader) throws(CheckpointError) {
        try r.tag("STAT")
        let n = try r.count("account states", minBytes: 0)
        guard n == accounts.idCapacity else { throw .corrupt("\(n) account states for \(accounts.idCapacity) ids") }
        states = LineArray(repeating: AccountState(firstSeen: .min), count: n)
        legs = LegPool()
        cooldownEnds = [:]
        var seen = 0
        while true {
            let id = try r.i32("account id")
            if id < 0 { break }
            guard accounts.contains(id) else { throw .corrupt("state for unknown account id \(id)") }
            var s = AccountState(firstSeen: try r.i64("first seen"))
            s.lastActive = try r.i64("last active")
            let cooldown = try r.i64("cool-down")
            if cooldown != .min {
                s.flags |= AccountState.hasCooldown
                cooldownEnds[id] = cooldown
            }
            s.pendingRefs = try r.i32("pending refs")
            s.lastHop.any = try r.i64("last hop")
            s.lastHop.muleIn = try r.i64("last mule-style hop in")
            let count = try r.count("legs", minBytes: 32)
            var previous = Int64.min
            for _ in 0..<count {
                let leg = try Leg.readCheckpoint(from: &r)
                guard leg.ts >= previous else { throw .corrupt("legs of account \(id) out of order") }
                previous = leg.ts
                guard leg.counterparty >= 0 else {
                    throw .corrupt("leg counterparty \(leg.counterparty)")
                }
                // A lower --max-legs-per-account than when the checkpoint was taken keeps the newest.
                if legs.append(leg, to: &s.legs, cap: config.maxLegsPerAccount) { counters.legsEvicted &+= 1 }
            }
            states[Int(id)] = s
            seen += 1
        }
        guard seen == accounts.count else { throw .corrupt("\(seen) account states for \(accounts.count) accounts") }
        let lru = try r.count("LRU order", minBytes: 4)
        guard lru == accounts.count else { throw .corrupt("LRU order lists \(lru) of \(accounts.count) accounts") }
        lruHead = -1
        lruTail = -1
        idleScan = -1
        var listed = Set<Int32>()
        for _ in 0..<lru {
            let id = try r.i32("LRU id")
            guard accounts.contains(id), listed.insert(id).inserted else { throw .corrupt("LRU id \(id)") }
            lruAppend(id)
        }
    }
}
