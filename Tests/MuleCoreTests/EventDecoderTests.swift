import Testing
@testable import MuleCore
import MuleTesting

// MARK: Helpers

/// The CONTRACTS.md §1 example, field by field (raw JSON values), in the contract's order.
private let contractFields: [(String, String)] = [
    ("id", #""tx-000193""#),
    ("ts", "1764000000123"),
    ("payer", #""A-10021""#),
    ("payee", #""A-88412""#),
    ("amount", #""1250.00""#),
    ("currency", #""CNY""#),
    ("channel", #""qr""#),
    ("qr", #""QR-88412-1""#),
    ("payee_kind", #""personal""#),
]

private let contractExample =
    #"{"id":"tx-000193","ts":1764000000123,"payer":"A-10021","payee":"A-88412","amount":"1250.00","currency":"CNY","channel":"qr","qr":"QR-88412-1","payee_kind":"personal"}"#

/// The contract example with some fields replaced (raw JSON) or removed (nil), plus extra members.
private func event(_ changes: [String: String?] = [:], extra: String = "") -> String {
    var members: [String] = []
    for (name, value) in contractFields {
        if let change = changes[name] {
            if let v = change { members.append("\"\(name)\":\(v)") }
        } else {
            members.append("\"\(name)\":\(value)")
        }
    }
    for (name, change) in changes.sorted(by: { $0.key < $1.key }) where !contractFields.contains(where: { $0.0 == name }) {
        if let v = change { members.append("\"\(name)\":\(v)") }
    }
    if !extra.isEmpty { members.append(extra) }
    return "{" + members.joined(separator: ",") + "}"
}

private func decode(_ bytes: [UInt8], limits: DecoderLimits = .init()) -> Result<DecodedTransfer, DecodeError> {
    let decoder = EventDecoder(limits: limits)
    return bytes.withUnsafeBytes { raw in Result { () throws(DecodeError) in try decoder.decode(raw) } }
}

private func decode(_ text: String, limits: DecoderLimits = .init()) -> Result<DecodedTransfer, DecodeError> {
    decode(Array(text.utf8), limits: limits)
}

/// A decoded event with its string spans copied out, for readable expectations.
private struct Decoded {
    var transfer: DecodedTransfer
    var id: String, payer: String, payee: String, qr: String
}

private func decoded(_ bytes: [UInt8], limits: DecoderLimits = .init(), sourceLocation: SourceLocation = #_sourceLocation) -> Decoded? {
    switch decode(bytes, limits: limits) {
    case .success(let t):
        return bytes.withUnsafeBytes { raw in
            Decoded(transfer: t, id: t.id.string(in: raw), payer: t.payer.string(in: raw),
                    payee: t.payee.string(in: raw), qr: t.qr.string(in: raw))
        }
    case .failure(let e):
        Issue.record("unexpected error: \(e.reason)", sourceLocation: sourceLocation)
        return nil
    }
}

private func decoded(_ text: String, limits: DecoderLimits = .init(), sourceLocation: SourceLocation = #_sourceLocation) -> Decoded? {
    decoded(Array(text.utf8), limits: limits, sourceLocation: sourceLocation)
}

private func expectFailure(_ text: String, _ expected: DecodeError, limits: DecoderLimits = .init(), sourceLocation: SourceLocation = #_sourceLocation) {
    expectFailure(Array(text.utf8), expected, limits: limits, sourceLocation: sourceLocation)
}

private func expectFailure(_ bytes: [UInt8], _ expected: DecodeError, limits: DecoderLimits = .init(), sourceLocation: SourceLocation = #_sourceLocation) {
    switch decode(bytes, limits: limits) {
    case .success: Issue.record("expected \(expected.reason), but it decoded", sourceLocation: sourceLocation)
    case .failure(let e): #expect(e.reason == expected.reason, sourceLocation: sourceLocation)
    }
}

private func expectMalformed(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    expectMalformed(Array(text.utf8), sourceLocation: sourceLocation)
}

private func expectMalformed(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    switch decode(bytes) {
    case .success: Issue.record("expected malformed_json, but it decoded", sourceLocation: sourceLocation)
    case .failure(let e): #expect(e.code == "malformed_json", "got \(e.reason)", sourceLocation: sourceLocation)
    }
}

private func string(_ n: Int, _ c: Character = "x") -> String { String(repeating: c, count: n) }

// MARK: The contract example

@Suite("Event decoder: contract example")
struct ContractExampleTests {
    @Test func decodesEveryField() throws {
        let d = try #require(decoded(contractExample))
        #expect(d.id == "tx-000193")
        #expect(d.transfer.timestamp == 1_764_000_000_123)
        #expect(d.payer == "A-10021")
        #expect(d.payee == "A-88412")
        #expect(d.transfer.amount == Money(units: 12_500_000))
        #expect(d.transfer.currency == CurrencyCode("CNY"))
        #expect(d.transfer.channel == .qr)
        #expect(d.qr == "QR-88412-1")
        #expect(d.transfer.payeeKind == .personal)
        #expect(d.transfer.payerKind == .unknown)
    }

    @Test func spansPointAtTheRawBytesBetweenTheQuotes() throws {
        let t = try decode(contractExample).get()
        let bytes = Array(contractExample.utf8)
        #expect(t.id == ByteSpan(start: 7, count: 9))
        #expect(bytes[Int(t.id.start) - 1] == UInt8(ascii: "\""))
        #expect(bytes[Int(t.id.start + t.id.count)] == UInt8(ascii: "\""))
    }

    @Test func optionalFieldsAbsentTakeDefaults() throws {
        let d = try #require(decoded(#"{"id":"t","ts":5,"payer":"a","payee":"b","amount":1}"#))
        #expect(d.transfer == DecodedTransfer(
            id: ByteSpan(start: 7, count: 1), timestamp: 5, payer: ByteSpan(start: 26, count: 1),
            payee: ByteSpan(start: 38, count: 1), amount: Money(units: 10_000)))
        #expect(d.transfer.currency == .none)
        #expect(d.transfer.channel == .unknown)
        #expect(d.transfer.qr == .empty)
    }

    @Test func fieldOrderDoesNotMatter() throws {
        let d = try #require(decoded(#"{"amount":"3.5","payee":"B","qr":"q","ts":7,"payer":"A","id":"x"}"#))
        #expect(d.id == "x")
        #expect(d.payer == "A")
        #expect(d.payee == "B")
        #expect(d.transfer.amount.units == 35_000)
    }

    @Test func nullOptionalFieldsAreAbsent() throws {
        let d = try #require(decoded(event(["currency": "null", "channel": "null", "qr": "null", "payee_kind": "null", "payer_kind": "null"])))
        #expect(d.transfer.currency == .none)
        #expect(d.transfer.channel == .unknown)
        #expect(d.transfer.qr == .empty)
        #expect(d.transfer.payeeKind == .unknown)
        #expect(d.transfer.payerKind == .unknown)
    }
}

// MARK: Required fields and types

@Suite("Event decoder: required fields and types")
struct RequiredFieldTests {
    @Test(arguments: ["id", "ts", "payer", "payee", "amount"])
    func missingRequiredField(name: String) {
        let expected: DecodeError = switch name {
        case "id": .missingField("id")
        case "ts": .missingField("ts")
        case "payer": .missingField("payer")
        case "payee": .missingField("payee")
        default: .missingField("amount")
        }
        expectFailure(event([name: nil]), expected)
    }

    @Test func emptyObjectReportsTheFirstMissingField() {
        expectFailure("{}", .missingField("id"))
        expectFailure(" { } \n", .missingField("id"))
    }

    @Test func wrongTypes() {
        expectFailure(event(["id": "7"]), .wrongType(field: "id", expected: "a string"))
        expectFailure(event(["id": "null"]), .wrongType(field: "id", expected: "a string"))
        expectFailure(event(["payer": "12"]), .wrongType(field: "payer", expected: "a string"))
        expectFailure(event(["payee": "[\"A\"]"]), .wrongType(field: "payee", expected: "a string"))
        expectFailure(event(["qr": "5"]), .wrongType(field: "qr", expected: "a string"))
        let tsType: DecodeError = .wrongType(field: "ts", expected: "integer epoch milliseconds or an RFC 3339 string")
        expectFailure(event(["ts": "true"]), tsType)
        expectFailure(event(["ts": "null"]), tsType)
        expectFailure(event(["ts": "{}"]), tsType)
        let amountType: DecodeError = .wrongType(field: "amount", expected: "a number or a decimal string")
        expectFailure(event(["amount": "[]"]), amountType)
        expectFailure(event(["amount": "null"]), amountType)
        expectFailure(event(["amount": "false"]), amountType)
        expectFailure(event(["currency": "1"]), .wrongType(field: "currency", expected: "a string"))
        expectFailure(event(["channel": "{}"]), .wrongType(field: "channel", expected: "a string"))
        expectFailure(event(["payee_kind": "false"]), .wrongType(field: "payee_kind", expected: "a string"))
        expectFailure(event(["payer_kind": "1"]), .wrongType(field: "payer_kind", expected: "a string"))
    }

    @Test func payeeMustDifferFromPayer() {
        expectFailure(event(["payer": #""A-1""#, "payee": #""A-1""#]), .invalidValue(field: "payee", detail: "must differ from payer"))
        #expect(decoded(event(["payer": #""A-1""#, "payee": #""A-10""#])) != nil)
        #expect(decoded(event(["payer": #""A-1""#, "payee": #""a-1""#])) != nil)
    }

    @Test(arguments: ["id", "payer", "payee", "qr"])
    func identifierLengthLimits(name: String) throws {
        let other = name == "payer" ? "payee" : "payer"  // keep payer ≠ payee
        let ok = string(128, "p")
        let d = try #require(decoded(event([name: "\"\(ok)\"", other: #""other""#])))
        let got = switch name {
        case "id": d.id
        case "payer": d.payer
        case "payee": d.payee
        default: d.qr
        }
        #expect(got == ok)
        let field: StaticString = switch name {
        case "id": "id"
        case "payer": "payer"
        case "payee": "payee"
        default: "qr"
        }
        expectFailure(event([name: "\"\(string(129, "p"))\"", other: #""other""#]), .tooLong(field: field, limit: 128))
    }

    @Test func lengthsAreBytesNotCharacters() throws {
        // 43 × "€" (3 bytes) = 129 bytes.
        expectFailure(event(["id": "\"\(string(43, "€"))\""]), .tooLong(field: "id", limit: 128))
        let d = try #require(decoded(event(["id": "\"\(string(42, "€"))xx\""])))
        #expect(d.id.utf8.count == 128)
    }

    @Test func customStringLimit() {
        let limits = DecoderLimits(maxStringBytes: 8)
        #expect(decoded(event(["id": #""12345678""#, "qr": nil]), limits: limits) != nil)
        expectFailure(event(["id": #""123456789""#, "qr": nil]), .tooLong(field: "id", limit: 8), limits: limits)
    }

    @Test func emptyIdentifiers() throws {
        expectFailure(event(["id": #""""#]), .invalidValue(field: "id", detail: "must not be empty"))
        expectFailure(event(["payer": #""""#]), .invalidValue(field: "payer", detail: "must not be empty"))
        expectFailure(event(["payee": #""""#]), .invalidValue(field: "payee", detail: "must not be empty"))
        // An empty qr is the same as no qr.
        let d = try #require(decoded(event(["qr": #""""#])))
        #expect(d.transfer.qr == .empty)
    }

    @Test func nonASCIIIdentifiersAreKeptAsBytes() throws {
        let d = try #require(decoded(event(["payer": #""账户-7""#, "payee": #""😀""#])))
        #expect(d.payer == "账户-7")
        #expect(d.payee == "😀")
    }
}

// MARK: Escape policy

@Suite("Event decoder: escapes")
struct EscapePolicyTests {
    @Test(arguments: ["id", "payer", "payee", "qr", "currency", "channel", "payee_kind", "ts", "amount"])
    func knownStringFieldsRejectEscapes(name: String) {
        let value = switch name {
        case "currency": #""\u0043NY""#
        case "channel": #""q\u0072""#
        case "payee_kind": #""personal\/""#
        case "ts": #""2025-11-24T10:07:01\u002e120Z""#
        case "amount": #""12\u0035""#
        default: #""A\n1""#
        }
        switch decode(event([name: value])) {
        case .success: Issue.record("escape in \(name) accepted")
        case .failure(let e): #expect(e.reason == "invalid_value: \(name) must not contain escape sequences")
        }
    }

    @Test func unknownFieldsMayUseEveryEscape() {
        #expect(decoded(event(extra: #""note":"q\"b\\s\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00""#)) != nil)
    }

    @Test func invalidEscapesAreMalformed() {
        expectMalformed(event(extra: #""note":"\x""#))
        expectMalformed(event(extra: #""note":"\u12""#))
        expectMalformed(event(extra: #""note":"\u12G4""#))
        expectMalformed(event(extra: #""note":"\ud800""#))  // lone high surrogate
        expectMalformed(event(extra: #""note":"\ud800\u0041""#))  // high + non-low
        expectMalformed(event(extra: #""note":"\udc00""#))  // lone low surrogate
        expectMalformed(event(extra: #""note":"\'""#))
    }

    @Test func escapedFieldNamesAreTheSameField() throws {
        let d = try #require(decoded(#"{"\u0069d":"x","ts":1,"p\u0061yer":"A","payee":"B","amount":2}"#))
        #expect(d.id == "x")
        #expect(d.payer == "A")
        expectFailure(#"{"id":"x","ts":1,"payer":"A","payee":"B","p\u0061yee":"C","amount":2}"#, .duplicateField("payee"))
        expectFailure(#"{"id":"x","ts":1,"payer":"A","payee":"B","amount":2,"payee\u005fkind":"x"}"#,
                      .invalidValue(field: "payee_kind", detail: "must be personal, merchant or unknown"))
        // Looks similar but is a different name: ignored.
        #expect(decoded(event(extra: #""\u00e9d":"z""#)) != nil)
    }

    @Test func controlCharactersMustBeEscaped() {
        expectMalformed(event(["id": "\"a\tb\""]))
        expectMalformed(event(extra: "\"note\":\"line\nbreak\""))
        expectMalformed(event(extra: "\"no\u{01}te\":1"))
        #expect(decoded(event(extra: "\"note\":\"del\u{7F}\"")) != nil)  // DEL is not a control char in JSON
    }
}

// MARK: ts

@Suite("Event decoder: ts")
struct TimestampTests {
    @Test(arguments: [
        ("1764000000123", 1_764_000_000_123),
        ("0", 0),
        ("253402300799999", 253_402_300_799_999),
        (#""2025-11-24T10:07:01.120Z""#, 1_763_978_821_120),
        (#""2025-11-24T18:07:01.120+08:00""#, 1_763_978_821_120),
        (#""2025-11-24T04:37:01.120-05:30""#, 1_763_978_821_120),
        (#""2025-11-24T10:07:01Z""#, 1_763_978_821_000),
        (#""2025-11-24T10:07:01.1Z""#, 1_763_978_821_100),
        (#""2025-11-24T10:07:01.12Z""#, 1_763_978_821_120),
        (#""2025-11-24T10:07:01.123456789Z""#, 1_763_978_821_123),
        (#""2025-11-24T10:07:01.999999999Z""#, 1_763_978_821_999),
        (#""2025-11-24t10:07:01.120z""#, 1_763_978_821_120),
        (#""2025-11-24 10:07:01.120Z""#, 1_763_978_821_120),
        (#""2025-11-24T10:07:01.120+00:00""#, 1_763_978_821_120),
        (#""2025-11-24T10:07:01.120-00:00""#, 1_763_978_821_120),
        (#""2024-02-29T00:00:00Z""#, 1_709_164_800_000),
        (#""2000-02-29T12:00:00Z""#, 951_825_600_000),
        (#""1970-01-01T00:00:00Z""#, 0),
        (#""1970-01-01T08:00:00+08:00""#, 0),
        (#""9999-12-31T23:59:59.999Z""#, 253_402_300_799_999),
        // Leap seconds, read as :59.999 of the last UTC minute of the day.
        (#""2016-12-31T23:59:60Z""#, 1_483_228_799_999),
        (#""2016-12-31T23:59:60.5Z""#, 1_483_228_799_999),
        (#""2017-01-01T07:59:60+08:00""#, 1_483_228_799_999),
        (#""2016-12-31T18:59:60-05:00""#, 1_483_228_799_999),
    ] as [(String, Int64)])
    func validTimestamps(raw: String, millis: Int64) throws {
        let d = try #require(decoded(event(["ts": raw])))
        #expect(d.transfer.timestamp == millis)
    }

    @Test(arguments: [
        // Invalid calendar dates.
        (#""2025-02-30T00:00:00Z""#, "has an invalid calendar date"),
        (#""2023-02-29T00:00:00Z""#, "has an invalid calendar date"),
        (#""1900-02-29T00:00:00Z""#, "has an invalid calendar date"),
        (#""2025-04-31T00:00:00Z""#, "has an invalid calendar date"),
        (#""2025-13-01T00:00:00Z""#, "has an invalid calendar date"),
        (#""2025-00-10T00:00:00Z""#, "has an invalid calendar date"),
        (#""2025-01-00T00:00:00Z""#, "has an invalid calendar date"),
        (#""2025-01-32T00:00:00Z""#, "has an invalid calendar date"),
        // Invalid times of day.
        (#""2025-01-01T24:00:00Z""#, "has an invalid time of day"),
        (#""2025-01-01T10:60:00Z""#, "has an invalid time of day"),
        (#""2025-01-01T10:00:61Z""#, "has an invalid time of day"),
        (#""2016-12-31T12:00:60Z""#, "has a leap second outside the last minute of a UTC day"),
        (#""2016-12-31T23:59:60+08:00""#, "has a leap second outside the last minute of a UTC day"),
        (#""2025-01-01T10:00:00+24:00""#, "has an invalid UTC offset"),
        (#""2025-01-01T10:00:00+05:60""#, "has an invalid UTC offset"),
        // Ranges.
        (#""1969-12-31T23:59:59.999Z""#, "is before 1970"),
        (#""1970-01-01T00:00:00+00:01""#, "is before 1970"),
        (#""9999-12-31T23:59:59-00:01""#, "is after year 9999"),
        ("253402300800000", "is after year 9999"),
        ("99999999999999999999999", "is after year 9999"),
        ("-1", "must not be negative"),
        ("-0", "must not be negative"),
        ("1764000000123.5", "must be whole epoch milliseconds (no fraction or exponent)"),
        ("1.0", "must be whole epoch milliseconds (no fraction or exponent)"),
        ("1e3", "must be whole epoch milliseconds (no fraction or exponent)"),
        ("1E+3", "must be whole epoch milliseconds (no fraction or exponent)"),
    ] as [(String, String)])
    func invalidTimestamps(raw: String, detail: String) {
        switch decode(event(["ts": raw])) {
        case .success(let t): Issue.record("\(raw) decoded as \(t.timestamp)")
        case .failure(let e): #expect(e.reason == "invalid_value: ts \(detail)")
        }
    }

    @Test(arguments: [
        #""2025-11-24T10:07:01""#,  // no offset
        #""2025-11-24T10:07:01.120""#,
        #""2025-11-24""#,
        #""2025-11-24T10:07Z""#,
        #""2025-11-24_10:07:01Z""#,
        #""2025/11/24T10:07:01Z""#,
        #""25-11-24T10:07:01Z""#,
        #""2025-11-24T10:07:01.Z""#,
        #""2025-11-24T10:07:01.1234567890Z""#,  // 10 fraction digits
        #""2025-11-24T10:07:01+0800""#,
        #""2025-11-24T10:07:01+08""#,
        #""2025-11-24T10:07:01Z ""#,
        #"" 2025-11-24T10:07:01Z""#,
        #""2025-11-24T1a:07:01Z""#,
        #""1764000000123""#,
        #""""#,
    ])
    func notRFC3339(raw: String) {
        switch decode(event(["ts": raw])) {
        case .success(let t): Issue.record("\(raw) decoded as \(t.timestamp)")
        case .failure(let e):
            #expect(e.reason == "invalid_value: ts must be an RFC 3339 timestamp with offset, e.g. 2025-11-24T10:07:01.120Z")
        }
    }

    @Test func daysFromCivilMatchesKnownDates() {
        #expect(RFC3339.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(RFC3339.daysFromCivil(year: 2000, month: 3, day: 1) == 11_017)
        #expect(RFC3339.daysFromCivil(year: 1969, month: 12, day: 31) == -1)
        #expect(RFC3339.daysFromCivil(year: 10_000, month: 1, day: 1) * 86_400_000 == RFC3339.maxEpochMillis + 1)
    }
}

// MARK: amount

@Suite("Event decoder: amount")
struct AmountTests {
    @Test(arguments: [
        (#""1250.00""#, 12_500_000),
        (#""1250""#, 12_500_000),
        ("1250", 12_500_000),
        ("1250.5", 12_505_000),
        (#""1250.5""#, 12_505_000),
        ("0.0001", 1),
        (#""0.0001""#, 1),
        ("0.5", 5_000),
        ("12.3456", 123_456),
        ("1000000000000", 10_000_000_000_000_000),
        (#""1000000000000.0000""#, 10_000_000_000_000_000),
        (#""007.5""#, 75_000),
    ] as [(String, Int64)])
    func validAmounts(raw: String, units: Int64) throws {
        let d = try #require(decoded(event(["amount": raw])))
        #expect(d.transfer.amount == Money(units: units))
    }

    @Test(arguments: [
        ("0", "must be greater than zero"),
        ("0.0", "must be greater than zero"),
        (#""0""#, "must be greater than zero"),
        (#""0.0000""#, "must be greater than zero"),
        ("-5", "must not be negative"),
        ("-0.5", "must not be negative"),
        (#""-5""#, "must not be negative"),
        ("1.23456", "must have at most 4 fraction digits"),
        (#""1.23456""#, "must have at most 4 fraction digits"),
        ("1e3", "must not use an exponent"),
        ("1.5E2", "must not use an exponent"),
        (#""1e3""#, "must not use an exponent"),
        ("1000000000000.0001", "exceeds the maximum event amount of 1000000000000"),
        (#""1000000000001""#, "exceeds the maximum event amount of 1000000000000"),
        ("99999999999999999999999999", "exceeds the maximum event amount of 1000000000000"),
        (#""99999999999999999999999999""#, "exceeds the maximum event amount of 1000000000000"),
        (#""""#, #"must be a plain decimal number such as "1250.00""#),
        (#""12.""#, #"must be a plain decimal number such as "1250.00""#),
        (#"".5""#, #"must be a plain decimal number such as "1250.00""#),
        (#""+5""#, #"must be a plain decimal number such as "1250.00""#),
        (#"" 5""#, #"must be a plain decimal number such as "1250.00""#),
        (#""1,250.00""#, #"must be a plain decimal number such as "1250.00""#),
        (#""1.2.3""#, #"must be a plain decimal number such as "1250.00""#),
        (#""NaN""#, #"must be a plain decimal number such as "1250.00""#),
        (#""12 CNY""#, #"must be a plain decimal number such as "1250.00""#),
    ] as [(String, String)])
    func invalidAmounts(raw: String, detail: String) {
        switch decode(event(["amount": raw])) {
        case .success(let t): Issue.record("\(raw) decoded as \(t.amount)")
        case .failure(let e): #expect(e.reason == "invalid_value: amount \(detail)")
        }
    }

    @Test func numbersThatAreNotJSONAreMalformed() {
        for raw in ["01", "1.", ".5", "+1", "-", "0x10", "NaN", "Infinity", "1e", "1e+", "--1", "1..2"] {
            expectMalformed(event(["amount": raw]))
        }
    }
}

// MARK: Optional fields

@Suite("Event decoder: optional fields")
struct OptionalFieldTests {
    @Test func currencyCodes() throws {
        #expect(try #require(decoded(event(["currency": #""USD""#]))).transfer.currency == CurrencyCode("USD"))
        #expect(try #require(decoded(event(["currency": #""ZZZ""#]))).transfer.currency == CurrencyCode(packed: 0x5A5A5A))
        #expect(try #require(decoded(event(["currency": nil]))).transfer.currency == .none)
        let bad: DecodeError = .invalidValue(field: "currency", detail: "must be 3 upper-case ASCII letters (ISO 4217)")
        for raw in [#""cny""#, #""CN""#, #""CNYY""#, #""C1Y""#, #""""#, #""CN@""#, #""C[Y""#, #""ÇNY""#] {
            expectFailure(event(["currency": raw]), bad)
        }
    }

    @Test(arguments: [
        (#""qr""#, Channel.qr), (#""p2p""#, .p2p), (#""card""#, .card), (#""bank""#, .bank), (#""wallet""#, .wallet),
        (#""crypto""#, .other), (#""QR""#, .other), (#""""#, .other), (#""unknown""#, .unknown), (#""other""#, .other),
        (#""a-very-long-channel-name""#, .other), (#""walle""#, .other), (#""bankx""#, .other), ("null", .unknown),
    ] as [(String, Channel)])
    func channels(raw: String, channel: Channel) throws {
        #expect(try #require(decoded(event(["channel": raw]))).transfer.channel == channel)
    }

    @Test func channelAbsentIsUnknown() throws {
        #expect(try #require(decoded(event(["channel": nil]))).transfer.channel == .unknown)
    }

    @Test func accountKinds() throws {
        let d = try #require(decoded(event(["payer_kind": #""merchant""#, "payee_kind": #""unknown""#])))
        #expect(d.transfer.payerKind == .merchant)
        #expect(d.transfer.payeeKind == .unknown)
        let p = try #require(decoded(event(["payer_kind": #""personal""#, "payee_kind": #""merchant""#])))
        #expect(p.transfer.payerKind == .personal)
        #expect(p.transfer.payeeKind == .merchant)
        for raw in [#""Personal""#, #""business""#, #""""#, #""merchants""#, #""personal ""#] {
            expectFailure(event(["payer_kind": raw]), .invalidValue(field: "payer_kind", detail: "must be personal, merchant or unknown"))
            expectFailure(event(["payee_kind": raw]), .invalidValue(field: "payee_kind", detail: "must be personal, merchant or unknown"))
        }
    }
}

// MARK: Unknown fields, duplicates, limits

@Suite("Event decoder: unknown fields and limits")
struct UnknownFieldTests {
    @Test(arguments: [
        #""s""#, #""""#, "0", "-1.5e-3", "12345678901234567890.5", "true", "false", "null", "{}", "[]",
        #"{"a":{"b":[1,2,{"c":null}],"d":"x"},"e":[]}"#, #"[[],[{}],[1,"2",true,false,null]]"#,
        #"{"id":"nested id is not the event id","amount":-1}"#,
        " [ 1 , { \"k\" : \"v\" } ] ",
    ])
    func unknownValuesOfEveryTypeAreSkipped(value: String) throws {
        let d = try #require(decoded(event(extra: "\"extra\":\(value)")))
        #expect(d.id == "tx-000193")
        // First and middle positions too.
        #expect(decoded("{\"extra\":\(value)," + contractExample.dropFirst()) != nil)
    }

    private func nested(_ levels: Int) -> String {
        var s = "1"
        for k in 0..<levels { s = k % 2 == 0 ? "[\(s)]" : "{\"k\":\(s)}" }
        return s
    }

    @Test func nestingUpToTheLimitIsFine() {
        // Event object = level 1, so an unknown value may open 31 more levels by default.
        #expect(decoded(event(extra: "\"deep\":\(nested(31))")) != nil)
        #expect(decoded(event(extra: "\"deep\":\(String(repeating: "[", count: 31))\(String(repeating: "]", count: 31))")) != nil)
    }

    @Test func nestingBeyondTheLimitIsTooDeep() {
        expectFailure(event(extra: "\"deep\":\(nested(32))"), .tooDeep(limit: 32))
        expectFailure(event(extra: "\"deep\":\(String(repeating: "[", count: 5000))"), .tooDeep(limit: 32))
        let limits = DecoderLimits(maxDepth: 3)
        #expect(decoded(event(extra: #""d":[{"k":1}]"#), limits: limits) != nil)
        expectFailure(event(extra: #""d":[{"k":[]}]"#), .tooDeep(limit: 3), limits: limits)
        expectFailure(event(extra: #""d":[1,2,[]]"#), .tooDeep(limit: 2), limits: DecoderLimits(maxDepth: 2))
    }

    @Test func depthCapIs256() {
        let limits = DecoderLimits(maxDepth: 10_000)
        #expect(decoded(event(extra: "\"deep\":\(nested(255))"), limits: limits) != nil)
        expectFailure(event(extra: "\"deep\":\(nested(256))"), .tooDeep(limit: 256), limits: limits)
    }

    @Test func malformedUnknownValues() {
        for value in ["[1,]", "[1 2]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "[", "{", "]", "}", "[}", "{]",
                      "'x'", "tru", "nul", "falsey", "True", "[1]]", "{\"a\" 1}", "{,}", "[,1]", "undefined"] {
            expectMalformed(event(extra: "\"extra\":\(value)"))
        }
    }

    @Test(arguments: ["id", "ts", "payer", "payee", "amount", "currency", "channel", "qr", "payee_kind", "payer_kind"])
    func duplicateKnownField(name: String) {
        let value = contractFields.first(where: { $0.0 == name })?.1
        let json = value.map { event(extra: "\"\(name)\":\($0)") }
            ?? event(extra: "\"\(name)\":\"merchant\",\"\(name)\":\"merchant\"")
        switch decode(json) {
        case .success: Issue.record("duplicate \(name) accepted")
        case .failure(let e): #expect(e.reason == "duplicate_field: \(name)")
        }
    }

    @Test func duplicateNullOptionalFieldIsStillDuplicate() {
        expectFailure(#"{"id":"x","ts":1,"payer":"A","payee":"B","amount":2,"qr":null,"qr":"q"}"#, .duplicateField("qr"))
    }

    @Test func duplicateUnknownFieldsAreIgnored() {
        #expect(decoded(event(extra: #""x":1,"x":2"#)) != nil)
    }

    @Test func fieldCountLimit() {
        let extras = (0..<(256 - contractFields.count)).map { "\"f\($0)\":\($0)" }.joined(separator: ",")
        #expect(decoded(event(extra: extras)) != nil)
        expectFailure(event(extra: extras + ",\"one_more\":0"), .tooManyFields(limit: 256))
        expectFailure(event(extra: #""a":1"#), .tooManyFields(limit: 9), limits: DecoderLimits(maxFields: 9))
    }

    @Test func oversizedIsRejectedBeforeParsing() {
        let limits = DecoderLimits(maxEventBytes: 100)
        expectFailure(String(repeating: "x", count: 101), .oversized(bytes: 101, limit: 100), limits: limits)
        expectFailure(contractExample, .oversized(bytes: contractExample.utf8.count, limit: 100), limits: limits)
        let big = event(extra: "\"pad\":\"\(string(64 * 1024))\"")
        expectFailure(big, .oversized(bytes: big.utf8.count, limit: 65_536))
        // Exactly at the limit is fine.
        let exact = DecoderLimits(maxEventBytes: contractExample.utf8.count)
        #expect(decoded(contractExample, limits: exact) != nil)
    }
}

// MARK: Syntax, truncation, UTF-8

@Suite("Event decoder: syntax and bytes")
struct SyntaxTests {
    @Test func emptyAndBlankInput() {
        expectFailure("", .malformedJSON(offset: 0, detail: "empty input"))
        expectFailure(" \n", .malformedJSON(offset: 2, detail: "unexpected end of input"))
        expectFailure("[]", .malformedJSON(offset: 0, detail: "expected '{' at start of event"))
        expectFailure("null", .malformedJSON(offset: 0, detail: "expected '{' at start of event"))
        expectFailure(#""id""#, .malformedJSON(offset: 0, detail: "expected '{' at start of event"))
    }

    @Test func everyStrictPrefixIsTruncatedJSON() {
        let full = Array(contractExample.utf8)
        for n in 0..<full.count {
            switch decode(Array(full[0..<n])) {
            case .success: Issue.record("prefix of \(n) bytes decoded")
            case .failure(let e):
                let expected = n == 0 ? "empty input" : "unexpected end of input"
                let ok = e == .malformedJSON(offset: n, detail: "unexpected end of input")
                    || e == .malformedJSON(offset: n, detail: "unterminated string")
                    || (n == 0 && e == .malformedJSON(offset: 0, detail: "empty input"))
                #expect(ok, "prefix \(n): \(e.reason) (expected \(expected) at \(n))")
            }
        }
    }

    @Test func everyPrefixOfAPrettyEventThrows() {
        let pretty = Array("""
        {
          "id" : "tx-1", "ts" : "2025-11-24T10:07:01.120+08:00",
          "payer" : "账户", "payee" : "B", "amount" : 12.5, "tags" : [ true, null, { "x" : -1.5e3 } ]
        }

        """.utf8)
        #expect(decoded(pretty) != nil)
        let end = pretty.lastIndex(of: UInt8(ascii: "}"))!
        for n in 0...end {
            if case .success = decode(Array(pretty[0..<n])) { Issue.record("prefix of \(n) bytes decoded") }
        }
    }

    @Test func whitespaceVariants() {
        for text in [
            contractExample + "\n", contractExample + "\r\n", "\n\t " + contractExample + " \t\r\n\n",
            #"{ "id" : "x" , "ts" : 1 , "payer" : "A" , "payee" : "B" , "amount" : 1 }"#,
            "{\n\t\"id\":\"x\",\r\n\"ts\":1,\"payer\":\"A\",\"payee\":\"B\",\"amount\":1\n}\n",
        ] {
            #expect(decoded(text) != nil)
        }
        // Only JSON's four whitespace bytes count.
        expectMalformed("\u{0B}" + contractExample)
        expectMalformed(contractExample + "\u{0C}")
        expectMalformed(contractExample + "\u{A0}")
        expectMalformed([0xEF, 0xBB, 0xBF] + Array(contractExample.utf8))  // BOM
    }

    @Test func trailingGarbage() {
        let n = contractExample.utf8.count
        expectFailure(contractExample + "x", .malformedJSON(offset: n, detail: "unexpected bytes after the event object"))
        expectFailure(contractExample + "\n{}", .malformedJSON(offset: n + 1, detail: "unexpected bytes after the event object"))
        expectFailure(contractExample + "\n" + contractExample, .malformedJSON(offset: n + 1, detail: "unexpected bytes after the event object"))
        expectMalformed(contractExample + ",")
        expectMalformed(contractExample + "}")
        expectMalformed(contractExample + "\u{0}")
    }

    @Test func structuralErrors() {
        expectMalformed(#"{"id":"x","ts":1,"payer":"A","payee":"B","amount":1,}"#)  // trailing comma
        expectMalformed(#"{"id":"x" "ts":1}"#)
        expectMalformed(#"{"id" "x"}"#)
        expectMalformed(#"{id:"x"}"#)
        expectMalformed(#"{'id':'x'}"#)
        expectMalformed(#"{,"id":"x"}"#)
        expectMalformed(#"{"id":"x",,"ts":1}"#)
        expectMalformed(#"{"id":"x"]"#)
        expectMalformed(#"{"id":"x"}}"#)
        expectMalformed(#"{"id":}"#)
        expectMalformed(#"{/*c*/"id":"x"}"#)
        expectMalformed([0x7B, 0xC3, 0xA9, 0x7D])  // non-ASCII outside strings
    }

    @Test func invalidUTF8InAKnownField() {
        var bytes = Array(#"{"id":"tx-1","ts":1,"payer":"A-"#.utf8)
        let offset = bytes.count
        bytes += [0xFF] + Array(#"","payee":"B","amount":1}"#.utf8)
        expectFailure(bytes, .invalidUTF8(offset: offset))
    }

    @Test func invalidUTF8InAnUnknownFieldValueAndName() {
        var bytes = Array(#"{"id":"tx-1","note":"ok "#.utf8)
        let offset = bytes.count
        bytes += [0xC3, 0x28] + Array(#"","ts":1,"payer":"A","payee":"B","amount":1}"#.utf8)
        expectFailure(bytes, .invalidUTF8(offset: offset))
        var name = Array(#"{"id":"tx-1",""#.utf8)
        let nameOffset = name.count
        name += [0x80] + Array(#"":1,"ts":1,"payer":"A","payee":"B","amount":1}"#.utf8)
        expectFailure(name, .invalidUTF8(offset: nameOffset))
    }

    @Test(arguments: [
        [0xC0, 0xAF],  // overlong "/"
        [0xC1, 0xBF],  // overlong
        [0xE0, 0x80, 0xAF],  // overlong 3-byte
        [0xF0, 0x80, 0x80, 0xAF],  // overlong 4-byte
        [0xED, 0xA0, 0x80],  // UTF-16 surrogate U+D800
        [0xED, 0xBF, 0xBF],  // surrogate U+DFFF
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],
        [0xFE], [0xFF], [0x80], [0xBF],  // invalid lead / stray continuation
        [0xE2, 0x82],  // truncated before the closing quote
        [0xE2, 0x28, 0xA1],
        [0xF0, 0x9F, 0x98],
        [0xC3, 0xC3, 0xA9],
    ] as [[UInt8]])
    func invalidUTF8Sequences(sequence: [UInt8]) {
        let head = Array(#"{"id":"tx-1","ts":1,"payer":"A","payee":"B","amount":1,"n":"ab"#.utf8)
        expectFailure(head + sequence + Array(#""}"#.utf8), .invalidUTF8(offset: head.count))
    }

    @Test(arguments: [
        [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],
        [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xE2, 0x82, 0xAC],
    ] as [[UInt8]])
    func validUTF8Boundaries(sequence: [UInt8]) throws {
        let head = Array(#"{"id":"tx-1","ts":1,"payer":"A"#.utf8)
        let d = try #require(decoded(head + sequence + Array(#"","payee":"B","amount":1}"#.utf8)))
        #expect(Array(d.payer.utf8) == [0x41] + sequence)
    }

    @Test func specialByteMaskFindsTheFirstSpecialByteExactly() {
        func isSpecial(_ v: UInt8) -> Bool { v == 0x22 || v == 0x5C || v < 0x20 || v >= 0x80 }
        func word(_ bytes: [UInt8]) -> UInt64 {
            bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << UInt64(8 * $1.offset) }
        }
        for p in 0..<8 {
            for v in 0...255 {
                var bytes = [UInt8](repeating: 0x61, count: 8)
                bytes[p] = UInt8(v)
                let mask = JSONCursor.specialBytes(word(bytes))
                #expect((mask != 0) == isSpecial(UInt8(v)))
                if mask != 0 { #expect(mask.trailingZeroBitCount / 8 == p) }
                // Any later special byte must not move the first hit.
                for q in (p + 1)..<9 where q < 8 {
                    for later: UInt8 in [0x00, 0x1F, 0x22, 0x5C, 0x80, 0xFF] where isSpecial(UInt8(v)) {
                        var two = bytes
                        two[q] = later
                        #expect(JSONCursor.specialBytes(word(two)).trailingZeroBitCount / 8 == p)
                    }
                }
            }
        }
    }

    @Test func longASCIIAndMixedStringsCrossTheEightByteFastPath() throws {
        // Specials at every position relative to an 8-byte block.
        for k in 0..<17 {
            let pad = string(k, "a")
            let d = try #require(decoded(event(["payer": "\"\(pad)é\(pad)\""])))
            #expect(d.payer == "\(pad)é\(pad)")
            expectMalformed(event(["payer": "\"\(pad)\u{1F}\(pad)\""]))
            #expect(decoded(event(extra: "\"n\":\"\(pad)\\\"\(pad)\"")) != nil)
        }
    }
}

// MARK: Robustness


@Suite("Event decoder: robustness")
struct RobustnessTests {
    private func check(_ bytes: [UInt8]) {
        if case .success(let t) = decode(bytes) {
            // Whatever decodes must have spans inside the buffer.
            for span in [t.id, t.payer, t.payee, t.qr] {
                #expect(span.start >= 0 && Int(span.start) + Int(span.count) <= bytes.count)
            }
            #expect(t.amount.units > 0 && t.amount <= Money.maxEventAmount)
        }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SeededRandom(state: 0x5EED)
        let alphabet = Array(#"{}[]:,"\ ubnrtfl0123456789.-+eE"#.utf8) + [0x80, 0xC3, 0xA9, 0xF0, 0xFF, 0x0A]
        for round in 0..<10_000 {
            let n = Int.random(in: 0...200, using: &rng)
            var bytes = [UInt8](repeating: 0, count: n)
            for k in 0..<n {
                bytes[k] = round % 2 == 0 ? UInt8.random(in: 0...255, using: &rng) : alphabet.randomElement(using: &rng)!
            }
            check(bytes)
        }
    }

    @Test func mutatedEventsNeverCrash() {
        var rng = SeededRandom(state: 42)
        let base = Array((contractExample + "\n").utf8)
        let interesting = Array(#"{}[]:,"\0123456789.-eEtfnu "#.utf8) + [0x80, 0xC3, 0xE2, 0xF0, 0xFF, 0x00, 0x1F]
        var decodedCount = 0
        for _ in 0..<10_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = interesting.randomElement(using: &rng)!
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(interesting.randomElement(using: &rng)!, at: at)
                default: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                }
                if bytes.isEmpty { break }
            }
            if case .success = decode(bytes) { decodedCount += 1 }
            check(bytes)
        }
        // Sanity: some mutations (inside string values) still decode.
        #expect(decodedCount > 0)
    }
}

// MARK: Money

@Suite("Money decimal text")
struct MoneyTextTests {
    @Test(arguments: [
        ("0", 0), ("1250", 12_500_000), ("1250.5", 12_505_000), ("1250.00", 12_500_000), ("0.0125", 125),
        ("0.0001", 1), ("007", 70_000), ("922337203685477.5807", Int64.max),
    ] as [(String, Int64)])
    func parsesPlainDecimals(text: String, units: Int64) {
        #expect(Money(decimal: text) == Money(units: units))
    }

    @Test(arguments: ["", ".", "1.", ".5", "-1", "+1", "1e3", "1.23456", "1,5", " 1", "1 ", "1.2.3", "abc",
                      "922337203685477.5808", "99999999999999999999"])
    func rejectsEverythingElse(text: String) {
        #expect(Money(decimal: text) == nil)
    }

    @Test(arguments: [
        (0, "0.00"), (1, "0.0001"), (125, "0.0125"), (12_500_000, "1250.00"), (12_505_000, "1250.50"),
        (123_456, "12.3456"), (-12_345, "-1.2345"), (Int64.max, "922337203685477.5807"),
    ] as [(Int64, String)])
    func describesWithTwoToFourFractionDigits(units: Int64, text: String) {
        #expect(Money(units: units).description == text)
    }

    @Test func descriptionRoundTrips() {
        var rng = SeededRandom(state: 7)
        for _ in 0..<5_000 {
            let units = Int64.random(in: 0...Money.maxEventAmount.units, using: &rng)
            let money = Money(units: units)
            #expect(Money(decimal: money.description) == money)
        }
        for units: Int64 in [0, 1, 9, 10, 99, 100, 9_999, 10_000, 10_001, Money.maxEventAmount.units] {
            #expect(Money(decimal: Money(units: units).description) == Money(units: units))
        }
    }
}

// MARK: Fast paths

/// The word-at-a-time fast paths against the general code they short-cut: wherever a fast path
/// answers, the general path gives the same answer and leaves the cursor in the same place.
@Suite("Event decoder: fast paths")
struct FastPathTests {
    /// Plain lower-case strings of every length up to `maxLength`, and each of them with each of
    /// its bytes replaced by each of `odd`.
    func stringsWithOddBytes(upTo maxLength: Int, _ odd: [[UInt8]]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for length in 0...maxLength {
            let plain = (0..<length).map { UInt8(0x61 + $0 % 26) }
            out.append(plain)
            for k in 0..<length {
                for bad in odd { out.append(Array(plain[..<k]) + bad + Array(plain[(k + 1)...])) }
            }
        }
        return out
    }

    /// Every known field name, and near misses of each: one byte flipped (to another letter,
    /// upper case, non-ASCII), its prefixes, one byte written as a `\u` escape, one byte more,
    /// and the name twice.
    func knownNamesAndNearMisses() -> [[UInt8]] {
        var names: [[UInt8]] = []
        for f in Field.allCases {
            let name = Array(f.name.description.utf8)
            names.append(name)
            for k in name.indices {
                for flip: UInt8 in [0x01, 0x20, 0x80] {
                    var near = name
                    near[k] ^= flip
                    names.append(near)
                }
                names.append(Array(name[..<k]))
                names.append(Array(name[..<k]) + [0x5C, 0x75, 0x30, 0x30, 0x36, 0x31] + Array(name[(k + 1)...]))  // \u0061
            }
            names.append(name + [0x5F])
            names.append(name + name)
        }
        return names
    }

    /// `Field.scanPlainName`, the word-at-a-time fast path, against the general scan it short-cuts
    /// (`scanString` + `match`/`matchEscaped`): same field, same cursor, same error, for names of
    /// every length up to 20 (known names, near misses, escapes, control and non-ASCII bytes at
    /// each position) and with 0…20 bytes after the closing quote (the fast path needs 16).
    @Test func fieldNameFastPath() {
        let names = knownNamesAndNearMisses() + stringsWithOddBytes(upTo: 20, [[0x0A], [0xC3, 0xA9], [0xFF], [0x5C, 0x6E], [0x5C, 0x78]])
        for name in names {
            for tail in 0...20 {
                let bytes: [UInt8] = [0x22] + name + [0x22] + Array(repeating: 0x3A, count: tail)
                bytes.withUnsafeBytes { raw in
                    var slow = JSONCursor(base: raw.baseAddress!, count: raw.count)
                    var field: Field?
                    let next = Field.scanPlainName(slow.base, from: 1, end: slow.end, field: &field)
                    let general = Result { () throws(DecodeError) -> Field? in try Field.scanNameGeneral(&slow) }
                    if next >= 0 {
                        #expect(general == .success(field), "name \(name) tail \(tail)")
                        #expect(next == slow.i, "name \(name) tail \(tail)")
                    } else {
                        // Only what the fast path cannot see may fall back.
                        #expect(name.count + 1 + tail < 16 || name.count > 15 || name.contains { $0 < 0x20 || $0 >= 0x80 || $0 == 0x5C })
                    }
                }
            }
        }
    }

    /// `Field.scanKnownMember`, the known-name-and-colon fast path, against the general path it
    /// short-cuts (`scanNameGeneral`, then whitespace and the colon): same field, same cursor,
    /// for every known name, near misses, prefixes, escapes and names spaced from their colon,
    /// with 0…20 bytes after the colon; and it must answer for every known name written plainly.
    @Test func knownMemberFastPath() {
        let names = knownNamesAndNearMisses() + stringsWithOddBytes(upTo: 12, [[0x0A], [0xC3, 0xA9], [0x5C, 0x6E]])
        for name in names {
            for separator: [UInt8] in [[0x22, 0x3A], [0x22, 0x20, 0x3A], [0x22, 0x2C], [0x22], [0x3A], [0x22, 0x22]] {
                for tail in 0...20 {
                    let bytes: [UInt8] = [0x22] + name + separator + Array(repeating: 0x31, count: tail)
                    bytes.withUnsafeBytes { raw in
                        var slow = JSONCursor(base: raw.baseAddress!, count: raw.count)
                        let known = Field.scanKnownMember(slow.base, from: 1, end: slow.end)
                        let general = Result { () throws(DecodeError) -> Field? in
                            let f = try Field.scanNameGeneral(&slow)
                            slow.skipWhitespace()
                            try slow.expect(0x3A, "expected ':' after field name")
                            return f
                        }
                        if let (field, next) = known {
                            #expect(general == .success(field), "name \(name) separator \(separator) tail \(tail)")
                            #expect(next == slow.i, "name \(name) separator \(separator) tail \(tail)")
                        } else {
                            // Only what the fast path leaves to the others may fall back.
                            let plainKnown = Field.allCases.contains { Array($0.name.description.utf8) == name }
                            #expect(!plainKnown || separator != [0x22, 0x3A] || bytes.count < 17, "name \(name) tail \(tail)")
                        }
                    }
                }
            }
        }
    }

    /// `EventDecoder.shortAmount` against `scanString` + `Money.parseDecimal`: same amount, same
    /// cursor, for decimal strings with 0…9 whole and 0…6 fraction digits, near misses (signs,
    /// exponents, doubled dots, spaces, escapes) and 0…16 bytes after the closing quote.
    @Test func amountFastPath() {
        var texts: [String] = ["", ".", "5.", ".5", "1..2", "1.2.3", "-1", "+1", "1e3", "1E3", "1 ", " 1", "1\\u0030", "١", "1a", "0x1"]
        for whole in 0...9 {
            for fraction in -1...6 {
                let w = String((0..<whole).map { Character(String(($0 * 7 + 1) % 10)) })
                let f = fraction < 0 ? "" : "." + String((0..<max(fraction, 0)).map { Character(String(($0 * 3 + 5) % 10)) })
                texts.append(w + f)
                texts.append(String(repeating: "0", count: whole) + f)
                texts.append(String(repeating: "9", count: whole) + String(f.map { $0 == "5" ? "9" : $0 }))
            }
        }
        for text in texts {
            for tail in 0...16 {
                let bytes: [UInt8] = Array(text.utf8) + [0x22] + Array(repeating: 0x7D, count: tail)
                bytes.withUnsafeBytes { raw in
                    guard let (money, next) = EventDecoder.shortAmount(raw.baseAddress!, from: 0, end: raw.count) else {
                        // Only what the fast path cannot see may fall back.
                        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
                        let usual = text.allSatisfy { $0 == "." || $0.isASCII && $0.isNumber } && parts.count <= 2
                            && (1...7).contains(parts[0].count) && (parts.count == 1 || (1...4).contains(parts[1].count))
                        #expect(!usual || raw.count < 16, "\(text) tail \(tail)")
                        return
                    }
                    // The general path: the string from its opening quote, then the parser.
                    let quoted: [UInt8] = [0x22] + bytes
                    quoted.withUnsafeBytes { q in
                        var cur = JSONCursor(base: q.baseAddress!, count: q.count)
                        let general = Result { () throws(DecodeError) -> JSONCursor.StringRange in try cur.scanString() }
                        guard case .success(let r) = general, !r.escaped else {
                            Issue.record("fast path read \(text), scanString refused it")
                            return
                        }
                        #expect(Money.parseDecimal(UnsafeRawBufferPointer(start: q.baseAddress! + r.start, count: r.count)) == money, "\(text)")
                        #expect(cur.i == next + 1, "\(text) tail \(tail)")
                    }
                }
            }
        }
    }

    /// `JSONCursor.shortPlainString` (at most 8 bytes, packed) and `shortPlainRange` (at most 15)
    /// against `scanString` (+ `packLittleEndian`): same bytes, same cursor, for strings of every
    /// length up to 20 with odd bytes at each position and 0…20 bytes after the closing quote.
    @Test func shortStringFastPaths() {
        let odd: [[UInt8]] = [[0x09], [0x1F], [0xC3, 0xA9], [0x80], [0xFF], [0x5C, 0x6E], [0x5C, 0x78], [0x5C, 0x75, 0x30, 0x30, 0x34, 0x31], [0x22]]
        for string in stringsWithOddBytes(upTo: 20, odd) {
            let plain = !string.contains { $0 < 0x20 || $0 >= 0x80 || $0 == 0x5C || $0 == 0x22 }
            for tail in 0...20 {
                let bytes: [UInt8] = [0x22] + string + [0x22] + Array(repeating: 0x7D, count: tail)
                bytes.withUnsafeBytes { raw in
                    let start = JSONCursor(base: raw.baseAddress!, count: raw.count)
                    var slow = start, short = start, ranged = start
                    let general = try? slow.scanString()
                    if let (count, word) = short.shortPlainString() {
                        #expect(general?.escaped == false && general?.count == count && slow.i == short.i, "\(string) tail \(tail)")
                        #expect(general.map { packLittleEndian(slow.base, $0.start, $0.count, limit: slow.end) } == word, "\(string) tail \(tail)")
                    } else {
                        // Only what the fast path cannot see may fall back.
                        #expect(short.i == 0 && (!plain || string.count > 8 || string.count + tail < 8), "\(string) tail \(tail)")
                    }
                    if let range = ranged.shortPlainRange() {
                        #expect(general?.escaped == false && general?.start == range.start && general?.end == range.end && slow.i == ranged.i,
                                "\(string) tail \(tail)")
                    } else {
                        #expect(ranged.i == 0 && (!plain || string.count > 15 || string.count + tail < 15), "\(string) tail \(tail)")
                    }
                }
            }
        }
    }

    /// `JSONCursor.plainInteger` against `scanNumber` and the digit loop of `eventTime`.
    @Test func plainIntegerFastPath() {
        var numbers: [String] = []
        for length in 1...18 {
            numbers.append(String(repeating: "9", count: length))
            numbers.append("1" + String(repeating: "0", count: length - 1))
            numbers.append(String((0..<length).map { Character(String(($0 * 7 + 3) % 10)) }))
        }
        numbers += ["1764000000123", "253402300799999", "253402300800000", "0123456789", "-1764000000123",
                    "1764000000123.5", "1764000000123e3", "17640000001:3", "1764000000123x", "17640a00000123"]
        for number in numbers {
            for delimiter in [",", "}", "]", " ", "\n", "\r", "\t", ".", "e", "E", "x", "\"", "0"] {
                for pad in 0...8 {
                    let text = number + delimiter + String(repeating: " ", count: pad)
                    Array(text.utf8).withUnsafeBytes { raw in
                        var cur = JSONCursor(base: raw.baseAddress!, count: raw.count)
                        guard let (value, next) = JSONCursor.plainInteger(cur.base, from: 0, end: cur.end) else {
                            // Only what the fast path cannot see may fall back.
                            let plain = number.count >= 8 && number.count <= 15 && number.first != "0"
                                && number.allSatisfy(\.isNumber) && ",}] \n\r\t".contains(delimiter)
                            #expect(!plain || raw.count < 16, "\(text)")
                            return
                        }
                        let general = Result { () throws(DecodeError) -> JSONCursor.NumberRange in try cur.scanNumber() }
                        guard case .success(let num) = general else {
                            Issue.record("fast path read \(text), scanNumber refused it")
                            return
                        }
                        #expect(!num.negative && num.fractionDigits == 0 && !num.exponent, "\(text)")
                        #expect(num.end == next, "\(text)")
                        var v: Int64 = 0
                        for k in num.start..<num.end { v = v &* 10 &+ Int64(cur.at(k) &- 0x30) }
                        #expect(v == value, "\(text)")
                    }
                }
            }
        }
    }
}
