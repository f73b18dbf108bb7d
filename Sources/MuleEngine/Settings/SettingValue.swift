import MuleCore
import MuleKafka
import MuleRules

/// A setting's value once read and checked.
public enum SettingValue: Sendable, Equatable {
    case text(String)
    case list([String])
    case millis(Int64)
    case integer(Int64)
    case flag(Bool)

    /// The value as its source would spell it (durations in their shortest exact form).
    public var text: String {
        switch self {
        case .text(let s): s
        case .list(let l): l.joined(separator: ",")
        case .millis(let ms): DurationText.format(milliseconds: ms)
        case .integer(let n): String(n)
        case .flag(let b): b ? "true" : "false"
        }
    }
}

/// Where a setting's value came from, lowest precedence first: default < file < environment < flag.
public enum SettingOrigin: Sendable, Equatable, CustomStringConvertible {
    case defaultValue
    case file(path: String, line: Int, column: Int)
    /// A librdkafka properties file (`--kafka-config`).
    case propertiesFile(String)
    case environment(String)
    case flag(String)

    /// Rank in the order of precedence (a higher rank wins).
    public var rank: Int {
        switch self {
        case .defaultValue: 0
        case .propertiesFile: 1
        case .file: 2
        case .environment: 3
        case .flag: 4
        }
    }

    public var description: String {
        switch self {
        case .defaultValue: "default"
        case .file(let path, let line, _): "file \(path):\(line)"
        case .propertiesFile(let path): "kafka config file \(path)"
        case .environment(let name): "env \(name)"
        case .flag(let name): "flag \(name)"
        }
    }
}

extension SettingKind {
    /// Reads one value's text (from a file, a variable or a flag: the same rules and messages).
    func read(_ text: String) throws(ValueProblem) -> SettingValue {
        switch self {
        case .text:
            guard !text.isEmpty else { throw ValueProblem("must not be empty") }
            return .text(text)
        case .addresses:
            return try Self.addresses(text.split(separator: ",", omittingEmptySubsequences: false).map { trim($0) })
        case .hostPort:
            // The same reading `run --http` serves with: HOST:PORT, [IPv6]:PORT or PORT alone.
            if case .failure(let e) = OpsAddress.parse(text) { throw ValueProblem(e.why) }
            return .text(text)
        case .duration(let allowZero):
            let ms = try RuleValues.durationMillis(text)
            if ms == 0 && !allowZero { throw ValueProblem("must be longer than 0, got `\(RuleValues.shown(text))`") }
            return .millis(ms)
        case .integer(let range):
            let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw ValueProblem("must be a whole number like \(range.lowerBound), got `\(RuleValues.shown(text))`")
            }
            guard let n = Int64(text), range.contains(n) else {
                throw ValueProblem("must be between \(range.lowerBound) and \(range.upperBound), got \(RuleValues.shown(text))")
            }
            return .integer(n)
        case .choice(let words):
            guard words.contains(text) else {
                let hint = Suggestion.closest(to: text, in: words).map { " (did you mean `\($0)`?)" } ?? ""
                throw ValueProblem("must be one of \(words.joined(separator: ", ")), got `\(RuleValues.shown(text))`\(hint)")
            }
            return .text(text)
        case .flag:
            switch text.lowercased() {
            case "true", "yes", "on", "1": return .flag(true)
            case "false", "no", "off", "0": return .flag(false)
            default: throw ValueProblem("must be true or false, got `\(RuleValues.shown(text))`")
            }
        case .properties:
            // Properties are read key by key by each source, never as one text.
            throw ValueProblem("must be a mapping of librdkafka properties")
        }
    }

    /// A list of `host:port` entries (a YAML list, or the parts of a comma-separated text).
    static func addresses(_ parts: [String]) throws(ValueProblem) -> SettingValue {
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
            throw ValueProblem("must list host:port addresses separated by commas, with none empty")
        }
        if let bad = parts.first(where: { $0.contains(where: \.isWhitespace) }) {
            throw ValueProblem("an address must not contain spaces, got `\(RuleValues.shown(bad))`")
        }
        return .list(parts)
    }
}
