/// Checkpointing the account table: the name of every id (free ids marked) and the free list,
/// so ids — which the rest of the state refers to — are the same after a restore. The hash
/// slots and the arena are rebuilt, so their layout is free to change.
extension AccountTable {
    func writeCheckpoint(to w: inout CheckpointWriter) {
        w.tag("ACCT")
        w.count(idCapacity)
        arena.withUnsafeBytes { a in
            for i in 0..<idCapacity {
                let len = Int(keyLength[i])
                w.i32(Int32(len))
                if len > 0 {
                    let off = Int(keyOffset[i])
                    for k in 0..<len { w.u8(a[off + k]) }
                }
            }
        }
        w.count(freeIds.count)
        for id in freeIds { w.i32(id) }
    }

    static func readCheckpoint(from r: inout CheckpointReader) throws(CheckpointError) -> AccountTable {
        try r.tag("ACCT")
        let n = try r.count("account ids", minBytes: 4)
        var names: [ArraySlice<UInt8>?] = []
        names.reserveCapacity(n)
        var live = 0
        for _ in 0..<n {
            let len = try r.i32("name length")
            if len < 0 { names.append(nil); continue }
            let at = try r.take(Int(len), "account name")
            names.append(r.bytes[at..<at + Int(len)])
            live += 1
        }
        var t = AccountTable(initialCapacity: max(1024, live))
        for name in names {
            guard let name else {
                t.keyOffset.append(0)
                t.keyLength.append(-1)
                t.keyHash.append(0)
                continue
            }
            let id = Int32(t.keyLength.count)
            let h = ByteHash.hash(Array(name), seed: ByteHash.accountSeed)
            var s = Int(truncatingIfNeeded: h) & t.slotMask
            while t.slotIds[s] >= 0 {
                let other = t.slotIds[s]
                if t.keyHash[Int(other)] == h && t.arena[Int(t.keyOffset[Int(other)])...].starts(with: name)
                    && Int(t.keyLength[Int(other)]) == name.count {
                    throw .corrupt("account name repeated at ids \(other) and \(id)")
                }
                s = (s + 1) & t.slotMask
            }
            t.keyOffset.append(Int32(t.arena.count))
            t.keyLength.append(Int32(name.count))
            t.keyHash.append(h)
            t.arena.append(contentsOf: name)
            t.slotIds[s] = id
        }
        t.liveCount = live
        let free = try r.count("free ids", minBytes: 4)
        guard free == n - live else { throw .corrupt("\(free) free ids listed, \(n - live) ids are free") }
        for _ in 0..<free {
            let id = try r.i32("free id")
            guard id >= 0, Int(id) < n, names[Int(id)] == nil else { throw .corrupt("free id \(id) is not free") }
            t.freeIds.append(id)
        }
        guard Set(t.freeIds).count == free else { throw .corrupt("free id listed twice") }
        return t
    }
}
