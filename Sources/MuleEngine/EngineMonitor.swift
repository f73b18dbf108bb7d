import CoreMetrics
import MuleCore
import Synchronization

/// The bridge between the engine thread and whoever watches it (the `--http` endpoint, tests).
/// The engine keeps plain counters on its hot path and hands a snapshot over here once per
/// status interval (and on every phase change); this object then holds the latest snapshot for
/// readers on other threads and feeds the swift-metrics handles. Nothing here runs per event.
public final class EngineMonitor: Sendable {
    /// How many recent alerts and gangs a snapshot keeps, and members listed per gang.
    public let recentAlertLimit: Int
    public let gangLimit: Int
    public let gangMemberLimit: Int
    private let latest = Mutex(EngineStatus())
    private let feed: Mutex<MetricsFeed>

    /// `metrics` is where the engine's metrics go (e.g. a `PrometheusMetricsFactory`); the
    /// default is whatever `MetricsSystem` was bootstrapped with.
    public init(metrics: any MetricsFactory = MetricsSystem.factory, recentAlertLimit: Int = 50, gangLimit: Int = 20,
                gangMemberLimit: Int = 12) {
        self.recentAlertLimit = recentAlertLimit
        self.gangLimit = gangLimit
        self.gangMemberLimit = gangMemberLimit
        self.feed = Mutex(MetricsFeed(factory: metrics))
    }

    /// The latest snapshot (a copy).
    public var status: EngineStatus { latest.withLock { $0 } }

    public var phase: EnginePhase { latest.withLock { $0.phase } }

    func enter(_ phase: EnginePhase) {
        latest.withLock { $0.phase = phase }
        feed.withLock { $0.publishPhase(phase) }
    }

    func publish(_ status: EngineStatus) {
        latest.withLock { $0 = status }
        feed.withLock { $0.publish(status) }
    }

    /// Time taken by one poll batch (poll, decode, apply, evaluate, publish its alerts).
    func recordBatch(nanoseconds: Int64) {
        feed.withLock { $0.batchDuration.recordNanoseconds(nanoseconds) }
    }
}

/// The swift-metrics handles and the totals last handed to them: counters only ever receive the
/// increase since the previous snapshot. Names are documented in README ("Operations").
struct MetricsFeed {
    let factory: any MetricsFactory
    let batchDuration: Timer
    private var counters: [CounterKey: (counter: Counter, last: UInt64)] = [:]
    private var gauges: [CounterKey: Gauge] = [:]
    private var lagGauges: [Int32: Gauge] = [:]

    struct CounterKey: Hashable {
        var name: String
        var labels: [String]
    }

    init(factory: any MetricsFactory) {
        self.factory = factory
        batchDuration = Timer(label: "mulestream_batch_duration_seconds", factory: factory)
    }

    /// Raises counter `name{labels}` to `total` (creating it on first sight).
    private mutating func count(_ name: String, _ total: UInt64, _ labels: [(String, String)] = []) {
        let key = CounterKey(name: name, labels: labels.flatMap { [$0.0, $0.1] })
        if var entry = counters[key] {
            if total > entry.last {
                entry.counter.increment(by: Int64(clamping: total - entry.last))
                entry.last = total
                counters[key] = entry
            }
        } else {
            let c = Counter(label: name, dimensions: labels, factory: factory)
            if total > 0 { c.increment(by: Int64(clamping: total)) }
            counters[key] = (c, total)
        }
    }

    private mutating func gauge(_ name: String, _ value: Double, _ labels: [(String, String)] = []) {
        let key = CounterKey(name: name, labels: labels.flatMap { [$0.0, $0.1] })
        if let g = gauges[key] { g.record(value); return }
        let g = Gauge(label: name, dimensions: labels, factory: factory)
        g.record(value)
        gauges[key] = g
    }

    mutating func publishPhase(_ phase: EnginePhase) {
        gauge("mulestream_ready", phase.isReady ? 1 : 0)
    }

    mutating func publish(_ s: EngineStatus) {
        let c = s.counters
        let d = c.detector
        publishPhase(s.phase)
        count("mulestream_events_consumed_total", c.consumed)
        count("mulestream_events_applied_total", d.applied)
        for (reason, n) in c.decodeFailures { count("mulestream_decode_failures_total", n, [("reason", reason)]) }
        count("mulestream_late_events_total", d.lateDropped, [("action", "dropped")])
        count("mulestream_late_events_total", d.lateProcessed, [("action", "processed")])
        count("mulestream_duplicate_events_total", d.duplicates)
        count("mulestream_dead_lettered_total", c.deadLettered)
        for (t, n) in c.alerts {
            count("mulestream_alerts_total", n, [("rule", t.rule), ("mode", t.mode), ("outcome", t.outcome)])
        }
        count("mulestream_alerts_suppressed_cooldown_total", d.alertsSuppressedCooldown)
        count("mulestream_delivery_failures_total", c.deliveryFailures)
        count("mulestream_evictions_total", d.legsEvicted, [("kind", "legs")])
        count("mulestream_evictions_total", d.accountsEvictedIdle, [("kind", "accounts_idle")])
        count("mulestream_evictions_total", d.accountsEvictedCap, [("kind", "accounts_cap")])
        count("mulestream_rule_reloads_total", c.ruleReloads, [("result", "applied")])
        count("mulestream_rule_reloads_total", c.ruleReloadFailures, [("result", "refused")])
        count("mulestream_snooze_records_total", c.snoozeRecords, [("result", "applied")])
        count("mulestream_snooze_records_total", c.snoozeRecordsMalformed, [("result", "malformed")])
        count("mulestream_commits_total", c.commits)
        count("mulestream_commits_overdue_total", c.commitsOverdue)
        gauge("mulestream_accounts_tracked", Double(s.trackedAccounts))
        gauge("mulestream_state_bytes", Double(s.stateBytes), [("part", "accounts")])
        gauge("mulestream_state_bytes", Double(s.chainStateBytes), [("part", "chains")])
        gauge("mulestream_buffered_events", Double(s.bufferedTransfers))
        gauge("mulestream_gangs", Double(s.gangCount))
        if s.maxEventTime != .min { gauge("mulestream_max_event_time_seconds", Double(s.maxEventTime) / 1000) }
        if let age = s.checkpointAgeSeconds { gauge("mulestream_checkpoint_age_seconds", age) }
        // One gauge per assigned partition; a partition given away stops being reported.
        var seen = Set<Int32>()
        for l in s.lag {
            seen.insert(l.partition)
            guard let lag = l.lag else { continue }
            let g = lagGauges[l.partition] ?? Gauge(label: "mulestream_consumer_lag", dimensions: [("partition", String(l.partition))], factory: factory)
            g.record(Double(lag))
            lagGauges[l.partition] = g
        }
        for (p, g) in lagGauges where !seen.contains(p) {
            g.destroy()
            lagGauges.removeValue(forKey: p)
        }
    }
}
