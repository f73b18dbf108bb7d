/// Limits enforced while decoding one event; part of the engine configuration, fixed at start-up.
public struct DecoderLimits: Sendable, Equatable {
    /// Largest message accepted, in bytes; larger ones fail with `.oversized` before any parsing.
    /// Capped at `Int32.max` (spans are 32-bit).
    public var maxEventBytes: Int
    /// Longest `id`, `payer`, `payee` and `qr`, in bytes.
    public var maxStringBytes: Int
    /// Deepest nesting allowed, counting the event object itself as level 1 (only unknown fields
    /// can nest). Capped at 256.
    public var maxDepth: Int
    /// Most members the event object may have, known and unknown together.
    public var maxFields: Int

    @inlinable
    public init(maxEventBytes: Int = 64 * 1024, maxStringBytes: Int = 128, maxDepth: Int = 32, maxFields: Int = 256) {
        self.maxEventBytes = maxEventBytes
        self.maxStringBytes = maxStringBytes
        self.maxDepth = maxDepth
        self.maxFields = maxFields
    }
}

/// Decodes one CONTRACTS.md §1 payment event straight from the message bytes: one pass, no
/// Foundation, no `String`s, no heap allocation (all state lives in locals and fixed-size structs).
///
/// Input is exactly one JSON object with optional surrounding JSON whitespace. The whole object is
/// validated strictly (RFC 8259 syntax, UTF-8 inside strings, `\u` surrogate pairs), including
/// unknown fields, whose values are skipped.
///
/// Policies decided here:
/// - **Escapes in known string fields are rejected.** `id`, `payer`, `payee`, `qr`, `currency`,
///   `channel`, the kinds and string-form `ts`/`amount` containing a backslash escape fail with
///   `.invalidValue(field, "must not contain escape sequences")`. This keeps every span zero-copy
///   and ids byte-identical across systems. Escapes in unknown fields are fine (validated, ignored).
///   Field *names* are compared after unescaping (`"p\u0061yee"` is `payee`), so an escaped
///   duplicate cannot slip past duplicate detection.
/// - **Leap seconds** in RFC 3339 `ts` are accepted only in the last minute of a UTC day and read as
///   `:59.999` (see `RFC3339`). Integer `ts` must be 0…253402300799999 (year 9999).
/// - `null` for an optional field means absent; for a required field it is `.wrongType`.
///   An empty `qr` string means absent. `channel` maps `qr`, `p2p`, `card`, `bank`, `wallet` and
///   the default's own name `unknown` to their cases; any other string, even empty, is `.other`.
/// - Amounts (number or string) must be plain decimals: no sign, no exponent, ≤ 4 fraction
///   digits, > 0 and ≤ `Money.maxEventAmount`.
///
/// `decode` is deliberately not `@inlinable`: it is a single non-generic call per event, so
/// inlining it into callers buys nothing measurable and would freeze its internals into the ABI.
public struct EventDecoder: Sendable {
    public let limits: DecoderLimits
    let eventLimit: Int
    let depthLimit: Int

    public init(limits: DecoderLimits = .init()) {
        self.limits = limits
        self.eventLimit = min(max(limits.maxEventBytes, 0), Int(Int32.max))
        self.depthLimit = min(max(limits.maxDepth, 1), ContainerStack.capacity)
    }

