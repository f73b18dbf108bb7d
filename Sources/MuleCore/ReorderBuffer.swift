/// Where an event came from, so the engine can commit only offsets whose events are processed.
public struct SourcePosition: Sendable, Equatable {
    public var partition: Int32
    public var offset: Int64

    @inlinable public init(partition: Int32, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }

    /// For sources without offsets (files, tests).
    public static let none = SourcePosition(partition: -1, offset: -1)
}

/// A transfer accepted into the core but not yet applied: interned, with its id in the log.
@usableFromInline
struct PendingTransfer: Sendable {
    @usableFromInline var ts: Int64
    @usableFromInline var idHash: UInt64
    @usableFromInline var amount: Int64
    @usableFromInline var txHandle: UInt64
    @usableFromInline var offset: Int64
    @usableFromInline var partition: Int32
    @usableFromInline var payer: Int32
    @usableFromInline var payee: Int32
    @usableFromInline var channel: Channel
    @usableFromInline var payerKind: AccountKind
    @usableFromInline var payeeKind: AccountKind
    /// Which of its legs this detector applies: both, unless the detector owns one partition
    /// of the legs topic and the other account belongs to another partition.
    @usableFromInline var sides: LegSides = .both

    /// Event-time order, ties broken by the id hash so the order does not depend on arrival.
    @inlinable @inline(__always)
    func precedes(_ o: PendingTransfer) -> Bool {
        ts < o.ts || (ts == o.ts && idHash < o.idHash)
    }
}

/// Holds accepted transfers until the watermark passes them, then releases them in event-time
/// order: out-of-order input within the allowed lateness is applied exactly as if it had
/// arrived in order. Releases follow (event time, id hash).
///
/// Each source partition's feed is nearly in order, but partitions interleave (a consumer hands
/// over runs of one partition at a time, and the watermark waits for the slowest). So each
/// partition has its own FIFO *lane*: a transfer that does not precede its lane's newest is
/// appended there (push and pop are O(1) and touch one slot); only one that does goes to a
/// binary min-heap. The lanes that hold transfers sit in a small min-heap of lane numbers keyed
/// by their oldest transfer, so the least element is the lesser of the top lane's head and the
/// heap's top. Lanes are chains of fixed-size chunks in one shared array (no array per lane:
/// no retain/release or uniqueness check per lane touched).
@usableFromInline
struct ReorderBuffer: Sendable {
    /// Transfers per chunk (a power of two).
    @usableFromInline static let chunkSize = 256
    @usableFromInline static let chunkShift = 8

    /// One partition's FIFO: chunks linked through `chunkNext`, oldest at `headChunk`/`headPos`,
    /// the next free slot at `tailChunk`/`tailPos` (`tailPos == chunkSize`: the chunk is full).
    @usableFromInline
    struct Lane: Sendable {
        @usableFromInline var headChunk: Int32 = -1
        @usableFromInline var headPos: Int32 = 0
        @usableFromInline var tailChunk: Int32 = -1
        @usableFromInline var tailPos: Int32 = 0
        @usableFromInline var count: Int32 = 0
        @usableFromInline init() {}
    }

    /// Every lane's transfers, `chunkSize` per chunk.
    @usableFromInline var slots = ContiguousArray<PendingTransfer>()
    /// The chunk after each chunk in its lane (or in the free list); -1 ends a chain.
    @usableFromInline var chunkNext = ContiguousArray<Int32>()
    @usableFromInline var freeChunk: Int32 = -1
    /// Lanes by source partition + 1 (slot 0: no partition, e.g. files and tests).
    @usableFromInline var lanes = ContiguousArray<Lane>()
    /// Lanes holding transfers, a binary min-heap by their oldest transfer.
    @usableFromInline var laneHeap = ContiguousArray<Int32>()
    /// Transfers waiting in lanes.
    @usableFromInline var laneTotal = 0
    /// Transfers that arrived out of order within their partition (a binary min-heap).
    @usableFromInline var heap = ContiguousArray<PendingTransfer>()
    /// How many pushes took the heap path (not checkpointed; for tests and diagnostics).
    @usableFromInline var heapPushes = 0

