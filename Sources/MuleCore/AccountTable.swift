/// Interns account ids (byte strings) to dense `Int32` ids so the hot path works with integers.
///
/// Open addressing with linear probing and backward-shift deletion; the key bytes live in one
/// contiguous arena that is compacted when more than half of it belongs to removed accounts.
/// Removed ids are reused (lowest freed first is not guaranteed).
public struct AccountTable: Sendable {
    @usableFromInline var slotIds: [Int32]  // -1 = empty
    @usableFromInline var slotMask: Int
    @usableFromInline var arena: [UInt8] = []
    @usableFromInline var keyOffset: [Int32] = []
    @usableFromInline var keyLength: [Int32] = []  // -1 = free id
    @usableFromInline var keyHash: [UInt64] = []
    @usableFromInline var freeIds: [Int32] = []
    @usableFromInline var liveCount = 0
    /// Accounts currently interned.
    public var count: Int { liveCount }
    @usableFromInline var garbageBytes = 0

    public init(initialCapacity: Int = 1024) {
        var cap = 16
        while cap < initialCapacity * 2 { cap <<= 1 }
        slotIds = Array(repeating: -1, count: cap)
        slotMask = cap - 1
    }

    /// A fixed set of names, interned in order: the id of `names[i]` is `i` (names must be
    /// distinct). For looking up event fields against a known list without a `String` per event.
    public init(names: [String]) {
        self.init(initialCapacity: names.count)
        for name in names {
            var n = name
            _ = n.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
        }
    }

    /// One past the largest id ever handed out: arrays indexed by account id need this size.
    @inlinable public var idCapacity: Int { keyLength.count }

    @inlinable
    func keyEquals(_ id: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let i = Int(id)
        let len = Int(keyLength[i])
        guard len == bytes.count else { return false }
        let off = Int(keyOffset[i])
        return arena.withUnsafeBytes { a in
            len == 0 || memcmpBytes(a.baseAddress! + off, bytes.baseAddress!, len)
        }
    }

    /// The id of `bytes`, or nil if not interned.
    @inlinable
    public func lookup(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        let h = ByteHash.hash(bytes, seed: ByteHash.accountSeed)
        var s = Int(truncatingIfNeeded: h) & slotMask
        while true {
            let id = slotIds[s]
            if id < 0 { return nil }
            if keyHash[Int(id)] == h && keyEquals(id, bytes) { return id }
            s = (s + 1) & slotMask
        }
    }

    /// The id of `bytes`, interning it if new.
    @inlinable
    public mutating func intern(_ bytes: UnsafeRawBufferPointer) -> (id: Int32, isNew: Bool) {
        let h = ByteHash.hash(bytes, seed: ByteHash.accountSeed)
        var s = Int(truncatingIfNeeded: h) & slotMask
        while true {
            let id = slotIds[s]
            if id < 0 { break }
            if keyHash[Int(id)] == h && keyEquals(id, bytes) { return (id, false) }
            s = (s + 1) & slotMask
        }
        let id: Int32
        if let reused = freeIds.popLast() {
            id = reused
            keyOffset[Int(id)] = Int32(arena.count)
            keyLength[Int(id)] = Int32(bytes.count)
            keyHash[Int(id)] = h
        } else {
            id = Int32(keyLength.count)
            keyOffset.append(Int32(arena.count))
            keyLength.append(Int32(bytes.count))
            keyHash.append(h)
        }
        arena.append(contentsOf: bytes)
        slotIds[s] = id
        liveCount += 1
        if liveCount * 4 >= slotIds.count * 3 { grow() }
        return (id, true)
    }

    /// Forgets an account; its id may be handed out again by a later `intern`.
    public mutating func remove(_ id: Int32) {
        let i = Int(id)
        precondition(keyLength[i] >= 0, "removing a free account id")
        var s = Int(truncatingIfNeeded: keyHash[i]) & slotMask
        while slotIds[s] != id { s = (s + 1) & slotMask }
        // Backward-shift deletion keeps probe chains intact without tombstones.
        var hole = s
        var j = (s + 1) & slotMask
        while slotIds[j] >= 0 {
            let home = Int(truncatingIfNeeded: keyHash[Int(slotIds[j])]) & slotMask
            let dist = (j - home) & slotMask
            let holeDist = (j - hole) & slotMask
            if dist >= holeDist {
                slotIds[hole] = slotIds[j]
                hole = j
            }
            j = (j + 1) & slotMask
        }
        slotIds[hole] = -1
        garbageBytes += Int(keyLength[i])
        keyLength[i] = -1
        freeIds.append(id)
        liveCount -= 1
        if garbageBytes > 4096 && garbageBytes * 2 > arena.count { compact() }
    }

    /// True if `id` currently names an account.
    @inlinable public func contains(_ id: Int32) -> Bool {
        Int(id) < keyLength.count && id >= 0 && keyLength[Int(id)] >= 0
    }

    /// Lends the account's id bytes.
    @inlinable
    public func withName<R>(_ id: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let off = Int(keyOffset[Int(id)])
        let len = Int(keyLength[Int(id)])
        return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[off..<off + len])) }
    }

    /// The account id as a `String` (allocates: for alerts and reports).
    public func name(_ id: Int32) -> String {
        withName(id) { String(decoding: $0, as: UTF8.self) }
    }

    /// Bytes held by the table itself (slots, arena, per-id arrays), for memory accounting.
    public var memoryBytes: Int {
        slotIds.capacity * 4 + arena.capacity + keyOffset.capacity * 4 + keyLength.capacity * 4
            + keyHash.capacity * 8 + freeIds.capacity * 4
    }

    @usableFromInline
    mutating func grow() {
        let cap = slotIds.count * 2
        slotIds = Array(repeating: -1, count: cap)
        slotMask = cap - 1
        for i in 0..<keyLength.count where keyLength[i] >= 0 {
            var s = Int(truncatingIfNeeded: keyHash[i]) & slotMask
            while slotIds[s] >= 0 { s = (s + 1) & slotMask }
            slotIds[s] = Int32(i)
        }
    }

    mutating func compact() {
        var fresh: [UInt8] = []
        fresh.reserveCapacity(arena.count - garbageBytes)
        for i in 0..<keyLength.count where keyLength[i] >= 0 {
            let off = Int(keyOffset[i])
            keyOffset[i] = Int32(fresh.count)
            fresh.append(contentsOf: arena[off..<off + Int(keyLength[i])])
        }
        arena = fresh
        garbageBytes = 0
    }
}

@inlinable @inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
