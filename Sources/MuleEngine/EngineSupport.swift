import MuleCore
import MuleKafka

/// Pieces both engines (`StreamEngine`, `ScaleOutEngine`) use.

extension KafkaConfig {
    /// The properties for a producer or an admin client: consumer-only ones left out (librdkafka
    /// warns about them), with the same log handler.
    var withoutConsumerProperties: KafkaConfig {
        var c = KafkaConfig(properties.filter { !StreamEngine.consumerOnly.contains($0.key) }.map { ($0.key, $0.value) })
        c.logHandler = logHandler
        return c
    }

    /// The engine's producer waits at most 1 ms to fill a batch (librdkafka's default `linger.ms`
    /// is 5): alerts are few, and each waits the whole linger on its way out. A `linger.ms` or
    /// `queue.buffering.max.ms` the user set wins.
    mutating func setEngineProducerDefaults() {
        if self["linger.ms"] == nil && self["queue.buffering.max.ms"] == nil { set("linger.ms", "1") }
    }

    /// The engine's consumer keeps fetching until a million messages are queued locally
    /// (librdkafka's `queued.min.messages` default is 100 000). Its memory stays bounded by
    /// `queued.max.messages.kbytes` (64 MiB), which takes precedence. With librdkafka's default,
    /// draining a backlog over many partitions paused the fetchers while the engine still had
    /// work queued: the engine thread slept more than half its active time (1 M events over 45
    /// partitions: 104–116 k events/s on the mock and 138 k on Tansu with the default,
    /// 161–168 k and 182 k with this; `Benchmarks/.build/release/broker throughput 1000000`).
    /// The price is librdkafka's bookkeeping per queued message on top of the payload cap: about
    /// 150 MiB more at peak with ~130-byte events (README). A value the user set wins.
    mutating func setEngineConsumerDefaults() {
        if self["queued.min.messages"] == nil { set("queued.min.messages", "1000000") }
    }
}

/// A duration in seconds, for rates and ages in status snapshots and logs.
func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

extension AlertDigest {
    /// Counts an alert leaving the core by rule, mode and outcome in `tallies`, and, when there is
    /// a live view (`limit`), keeps it among the `limit` most recent.
    static func record(_ alert: Alert, outcome: String, at wallMillis: Int64, tallies: inout [AlertTally: UInt64],
                       recent: inout [AlertDigest], limit: Int?) {
        tallies[AlertTally(rule: alert.ruleId, mode: alert.mode.name, outcome: outcome), default: 0] += 1
        guard let limit else { return }
        recent.append(AlertDigest(alertId: alert.alertId, account: alert.account, rule: alert.ruleId,
                                  ruleVersion: alert.ruleVersion, mode: alert.mode.name, severity: alert.severity.name,
                                  score: alert.score, eventTs: alert.eventTs, emittedAt: wallMillis,
                                  snoozed: outcome == "snoozed", gang: alert.gang))
        if recent.count > limit { recent.removeFirst(recent.count - limit) }
    }
}

/// The periodic commit's offsets, held until every output sent before they were taken is
/// settled (`KafkaProducer.settledThrough` reaches the producer's `sentCount` of that moment).
///
/// Alerts, dead letters and legs records sent *after* the offsets were taken belong to later
/// events, so the commit does not wait for them. Waiting for an empty producer queue instead
/// never ended while alerts kept coming: at 10 k events/s the queue held an unacknowledged alert
/// at every check for over a second, the commit went overdue and then synchronous (21–43 ms with
/// event handling stopped, once per 30 s run).
struct CommitFence {
    /// Offsets waiting to go, or empty.
    private var offsets: [TopicPartitionOffset] = []
    /// The producer's `sentCount` when they were taken.
    private var mark: UInt64 = 0

    /// Whether offsets are waiting for their outputs.
    private var isArmed: Bool { !offsets.isEmpty }

    /// What the periodic commit can do at this turn of the loop.
    enum Due {
        /// Nothing processed since the last commit.
        case nothing
        /// Offsets held (or a background commit still out): ask again at the next turn.
        case waiting
        /// These offsets' outputs are settled: commit them (handed over once).
        case ready([TopicPartitionOffset])
    }

    /// Takes `offsets()` and `producer`'s `sentCount` when nothing is held and no background
    /// commit of `consumer` is out; hands the held offsets over once every output sent before
    /// them is settled.
    mutating func due(consumer: KafkaConsumer, producer: KafkaProducer, offsets take: () -> [TopicPartitionOffset]) -> Due {
        if !isArmed, consumer.commitsInFlight == 0 {
            let taken = take()
            if taken.isEmpty { return .nothing }
            offsets = taken
            mark = producer.sentCount
        }
        guard isArmed, producer.settledThrough >= mark else { return .waiting }
        defer { offsets = [] }
        return .ready(offsets)
    }

    /// Forgets the offsets of partitions this member no longer owns (another member's commits
    /// must not be overwritten with them).
    mutating func drop(partitions: Set<Int32>) {
        offsets.removeAll { partitions.contains($0.partition) }
    }

    /// Forgets everything: a synchronous commit has gone past these offsets.
    mutating func clear() { offsets = [] }
}