    /// Decodes `bytes`; spans in the result point into `bytes` and are valid only as long as it is.
    public func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedTransfer {
        let n = bytes.count
        guard n <= eventLimit else { throw .oversized(bytes: n, limit: eventLimit) }
        guard n > 0, let base = bytes.baseAddress else { throw .malformedJSON(offset: 0, detail: "empty input") }
        var cur = JSONCursor(base: base, count: n)

        var seen: UInt16 = 0
        var memberCount = 0
        let maxFields = limits.maxFields  // read once, not from self on every member
        var id = ByteSpan.empty, payer = ByteSpan.empty, payee = ByteSpan.empty, qr = ByteSpan.empty
        var timestamp: Int64 = 0
        var amount = Money.zero
        var currency = CurrencyCode.none
        var channel = Channel.unknown
        var payerKind = AccountKind.unknown, payeeKind = AccountKind.unknown

        cur.skipWhitespace()
        try cur.expect(0x7B, "expected '{' at start of event")
        cur.skipWhitespace()
        if try cur.peek() == 0x7D {
            cur.i &+= 1
        } else {
            while true {
                guard try cur.peek() == 0x22 else { throw .malformedJSON(offset: cur.i, detail: "expected field name") }
                let field: Field?
                let colonRead: Bool
                if let (known, next) = Field.scanKnownMember(base, from: cur.i &+ 1, end: n) {
                    (field, colonRead) = (known, true)
                    cur.i = next
                } else {
                    var other: Field?
                    let next = Field.scanPlainName(base, from: cur.i &+ 1, end: n, field: &other)
                    if next >= 0 { cur.i = next } else { other = try Field.scanNameGeneral(&cur) }
                    (field, colonRead) = (other, false)
                }
                memberCount &+= 1
                guard memberCount <= maxFields else { throw .tooManyFields(limit: maxFields) }
                if !colonRead {
                    cur.skipWhitespace()
                    try cur.expect(0x3A, "expected ':' after field name")
                }
                cur.skipWhitespace()

                if let field {
                    guard seen & field.bit == 0 else { throw .duplicateField(field.name) }
                    seen |= field.bit
                    switch field {
                    case .id: id = try identifier(&cur, .id)
                    case .payer: payer = try identifier(&cur, .payer)
                    case .payee: payee = try identifier(&cur, .payee)
                    case .qr: qr = try identifier(&cur, .qr)
                    case .ts: timestamp = try eventTime(&cur)
                    case .amount: amount = try eventAmount(&cur)
                    case .currency: currency = try currencyCode(&cur)
                    case .channel: channel = try channelValue(&cur)
                    case .payerKind: payerKind = try accountKind(&cur, .payerKind)
                    case .payeeKind: payeeKind = try accountKind(&cur, .payeeKind)
                    }
                } else {
                    try cur.skipValue(depth: 1, maxDepth: depthLimit)
                }

                // `,"` right after the value, as producers write it: straight on to the next name.
                if cur.i &+ 2 <= n, base.loadUnaligned(fromByteOffset: cur.i, as: UInt16.self) == UInt16(littleEndian: 0x222C) {
                    cur.i &+= 1
                    continue
                }
                cur.skipWhitespace()
                let c = try cur.peek()
                cur.i &+= 1
                if c == 0x2C {
                    cur.skipWhitespace()
                } else if c == 0x7D {
                    break
                } else {
                    throw .malformedJSON(offset: cur.i &- 1, detail: "expected ',' or '}'")
                }
            }
        }
        cur.skipWhitespace()
        guard cur.i == n else { throw .malformedJSON(offset: cur.i, detail: "unexpected bytes after the event object") }

        if seen & Field.requiredMask != Field.requiredMask {
            for f in Field.allCases where f.isRequired && seen & f.bit == 0 { throw .missingField(f.name) }
        }
        if sameBytes(base, payer, payee) { throw .invalidValue(field: "payee", detail: "must differ from payer") }

        return DecodedTransfer(
            id: id, timestamp: timestamp, payer: payer, payee: payee, amount: amount, currency: currency,
            channel: channel, qr: qr, payerKind: payerKind, payeeKind: payeeKind)
    }

    // MARK: Field values

    /// A string value with the escape policy applied; nil for `null` when the field is optional.
    @inline(__always)
    func stringValue(_ cur: inout JSONCursor, _ field: Field) throws(DecodeError) -> JSONCursor.StringRange? {
        let c = try cur.peek()
        if c == 0x22 {
            if let r = cur.shortPlainRange() { return r }
            let r = try cur.scanString()
            if r.escaped { throw .invalidValue(field: field.name, detail: "must not contain escape sequences") }
            return r
        }
        if c == 0x6E, !field.isRequired {
            try cur.expectWord("null")
            return nil
        }
        throw try wrongType(&cur, field, expected: "a string")
    }

    /// `.wrongType`, but only once the value is known to be valid JSON: `"amount": .5` is
    /// malformed JSON, not a wrong type. Cold path.
    func wrongType(_ cur: inout JSONCursor, _ field: Field, expected: StaticString) throws(DecodeError) -> DecodeError {
        try cur.skipValue(depth: 1, maxDepth: depthLimit)
        return .wrongType(field: field.name, expected: expected)
    }

