import BenchSupport
import Logging
import MuleCore
import MuleEngine
import MuleKafka

/// The settings that decide how fast an event goes through the broker and the engine, in one
/// value so each measured figure can name them.
public struct PipelineSettings: Sendable, CustomStringConvertible {
    /// The engine's reorder lateness: an event is applied once the watermark (newest event time
    /// of the slowest partition minus this) passes it. `--allowed-lateness` of `mulestream run`.
    public var allowedLatenessMillis: Int64 = 5_000
    /// Quiet input this long applies buffered events anyway (`--idle-flush`).
    public var idleFlushMillis: Int64 = 2_000
    /// `linger.ms` of the producer that writes the input (the payment processor's, upstream of
    /// MuleStream): how long it waits to fill a batch.
    public var inputLingerMillis = 5
    /// `linger.ms` of the engine's alert producer (`-X linger.ms=…` of `mulestream run`).
    public var alertLingerMillis = 5
    /// `fetch.wait.max.ms` of every consumer (the engine and the alert reader): how long the
    /// broker may hold a fetch when it has nothing new.
    public var fetchWaitMaxMillis = 500
    /// Messages the engine takes per poll before it publishes alerts.
    public var pollBatch = 2_000

    public init() {}

    /// librdkafka's and MuleStream's defaults.
    public static let defaults = PipelineSettings()

    /// Settings for low latency: no reorder wait, alerts sent at once, short fetch waits. The
    /// input producer still lingers 2 ms: the mock broker hands out small batches per fetch, and
    /// with unbatched input (linger 0) the engine falls behind at 10k events/s (measured).
    public static var lowLatency: PipelineSettings {
        var s = PipelineSettings()
        s.allowedLatenessMillis = 0
        s.idleFlushMillis = 100
        s.inputLingerMillis = 2
        s.alertLingerMillis = 0
        s.fetchWaitMaxMillis = 1
        s.pollBatch = 500
        return s
    }

    public var description: String {
        "allowed-lateness=\(allowedLatenessMillis)ms idle-flush=\(idleFlushMillis)ms input linger.ms=\(inputLingerMillis) "
            + "alert linger.ms=\(alertLingerMillis) "
            + "fetch.wait.max.ms=\(fetchWaitMaxMillis) poll-batch=\(pollBatch)"
    }
}

/// librdkafka log lines at error level and worse go to standard error; the rest is noise here
/// (for example the warning that `linger.ms` is ignored by a consumer).
let errorsOnly: @Sendable (KafkaLogRecord) -> Void = { record in
    if record.level <= .error { KafkaLogRecord.standardError(record) }
}

/// librdkafka's mock cluster in this process, with the engine's topics created: the broker the
/// through-the-broker figures are measured on (the development broker of `mulestream dev-broker`).
public final class BrokerRig: @unchecked Sendable {
    public let cluster: MockCluster
    public let input = "payments"
    public let output = "alerts"
    public let outputPartitions: Int32 = 4
    public let partitions: Int32

    /// The mock broker keeps about 5 MiB per partition; `partitions` must hold what is produced
    /// before it is consumed (`partitions(forBytes:)`).
    public init(partitions: Int32) throws {
        self.partitions = partitions
        cluster = try MockCluster(brokers: 1, logHandler: errorsOnly)
        try cluster.createTopic(input, partitions: partitions)
        try cluster.createTopic(output, partitions: outputPartitions)
        try cluster.createTopic(input + ".dlq", partitions: 1)
        try cluster.createTopic(output + ".shadow", partitions: 1)
    }

    /// Partitions needed to keep `bytes` of messages within the mock broker's retention (4 MiB
    /// each, leaving room for batch overhead), at least 8.
    public static func partitions(forBytes bytes: Int) -> Int32 {
        Int32(max(8, (bytes + (4 << 20) - 1) / (4 << 20)))
    }

