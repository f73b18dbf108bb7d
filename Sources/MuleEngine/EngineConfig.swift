import MuleCore
import MuleKafka

/// Everything the live engine needs, assembled once at start-up (flags → value) and validated
/// before anything connects. Nothing below reads the environment later.
public struct EngineConfig: Sendable {
    /// librdkafka properties for both the consumer and the producer (`bootstrap.servers`,
    /// `group.id`, security settings, `-X` pass-through).
    public var kafka: KafkaConfig
    public var inputTopic: String
    public var outputTopic: String
    /// Where undecodable and late events go, with the reason in a `reason` header.
    public var deadLetterTopic: String
    /// Where alerts of rules in `mode: shadow` go (never to `outputTopic`).
    public var shadowTopic: String
    /// The `--rules` file or folder, reloaded on request (SIGHUP) and when it changes; nil = the
    /// rules given at start-up are never reloaded.
    public var rulesPath: String?
    /// Snooze file (`account,rule,until,reason`), reloaded together with the rules.
    public var snoozeFile: String?
    /// Compacted topic of snoozes keyed `account|rule`, read to its end before any input.
    public var snoozeTopic: String?
    /// How often the rule files and snooze file are checked for changes (0 = only on request).
    public var ruleCheckIntervalMillis: Int64 = 1000
    /// Longest wait at start-up for the snooze topic to be read to its end (then the engine
    /// starts anyway, with a warning, and the rest of the snoozes follow).
    public var snoozeStartupTimeoutMillis: Int64 = 30_000
    public var detector = DetectorConfig()
    public var decoderLimits = DecoderLimits()
    /// Messages taken per poll.
    public var pollBatch = 2000
    public var pollTimeoutMillis: Int32 = 100
    /// How often processed input offsets are committed (after the alerts they caused are acknowledged).
    public var commitIntervalMillis: Int64 = 1000
    /// After this long with no input, event time is advanced past the newest event so buffered
    /// transfers are applied (otherwise the last few seconds of a quiet topic would wait for the
    /// next event). 0 disables.
    public var idleFlushMillis: Int64 = 2000
    /// An assigned partition that delivers nothing for this long while others deliver stops
    /// holding event time back (so one silent partition cannot stall detection); its later
    /// events may then be late. When every partition is silent (an outage) none is released.
    public var partitionIdleMillis: Int64 = 10_000
    /// Stop by itself once partitions are assigned, the input has been idle this long (since the
    /// last message or the assignment) and nothing is buffered (demo, scripts, tests); nil = run
    /// until stopped.
    public var exitWhenIdleMillis: Int64?
    /// Log a progress line this often (0 = never).
    public var progressIntervalMillis: Int64 = 10_000
    /// How often a status snapshot (metrics, lag, gangs, recent alerts) goes to the engine's
    /// monitor, when one is attached.
    public var statusIntervalMillis: Int64 = 1000

    /// Bytes of a bad event's key and of its value copied to the dead-letter topic (the rest is
    /// cut, and a `truncated` header says so): the decoder's event limit, since every event it
    /// accepts is smaller.
    public var deadLetterCopyLimit: Int { min(max(decoderLimits.maxEventBytes, 0), Int(Int32.max)) }
    /// librdkafka's default producer `message.max.bytes`.
    static let librdkafkaMessageMaxBytes = 1_000_000
    /// Room for the dead-letter headers and record framing.
    static let deadLetterOverheadBytes = 4096
    /// Folder for checkpoints of the detector's state and the input offsets they cover; nil =
    /// no checkpoints (a restart rebuilds state from the committed offsets on).
    public var checkpointDir: String?
    /// How often a checkpoint is written (also on partition revoke and on shutdown).
    public var checkpointIntervalMillis: Int64 = 30_000
    /// Checkpoints kept in `checkpointDir` (older ones are deleted).
    public var checkpointsKept: Int = 3
    /// Publish alerts and dead letters and commit input offsets in Kafka transactions
    /// (`transactionalId`); downstream consumers need `isolation.level=read_committed`.
    public var exactlyOnce = false
    /// Set to share the work with other instances (`run --app-id`): see `ScaleOutEngine`.
    public var scaleOut: ScaleOutConfig?
    /// `transactional.id` of the producer with `exactlyOnce`; unique per engine instance and
    /// stable across its restarts (nil = `<group.id>.<input topic>`).
    public var transactionalId: String?

