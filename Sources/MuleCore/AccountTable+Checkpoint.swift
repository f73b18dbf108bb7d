/// Checkpointing the account table: the name of every id (free ids marked) and the free list,
/// so ids — which the rest of the state refers to — are the same after a restore. The hash
/// slots and the arena are rebuilt, so their layout is free to change.
extension AccountTable {
    func writeCheckpoint(to w: inout CheckpointWriter) {
        w.tag("ACCT")
        w.count(idCapacity)
        arena.withUnsafeBytes { a in
            for i in 0..<idCapacity {
                let span = spans[i]
                guard span.length != NameSpan.free else { w.i32(-1); continue }
                w.i32(Int32(span.length))
                let off = Int(span.offset)
                for k in 0..<Int(span.length) { w.u8(a[off + k]) }
            }
        }
        let free = freeIds
        w.count(free.count)
        for id in free { w.i32(id) }
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
        for (id, name) in names.enumerated() {
            guard let name else { _ = t.restoreNextId(nil); continue }
            guard name.withUnsafeBytes({ t.restoreNextId($0) }) else {
                let other = name.withUnsafeBytes { t.lookup($0) } ?? -1
                throw .corrupt("account name repeated at ids \(other) and \(id)")
            }
        }
        let free = try r.count("free ids", minBytes: 4)
        guard free == n - live else { throw .corrupt("\(free) free ids listed, \(n - live) ids are free") }
        var listed = Set<Int32>()
        for _ in 0..<free {
            let id = try r.i32("free id")
            guard id >= 0, Int(id) < n, names[Int(id)] == nil else { throw .corrupt("free id \(id) is not free") }
            guard listed.insert(id).inserted else { throw .corrupt("free id listed twice") }
            t.restoreFreeId(id)
        }
        return t
    }
}