    /// `id`, `payer`, `payee`, `qr`: 1…maxStringBytes bytes (empty `qr` = absent).
    @inline(__always)
    func identifier(_ cur: inout JSONCursor, _ field: Field) throws(DecodeError) -> ByteSpan {
        guard let r = try stringValue(&cur, field) else { return .empty }
        if r.count == 0 {
            if field.isRequired { throw .invalidValue(field: field.name, detail: "must not be empty") }
            return .empty
        }
        guard r.count <= limits.maxStringBytes else { throw .tooLong(field: field.name, limit: limits.maxStringBytes) }
        return ByteSpan(start: Int32(truncatingIfNeeded: r.start), count: Int32(truncatingIfNeeded: r.count))
    }

    /// `ts`: the usual epoch-milliseconds integer (`JSONCursor.plainInteger`) inline, everything
    /// else out of line; `anyEventTime` reads the same integer where this answers.
    @inline(__always)
    func eventTime(_ cur: inout JSONCursor) throws(DecodeError) -> Int64 {
        if let (v, next) = JSONCursor.plainInteger(cur.base, from: cur.i, end: cur.end), v <= RFC3339.maxEpochMillis {
            cur.i = next
            return v
        }
        return try anyEventTime(&cur)
    }

    @inline(never)
    func anyEventTime(_ cur: inout JSONCursor) throws(DecodeError) -> Int64 {
        let c = try cur.peek()
        if c == 0x22 {
            let r = try cur.scanString()
            if r.escaped { throw .invalidValue(field: "ts", detail: "must not contain escape sequences") }
            return try RFC3339.epochMillis(cur.base, r.start, r.end)
        }
        if let (v, next) = JSONCursor.plainInteger(cur.base, from: cur.i, end: cur.end) {
            guard v <= RFC3339.maxEpochMillis else { throw .invalidValue(field: "ts", detail: "is after year 9999") }
            cur.i = next
            return v
        }
        guard c == 0x2D || JSONCursor.isDigit(c) else {
            throw try wrongType(&cur, .ts, expected: "integer epoch milliseconds or an RFC 3339 string")
        }
        let num = try cur.scanNumber()
        if num.negative { throw .invalidValue(field: "ts", detail: "must not be negative") }
        if num.fractionDigits > 0 || num.exponent {
            throw .invalidValue(field: "ts", detail: "must be whole epoch milliseconds (no fraction or exponent)")
        }
        // 16+ digits is past year 9999 whatever they are; 15 cannot overflow Int64.
        guard num.end - num.start <= 15 else { throw .invalidValue(field: "ts", detail: "is after year 9999") }
        var v: Int64 = 0
        for k in num.start..<num.end { v = v &* 10 &+ Int64(cur.at(k) &- 0x30) }
        guard v <= RFC3339.maxEpochMillis else { throw .invalidValue(field: "ts", detail: "is after year 9999") }
        return v
    }

    /// `amount`: the usual decimal string (`shortAmount`) inline, everything else out of line;
    /// `anyEventAmount` reads the same amount where this answers. `shortAmount`'s at most 7
    /// whole digits are far below `Money.maxEventAmount`; zero is left to `anyEventAmount`'s error.
    @inline(__always)
    func eventAmount(_ cur: inout JSONCursor) throws(DecodeError) -> Money {
        if cur.i < cur.end, cur.at(cur.i) == 0x22,
           let (money, next) = EventDecoder.shortAmount(cur.base, from: cur.i &+ 1, end: cur.end), money.units > 0 {
            cur.i = next
            return money
        }
        return try anyEventAmount(&cur)
    }

    @inline(never)
    func anyEventAmount(_ cur: inout JSONCursor) throws(DecodeError) -> Money {
        let c = try cur.peek()
        let parsed: Money?
        if c == 0x22 {
            let r = try cur.scanString()
            if r.escaped { throw .invalidValue(field: "amount", detail: "must not contain escape sequences") }
            let text = UnsafeRawBufferPointer(start: cur.base + r.start, count: r.count)
            parsed = Money.parseDecimal(text)
            if parsed == nil { throw .invalidValue(field: "amount", detail: EventDecoder.amountTextProblem(text)) }
        } else if c == 0x2D || JSONCursor.isDigit(c) {
            let num = try cur.scanNumber()
            if num.negative { throw .invalidValue(field: "amount", detail: "must not be negative") }
            if num.exponent { throw .invalidValue(field: "amount", detail: "must not use an exponent") }
            if num.fractionDigits > 4 { throw .invalidValue(field: "amount", detail: "must have at most 4 fraction digits") }
            parsed = Money.parseDecimal(UnsafeRawBufferPointer(start: cur.base + num.start, count: num.end - num.start))
        } else {
            throw try wrongType(&cur, .amount, expected: "a number or a decimal string")
        }
        // nil here can only be Int64 overflow, far beyond the maximum anyway.
        guard let money = parsed, money <= Money.maxEventAmount else {
            throw .invalidValue(field: "amount", detail: "exceeds the maximum event amount of 1000000000000")
        }
        guard money.units > 0 else { throw .invalidValue(field: "amount", detail: "must be greater than zero") }
        return money
    }

