import BenchSupport
import Foundation
import Logging
import MuleCore
import MuleEngine
import MuleKafka

/// The settings that decide how fast an event goes through the broker and the engine, in one
/// value so each measured figure can name them. nil = what `mulestream run` uses when the flag
/// or property is not given (the engine's own default, whatever it is in this build).
public struct PipelineSettings: Sendable, CustomStringConvertible {
    /// The engine's reorder lateness: an event is applied once the watermark (newest event time
    /// of the slowest partition minus this) passes it. `--allowed-lateness` of `mulestream run`.
    public var allowedLatenessMillis: Int64?
    /// Quiet input this long applies buffered events anyway (`--idle-flush`).
    public var idleFlushMillis: Int64?
    /// `linger.ms` of the producer that writes the input (the payment processor's, upstream of
    /// MuleStream): how long it waits to fill a batch. librdkafka's default is 5; fractions of a
    /// millisecond are allowed.
    public var inputLingerMillis: Double = 5
    /// `linger.ms` of the engine's alert producer (`-X linger.ms=…` of `mulestream run`).
    public var alertLingerMillis: Int?
    /// `fetch.wait.max.ms` of every consumer (the engine and the alert reader): how long the
    /// broker may hold a fetch when it has nothing new (`-X fetch.wait.max.ms=…`).
    public var fetchWaitMaxMillis: Int?
    /// Messages the engine takes per poll before it publishes alerts (`EngineConfig.pollBatch`).
    public var pollBatch: Int?
    /// Room reserved at start for accounts and for transfer ids (`--reserve-accounts`,
    /// `--reserve-transfer-ids` of `mulestream run`): tables sized for them are not copied to
    /// grow while events wait.
    public var reserveAccounts: Int?
    public var reserveTransferIds: Int?
    /// librdkafka properties for the engine's clients, applied last (`-X key=value` of the tool,
    /// as of `mulestream run`).
    public var engineProperties: [(String, String)] = []

    public init() {}

    /// MuleStream's defaults (`mulestream run` with no tuning flags).
    public static let defaults = PipelineSettings()

    /// Settings for low latency: no reorder wait, alerts sent at once, short fetch waits. The
    /// input producer still lingers 2 ms: the mock broker hands out small batches per fetch, and
    /// with unbatched input (linger 0) the engine falls behind at 10k events/s (measured).
    public static var lowLatency: PipelineSettings {
        var s = PipelineSettings()
        s.allowedLatenessMillis = 0
        s.idleFlushMillis = 100
        s.inputLingerMillis = 1
        s.alertLingerMillis = 0
        s.fetchWaitMaxMillis = 1
        s.pollBatch = 500
        return s
    }

    public var description: String {
        func show<T>(_ v: T?, _ unit: String = "") -> String { v.map { "\($0)\(unit)" } ?? "default" }
        return "allowed-lateness=\(show(allowedLatenessMillis, "ms")) idle-flush=\(show(idleFlushMillis, "ms")) "
            + "input linger.ms=\(String(format: "%g", inputLingerMillis)) alert linger.ms=\(show(alertLingerMillis)) "
            + "fetch.wait.max.ms=\(show(fetchWaitMaxMillis)) poll-batch=\(show(pollBatch))"
            + (reserveAccounts.map { " reserve-accounts=\($0)" } ?? "") + (reserveTransferIds.map { " reserve-transfer-ids=\($0)" } ?? "")
            + engineProperties.map { " -X \($0.0)=\($0.1)" }.joined()
    }
}

/// librdkafka log lines at error level and worse go to standard error; the rest is noise here
/// (for example the warning that `linger.ms` is ignored by a consumer).
let errorsOnly: @Sendable (KafkaLogRecord) -> Void = { record in
    if record.level <= .error { KafkaLogRecord.standardError(record) }
}

/// The broker the through-the-broker figures are measured on, with the engine's topics created:
/// librdkafka's mock cluster in this process (the development broker of `mulestream dev-broker`),
/// or an external broker given by its bootstrap servers (`--bootstrap`, e.g. Tansu started by
/// `Benchmarks/tansu.sh`), where topics get names of their own per run.
public final class BrokerRig: @unchecked Sendable {
    /// nil for an external broker.
    public let cluster: MockCluster?
    public let bootstrapServers: String
    public let input: String
    public let output: String
    public let outputPartitions: Int32 = 4
    public let partitions: Int32
    /// Consumer properties the harness sets for this broker besides the engine's own (printed
    /// with every figure): on an external broker a 6 s `session.timeout.ms`, because Tansu holds
    /// a group join for half of it (45 s by default).
    public let harnessConsumerProperties: [(String, String)]

    public var isExternal: Bool { cluster == nil }
    /// What the figures were measured on, for the printed header.
    public var brokerDescription: String {
        isExternal ? "external broker \(bootstrapServers)" : "librdkafka's mock cluster (in this process)"
    }

    /// The mock broker keeps about 5 MiB per partition; `partitions` must hold what is produced
    /// before it is consumed (`partitions(forBytes:)`).
    public init(partitions: Int32) throws {
        self.partitions = partitions
        let cluster = try MockCluster(brokers: 1, logHandler: errorsOnly)
        self.cluster = cluster
        bootstrapServers = cluster.bootstrapServers
        input = "payments"
        output = "alerts"
        harnessConsumerProperties = []
        try cluster.createTopic(input, partitions: partitions)
        try cluster.createTopic(output, partitions: outputPartitions)
        try cluster.createTopic(input + ".dlq", partitions: 1)
        try cluster.createTopic(output + ".shadow", partitions: 1)
    }

