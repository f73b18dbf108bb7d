import CMulePrefetch

/// A growable array of plain values whose first element starts on a 64-byte cache-line
/// boundary, with value semantics (copy on write, like `ContiguousArray`).
///
/// Why: `ContiguousArray` puts its elements 32 bytes after a heap block that malloc aligns to
/// 16 bytes (for a large block: 16 bytes past a page), so a 64-byte `AccountState` usually
/// straddles two cache lines and half of the 32-byte `Leg`s do: every state touched cost two
/// line loads where one would do. Swift cannot over-align a struct (nor import an over-aligned
/// C one), so the alignment is in the storage.
///
/// Blocks of `hugeBlockBytes` or more are mapped on their own, 2 MiB-aligned and advised for
/// transparent huge pages (`MuleHugeBlock.h`): the detector reads them at random, and with 4 KiB
/// pages a large population's reads miss the TLB as well as the caches. Unmapped when given back,
/// so a grown-out block does not stay resident in the heap. An empty array has no block at all
/// (making or dropping one allocates nothing, as with `[]`).
///
/// Only what the detector needs: indexed access (bounds-checked), append, reserve and the
/// buffer-pointer accessors.
@usableFromInline
struct LineArray<Element: BitwiseCopyable> {
    /// The bytes every element array starts on.
    @usableFromInline static var lineBytes: Int { 64 }

    /// The block the elements live in; it owns the memory, the array value says how many of
    /// its elements are there (the base pointer is kept in the value too, so reading an
    /// element does not go through the block).
    @usableFromInline
    final class Block {
        @usableFromInline let base: UnsafeMutablePointer<Element>
        @usableFromInline let capacity: Int
        /// What was allocated from the heap: a line more than asked for, `base` the first line
        /// boundary in it (nil: the block is mapped for huge pages, `capacity` elements' bytes).
        /// Not an aligned allocation: with one (`aligned_alloc`) the idle-account benchmark's RSS
        /// was 143 B per account against 134 B; allocated like this it measures 134 B, as with
        /// `ContiguousArray` (`state-bytes 1000000 2 0 --idle`).
        let allocation: UnsafeMutableRawPointer?

        /// A block for `capacity` (> 0) elements.
        @usableFromInline
        init(capacity: Int) {
            self.capacity = capacity
            let bytes = capacity * MemoryLayout<Element>.stride
            if bytes >= LineArray.hugeBlockBytes, let block = mule_huge_block_alloc(bytes) {
                base = block.bindMemory(to: Element.self, capacity: capacity)
                allocation = nil
            } else {
                let line = LineArray.lineBytes
                let raw = UnsafeMutableRawPointer.allocate(
                    byteCount: bytes + line, alignment: MemoryLayout<Element>.alignment)
                allocation = raw
                let aligned = (UInt(bitPattern: raw) + UInt(line) - 1) & ~UInt(line - 1)
                base = UnsafeMutableRawPointer(bitPattern: aligned)!.bindMemory(to: Element.self, capacity: capacity)
            }
        }

        deinit {
            if let allocation {
                allocation.deallocate()
            } else {
                mule_huge_block_free(base, capacity * MemoryLayout<Element>.stride)
            }
        }
    }

    /// Blocks of at least this many bytes (one huge page) are mapped for huge pages.
    @usableFromInline static var hugeBlockBytes: Int { 2 << 20 }

    /// nil while the capacity is 0.
    @usableFromInline var block: Block?
    @usableFromInline var base: UnsafeMutablePointer<Element>?
    @usableFromInline var count: Int

    @inlinable init() {
        block = nil
        base = nil
        count = 0
    }

    @inlinable init(repeating value: Element, count: Int) {
        self.init(unsafeUninitializedCount: count)
        base?.initialize(repeating: value, count: count)
    }

    /// `count` elements whose values are whatever the memory held: for a buffer every element
    /// of which is written before it is read.
    @inlinable init(unsafeUninitializedCount count: Int) {
        block = count > 0 ? Block(capacity: count) : nil
        base = block?.base
        self.count = count
    }

    @inlinable var capacity: Int { block?.capacity ?? 0 }

    @inlinable
    subscript(i: Int) -> Element {
        @inline(__always) get {
            precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "LineArray index out of range")
            return base.unsafelyUnwrapped[i]
        }
        @inline(__always) _modify {
            precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "LineArray index out of range")
            makeUnique(minimumCapacity: 0)
            yield &base.unsafelyUnwrapped[i]
        }
    }

    /// Room for `n` elements without moving (rounded up to a whole number of lines).
    @inlinable
    mutating func reserveCapacity(_ n: Int) {
        makeUnique(minimumCapacity: n, exactly: true)
    }

    @inlinable
    mutating func append(_ value: Element) {
        makeUnique(minimumCapacity: count + 1)
        (base.unsafelyUnwrapped + count).initialize(to: value)
        count += 1
    }

    /// Appends `count` copies of `value`.
    @inlinable
    mutating func append(repeating value: Element, count added: Int) {
        guard added > 0 else { return }
        makeUnique(minimumCapacity: count + added)
        (base.unsafelyUnwrapped + count).initialize(repeating: value, count: added)
        count += added
    }

    @inlinable
    func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Element>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    @inlinable
    mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Element>) throws(E) -> R
    ) throws(E) -> R {
        makeUnique(minimumCapacity: 0)
        return try body(UnsafeMutableBufferPointer(start: base, count: count))
    }

    /// Makes the block this value's own, with room for at least `minimumCapacity` elements:
    /// copied when shared, moved into a larger block (doubling, unless `exactly`) when too small.
    /// An empty array without a block stays so.
    @inlinable @inline(__always)
    mutating func makeUnique(minimumCapacity: Int, exactly: Bool = false) {
        if minimumCapacity <= capacity && (block == nil || isKnownUniquelyReferenced(&block)) { return }
        reallocate(minimumCapacity: minimumCapacity, exactly: exactly)
    }

    @usableFromInline @inline(never)
    mutating func reallocate(minimumCapacity: Int, exactly: Bool) {
        var capacity = Swift.max(minimumCapacity, self.capacity)
        if !exactly && minimumCapacity > self.capacity { capacity = Swift.max(capacity, self.capacity * 2, 16) }
        let perLine = Swift.max(1, LineArray.lineBytes / MemoryLayout<Element>.stride)
        capacity = (capacity + perLine - 1) / perLine * perLine
        let fresh = Block(capacity: capacity)
        if count > 0 { fresh.base.initialize(from: base!, count: count) }
        block = fresh
        base = fresh.base
    }
}

extension LineArray: RandomAccessCollection {
    @inlinable var startIndex: Int { 0 }
    @inlinable var endIndex: Int { count }
}

// Copy on write like `Array`: a value shared between threads is only read; the first write to
// a shared block copies it.
extension LineArray: @unchecked Sendable where Element: Sendable {}
