/// A bounded ring of transfer id bytes, so alerts can name their evidence without keeping a
/// `String` per leg. Each append returns a handle (an absolute byte position); once the ring has
/// wrapped past a handle, that id is gone and `name(_:)` returns nil (the alert then reports the
/// evidence count but fewer ids). Capacity is configurable (`DetectorConfig.transferIdLogBytes`).
public struct TransferIdLog: Sendable {
    @usableFromInline var ring: [UInt8]
    @usableFromInline var written: UInt64 = 0
    @usableFromInline var mask: UInt64
    /// Size of the ring (a power of two), allocated whole up front: growing it lazily by doubling
    /// left ~24 MiB of resident memory behind that the state does not account for, and memory then
    /// kept growing after `--max-accounts` was reached (`scripts/memory-check`).
    @usableFromInline let capacity: Int

    public init(capacityBytes: Int) {
        var cap = 1024
        while cap < capacityBytes { cap <<= 1 }
        capacity = cap
        // Allocated but not zeroed: a byte is read only after it was written (handles are checked
        // against `written`, and at most `capacity` bytes behind it), and zeroing the 64 MiB
        // default touched every page of it before the first event (16 k page faults and a
        // 64 MiB memset per detector; the pages now become resident as ids are written).
        ring = Array(unsafeUninitializedCapacity: cap) { _, initialized in initialized = cap }
        mask = UInt64(cap - 1)
    }

    /// Appends an id (at most 255 bytes; ids are at most 128 by contract).
    @inlinable
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let handle = written
        let n = min(bytes.count, 255)
        let at = Int(written & mask)
        ring.withUnsafeMutableBytes { r in
            r[at] = UInt8(n)
            // At most two copies: up to the end of the ring, then from its start.
            let from = (at &+ 1) & Int(mask)
            let first = min(n, r.count &- from)
            if first > 0 { (r.baseAddress! + from).copyMemory(from: bytes.baseAddress!, byteCount: first) }
            if n > first { r.baseAddress!.copyMemory(from: bytes.baseAddress! + first, byteCount: n &- first) }
        }
        written &+= UInt64(n + 1)
        return handle
    }

    /// The id stored at `handle`, or nil once it has been overwritten.
    public func name(_ handle: UInt64) -> String? {
        let cap = UInt64(ring.count)
        guard handle < written, written - handle <= cap else { return nil }
        let n = Int(ring[Int(handle & mask)])
        guard written - handle >= UInt64(n + 1) else { return nil }
        var bytes = [UInt8](repeating: 0, count: n)
        for i in 0..<n { bytes[i] = ring[Int((handle &+ 1 &+ UInt64(i)) & mask)] }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Bytes of the ring in use: its pages become resident as ids are first written, up to
    /// `capacity` once the ring has wrapped.
    public var memoryBytes: Int { Int(min(written, UInt64(capacity))) }
}