    @usableFromInline static let filler = PendingTransfer(
        ts: .min, idHash: 0, amount: 0, txHandle: 0, offset: -1, partition: -1, payer: -1, payee: -1,
        channel: .p2p, payerKind: .personal, payeeKind: .personal)

    @usableFromInline init() {
        lanes = ContiguousArray(repeating: Lane(), count: 2)
        heap.reserveCapacity(256)
        laneHeap.reserveCapacity(64)
        addChunks(4)
    }

    @inlinable var count: Int { laneTotal &+ heap.count }

    /// Chunks allocated (tests, memory accounting).
    var chunkCount: Int { chunkNext.count }

    @inlinable @inline(__always)
    static func slot(_ chunk: Int32, _ pos: Int32) -> Int { Int(chunk) &<< chunkShift &+ Int(pos) }

    /// The oldest transfer of a lane that holds any.
    @inlinable @inline(__always)
    func head(ofLane l: Int32) -> PendingTransfer {
        let lane = lanes[Int(l)]
        return slots[Self.slot(lane.headChunk, lane.headPos)]
    }

    @inlinable var minTimestamp: Int64? { least()?.transfer.ts }

    @inlinable
    mutating func push(_ p: PendingTransfer) {
        let l = Int(max(p.partition, -1)) &+ 1
        // The common case through pointers (one uniqueness check per array): the partition's lane
        // holds transfers and has room in its last chunk.
        if l < lanes.count {
            let outcome: Int = slots.withUnsafeMutableBufferPointer { sl in
                lanes.withUnsafeMutableBufferPointer { ln in
                    let lane = ln[l]
                    guard lane.count > 0, lane.tailPos < Int32(Self.chunkSize) else { return 0 }
                    if p.precedes(sl[Self.slot(lane.tailChunk, lane.tailPos &- 1)]) { return 1 }
                    sl[Self.slot(lane.tailChunk, lane.tailPos)] = p
                    ln[l].tailPos = lane.tailPos &+ 1
                    ln[l].count = lane.count &+ 1
                    return 2
                }
            }
            if outcome == 2 {
                laneTotal &+= 1
                return
            }
            if outcome == 1 {
                pushHeap(p)
                return
            }
        }
        pushStartingChunk(p, lane: l)
    }

    /// A push that starts a chunk: the lane's first transfer, or its last chunk is full.
    @usableFromInline
    mutating func pushStartingChunk(_ p: PendingTransfer, lane l: Int) {
        if l >= lanes.count { lanes.append(contentsOf: repeatElement(Lane(), count: l &+ 1 &- lanes.count)) }
        var lane = lanes[l]
        if lane.count > 0 {
            let newest = slots[Self.slot(lane.tailChunk, lane.tailPos &- 1)]
            if p.precedes(newest) {
                pushHeap(p)
                return
            }
            if lane.tailPos == Int32(Self.chunkSize) {
                let c = takeChunk()
                chunkNext[Int(lane.tailChunk)] = c
                lane.tailChunk = c
                lane.tailPos = 0
            }
        } else {
            let c = takeChunk()
            lane.headChunk = c
            lane.tailChunk = c
            lane.headPos = 0
            lane.tailPos = 0
        }
        slots.withUnsafeMutableBufferPointer { $0[Self.slot(lane.tailChunk, lane.tailPos)] = p }
        lane.tailPos &+= 1
        lane.count &+= 1
        lanes[l] = lane
        laneTotal &+= 1
        if lane.count == 1 {
            if laneHeap.isEmpty { laneHeap.append(Int32(l)) } else { pushLane(Int32(l), head: p) }
        }
    }

