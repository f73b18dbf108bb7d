#if canImport(Glibc)
import Glibc
#endif
import Logging
import MuleCore
import MuleKafka

/// Counters of the live engine (exported as metrics; logged on progress and shutdown).
public struct EngineCounters: Sendable, Equatable {
    public var consumed: UInt64 = 0
    /// Decode failures by reason code (`missing_field`, `malformed_json`, …).
    public var decodeFailures: [String: UInt64] = [:]
    public var deadLettered: UInt64 = 0
    public var alertsPublished: UInt64 = 0
    /// Alerts of rules in `mode: shadow`, published to the shadow topic.
    public var shadowAlertsPublished: UInt64 = 0
    /// Hits silenced by a snooze (file or topic): counted, not published.
    public var snoozedHits: UInt64 = 0
    /// Rule (and snooze file) reloads applied, and refused (the old rules kept running).
    public var ruleReloads: UInt64 = 0
    public var ruleReloadFailures: UInt64 = 0
    /// Snooze-topic records applied (set or lifted), and skipped as malformed.
    public var snoozeRecords: UInt64 = 0
    public var snoozeRecordsMalformed: UInt64 = 0
    public var commits: UInt64 = 0
    /// Commits put off because the brokers did not acknowledge in time (outage) or refused the
    /// commit; each is retried at the next interval.
    public var commitsDeferred: UInt64 = 0
    /// Periodic commits that found the outputs before them still unacknowledged after two
    /// `--commit-interval`s and so committed synchronously (event handling waits for the flush).
    public var commitsOverdue: UInt64 = 0
    public var idleFlushes: UInt64 = 0
    /// Checks that found a silent partition still holding unread messages (behind, not idle),
    /// so it kept holding event time back.
    public var idleReleasesDeferred: UInt64 = 0
    /// Alerts by rule id, mode and outcome (`published` or `snoozed`), counted as they leave the core.
    public var alerts: [AlertTally: UInt64] = [:]
    /// Messages (alerts, dead letters) the broker refused or never acknowledged; the engine stops
    /// without committing past them.
    public var deliveryFailures: UInt64 = 0
    /// Checkpoints written, and attempts that failed (the engine keeps running on the old ones).
    public var checkpointsWritten: UInt64 = 0
    public var checkpointFailures: UInt64 = 0
    /// Size of the last checkpoint written, bytes.
    public var checkpointBytes: UInt64 = 0
    /// 1 when the engine started from a checkpoint; checkpoint files skipped as unreadable
    /// (corrupt, truncated, another format version, another input topic), by reason code.
    public var checkpointsRestored: UInt64 = 0
    public var checkpointsRejected: [String: UInt64] = [:]
    /// Transactions committed and aborted (`--exactly-once`).
    public var transactionsCommitted: UInt64 = 0
    public var transactionsAborted: UInt64 = 0
    /// Alerts and dead letters not published again because they belong to events replayed after
    /// a restore that a committed transaction already covered (`--exactly-once`).
    public var replaySuppressed: UInt64 = 0
    public var detector = DetectorCounters()

    public init() {}
}

/// Why the engine stopped with an error.
public enum EngineError: Error, CustomStringConvertible {
    case invalidConfiguration([String])
    case deliveryFailed(String)
    case checkpointUnusable(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let p): "invalid configuration: " + p.joined(separator: "; ")
        case .deliveryFailed(let m): "alert delivery failed, input offsets not committed: \(m)"
        case .checkpointUnusable(let m): "checkpoint folder unusable: \(m)"
        }
    }
}