    /// Fast path for the usual amount string: 1–7 whole digits, then optionally '.' and 1–4
    /// fraction digits, then the closing quote, starting at `s` (just after the opening quote)
    /// with 16 bytes readable from `s`. Digits and '.' need no string validation, so the quote
    /// is found by the digit scans themselves, and the digits are read eight at a time
    /// (`JSONCursor.eightDigits`). Returns the amount and the offset after the closing quote,
    /// or nil for anything else, which `anyEventAmount` then reads with `scanString` and
    /// `Money.parseDecimal`; where this answers those give the same amount and cursor
    /// (FastPathTests.amountFastPath).
    @inline(__always)
    static func shortAmount(_ base: UnsafeRawPointer, from s: Int, end: Int) -> (Money, Int)? {
        guard s &+ 16 <= end else { return nil }
        let zeros: UInt64 = 0x3030_3030_3030_3030
        let w0 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s, as: UInt64.self))
        let whole = JSONCursor.nonDigitBytes(w0).trailingZeroBitCount &>> 3  // 8 when w0 is all digits
        guard whole >= 1, whole <= 7 else { return nil }
        // The whole digits moved to the top of a word whose lower bytes are '0's.
        let units = JSONCursor.eightDigits((w0 &<< UInt64(64 &- 8 &* whole)) | (zeros &>> UInt64(8 &* whole))) &* 10_000
        switch base.load(fromByteOffset: s &+ whole, as: UInt8.self) {
        case 0x22: return (Money(units: Int64(units)), s &+ whole &+ 1)
        case 0x2E: break
        default: return nil
        }
        // Readable: whole + 1 + 8 <= 16.
        let w1 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s &+ whole &+ 1, as: UInt64.self))
        let fraction = JSONCursor.nonDigitBytes(w1).trailingZeroBitCount &>> 3
        let quote = s &+ whole &+ 1 &+ fraction
        guard fraction >= 1, fraction <= 4, base.load(fromByteOffset: quote, as: UInt8.self) == 0x22 else { return nil }
        // "0000" + the fraction digits + '0's to four: eightDigits reads ten-thousandths.
        let digits = (UInt64(1) &<< UInt64(8 &* fraction)) &- 1
        let tenThousandths = JSONCursor.eightDigits(((w1 & digits) &<< 32) | (zeros & ~(digits &<< 32)))
        return (Money(units: Int64(units &+ tenThousandths)), quote &+ 1)
    }

    /// Why a decimal string was refused (cold path: only after `Money.parseDecimal` failed).
    static func amountTextProblem(_ text: UnsafeRawBufferPointer) -> StaticString {
        if text.isEmpty { return "must be a plain decimal number such as \"1250.00\"" }
        if text[0] == 0x2D { return "must not be negative" }
        var intDigits = 0, fracDigits = 0, dots = 0
        for b in text {
            if b | 0x20 == 0x65 { return "must not use an exponent" }
            if b == 0x2E {
                dots += 1
            } else if JSONCursor.isDigit(b) {
                if dots == 0 { intDigits += 1 } else { fracDigits += 1 }
            } else {
                return "must be a plain decimal number such as \"1250.00\""
            }
        }
        if dots > 1 || intDigits == 0 || (dots == 1 && fracDigits == 0) {
            return "must be a plain decimal number such as \"1250.00\""
        }
        if fracDigits > 4 { return "must have at most 4 fraction digits" }
        return "exceeds the maximum event amount of 1000000000000"
    }

    /// The short enumerated values (`currency`, `channel`, the kinds) as byte count and packed
    /// bytes (0 when longer than 8), or nil for `null`: `shortPlainString` inline, which reads
    /// the usual values, else the general path out of line. Inline so these fields cost no call.
    @inline(__always)
    func shortText(_ cur: inout JSONCursor, _ field: Field) throws(DecodeError) -> (count: Int, word: UInt64)? {
        if let short = cur.shortPlainString() { return short }
        return try anyShortText(&cur, field)
    }

    /// `shortText` for what `shortPlainString` leaves: escapes, longer or non-ASCII strings,
    /// `null`, other types, the end of the input near.
    @inline(never)
    func anyShortText(_ cur: inout JSONCursor, _ field: Field) throws(DecodeError) -> (count: Int, word: UInt64)? {
        guard let r = try stringValue(&cur, field) else { return nil }
        return (r.count, r.count <= 8 ? packLittleEndian(cur.base, r.start, r.count, limit: cur.end) : 0)
    }

    @inline(__always)
    func currencyCode(_ cur: inout JSONCursor) throws(DecodeError) -> CurrencyCode {
        guard let (count, word) = try shortText(&cur, .currency) else { return .none }
        guard count == 3 else { throw .invalidValue(field: "currency", detail: "must be 3 upper-case ASCII letters (ISO 4217)") }
        let a = UInt8(truncatingIfNeeded: word), b = UInt8(truncatingIfNeeded: word &>> 8), c = UInt8(truncatingIfNeeded: word &>> 16)
        guard a &- 0x41 < 26, b &- 0x41 < 26, c &- 0x41 < 26 else {
            throw .invalidValue(field: "currency", detail: "must be 3 upper-case ASCII letters (ISO 4217)")
        }
        // Same packing as CurrencyCode.init?(_: String).
        return CurrencyCode(packed: UInt32(a) << 16 | UInt32(b) << 8 | UInt32(c))
    }

    @inline(__always)
    func channelValue(_ cur: inout JSONCursor) throws(DecodeError) -> Channel {
        guard let (count, word) = try shortText(&cur, .channel) else { return .unknown }
        switch (count, word) {
        case (2, 0x7271): return .qr
        case (3, 0x70_3270): return .p2p
        case (4, 0x6472_6163): return .card
        case (4, 0x6B6E_6162): return .bank
        case (6, 0x7465_6C6C_6177): return .wallet
        case (7, 0x6E_776F_6E6B_6E75): return .unknown  // Channel.unknown.name, the contract's default
        default: return .other
        }
    }

    @inline(__always)
    func accountKind(_ cur: inout JSONCursor, _ field: Field) throws(DecodeError) -> AccountKind {
        guard let (count, word) = try shortText(&cur, field) else { return .unknown }
        switch (count, word) {
        case (8, 0x6C61_6E6F_7372_6570): return .personal
        case (8, 0x746E_6168_6372_656D): return .merchant
        case (7, 0x6E_776F_6E6B_6E75): return .unknown
        default: throw .invalidValue(field: field.name, detail: "must be personal, merchant or unknown")
        }
    }
}

