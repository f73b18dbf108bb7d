import MuleRules
import Yams

/// Reads a `mulestream run` configuration file (YAML): sections (`kafka`, `topics`, `rules`,
/// `detector`, `engine`, `log`, `http`) of the keys in `SettingSpec.all`. Every problem is
/// collected with its file, line, column and key: unknown keys (with "did you mean"), values of
/// the wrong type or out of range.
public enum SettingsFile {
    public static func load(path: String) throws(RuleLoadFailure) -> SettingsLayer {
        try parse(yaml: RuleLoader.readText(path), file: path)
    }

    /// `file` only names the file in errors and origins.
    public static func parse(yaml: String, file: String) throws(RuleLoadFailure) -> SettingsLayer {
        guard let root = try RuleLoader.composeYAML(yaml, file: file) else { return SettingsLayer() }
        var reader = Reader(file: file)
        reader.read(root)
        guard reader.errors.isEmpty else { throw RuleLoadFailure(errors: reader.errors) }
        return reader.layer
    }

    static let sections: [String] = {
        var out: [String] = []
        for spec in SettingSpec.all where !out.contains(String(spec.section)) { out.append(String(spec.section)) }
        return out
    }()

    private struct Reader {
        let file: String
        var layer = SettingsLayer()
        var errors: [RuleFileError] = []

        mutating func read(_ root: Node) {
            guard let mapping = root.mapping else {
                report(root, "", "the top level must be a mapping of sections (\(SettingsFile.sections.joined(separator: ", "))), got \(YAMLNodeText.describe(root))")
                return
            }
            for (keyNode, value) in mapping {
                guard let section = key(keyNode, in: "") else { continue }
                guard SettingsFile.sections.contains(section) else {
                    report(keyNode, section, "unknown section `\(RuleValues.shown(section))`\(hint(section, SettingsFile.sections))")
                    continue
                }
                if case .scalar(let s) = value, YAMLNodeText.isEmptyValue(s) { continue }  // an empty section
                guard let entries = value.mapping else {
                    report(value, section, "must be a mapping of settings, got \(YAMLNodeText.describe(value))")
                    continue
                }
                let names = SettingSpec.all.filter { $0.section == section }.map { String($0.name) }
                for (nameNode, valueNode) in entries {
                    guard let name = key(nameNode, in: section) else { continue }
                    let path = section + "." + name
                    guard let spec = SettingSpec.named(path) else {
                        report(nameNode, path, "unknown key `\(RuleValues.shown(name))`\(hint(name, names))")
                        continue
                    }
                    setting(spec, valueNode)
                }
            }
        }

        private mutating func setting(_ spec: SettingSpec, _ node: Node) {
            let origin = SettingOrigin.file(path: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
            switch (spec.kind, node) {
            case (.properties, _):
                properties(node, at: spec.key)
            case (.addresses, .sequence(let items)):
                var parts: [String] = []
                for (i, item) in items.enumerated() {
                    guard let text = scalar(item, at: "\(spec.key)[\(i)]") else { return }
                    parts.append(text)
                }
                do {
                    layer.values[spec.key] = ResolvedSetting(value: try SettingKind.addresses(parts), origin: origin)
                } catch {
                    report(node, spec.key, error.message)
                }
            default:
                guard let text = scalar(node, at: spec.key) else { return }
                do {
                    layer.values[spec.key] = ResolvedSetting(value: try spec.kind.read(text), origin: origin)
                } catch {
                    report(node, spec.key, error.message)
                }
            }
        }

        /// `kafka.properties`: librdkafka keys to scalar values (numbers and booleans are passed as written).
        private mutating func properties(_ node: Node, at path: String) {
            guard let mapping = node.mapping else {
                report(node, path, "must be a mapping of librdkafka properties (like `security.protocol: SASL_SSL`), got \(YAMLNodeText.describe(node))")
                return
            }
            for (keyNode, valueNode) in mapping {
                guard let name = key(keyNode, in: path) else { continue }
                let at = path + "." + name
                guard case .scalar(let s) = valueNode else {
                    report(valueNode, at, "must be a single value, got \(YAMLNodeText.describe(valueNode))")
                    continue
                }
                if YAMLNodeText.isEmptyValue(s) {
                    report(valueNode, at, "has no value (write \"\" for an empty one)")
                    continue
                }
                let mark = valueNode.mark
                layer.properties.append(KafkaProperty(key: name, value: s.string,
                                                      origin: .file(path: file, line: mark?.line ?? 0, column: mark?.column ?? 0)))
            }
        }

        /// A scalar's text; YAML's empty value is an error (leave the key out for the default).
        private mutating func scalar(_ node: Node, at path: String) -> String? {
            guard case .scalar(let s) = node else {
                report(node, path, "must be a single value, got \(YAMLNodeText.describe(node))")
                return nil
            }
            if YAMLNodeText.isEmptyValue(s) {
                report(node, path, "has no value; leave the key out (or comment it) to use the default")
                return nil
            }
            return s.string
        }

        private mutating func key(_ node: Node, in path: String) -> String? {
            guard case .scalar(let s) = node else {
                report(node, path, "keys must be plain words, got \(YAMLNodeText.describe(node)) as a key")
                return nil
            }
            return s.string
        }

        /// "Did you mean" among `known`; failing that, a key of another section written in the
        /// wrong place (`brokers:` at the top → `kafka.brokers`). A flag's spelling with dashes
        /// finds its key too.
        private func hint(_ word: String, _ known: [String]) -> String {
            let underscored = word.replacing("-", with: "_")
            if let match = Suggestion.closest(to: underscored, in: known) { return " (did you mean `\(match)`?)" }
            if let spec = SettingSpec.all.first(where: { $0.name == underscored }) ?? SettingSpec.flagged(word) {
                return " (did you mean `\(spec.key)`? `\(spec.name)` belongs in the `\(spec.section):` section)"
            }
            let list = known.map { "`\($0)`" }.joined(separator: ", ")
            return "; expected one of \(list)"
        }

        private mutating func report(_ node: Node, _ field: String, _ message: String) {
            let mark = node.mark
            errors.append(RuleFileError(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, field: field, message: message))
        }
    }
}
