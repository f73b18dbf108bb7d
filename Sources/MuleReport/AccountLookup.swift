import MuleCore

/// A fixed set of account names looked up by the raw bytes of an event field, so scanning an
/// events file creates no `String` per event. Open addressing over name hashes; a hit is
/// confirmed by comparing bytes.
struct AccountLookup {
    let names: [String]
    private let bytes: [[UInt8]]
    private var slots: [Int32]
    private let mask: Int

    init(_ names: [String]) {
        self.names = names
        bytes = names.map { Array($0.utf8) }
        var capacity = 16
        while capacity < names.count * 2 { capacity <<= 1 }
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        for (i, b) in bytes.enumerated() {
            var s = Int(truncatingIfNeeded: ByteHash.hash(b, seed: ByteHash.accountSeed)) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(i)
        }
    }

    /// Index into `names` of the account spelled by `key`, or nil.
    func index(of key: UnsafeRawBufferPointer) -> Int? {
        var s = Int(truncatingIfNeeded: ByteHash.hash(key, seed: ByteHash.accountSeed)) & mask
        while true {
            let i = Int(slots[s])
            if i < 0 { return nil }
            if bytes[i].count == key.count && bytes[i].withUnsafeBytes({ $0.elementsEqual(key) }) { return i }
            s = (s + 1) & mask
        }
    }
}
