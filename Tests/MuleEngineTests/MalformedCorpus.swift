import MuleTesting

/// A deterministic corpus of payment events the contract (CONTRACTS.md §1) forbids, each with the
/// exact dead-letter `reason` the engine must give it. Built in code rather than checked in as
/// files because several cases are megabytes long; every byte is derived from the case itself, so
/// the same corpus comes back on every run.
struct MalformedEvent {
    let name: String
    /// nil = a null value (a tombstone: key only).
    let value: [UInt8]?
    let key: [UInt8]?
    let reason: String

    /// The reason's code (`missing_field`), as counted in `EngineCounters.decodeFailures`.
    var code: String { String(reason.prefix { $0 != ":" }) }
}

enum MalformedCorpus {
    static let t0: Int64 = 1_764_000_000_000
    /// Bytes a dead-letter record keeps of a larger message (the decoder's default event limit).
    static let eventLimit = 64 * 1024

    /// Every valid field, in contract order, with `overrides` replacing (or, as nil, removing) some.
    static func fields(_ id: String, _ overrides: [String: String?] = [:]) -> String {
        let base: [(String, String)] = [("id", "\"\(id)\""), ("ts", "\(t0)"), ("payer", "\"P-\(id)\""),
                                        ("payee", "\"Q-\(id)\""), ("amount", "\"10.00\"")]
        var parts: [String] = []
        for (k, v) in base {
            if let o = overrides[k] {
                if let o { parts.append("\"\(k)\":\(o)") }
            } else {
                parts.append("\"\(k)\":\(v)")
            }
        }
        for (k, v) in overrides.sorted(by: { $0.key < $1.key }) where !base.contains(where: { $0.0 == k }) {
            if let v { parts.append("\"\(k)\":\(v)") }
        }
        return parts.joined(separator: ",")
    }

    static func object(_ id: String, _ overrides: [String: String?] = [:]) -> String { "{" + fields(id, overrides) + "}" }

    /// Byte offset of the first occurrence of `marker` in `text` (the decoder reports byte offsets).
    static func offset(of marker: String, in text: String) -> Int {
        let bytes = Array(text.utf8), m = Array(marker.utf8)
        for k in 0...(bytes.count - m.count) where Array(bytes[k..<(k + m.count)]) == m { return k }
        fatalError("marker \(marker) not in \(text)")
    }

    static func bad(_ name: String, _ text: String, _ reason: String, key: String? = nil) -> MalformedEvent {
        MalformedEvent(name: name, value: Array(text.utf8), key: key.map { Array($0.utf8) }, reason: reason)
    }

    static func bad(_ name: String, bytes: [UInt8], _ reason: String) -> MalformedEvent {
        MalformedEvent(name: name, value: bytes, key: nil, reason: reason)
    }

