/// One setting of `mulestream run`: its key in the configuration file (`section.name`), its
/// command-line flag, its environment variable, how its text is read, and its default.
///
/// The table `SettingSpec.all` is the single list of settings: the file reader, the
/// environment reader, `--print-config`, `config check` and the CLI's help text all come from it.
public struct SettingSpec: Sendable {
    /// `section.name` in the configuration file, e.g. `detector.allowed_lateness`.
    public let key: String
    /// The long flag without dashes, e.g. `allowed-lateness` (`X` for the `-X` pass-through).
    public let flag: String
    public let kind: SettingKind
    /// Text of the default value (read like any other source); nil = not set unless given.
    public let defaultText: String?
    /// One sentence for `--help` and the commented example configuration.
    public let help: String
    /// The placeholder in `--help` (`<topic>`); by default the kind's.
    public let valueName: String

    public init(_ key: String, flag: String, _ kind: SettingKind, default defaultText: String? = nil, help: String,
                valueName: String? = nil) {
        self.key = key
        self.flag = flag
        self.kind = kind
        self.defaultText = defaultText
        self.help = help
        self.valueName = valueName ?? kind.valueName
    }

    /// The environment variable: `MULESTREAM_` and the flag in upper case with `_` for `-`
    /// (`--allowed-lateness` → `MULESTREAM_ALLOWED_LATENESS`). librdkafka properties use
    /// `kafkaPropertyPrefix` instead.
    public var environmentName: String {
        Self.environmentPrefix + flag.uppercased().replacing("-", with: "_")
    }

    /// `--allowed-lateness`, or `-X` for the pass-through.
    public var flagName: String { flag.count == 1 ? "-" + flag : "--" + flag }

    public var section: Substring { key.prefix { $0 != "." } }
    public var name: Substring { key.drop { $0 != "." }.dropFirst() }

    public static let environmentPrefix = "MULESTREAM_"
    /// `MULESTREAM_KAFKA_SASL_PASSWORD=…` sets the librdkafka property `sasl.password`: the rest
    /// of the name in lower case, with `.` for `_`.
    public static let kafkaPropertyPrefix = "MULESTREAM_KAFKA_"
    /// Names the configuration file; not a setting itself (it says where settings are).
    public static let configFileEnvironment = "MULESTREAM_CONFIG"

    public static func named(_ key: String) -> SettingSpec? { all.first { $0.key == key } }
    public static func flagged(_ flag: String) -> SettingSpec? { all.first { $0.flag == flag } }