    /// Client configuration for this broker; `lingerMillis` for a producer.
    public func kafkaConfig(lingerMillis: Int? = nil) -> KafkaConfig {
        var kc = KafkaConfig()
        kc.logHandler = errorsOnly
        kc.set("bootstrap.servers", cluster.bootstrapServers)
        if let lingerMillis { kc.set("linger.ms", String(lingerMillis)) }
        return kc
    }

    /// The engine's configuration, as `mulestream run` builds it from its flags.
    public func engineConfig(group: String, settings: PipelineSettings, exitWhenIdleMillis: Int64? = nil) -> EngineConfig {
        var kc = kafkaConfig(lingerMillis: settings.alertLingerMillis)
        kc.set("group.id", group)
        kc.set("auto.offset.reset", "earliest")
        kc.set("fetch.wait.max.ms", String(settings.fetchWaitMaxMillis))
        var config = EngineConfig(kafka: kc, inputTopic: input, outputTopic: output)
        config.detector.allowedLatenessMillis = settings.allowedLatenessMillis
        config.idleFlushMillis = settings.idleFlushMillis
        config.pollBatch = settings.pollBatch
        config.progressIntervalMillis = 0
        config.exitWhenIdleMillis = exitWhenIdleMillis
        return config
    }

    /// Produces every line of `stream` (round robin over the partitions, so none overflows the
    /// mock broker's retention), waits for every acknowledgement and checks the broker kept them all.
    public func produceAll(_ stream: SimulatedStream, settings: PipelineSettings = .defaults) throws {
        let producer = try KafkaProducer(config: kafkaConfig(lingerMillis: settings.inputLingerMillis))
        defer { producer.close() }
        try stream.arena.withUnsafeBytes { raw in
            for i in 0..<stream.count {
                let line = UnsafeRawBufferPointer(rebasing: raw[stream.lineStart[i]..<stream.lineEnd[i]])
                try producer.send(topic: input, partition: Int32(i % Int(partitions)), key: nil, value: line)
                if i % 10_000 == 0 { producer.poll(timeoutMillis: 0) }
            }
        }
        try producer.flush(timeoutMillis: 60_000)
        let marks = try KafkaAdmin.watermarks(config: kafkaConfig(), topic: input,
                                              partitions: Array(0..<partitions), timeoutMillis: 10_000)
        let stored = marks.reduce(0) { $0 + Int($1.high - $1.low) }
        guard stored == stream.count else {
            throw BenchFailure("the mock broker retained \(stored) of \(stream.count) events: use more partitions")
        }
    }
}

/// A failure of a measuring tool, with the reason.
public struct BenchFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A logger for the engine that only reports warnings and worse (alerts are logged at info).
public func quietLogger() -> Logger {
    var logger = Logger(label: "mulestream-bench")
    logger.logLevel = .warning
    return logger
}

/// What one run of the engine over a pre-produced topic did.
public struct ThroughputRun: Sendable {
    public var consumed: UInt64
    public var alerts: UInt64
    public var deadLettered: UInt64
    /// From the first batch consumed to the last (group join and the idle wait before exit excluded).
    public var activeSeconds: Double

    public var eventsPerSecond: Double { activeSeconds > 0 ? Double(consumed) / activeSeconds : 0 }
}

extension BrokerRig {
    /// Runs `StreamEngine` (exactly as `mulestream run` does) over everything in the input topic,
    /// with a new consumer group, until the input has been idle for a second.
    public func drainWithEngine(rules: [Rule], group: String, settings: PipelineSettings = .defaults) throws -> ThroughputRun {
        let config = engineConfig(group: group, settings: settings, exitWhenIdleMillis: 1_000)
        let engine = try StreamEngine(config: config, rules: rules, logger: quietLogger())
        let counters = try engine.run(stop: StopSignal())
        let d = engine.activeDuration
        return ThroughputRun(
            consumed: counters.consumed, alerts: counters.alertsPublished, deadLettered: counters.deadLettered,
            activeSeconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }
}
