import CMulePrefetch

/// Interns account ids (byte strings) to dense `Int32` ids so the hot path works with integers.
///
/// Open addressing with linear probing and backward-shift deletion; the key bytes live in one
/// contiguous arena that is compacted when more than half of it belongs to removed accounts.
/// Removed ids are reused (lowest freed first is not guaranteed).
///
/// A slot is 32 bits: `id + 1` in the low `idBits` and the top bits of the name's hash (a tag)
/// above it, so a probe compares the tag before it reads the name: a lookup touches the slot,
/// the id's span and the name bytes, not a separate hash array on the way (one cache miss less
/// per event and account). The tag narrows by a bit each time the ids outgrow `idBits`
/// (`widenIds`). Per id, `spans` holds where the name is and the low 32 bits of its hash (its
/// home), which only removal and growth read. Free ids are a stack threaded through their spans
/// (a free span's `offset` names the next free id): taking or giving back an id writes `spans`
/// only, where separate arrays for homes and free ids had cost a uniqueness check each.
public struct AccountTable: Sendable {
    @usableFromInline var slots: LineArray<UInt32>  // 0 = empty
    @usableFromInline var slotMask: Int
    @usableFromInline var idBits: UInt32 = 16
    /// Name bytes; only the first `arenaUsed` are in use (the rest is spare capacity, allocated
    /// but never read), so appending a name is one copy, not a generic `append(contentsOf:)`.
    @usableFromInline var arena: [UInt8] = []
    @usableFromInline var arenaUsed = 0
    @usableFromInline var spans = LineArray<NameSpan>()
    /// Most recently freed id (-1: none); see `NameSpan.offset`.
    @usableFromInline var freeHead: Int32 = -1
    @usableFromInline var liveCount = 0
    /// Accounts currently interned.
    public var count: Int { liveCount }
    @usableFromInline var garbageBytes = 0

    /// Where an id's name sits in the arena and its home; `length == NameSpan.free` marks a free
    /// id, whose `offset` is then the next free id (`UInt32.max`: none).
    @usableFromInline
    struct NameSpan: Sendable, BitwiseCopyable {
        @usableFromInline var offset: UInt32
        @usableFromInline var length: UInt32
        /// Low 32 bits of the name's hash.
        @usableFromInline var home: UInt32
        @usableFromInline static let free = UInt32.max

        @inlinable init(offset: UInt32, length: UInt32, home: UInt32) {
            self.offset = offset
            self.length = length
            self.home = home
        }
    }

    public init(initialCapacity: Int = 1024) {
        var cap = 16
        while cap < initialCapacity * 2 { cap <<= 1 }
        slots = LineArray(repeating: 0, count: cap)
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
    @inlinable public var idCapacity: Int { spans.count }

    /// The tag of a hash: its top `32 - idBits` bits.
    @inlinable @inline(__always)
    func tag(_ h: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: h &>> UInt64(32 &+ idBits)) }

    @inlinable @inline(__always)
    func slotValue(_ id: Int32, tag: UInt32) -> UInt32 { tag &<< idBits | UInt32(id &+ 1) }

    @inlinable @inline(__always)
    func slotId(_ v: UInt32) -> Int32 { Int32(bitPattern: (v & (1 &<< idBits &- 1)) &- 1) }

    @inlinable
    func keyEquals(_ id: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let span = spans[Int(id)]
        guard span.length == UInt32(truncatingIfNeeded: bytes.count) else { return false }
        let len = Int(span.length)
        return arena.withUnsafeBytes { a in
            len == 0 || memcmpBytes(a.baseAddress! + Int(span.offset), bytes.baseAddress!, len)
        }
    }

    /// The slot holding `bytes` (hash `h`), or the empty slot that ends its probe chain.
    @inlinable @inline(__always)
    func probe(_ bytes: UnsafeRawBufferPointer, _ h: UInt64) -> (slot: Int, id: Int32?) {
        let t = tag(h)
        let mask = slotMask
        let shift = idBits
        return slots.withUnsafeBufferPointer { sl in
            var s = Int(truncatingIfNeeded: h) & mask
            while true {
                let v = sl[s]
                if v == 0 { return (s, nil) }
                if v &>> shift == t {
                    let id = slotId(v)
                    if keyEquals(id, bytes) { return (s, id) }
                }
                s = (s &+ 1) & mask
            }
        }
    }

    /// Starts loading the slot where a probe for hash `h` begins (a hint; see `MulePrefetch.h`).
    @inlinable @inline(__always)
    public func prefetch(hash h: UInt64) {
        let s = Int(truncatingIfNeeded: h) & slotMask
        slots.withUnsafeBufferPointer { mule_prefetch_read($0.baseAddress! + s) }
    }

