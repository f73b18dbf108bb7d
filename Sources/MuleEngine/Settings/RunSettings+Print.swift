import Logging
import MuleCore

/// `mulestream run --print-config`: the effective settings as a configuration file that
/// `--config` reads back, each value commented with where it came from, secrets redacted.
extension RunSettings {
    public func printedYAML() -> String {
        var lines = [
            "# mulestream run: effective configuration (defaults < config file < environment < flags).",
            "# Each value says where it came from. Secret librdkafka values are shown as [redacted].",
        ]
        var section = ""
        for spec in SettingSpec.all {
            if spec.section != section {
                section = String(spec.section)
                lines.append("\(section):")
            }
            if spec.kind == .properties {
                lines.append("  \(spec.name):" + (properties.isEmpty ? " {}" : ""))
                for p in properties {
                    lines.append(Self.commented("    \(Self.yamlKey(p.key)): \(Self.quoted(p.shownValue))", p.origin))
                }
                continue
            }
            guard let s = values[spec.key] else {
                lines.append("  # \(spec.name):   (not set)")
                continue
            }
            lines.append(Self.commented("  \(spec.name): \(Self.yamlValue(s.value))", s.origin))
        }
        return lines.joined(separator: "\n")
    }

    /// The start-up log line's metadata: every setting not at its default, and every librdkafka
    /// property, as `value (origin)`; secret values redacted.
    public func logMetadata() -> Logger.Metadata {
        var m: Logger.Metadata = [:]
        for (key, s) in values where s.origin != .defaultValue {
            m[key] = "\(s.value.text) (\(s.origin))"
        }
        for p in properties {
            m["kafka.properties." + p.key] = "\(p.shownValue) (\(p.origin))"
        }
        return m
    }

    private static func commented(_ line: String, _ origin: SettingOrigin) -> String {
        let pad = max(1, 52 - line.count)
        return line + String(repeating: " ", count: pad) + "# \(origin)"
    }

    private static func yamlValue(_ value: SettingValue) -> String {
        switch value {
        case .integer, .flag: value.text
        default: quoted(value.text)
        }
    }

    /// A double-quoted YAML scalar (JSON string syntax is valid YAML).
    static func quoted(_ text: String) -> String {
        var w = JSONWriter()
        w.string(text)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Property names are plain when they are the usual `a.b-c_d` words, quoted otherwise.
    private static func yamlKey(_ key: String) -> String {
        let plain = !key.isEmpty && key.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "_" || c == "-"
        }
        return plain ? key : quoted(key)
    }
}
