import MuleCore
import MuleKafka
import MuleRules

/// A setting's value and where it came from.
public struct ResolvedSetting: Sendable, Equatable {
    public var value: SettingValue
    public var origin: SettingOrigin
}

/// One librdkafka property and where it came from.
public struct KafkaProperty: Sendable, Equatable {
    public var key: String
    public var value: String
    public var origin: SettingOrigin

    public init(key: String, value: String, origin: SettingOrigin) {
        self.key = key
        self.value = value
        self.origin = origin
    }

    /// The value, or `[redacted]` for secrets (`KafkaConfig.isSecret`).
    public var shownValue: String { KafkaConfig.isSecret(key) ? "[redacted]" : value }
}

/// The settings one source gives: the defaults, a configuration file, the environment or the flags.
public struct SettingsLayer: Sendable {
    public var values: [String: ResolvedSetting] = [:]
    /// librdkafka properties in the order given (a later one for the same key wins).
    public var properties: [KafkaProperty] = []

    public init() {}

    /// The defaults of `SettingSpec.all`, and `auto.offset.reset=earliest` (a new consumer group
    /// starts at the beginning of the topic: nothing is skipped silently).
    public static let defaults: SettingsLayer = {
        var layer = SettingsLayer()
        for spec in SettingSpec.all {
            guard let text = spec.defaultText else { continue }
            // The table's defaults are checked by the tests; a bad one is a programming error.
            guard let value = try? spec.kind.read(text) else { preconditionFailure("bad default for \(spec.key)") }
            layer.values[spec.key] = ResolvedSetting(value: value, origin: .defaultValue)
        }
        layer.properties = [KafkaProperty(key: "auto.offset.reset", value: "earliest", origin: .defaultValue)]
        return layer
    }()

    /// Settings from `MULESTREAM_*` variables of `environment` (passed in once by the caller;
    /// nothing reads the environment later). An empty variable counts as not set. Unknown
    /// `MULESTREAM_*` names are warnings, not errors, so wrappers that export their own
    /// variables keep working.
    public static func environment(_ environment: [String: String]) -> (layer: SettingsLayer, problems: [RuleFileError], warnings: [String]) {
        var layer = SettingsLayer()
        var problems: [RuleFileError] = []
        var warnings: [String] = []
        let specs = SettingSpec.all.filter { $0.kind != .properties }
        let known = specs.map(\.environmentName) + [SettingSpec.configFileEnvironment]
        for (name, text) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix(SettingSpec.environmentPrefix) {
            if text.isEmpty || name == SettingSpec.configFileEnvironment { continue }
            if let spec = specs.first(where: { $0.environmentName == name }) {
                do {
                    layer.values[spec.key] = ResolvedSetting(value: try spec.kind.read(text), origin: .environment(name))
                } catch {
                    problems.append(RuleFileError(file: name, line: 0, column: 0, field: "", message: error.message))
                }
            } else if name.hasPrefix(SettingSpec.kafkaPropertyPrefix), name.count > SettingSpec.kafkaPropertyPrefix.count {
                let key = name.dropFirst(SettingSpec.kafkaPropertyPrefix.count).lowercased().replacing("_", with: ".")
                layer.properties.append(KafkaProperty(key: key, value: text, origin: .environment(name)))
            } else {
                let hint = Suggestion.closest(to: name, in: known).map { " (did you mean \($0)?)" } ?? ""
                warnings.append("ignoring unknown environment variable \(name)\(hint)")
            }
        }
        return (layer, problems, warnings)
    }

