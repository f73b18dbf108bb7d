import ArgumentParser
import Foundation
import Logging
import MuleBacktest
import MuleCore
import MuleEngine
import MuleKafka
import MuleRules

/// Detector tuning flags shared by `run`, `backtest` and `demo`.
struct DetectorOptions: ParsableArguments {
    @Option(help: ArgumentHelp("How late (event time) an event may arrive and still be applied in order, e.g. 5s, 2m.", valueName: "duration"))
    var allowedLateness: String = "5s"

    @Option(help: ArgumentHelp("Events later than that: drop (dead-letter with reason `late`) or process (apply out of order).", valueName: "drop|process"))
    var latePolicy: String = "drop"

    @Option(help: ArgumentHelp("How long a transfer id is remembered to drop repeats.", valueName: "duration"))
    var dedupHorizon: String = "24h"

    @Option(help: "Most accounts tracked at once; the least recently active is evicted beyond it.")
    var maxAccounts: Int = 10_000_000

    @Option(help: "Most legs (credits + debits) kept per account; the oldest is evicted beyond it.")
    var maxLegsPerAccount: Int = 1024

    @Option(help: ArgumentHelp("A transfer is a hop when it passes on money received within this window (chains).", valueName: "duration"))
    var hopWindow: String = "30m"

    @Option(help: ArgumentHelp("How long a tie between gang members lasts.", valueName: "duration"))
    var gangHorizon: String = "7d"

