import Foundation
import MuleCore

/// Reads an analyst's snooze file: CSV with the header `account,rule,until,reason`, one snooze
/// per line. `rule` is a rule id (any version) or `*` for every rule; `until` is an RFC 3339
/// date-time or a date (`2026-12-31` = midnight UTC), compared with the alert's event time;
/// `reason` is the rest of the line (it may contain commas) and must not be empty.
public enum SnoozeFile {
    /// A problem located at a line of the file.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public var file: String
        public var line: Int
        public var message: String
        public var description: String { "\(file):\(line): \(message)" }

        public init(file: String, line: Int, message: String) {
            self.file = file
            self.line = line
            self.message = message
        }
    }

    public static func load(path: String) throws(Problem) -> [Snooze] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(file: path, line: 0, message: "cannot read the snooze file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Problem(file: path, line: 0, message: "the file is not valid UTF-8 text")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String = "snoozes") throws(Problem) -> [Snooze] {
        var out: [Snooze] = []
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let n = i + 1
            if i == 0 {
                guard line.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }).prefix(4)
                        == ["account", "rule", "until", "reason"] else {
                    throw Problem(file: file, line: 1, message: "header must be `account,rule,until,reason`, got `\(line)`")
                }
                continue
            }
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            let cols = line.split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cols.count == 4 else {
                throw Problem(file: file, line: n, message: "expected 4 columns `account,rule,until,reason`, got \(cols.count)")
            }
            guard !cols[0].isEmpty, cols[0].utf8.count <= 128 else {
                throw Problem(file: file, line: n, message: "account must be 1–128 bytes")
            }
            guard !cols[1].isEmpty else {
                throw Problem(file: file, line: n, message: "rule must be a rule id or `*` for every rule")
            }
            guard let until = parseTimestamp(cols[2]) else {
                throw Problem(file: file, line: n, message: "until must be a date like 2026-12-31 or an RFC 3339 time like 2026-12-31T18:00:00+08:00, got `\(cols[2])`")
            }
            guard !cols[3].isEmpty else {
                throw Problem(file: file, line: n, message: "reason must not be empty: say why the account is cleared")
            }
            out.append(Snooze(account: cols[0], ruleId: cols[1] == "*" ? nil : cols[1], untilMillis: until, reason: cols[3]))
        }
        return out
    }
}
