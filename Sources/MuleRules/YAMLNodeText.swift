import Yams

/// How a YAML node is named in messages, and what counts as YAML's empty value: shared by rule
/// files and the engine's configuration file so both speak the same way.
package enum YAMLNodeText {
    /// `key:`, `~` and `null` (plain, not quoted): YAML's way of writing no value.
    package static func isEmptyValue(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// "a mapping", "a list", "an empty value", or the value quoted (cut short).
    package static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let s) where isEmptyValue(s): "an empty value"
        case .scalar(let s): "`\(RuleValues.shown(s.string))`"
        case .alias: "an alias"
        }
    }
}
