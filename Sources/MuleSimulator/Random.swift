/// SplitMix64: turns a seed (plus a stream number) into well-spread 64-bit state for
/// `Xoshiro256StarStar`. Used only for seeding and for one-shot hashing.
struct SplitMix64: Sendable {
    var state: UInt64

    init(state: UInt64) { self.state = state }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finaliser: a bijective avalanche of one word.
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256**: the simulator's only source of randomness. Independent streams are derived
/// from (seed, stream, index) so one part of the plan can change without shifting the others,
/// and so a scenario can be re-expanded identically (the planner dry-runs gang shifts to count them).
struct Xoshiro256StarStar: Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64, stream: UInt64, index: UInt64 = 0) {
        var sm = SplitMix64(state: seed ^ SplitMix64.mix(stream &* 0xD1B5_4A32_D192_ED03 &+ index))
        s0 = sm.next()
        s1 = sm.next()
        s2 = sm.next()
        s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inline(__always)
    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    /// Uniform integer in `range` (multiply-high mapping; the bias is far below what matters here).
    @inline(__always)
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int(truncatingIfNeeded: next()) }
        return range.lowerBound + Int(next().multipliedFullWidth(by: span).high)
    }

    @inline(__always)
    mutating func int64(_ range: ClosedRange<Int64>) -> Int64 {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int64(truncatingIfNeeded: next()) }
        return range.lowerBound + Int64(next().multipliedFullWidth(by: span).high)
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    @inline(__always)
    mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// Exponential with the given mean. Uses `portableLog`, not libm, so every platform draws
    /// the same values.
    mutating func exponential(mean: Double) -> Double { -mean * portableLog(1.0 - unit()) }
}

/// Natural logarithm from IEEE basic operations only (exponent split + atanh series), so the
/// result is bit-identical on every platform; libm's `log` is not guaranteed to be.
func portableLog(_ x: Double) -> Double {
    precondition(x > 0)
    var e = Double(x.exponent)
    var m = x.significand  // [1, 2)
    if m > 1.4142135623730951 {
        m *= 0.5
        e += 1
    }
    let s = (m - 1) / (m + 1)  // |s| < 0.172
    let s2 = s * s
    var term = s
    var sum = 0.0
    var k = 1.0
    for _ in 0..<12 {
        sum += term / k
        term *= s2
        k += 2
    }
    return e * 0.6931471805599453 + 2 * sum
}