/// Up to 8 bytes at `start` as a little-endian integer, so short names compare as one integer.
/// One unaligned load when 8 bytes are readable before `limit`, else byte by byte (endian-neutral).
@inline(__always)
func packLittleEndian(_ base: UnsafeRawPointer, _ start: Int, _ count: Int, limit: Int) -> UInt64 {
    if start &+ 8 <= limit {
        let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: start, as: UInt64.self))
        return count >= 8 ? word : word & ((1 &<< UInt64(8 &* count)) &- 1)
    }
    var v: UInt64 = 0
    for k in 0..<count { v |= UInt64(base.load(fromByteOffset: start + k, as: UInt8.self)) << UInt64(8 * k) }
    return v
}

@inline(__always)
func sameBytes(_ base: UnsafeRawPointer, _ a: ByteSpan, _ b: ByteSpan) -> Bool {
    guard a.count == b.count else { return false }
    for k in 0..<Int(a.count) where base.load(fromByteOffset: Int(a.start) + k, as: UInt8.self) != base.load(fromByteOffset: Int(b.start) + k, as: UInt8.self) {
        return false
    }
    return true
}

/// The fields CONTRACTS.md §1 names, matched by length and packed bytes (no `String`).
enum Field: UInt8, CaseIterable {
    case id, ts, payer, payee, amount, currency, channel, qr, payerKind, payeeKind

