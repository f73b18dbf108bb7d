import ArgumentParser
import Foundation
import Logging
import MuleBacktest
import MuleCore
import MuleEngine
import MuleKafka
import MuleOps
import MuleRules

/// Detector tuning flags shared by `run`, `backtest`, `sweep`, `report`, `gangs` and `rules diff`.
/// Their defaults, checks and config-file keys come from `SettingSpec.all` (MuleEngine).
struct DetectorOptions: ParsableArguments {
    @Option(help: .setting("detector.allowed_lateness")) var allowedLateness: String?
    @Option(help: .setting("detector.late_policy")) var latePolicy: String?
    @Option(help: .setting("detector.dedup_horizon")) var dedupHorizon: String?
    @Option(help: .setting("detector.max_accounts")) var maxAccounts: String?
    @Option(help: .setting("detector.max_legs_per_account")) var maxLegsPerAccount: String?
    @Option(help: .setting("detector.reserve_accounts")) var reserveAccounts: String?
    @Option(help: .setting("detector.reserve_transfer_ids")) var reserveTransferIds: String?
    @Option(help: .setting("detector.hop_window")) var hopWindow: String?
    @Option(help: .setting("detector.gang_horizon")) var gangHorizon: String?

    /// The flags given, by flag name.
    var flagValues: [String: String?] {
        [
            "allowed-lateness": allowedLateness, "late-policy": latePolicy, "dedup-horizon": dedupHorizon,
            "max-accounts": maxAccounts, "max-legs-per-account": maxLegsPerAccount, "hop-window": hopWindow,
            "gang-horizon": gangHorizon, "reserve-accounts": reserveAccounts, "reserve-transfer-ids": reserveTransferIds,
        ]
    }

    /// The core's tuning from these flags and the defaults (replaying verbs read no
    /// configuration file or environment: a replay depends only on its command line).
    func detectorConfig() throws -> DetectorConfig {
        let (layer, problems) = SettingsLayer.flags(flagValues.compactMapValues { $0 })
        guard problems.isEmpty else { throw CLIFailure.usage(problems.map(\.description).joined(separator: "\n")) }
        do {
            return try RunSettings.resolve(flags: layer).detectorConfig()
        } catch {
            throw CLIFailure.usage(error.description)
        }
    }
}

extension ArgumentHelp {
    /// The help of a setting from `SettingSpec.all`: its sentence and default.
    static func setting(_ key: String) -> ArgumentHelp {
        guard let spec = SettingSpec.named(key) else { preconditionFailure("no setting \(key)") }
        var text = spec.help
        if let d = spec.defaultText, spec.kind != .flag { text += " (default: \(d))" }
        return ArgumentHelp(text, valueName: spec.valueName)
    }

    /// A `run` setting's help, naming also its environment variable and config-file key.
    static func runSetting(_ key: String) -> ArgumentHelp {
        guard let spec = SettingSpec.named(key) else { preconditionFailure("no setting \(key)") }
        var help = setting(key)
        help.abstract += spec.kind == .properties
            ? " [env \(SettingSpec.kafkaPropertyPrefix)<PROPERTY>; config \(key)]"
            : " [env \(spec.environmentName); config \(key)]"
        return help
    }
}

/// Parses `500ms`, `90s`, `15m`, `2h`, `1d` into milliseconds.
func parseDurationFlag(_ text: String, flag: String, allowZero: Bool = false) throws -> Int64 {
    guard let ms = DurationText.milliseconds(text), ms > 0 || (allowZero && ms == 0) else {
        throw CLIFailure.usage("\(flag) must be a duration like 500ms, 90s, 15m, 2h or 1d, got `\(text)`")
    }
    return ms
}

/// The history a replaying verb reads, and the rules and core tuning it replays it with.
struct ReplayInput: ParsableArguments {
    @Option(help: ArgumentHelp("NDJSON file of payment events.", valueName: "file"))
    var events: String

    @Option(help: ArgumentHelp("Rule file or folder of rule files.", valueName: "path"))
    var rules: String

    @OptionGroup var detector: DetectorOptions

    /// The rules and configuration, after checking the events file can be read (usage errors).
    func load() throws -> (rules: [Rule], config: DetectorConfig) {
        let ruleSet = try loadRules(rules)
        let config = try detector.detectorConfig()
        try requireEventsFile(events)
        return (ruleSet, config)
    }
}

/// Labels for scoring, or a usage error naming the file and line.
func loadLabels(_ path: String) throws -> Labels {
    do { return try Labels.load(path: path) } catch { throw CLIFailure.usage("\(error)") }
}

