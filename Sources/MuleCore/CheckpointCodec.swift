/// Why a checkpoint could not be read. Every case says what is wrong so the engine can log it,
/// count it and fall back to an older checkpoint (or to the group's committed offsets).
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not start with the checkpoint magic (not a checkpoint, or overwritten).
    case badMagic
    /// Written by a format this build does not read.
    case unsupportedVersion(UInt32)
    /// Shorter than its header says (a write cut off).
    case truncated(expected: Int, got: Int)
    /// The payload's checksum does not match (bit rot, a torn write).
    case checksumMismatch(stored: UInt32, computed: UInt32)
    /// Checksum fine but the content makes no sense (a bug, or a file from a different build).
    case corrupt(String)

    public var description: String {
        switch self {
        case .badMagic: "not a checkpoint file (bad magic)"
        case .unsupportedVersion(let v): "unsupported checkpoint format version \(v) (this build reads \(Checkpoint.formatVersion))"
        case .truncated(let e, let g): "truncated: \(g) of \(e) bytes"
        case .checksumMismatch(let s, let c): "checksum mismatch: stored \(hex32(s)), computed \(hex32(c))"
        case .corrupt(let why): "corrupt content: \(why)"
        }
    }

    /// Short machine-readable reason for counters and log fields.
    public var code: String {
        switch self {
        case .badMagic: "bad_magic"
        case .unsupportedVersion: "unsupported_version"
        case .truncated: "truncated"
        case .checksumMismatch: "checksum_mismatch"
        case .corrupt: "corrupt"
        }
    }
}

func hex32(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 8 - s.count) + s
}

/// Appends little-endian values to a byte array (checkpoint payloads). Pure; no Foundation.
public struct CheckpointWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(reserving n: Int = 0) { bytes.reserveCapacity(n) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    public mutating func f64(_ v: Double) { u64(v.bitPattern) }
    public mutating func count(_ n: Int) { u64(UInt64(n)) }

    public mutating func string(_ s: String) {
        count(s.utf8.count)
        bytes.append(contentsOf: s.utf8)
    }

    public mutating func raw<C: Collection>(_ c: C) where C.Element == UInt8 {
        count(c.count)
        bytes.append(contentsOf: c)
    }

    /// A section tag: a reader that finds another tag knows the layout is not what it expects.
    public mutating func tag(_ t: StaticString) {
        precondition(t.utf8CodeUnitCount == 4)
        t.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }
}

/// Reads what `CheckpointWriter` wrote; every read checks bounds and throws `corrupt` rather
/// than trapping, so a damaged file is a reported value, never a crash.
public struct CheckpointReader: Sendable {
    let bytes: [UInt8]
    public private(set) var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { position == bytes.count }

    mutating func take(_ n: Int, _ what: String) throws(CheckpointError) -> Int {
        guard n >= 0, bytes.count - position >= n else {
            throw .corrupt("\(what) runs past the end (needs \(n) bytes at \(position) of \(bytes.count))")
        }
        defer { position += n }
        return position
    }

    public mutating func u8(_ what: String = "byte") throws(CheckpointError) -> UInt8 { bytes[try take(1, what)] }

    public mutating func bool(_ what: String = "flag") throws(CheckpointError) -> Bool {
        let v = try u8(what)
        guard v <= 1 else { throw .corrupt("\(what) is \(v), not 0 or 1") }
        return v == 1
    }

    public mutating func u32(_ what: String = "u32") throws(CheckpointError) -> UInt32 {
        let at = try take(4, what)
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[at + k]) << (8 * k) }
        return v
    }

    public mutating func i32(_ what: String = "i32") throws(CheckpointError) -> Int32 { Int32(bitPattern: try u32(what)) }

    public mutating func u64(_ what: String = "u64") throws(CheckpointError) -> UInt64 {
        let at = try take(8, what)
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[at + k]) << (8 * k) }
        return v
    }

    public mutating func i64(_ what: String = "i64") throws(CheckpointError) -> Int64 { Int64(bitPattern: try u64(what)) }
    public mutating func f64(_ what: String = "f64") throws(CheckpointError) -> Double { Double(bitPattern: try u64(what)) }

    /// A count of items each at least `minBytes` long: bounded by what is left, so a corrupt
    /// count cannot ask for a huge allocation.
    public mutating func count(_ what: String, minBytes: Int = 1) throws(CheckpointError) -> Int {
        let n = try u64(what)
        guard n <= UInt64(bytes.count - position) / UInt64(max(1, minBytes)) else {
            throw .corrupt("\(what) count \(n) exceeds what is left of the file")
        }
        return Int(n)
    }

    public mutating func string(_ what: String = "string") throws(CheckpointError) -> String {
        let n = try count(what)
        let at = try take(n, what)
        return String(decoding: bytes[at..<at + n], as: UTF8.self)
    }

    public mutating func raw(_ what: String = "bytes") throws(CheckpointError) -> ArraySlice<UInt8> {
        let n = try count(what)
        let at = try take(n, what)
        return bytes[at..<at + n]
    }

    public mutating func tag(_ t: StaticString) throws(CheckpointError) {
        let at = try take(4, "section \(t)")
        let ok = t.withUTF8Buffer { $0.elementsEqual(bytes[at..<at + 4]) }
        guard ok else { throw .corrupt("expected section \(t) at byte \(at)") }
    }

    /// Consumes section tag `t` if it comes next; false (and nothing consumed) otherwise.
    public mutating func takeTag(_ t: StaticString) -> Bool {
        guard bytes.count - position >= 4 else { return false }
        let ok = t.withUTF8Buffer { $0.elementsEqual(bytes[position..<position + 4]) }
        if ok { position += 4 }
        return ok
    }

    /// Reads a value the enum must know.
    public mutating func enumValue<E: RawRepresentable>(_ type: E.Type, _ what: String) throws(CheckpointError) -> E
    where E.RawValue == UInt8 {
        let raw = try u8(what)
        guard let v = E(rawValue: raw) else { throw .corrupt("\(what) has unknown value \(raw)") }
        return v
    }
}

/// CRC-32C (Castagnoli), the checksum of checkpoint payloads: detects torn writes and bit rot.
public enum CRC32C {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }
}