    /// Bits of `id`, `ts`, `payer`, `payee`, `amount` (the first five cases).
    static let requiredMask: UInt16 = 0b1_1111

    var name: StaticString {
        switch self {
        case .id: "id"
        case .ts: "ts"
        case .payer: "payer"
        case .payee: "payee"
        case .amount: "amount"
        case .currency: "currency"
        case .channel: "channel"
        case .qr: "qr"
        case .payerKind: "payer_kind"
        case .payeeKind: "payee_kind"
        }
    }

    @inline(__always) var bit: UInt16 { 1 &<< UInt16(rawValue) }  // rawValue < 16: no overshift check
    @inline(__always) var isRequired: Bool { rawValue <= Field.amount.rawValue }

    /// `lo` holds bytes 0–7 and `hi` bytes 8–15 of the name, little-endian.
    @inline(__always)
    static func match(length: Int, lo: UInt64, hi: UInt64) -> Field? {
        switch length {
        case 2:
            switch lo {
            case 0x6469: return .id
            case 0x7374: return .ts
            case 0x7271: return .qr
            default: return nil
            }
        case 5:
            switch lo {
            case 0x72_6579_6170: return .payer
            case 0x65_6579_6170: return .payee
            default: return nil
            }
        case 6: return lo == 0x746E_756F_6D61 ? .amount : nil
        case 7: return lo == 0x6C_656E_6E61_6863 ? .channel : nil
        case 8: return lo == 0x7963_6E65_7272_7563 ? .currency : nil
        case 10:
            guard hi == 0x646E else { return nil }
            switch lo {
            case 0x696B_5F72_6579_6170: return .payerKind
            case 0x696B_5F65_6579_6170: return .payeeKind
            default: return nil
            }
        default: return nil
        }
    }