    /// Settings from the command line: `values` by flag name without dashes (only the flags
    /// given), `properties` the `-X key=value` texts in order.
    public static func flags(_ values: [String: String], properties: [String] = []) -> (layer: SettingsLayer, problems: [RuleFileError]) {
        var layer = SettingsLayer()
        var problems: [RuleFileError] = []
        for (flag, text) in values.sorted(by: { $0.key < $1.key }) {
            guard let spec = SettingSpec.flagged(flag), spec.kind != .properties else {
                problems.append(RuleFileError(file: "--\(flag)", line: 0, column: 0, field: "", message: "is not a setting (the CLI's flag table is out of date)"))
                continue
            }
            do {
                layer.values[spec.key] = ResolvedSetting(value: try spec.kind.read(text), origin: .flag(spec.flagName))
            } catch {
                problems.append(RuleFileError(file: spec.flagName, line: 0, column: 0, field: "", message: error.message))
            }
        }
        for text in properties {
            do {
                let (key, value) = try KafkaConfig.parseAssignment(text)
                layer.properties.append(KafkaProperty(key: key, value: value, origin: .flag("-X")))
            } catch {
                problems.append(RuleFileError(file: "-X", line: 0, column: 0, field: "", message: "\(error)"))
            }
        }
        return (layer, problems)
    }
}

/// The effective configuration of `mulestream run`: defaults < configuration file <
/// environment < flags, merged setting by setting (and librdkafka property by property),
/// every value checked and its origin kept. Assembled once at start-up and passed down.
public struct RunSettings: Sendable {
    public private(set) var values: [String: ResolvedSetting] = [:]
    /// One entry per property key: the winning value.
    public private(set) var properties: [KafkaProperty] = []

    /// Merges the defaults, the configuration file, the environment and the flags, each over
    /// the one before. The `kafka.config_file` named by the merged settings is read with
    /// `readProperties`; its properties rank just above the defaults.
    public static func resolve(
        file: SettingsLayer? = nil, environment: SettingsLayer = SettingsLayer(), flags: SettingsLayer = SettingsLayer(),
        readProperties: (String) throws -> [(String, String)] = KafkaConfig.loadProperties
    ) throws(RuleLoadFailure) -> RunSettings {
        let layers = [SettingsLayer.defaults, file ?? SettingsLayer(), environment, flags]
        var settings = RunSettings()
        for layer in layers {
            settings.values.merge(layer.values) { _, new in new }
        }
        var ordered = SettingsLayer.defaults.properties
        if let path = settings.text("kafka.config_file") {
            do {
                ordered += try readProperties(path).map { KafkaProperty(key: $0.0, value: $0.1, origin: .propertiesFile(path)) }
            } catch {
                let origin = settings.origin("kafka.config_file").map { " (set by \($0))" } ?? ""
                throw RuleLoadFailure(errors: [RuleFileError(file: "kafka.config_file", line: 0, column: 0, field: "", message: "\((error as? KafkaError)?.message ?? "\(error)")\(origin)")])
            }
        }
        for layer in layers.dropFirst() { ordered += layer.properties }
        for p in ordered {
            settings.properties.removeAll { $0.key == p.key }
            settings.properties.append(p)
        }
        return settings
    }

    // MARK: Reading values

    public func setting(_ key: String) -> ResolvedSetting? {
        precondition(SettingSpec.named(key) != nil, "unknown setting \(key)")
        return values[key]
    }

    public func origin(_ key: String) -> SettingOrigin? { setting(key)?.origin }

    public func text(_ key: String) -> String? { setting(key)?.value.text }

    public func millis(_ key: String) -> Int64? {
        if case .millis(let ms) = setting(key)?.value { return ms }
        return nil
    }

    public func integer(_ key: String) -> Int64? {
        if case .integer(let n) = setting(key)?.value { return n }
        return nil
    }

    public func flag(_ key: String) -> Bool {
        if case .flag(let b) = setting(key)?.value { return b }
        return false
    }

    /// How a person sets `key`, for messages: `--brokers, MULESTREAM_BROKERS or kafka.brokers in the config file`.
    public static func ways(toSet key: String) -> String {
        guard let spec = SettingSpec.named(key) else { return key }
        return "\(spec.flagName), \(spec.environmentName) or `\(spec.key)` in the config file"
    }
}
