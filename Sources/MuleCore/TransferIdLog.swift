/// A bounded ring of transfer id bytes, so alerts can name their evidence without keeping a
/// `String` per leg. Each append returns a handle (an absolute byte position); once the ring has
/// wrapped past a handle, that id is gone and `name(_:)` returns nil (the alert then reports the
/// evidence count but fewer ids). Capacity is configurable (`DetectorConfig.transferIdLogBytes`).
public struct TransferIdLog: Sendable {
    @usableFromInline var ring: [UInt8]
    @usableFromInline var written: UInt64 = 0
    @usableFromInline var mask: UInt64
    /// Size the ring grows to (a power of two). It starts small and doubles before it first
    /// wraps, so a detector costs no 64 MiB zero-fill (time and RSS) until it has seen that much.
    @usableFromInline let capacity: Int

    public init(capacityBytes: Int) {
        var cap = 1024
        while cap < capacityBytes { cap <<= 1 }
        capacity = cap
        let initial = min(cap, 1 << 20)
        ring = Array(repeating: 0, count: initial)
        mask = UInt64(initial - 1)
    }

    /// Appends an id (at most 255 bytes; ids are at most 128 by contract).
    @inlinable
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let handle = written
        let n = min(bytes.count, 255)
        // Before the first wrap every handle is its own position, so doubling keeps them valid.
        if written &+ UInt64(n + 1) > UInt64(ring.count) && ring.count < capacity { grow() }
        ring.withUnsafeMutableBytes { r in
            r[Int(written & mask)] = UInt8(n)
            for i in 0..<n { r[Int((written &+ 1 &+ UInt64(i)) & mask)] = bytes[i] }
        }
        written &+= UInt64(n + 1)
        return handle
    }

    @usableFromInline
    mutating func grow() {
        ring.append(contentsOf: repeatElement(0, count: ring.count))
        mask = UInt64(ring.count - 1)
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

    public var memoryBytes: Int { ring.capacity }
}