    public init(kafka: KafkaConfig, inputTopic: String, outputTopic: String, deadLetterTopic: String? = nil,
                shadowTopic: String? = nil) {
        self.kafka = kafka
        self.inputTopic = inputTopic
        self.outputTopic = outputTopic
        self.deadLetterTopic = deadLetterTopic ?? "\(inputTopic).dlq"
        self.shadowTopic = shadowTopic ?? "\(outputTopic).shadow"
    }

    /// The producer's `transactional.id` with `exactlyOnce`.
    public var effectiveTransactionalId: String {
        transactionalId ?? "\(kafka["group.id"] ?? "mulestream").\(inputTopic)"
    }

    /// Problems a person can act on; empty when the configuration is usable.
    public func problems() -> [String] {
        var out: [String] = []
        if kafka["bootstrap.servers"]?.isEmpty ?? true { out.append("bootstrap.servers (--brokers) is required") }
        if kafka["group.id"]?.isEmpty ?? true { out.append("group.id (--group) is required") }
        for (name, topic) in [("input", inputTopic), ("output", outputTopic), ("dead-letter", deadLetterTopic)] where topic.isEmpty {
            out.append("the \(name) topic must not be empty")
        }
        if inputTopic == outputTopic { out.append("the output topic must differ from the input topic") }
        if deadLetterTopic == inputTopic { out.append("the dead-letter topic must differ from the input topic") }
        if shadowTopic.isEmpty { out.append("the shadow topic must not be empty") }
        for (name, topic) in [("input", inputTopic), ("output", outputTopic), ("dead-letter", deadLetterTopic)] where shadowTopic == topic {
            out.append("the shadow topic must differ from the \(name) topic")
        }
        if let snoozeTopic {
            if snoozeTopic.isEmpty { out.append("the snooze topic must not be empty") }
            for (name, topic) in [("input", inputTopic), ("output", outputTopic), ("dead-letter", deadLetterTopic), ("shadow", shadowTopic)]
            where snoozeTopic == topic {
                out.append("the snooze topic must differ from the \(name) topic")
            }
        }
        if ruleCheckIntervalMillis < 0 { out.append("the rule check interval must not be negative") }
        if detector.allowedLatenessMillis < 0 { out.append("allowed lateness must not be negative") }
        if detector.maxAccounts < 1 { out.append("max accounts must be at least 1") }
        if detector.maxLegsPerAccount < 2 { out.append("max legs per account must be at least 2") }
        if pollBatch < 1 { out.append("poll batch must be at least 1") }
        if statusIntervalMillis < 1 { out.append("the status interval must be at least 1 ms") }
        let messageMax = kafka["message.max.bytes"].flatMap(Int.init) ?? Self.librdkafkaMessageMaxBytes
        if 2 * deadLetterCopyLimit + Self.deadLetterOverheadBytes > messageMax {
            out.append("the largest event (\(decoderLimits.maxEventBytes) bytes) must leave room for its dead-letter copy "
                + "(key and value, \(Self.deadLetterOverheadBytes) bytes of headers) under message.max.bytes (\(messageMax))")
        }
        if let dir = checkpointDir, dir.isEmpty { out.append("the checkpoint folder must not be empty") }
        if checkpointIntervalMillis < 1 { out.append("the checkpoint interval must be positive") }
        if checkpointsKept < 1 { out.append("at least one checkpoint must be kept") }
        if exactlyOnce, let id = transactionalId, id.isEmpty { out.append("the transactional id must not be empty") }
        if !exactlyOnce, transactionalId != nil { out.append("a transactional id (--transactional-id) needs --exactly-once") }
        if exactlyOnce, let v = kafka["enable.idempotence"], v == "false" {
            out.append("exactly-once needs the idempotent producer: do not set enable.idempotence=false")
        }
        return out
    }
}