    /// Every setting of `mulestream run`, in the order `--print-config` shows them.
    /// Adding a flag to `run`: one line here; in the CLI's `Run`, declare it as
    /// `@Option(help: .runSetting("section.name")) var name: String?` (an on/off flag as
    /// `@Flag(inversion: .prefixedNo, help: …) var name: Bool?`) and add it to `Run.flagValues`;
    /// read it from `RunSettings` (`text`, `millis`, `integer`, `flag`), e.g. in `engineConfig()`.
    /// A new section name is a new YAML section; `ConfigCLITests` checks the flag reaches it.
    public static let all: [SettingSpec] = [
        .init("kafka.brokers", flag: "brokers", .addresses, help: "Kafka bootstrap servers (host:port, comma-separated or a YAML list)."),
        .init("kafka.group", flag: "group", .text, default: "mulestream", help: "Consumer group id.", valueName: "id"),
        .init("kafka.config_file", flag: "kafka-config", .text, help: "librdkafka properties file (Java-properties format), applied before the other properties.", valueName: "file"),
        .init("kafka.properties", flag: "X", .properties, help: "librdkafka properties passed through verbatim (-X key=value, repeatable; later wins)."),

        .init("topics.input", flag: "input", .text, help: "Input topic of payment events.", valueName: "topic"),
        .init("topics.output", flag: "output", .text, help: "Output topic for alerts.", valueName: "topic"),
        .init("topics.dead_letter", flag: "dead-letter", .text, help: "Dead-letter topic (default: <input>.dlq).", valueName: "topic"),
        .init("topics.shadow_output", flag: "shadow-output", .text, help: "Topic for alerts of rules in `mode: shadow` (default: <output>.shadow).", valueName: "topic"),
        .init("topics.snooze_topic", flag: "snooze-topic", .text, help: "Compacted snooze topic: key account|rule, value {\"account\",\"rule\",\"until\",\"reason\"} JSON, empty value lifts the snooze. Read to its end before any input, then followed.", valueName: "topic"),
        .init("topics.create", flag: "create-topics", .flag, default: "false", help: "Create the output, shadow and dead-letter topics (and the snooze topic, compacted) first if they do not exist (Kafka Admin API)."),
        .init("topics.partitions", flag: "topic-partitions", .integer(1...100_000), default: "6", help: "Partitions for topics created by --create-topics."),
        .init("topics.replication_factor", flag: "replication-factor", .integer(1...32), default: "3", help: "Replication factor for topics created by --create-topics."),

        .init("rules.path", flag: "rules", .text, help: "Rule file or folder of rule files.", valueName: "path"),
        .init("rules.snoozes", flag: "snoozes", .text, help: "Snooze file (account,rule,until,reason), reloaded with the rules: snoozed hits are counted, not published.", valueName: "file"),
        .init("rules.check_interval", flag: "rule-check-interval", .duration(allowZero: true), default: "1s", help: "How often the rule files and snooze file are checked for changes (0s = only on SIGHUP)."),

        .init("detector.allowed_lateness", flag: "allowed-lateness", .duration(allowZero: true), default: "5s", help: "How late (event time) an event may arrive and still be applied in order."),
        .init("detector.late_policy", flag: "late-policy", .choice(["drop", "process"]), default: "drop", help: "Events later than that: drop (dead-letter with reason `late`) or process (apply out of order)."),
        .init("detector.dedup_horizon", flag: "dedup-horizon", .duration(allowZero: true), default: "24h", help: "How long a transfer id is remembered to drop repeats."),
        .init("detector.max_accounts", flag: "max-accounts", .integer(1...1_000_000_000), default: "10000000", help: "Most accounts tracked at once; the least recently active is evicted beyond it."),
        .init("detector.max_legs_per_account", flag: "max-legs-per-account", .integer(2...1_000_000), default: "1024", help: "Most legs (credits + debits) kept per account; the oldest is evicted beyond it."),
        .init("detector.reserve_accounts", flag: "reserve-accounts", .integer(0...1_000_000_000), default: "0", help: "Size the account tables for this many accounts at start, so they are not copied to grow (a pause of up to tens of ms) before that (0 = grow as needed)."),
        .init("detector.reserve_transfer_ids", flag: "reserve-transfer-ids", .integer(0...1_000_000_000), default: "0", help: "Size the duplicate index at start for this many transfer ids within --dedup-horizon (0 = grow as needed)."),
        .init("detector.hop_window", flag: "hop-window", .duration(allowZero: false), default: "30m", help: "A transfer is a hop when it passes on money received within this window (chains)."),
        .init("detector.gang_horizon", flag: "gang-horizon", .duration(allowZero: false), default: "7d", help: "How long a tie between gang members lasts."),

        .init("engine.commit_interval", flag: "commit-interval", .duration(allowZero: false), default: "1s", help: "How often processed offsets are committed."),
        .init("engine.idle_flush", flag: "idle-flush", .duration(allowZero: true), default: "2s", help: "Apply buffered events after the input has been quiet this long (0s = never)."),
        .init("engine.partition_idle", flag: "partition-idle", .duration(allowZero: true), default: "10s", help: "An input partition silent this long while others deliver, with nothing left to read, stops holding event time back (0s = never)."),
        .init("engine.exit_when_idle", flag: "exit-when-idle", .duration(allowZero: false), help: "Stop after the input has been idle this long and everything is processed (scripts, tests)."),
        .init("engine.exactly_once", flag: "exactly-once", .flag, default: "false", help: "Publish alerts and dead letters and commit input offsets in Kafka transactions (needs Kafka >= 2.5 brokers; alert readers need isolation.level=read_committed). Not verifiable against dev-broker."),
        .init("engine.transactional_id", flag: "transactional-id", .text, help: "transactional.id for --exactly-once: unique per engine instance, stable across its restarts (default: <group>.<input>).", valueName: "id"),

        .init("checkpoint.dir", flag: "checkpoint-dir", .text, help: "Write checkpoints of the detector's state and the input offsets it covers to this folder, and restore the newest readable one at start (default: none; a restart rebuilds state from the committed offsets).", valueName: "dir"),
        .init("checkpoint.interval", flag: "checkpoint-interval", .duration(allowZero: false), default: "30s", help: "How often a checkpoint is written (also on partition revoke and on shutdown)."),
        .init("checkpoint.kept", flag: "checkpoints-kept", .integer(1...1000), default: "3", help: "Checkpoints kept in the checkpoint folder; older ones are deleted."),

        .init("scale.app_id", flag: "app-id", .text, help: "Share the work with other instances of this application id (same --group): legs of each transfer are repartitioned by account through topic <app-id>-legs and each partition's state is kept in the compacted topic <app-id>-state. See README, \"Running on several machines\".", valueName: "id"),
        .init("scale.legs_partitions", flag: "legs-partitions", .integer(1...10_000), default: "12", help: "Partitions of <app-id>-legs and <app-id>-state: the most instances that can share detection. Fixed for the life of an application id."),
        .init("scale.link_delay", flag: "link-delay", .duration(allowZero: false), default: "1s", help: "Event time before what one partition learns about another's accounts (a hop into them, a gang tie) takes effect there; instances run at most this far apart in event time."),
        .init("scale.snapshot_interval", flag: "snapshot-interval", .duration(allowZero: false), default: "10s", help: "How often each legs partition's state is written to <app-id>-state (also on revoke and on shutdown)."),

        .init("log.level", flag: "log-level", .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]), default: "info", help: "Log level: trace, debug, info, notice, warning, error or critical."),
        .init("log.format", flag: "log-format", .choice(["text", "json"]), default: "text", help: "Log format on stderr: text (human-readable) or json (one JSON object per line: ts, level, label, message, metadata)."),

        .init("http.address", flag: "http", .hostPort, help: "Serve /metrics, /healthz, /readyz and the live view on this address."),
    ]
}

/// How a setting's text is read and checked (the same for the file, the environment and flags).
public enum SettingKind: Sendable, Equatable {
    /// Any non-empty text.
    case text
    /// `host:port` list: comma-separated text, or a YAML list in the file.
    case addresses
    /// One `host:port`, port 0–65535.
    case hostPort
    /// `500ms`, `90s`, `15m`, `2h`, `1d`.
    case duration(allowZero: Bool)
    /// A whole number within the range.
    case integer(ClosedRange<Int64>)
    /// One of the words.
    case choice([String])
    /// `true` or `false`.
    case flag
    /// librdkafka `key=value` properties, merged key by key across sources.
    case properties

    /// Placeholder for `--help`.
    public var valueName: String {
        switch self {
        case .text: "text"
        case .addresses: "host:port[,host:port]"
        case .hostPort: "host:port"
        case .duration: "duration"
        case .integer: "n"
        case .choice(let words): words.count <= 3 ? words.joined(separator: "|") : "level"
        case .flag: "true|false"
        case .properties: "key=value"
        }
    }
}