/// Fails with a usage error unless the events file can be read.
func requireEventsFile(_ path: String) throws {
    guard FileManager.default.isReadableFile(atPath: path) else {
        throw CLIFailure.usage("cannot read events file `\(path)`")
    }
}

func loadRules(_ path: String) throws -> [Rule] {
    do {
        return try RuleLoader.load(path: path).map(\.rule)
    } catch {
        throw CLIFailure.usage(error.errors.map(\.description).joined(separator: "\n"))
    }
}

/// A logger on stderr: human-readable (`text`) or one JSON object per line (`json`).
func makeLogger(_ label: String, level: String, format: String = "text") throws -> Logger {
    guard let lvl = Logger.Level(rawValue: level) else {
        throw CLIFailure.usage("--log-level must be one of trace, debug, info, notice, warning, error, critical")
    }
    var logger: Logger
    switch format {
    case "text": logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    case "json": logger = Logger(label: label) { JSONLogHandler(label: $0) }
    default: throw CLIFailure.usage("--log-format must be text or json, got `\(format)`")
    }
    logger.logLevel = lvl
    return logger
}


extension MuleStream {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the production engine against a Kafka cluster.",
            discussion: """
            Consumes payment events (CONTRACTS.md §1) from --input in consumer group --group, evaluates the rules, \
            publishes alerts (§2) to --output keyed by account, and dead-letters undecodable or late events to \
            --dead-letter with the reason in a `reason` header. Input offsets are committed only after the events \
            are applied and the alerts they caused are acknowledged (at-least-once; alert ids are deterministic). \
            SIGTERM/SIGINT: finish the batch, flush alerts, commit, write a checkpoint (with --checkpoint-dir), exit 0. \
            With --checkpoint-dir the detector's state is checkpointed every --checkpoint-interval and restored at \
            start, reading on from the offsets the checkpoint covers. With --exactly-once alerts, dead letters and \
            offsets are committed in Kafka transactions. \
            Hot reload: on SIGHUP, and when the --rules files or the --snoozes file change (checked every \
            --rule-check-interval), they are validated and swapped in between batches, keeping window state; a file \
            that does not validate is refused (logged with file:line:col) and the old rules keep running. \
            Alerts of rules in `mode: shadow` go to --shadow-output, never to --output. Snoozed hits \
            (--snoozes, --snooze-topic) are counted, not published.

            Configuration: every setting can come from a YAML file (--config FILE or MULESTREAM_CONFIG), from an \
            environment variable MULESTREAM_<FLAG> (--allowed-lateness → MULESTREAM_ALLOWED_LATENESS; empty = not \
            set), or from its flag; defaults < file < environment < flags. librdkafka properties: -X key=value, \
            --kafka-config FILE, `kafka.properties` in the file, or MULESTREAM_KAFKA_<PROPERTY> \
            (MULESTREAM_KAFKA_SASL_PASSWORD → sasl.password). --print-config shows the merged result, where each \
            value came from, and redacts secrets; `mulestream config check FILE` validates a file.

            Examples:
              mulestream run --brokers kafka-1:9092 --input payments \\
                --output mule-alerts --rules Rules/
              MULESTREAM_KAFKA_SASL_PASSWORD=… mulestream run \\
                --config /etc/mulestream/mulestream.yaml --log-format json
              mulestream run --config mulestream.yaml --print-config
            """
        )

        @Option(help: ArgumentHelp("YAML configuration file (see `mulestream config check`). [env MULESTREAM_CONFIG]", valueName: "file"))
        var config: String?

        @Option(help: .runSetting("kafka.brokers")) var brokers: String?
        @Option(help: .runSetting("topics.input")) var input: String?
        @Option(help: .runSetting("topics.output")) var output: String?
        @Option(help: .runSetting("rules.path")) var rules: String?
        @Option(help: .runSetting("kafka.group")) var group: String?
        @Option(help: .runSetting("topics.dead_letter")) var deadLetter: String?
        @Option(help: .runSetting("topics.shadow_output")) var shadowOutput: String?
        @Option(help: .runSetting("rules.snoozes")) var snoozes: String?
        @Option(help: .runSetting("topics.snooze_topic")) var snoozeTopic: String?
        @Option(help: .runSetting("rules.check_interval")) var ruleCheckInterval: String?
        @Option(help: .runSetting("http.address")) var http: String?
        @Option(help: .runSetting("engine.exit_when_idle")) var exitWhenIdle: String?
        @Option(help: .runSetting("engine.commit_interval")) var commitInterval: String?
        @Option(help: .runSetting("engine.idle_flush")) var idleFlush: String?
        @Option(help: .runSetting("engine.partition_idle")) var partitionIdle: String?
        @Flag(inversion: .prefixedNo, help: .runSetting("engine.exactly_once")) var exactlyOnce: Bool?
        @Option(help: .runSetting("engine.transactional_id")) var transactionalId: String?
        @Option(help: .runSetting("checkpoint.dir")) var checkpointDir: String?
        @Option(help: .runSetting("checkpoint.interval")) var checkpointInterval: String?
        @Option(help: .runSetting("checkpoint.kept")) var checkpointsKept: String?
        @Option(help: .runSetting("scale.app_id")) var appId: String?
        @Option(help: .runSetting("scale.legs_partitions")) var legsPartitions: String?
        @Option(help: .runSetting("scale.link_delay")) var linkDelay: String?
        @Option(help: .runSetting("scale.snapshot_interval")) var snapshotInterval: String?
        @Option(help: .runSetting("log.level")) var logLevel: String?
        @Option(help: .runSetting("log.format")) var logFormat: String?
        @Flag(inversion: .prefixedNo, help: .runSetting("topics.create")) var createTopics: Bool?
        @Option(help: .runSetting("topics.partitions")) var topicPartitions: String?
        @Option(help: .runSetting("topics.replication_factor")) var replicationFactor: String?

        @Flag(help: "Print the effective configuration as YAML (each value with its source, secrets redacted) and exit.")
        var printConfig = false

        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var detector: DetectorOptions

        /// Every setting flag given, by flag name (one entry per `SettingSpec` flag).
        var flagValues: [String: String?] {
            [
                "brokers": brokers, "input": input, "output": output, "rules": rules, "group": group,
                "dead-letter": deadLetter, "shadow-output": shadowOutput, "snoozes": snoozes, "snooze-topic": snoozeTopic,
                "rule-check-interval": ruleCheckInterval, "http": http, "exit-when-idle": exitWhenIdle,
                "commit-interval": commitInterval, "idle-flush": idleFlush, "partition-idle": partitionIdle,
                "log-level": logLevel, "log-format": logFormat, "create-topics": createTopics.map { $0 ? "true" : "false" },
                "topic-partitions": topicPartitions, "replication-factor": replicationFactor,
                "exactly-once": exactlyOnce.map { $0 ? "true" : "false" }, "transactional-id": transactionalId,
                "checkpoint-dir": checkpointDir, "checkpoint-interval": checkpointInterval, "checkpoints-kept": checkpointsKept,
                "kafka-config": kafka.kafkaConfigFile,
                "app-id": appId, "legs-partitions": legsPartitions, "link-delay": linkDelay, "snapshot-interval": snapshotInterval,
            ].merging(detector.flagValues) { a, _ in a }
        }

        /// Defaults < config file < environment < flags, read once here: nothing reads the
        /// environment later. Every problem of every source is reported at once (usage error).
        func settings(environment: [String: String]) throws -> (RunSettings, warnings: [String]) {
            var problems: [RuleFileError] = []
            var file: SettingsLayer?
            let env = environment[SettingSpec.configFileEnvironment].flatMap { $0.isEmpty ? nil : $0 }
            if let path = config ?? env {
                do { file = try SettingsFile.load(path: path) } catch { problems += error.errors }
            }
            let (envLayer, envProblems, warnings) = SettingsLayer.environment(environment)
            let (flagLayer, flagProblems) = SettingsLayer.flags(flagValues.compactMapValues { $0 }, properties: kafka.properties)
            problems += envProblems + flagProblems
            guard problems.isEmpty else { throw CLIFailure.usage(problems.map(\.description).joined(separator: "\n")) }
            do {
                return (try RunSettings.resolve(file: file, environment: envLayer, flags: flagLayer), warnings)
            } catch {
                throw CLIFailure.usage(error.description)
            }
        }

        func run() throws {
            let (settings, warnings) = try settings(environment: ProcessInfo.processInfo.environment)
            let httpAddress = try settings.text("http.address").map { text in
                switch OpsAddress.parse(text) {
                case .success(let a): a
                case .failure(let e): throw CLIFailure.usage(e.description)
                }
            }
            var config: EngineConfig
            do { config = try settings.engineConfig() } catch { throw CLIFailure.usage(error.description) }
            let ruleSet = try loadRules(config.rulesPath ?? "")
            var snoozeList: [Snooze] = []
            if let file = config.snoozeFile {
                do { snoozeList = try SnoozeFile.load(path: file) } catch { throw CLIFailure.usage(error.description) }
            }
            if printConfig {
                for w in warnings { say("# warning: \(w)") }
                say(settings.printedYAML())
                say("# rules loaded: \(ruleSet.map(\.key).joined(separator: ", "))")
                if let file = config.snoozeFile { say("# snoozes loaded: \(snoozeList.count) from \(file)") }
                return
            }
            let format = settings.text("log.format") ?? "text"
            let logger = try makeLogger("mulestream", level: settings.text("log.level") ?? "info", format: format)
            if format == "json" {
                // librdkafka's own log lines become JSON lines too (already scrubbed of secrets).
                let kafkaLogger = Logger(label: "rdkafka") { JSONLogHandler(label: $0) }
                config.kafka.logHandler = { record in
                    kafkaLogger.log(level: record.level.loggerLevel, "\(record.message)",
                                    metadata: ["facility": "\(record.facility)", "client": "\(record.client)"])
                }
            }
            for w in warnings { logger.warning("\(w)") }
            logger.info("configuration", metadata: settings.logMetadata())
            if settings.flag("topics.create") {
                try createTopics(config: config, settings: settings, logger: logger)
            }
            let stop = StopSignal()
            let reload = ReloadRequest()
            SignalTrap.install(stop, reload: reload)
            if let scale = config.scaleOut {
                let engine: ScaleOutEngine
                do {
                    engine = try ScaleOutEngine(config: config, scale: scale, rules: ruleSet, snoozes: snoozeList, logger: logger)
                } catch EngineError.invalidConfiguration(let problems) {
                    throw CLIFailure.usage(problems.joined(separator: "; "))
                } catch {
                    throw CLIFailure.runtime("\(error)")
                }
                try serving(httpAddress, attach: { try OpsServer.attach(to: engine, at: $0, logger: logger) }) {
                    _ = try engine.run(stop: stop, reload: reload)
                }
                return
            }
            let engine: StreamEngine
            do { engine = try StreamEngine(config: config, rules: ruleSet, snoozes: snoozeList, logger: logger) } catch {
                throw CLIFailure.runtime("\(error)")
            }
            try serving(httpAddress, attach: { try OpsServer.attach(to: engine, at: $0, logger: logger) }) {
                _ = try engine.run(stop: stop, reload: reload)
            }
        }

        /// Runs `body` with `--http` served: up before the engine starts (so /readyz answers 503
        /// while it joins the group) and down only after it has committed (so /readyz answers 503
        /// while it stops). Engine failures become runtime failures (exit 1).
        private func serving(_ address: OpsAddress?, attach: (OpsAddress) throws -> OpsServer, _ body: () throws -> Void) throws {
            do {
                let server = try address.map { address in
                    do { return try attach(address) } catch {
                        throw CLIFailure.runtime("cannot serve --http \(address): \(error)")
                    }
                }
                defer { server?.shutdownBlocking() }
                if let server { say("http: listening on \(server.address)") }
                try body()
            } catch let e as CLIFailure {
                throw e
            } catch {
                throw CLIFailure.runtime("\(error)")
            }
        }

        private func createTopics(config: EngineConfig, settings: RunSettings, logger: Logger) throws {
            let partitions = Int32(settings.integer("topics.partitions") ?? 6)
            let replication = Int16(settings.integer("topics.replication_factor") ?? 3)
            var topics = [config.outputTopic, config.shadowTopic, config.deadLetterTopic].map {
                KafkaAdmin.NewTopic(name: $0, partitions: partitions, replicationFactor: replication)
            }
            if let topic = config.snoozeTopic {
                // A table of the latest snooze per account|rule: compaction keeps it small forever.
                topics.append(KafkaAdmin.NewTopic(name: topic, partitions: 1, replicationFactor: replication,
                                                  configs: [("cleanup.policy", "compact")]))
            }
            do {
                try KafkaAdmin.createTopics(config: config.kafka, newTopics: topics, timeoutMillis: 30_000)
                logger.info("topics ready", metadata: ["topics": "\(topics.map(\.name).joined(separator: ","))"])
            } catch {
                throw CLIFailure.runtime("cannot create topics: \(error)")
            }
        }
    }
}

extension KafkaLogLevel {
    /// The swift-log level of a librdkafka (syslog) level.
    var loggerLevel: Logger.Level {
        switch self {
        case .emergency, .alert, .critical: .critical
        case .error: .error
        case .warning: .warning
        case .notice: .notice
        case .info: .info
        case .debug: .debug
        }
    }
}
