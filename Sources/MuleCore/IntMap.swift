/// An integer-keyed map for the hot path: open addressing with linear probing, a
/// multiplicative hash and backward-shift deletion (no tombstones). `Key.max` is reserved (it
/// marks a free slot). Used where `Dictionary`'s seeded SipHash cost more than the rest of the
/// lookup: hop lookups by transfer handle, forwarders by account. Iterates like a dictionary
/// (`for (key, value) in map`), in slot order.
@usableFromInline
struct IntMap<Key: FixedWidthInteger & Sendable, Value: Sendable>: Sendable, Sequence {
    // Parallel arrays; `keys[i] == Key.max` marks a free slot. Values of free slots are stale
    // copies of `filler` or of removed values and are never read.
    private var keys: [Key]
    private var values: [Value]
    private var mask: Int
    private let filler: Value
    private(set) var count = 0

    /// `filler`: any value, to fill free slots with.
    init(filler: Value) {
        self.filler = filler
        keys = Array(repeating: Key.max, count: 64)
        values = Array(repeating: filler, count: 64)
        mask = 63
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func home(_ k: Key) -> Int {
        Int(truncatingIfNeeded: (UInt64(truncatingIfNeeded: k) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    subscript(key: Key) -> Value? {
        get {
            guard count > 0 else { return nil }
            var s = home(key)
            while true {
                let k = keys[s]
                if k == key { return values[s] }
                if k == Key.max { return nil }
                s = (s &+ 1) & mask
            }
        }
        set {
            if let v = newValue { insert(key, v) } else { removeValue(forKey: key) }
        }
    }

    private mutating func insert(_ key: Key, _ value: Value) {
        precondition(key != Key.max, "reserved key")
        var s = home(key)
        while true {
            let k = keys[s]
            if k == key { values[s] = value; return }
            if k == Key.max { break }
            s = (s &+ 1) & mask
        }
        keys[s] = key
        values[s] = value
        count += 1
        if count * 2 > keys.count { rehash(keys.count * 2) }
    }

    mutating func removeValue(forKey key: Key) {
        guard count > 0 else { return }
        var s = home(key)
        while keys[s] != key {
            if keys[s] == Key.max { return }
            s = (s &+ 1) & mask
        }
        var hole = s
        var j = (s &+ 1) & mask
        while keys[j] != Key.max {
            let dist = (j &- home(keys[j])) & mask
            if dist >= (j &- hole) & mask {
                keys[hole] = keys[j]
                values[hole] = values[j]
                hole = j
            }
            j = (j &+ 1) & mask
        }
        keys[hole] = Key.max
        count -= 1
    }

    private mutating func rehash(_ capacity: Int) {
        let oldKeys = keys
        let oldValues = values
        keys = Array(repeating: Key.max, count: capacity)
        values = Array(repeating: filler, count: capacity)
        mask = capacity - 1
        count = 0
        for i in oldKeys.indices where oldKeys[i] != Key.max { insert(oldKeys[i], oldValues[i]) }
    }

    @usableFromInline
    struct Iterator: IteratorProtocol {
        let keys: [Key]
        let values: [Value]
        var i = 0

        @usableFromInline
        mutating func next() -> (key: Key, value: Value)? {
            while i < keys.count {
                defer { i += 1 }
                if keys[i] != Key.max { return (keys[i], values[i]) }
            }
            return nil
        }
    }

    @usableFromInline
    func makeIterator() -> Iterator { Iterator(keys: keys, values: values) }

    var memoryBytes: Int { keys.capacity * MemoryLayout<Key>.stride + values.capacity * MemoryLayout<Value>.stride }
}