    func detectorConfig() throws -> DetectorConfig {
        var c = DetectorConfig()
        c.allowedLatenessMillis = try parseDurationFlag(allowedLateness, flag: "--allowed-lateness", allowZero: true)
        guard let policy = LatePolicy(rawValue: latePolicy) else {
            throw CLIFailure.usage("--late-policy must be drop or process, got `\(latePolicy)`")
        }
        c.latePolicy = policy
        c.dedupHorizonMillis = try parseDurationFlag(dedupHorizon, flag: "--dedup-horizon", allowZero: true)
        guard maxAccounts >= 1 else { throw CLIFailure.usage("--max-accounts must be at least 1") }
        guard maxLegsPerAccount >= 2 else { throw CLIFailure.usage("--max-legs-per-account must be at least 2") }
        c.maxAccounts = maxAccounts
        c.maxLegsPerAccount = maxLegsPerAccount
        c.chains.hopWindowMillis = try parseDurationFlag(hopWindow, flag: "--hop-window")
        c.chains.gangHorizonMillis = try parseDurationFlag(gangHorizon, flag: "--gang-horizon")
        // Hops are remembered for eight hop windows, enough to walk a chain several layers deep.
        c.chains.hopMemoryMillis = c.chains.hopWindowMillis * 8
        return c
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

func makeLogger(_ label: String, level: String) throws -> Logger {
    guard let lvl = Logger.Level(rawValue: level) else {
        throw CLIFailure.usage("--log-level must be one of trace, debug, info, notice, warning, error, critical")
    }
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
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
            Any librdkafka property passes through with -X key=value or --kafka-config FILE (security: \
            -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=… -X sasl.password=…); \
            secret values are never printed.
            """
        )

        @Option(help: ArgumentHelp("Kafka bootstrap servers.", valueName: "host:port[,host:port]"))
        var brokers: String

        @Option(help: ArgumentHelp("Input topic of payment events.", valueName: "topic"))
        var input: String

        @Option(help: ArgumentHelp("Output topic for alerts.", valueName: "topic"))
        var output: String

        @Option(help: ArgumentHelp("Rule file or folder of rule files.", valueName: "path"))
        var rules: String

        @Option(help: ArgumentHelp("Consumer group id.", valueName: "id"))
        var group: String = "mulestream"

        @Option(help: ArgumentHelp("Dead-letter topic (default: <input>.dlq).", valueName: "topic"))
        var deadLetter: String?

        @Option(help: ArgumentHelp("Topic for alerts of rules in `mode: shadow` (default: <output>.shadow).", valueName: "topic"))
        var shadowOutput: String?

        @Option(help: ArgumentHelp("Snooze file (account,rule,until,reason), reloaded with the rules: snoozed hits are counted, not published.", valueName: "file"))
        var snoozes: String?

        @Option(help: ArgumentHelp("Compacted snooze topic: key account|rule, value {\"account\",\"rule\",\"until\",\"reason\"} JSON, empty value lifts the snooze. Read to its end before any input, then followed.", valueName: "topic"))
        var snoozeTopic: String?

        @Option(help: ArgumentHelp("How often the rule files and snooze file are checked for changes (0s = only on SIGHUP).", valueName: "duration"))
        var ruleCheckInterval: String = "1s"

        @Option(help: ArgumentHelp("Serve /metrics, /healthz, /readyz and the live view (not yet available in this build).", valueName: "host:port"))
        var http: String?

        @Option(help: ArgumentHelp("Stop after the input has been idle this long and everything is processed (scripts, tests).", valueName: "duration"))
        var exitWhenIdle: String?

        @Option(help: ArgumentHelp("How often processed offsets are committed.", valueName: "duration"))
        var commitInterval: String = "1s"

        @Option(help: ArgumentHelp("Apply buffered events after the input has been quiet this long (0s = never).", valueName: "duration"))
        var idleFlush: String = "2s"

        @Option(help: ArgumentHelp("An input partition silent this long while others deliver stops holding event time back (0s = never).", valueName: "duration"))
        var partitionIdle: String = "10s"

        @Option(help: ArgumentHelp("Write checkpoints of the detector's state and the input offsets it covers to this folder, and restore the newest readable one at start (default: none; a restart rebuilds state from the committed offsets).", valueName: "dir"))
        var checkpointDir: String?
        @Option(help: ArgumentHelp("How often a checkpoint is written (also on partition revoke and on shutdown).", valueName: "duration"))
        var checkpointInterval: String = "30s"
        @Option(help: "Checkpoints kept in --checkpoint-dir; older ones are deleted.")
        var checkpointsKept: Int = 3
        @Flag(help: "Publish alerts and dead letters and commit input offsets in Kafka transactions (needs Kafka >= 2.5 brokers; alert readers need isolation.level=read_committed). Not verifiable against dev-broker.")
        var exactlyOnce = false
        @Option(help: ArgumentHelp("transactional.id for --exactly-once: unique per engine instance, stable across its restarts (default: <group>.<input>).", valueName: "id"))
        var transactionalId: String?
        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: String = "info"

        @Flag(help: "Create the output, shadow and dead-letter topics (and the snooze topic, compacted) first if they do not exist (Kafka Admin API).")
        var createTopics = false

        @Option(help: "Partitions for topics created by --create-topics.")
        var topicPartitions: Int32 = 6

        @Option(help: "Replication factor for topics created by --create-topics.")
        var replicationFactor: Int16 = 3

        @Flag(help: "Print the effective configuration (secrets redacted) and exit.")
        var printConfig = false

        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var detector: DetectorOptions

        func run() throws {
            if http != nil {
                throw CLIFailure.usage("--http is not available in this build yet (metrics endpoint: see README, Operations)")
            }
            var kc = KafkaConfig()
            kc.set("bootstrap.servers", brokers)
            kc.set("group.id", group)
            // A new group starts at the beginning of the topic: nothing is skipped silently.
            kc.set("auto.offset.reset", "earliest")
            try kafka.apply(to: &kc)
            var config = EngineConfig(kafka: kc, inputTopic: input, outputTopic: output, deadLetterTopic: deadLetter,
                                      shadowTopic: shadowOutput)
            config.rulesPath = rules
            config.snoozeFile = snoozes
            config.snoozeTopic = snoozeTopic
            config.ruleCheckIntervalMillis = try parseDurationFlag(ruleCheckInterval, flag: "--rule-check-interval", allowZero: true)
            config.detector = try detector.detectorConfig()
            config.commitIntervalMillis = try parseDurationFlag(commitInterval, flag: "--commit-interval")
            config.idleFlushMillis = try parseDurationFlag(idleFlush, flag: "--idle-flush", allowZero: true)
            config.partitionIdleMillis = try parseDurationFlag(partitionIdle, flag: "--partition-idle", allowZero: true)
            if let e = exitWhenIdle { config.exitWhenIdleMillis = try parseDurationFlag(e, flag: "--exit-when-idle") }
            config.checkpointDir = checkpointDir
            config.checkpointIntervalMillis = try parseDurationFlag(checkpointInterval, flag: "--checkpoint-interval")
            config.checkpointsKept = checkpointsKept
            config.exactlyOnce = exactlyOnce
            if transactionalId != nil && !exactlyOnce { throw CLIFailure.usage("--transactional-id needs --exactly-once") }
            config.transactionalId = transactionalId
            let problems = config.problems()
            guard problems.isEmpty else { throw CLIFailure.usage(problems.joined(separator: "; ")) }
            let ruleSet = try loadRules(rules)
            var snoozeList: [Snooze] = []
            if let file = snoozes {
                do { snoozeList = try SnoozeFile.load(path: file) } catch { throw CLIFailure.usage(error.description) }
            }
            if printConfig {
                say("input=\(input)\noutput=\(output)\ndead_letter=\(config.deadLetterTopic)\nshadow=\(config.shadowTopic)\nrules=\(ruleSet.map(\.key).joined(separator: ","))")
                if let file = snoozes { say("snoozes=\(file) (\(snoozeList.count))") }
                if let topic = snoozeTopic { say("snooze_topic=\(topic)") }
                if let dir = checkpointDir { say("checkpoint_dir=\(dir) every \(checkpointInterval), keep \(checkpointsKept)") }
                if exactlyOnce { say("exactly_once=true transactional.id=\(config.effectiveTransactionalId)") }
                for line in config.kafka.redactedDescription() { say("kafka.\(line)") }
                return
            }
            let logger = try makeLogger("mulestream", level: logLevel)
            if createTopics {
                guard topicPartitions >= 1, replicationFactor >= 1 else {
                    throw CLIFailure.usage("--topic-partitions and --replication-factor must be at least 1")
                }
                var topics = [output, config.shadowTopic, config.deadLetterTopic].map {
                    KafkaAdmin.NewTopic(name: $0, partitions: topicPartitions, replicationFactor: replicationFactor)
                }
                if let topic = snoozeTopic {
                    // A table of the latest snooze per account|rule: compaction keeps it small forever.
                    topics.append(KafkaAdmin.NewTopic(name: topic, partitions: 1, replicationFactor: replicationFactor,
                                                      configs: [("cleanup.policy", "compact")]))
                }
                do {
                    try KafkaAdmin.createTopics(config: config.kafka, newTopics: topics, timeoutMillis: 30_000)
                    logger.info("topics ready", metadata: ["topics": "\(topics.map(\.name).joined(separator: ","))"])
                } catch {
                    throw CLIFailure.runtime("cannot create topics: \(error)")
                }
            }
            let stop = StopSignal()
            let reload = ReloadRequest()
            SignalTrap.install(stop, reload: reload)
            do {
                let engine = try StreamEngine(config: config, rules: ruleSet, snoozes: snoozeList, logger: logger)
                _ = try engine.run(stop: stop, reload: reload)
            } catch let e as CLIFailure {
                throw e
            } catch {
                throw CLIFailure.runtime("\(error)")
            }
        }
    }
}
