import MuleEngine

/// The JSON of `/api/status` (what the live view draws), built from the engine's last snapshot.
struct StatusDocument: Encodable {
    var phase: String
    var ready: Bool
    var reason: String
    var startedAt: Int64
    var updatedAt: Int64
    var eventsConsumed: UInt64
    var eventsApplied: UInt64
    var eventsPerSecond: Double
    var deadLettered: UInt64
    var decodeFailures: [String: UInt64]
    var late: UInt64
    var duplicates: UInt64
    var alertsPublished: UInt64
    var shadowAlertsPublished: UInt64
    var snoozed: UInt64
    var accountsTracked: Int
    var stateBytes: Int
    var bufferedEvents: Int
    var maxEventTime: Int64?
    var watermark: Int64?
    var checkpointAgeSeconds: Double?
    var ruleSet: String
    var rules: [String]
    var partitions: [Int32]
    var lag: [PartitionLag]
    var totalLag: Int64?
    var recentAlerts: [AlertDigest]
    var gangCount: Int
    var gangs: [GangDigest]

    enum CodingKeys: String, CodingKey {
        case phase, ready, reason, startedAt = "started_at", updatedAt = "updated_at", eventsConsumed = "events_consumed"
        case eventsApplied = "events_applied", eventsPerSecond = "events_per_second", deadLettered = "dead_lettered"
        case decodeFailures = "decode_failures", late, duplicates, alertsPublished = "alerts_published"
        case shadowAlertsPublished = "shadow_alerts_published", snoozed, accountsTracked = "accounts_tracked"
        case stateBytes = "state_bytes", bufferedEvents = "buffered_events", maxEventTime = "max_event_time"
        case watermark, checkpointAgeSeconds = "checkpoint_age_seconds", ruleSet = "rule_set", rules, partitions, lag
        case totalLag = "total_lag", recentAlerts = "recent_alerts", gangCount = "gang_count", gangs
    }

    init(_ s: EngineStatus) {
        let c = s.counters
        phase = s.phase.name
        ready = s.phase.isReady
        reason = s.phase.reason
        startedAt = s.startedAt
        updatedAt = s.updatedAt
        eventsConsumed = c.consumed
        eventsApplied = c.detector.applied
        eventsPerSecond = s.eventsPerSecond
        deadLettered = c.deadLettered
        decodeFailures = c.decodeFailures
        late = c.detector.lateDropped + c.detector.lateProcessed
        duplicates = c.detector.duplicates
        alertsPublished = c.alertsPublished
        shadowAlertsPublished = c.shadowAlertsPublished
        snoozed = c.snoozedHits
        accountsTracked = s.trackedAccounts
        stateBytes = s.stateBytes + s.chainStateBytes
        bufferedEvents = s.bufferedTransfers
        maxEventTime = s.maxEventTime == .min ? nil : s.maxEventTime
        watermark = s.watermark == .min ? nil : s.watermark
        checkpointAgeSeconds = s.checkpointAgeSeconds
        ruleSet = s.ruleSet
        rules = s.rules
        partitions = s.assignedPartitions
        lag = s.lag
        totalLag = s.lag.isEmpty || s.lag.contains { $0.lag == nil } ? nil : s.lag.reduce(0) { $0 + ($1.lag ?? 0) }
        recentAlerts = s.recentAlerts
        gangCount = s.gangCount
        gangs = s.gangs
    }
}
