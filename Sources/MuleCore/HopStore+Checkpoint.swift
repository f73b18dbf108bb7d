/// Checkpointing hops and gang ties: the live hops with their sequence numbers, and the ties in
/// event-time order (the union–find and components are rebuilt from them exactly as an expiry
/// rebuild does).
extension HopStore {
    func writeCheckpoint(to w: inout CheckpointWriter) {
        w.tag("HOPS")
        w.u64(base + UInt64(front))
        w.count(hops.count - front)
        for h in hops[front...] {
            w.i32(h.from)
            w.i32(h.to)
            w.i64(h.ts)
            w.i64(h.amount)
            w.i64(h.delayMillis)
            w.f64(h.retained)
            w.u8(h.depth)
            w.bool(h.muleStyle)
            w.u64(h.parent)
            w.u64(h.txHandle)
        }
    }

    static func readCheckpoint(from r: inout CheckpointReader) throws(CheckpointError) -> HopStore {
        try r.tag("HOPS")
        var s = HopStore()
        s.base = try r.u64("first hop")
        for _ in 0..<(try r.count("hops", minBytes: 58)) {
            let h = Hop(from: try r.i32("from"), to: try r.i32("to"), ts: try r.i64("ts"), amount: try r.i64("amount"),
                        delayMillis: try r.i64("delay"), retained: try r.f64("retained"), depth: try r.u8("depth"),
                        muleStyle: try r.bool("mule-style"), parent: try r.u64("parent"), txHandle: try r.u64("tx"))
            _ = s.add(h)
        }
        return s
    }
}

extension GangIndex {
    func writeCheckpoint(to w: inout CheckpointWriter) {
        w.tag("GANG")
        w.i64(nextRebuild)
        w.count(ties.count)
        for t in ties {
            w.i32(t.a)
            w.i32(t.b)
            w.i64(t.ts)
            w.i64(t.amount)
        }
    }

    mutating func readCheckpoint(from r: inout CheckpointReader, accounts: AccountTable,
                                 earlier: (Int32, Int32) -> Bool) throws(CheckpointError) {
        try r.tag("GANG")
        let next = try r.i64("next rebuild")
        var kept: [Tie] = []
        for _ in 0..<(try r.count("ties", minBytes: 24)) {
            let t = Tie(a: try r.i32("tie a"), b: try r.i32("tie b"), ts: try r.i64("tie ts"), amount: try r.i64("tie amount"))
            guard accounts.contains(t.a), accounts.contains(t.b), t.a != t.b else { throw .corrupt("tie between unknown accounts") }
            kept.append(t)
        }
        rebuild(from: kept, earlier: earlier)
        nextRebuild = next
    }
}