    /// The least waiting transfer and where it waits (`lane`: the top lane's number, or -1 for
    /// the heap), or nil when nothing waits: the one rule `minTimestamp` and both pops follow.
    @inlinable @inline(__always)
    func least() -> (transfer: PendingTransfer, lane: Int32)? {
        if let top = laneHeap.first {
            let h = head(ofLane: top)
            if heap.isEmpty || !heap[0].precedes(h) { return (h, top) }
        }
        guard let first = heap.first else { return nil }
        return (first, -1)
    }

    @inlinable
    mutating func popMin() -> PendingTransfer {
        let (p, lane) = least()!
        if lane < 0 { return popHeap() }
        popLane(lane)
        return p
    }

    /// The least waiting transfer if it is older than `limit` (removed), else nil: the release
    /// loop's test and pop with one look at the top lane's head.
    @inlinable
    mutating func popMin(before limit: Int64) -> PendingTransfer? {
        guard let (p, lane) = least(), p.ts < limit else { return nil }
        if lane < 0 { return popHeap() }
        popLane(lane)
        return p
    }

    /// Removes the oldest transfer of lane `l`, the top of the lane heap.
    @inlinable
    mutating func popLane(_ l: Int32) {
        var lane = lanes[Int(l)]
        lane.headPos &+= 1
        lane.count &-= 1
        laneTotal &-= 1
        if lane.count == 0 {
            freeChunkAt(lane.headChunk)
            lane.headChunk = -1
            lane.tailChunk = -1
            lanes[Int(l)] = lane
            let last = laneHeap.removeLast()
            if !laneHeap.isEmpty { siftDownTopLane(last) }
            return
        }
        if lane.headPos == Int32(Self.chunkSize) {
            let next = chunkNext[Int(lane.headChunk)]
            freeChunkAt(lane.headChunk)
            lane.headChunk = next
            lane.headPos = 0
        }
        lanes[Int(l)] = lane
        // One partition (files, tests, a single-partition topic): no other lane to order against.
        if laneHeap.count > 1 { siftDownTopLane(l) }
    }

    /// The transfer `k` places behind the oldest of the lane that releases next (`k` below
    /// `chunkSize`), if it holds that many: the next releases when one partition leads, a hint
    /// for prefetching otherwise (other lanes and the heap may come in between).
    @inlinable @inline(__always)
    func upcoming(_ k: Int) -> PendingTransfer? {
        guard let top = laneHeap.first else { return nil }
        let lane = lanes[Int(top)]
        guard k < Int(lane.count) else { return nil }
        var chunk = lane.headChunk
        var pos = Int(lane.headPos) &+ k
        if pos >= Self.chunkSize {
            chunk = chunkNext[Int(chunk)]
            pos &-= Self.chunkSize
        }
        return slots[Self.slot(chunk, Int32(pos))]
    }

    /// Visits every waiting transfer, in no particular order (not per event).
    func forEach(_ body: (PendingTransfer) -> Void) {
        for lane in lanes where lane.count > 0 {
            var chunk = lane.headChunk
            var pos = Int(lane.headPos)
            for _ in 0..<Int(lane.count) {
                if pos == Self.chunkSize {
                    chunk = chunkNext[Int(chunk)]
                    pos = 0
                }
                body(slots[Self.slot(chunk, Int32(pos))])
                pos += 1
            }
        }
        for p in heap { body(p) }
    }

    /// Every waiting transfer, in release order (checkpoints).
    func sorted() -> [PendingTransfer] {
        var all: [PendingTransfer] = []
        all.reserveCapacity(count)
        forEach { all.append($0) }
        all.sort { $0.precedes($1) }
        return all
    }

    /// Bytes held (chunks, lanes and heaps, by capacity).
    var memoryBytes: Int {
        (slots.capacity + heap.capacity) * MemoryLayout<PendingTransfer>.stride + chunkNext.capacity * 4
            + lanes.capacity * MemoryLayout<Lane>.stride + laneHeap.capacity * 4
    }