    /// Good events exactly at each decoder limit (must be processed, not dead-lettered).
    static func atTheLimits(from t: Int64) -> [(ts: Int64, value: [UInt8])] {
        let name128 = String(repeating: "n", count: 127)
        let oneTwentyEight = object("L-\(String(repeating: "x", count: 126))", ["payer": "\"P\(name128)\"", "payee": "\"Q\(name128)\"", "ts": "\(t)"])
        let fields256 = "{" + fields("L-fields", ["ts": "\(t + 1)"]) + "," + (0..<251).map { #""f\#($0)":0"# }.joined(separator: ",") + "}"
        let depth32 = object("L-depth", ["ts": "\(t + 2)", "note": String(repeating: "[", count: 31) + String(repeating: "]", count: 31)])
        let short = object("L-size", ["ts": "\(t + 3)", "note": "\"\""])
        let exact = object("L-size", ["ts": "\(t + 3)", "note": "\"" + String(repeating: "s", count: eventLimit - short.utf8.count) + "\""])
        precondition(exact.utf8.count == eventLimit && fields256.utf8.count < eventLimit)
        return [(t, oneTwentyEight), (t + 1, fields256), (t + 2, depth32), (t + 3, exact)].map { ($0.0, Array($0.1.utf8)) }
    }

    static var all: [MalformedEvent] {
        var c: [MalformedEvent] = []

        // Truncated JSON, at several points.
        let full = object("trunc")
        // Cut between tokens (a cut inside a string is "unterminated string", below).
        for cut in [1, 20, offset(of: #","payee""#, in: full), full.utf8.count - 1] {
            c.append(bad("truncated-\(cut)", String(full.utf8.prefix(cut))!, "malformed_json: unexpected end of input at byte \(cut)"))
        }
        let openString = #"{"id":"trunc-str"#
        c.append(bad("truncated-in-string", openString, "malformed_json: unterminated string at byte \(openString.utf8.count)"))

        // Wrong types.
        c.append(bad("payer-number", object("wt-1", ["payer": "12"]), "wrong_type: payer must be a string"))
        c.append(bad("id-object", object("wt-2", ["id": #"{"a":1}"#]), "wrong_type: id must be a string"))
        c.append(bad("ts-bool", object("wt-3", ["ts": "true"]), "wrong_type: ts must be integer epoch milliseconds or an RFC 3339 string"))
        c.append(bad("amount-array", object("wt-4", ["amount": "[10]"]), "wrong_type: amount must be a number or a decimal string"))
        c.append(bad("payee-null", object("wt-5", ["payee": "null"]), "wrong_type: payee must be a string"))
        c.append(bad("channel-number", object("wt-6", ["channel": "7"]), "wrong_type: channel must be a string"))

        // NaN and infinities: not JSON at all as bare words; not plain decimals as strings.
        for word in ["NaN", "Infinity"] {
            let text = object("bare-\(word.count)", ["amount": word])
            c.append(bad("amount-bare-\(word)", text, "malformed_json: expected a value at byte \(offset(of: word, in: text))"))
            c.append(bad("amount-string-\(word)", object("nans-\(word)", ["amount": "\"\(word)\""]),
                         #"invalid_value: amount must be a plain decimal number such as "1250.00""#))
        }
        let negInf = object("ninf", ["amount": "-Infinity"])
        c.append(bad("amount-minus-infinity", negInf, "malformed_json: invalid number at byte \(offset(of: "Infinity", in: negInf))"))
        let tsNaN = object("tsnan", ["ts": "NaN"])
        c.append(bad("ts-NaN", tsNaN, "malformed_json: expected a value at byte \(offset(of: "NaN", in: tsNaN))"))

        // Huge and over-precise numbers.
        c.append(bad("amount-1e400", object("big-1", ["amount": "1e400"]), "invalid_value: amount must not use an exponent"))
        c.append(bad("amount-1e400-string", object("big-2", ["amount": "\"1e400\""]), "invalid_value: amount must not use an exponent"))
        c.append(bad("amount-30-digits", object("big-3", ["amount": "123456789012345678901234567890"]),
                     "invalid_value: amount exceeds the maximum event amount of 1000000000000"))
        c.append(bad("amount-30-digits-string", object("big-4", ["amount": "\"123456789012345678901234567890.25\""]),
                     "invalid_value: amount exceeds the maximum event amount of 1000000000000"))
        c.append(bad("amount-over-max", object("big-5", ["amount": "1000000000000.0001"]),
                     "invalid_value: amount exceeds the maximum event amount of 1000000000000"))
        c.append(bad("amount-5-fraction-digits", object("big-6", ["amount": "10.00001"]), "invalid_value: amount must have at most 4 fraction digits"))
        c.append(bad("amount-5-fraction-digits-string", object("big-7", ["amount": "\"10.00001\""]), "invalid_value: amount must have at most 4 fraction digits"))
        c.append(bad("ts-30-digits", object("big-8", ["ts": "123456789012345678901234567890"]), "invalid_value: ts is after year 9999"))
        c.append(bad("ts-fraction", object("big-9", ["ts": "1764000000000.5"]), "invalid_value: ts must be whole epoch milliseconds (no fraction or exponent)"))
        c.append(bad("ts-negative", object("big-10", ["ts": "-1"]), "invalid_value: ts must not be negative"))

        // Negative and zero amounts, payer == payee.
        c.append(bad("amount-negative", object("neg-1", ["amount": "-5"]), "invalid_value: amount must not be negative"))
        c.append(bad("amount-negative-string", object("neg-2", ["amount": "\"-5.00\""]), "invalid_value: amount must not be negative"))
        c.append(bad("amount-zero", object("zero-1", ["amount": "0"]), "invalid_value: amount must be greater than zero"))
        c.append(bad("amount-zero-string", object("zero-2", ["amount": "\"0.0000\""]), "invalid_value: amount must be greater than zero"))
        c.append(bad("payer-is-payee", object("self", ["payee": "\"P-self\""]), "invalid_value: payee must differ from payer"))

        // Sizes: a field over the string limit, megabyte strings, a message over the producer's
        // default message.max.bytes (1,000,000), a key of a megabyte.
        let longPayer = String(repeating: "L", count: 129)
        c.append(bad("payer-129-bytes", object("long-1", ["payer": "\"\(longPayer)\""]), "too_long: payer exceeds 128 bytes"))
        c.append(bad("qr-129-bytes", object("long-2", ["qr": "\"\(longPayer)\""]), "too_long: qr exceeds 128 bytes"))
        c.append(bad("id-129-bytes", object(longPayer), "too_long: id exceeds 128 bytes"))
        c.append(bad("empty-id", object("", [:]), "invalid_value: id must not be empty"))
        let megabyte = String(repeating: "M", count: 1 << 20)
        let megaPayer = object("mega-1", ["payer": "\"\(megabyte)\""])
        c.append(bad("payer-1MiB", megaPayer, "oversized: \(megaPayer.utf8.count) bytes exceeds \(eventLimit)"))
        let megaUnknown = object("mega-2", ["note": "\"\(megabyte)\""])
        c.append(bad("unknown-field-1MiB", megaUnknown, "oversized: \(megaUnknown.utf8.count) bytes exceeds \(eventLimit)"))
        let justOver = object("edge", ["note": "\"" + String(repeating: "e", count: eventLimit) + "\""])
        c.append(bad("one-event-limit-plus", justOver, "oversized: \(justOver.utf8.count) bytes exceeds \(eventLimit)"))
        let huge = object("huge", ["note": "\"" + String(repeating: "H", count: 3 << 19) + "\""])  // 1.5 MiB
        c.append(bad("over-message-max-bytes", huge, "oversized: \(huge.utf8.count) bytes exceeds \(eventLimit)"))
        c.append(bad("megabyte-key", "", "malformed_json: empty input at byte 0", key: megabyte))

        // Invalid UTF-8 inside strings (bytes, not escapes) and broken \u escapes.
        for (label, seq) in [("bad-continuation", [0xC3, 0x28] as [UInt8]), ("overlong-slash", [0xC0, 0xAF]),
                             ("stray-continuation", [0x80]), ("surrogate-bytes", [0xED, 0xA0, 0x80]), ("above-U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
                             ("FF", [0xFF])] {
            let prefix = Array(#"{"id":"utf-\#(label)","ts":\#(t0),"payer":"P"#.utf8)
            let bytes = prefix + seq + Array(#"","payee":"Q","amount":"1.00"}"#.utf8)
            c.append(bad("invalid-utf8-\(label)", bytes: bytes, "invalid_utf8: at byte \(prefix.count)"))
        }
        let lone = object("lone", ["note": #""\ud800x""#])
        c.append(bad("lone-surrogate-escape", lone, #"malformed_json: unpaired surrogate in \u escape at byte \#(offset(of: #"\ud800"#, in: lone))"#))
        c.append(bad("escape-in-id", object("esc", ["id": #""a\u0062c""#]), "invalid_value: id must not contain escape sequences"))

        // Each required field missing.
        for f in ["id", "ts", "payer", "payee", "amount"] {
            c.append(bad("missing-\(f)", object("miss-\(f)", [f: String?.none]), "missing_field: \(f)"))
        }

        // Duplicate fields, plain and with an escaped name.
        c.append(bad("duplicate-payer", "{" + fields("dup-1") + #","payer":"P-other"}"#, "duplicate_field: payer"))
        c.append(bad("duplicate-escaped-amount", "{" + fields("dup-2") + #","\u0061mount":"1.00"}"#, "duplicate_field: amount"))
        c.append(bad("duplicate-id-before-value-check", #"{"id":"a","id":7}"#, "duplicate_field: id"))

        // Deep nesting and too many fields.
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        c.append(bad("deep-nesting", object("deep", ["note": deep]), "too_deep: nesting exceeds 32"))
        let deepObjects = String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100)
        c.append(bad("deep-objects", object("deep-2", ["note": deepObjects]), "too_deep: nesting exceeds 32"))
        let many = (0..<300).map { #""f\#($0)":\#($0)"# }.joined(separator: ",")
        c.append(bad("too-many-fields", "{" + fields("many") + "," + many + "}", "too_many_fields: object has more than 256 fields"))

        // Empty, whitespace, not an object, trailing bytes, binary garbage, key only.
        c.append(bad("empty", "", "malformed_json: empty input at byte 0"))
        c.append(bad("whitespace", " \n\t ", "malformed_json: unexpected end of input at byte 4"))
        c.append(bad("array", "[" + object("arr") + "]", "malformed_json: expected '{' at start of event at byte 0"))
        c.append(bad("string", #""just text""#, "malformed_json: expected '{' at start of event at byte 0"))
        let two = object("two-a") + object("two-b")
        c.append(bad("two-objects", two, "malformed_json: unexpected bytes after the event object at byte \(object("two-a").utf8.count)"))
        c.append(bad("single-quotes", "{'id':'x'}", "malformed_json: expected field name at byte 1"))
        c.append(bad("trailing-comma", "{" + fields("tc") + ",}", "malformed_json: expected field name at byte \(fields("tc").utf8.count + 2)"))
        var rng = SeededRandom(state: 0x6d75_6c65)
        for n in 0..<4 {
            var garbage = (0..<(64 << n)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            garbage[0] = UInt8(n)  // never '{' or whitespace, so the reason is known
            c.append(bad("binary-\(n)", bytes: garbage, "malformed_json: expected '{' at start of event at byte 0"))
        }
        c.append(MalformedEvent(name: "key-only", value: nil, key: Array("A-1".utf8), reason: "malformed_json: empty input at byte 0"))
        return c
    }
}
