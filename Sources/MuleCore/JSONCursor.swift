/// A forward-only reader over one message's bytes that validates JSON syntax (RFC 8259) as it
/// goes. It never allocates and never builds a `String`: strings come back as byte ranges.
/// Used by `EventDecoder`; all offsets are byte offsets into the message.
struct JSONCursor {
    let base: UnsafeRawPointer
    let end: Int
    var i: Int = 0

    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.end = count
    }

    /// A scanned string: `start..<end` are the raw bytes between the quotes.
    struct StringRange {
        var start: Int
        var end: Int
        /// The raw bytes contain at least one backslash escape.
        var escaped: Bool
        var count: Int { end - start }
    }

    /// A scanned number and the facts callers need to judge it.
    struct NumberRange {
        var start: Int
        var end: Int
        var negative: Bool
        var fractionDigits: Int
        var exponent: Bool
    }

    @inline(__always) func at(_ k: Int) -> UInt8 { base.load(fromByteOffset: k, as: UInt8.self) }

    @inline(__always) var endOfInput: DecodeError {
        .malformedJSON(offset: end, detail: "unexpected end of input")
    }

    @inline(__always) mutating func skipWhitespace() {
        while i < end {
            let c = at(i)
            // JSON whitespace: space, \n, \r, \t.
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i &+= 1
        }
    }

    /// The byte at the cursor; truncated input is malformed.
    @inline(__always) func peek() throws(DecodeError) -> UInt8 {
        guard i < end else { throw endOfInput }
        return at(i)
    }

    @inline(__always) mutating func expect(_ byte: UInt8, _ detail: StaticString) throws(DecodeError) {
        guard i < end else { throw endOfInput }
        guard at(i) == byte else { throw .malformedJSON(offset: i, detail: detail) }
        i &+= 1
    }

    // MARK: Strings

    /// A bit set in byte k (k = 0 is the first byte in memory) for bytes that need a closer
    /// look inside a string: `"`, `\`, a control character or a non-ASCII byte; 0 means all 8 are
    /// plain ASCII. The subtract-and-mask tricks can flag false positives only *after* a true hit,
    /// so the lowest set bit is exact and `trailingZeroBitCount / 8` finds the first such byte.
    @inline(__always) static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let control = (w &- ones &* 0x20) & ~w
        let q = w ^ (ones &* 0x22)
        let quote = (q &- ones) & ~q
        let b = w ^ (ones &* 0x5C)
        let backslash = (b &- ones) & ~b
        return (control | quote | backslash | w) & high
    }

    /// Scans a string whose opening quote is at the cursor and leaves the cursor after the
    /// closing quote. Validates escapes, rejects unescaped control characters, and checks that
    /// every non-ASCII byte is part of well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF).
    @inline(__always) mutating func scanString() throws(DecodeError) -> StringRange {
        i &+= 1
        let start = i
        var escaped = false
        while true {
            if i &+ 8 <= end {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let special = JSONCursor.specialBytes(word)
                if special == 0 {
                    i &+= 8
                    continue
                }
                i &+= special.trailingZeroBitCount &>> 3
            } else if i >= end {
                throw .malformedJSON(offset: end, detail: "unterminated string")
            }
            let c = at(i)
            if c == 0x22 {
                let e = i
                i &+= 1
                return StringRange(start: start, end: e, escaped: escaped)
            } else if c == 0x5C {
                escaped = true
                try scanEscape()
            } else if c < 0x20 {
                throw .malformedJSON(offset: i, detail: "unescaped control character in string")
            } else if c >= 0x80 {
                try scanUTF8Sequence(lead: c)
            } else {
                i &+= 1
            }
        }
    }

    /// The first `count` bytes in memory of `w` (0...8), the rest zeroed.
    @inline(__always) static func lowBytes(_ w: UInt64, _ count: Int) -> UInt64 {
        count == 0 ? 0 : w & (UInt64.max &>> UInt64(64 &- 8 &* count))
    }

    /// Fast path for short string values: a string of at most 8 plain bytes (no escape, control
    /// or non-ASCII byte) whose opening quote is at the cursor, with 9 bytes readable after the
    /// quote. Moves the cursor past the closing quote and returns the byte count and the bytes as
    /// one little-endian word (as `packLittleEndian` packs them); nil, cursor unmoved, for
    /// anything else, which `scanString` then reads (FastPathTests.shortStringFastPaths).
    @inline(__always) mutating func shortPlainString() -> (count: Int, word: UInt64)? {
        let s = i &+ 1
        guard s &+ 9 <= end, at(i) == 0x22 else { return nil }
        let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s, as: UInt64.self))
        let special = JSONCursor.specialBytes(w)
        guard special != 0 else {
            guard at(s &+ 8) == 0x22 else { return nil }
            i = s &+ 9
            return (8, w)
        }
        let k = special.trailingZeroBitCount &>> 3
        guard at(s &+ k) == 0x22 else { return nil }
        i = s &+ k &+ 1
        return (k, JSONCursor.lowBytes(w, k))
    }

    /// The offset of the closing quote of a string of at most 15 plain bytes (no escape, control
    /// or non-ASCII byte) whose first byte is at `s`, just after the opening quote, with 16 bytes
    /// readable from `s`; -1 for anything else. Two word loads and no loop: the first special
    /// byte, if it is a quote, ends the string.
    @inline(__always) static func shortPlainStringEnd(_ base: UnsafeRawPointer, from s: Int, end: Int) -> Int {
        guard s &+ 16 <= end else { return -1 }
        let special0 = specialBytes(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s, as: UInt64.self)))
        let special1 = specialBytes(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s &+ 8, as: UInt64.self)))
        let q: Int
        if special0 != 0 {
            q = s &+ (special0.trailingZeroBitCount &>> 3)
        } else if special1 != 0 {
            q = s &+ 8 &+ (special1.trailingZeroBitCount &>> 3)
        } else {
            return -1
        }
        return base.load(fromByteOffset: q, as: UInt8.self) == 0x22 ? q : -1
    }

    /// Fast path for string values such as ids: the string whose opening quote is at the cursor,
    /// if `shortPlainStringEnd` finds its end. Moves the cursor past the closing quote; nil,
    /// cursor unmoved, for anything else, which `scanString` then reads to the same range and
    /// cursor (FastPathTests.shortStringFastPaths).
    @inline(__always) mutating func shortPlainRange() -> StringRange? {
        let s = i &+ 1
        let q = JSONCursor.shortPlainStringEnd(base, from: s, end: end)
        guard q >= 0 else { return nil }
        i = q &+ 1
        return StringRange(start: s, end: q, escaped: false)
    }

    /// One multi-byte UTF-8 sequence at the cursor (Unicode 15, table 3-7).
    mutating func scanUTF8Sequence(lead: UInt8) throws(DecodeError) {
        let s = i
        var need = 0
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: need = 1
        case 0xE0: need = 2; lo = 0xA0  // overlong below U+0800
        case 0xE1...0xEC, 0xEE, 0xEF: need = 2
        case 0xED: need = 2; hi = 0x9F  // U+D800...U+DFFF are surrogates
        case 0xF0: need = 3; lo = 0x90  // overlong below U+10000
        case 0xF1...0xF3: need = 3
        case 0xF4: need = 3; hi = 0x8F  // above U+10FFFF
        default: throw .invalidUTF8(offset: s)  // stray continuation, C0/C1 overlongs, F5...FF
        }
        for k in 1...need {
            guard s + k < end else { throw .malformedJSON(offset: end, detail: "unterminated string") }
            let b = at(s + k)
            let ok = k == 1 ? (b >= lo && b <= hi) : (b & 0xC0 == 0x80)
            guard ok else { throw .invalidUTF8(offset: s) }
        }
        i = s + need + 1
    }

    /// One escape sequence at the cursor (the backslash). A `\u` high surrogate must be followed
    /// by a `\u` low surrogate; a lone surrogate is not a character and is rejected.
    mutating func scanEscape() throws(DecodeError) {
        let s = i
        guard s + 1 < end else { throw .malformedJSON(offset: end, detail: "unterminated string") }
        switch at(s + 1) {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:  // " \ / b f n r t
            i = s + 2
        case 0x75:  // u
            let unit = try hex4(at: s + 2)
            i = s + 6
            if unit & 0xFC00 == 0xD800 {
                guard i + 1 < end else { throw .malformedJSON(offset: end, detail: "unterminated string") }
                guard at(i) == 0x5C, at(i + 1) == 0x75 else {
                    throw .malformedJSON(offset: s, detail: "unpaired surrogate in \\u escape")
                }
                let low = try hex4(at: i + 2)
                guard low & 0xFC00 == 0xDC00 else {
                    throw .malformedJSON(offset: s, detail: "unpaired surrogate in \\u escape")
                }
                i += 6
            } else if unit & 0xFC00 == 0xDC00 {
                throw .malformedJSON(offset: s, detail: "unpaired surrogate in \\u escape")
            }
        default:
            throw .malformedJSON(offset: s, detail: "invalid escape sequence")
        }
    }

    func hex4(at k: Int) throws(DecodeError) -> UInt32 {
        var v: UInt32 = 0
        for j in k..<(k + 4) {
            guard j < end else { throw .malformedJSON(offset: end, detail: "unterminated string") }
            let c = at(j)
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: throw .malformedJSON(offset: j, detail: "invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    // MARK: Numbers and literals

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    /// Scans `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` at the cursor.
    @inline(__always) mutating func scanNumber() throws(DecodeError) -> NumberRange {
        let start = i
        var negative = false
        if at(i) == 0x2D {
            negative = true
            i &+= 1
        }
        guard i < end else { throw endOfInput }
        let first = at(i)
        if first == 0x30 {
            i &+= 1
        } else if JSONCursor.isDigit(first) {
            i &+= 1
            while i < end, JSONCursor.isDigit(at(i)) { i &+= 1 }
        } else {
            throw .malformedJSON(offset: i, detail: "invalid number")
        }
        var fractionDigits = 0
        if i < end, at(i) == 0x2E {
            i &+= 1
            while i < end, JSONCursor.isDigit(at(i)) {
                i &+= 1
                fractionDigits &+= 1
            }
            if fractionDigits == 0 { throw i == end ? endOfInput : .malformedJSON(offset: i, detail: "invalid number") }
        }
        var exponent = false
        if i < end, at(i) | 0x20 == 0x65 {  // e or E
            exponent = true
            i &+= 1
            if i < end, at(i) == 0x2B || at(i) == 0x2D { i &+= 1 }
            var digits = 0
            while i < end, JSONCursor.isDigit(at(i)) {
                i &+= 1
                digits &+= 1
            }
            if digits == 0 { throw i == end ? endOfInput : .malformedJSON(offset: i, detail: "invalid number") }
        }
        // A number ends at a delimiter, so "01" or "0x10" is malformed before anyone judges the 0.
        if i < end {
            switch at(i) {
            case 0x2C, 0x7D, 0x5D, 0x20, 0x0A, 0x0D, 0x09: break
            default: throw .malformedJSON(offset: i, detail: "invalid number")
            }
        }
        return NumberRange(start: start, end: i, negative: negative, fractionDigits: fractionDigits, exponent: exponent)
    }

    /// Per byte of `w`, the high bit set where the byte is not an ASCII digit (exact for every
    /// byte up to and including the first non-digit; bytes after it may be flagged wrongly).
    @inline(__always) static func nonDigitBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        // Zero bytes where the high nibble is 3, and where the low nibble is 0...9 (adding 6
        // carries out of a nibble of 10...15; a carry into the next byte only follows a byte
        // that is not a digit anyway).
        let t = ((w & (ones &* 0xF0)) ^ (ones &* 0x30)) | (((w &+ ones &* 0x06) & (ones &* 0xF0)) ^ (ones &* 0x30))
        return (((t & (ones &* 0x7F)) &+ (ones &* 0x7F)) | t) & (ones &* 0x80)
    }

    /// The value of the 8 ASCII digits in `w`, the first in memory the most significant.
    @inline(__always) static func eightDigits(_ w: UInt64) -> UInt64 {
        var v = w &- 0x3030_3030_3030_3030
        v = (v &* 10 &+ (v &>> 8)) & 0x00FF_00FF_00FF_00FF
        v = (v &* 100 &+ (v &>> 16)) & 0x0000_FFFF_0000_FFFF
        return (v &* 10_000 &+ (v &>> 32)) & 0xFFFF_FFFF
    }

    /// Fast path for the common number: a plain integer of 8–15 digits at `s` (first digit
    /// 1–9; no sign, fraction or exponent) followed by a delimiter, with 16 bytes readable
    /// from `s`. Returns its value and the offset after it, or nil for anything else, which
    /// `scanNumber` then reads; where this answers, `scanNumber` would have found the same
    /// number (FastPathTests.plainIntegerFastPath).
    @inline(__always) static func plainInteger(_ base: UnsafeRawPointer, from s: Int, end: Int) -> (Int64, Int)? {
        guard s &+ 16 <= end else { return nil }
        let w0 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s, as: UInt64.self))
        let w1 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s &+ 8, as: UInt64.self))
        guard nonDigitBytes(w0) == 0, w0 & 0xFF != 0x30 else { return nil }
        let stop1 = nonDigitBytes(w1)
        guard stop1 != 0 else { return nil }
        let k = stop1.trailingZeroBitCount &>> 3  // digits in w1: 0...7
        switch base.load(fromByteOffset: s &+ 8 &+ k, as: UInt8.self) {
        case 0x2C, 0x7D, 0x5D, 0x20, 0x0A, 0x0D, 0x09: break
        default: return nil
        }
        let high = eightDigits(w0)
        guard k > 0 else { return (Int64(high), s &+ 8) }
        // The k digits moved to the top of a word whose lower bytes are '0's.
        let shift = UInt64(64 &- 8 &* k)
        let low = eightDigits((w1 &<< shift) | (0x3030_3030_3030_3030 &>> UInt64(8 &* k)))
        let scale: UInt64  // 10^k as a table, not a loop
        switch k {
        case 1: scale = 10
        case 2: scale = 100
        case 3: scale = 1_000
        case 4: scale = 10_000
        case 5: scale = 100_000
        case 6: scale = 1_000_000
        default: scale = 10_000_000
        }
        return (Int64(high &* scale &+ low), s &+ 8 &+ k)
    }

    /// `true`, `false` or `null` at the cursor.
    mutating func scanLiteral() throws(DecodeError) {
        let word: StaticString
        switch at(i) {
        case 0x74: word = "true"
        case 0x66: word = "false"
        default: word = "null"
        }
        try expectWord(word)
    }

    mutating func expectWord(_ word: StaticString) throws(DecodeError) {
        let p = word.utf8Start
        for k in 0..<word.utf8CodeUnitCount {
            guard i < end else { throw endOfInput }
            guard at(i) == p[k] else { throw .malformedJSON(offset: i, detail: "invalid literal") }
            i &+= 1
        }
    }

    // MARK: Skipping values nobody asked for

    /// Skips any JSON value at the cursor, validating it. `depth` is the nesting level of the
    /// container holding the value (the event object is 1); containers deeper than `maxDepth`
    /// fail with `.tooDeep`.
    mutating func skipValue(depth: Int, maxDepth: Int) throws(DecodeError) {
        switch try peek() {
        case 0x22: _ = try scanString()
        case 0x2D, 0x30...0x39: _ = try scanNumber()
        case 0x74, 0x66, 0x6E: try scanLiteral()
        case 0x7B, 0x5B: try skipContainer(depth: depth, maxDepth: maxDepth)
        default: throw .malformedJSON(offset: i, detail: "expected a value")
        }
    }

    /// Skips a nested object or array without recursion: a bit per open level records whether
    /// it is an object, so the closing bracket can be checked. Capped at `ContainerStack.capacity`.
    mutating func skipContainer(depth baseDepth: Int, maxDepth: Int) throws(DecodeError) {
        var stack = ContainerStack()
        var expectingValue = true
        while true {
            if expectingValue {
                skipWhitespace()
                let c = try peek()
                if c == 0x7B || c == 0x5B {
                    let isObject = c == 0x7B
                    guard baseDepth + stack.depth + 1 <= maxDepth else { throw .tooDeep(limit: maxDepth) }
                    stack.push(isObject: isObject)
                    i &+= 1
                    skipWhitespace()
                    if try peek() == (isObject ? 0x7D : 0x5D) {
                        i &+= 1
                        stack.pop()
                        if stack.depth == 0 { return }
                        expectingValue = false
                    } else if isObject {
                        try skipMemberName()
                    }
                } else {
                    try skipValue(depth: baseDepth + stack.depth, maxDepth: maxDepth)
                    expectingValue = false
                }
            } else {
                skipWhitespace()
                let c = try peek()
                let inObject = stack.topIsObject
                if c == 0x2C {  // ,
                    i &+= 1
                    if inObject {
                        skipWhitespace()
                        try skipMemberName()
                    }
                    expectingValue = true
                } else if c == (inObject ? 0x7D : 0x5D) {
                    i &+= 1
                    stack.pop()
                    if stack.depth == 0 { return }
                } else {
                    throw .malformedJSON(offset: i, detail: inObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
            }
        }
    }

    /// `"name"` then `:` inside a skipped object.
    mutating func skipMemberName() throws(DecodeError) {
        guard try peek() == 0x22 else { throw .malformedJSON(offset: i, detail: "expected field name") }
        _ = try scanString()
        skipWhitespace()
        try expect(0x3A, "expected ':'")
    }
}

/// Which open containers are objects, one bit per level, in fixed inline storage (no heap).
struct ContainerStack {
    /// Deepest nesting this stack can track; `EventDecoder` caps `maxDepth` to fit.
    static let capacity = 256
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    var depth = 0

    init() {}

    @inline(__always) mutating func push(isObject: Bool) {
        let bit: UInt64 = 1 << UInt64(depth & 63)
        switch depth >> 6 {
        case 0: words.0 = isObject ? words.0 | bit : words.0 & ~bit
        case 1: words.1 = isObject ? words.1 | bit : words.1 & ~bit
        case 2: words.2 = isObject ? words.2 | bit : words.2 & ~bit
        default: words.3 = isObject ? words.3 | bit : words.3 & ~bit
        }
        depth &+= 1
    }

    @inline(__always) mutating func pop() { depth &-= 1 }

    @inline(__always) var topIsObject: Bool {
        let d = depth - 1
        let w: UInt64
        switch d >> 6 {
        case 0: w = words.0
        case 1: w = words.1
        case 2: w = words.2
        default: w = words.3
        }
        return w >> UInt64(d & 63) & 1 == 1
    }
}
