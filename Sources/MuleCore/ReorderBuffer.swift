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
/// Real feeds are nearly in order, so most transfers go to a FIFO ring (each one does not
/// precede the ring's newest, so the ring stays sorted: push and pop are O(1) and touch one
/// slot); only a transfer that does precede the ring's newest goes to a binary min-heap. The
/// least element is the lesser of the ring's head and the heap's top.
@usableFromInline
struct ReorderBuffer: Sendable {
    /// The FIFO ring: power-of-two length, `fifoCount` elements from `fifoHead` (wrapping), sorted.
    @usableFromInline var ring: ContiguousArray<PendingTransfer>
    @usableFromInline var fifoHead = 0
    @usableFromInline var fifoCount = 0
    /// Transfers that arrived out of order (a binary min-heap).
    @usableFromInline var heap = ContiguousArray<PendingTransfer>()
    /// How many pushes took the heap path (not checkpointed; for tests and diagnostics).
    @usableFromInline var heapPushes = 0

    @usableFromInline static let filler = PendingTransfer(
        ts: .min, idHash: 0, amount: 0, txHandle: 0, offset: -1, partition: -1, payer: -1, payee: -1,
        channel: .p2p, payerKind: .personal, payeeKind: .personal)

    @usableFromInline init() {
        ring = ContiguousArray(repeating: Self.filler, count: 1024)
        heap.reserveCapacity(256)
    }

    @inlinable var count: Int { fifoCount &+ heap.count }

    @inlinable var minTimestamp: Int64? {
        if fifoCount == 0 { return heap.first?.ts }
        let f = ring[fifoHead].ts
        guard let h = heap.first?.ts else { return f }
        return h < f ? h : f
    }

    @inlinable
    mutating func push(_ p: PendingTransfer) {
        let mask = ring.count &- 1
        if fifoCount > 0 && p.precedes(ring[(fifoHead &+ fifoCount &- 1) & mask]) {
            pushHeap(p)
            return
        }
        if fifoCount == ring.count { growRing() }
        let at = (fifoHead &+ fifoCount) & (ring.count &- 1)
        ring.withUnsafeMutableBufferPointer { $0[at] = p }
        fifoCount &+= 1
    }

    @inlinable
    mutating func popMin() -> PendingTransfer {
        if fifoCount > 0 && (heap.isEmpty || !heap[0].precedes(ring[fifoHead])) {
            let top = ring[fifoHead]
            fifoHead = (fifoHead &+ 1) & (ring.count &- 1)
            fifoCount &-= 1
            return top
        }
        return popHeap()
    }

    /// The `k`-th oldest transfer of the FIFO ring (`k < fifoCount`), for looking ahead of the
    /// release order (the heap's few elements may come in between).
    @inlinable @inline(__always)
    func fifoElement(_ k: Int) -> PendingTransfer {
        ring[(fifoHead &+ k) & (ring.count &- 1)]
    }

    /// Visits every waiting transfer, in no particular order (not per event).
    func forEach(_ body: (PendingTransfer) -> Void) {
        for k in 0..<fifoCount { body(fifoElement(k)) }
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

    /// Bytes held (both stores' capacity).
    var memoryBytes: Int { (ring.capacity + heap.capacity) * MemoryLayout<PendingTransfer>.stride }

    @usableFromInline
    mutating func growRing() {
        var bigger = ContiguousArray(repeating: Self.filler, count: ring.count * 2)
        for k in 0..<fifoCount { bigger[k] = fifoElement(k) }
        ring = bigger
        fifoHead = 0
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
