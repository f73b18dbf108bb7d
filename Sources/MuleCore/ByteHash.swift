/// A fast, seeded 64-bit hash of a byte string (wyhash-style multiply-mix over 8-byte words).
/// Used to intern account ids, to detect duplicate transfer ids, and to derive alert ids.
/// Not cryptographic; stable across runs and platforms (alert ids depend on it).
public enum ByteHash {
    public static let accountSeed: UInt64 = 0x243F_6A88_85A3_08D3
    public static let transferSeed: UInt64 = 0x1319_8A2E_0370_7344
    public static let alertSeedA: UInt64 = 0xA409_3822_299F_31D0
    public static let alertSeedB: UInt64 = 0x082E_FA98_EC4E_6C89

    @inlinable @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let n = bytes.count
        var h = seed ^ (UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15)
        var i = 0
        while i + 8 <= n {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = mix(h ^ w, 0xE703_7ED1_A0B4_28DB)
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            #if _endian(little)
            if n >= 8 {
                // The last 8 bytes in one load, shifted so the 1–7 remaining ones sit low:
                // the same word the byte loop builds.
                w = bytes.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) >> UInt64((8 - (n - i)) * 8)
                i = n
            }
            #endif
            var shift: UInt64 = 0
            while i < n {
                w |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            h = mix(h ^ w, 0x8EBC_6AF0_9C88_C6E3)
        }
        return mix(h, 0x5899_65CC_7537_4CC3) ^ h
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }
}
