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
/// arrived in order. A binary min-heap on (event time, id hash).
@usableFromInline
struct ReorderBuffer: Sendable {
    @usableFromInline var heap: [PendingTransfer] = []

    @usableFromInline init() { heap.reserveCapacity(1024) }

    @inlinable var count: Int { heap.count }
    @inlinable var minTimestamp: Int64? { heap.first?.ts }

    // Sifts move a hole instead of swapping, through a pointer (no bounds or uniqueness check
    // per step): both run once per event.
    @inlinable
    mutating func push(_ p: PendingTransfer) {
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

    @inlinable
    mutating func popMin() -> PendingTransfer {
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