    // MARK: chunks

    @usableFromInline
    mutating func takeChunk() -> Int32 {
        if freeChunk < 0 { addChunks(max(4, chunkNext.count)) }
        let c = freeChunk
        freeChunk = chunkNext[Int(c)]
        chunkNext[Int(c)] = -1
        return c
    }

    @inlinable @inline(__always)
    mutating func freeChunkAt(_ c: Int32) {
        chunkNext[Int(c)] = freeChunk
        freeChunk = c
    }

    /// Adds `n` chunks to the free list (the shared array doubles; no lane moves).
    @usableFromInline
    mutating func addChunks(_ n: Int) {
        let first = chunkNext.count
        slots.append(contentsOf: repeatElement(Self.filler, count: n &* Self.chunkSize))
        for c in first..<(first + n) { chunkNext.append(c + 1 < first + n ? Int32(c + 1) : freeChunk) }
        freeChunk = Int32(first)
    }

    // MARK: the lane heap (lane numbers by oldest transfer)

    @inlinable @inline(__always)
    static func head(_ l: Int32, _ ln: UnsafeBufferPointer<Lane>, _ sl: UnsafeBufferPointer<PendingTransfer>) -> PendingTransfer {
        let lane = ln[Int(l)]
        return sl[slot(lane.headChunk, lane.headPos)]
    }

    @usableFromInline
    mutating func pushLane(_ l: Int32, head p: PendingTransfer) {
        laneHeap.append(l)
        let n = laneHeap.count
        slots.withUnsafeBufferPointer { sl in
            lanes.withUnsafeBufferPointer { ln in
                laneHeap.withUnsafeMutableBufferPointer { h in
                    var i = n - 1
                    while i > 0 {
                        let parent = (i &- 1) >> 1
                        guard p.precedes(Self.head(h[parent], ln, sl)) else { break }
                        h[i] = h[parent]
                        i = parent
                    }
                    h[i] = l
                }
            }
        }
    }

    /// Puts lane `l` at the top of the lane heap and sifts it down by its (new) oldest transfer.
    @usableFromInline
    mutating func siftDownTopLane(_ l: Int32) {
        let n = laneHeap.count
        slots.withUnsafeBufferPointer { sl in
            lanes.withUnsafeBufferPointer { ln in
                let key = Self.head(l, ln, sl)
                laneHeap.withUnsafeMutableBufferPointer { h in
                    var i = 0
                    while true {
                        let left = 2 &* i &+ 1
                        if left >= n { break }
                        var c = left
                        var ck = Self.head(h[left], ln, sl)
                        if left &+ 1 < n {
                            let rk = Self.head(h[left &+ 1], ln, sl)
                            if rk.precedes(ck) { c = left &+ 1; ck = rk }
                        }
                        guard ck.precedes(key) else { break }
                        h[i] = h[c]
                        i = c
                    }
                    h[i] = l
                }
            }
        }
    }

    // Sifts move a hole instead of swapping, through a pointer (no bounds or uniqueness check
    // per step).
    @usableFromInline
    mutating func pushHeap(_ p: PendingTransfer) {
        heapPushes &+= 1
        heap.append(p)
        heap.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let parent = (i &- 1) >> 1
                guard p.precedes(h[parent]) else { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = p
        }
    }

    @usableFromInline
    mutating func popHeap() -> PendingTransfer {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap.withUnsafeMutableBufferPointer { h in
                let n = h.count
                var i = 0
                while true {
                    let l = 2 &* i &+ 1
                    if l >= n { break }
                    var c = l
                    if l &+ 1 < n && h[l &+ 1].precedes(h[l]) { c = l &+ 1 }
                    guard h[c].precedes(last) else { break }
                    h[i] = h[c]
                    i = c
                }
                h[i] = last
            }
        }
        return top
    }
}
