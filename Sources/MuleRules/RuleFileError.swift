/// One problem in a rule file, located precisely, in words a risk analyst can act on:
/// `Rules/x.yaml:12:7: conditions.all[1].pass_through.min: must be between 0 and 1, got 1.5`.
///
/// `line` and `column` are 1-based (columns count Unicode characters, as YAML does). Problems
/// about a whole file or folder (unreadable, too large, no rule files) carry line and column 0.
/// `field` is the path of the offending value (`score.signals[0].weight`); empty when the
/// problem is not about one field.
public struct RuleFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var field: String
    public var message: String

    public init(file: String, line: Int, column: Int, field: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    public var description: String {
        var text = file
        if line > 0 { text += ":\(line):\(column)" }
        text += ": "
        if !field.isEmpty { text += field + ": " }
        return text + message
    }
}

/// Every problem found while loading rule files — all of them, not just the first, so one run
/// of the loader tells the author everything to fix.
public struct RuleLoadFailure: Error, CustomStringConvertible {
    public var errors: [RuleFileError]

    public init(errors: [RuleFileError]) {
        self.errors = errors
    }

    /// One problem per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