    /// Member names, fastest path: a known name written plainly and followed at once by the
    /// colon (`"payer":`, as every producer writes them), with 16 bytes readable from `s` (just
    /// after the opening quote), is compared as one or two words with the name's bytes plus `":`,
    /// chosen by its first byte. Returns the field and the offset after the colon, or nil for
    /// every other name (unknown, escaped, spaced from its colon, the end of the input near),
    /// which `scanPlainName` and `scanNameGeneral` take; where this answers they read the same
    /// field and the colon after it (FastPathTests.knownMemberFastPath).
    @inline(__always)
    static func scanKnownMember(_ base: UnsafeRawPointer, from s: Int, end: Int) -> (Field, Int)? {
        guard s &+ 16 <= end else { return nil }
        let w0 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s, as: UInt64.self))
        // The bytes after the first 8, as far as the longest names need them.
        @inline(__always) func w1() -> UInt64 {
            UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s &+ 8, as: UInt64.self))
        }
        let found: Field, length: Int  // length counts the closing quote and the colon
        switch UInt8(truncatingIfNeeded: w0) {
        case 0x69:  // i
            guard w0 & 0xFFFF_FFFF == 0x3A22_6469 else { return nil }  // id":
            (found, length) = (.id, 4)
        case 0x74:  // t
            guard w0 & 0xFFFF_FFFF == 0x3A22_7374 else { return nil }  // ts":
            (found, length) = (.ts, 4)
        case 0x71:  // q
            guard w0 & 0xFFFF_FFFF == 0x3A22_7271 else { return nil }  // qr":
            (found, length) = (.qr, 4)
        case 0x70:  // p
            switch w0 & 0xFF_FFFF_FFFF_FFFF {
            case 0x3A_2272_6579_6170: (found, length) = (.payer, 7)  // payer":
            case 0x3A_2265_6579_6170: (found, length) = (.payee, 7)  // payee":
            default:
                guard w1() & 0xFFFF_FFFF == 0x3A22_646E else { return nil }  // nd":
                switch w0 {
                case 0x696B_5F72_6579_6170: (found, length) = (.payerKind, 12)  // payer_ki
                case 0x696B_5F65_6579_6170: (found, length) = (.payeeKind, 12)  // payee_ki
                default: return nil
                }
            }
        case 0x61:  // a
            guard w0 == 0x3A22_746E_756F_6D61 else { return nil }  // amount":
            (found, length) = (.amount, 8)
        case 0x63:  // c
            switch w0 {
            case 0x7963_6E65_7272_7563:  // currency
                guard w1() & 0xFFFF == 0x3A22 else { return nil }  // ":
                (found, length) = (.currency, 10)
            case 0x226C_656E_6E61_6863:  // channel"
                guard UInt8(truncatingIfNeeded: w1()) == 0x3A else { return nil }  // :
                (found, length) = (.channel, 9)
            default: return nil
            }
        default: return nil
        }
        return (found, s &+ length)
    }

    /// Member names `scanKnownMember` leaves, fast path: a name of at most 15 plain bytes, with
    /// 16 bytes readable from `s` (just after the opening quote), is found by
    /// `JSONCursor.shortPlainStringEnd` and matched with its two words masked. Returns the
    /// offset after the closing quote, or -1 for every other name (escapes, control or non-ASCII
    /// bytes, longer names, the end of the input near), which `scanNameGeneral` takes; the
    /// result is the same either way (FastPathTests.fieldNameFastPath).
    @inline(__always)
    static func scanPlainName(_ base: UnsafeRawPointer, from s: Int, end: Int, field: inout Field?) -> Int {
        let q = JSONCursor.shortPlainStringEnd(base, from: s, end: end)
        guard q >= 0 else { return -1 }
        let k = q &- s
        let w0 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s, as: UInt64.self))
        let w1 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: s &+ 8, as: UInt64.self))
        field = k <= 8
            ? match(length: k, lo: JSONCursor.lowBytes(w0, k), hi: 0)
            : match(length: k, lo: w0, hi: JSONCursor.lowBytes(w1, k &- 8))
        return q &+ 1
    }

    /// Member names `scanPlainName` leaves: scanned as any string, then matched (out of line:
    /// rare, and large). Leaves the cursor after the closing quote.
    @inline(never)
    static func scanNameGeneral(_ cur: inout JSONCursor) throws(DecodeError) -> Field? {
        let name = try cur.scanString()
        return name.escaped ? matchEscaped(cur.base, name) : match(cur.base, name.start, name.count, limit: cur.end)
    }

    /// A raw (escape-free) name.
    @inline(__always)
    static func match(_ base: UnsafeRawPointer, _ start: Int, _ count: Int, limit: Int) -> Field? {
        guard count >= 2, count <= 10 else { return nil }
        let lo = packLittleEndian(base, start, min(count, 8), limit: limit)
        let hi = count > 8 ? packLittleEndian(base, start + 8, count - 8, limit: limit) : 0
        return match(length: count, lo: lo, hi: hi)
    }

    /// A name containing escapes (rare): compared after unescaping, since `"p\u0061yee"` is
    /// `payee` to every other JSON reader. The escapes were already validated by the cursor.
    static func matchEscaped(_ base: UnsafeRawPointer, _ name: JSONCursor.StringRange) -> Field? {
        @inline(__always) func byte(_ k: Int) -> UInt8 { base.load(fromByteOffset: k, as: UInt8.self) }
        var lo: UInt64 = 0, hi: UInt64 = 0, length = 0
        var k = name.start
        while k < name.end {
            var b = byte(k)
            if b >= 0x80 { return nil }  // every known name is ASCII
            if b == 0x5C {
                let e = byte(k + 1)
                switch e {
                case 0x75:  // \uXXXX
                    var unit: UInt32 = 0
                    for j in (k + 2)..<(k + 6) {
                        let h = byte(j)
                        unit = unit << 4 | UInt32(h <= 0x39 ? h - 0x30 : (h | 0x20) - 0x61 + 10)
                    }
                    if unit >= 0x80 { return nil }
                    b = UInt8(unit)
                    k += 6
                case 0x62: b = 0x08; k += 2
                case 0x66: b = 0x0C; k += 2
                case 0x6E: b = 0x0A; k += 2
                case 0x72: b = 0x0D; k += 2
                case 0x74: b = 0x09; k += 2
                default: b = e; k += 2  // " \ /
                }
            } else {
                k += 1
            }
            if length >= 10 { return nil }
            if length < 8 { lo |= UInt64(b) << UInt64(8 * length) } else { hi |= UInt64(b) << UInt64(8 * (length - 8)) }
            length += 1
        }
        return match(length: length, lo: lo, hi: hi)
    }
}