/// The live engine: consumes payment events from Kafka, runs them through the detection core,
/// publishes alerts, dead-letters what it cannot process, and commits input offsets only once
/// every event up to them is applied and every alert they caused is acknowledged by the broker
/// (at-least-once; alert ids are deterministic so downstream can drop repeats).
public final class StreamEngine {
    public let config: EngineConfig
    let logger: Logger
    var detector: Detector
    private let decoder: EventDecoder
    let producer: KafkaProducer
    var consumer: KafkaConsumer?
    /// Highest input offset handled per partition.
    var consumedThrough: [Int32: Int64] = [:]
    var committedNext: [Int32: Int64] = [:]
    /// The periodic commit's offsets while the outputs sent before them are unacknowledged.
    var fence = CommitFence()
    /// Per input partition, the next offset whose event the detector's state does not hold yet:
    /// from a restored checkpoint, and kept when a partition is let go, so that a partition
    /// assigned again resumes where the state ends (neither re-applying nor skipping events).
    var stateNext: [Int32: Int64] = [:]
    /// Checkpoint folder (`checkpointDir`), the last sequence written, and `consumed` then.
    var checkpoints: CheckpointStore?
    var checkpointSequence: UInt64 = 0
    var stateMarkAtCheckpoint: UInt64 = .max
    /// Changes whenever the state or the offsets it covers change (events consumed or applied).
    var stateMark: UInt64 { counters.consumed &+ detector.counters.applied &* 0x9E37_79B9 }
    /// `--exactly-once` after a restore: per partition, the group's committed offset when it is
    /// ahead of the state; output of events below it was already committed and is not repeated.
    var replayUntil: [Int32: Int64] = [:]
    /// A transaction was aborted where the error could not be thrown (rebalance callback).
    var rewindPending: KafkaError?
    /// Set once a transaction is aborted: the state in hand is discarded, so nothing of it may
    /// be committed or checkpointed when the consumer is closed.
    var abandoning = false
    public internal(set) var counters = EngineCounters()
    /// Snoozes from the snooze file (replaced on reload) and from the snooze topic.
    var fileSnoozes: SnoozeList
    var topicSnoozes = SnoozeList()
    var ruleWatch: RuleFileWatch?
    var snoozeReader: SnoozeTopicReader?
    private var firstInputAt: ContinuousClock.Instant?
    /// When each assigned input partition last delivered (or was assigned).
    var partitionLastInput: [Int32: ContinuousClock.Instant] = [:]
    private var lastIdleCheck = ContinuousClock.now
    private var lastAssignment: ContinuousClock.Instant?
    /// The group's committed offsets of assigned partitions, fetched when first needed.
    private var committedAtAssignment: [Int32: Int64] = [:]
    private var lastInputAt: ContinuousClock.Instant?
    /// Where status snapshots and metrics go (`run --http`); nil = nobody watches, nothing is collected.
    public var monitor: EngineMonitor?
    public private(set) var phase: EnginePhase = .starting
    /// Checkpoint hook: the checkpoint writer sets this when a checkpoint is durable; the status
    /// snapshot reports its age (`mulestream_checkpoint_age_seconds`), absent while nil.
    var lastCheckpointAt: ContinuousClock.Instant?
    /// Recent alerts for the live view, oldest first (kept only while a monitor is attached).
    private var recentAlerts: [AlertDigest] = []
    /// When the first message of the current poll batch was handled (batch latency metric), and
    /// whether it has been: a plain flag is what each message tests, because comparing an
    /// optional `ContinuousClock.Instant` with nil goes through value-witness calls (the type is
    /// resilient): ~0.4 % of the engine thread's samples in `broker throughput`.
    private var batchFirstMessageAt = ContinuousClock.now
    private var batchStarted = false
    private var statusTakenAt: ContinuousClock.Instant?
    private var consumedAtStatus: UInt64 = 0
    private var startedAtWall: Int64 = 0

    /// Wall time from the first consumed batch to the last one (for events/s figures).
    public var activeDuration: Duration {
        guard let a = firstInputAt, let b = lastInputAt else { return .zero }
        return b - a
    }
    /// Called for every alert as it is published (the demo prints them); runs on the engine thread.
    public var onAlert: ((Alert) -> Void)?

    /// `rules` and `snoozes` are what was loaded from `config.rulesPath` and `config.snoozeFile`
    /// at start-up (the caller validates them and reports problems); reloads read those paths.
    public init(config: EngineConfig, rules: [Rule], snoozes: [Snooze] = [], logger: Logger) throws {
        let problems = config.problems()
        guard problems.isEmpty else { throw EngineError.invalidConfiguration(problems) }
        self.config = config
        self.logger = logger
        self.detector = Detector(rules: rules, config: config.detector)
        self.fileSnoozes = SnoozeList(snoozes)
        if let path = config.rulesPath { ruleWatch = RuleFileWatch(rulesPath: path, snoozeFile: config.snoozeFile) }
        self.decoder = EventDecoder(limits: config.decoderLimits)
        var producerConfig = config.kafka.withoutConsumerProperties
        producerConfig.setEngineProducerDefaults()
        if config.exactlyOnce { producerConfig.set("transactional.id", config.effectiveTransactionalId) }
        self.producer = try KafkaProducer(config: producerConfig)
        if let dir = config.checkpointDir {
            let store = CheckpointStore(directory: dir, keep: config.checkpointsKept)
            do {
                try store.prepare()
                checkpointSequence = try store.entries().first?.sequence ?? 0
            } catch {
                throw EngineError.checkpointUnusable("\(error)")
            }
            checkpoints = store
            restoreNewestCheckpoint()
        }
    }

    /// Properties that only make sense for the consumer (librdkafka warns about them on a producer).
    static let consumerOnly: Set<String> = ["group.id", "auto.offset.reset", "enable.auto.commit", "enable.auto.offset.store",
                                            "session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy",
                                            "max.poll.interval.ms", "group.instance.id", "isolation.level"]

    /// Runs until `stop` is set or a fatal error; returns the final counters. `reload` asks for
    /// the rule files and snooze file to be read again between batches (SIGHUP).
    public func run(stop: StopSignal, reload: ReloadRequest = ReloadRequest()) throws -> EngineCounters {
        startedAtWall = wallClockMillis()
        do {
            let counters = try consume(stop: stop, reload: reload)
            enter(.stopped)
            publishStatus(consumer: nil, now: .now)
            return counters
        } catch {
            counters.detector = detector.counters
            enter(.failed("\(error)"))
            publishStatus(consumer: nil, now: .now)
            throw error
        }
    }

