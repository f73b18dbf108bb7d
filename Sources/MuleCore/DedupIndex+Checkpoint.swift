/// Checkpointing the dedup index: the remembered (event time, id hash) pairs in arrival order;
/// the hash slots are rebuilt on restore (with the restoring detector's `maxEntries`).
extension DedupIndex {
    func writeCheckpoint(to w: inout CheckpointWriter) {
        w.tag("DDUP")
        w.u64(forcedExpiries)
        w.count(fifoCount)
        forEachEntry { e in
            w.i64(e.ts)
            w.u64(e.hash)
        }
    }

    mutating func readCheckpoint(from r: inout CheckpointReader) throws(CheckpointError) {
        try r.tag("DDUP")
        let forced = try r.u64("forced expiries")
        let n = try r.count("dedup entries", minBytes: 16)
        for _ in 0..<n {
            let ts = try r.i64("dedup ts")
            let h = try r.u64("dedup hash")
            guard h != 0, insert(h, at: ts) else { throw .corrupt("dedup hash repeated or zero") }
        }
        forcedExpiries &+= forced
    }
}

/// Checkpointing the transfer-id ring: its write position and the bytes still readable, so
/// evidence ids of legs in the windows survive a restore.
extension TransferIdLog {
    func writeCheckpoint(to w: inout CheckpointWriter) {
        w.tag("TXID")
        w.u64(written)
        let kept = min(written, UInt64(ring.count))
        w.count(Int(kept))
        var pos = written - kept
        while pos < written {
            w.u8(ring[Int(pos & mask)])
            pos += 1
        }
    }

    mutating func readCheckpoint(from r: inout CheckpointReader) throws(CheckpointError) {
        try r.tag("TXID")
        let total = try r.u64("id log position")
        let bytes = try r.raw("id log bytes")
        guard UInt64(bytes.count) <= total else { throw .corrupt("id log holds more bytes than were written") }
        // A smaller ring than before keeps only the newest bytes; older evidence ids read as gone.
        let kept = min(bytes.count, ring.count)
        var pos = total - UInt64(kept)
        for b in bytes.suffix(kept) {
            ring[Int(pos & mask)] = b
            pos += 1
        }
        written = total
    }
}

/// Checkpointing the reorder buffer: the waiting transfers, each read back with `push`, so any
/// order restores (main wrote the heap's array order). Written in release order: the bytes do
/// not depend on arrival order, and a restore puts everything in the partitions' FIFO lanes.
extension ReorderBuffer {
    func writeCheckpoint(to w: inout CheckpointWriter) {
        w.tag("REOR")
        let all = sorted()
        w.count(all.count)
        for p in all {
            w.i64(p.ts)
            w.u64(p.idHash)
            w.i64(p.amount)
            w.u64(p.txHandle)
            w.i64(p.offset)
            w.i32(p.partition)
            w.i32(p.payer)
            w.i32(p.payee)
            w.u8(p.channel.rawValue)
            w.u8(p.payerKind.rawValue)
            w.u8(p.payeeKind.rawValue)
            w.u8(p.sides.rawValue)
        }
    }

    /// `withSides`: the layout since legs can be applied one side at a time (one more byte each).
    static func readCheckpoint(from r: inout CheckpointReader, accounts: AccountTable, withSides: Bool) throws(CheckpointError) -> ReorderBuffer {
        try r.tag("REOR")
        var b = ReorderBuffer()
        for _ in 0..<(try r.count("buffered transfers", minBytes: withSides ? 56 : 55)) {
            var p = PendingTransfer(
                ts: try r.i64("ts"), idHash: try r.u64("id hash"), amount: try r.i64("amount"), txHandle: try r.u64("tx"),
                offset: try r.i64("offset"), partition: try r.i32("partition"), payer: try r.i32("payer"),
                payee: try r.i32("payee"), channel: try r.enumValue(Channel.self, "channel"),
                payerKind: try r.enumValue(AccountKind.self, "payer kind"),
                payeeKind: try r.enumValue(AccountKind.self, "payee kind"))
            if withSides {
                p.sides = LegSides(rawValue: try r.u8("sides"))
                guard !p.sides.isEmpty, LegSides.both.isSuperset(of: p.sides) else { throw .corrupt("buffered transfer applies no leg") }
            }
            guard accounts.contains(p.payer), accounts.contains(p.payee) else {
                throw .corrupt("buffered transfer names unknown account")
            }
            b.push(p)
        }
        return b
    }
}
