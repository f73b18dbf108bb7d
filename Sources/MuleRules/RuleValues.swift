import MuleCore

/// Why one scalar value in a rule file is not acceptable, in words (the field path and
/// location are added by the caller).
package struct ValueProblem: Error, Equatable {
    package var message: String
    package init(_ message: String) { self.message = message }
}

/// Parsing of the scalar kinds rule files use: durations, counts, amounts and plain numbers.
/// Each accepts only the spellings the rule-file format documents, so a typo is an error
/// rather than a silently different threshold.
package enum RuleValues {
    static let day: Int64 = 86_400_000
    /// Largest count a rule may compare against; more is a typo, not a threshold.
    static let maxCount: Int64 = 1_000_000_000

    /// `500ms`, `90s`, `15m`, `2h`, `1d` → milliseconds. Rejects bare numbers (with the list of
    /// units), other spellings, and values that overflow.
    package static func durationMillis(_ text: String) throws(ValueProblem) -> Int64 {
        switch DurationText.parse(text) {
        case .success(let millis):
            return millis
        case .failure(.bareNumber):
            throw ValueProblem("must be a duration with a unit (ms, s, m, h or d), like 90s or 15m; got the bare number \(shown(text))")
        case .failure(.notADuration):
            throw ValueProblem("must be a duration like 90s, 15m, 2h or 1d, got `\(shown(text))`")
        case .failure(.tooLarge):
            throw ValueProblem("is too large, got `\(shown(text))`")
        }
    }

    /// The shortest exact spelling of a duration: 7200000 → `2h`, 1500 → `1500ms`.
    static func formatDuration(_ millis: Int64) -> String {
        DurationText.format(milliseconds: millis)
    }

    /// A non-negative whole number written as a plain YAML integer.
    package static func count(_ text: String) throws(ValueProblem) -> Int64 {
        var body = Substring(text)
        let negative = body.first == "-"
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ValueProblem("must be a whole number like 5, got `\(shown(text))`")
        }
        if negative && body.contains(where: { $0 != "0" }) {
            throw ValueProblem("must not be negative, got \(shown(text))")
        }
        guard let value = Int64(body), value <= maxCount else {
            throw ValueProblem("is too large, got \(shown(text)) (at most \(maxCount))")
        }
        return value
    }

    /// An amount in currency units, at most four decimal places, parsed exactly with
    /// `Money.parseDecimal` and then converted to `Double` (exact for the integer part, and the
    /// nearest double to the written decimal).
    static func amount(_ text: String) throws(ValueProblem) -> Double {
        if text.hasPrefix("-") {
            throw ValueProblem("must not be negative, got \(shown(text))")
        }
        if let money = Money(decimal: text) {
            return Double(money.units) / Double(Money.scale)
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let isDecimal = (parts.count == 1 || parts.count == 2) && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
        if isDecimal && parts.count == 2 && parts[1].count > 4 {
            throw ValueProblem("has more than 4 decimal places, got \(shown(text))")
        }
        if isDecimal {
            throw ValueProblem("is too large, got \(shown(text))")
        }
        throw ValueProblem("must be an amount in currency units like 1000 or \"500.50\", got `\(shown(text))`")
    }

    /// A plain decimal number (`0.9`, `-0.25`, `1`, `5e-3`) within `range`. `.nan`, `.inf` and
    /// anything that overflows fall outside every range and are rejected.
    static func number(_ text: String, in range: ClosedRange<Double>) throws(ValueProblem) -> Double {
        let rangeText = "between \(plain(range.lowerBound)) and \(plain(range.upperBound))"
        guard isPlainNumber(text), let value = Double(text) else {
            throw ValueProblem("must be a number \(rangeText), got `\(shown(text))`")
        }
        guard value.isFinite, range.contains(value) else {
            throw ValueProblem("must be \(rangeText), got \(shown(text))")
        }
        return value
    }

    /// `[-+]digits[.digits][e[-+]digits]` or `[-+].digits…`: what people write for numbers,
    /// without YAML's `.inf`/`.nan`, hex, octal or underscores.
    private static func isPlainNumber(_ text: String) -> Bool {
        var chars = Substring(text)
        if chars.first == "-" || chars.first == "+" { chars = chars.dropFirst() }
        let whole = chars.prefix { $0.isASCII && $0.isNumber }
        chars = chars.dropFirst(whole.count)
        var fraction = Substring("")
        if chars.first == "." {
            chars = chars.dropFirst()
            fraction = chars.prefix { $0.isASCII && $0.isNumber }
            chars = chars.dropFirst(fraction.count)
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return false }
        if chars.first == "e" || chars.first == "E" {
            chars = chars.dropFirst()
            if chars.first == "-" || chars.first == "+" { chars = chars.dropFirst() }
            let exponent = chars.prefix { $0.isASCII && $0.isNumber }
            guard !exponent.isEmpty else { return false }
            chars = chars.dropFirst(exponent.count)
        }
        return chars.isEmpty
    }

    /// `1.0` → `1`, `-1.0` → `-1`, `0.5` → `0.5`: numbers as a person would write them.
    static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// A value quoted back in a message, cut short so a hostile file cannot flood the output.
    package static func shown(_ text: String) -> String {
        text.count > 40 ? String(text.prefix(40)) + "…" : text
    }
}