    private func consume(stop: StopSignal, reload: ReloadRequest) throws -> EngineCounters {
        // Snoozes must be in force from the first event: read the snooze topic before any input.
        if config.snoozeTopic != nil { enter(.readingSnoozes) }
        try startSnoozeTopic()
        defer {
            snoozeReader?.close()
            snoozeReader = nil
        }
        if config.exactlyOnce {
            try producer.initTransactions(timeoutMillis: 60_000)
            try producer.beginTransaction()
        }
        while true {
            do {
                return try runSession(stop: stop, reload: reload)
            } catch let abort as TransactionAborted {
                // Output and offsets of the aborted transaction are gone: start again from the
                // newest checkpoint (or empty state) at its offsets, and do not repeat output
                // that committed transactions already hold.
                logger.error("transaction aborted: rewinding to the last checkpoint and committed offsets", metadata: [
                    "error": "\(abort.cause)"])
                rewindAfterAbort()
            }
        }
    }

    /// One consumer-group membership: from subscribing until stopped (or a transaction abort).
    private func runSession(stop: StopSignal, reload: ReloadRequest) throws -> EngineCounters {
        var consumerConfig = config.kafka
        consumerConfig.setEngineConsumerDefaults()
        let consumer = try KafkaConsumer(config: consumerConfig, topics: [config.inputTopic]) { [unowned self] event in
            self.rebalanced(event)
        }
        consumer.startOffsets = Dictionary(uniqueKeysWithValues: stateNext.map {
            (TopicPartition(topic: config.inputTopic, partition: $0.key), $0.value)
        })
        self.consumer = consumer
        defer {
            consumer.close()
            self.consumer = nil
        }
        enter(.awaitingAssignment)
        publishStatus(consumer: consumer, now: .now)
        logger.info("engine started", metadata: [
            "input": "\(config.inputTopic)", "output": "\(config.outputTopic)",
            "dead_letter": "\(config.deadLetterTopic)", "shadow": "\(config.shadowTopic)",
            "rules": "\(detector.ruleList.map(\.key).joined(separator: ","))", "rule_set": "\(detector.ruleSet)",
            "snoozes": "\(fileSnoozes.count + topicSnoozes.count)",
        ])
        let clock = ContinuousClock()
        var lastRuleCheck = clock.now
        var lastCommit = clock.now
        var lastInput = clock.now
        var lastProgress = clock.now
        var lastCheckpoint = clock.now
        stateMarkAtCheckpoint = stateMark  // a fresh or just-restored state needs no checkpoint yet
        var consumedAtProgress: UInt64 = 0
        let firstStatus = clock.now
        while !stop.isStopped {
            if let cause = rewindPending {
                rewindPending = nil
                abandoning = true
                throw TransactionAborted(cause: cause)
            }
            batchClock = clock.now
            let n: Int
            do {
                defer { settleRun() }
                n = try consumer.poll(max: config.pollBatch, timeoutMillis: config.pollTimeoutMillis) { message in
                    self.handle(message)
                    // An alert leaves as soon as its event is handled, not when the batch ends
                    // (a batch of 2 000 events takes ~5 ms of the core).
                    if self.detector.counters.alertsRaised != self.alertsRaisedPublished { try self.publishAlerts() }
                }
            }
            let now = clock.now
            if n > 0 {
                if counters.consumed == UInt64(n) { firstInputAt = now }
                lastInput = now
                lastInputAt = now
            } else if config.idleFlushMillis > 0, detector.bufferedTransfers > 0,
                      now - lastInput >= .milliseconds(config.idleFlushMillis), caughtUp(consumer) {
                // Quiet input and nothing left to fetch: apply what is buffered rather than wait
                // for the next event. (A consumer that is merely slow is not caught up, so this
                // never declares a lagging partition's events late.)
                detector.advanceWatermark(to: detector.maxEventTime &+ 1)
                counters.idleFlushes += 1
            }
            if config.partitionIdleMillis > 0, now - lastIdleCheck >= .milliseconds(100) {
                releaseIdlePartitions(now: now, consumer: consumer)
                lastIdleCheck = now
            }
            try publishAlerts()
            if batchStarted {
                batchStarted = false
                if let monitor {
                    let d = clock.now - batchFirstMessageAt
                    monitor.recordBatch(nanoseconds: d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
                }
            }
            producer.poll(timeoutMillis: 0)
            try followSnoozeTopic()
            // Between batches, on this thread: processing never sees a half-swapped rule set.
            if reload.take() {
                reloadRules(trigger: "reload requested (SIGHUP)")
                lastRuleCheck = now
            } else if ruleWatch != nil, config.ruleCheckIntervalMillis > 0,
                      now - lastRuleCheck >= .milliseconds(config.ruleCheckIntervalMillis) {
                lastRuleCheck = now
                if ruleWatch?.changeSettled() == true { reloadRules(trigger: "rule files changed") }
            }
            // Only while partitions are assigned: after losing them (a broker outage outlasting the
            // session) nothing arrives until the group is joined again, which is not idle input.
            if let exitIdle = config.exitWhenIdleMillis, n == 0, detector.bufferedTransfers == 0,
               !partitionLastInput.isEmpty, let assignedAt = lastAssignment, now - max(lastInput, assignedAt) >= .milliseconds(exitIdle),
               caughtUp(consumer) || now - max(lastInput, assignedAt) >= .milliseconds(exitIdle * 10) {
                // (The second clause only guards against a lag that can never be known.)
                let parts = partitionLastInput.keys.sorted()
                let lags = consumer.cachedLag(parts.map { TopicPartition(topic: config.inputTopic, partition: $0) })
                logger.info("input idle: stopping as asked (--exit-when-idle)", metadata: [
                    "lag": "\(zip(parts, lags).map { "\($0.0):\($0.1.map(String.init) ?? "?")" }.joined(separator: ","))",
                ])
                break
            }
            collectCommitResults(consumer)
            if now - lastCommit >= .milliseconds(config.commitIntervalMillis) {
                let overdue = now - lastCommit >= .milliseconds(2 * config.commitIntervalMillis)
                if try commitInBackground(consumer, overdue: overdue) { lastCommit = now }
            }
            if checkpoints != nil, now - lastCheckpoint >= .milliseconds(config.checkpointIntervalMillis),
               stateMark != stateMarkAtCheckpoint {
                try writeCheckpoint(reason: "interval")
                lastCheckpoint = clock.now
            }
            if config.progressIntervalMillis > 0, now - lastProgress >= .milliseconds(config.progressIntervalMillis) {
                let secs = Double((now - lastProgress).components.seconds) + Double((now - lastProgress).components.attoseconds) / 1e18
                logger.info("progress", metadata: [
                    "consumed": "\(counters.consumed)",
                    "events_per_s": "\(Int(Double(counters.consumed - consumedAtProgress) / max(secs, 0.001)))",
                    "alerts": "\(counters.alertsPublished)", "dead_lettered": "\(counters.deadLettered)",
                    "accounts": "\(detector.trackedAccounts)", "buffered": "\(detector.bufferedTransfers)",
                ])
                lastProgress = now
                consumedAtProgress = counters.consumed
            }
            if monitor != nil, now - (statusTakenAt ?? firstStatus) >= .milliseconds(config.statusIntervalMillis) {
                publishStatus(consumer: consumer, now: now)
            }
        }
        enter(.stopping)
        publishStatus(consumer: consumer, now: clock.now)
        logger.info("stopping: flushing alerts and committing processed offsets")
        try publishAlerts()
        try commitProcessed()
        try producer.flush(timeoutMillis: 30_000)
        if checkpoints != nil { try writeCheckpoint(reason: "shutdown") }
        counters.detector = detector.counters
        logger.info("engine stopped", metadata: [
            "consumed": "\(counters.consumed)", "alerts": "\(counters.alertsPublished)",
            "dead_lettered": "\(counters.deadLettered)", "duplicates": "\(detector.counters.duplicates)",
            "late": "\(detector.counters.lateDropped)", "shadow_alerts": "\(counters.shadowAlertsPublished)",
            "snoozed": "\(counters.snoozedHits)", "rule_reloads": "\(counters.ruleReloads)",
            "rule_reload_failures": "\(counters.ruleReloadFailures)",
            "checkpoints": "\(counters.checkpointsWritten)", "transactions": "\(counters.transactionsCommitted)",
            "idle_releases_deferred": "\(counters.idleReleasesDeferred)",
        ])
        return counters
    }

    /// Snapshot of the counters including the core's.
    public var snapshot: EngineCounters {
        var c = counters
        c.detector = detector.counters
        return c
    }

    /// Whether every assigned input partition has been read to its (cached) high watermark. A
    /// partition nothing was read from since the assignment is measured from the group's
    /// committed offset (asked of the broker once per assignment, only while input is idle).
    private func caughtUp(_ consumer: KafkaConsumer) -> Bool {
        let partitions = partitionLastInput.keys.sorted()
        // No partition assigned (before the first assignment, or lost in an outage): nothing is
        // known, so nothing may be flushed as if the input were done.
        guard !partitions.isEmpty else { return false }
        let parts = partitions.map { TopicPartition(topic: config.inputTopic, partition: $0) }
        var lags = consumer.cachedLag(parts)
        if lags.allSatisfy({ $0 == 0 }) { return true }
        if lags.contains(where: { ($0 ?? 0) > 0 }) { return false }
        // Where reading resumed: where the state ends (checkpoint, or before a lost assignment),
        // else the group's committed offset.
        let unknown = parts.enumerated().filter {
            lags[$0.offset] == nil && stateNext[$0.element.partition] == nil && committedAtAssignment[$0.element.partition] == nil
        }
        if !unknown.isEmpty, let got = try? consumer.committed(unknown.map(\.element), timeoutMillis: 2000) {
            for c in got { committedAtAssignment[c.partition] = c.offset }
        }
        lags = consumer.cachedLag(parts, fallback: partitions.map { stateNext[$0] ?? committedAtAssignment[$0] })
        return lags.allSatisfy { $0 == 0 }
    }

    /// A partition that has delivered nothing for `partitionIdleMillis` stops holding event time back.
    /// Idle means silent while other partitions deliver: when every partition is silent (a
    /// broker outage) none is released, or its events would be late once input resumes. A lost
    /// partition keeps holding until the others have delivered for as long without it.
    ///
    /// Idle also means nothing left to read: a partition with messages beyond this consumer's
    /// position (by the high watermark librdkafka cached from its fetches) is behind, not idle —
    /// an engine short of CPU works through the fetched queue one partition's run at a time and
    /// can leave a partition undelivered for longer than the idle time. Releasing it then would
    /// make its queued events late (a third of a 1 M-event backlog was dead-lettered that way on
    /// a starved 2-core box). A partition whose lag is not known yet (no fetch response for it
    /// since the assignment, normally within `fetch.wait.max.ms`) keeps holding for up to
    /// `unknownLagGrace` of silence, then is released as an idle one would be (a partition
    /// whose leader never answers must not hold event time back for ever).
    private func releaseIdlePartitions(now: ContinuousClock.Instant, consumer: KafkaConsumer) {
        guard let newest = partitionLastInput.values.max() else { return }
        let idle = Duration.milliseconds(config.partitionIdleMillis)
        let silent = partitionLastInput.filter { newest - $0.value >= idle && detector.holdsWatermark(partition: $0.key) }
            .sorted { $0.key < $1.key }
        if !silent.isEmpty {
            let lags = consumer.cachedLag(silent.map { TopicPartition(topic: config.inputTopic, partition: $0.key) })
            for ((p, last), lag) in zip(silent, lags) {
                let behind = lag.map { $0 > 0 } ?? (newest - last < max(idle, Self.unknownLagGrace))
                if behind {
                    counters.idleReleasesDeferred &+= 1
                } else {
                    detector.releaseWatermarkHold(partition: p)
                }
            }
        }
        for (p, since) in lostPartitions where newest - since >= idle {
            lostPartitions.removeValue(forKey: p)
            detector.releaseWatermarkHold(partition: p)
        }
    }

    /// How long a silent partition whose lag is unknown keeps holding event time back.
    static let unknownLagGrace = Duration.seconds(30)

    /// Partitions lost (not revoked) and when: they may come back (an outage outlasting the
    /// session), so they keep holding event time back for a while.
    private var lostPartitions: [Int32: ContinuousClock.Instant] = [:]

    private var batchClock = ContinuousClock.now

    /// librdkafka hands messages over in runs from one partition: the run's partition and the
    /// highest offset handled in it, folded into `consumedThrough` and `partitionLastInput` when
    /// the run ends (`settleRun`) rather than with two dictionary updates per message.
    private var runPartition: Int32 = -1
    private var runThrough: Int64 = -1

    /// Folds the current run into the per-partition bookkeeping. Called when a batch ends and
    /// before anything reads that bookkeeping during a poll (the rebalance callback).
    func settleRun() {
        guard runPartition >= 0 else { return }
        if runThrough > consumedThrough[runPartition, default: -1] { consumedThrough[runPartition] = runThrough }
        runPartition = -1
    }

    private func handle(_ message: borrowing KafkaMessage) {
        counters.consumed &+= 1
        // Once per batch (reset after the batch): the start of its latency measurement.
        if !batchStarted {
            batchStarted = true
            batchFirstMessageAt = ContinuousClock.now
        }
        let partition = message.partition
        let offset = message.offset
        if partition != runPartition {
            settleRun()
            runPartition = partition
            runThrough = offset
            partitionLastInput[partition] = batchClock
        } else if offset > runThrough {
            runThrough = offset
        }
        let value = message.value
        let replayed = !replayUntil.isEmpty && offset < replayUntil[partition, default: -1]
        do throws(DecodeError) {
            let transfer = try decoder.decode(value)
            let outcome = detector.ingest(transfer, in: value, position: SourcePosition(partition: partition, offset: offset))
            if case .late(let behind) = outcome, !replayed {
                deadLetter(value: value, key: message.key, partition: partition, offset: offset,
                           reason: "late: \(behind) ms behind the watermark", transferId: transfer.id)
            }
        } catch {
            counters.decodeFailures[error.code, default: 0] += 1
            if replayed {
                counters.replaySuppressed += 1
                return
            }
            deadLetter(value: value, key: message.key, partition: partition, offset: offset, reason: error.reason)
        }
    }

    private func deadLetter(value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?, partition: Int32,
                            offset: Int64, reason: String, transferId: ByteSpan? = nil) {
        counters.deadLettered &+= 1
        // (Metadata is built only when debug logging is on: it is an autoclosure.)
        logger.debug("dead-lettered event", metadata: eventMetadata(partition: partition, offset: offset, value: value, transferId: transferId)
            .merging(["reason": "\(reason)"]) { a, _ in a })
        let copy = DeadLetter(value: value, key: key, reason: reason, topic: config.inputTopic, partition: partition,
                              offset: offset, limit: config.deadLetterCopyLimit)
        do {
            try producer.send(topic: config.deadLetterTopic, key: copy.key, value: copy.value, headers: copy.headers)
        } catch {
            // Not committing past this event is handled by the delivery check at commit time;
            // an enqueue failure here is recorded the same way.
            logger.error("dead-letter enqueue failed", metadata: eventMetadata(partition: partition, offset: offset, value: value, transferId: transferId)
                .merging(["error": "\(error)"]) { a, _ in a })
            pendingFailure = "\(error)"
        }
    }

    private var pendingFailure: String?

    /// `detector.counters.alertsRaised` when the alerts were last taken: a difference means
    /// alerts wait to be published.
    private var alertsRaisedPublished: UInt64 = 0

    func publishAlerts() throws {
        alertsRaisedPublished = detector.counters.alertsRaised
        let alerts = detector.takeAlerts()
        if alerts.isEmpty { return }
        let now = wallClockMillis()
        for alert in alerts {
            if !replayUntil.isEmpty, alert.source.offset < replayUntil[alert.source.partition, default: -1] {
                counters.replaySuppressed += 1
                continue
            }
            // Judged by the alert's event time, exactly as `backtest --snoozes` does.
            if let snooze = fileSnoozes.snooze(for: alert) ?? topicSnoozes.snooze(for: alert) {
                counters.snoozedHits += 1
                tally(alert, outcome: "snoozed", at: now)
                logger.debug("snoozed hit not published", metadata: Self.alertMetadata(alert).merging([
                    "until": "\(formatRFC3339(millis: snooze.untilMillis))", "reason": "\(snooze.reason)",
                ]) { a, _ in a })
                continue
            }
            let value = AlertEncoder.encode(alert, emittedAtMillis: now)
            let topic = alert.mode == .shadow ? config.shadowTopic : config.outputTopic
            try producer.send(topic: topic, key: Array(alert.account.utf8), value: value, headers: [])
            if alert.mode == .shadow { counters.shadowAlertsPublished += 1 } else { counters.alertsPublished += 1 }
            tally(alert, outcome: "published", at: now)
            logger.info("alert", metadata: Self.alertMetadata(alert).merging([
                "score": "\(AlertEncoder.formatRatio(alert.score))", "mode": "\(alert.mode.name)", "topic": "\(topic)",
            ]) { a, _ in a })
            onAlert?(alert)
        }
    }

    /// Commits, per partition, the offset after the last event that is fully handled: applied
    /// by the core (not still waiting in its reorder buffer) and with its alerts acknowledged.
    ///
    /// While the brokers do not answer (an outage) nothing is lost and nothing stops: a flush
    /// that times out or a commit that fails is logged and counted, and tried again at the next
    /// interval (unacknowledged messages stay queued in librdkafka until `message.timeout.ms`;
    /// only a message that then fails for good stops the engine). Returns whether everything
    /// produced so far is acknowledged (a checkpoint may only be written then).
    @discardableResult
    func commitProcessed(only partitions: Set<Int32>? = nil, flushMillis: Int32 = 5_000) throws -> Bool {
        guard let consumer else { return false }
        // Whatever the outcome, offsets held for a background commit are not sent any more:
        // they are at most these, and the next periodic commit takes fresh ones.
        fence.clear()
        if config.exactlyOnce {
            try commitTransaction(consumer: consumer, offsets: processedOffsets(only: partitions))
            return true
        }
        do {
            try producer.flush(timeoutMillis: flushMillis)
        } catch {
            // Only an outage defers the commit; a refused output must fail it (below), so the
            // failures are looked at here, not taken.
            if !producer.hasDeliveryFailures && pendingFailure == nil && (error as? KafkaError)?.isFatal != true {
                counters.commitsDeferred += 1
                logger.warning("brokers not acknowledging: commit deferred", metadata: [
                    "outstanding": "\(producer.outstanding)", "error": "\(error)"])
                return false
            }
        }
        try throwIfDeliveryFailed()
        let offsets = processedOffsets(only: partitions)
        if offsets.isEmpty { return true }
        do {
            try consumer.commit(offsets)
        } catch let error as KafkaError where !error.isFatal {
            commitRefused(error)
            return true
        }
        for o in offsets { committedNext[o.partition] = o.offset }
        counters.commits += 1
        return true
    }

    /// The periodic commit, without stopping the poll loop. The processed offsets are taken and
    /// held (`fence`) until every alert and dead letter sent before that moment is acknowledged;
    /// then they go to the coordinator in the background and their outcome is collected by
    /// `collectCommitResults` during later polls. Outputs sent after the offsets were taken do not
    /// hold them back. A synchronous commit blocked event handling for a coordinator round trip
    /// (measured 33–41 ms on the mock broker, the largest part of the p99 latency). Returns false
    /// while it has to wait — outputs before the offsets unacknowledged, or the previous
    /// background commit still out — and is asked again at the next turn of the loop; when still
    /// waiting once `overdue` (two intervals since the last commit) it does what a commit did
    /// before: waits for the acknowledgements and commits synchronously (`commitsOverdue`).
    /// Transactions (`exactlyOnce`) always commit synchronously.
    func commitInBackground(_ consumer: KafkaConsumer, overdue: Bool) throws -> Bool {
        if config.exactlyOnce {
            try commitProcessed()
            return true
        }
        switch fence.due(consumer: consumer, producer: producer, offsets: { processedOffsets(only: nil) }) {
        case .nothing:
            return true
        case .ready(let offsets):
            // A refused output stops the engine before anything past it is committed (even one
            // sent after the fence: the engine is stopping anyway, and committing less is safe).
            try throwIfDeliveryFailed()
            do {
                try consumer.commitInBackground(offsets)
            } catch let error as KafkaError where !error.isFatal {
                commitRefused(error)
            }
            return true
        case .waiting:
            guard overdue else { return false }
            counters.commitsOverdue += 1
            try commitProcessed()
            return true
        }
    }

    /// A commit the coordinator (or librdkafka) refused: counted and logged; the same offsets go
    /// again at the next interval.
    private func commitRefused(_ error: KafkaError) {
        counters.commitsDeferred += 1
        logger.warning("offset commit failed: retried at the next interval", metadata: ["error": "\(error)"])
    }

    /// Takes in the outcome of background commits: a committed offset counts as committed; a
    /// refused one is counted and logged, and the same offsets go again at the next interval.
    func collectCommitResults(_ consumer: KafkaConsumer) {
        guard consumer.commitsInFlight > 0 || consumer.hasCommitResults else { return }
        for result in consumer.takeCommitResults() {
            if let error = result.error {
                commitRefused(error)
                continue
            }
            // A partition let go meanwhile keeps no bookkeeping (its new owner starts from here).
            for o in result.offsets where consumedThrough[o.partition] != nil {
                committedNext[o.partition] = max(committedNext[o.partition] ?? -1, o.offset)
            }
            counters.commits += 1
        }
    }

    /// Throws if an output (alert, dead letter) was refused by the brokers: offsets past the
    /// event that caused it must not be committed.
    private func throwIfDeliveryFailed() throws {
        let failures = producer.takeDeliveryFailures()
        counters.deliveryFailures += UInt64(failures.count) + (pendingFailure == nil ? 0 : 1)
        if let f = failures.first ?? pendingFailure.map({ KafkaError(code: -1, message: $0) }) {
            throw EngineError.deliveryFailed("\(f)")
        }
    }

    /// Per partition, the offset after the last event that is applied (none of its events
    /// before it still wait in the reorder buffer), where that is beyond the last commit.
    func processedOffsets(only partitions: Set<Int32>?) -> [TopicPartitionOffset] {
        let buffered = detector.lowestBufferedOffsets()
        var offsets: [TopicPartitionOffset] = []
        for (p, last) in consumedThrough where partitions?.contains(p) ?? true {
            var next = last + 1
            if let b = buffered[p] { next = min(next, b) }
            if next > committedNext[p, default: -1] {
                offsets.append(TopicPartitionOffset(topic: config.inputTopic, partition: p, offset: next))
            }
        }
        return offsets
    }

    private func rebalanced(_ event: RebalanceEvent) {
        // Called during a poll, between two messages: bring the offsets handled so far in.
        settleRun()
        switch event {
        case .assigned(let parts):
            // Each assigned partition holds event time back until it delivers (or goes idle), so a
            // partition fetched later than the others does not see its events declared late.
            let mine = parts.filter { $0.topic == config.inputTopic }.map(\.partition)
            for p in mine { lostPartitions.removeValue(forKey: p) }
            detector.holdWatermark(for: mine)
            let now = ContinuousClock.now
            for p in mine { partitionLastInput[p] = now }
            lastAssignment = now
            for p in mine { committedAtAssignment.removeValue(forKey: p) }
            if config.exactlyOnce { noteReplayRange(mine) }
            logger.info("partitions assigned", metadata: ["partitions": "\(parts.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ","))"])
            // Nothing to restore yet: the partitions are consumed from their committed offsets.
            enter(.consuming(partitions: partitionLastInput.keys.sorted()))
        case .revoked(let parts) where abandoning:
            letGo(parts)
        case .revoked(let parts):
            logger.info("partitions revoked: committing what is processed", metadata: ["partitions": "\(parts.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ","))"])
            do {
                try publishAlerts()
                try commitProcessed(only: Set(parts.map(\.partition)))
                if checkpoints != nil, stateMark != stateMarkAtCheckpoint {
                    try writeCheckpoint(reason: "partitions revoked")
                }
            } catch let abort as TransactionAborted {
                rewindPending = abort.cause
            } catch {
                logger.error("commit on revoke failed", metadata: ["error": "\(error)"])
            }
            letGo(parts)
            // (Closing the consumer on shutdown revokes too: that is not a rebalance.)
            if phase != .stopping { enter(.rebalancing) }
        case .lost(let parts):
            // Another member may own these now: committing them would be wrong.
            logger.warning("partitions lost (session timeout or fencing): not committing them", metadata: ["partitions": "\(parts.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ","))"])
            letGo(parts, keepHold: true)
            if phase != .stopping { enter(.rebalancing) }
        case .failed(let error):
            logger.error("rebalance failed", metadata: ["error": "\(error)"])
        }
    }

    /// Moves to `phase`, tells the monitor at once (readiness must not wait for a snapshot).
    func enter(_ next: EnginePhase) {
        guard next != phase else { return }
        logger.debug("engine phase", metadata: ["phase": "\(next.name)", "reason": "\(next.reason)"])
        phase = next
        monitor?.enter(next)
    }

    /// Hands the monitor a snapshot: counters, lag of the assigned partitions, state size, recent
    /// alerts and the gangs alive. Taken on the engine thread between batches, never per event.
    private func publishStatus(consumer: KafkaConsumer?, now: ContinuousClock.Instant) {
        guard let monitor else { return }
        var s = EngineStatus()
        s.phase = phase
        s.counters = snapshot
        let parts = partitionLastInput.keys.sorted()
        s.assignedPartitions = parts
        if let consumer {
            let lags = consumer.cachedLag(parts.map { TopicPartition(topic: config.inputTopic, partition: $0) })
            s.lag = zip(parts, lags).map { PartitionLag(partition: $0.0, lag: $0.1) }
        }
        s.trackedAccounts = detector.trackedAccounts
        s.stateBytes = detector.stateBytes
        s.chainStateBytes = detector.chainStateBytes
        s.bufferedTransfers = detector.bufferedTransfers
        s.maxEventTime = detector.maxEventTime
        s.watermark = detector.watermark
        if let taken = statusTakenAt, now > taken {
            s.eventsPerSecond = Double(counters.consumed - consumedAtStatus) / seconds(now - taken)
        }
        s.checkpointAgeSeconds = lastCheckpointAt.map { seconds(now - $0) }
        s.ruleSet = detector.ruleSet
        s.rules = detector.ruleList.map(\.key)
        s.recentAlerts = recentAlerts.reversed()
        let gangs = detector.gangSummaries()
        s.gangCount = gangs.count
        s.gangs = gangs.prefix(monitor.gangLimit).map {
            GangDigest(id: $0.id, size: $0.size, members: Array($0.members.prefix(monitor.gangMemberLimit)),
                       volume: $0.volume.description, first: $0.first, last: $0.last)
        }
        s.startedAt = startedAtWall
        s.updatedAt = wallClockMillis()
        monitor.publish(s)
        statusTakenAt = now
        consumedAtStatus = counters.consumed
    }

    /// Counts an alert leaving the core by rule, mode and outcome, and keeps it for the live view.
    private func tally(_ alert: Alert, outcome: String, at wallMillis: Int64) {
        AlertDigest.record(alert, outcome: outcome, at: wallMillis, tallies: &counters.alerts, recent: &recentAlerts,
                           limit: monitor?.recentAlertLimit)
    }

    /// Forgets the bookkeeping of partitions this instance no longer owns.
    private func letGo(_ parts: [TopicPartition], keepHold: Bool = false) {
        fence.drop(partitions: Set(parts.map(\.partition)))
        for p in parts {
            if let last = consumedThrough[p.partition] { stateNext[p.partition] = max(stateNext[p.partition] ?? 0, last + 1) }
            consumedThrough.removeValue(forKey: p.partition)
            committedNext.removeValue(forKey: p.partition)
            partitionLastInput.removeValue(forKey: p.partition)
            if keepHold {
                lostPartitions[p.partition] = ContinuousClock.now
            } else {
                detector.releaseWatermarkHold(partition: p.partition)
            }
        }
        consumer?.startOffsets = Dictionary(uniqueKeysWithValues: stateNext.map {
            (TopicPartition(topic: config.inputTopic, partition: $0.key), $0.value)
        })
    }
}

/// The ids every log line about an event or an alert carries, so one `grep` (or one query in a
/// log store) finds everything about it.
extension StreamEngine {
    /// `topic`, `partition`, `offset` of an input event, and its `transfer_id` once decoded.
    func eventMetadata(partition: Int32, offset: Int64, value: UnsafeRawBufferPointer, transferId: ByteSpan?) -> Logger.Metadata {
        var m: Logger.Metadata = ["topic": "\(config.inputTopic)", "partition": "\(partition)", "offset": "\(offset)"]
        if let span = transferId, !span.isEmpty {
            m["transfer_id"] = "\(String(decoding: span.bytes(in: value), as: UTF8.self))"
        }
        return m
    }

    /// `alert_id`, `account`, `rule` (`id@version`), `severity` and `event_ts` of an alert.
    static func alertMetadata(_ alert: Alert) -> Logger.Metadata {
        [
            "alert_id": "\(alert.alertId)", "account": "\(alert.account)", "rule": "\(alert.ruleId)@\(alert.ruleVersion)",
            "severity": "\(alert.severity.name)", "event_ts": "\(alert.eventTs)",
        ]
    }
}

/// Wall-clock time in epoch milliseconds (for `emitted_at`; event time never comes from here).
public func wallClockMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
