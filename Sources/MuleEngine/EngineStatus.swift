import MuleCore

/// Where the engine is in its life, as `/readyz` reports it: ready only while it owns its
/// input partitions (restored) and is consuming them.
public enum EnginePhase: Sendable, Equatable {
    /// Constructed, `run` not called yet.
    case starting
    /// Reading the snooze topic to its end before any input.
    case readingSnoozes
    /// Subscribed, waiting for the group to assign partitions.
    case awaitingAssignment
    /// Partitions assigned, their state being restored (checkpoints) before consuming.
    case restoring(partitions: [Int32])
    /// Consuming the assigned partitions (possibly none: a member with nothing to do is healthy).
    case consuming(partitions: [Int32])
    /// Partitions revoked or lost; waiting for the new assignment.
    case rebalancing
    /// A stop was requested: finishing the batch, publishing, committing.
    case stopping
    case stopped
    case failed(String)

    public var isReady: Bool {
        if case .consuming = self { return true }
        return false
    }

    /// One line for `/readyz` and logs.
    public var reason: String {
        switch self {
        case .starting: "starting"
        case .readingSnoozes: "reading the snooze topic before any input"
        case .awaitingAssignment: "waiting for the consumer group to assign partitions"
        case .restoring(let p): "restoring state of partitions \(Self.list(p))"
        case .consuming(let p): p.isEmpty ? "consuming (no partitions assigned to this member)" : "consuming partitions \(Self.list(p))"
        case .rebalancing: "rebalancing: partitions revoked, waiting for the new assignment"
        case .stopping: "shutting down: finishing the batch and committing"
        case .stopped: "stopped"
        case .failed(let why): "failed: \(why)"
        }
    }

    /// Short name for JSON and the `mulestream_phase` label.
    public var name: String {
        switch self {
        case .starting: "starting"
        case .readingSnoozes: "reading_snoozes"
        case .awaitingAssignment: "awaiting_assignment"
        case .restoring: "restoring"
        case .consuming: "consuming"
        case .rebalancing: "rebalancing"
        case .stopping: "stopping"
        case .stopped: "stopped"
        case .failed: "failed"
        }
    }

    private static func list(_ p: [Int32]) -> String { p.map(String.init).joined(separator: ",") }
}

/// One published (or snoozed) alert as the live view lists it.
public struct AlertDigest: Sendable, Codable, Equatable {
    public var alertId: String
    public var account: String
    public var rule: String
    public var ruleVersion: String
    public var mode: String
    public var severity: String
    public var score: Double
    public var eventTs: Int64
    /// Wall-clock epoch milliseconds when the engine published it.
    public var emittedAt: Int64
    public var snoozed: Bool
    public var gang: String?

    enum CodingKeys: String, CodingKey {
        case alertId = "alert_id", account, rule, ruleVersion = "rule_version", mode, severity, score
        case eventTs = "event_ts", emittedAt = "emitted_at", snoozed, gang
    }
}

/// A gang alive in the detector, as of the last status snapshot.
public struct GangDigest: Sendable, Codable, Equatable {
    public var id: String
    public var size: Int
    /// The first members by name (at most `EngineMonitor.gangMemberLimit`).
    public var members: [String]
    public var volume: String
    public var first: Int64
    public var last: Int64
}

/// Consumer lag of one assigned input partition (nil when librdkafka does not know it yet).
public struct PartitionLag: Sendable, Codable, Equatable {
    public var partition: Int32
    public var lag: Int64?
}

/// Count of alerts by rule id, mode (`enforce`/`shadow`) and outcome (`published`/`snoozed`).
public struct AlertTally: Sendable, Hashable, Codable {
    public var rule: String
    public var mode: String
    public var outcome: String

    public init(rule: String, mode: String, outcome: String) {
        self.rule = rule
        self.mode = mode
        self.outcome = outcome
    }
}

/// What the engine looked like at its last status snapshot (taken on the engine thread every
/// `EngineConfig.statusIntervalMillis`, never per event): the source of `/metrics` gauges,
/// `/readyz` and the live view.
public struct EngineStatus: Sendable {
    public var phase: EnginePhase = .starting
    public var counters = EngineCounters()
    public var assignedPartitions: [Int32] = []
    public var lag: [PartitionLag] = []
    public var trackedAccounts = 0
    public var stateBytes = 0
    public var chainStateBytes = 0
    public var bufferedTransfers = 0
    /// Newest event time seen and the watermark (epoch ms; `Int64.min` before any event).
    public var maxEventTime: Int64 = .min
    public var watermark: Int64 = .min
    /// Consumed events per second over the last snapshot interval.
    public var eventsPerSecond: Double = 0
    /// Seconds since the last checkpoint was written; nil until one exists.
    public var checkpointAgeSeconds: Double?
    public var ruleSet = ""
    public var rules: [String] = []
    /// The most recent alerts, newest first (at most `EngineMonitor.recentAlertLimit`).
    public var recentAlerts: [AlertDigest] = []
    /// The largest gangs alive, largest first (at most `EngineMonitor.gangLimit`), and how many there are.
    public var gangs: [GangDigest] = []
    public var gangCount = 0
    /// Wall-clock epoch milliseconds of the engine start and of this snapshot.
    public var startedAt: Int64 = 0
    public var updatedAt: Int64 = 0

    public init() {}
}