    /// The id of `bytes`, or nil if not interned.
    @inlinable
    public func lookup(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        probe(bytes, AccountTable.hash(bytes)).id
    }

    /// The id of `bytes`, interning it if new.
    @inlinable
    public mutating func intern(_ bytes: UnsafeRawBufferPointer) -> (id: Int32, isNew: Bool) {
        intern(bytes, hash: AccountTable.hash(bytes))
    }

    /// The hash `intern` and `lookup` use for `bytes`.
    @inlinable @inline(__always)
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        ByteHash.hash(bytes, seed: ByteHash.accountSeed)
    }

    /// `intern` with the hash already computed (`AccountTable.hash(bytes)`).
    @inlinable
    public mutating func intern(_ bytes: UnsafeRawBufferPointer, hash h: UInt64) -> (id: Int32, isNew: Bool) {
        let (s, found) = probe(bytes, h)
        if let found { return (found, false) }
        return (insertNew(bytes, hash: h, at: s), true)
    }

    /// Gives `bytes` (not present; `s` ends its probe chain) an id: a freed one if `reuseFreed`
    /// and there is one, else the next new one.
    @usableFromInline
    mutating func insertNew(_ bytes: UnsafeRawBufferPointer, hash h: UInt64, at s: Int, reuseFreed: Bool = true) -> Int32 {
        let span = NameSpan(offset: UInt32(arenaUsed), length: UInt32(bytes.count), home: UInt32(truncatingIfNeeded: h))
        let id: Int32
        if reuseFreed, freeHead >= 0 {
            id = freeHead
            freeHead = spans.withUnsafeMutableBufferPointer { sp in
                let next = Int32(bitPattern: sp[Int(id)].offset)
                sp[Int(id)] = span
                return next
            }
        } else {
            id = Int32(spans.count)
            spans.append(span)
        }
        appendName(bytes)
        if UInt32(id) &+ 1 >= 1 &<< idBits { widenIds() }
        slots[s] = slotValue(id, tag: tag(h))
        liveCount += 1
        if liveCount * 4 >= slots.count * 3 { grow() }
        return id
    }

    /// Forgets an account; its id may be handed out again by a later `intern`.
    public mutating func remove(_ id: Int32) {
        let i = Int(id)
        precondition(contains(id), "removing a free account id")
        let mask = slotMask
        let shift = idBits
        let idMask: UInt32 = 1 &<< shift &- 1
        let nextFree = freeHead
        let length = spans.withUnsafeMutableBufferPointer { sp in
            slots.withUnsafeMutableBufferPointer { sl in
                var s = Int(sp[i].home) & mask
                while sl[s] & idMask != UInt32(id &+ 1) { s = (s &+ 1) & mask }
                // Backward-shift deletion keeps probe chains intact without tombstones.
                var hole = s
                var j = (s &+ 1) & mask
                while sl[j] != 0 {
                    let home = Int(sp[Int((sl[j] & idMask) &- 1)].home) & mask
                    if (j &- home) & mask >= (j &- hole) & mask {
                        sl[hole] = sl[j]
                        hole = j
                    }
                    j = (j &+ 1) & mask
                }
                sl[hole] = 0
            }
            let length = sp[i].length
            sp[i].length = NameSpan.free
            sp[i].offset = UInt32(bitPattern: nextFree)
            return length
        }
        garbageBytes += Int(length)
        freeHead = id
        liveCount -= 1
        if garbageBytes > 4096 && garbageBytes * 2 > arenaUsed { compact() }
    }

    /// True if `id` currently names an account.
    @inlinable public func contains(_ id: Int32) -> Bool {
        Int(id) < spans.count && id >= 0 && spans[Int(id)].length != NameSpan.free
    }

    /// Lends the account's id bytes.
    @inlinable
    public func withName<R>(_ id: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let span = spans[Int(id)]
        let off = Int(span.offset)
        return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[off..<off + Int(span.length)])) }
    }

    /// The account id as a `String` (allocates: for alerts and reports).
    public func name(_ id: Int32) -> String {
        withName(id) { String(decoding: $0, as: UTF8.self) }
    }

    /// Bytes held by the table itself (slots, arena, per-id arrays), for memory accounting.
    public var memoryBytes: Int {
        slots.capacity * 4 + arena.capacity + spans.capacity * MemoryLayout<NameSpan>.stride
    }

    /// Ids reached `1 << idBits`: one more bit for ids, one less for tags (the tag's lowest bit is
    /// dropped, so every slot stays where it is).
    @usableFromInline
    mutating func widenIds() {
        precondition(idBits < 31, "too many account ids")
        let old = idBits
        let idMask: UInt32 = 1 &<< old &- 1
        idBits += 1
        let shift = idBits
        slots.withUnsafeMutableBufferPointer { sl in
            for s in sl.indices where sl[s] != 0 {
                sl[s] = ((sl[s] &>> old) &>> 1) &<< shift | (sl[s] & idMask)
            }
        }
    }

    @usableFromInline
    mutating func grow() { rehash(to: slots.count * 2) }

    /// Makes room for `accounts` names in all without growing (slots, spans, and `nameBytes`
    /// bytes of names): see `DetectorConfig.reserveAccounts`. Never shrinks.
    mutating func reserve(accounts: Int, nameBytes: Int) {
        var cap = slots.count
        while accounts * 4 >= cap * 3 { cap <<= 1 }
        if cap > slots.count { rehash(to: cap) }
        spans.reserveCapacity(accounts)
        if nameBytes > arena.count { growArena(to: nameBytes) }
    }

    /// Lays the slots out again at `cap` (a power of two, above the live count).
    mutating func rehash(to cap: Int) {
        let old = slots
        slots = LineArray(repeating: 0, count: cap)
        slotMask = cap - 1
        let mask = slotMask
        let idMask: UInt32 = 1 &<< idBits &- 1
        spans.withUnsafeBufferPointer { sp in
            slots.withUnsafeMutableBufferPointer { sl in
                for v in old where v != 0 {
                    var s = Int(sp[Int((v & idMask) &- 1)].home) & mask
                    while sl[s] != 0 { s = (s &+ 1) & mask }
                    sl[s] = v
                }
            }
        }
    }

    @usableFromInline
    mutating func appendName(_ bytes: UnsafeRawBufferPointer) {
        let at = arenaUsed
        let n = bytes.count
        if at + n > arena.count { growArena(to: at + n) }
        if n > 0 { arena.withUnsafeMutableBytes { (a: UnsafeMutableRawBufferPointer) in (a.baseAddress! + at).copyMemory(from: bytes.baseAddress!, byteCount: n) } }
        arenaUsed = at + n
    }

    /// Doubles the arena (at least to `needed` bytes), keeping the bytes in use. The spare part
    /// is left uninitialised: nothing reads past `arenaUsed`.
    mutating func growArena(to needed: Int) {
        var cap = max(1024, arena.count * 2)
        while cap < needed { cap *= 2 }
        let used = arenaUsed
        arena = arena.withUnsafeBytes { old in
            [UInt8](unsafeUninitializedCapacity: cap) { buf, initialized in
                if used > 0 { UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: old.baseAddress!, byteCount: used) }
                initialized = cap
            }
        }
    }

    mutating func compact() {
        let cap = max(1024, (arenaUsed - garbageBytes) * 2)
        var moved = spans
        spans = LineArray()  // `moved` is the only reference: rewritten in place
        var used = 0
        arena = arena.withUnsafeBytes { old in
            [UInt8](unsafeUninitializedCapacity: cap) { buf, initialized in
                let to = UnsafeMutableRawPointer(buf.baseAddress!)
                for i in moved.indices where moved[i].length != NameSpan.free {
                    let len = Int(moved[i].length)
                    if len > 0 { (to + used).copyMemory(from: old.baseAddress! + Int(moved[i].offset), byteCount: len) }
                    moved[i].offset = UInt32(used)
                    used += len
                }
                initialized = cap
            }
        }
        spans = moved
        arenaUsed = used
        garbageBytes = 0
    }

    /// The free ids in the order they were freed (the last is handed out next).
    var freeIds: [Int32] {
        var out: [Int32] = []
        var id = freeHead
        while id >= 0 {
            out.append(id)
            id = Int32(bitPattern: spans[Int(id)].offset)
        }
        return out.reversed()
    }

    /// Restoring: marks the free id `id` as freed last (`restoreNextId(nil)` made it free).
    mutating func restoreFreeId(_ id: Int32) {
        spans[Int(id)].offset = UInt32(bitPattern: freeHead)
        freeHead = id
    }

    /// Restoring: gives the next id (`idCapacity`) to `name`, or leaves it free (nil). False if
    /// the name is already interned.
    mutating func restoreNextId(_ name: UnsafeRawBufferPointer?) -> Bool {
        guard let name else {
            spans.append(NameSpan(offset: UInt32.max, length: NameSpan.free, home: 0))
            if UInt32(spans.count) >= 1 &<< idBits { widenIds() }
            return true
        }
        let h = ByteHash.hash(name, seed: ByteHash.accountSeed)
        let (s, found) = probe(name, h)
        if found != nil { return false }
        _ = insertNew(name, hash: h, at: s, reuseFreed: false)
        return true
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