    /// An external broker: creates this run's topics (`payments-<pid>-<n>`, …) with CreateTopics.
    public init(bootstrap: String, partitions: Int32) throws {
        self.partitions = partitions
        cluster = nil
        bootstrapServers = bootstrap
        let run = "\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
        input = "payments-\(run)"
        output = "alerts-\(run)"
        harnessConsumerProperties = [("session.timeout.ms", "6000")]
        let admin = kafkaConfig()
        for (name, count) in [(input, partitions), (output, outputPartitions), (input + ".dlq", 1), (output + ".shadow", 1)] {
            try KafkaAdmin.ensureTopic(config: admin, topic: .init(name: name, partitions: count, replicationFactor: 1),
                                       timeoutMillis: 30_000)
        }
    }

    /// Partitions needed to keep `bytes` of messages within the mock broker's retention (4 MiB
    /// each, leaving room for batch overhead), at least `minimum`.
    public static func partitions(forBytes bytes: Int, minimum: Int = 8) -> Int32 {
        Int32(max(minimum, (bytes + (4 << 20) - 1) / (4 << 20)))
    }

    /// Client configuration for this broker; `lingerMillis` for a producer.
    public func kafkaConfig(lingerMillis: Double? = nil) -> KafkaConfig {
        var kc = KafkaConfig()
        kc.logHandler = errorsOnly
        kc.set("bootstrap.servers", bootstrapServers)
        if let lingerMillis { kc.set("linger.ms", String(format: "%g", lingerMillis)) }
        return kc
    }

    /// The engine's configuration, as `mulestream run` builds it from its flags.
    public func engineConfig(group: String, settings: PipelineSettings, exitWhenIdleMillis: Int64? = nil) -> EngineConfig {
        var kc = kafkaConfig(lingerMillis: settings.alertLingerMillis.map(Double.init))
        kc.set("group.id", group)
        kc.set("auto.offset.reset", "earliest")
        if let v = settings.fetchWaitMaxMillis { kc.set("fetch.wait.max.ms", String(v)) }
        for (key, value) in harnessConsumerProperties + settings.engineProperties { kc.set(key, value) }
        // `-X debug=…` asks for librdkafka's debug lines: show them all.
        if kc["debug"] != nil { kc.logHandler = KafkaLogRecord.standardError }
        var config = EngineConfig(kafka: kc, inputTopic: input, outputTopic: output)
        if let v = settings.allowedLatenessMillis { config.detector.allowedLatenessMillis = v }
        if let v = settings.idleFlushMillis { config.idleFlushMillis = v }
        if let v = settings.pollBatch { config.pollBatch = v }
        if let v = settings.reserveAccounts { config.detector.reserveAccounts = v }
        if let v = settings.reserveTransferIds { config.detector.reserveTransferIds = v }
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
        // Tansu's high watermark is wrong (../shared/BROKERS.md): there, what the engine consumes is counted instead.
        if isExternal { return }
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
    /// Of the dead-lettered: events that arrived behind the watermark (`late`).
    public var late: UInt64
    /// From the first batch consumed to the last (group join and the idle wait before exit excluded).
    public var activeSeconds: Double
    /// The engine thread's time over the whole run (group join and idle exit included), from
    /// /proc/thread-self/schedstat: on a CPU, and runnable but waiting for one (other processes
    /// on the box). The rest of the run it slept (waiting for the broker, the join, the idle exit).
    public var engineCPUSeconds: Double
    public var engineRunnableSeconds: Double

    public var eventsPerSecond: Double { activeSeconds > 0 ? Double(consumed) / activeSeconds : 0 }
}

extension BrokerRig {
    /// Runs `StreamEngine` (exactly as `mulestream run` does) over everything in the input topic,
    /// with a new consumer group, until the input has been idle for a second.
    public func drainWithEngine(rules: [Rule], group: String, settings: PipelineSettings = .defaults) throws -> ThroughputRun {
        let config = engineConfig(group: group, settings: settings, exitWhenIdleMillis: 1_000)
        let engine = try StreamEngine(config: config, rules: rules, logger: quietLogger())
        let sched0 = ThreadSchedule.now()
        let counters = try engine.run(stop: StopSignal())
        let sched = ThreadSchedule.now() - sched0
        let d = engine.activeDuration
        return ThroughputRun(
            consumed: counters.consumed, alerts: counters.alertsPublished, deadLettered: counters.deadLettered,
            late: counters.detector.lateDropped, activeSeconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18,
            engineCPUSeconds: sched.onCPU, engineRunnableSeconds: sched.runnable)
    }
}

/// The calling thread's scheduling so far (Linux /proc/thread-self/schedstat): seconds on a CPU
/// and seconds runnable but waiting for a CPU. Zero where the file is missing.
public struct ThreadSchedule: Sendable {
    public var onCPU: Double
    public var runnable: Double

    public init(onCPU: Double, runnable: Double) {
        self.onCPU = onCPU
        self.runnable = runnable
    }

    public static func now() -> ThreadSchedule {
        guard let text = try? String(contentsOfFile: "/proc/thread-self/schedstat", encoding: .utf8) else {
            return ThreadSchedule(onCPU: 0, runnable: 0)
        }
        let fields = text.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard fields.count >= 2 else { return ThreadSchedule(onCPU: 0, runnable: 0) }
        return ThreadSchedule(onCPU: fields[0] / 1e9, runnable: fields[1] / 1e9)
    }

    public static func - (a: Self, b: Self) -> Self { Self(onCPU: a.onCPU - b.onCPU, runnable: a.runnable - b.runnable) }
}
