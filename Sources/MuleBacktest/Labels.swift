import Foundation

/// Ground truth for evaluation (CONTRACTS.md §3): CSV with header `account,is_mule`, extra
/// columns ignored; accounts not listed are not mules.
public struct Labels: Sendable {
    public var mules: Set<String>
    /// Optional `role` column (simulator output), by account.
    public var roles: [String: String]
    public var listed: Int

    public init(mules: Set<String>, roles: [String: String] = [:], listed: Int? = nil) {
        self.mules = mules
        self.roles = roles
        self.listed = listed ?? mules.count
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    public static func load(path: String) throws -> Labels {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ParseError(file: path, line: 0, message: "cannot read the labels file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public static func parse(_ text: String, file: String = "labels") throws -> Labels {
        var mules = Set<String>()
        var roles: [String: String] = [:]
        var listed = 0
        var roleColumn: Int?
        // "\r\n" is one Character in Swift, so split on newline characters, not on "\n".
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let cols = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if i == 0 {
                guard cols.count >= 2, cols[0] == "account", cols[1] == "is_mule" else {
                    throw ParseError(file: file, line: 1, message: "header must start with `account,is_mule`, got `\(line)`")
                }
                roleColumn = cols.firstIndex(of: "role")
                continue
            }
            if line.isEmpty { continue }
            guard cols.count >= 2, !cols[0].isEmpty else {
                throw ParseError(file: file, line: i + 1, message: "expected `account,is_mule`, got `\(line)`")
            }
            listed += 1
            switch cols[1] {
            case "1", "true": mules.insert(cols[0])
            case "0", "false": break
            default: throw ParseError(file: file, line: i + 1, message: "is_mule must be 0 or 1, got `\(cols[1])`")
            }
            if let rc = roleColumn, rc < cols.count { roles[cols[0]] = cols[rc] }
        }
        return Labels(mules: mules, roles: roles, listed: listed)
    }
}

/// Precision, recall and F1 of a set of flagged accounts against labels.
public struct Score: Sendable, Equatable {
    public var flagged: Int
    public var truePositives: Int
    public var falsePositives: Int
    public var mules: Int

    public init(flagged: Set<String>, labels: Labels) {
        self.flagged = flagged.count
        truePositives = flagged.intersection(labels.mules).count
        falsePositives = self.flagged - truePositives
        mules = labels.mules.count
    }

    public var precision: Double { flagged == 0 ? 0 : Double(truePositives) / Double(flagged) }
    public var recall: Double { mules == 0 ? 0 : Double(truePositives) / Double(mules) }
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
}
