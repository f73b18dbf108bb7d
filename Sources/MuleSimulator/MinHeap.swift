/// Strict ordering for `MinHeap` elements; ties must be broken inside `precedes` (by a sequence
/// number) so the pop order never depends on heap layout.
protocol HeapOrdered {
    static func precedes(_ a: Self, _ b: Self) -> Bool
}

/// Binary min-heap over contiguous storage: pending transfers, scenario sources and the
/// disorder buffer all flow through one of these.
struct MinHeap<Element: HeapOrdered> {
    private(set) var storage: [Element] = []

    var count: Int { storage.count }
    var isEmpty: Bool { storage.isEmpty }
    var peek: Element? { storage.first }

    mutating func push(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !Element.precedes(storage[child], storage[parent]) { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let last = storage.popLast() else { return nil }
        guard !storage.isEmpty else { return last }
        let top = storage[0]
        storage[0] = last
        var parent = 0
        let n = storage.count
        while true {
            let left = 2 * parent + 1
            if left >= n { break }
            var best = left
            let right = left + 1
            if right < n && Element.precedes(storage[right], storage[left]) { best = right }
            if !Element.precedes(storage[best], storage[parent]) { break }
            storage.swapAt(best, parent)
            parent = best
        }
        return top
    }
}

extension MinHeap: Sendable where Element: Sendable {}
