import Foundation
import Logging
import MuleCore
import MuleKafka

/// How the work is split across instances (`run --app-id`).
public struct ScaleOutConfig: Sendable, Equatable {
    /// Names the internal topics (`<app-id>-legs`, `<app-id>-state`). Instances with the same
    /// application id and consumer group share the work.
    public var appId: String
    /// Partitions of the legs topic: the most instances that can share detection.
    public var legsPartitions: Int32 = 12
    /// Event time before a hop, forwarder note or gang tie found on one partition takes effect
    /// on the others (see `DetectorScope.linkDelayMillis`).
    public var linkDelayMillis: Int64 = 1_000
    /// How often each partition's state is written to the state topic (also on revocation and
    /// at shutdown).
    public var snapshotIntervalMillis: Int64 = 10_000

    public init(appId: String) { self.appId = appId }

    public var legsTopic: String { "\(appId)-legs" }
    public var stateTopic: String { "\(appId)-state" }

    func problems() -> [String] {
        var out: [String] = []
        if appId.isEmpty || appId.contains(where: { !($0.isLetter || $0.isNumber || "._-".contains($0)) }) {
            out.append("the application id must be non-empty and use only letters, digits, '.', '_' and '-'")
        }
        if legsPartitions < 1 || legsPartitions > 10_000 { out.append("legs partitions must be 1–10000") }
        if linkDelayMillis < 1 { out.append("the link delay must be positive") }
        if snapshotIntervalMillis < 1 { out.append("the snapshot interval must be positive") }
        return out
    }
}

/// Counters of the scale-out engine (this instance, since it started).
public struct ScaleOutCounters: Sendable, Equatable {
    public var inputConsumed: UInt64 = 0
    public var legsRecords: UInt64 = 0
    public var legsProduced: UInt64 = 0
    public var linksSent: UInt64 = 0
    public var markersSent: UInt64 = 0
    public var deadLettered: UInt64 = 0
    public var lateAtRoute: UInt64 = 0
    public var alertsPublished: UInt64 = 0
    public var shadowAlertsPublished: UInt64 = 0
    public var snoozedHits: UInt64 = 0
    public var snapshotsWritten: UInt64 = 0
    public var snapshotsRestored: UInt64 = 0
    public var snapshotsRejected: UInt64 = 0
    /// Milliseconds spent restoring partition state (reading and decoding snapshots).
    public var restoreMillis: [Int32: Int64] = [:]
    public var commits: UInt64 = 0
    public var ruleReloads: UInt64 = 0
    /// Legs records never read: deleted by retention before their partition read them.
    public var legsSkipped: UInt64 = 0
    public var ruleReloadFailures: UInt64 = 0
}

/// Detection split across instances through Kafka (README, "Running on several machines").
///
/// Every instance runs two stages on one consumer in one consumer group, subscribed to the input
/// topic and to the internal legs topic:
/// - **route**: each input event is checked (decode, lateness against its partition) and its
///   legs go to the legs topic, to the partition that owns each account (`LegPartitioner`): one
///   record with both legs when payer and payee share a partition. Route markers (`LegsMarker`)
///   after them carry each input partition's watermark. Input offsets are committed once the
///   legs are acknowledged.
/// - **detect**: a `DetectTask` per assigned legs partition applies its accounts' legs, sends
///   links and task markers to the other partitions, and publishes alerts. Its state is written
///   to the compacted state topic (`PartitionStateStore`) every snapshot interval, on
///   revocation and at shutdown; a partition assigned to this instance is restored from its
///   newest snapshot and resumes reading right after it (before any record of it is handled).
///
/// The result does not depend on how many instances there are or when they come and go:
/// see `TaskClock`. Alerts are at-least-once (a partition restored from a snapshot repeats the
/// alerts since it, with the same ids).
public final class ScaleOutEngine {
    public let config: EngineConfig
    public let scale: ScaleOutConfig
    let logger: Logger
    var rules: [Rule]
    var ruleWatch: RuleFileWatch?
    let decoder: EventDecoder
    let producer: KafkaProducer
    let store: PartitionStateStore
    let partitioner: LegPartitioner
    /// The librdkafka properties without consumer-only ones (producers, admin requests).
    let clientConfig: KafkaConfig
    /// Each legs partition's detector: its share of the memory caps (`share(of:partitions:)`).
    let taskConfig: DetectorConfig

    /// The caps on accounts, remembered transfer ids and the transfer-id ring (and the room
    /// reserved for accounts and ids) are for the whole
    /// application: each legs partition holds about 1/n of the accounts, so it gets 1/n of each
    /// (an instance owning every partition has the single-instance totals).
    static func share(of c: DetectorConfig, partitions n: Int) -> DetectorConfig {
        var t = c
        t.maxAccounts = max(1, c.maxAccounts / n)
        t.maxDedupEntries = max(1_024, c.maxDedupEntries / n)
        t.transferIdLogBytes = max(1 << 20, c.transferIdLogBytes / n)
        t.reserveAccounts = c.reserveAccounts / n
        t.reserveTransferIds = c.reserveTransferIds / n
        return t
    }
    var router: LegRouter
    var consumer: KafkaConsumer?
    var tasks: [Int32: DetectTask] = [:]
    /// Next legs offset to read, per task partition.
    var taskNext: [Int32: Int64] = [:]
    var snapshotSequence: [Int32: UInt64] = [:]
    var snapshotAt: [Int32: ContinuousClock.Instant] = [:]
    var taskDirty: Set<Int32> = []
    /// Floors advertised by the tasks and not sent yet; when each task last sent one.
    var unsentFloor: [Int32: Int64] = [:]
    var floorSentAt: [Int32: ContinuousClock.Instant] = [:]
    var floorSent: [Int32: Int64] = [:]
    /// Next input offset to commit, per input partition; last time an event came.
    var inputNext: [Int32: Int64] = [:]
    /// The periodic commit's input offsets while the outputs sent before them are unacknowledged.
    var fence = CommitFence()
    var inputLastEvent: [Int32: ContinuousClock.Instant] = [:]
    var inputCount: Int32 = 0
    var lastRouteMarks: [Int32: LegsMarker] = [:]
    var fileSnoozes: SnoozeList
    var scratch: [UInt8] = []
    var lastAssignment: ContinuousClock.Instant?
    public internal(set) var counters = ScaleOutCounters()
    public var onAlert: ((Alert) -> Void)?
    /// Set before `run` to publish status snapshots (`OpsServer.attach`).
    public var monitor: EngineMonitor?
    public internal(set) var phase: EnginePhase = .starting
    var statusTakenAt: ContinuousClock.Instant?
    var consumedAtStatus: UInt64 = 0
    var startedAtWall: Int64 = 0
    var recentAlerts: [AlertDigest] = []
    var alertTallies: [AlertTally: UInt64] = [:]

    public init(config: EngineConfig, scale: ScaleOutConfig, rules: [Rule], snoozes: [Snooze] = [], logger: Logger) throws {
        var problems = config.problems() + scale.problems()
        if config.exactlyOnce { problems.append("--exactly-once is not available with --app-id (scale-out): alerts are at-least-once") }
        if config.detector.latePolicy != .drop { problems.append("late events can only be dropped with --app-id (scale-out)") }
        if config.snoozeTopic != nil { problems.append("--snooze-topic is not available with --app-id (scale-out); use --snooze-file") }
        if config.checkpointDir != nil { problems.append("--checkpoint-dir is not used with --app-id: state lives in the state topic") }
        for t in [scale.legsTopic, scale.stateTopic] where [config.inputTopic, config.outputTopic, config.deadLetterTopic, config.shadowTopic].contains(t) {
            problems.append("topic \(t) is internal to application \(scale.appId)")
        }
        guard problems.isEmpty else { throw EngineError.invalidConfiguration(problems) }
        self.config = config
        self.scale = scale
        self.logger = logger
        self.rules = rules
        self.decoder = EventDecoder(limits: config.decoderLimits)
        self.fileSnoozes = SnoozeList(snoozes)
        if let path = config.rulesPath { ruleWatch = RuleFileWatch(rulesPath: path, snoozeFile: config.snoozeFile) }
        self.partitioner = LegPartitioner(partitions: scale.legsPartitions)
        self.router = LegRouter(partitioner: partitioner, latenessMillis: config.detector.allowedLatenessMillis)
        self.taskConfig = ScaleOutEngine.share(of: config.detector, partitions: Int(scale.legsPartitions))
        var producerConfig = config.kafka.withoutConsumerProperties
        self.clientConfig = producerConfig
        // Links and markers must reach each partition in the order they were sent, retries included.
        if producerConfig["enable.idempotence"] == nil { producerConfig.set("enable.idempotence", "true") }
        producerConfig.setEngineProducerDefaults()
        self.producer = try KafkaProducer(config: producerConfig)
        self.store = try PartitionStateStore(config: producerConfig, topic: scale.stateTopic)
    }

    // MARK: running

    /// Runs until `stop` (or idle with `--exit-when-idle`). `reload` (SIGHUP) and changes to the
    /// rule files reload the rules of every partition this instance owns, between batches, as
    /// the single-instance engine does; other instances reload on their own signal or check.
    public func run(stop: StopSignal, reload: ReloadRequest = ReloadRequest()) throws -> ScaleOutCounters {
        startedAtWall = wallClockMillis()
        do {
            let c = try runSession(stop: stop, reload: reload)
            enter(.stopped)
            publishStatus(now: .now)
            return c
        } catch {
            enter(.failed("\(error)"))
            publishStatus(now: .now)
            throw error
        }
    }

    func runSession(stop: StopSignal, reload: ReloadRequest) throws -> ScaleOutCounters {
        try checkTopics()
        // Tasks wait on each other's markers: a fetch should return as soon as one arrives
        // (librdkafka's default waits up to 500 ms when a partition is quiet).
        var consumerConfig = config.kafka
        if consumerConfig["fetch.wait.max.ms"] == nil { consumerConfig.set("fetch.wait.max.ms", "5") }
        consumerConfig.setEngineConsumerDefaults()
        let consumer = try KafkaConsumer(config: consumerConfig, topics: [config.inputTopic, scale.legsTopic], onRebalance: { [unowned self] event in
            self.rebalanced(event)
        }, onError: { [unowned self] error in self.consumerError(error) })
        consumer.assignmentOffsets = { [unowned self] parts in self.prepare(parts) }
        self.consumer = consumer
        defer {
            consumer.close()
            self.consumer = nil
        }
        enter(.awaitingAssignment)
        publishStatus(now: .now)
        logger.info("scale-out engine started", metadata: [
            "app_id": "\(scale.appId)", "legs_topic": "\(scale.legsTopic)", "state_topic": "\(scale.stateTopic)",
            "legs_partitions": "\(scale.legsPartitions)", "link_delay_ms": "\(scale.linkDelayMillis)",
            "input": "\(config.inputTopic)", "output": "\(config.outputTopic)",
            "rules": "\(rules.map(\.key).joined(separator: ","))",
        ])
        let clock = ContinuousClock()
        var lastCommit = clock.now
        var lastRecord = clock.now
        var lastMarks = clock.now
        var lastProgress = clock.now
        var lastRuleCheck = clock.now
        var consumedAtProgress: UInt64 = 0
        while !stop.isStopped {
            let n = try consumer.poll(max: config.pollBatch, timeoutMillis: tasks.isEmpty ? config.pollTimeoutMillis : 10) { message in
                self.handle(message)
            }
            let now = clock.now
            if n > 0 { lastRecord = now }
            try advanceTasks()
            if now - lastMarks >= .milliseconds(50) {
                sendRouteMarkers(now: now)
                lastMarks = now
            }
            producer.poll(timeoutMillis: 0)
            collectCommitResults(consumer)
            if now - lastCommit >= .milliseconds(config.commitIntervalMillis) {
                let overdue = now - lastCommit >= .milliseconds(2 * config.commitIntervalMillis)
                if try commitInputsInBackground(consumer, overdue: overdue) { lastCommit = now }
            }
            try snapshotDue(now: now)
            if reload.take() {
                reloadRules(trigger: "reload requested (SIGHUP)")
                lastRuleCheck = now
            } else if ruleWatch != nil, config.ruleCheckIntervalMillis > 0,
                      now - lastRuleCheck >= .milliseconds(config.ruleCheckIntervalMillis) {
                lastRuleCheck = now
                if ruleWatch?.changeSettled() == true { reloadRules(trigger: "rule files changed") }
            }
            if monitor != nil, now - (statusTakenAt ?? .now - .seconds(3600)) >= .milliseconds(config.statusIntervalMillis) {
                publishStatus(now: now)
            }
            if config.progressIntervalMillis > 0, now - lastProgress >= .milliseconds(config.progressIntervalMillis) {
                logger.info("progress", metadata: [
                    "input_consumed": "\(counters.inputConsumed)", "legs_records": "\(counters.legsRecords)",
                    "input_events_per_s": "\(Int(Double(counters.inputConsumed - consumedAtProgress) / max(0.001, seconds(now - lastProgress))))",
                    "alerts": "\(counters.alertsPublished)", "tasks": "\(tasks.keys.sorted())",
                    "accounts": "\(tasks.values.reduce(0) { $0 + $1.detector.trackedAccounts })",
                ])
                for (p, t) in tasks.sorted(by: { $0.key < $1.key }) {
                    logger.debug("task", metadata: [
                        "partition": "\(p)", "route_bound": "\(t.clock.routeBound)", "link_bound": "\(t.clock.linkBound)",
                        "earliest": "\(t.clock.earliest)", "floor": "\(t.advertised)", "watermark": "\(t.detector.watermark)",
                        "buffered": "\(t.detector.bufferedTransfers)", "links_waiting": "\(t.detector.waitingLinks)",
                        "inputs": "\(t.clock.inputs.map { "\($0.heard ? "" : "?")\($0.idle ? "idle " : "")\($0.watermark)/\($0.first)" })",
                        "peers": "\(t.clock.peers.map { $0.map(String.init) ?? "?" })",
                    ])
                }
                lastProgress = now
                consumedAtProgress = counters.inputConsumed
            }
            if let exitIdle = config.exitWhenIdleMillis, n == 0, let assigned = lastAssignment,
               now - max(lastRecord, assigned) >= .milliseconds(exitIdle), caughtUp(consumer) {
                logger.info("input idle: stopping as asked (--exit-when-idle)")
                break
            }
        }
        enter(.stopping)
        publishStatus(now: clock.now)
        logger.info("stopping: flushing, committing and writing partition state")
        try advanceTasks()
        try commitInputs()
        try writeSnapshots(tasks.keys.sorted(), reason: "shutdown")
        let links = tasks.values.map(\.detector.linkCounters)
        logger.info("engine stopped", metadata: [
            "links_applied": "\(links.reduce(0) { $0 + $1.applied })", "links_stale": "\(links.reduce(0) { $0 + $1.stale })",
            "links_unmatched": "\(links.reduce(0) { $0 + $1.unmatched })",
            "input_consumed": "\(counters.inputConsumed)", "legs_records": "\(counters.legsRecords)",
            "alerts": "\(counters.alertsPublished)", "dead_lettered": "\(counters.deadLettered)",
            "links_sent": "\(counters.linksSent)", "snapshots": "\(counters.snapshotsWritten)",
            "restored": "\(counters.snapshotsRestored)", "legs_skipped": "\(counters.legsSkipped)",
        ])
        return counters
    }

    /// The legs and state topics must exist with the configured partition count (the state
    /// topic compacted); they are created when missing (a cluster that cannot create them,
    /// such as the development broker, needs them created beforehand: `dev-broker --topic`).
    func checkTopics() throws {
        let n = scale.legsPartitions
        for topic in [
            KafkaAdmin.NewTopic(name: scale.legsTopic, partitions: n, replicationFactor: -1),
            KafkaAdmin.NewTopic(name: scale.stateTopic, partitions: n, replicationFactor: -1, configs: [("cleanup.policy", "compact")]),
        ] {
            do {
                try KafkaAdmin.ensureTopic(config: clientConfig, topic: topic, timeoutMillis: 15_000)
            } catch {
                throw EngineError.invalidConfiguration(["internal topic \(topic.name) (\(n) partitions): \(error)"])
            }
        }
        inputCount = Int32(try KafkaAdmin.partitionCount(config: clientConfig, topic: config.inputTopic, timeoutMillis: 15_000))
    }

    // MARK: records

    func handle(_ message: borrowing KafkaMessage) {
        let partition = message.partition
        if message.topicIndex == 0 {
            route(message.value, key: message.key, partition: partition, offset: message.offset)
            return
        }
        counters.legsRecords &+= 1
        guard tasks[partition] != nil else { return }  // revoked in this very poll
        if let expected = taskNext[partition], message.offset > expected {
            legsGap(partition: partition, expected: expected, got: message.offset)
        }
        taskNext[partition] = message.offset + 1
        taskDirty.insert(partition)
        let value = message.value
        let outcome = tasks[partition]!.receive(value, position: SourcePosition(partition: partition, offset: message.offset))
        switch outcome {
        case .malformed(let why):
            deadLetter(value: value, key: message.key, topic: scale.legsTopic, partition: partition, offset: message.offset, reason: why)
        case .legs(.late(let behind)):
            deadLetter(value: UnsafeRawBufferPointer(rebasing: value[1...]), key: message.key, topic: scale.legsTopic,
                       partition: partition, offset: message.offset, reason: "late: \(behind) ms behind the watermark")
        default: break
        }
    }

    func route(_ value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?, partition: Int32, offset: Int64) {
        counters.inputConsumed &+= 1
        inputNext[partition] = offset + 1
        inputLastEvent[partition] = .now
        do throws(DecodeError) {
            let t = try decoder.decode(value)
            switch router.route(t, in: value, input: partition) {
            case .late(let behind):
                counters.lateAtRoute &+= 1
                deadLetter(value: value, key: key, topic: config.inputTopic, partition: partition, offset: offset,
                           reason: "late: \(behind) ms behind the watermark")
            case .together(let p):
                sendLeg(.both, account: t.payee.bytes(in: value), event: value, to: p)
            case .apart(let payee, let payer):
                sendLeg(.credit, account: t.payee.bytes(in: value), event: value, to: payee)
                sendLeg(.debit, account: t.payer.bytes(in: value), event: value, to: payer)
            }
        } catch {
            deadLetter(value: value, key: key, topic: config.inputTopic, partition: partition, offset: offset, reason: error.reason)
        }
    }

    func sendLeg(_ sides: LegSides, account: UnsafeRawBufferPointer, event: UnsafeRawBufferPointer, to p: Int32) {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(sides.tag)
        scratch.append(contentsOf: event)
        do {
            try scratch.withUnsafeBytes { try producer.send(topic: scale.legsTopic, partition: p, key: account, value: $0) }
            counters.legsProduced &+= 1
        } catch {
            failure = "legs: \(error)"
        }
    }

    var failure: String?

    func deadLetter(value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?, topic: String, partition: Int32, offset: Int64, reason: String) {
        counters.deadLettered &+= 1
        logger.debug("dead-lettered", metadata: ["topic": "\(topic)", "partition": "\(partition)", "offset": "\(offset)", "reason": "\(reason)"])
        let copy = DeadLetter(value: value, key: key, reason: reason, topic: topic, partition: partition, offset: offset,
                              limit: config.deadLetterCopyLimit)
        do {
            try producer.send(topic: config.deadLetterTopic, key: copy.key, value: copy.value, headers: copy.headers)
        } catch {
            failure = "dead letter: \(error)"
        }
    }

    // MARK: detect tasks

    func advanceTasks() throws {
        for p in tasks.keys.sorted() {
            guard var task = tasks[p] else { continue }
            let floor = task.advance()
            let links = task.takeLinks()
            let alerts = task.takeAlerts()
            tasks[p] = task
            for l in links { sendLink(l, from: p) }
            if !links.isEmpty || !alerts.isEmpty { taskDirty.insert(p) }
            publish(alerts)
            if let floor { unsentFloor[p] = floor }
        }
        sendFloors(force: false)
        if let f = failure {
            failure = nil
            throw EngineError.deliveryFailed(f)
        }
    }

    func sendLink(_ l: OutboundLink, from p: Int32) {
        let targets: [Int32] = l.partition >= 0 ? [l.partition] : (0..<scale.legsPartitions).filter { $0 != p }
        for q in targets {
            do {
                try producer.send(topic: scale.legsTopic, partition: q, key: l.key, value: l.value)
                counters.linksSent &+= 1
            } catch {
                failure = "link: \(error)"
            }
        }
    }

    /// Each task's new floor goes to every other partition at most every `floorIntervalMillis`
    /// (always the newest) unless it moved by half the link delay or more (tasks catching up
    /// wait on each other's floors); `force` sends what is waiting now (before a snapshot,
    /// which records the floor as advertised). In a live stream a floor moves with every batch.
    func sendFloors(force: Bool) {
        let now = ContinuousClock.now
        for (p, floor) in unsentFloor.sorted(by: { $0.key < $1.key }) {
            let big = floor &- (floorSent[p] ?? .min) >= scale.linkDelayMillis / 2 || floorSent[p] == nil
            guard force || big || now - (floorSentAt[p] ?? now - .seconds(1)) >= .milliseconds(Self.floorIntervalMillis) else { continue }
            floorSent[p] = floor
            let marker = LegsMarker.task(partition: p, floor: floor).encode()
            for q in 0..<scale.legsPartitions where q != p { sendMarker(marker, to: q) }
            unsentFloor[p] = nil
            floorSentAt[p] = now
        }
    }

    static let floorIntervalMillis: Int64 = 20

    func sendMarker(_ value: [UInt8], to q: Int32) {
        do {
            try producer.send(topic: scale.legsTopic, partition: q, key: nil, value: value)
            counters.markersSent &+= 1
        } catch {
            failure = "marker: \(error)"
        }
    }

    /// Route markers for the input partitions this instance reads, when they changed. An input
    /// partition is idle once it has been quiet for `partitionIdleMillis` (or `idleFlushMillis`
    /// when that is shorter) and nothing is left to read in it.
    func sendRouteMarkers(now: ContinuousClock.Instant) {
        guard let consumer, inputCount > 0 else { return }
        let parts = inputsOwned.sorted()
        guard !parts.isEmpty else { return }
        let lags = lags(parts.map { TopicPartition(topic: config.inputTopic, partition: $0) }, consumer: consumer)
        let quiet = Duration.milliseconds(min(config.partitionIdleMillis, config.idleFlushMillis))
        for (i, p) in parts.enumerated() {
            let idle = lags[i] == 0 && now - (inputLastEvent[p] ?? lastAssignment ?? now) >= quiet
            let m = router.marker(input: p, of: inputCount, idle: idle)
            guard lastRouteMarks[p] != m else { continue }
            lastRouteMarks[p] = m
            let value = m.encode()
            for q in 0..<scale.legsPartitions { sendMarker(value, to: q) }
        }
    }

    func publish(_ alerts: [Alert]) {
        guard !alerts.isEmpty else { return }
        let now = wallClockMillis()
        for alert in alerts {
            if fileSnoozes.snooze(for: alert) != nil {
                counters.snoozedHits += 1
                tally(alert, outcome: "snoozed", at: now)
                continue
            }
            let value = AlertEncoder.encode(alert, emittedAtMillis: now)
            let topic = alert.mode == .shadow ? config.shadowTopic : config.outputTopic
            do {
                try producer.send(topic: topic, key: Array(alert.account.utf8), value: value, headers: [])
            } catch {
                failure = "alert: \(error)"
                continue
            }
            if alert.mode == .shadow { counters.shadowAlertsPublished += 1 } else { counters.alertsPublished += 1 }
            tally(alert, outcome: "published", at: now)
            logger.info("alert", metadata: StreamEngine.alertMetadata(alert).merging([
                "score": "\(AlertEncoder.formatRatio(alert.score))", "mode": "\(alert.mode.name)", "topic": "\(topic)",
            ]) { a, _ in a })
            onAlert?(alert)
        }
    }

    /// Consumer errors are logged; librdkafka retries.
    func consumerError(_ error: KafkaError) {
        logger.warning("consumer: \(error)")
    }

    /// A legs record further on than the next one expected: the records in between are gone
    /// (retention deleted them before this partition read them — a task far behind, or state
    /// restored from a snapshot older than the legs topic keeps — and librdkafka skipped to the
    /// oldest record left). Those legs are never applied: logged as an error and counted.
    func legsGap(partition: Int32, expected: Int64, got: Int64) {
        counters.legsSkipped &+= UInt64(got - expected)
        logger.error("""
            legs skipped: the legs topic no longer holds records this partition had not read (retention too short \
            for how far the task is behind, or a snapshot older than the retention); alerts of those legs are missing
            """, metadata: ["partition": "\(partition)", "expected_offset": "\(expected)", "offset": "\(got)"])
    }

    func reloadRules(trigger: String) {
        guard let path = config.rulesPath else { return }
        switch readForReload(rulesPath: path, snoozeFile: config.snoozeFile, watch: &ruleWatch) {
        case .failure(let refusal):
            counters.ruleReloadFailures += 1
            logReloadRefused(logger, trigger: trigger, ruleSet: ruleSetHash(rules), problems: refusal.problems)
        case .success(let (newRules, snoozes)):
            let old = ruleSetHash(rules)
            if ruleSetHash(newRules) != old || newRules.map(\.key) != rules.map(\.key) {
                rules = newRules
                for p in tasks.keys.sorted() { tasks[p]!.replaceRules(newRules) }
            }
            if let snoozes { fileSnoozes = snoozes }
            counters.ruleReloads += 1
            logger.notice("rules reloaded (window state kept)", metadata: [
                "trigger": "\(trigger)", "rule_set": "\(old) → \(ruleSetHash(rules))",
                "rules": "\(rules.map(\.key).joined(separator: ","))", "partitions": "\(tasks.keys.sorted())",
            ])
        }
    }

    // MARK: offsets, snapshots and rebalances

    /// Commits input offsets whose legs are acknowledged, and each task's legs offset (for lag
    /// monitoring only: a task resumes from its snapshot). Returns false when the brokers did
    /// not acknowledge in time (tried again later).
    @discardableResult
    func commitInputs() throws -> Bool {
        guard let consumer else { return false }
        fence.clear()  // these offsets are at least the ones held
        do {
            try producer.flush(timeoutMillis: 5_000)
        } catch {
            if producer.takeDeliveryFailures().isEmpty, (error as? KafkaError)?.isFatal != true {
                logger.warning("brokers not acknowledging: commit deferred", metadata: ["error": "\(error)"])
                return false
            }
            throw EngineError.deliveryFailed("\(error)")
        }
        if let f = producer.takeDeliveryFailures().first { throw EngineError.deliveryFailed("\(f)") }
        let offsets = inputOffsets
        guard !offsets.isEmpty else { return true }
        do {
            try consumer.commit(offsets)
            counters.commits += 1
        } catch {
            commitFailed(error)
        }
        return true
    }

    /// A commit the coordinator (or librdkafka) refused: logged; the offsets go again at the
    /// next interval.
    func commitFailed(_ error: any Error) {
        logger.warning("commit failed (retried at the next interval)", metadata: ["error": "\(error)"])
    }

    var inputOffsets: [TopicPartitionOffset] {
        inputNext.map { TopicPartitionOffset(topic: config.inputTopic, partition: $0.key, offset: $0.value) }
    }

    /// The periodic commit without stopping the loop: every event produces legs records, so
    /// the producer is seldom empty between batches and waiting for that (as `commitInputs`
    /// does) would stop routing for a round trip each time. The input offsets are held until the
    /// legs, links and alerts sent before them are acknowledged, then committed in the
    /// background (outcome taken by `collectCommitResults`). False while waiting; when still
    /// waiting once `overdue` it commits synchronously, as `commitInputs`.
    func commitInputsInBackground(_ consumer: KafkaConsumer, overdue: Bool) throws -> Bool {
        switch fence.due(consumer: consumer, producer: producer, offsets: { inputOffsets }) {
        case .nothing:
            return true
        case .ready(let offsets):
            if let f = producer.takeDeliveryFailures().first { throw EngineError.deliveryFailed("\(f)") }
            do {
                try consumer.commitInBackground(offsets)
            } catch {
                commitFailed(error)
            }
            return true
        case .waiting:
            guard overdue else { return false }
            try commitInputs()
            return true
        }
    }

    /// Outcomes of background commits: counted, or logged and retried at the next interval.
    func collectCommitResults(_ consumer: KafkaConsumer) {
        guard consumer.commitsInFlight > 0 || consumer.hasCommitResults else { return }
        for result in consumer.takeCommitResults() {
            if let error = result.error {
                commitFailed(error)
            } else {
                counters.commits += 1
            }
        }
    }

    func snapshotDue(now: ContinuousClock.Instant) throws {
        var due: [Int32] = []
        for p in tasks.keys.sorted() where taskDirty.contains(p) {
            if now - (snapshotAt[p] ?? now) >= .milliseconds(scale.snapshotIntervalMillis) {
                due.append(p)
            } else if snapshotAt[p] == nil {
                snapshotAt[p] = now
            }
        }
        try writeSnapshots(due, reason: "interval")
    }

    /// Writes the state of these legs partitions, once everything they have sent (links,
    /// markers, alerts) is acknowledged — a restored task must never be ahead of what others
    /// have received — then commits their legs offsets (for lag monitoring).
    func writeSnapshots(_ partitions: [Int32], reason: String) throws {
        guard !partitions.isEmpty else { return }
        sendFloors(force: true)
        guard try commitInputs() else { return }
        var written: [TopicPartitionOffset] = []
        for p in partitions where writeSnapshot(p, reason: reason) {
            if let next = taskNext[p] { written.append(TopicPartitionOffset(topic: scale.legsTopic, partition: p, offset: next)) }
        }
        if let consumer, !written.isEmpty { try? consumer.commit(written) }
    }

    /// Snapshot payload: `MSNP`, the next legs offset, then the task state. False when it could
    /// not be written (logged; tried again after a snapshot interval).
    func writeSnapshot(_ p: Int32, reason: String) -> Bool {
        guard let task = tasks[p] else { return false }
        var w = CheckpointWriter(reserving: 1 << 16)
        w.tag("MSNP")
        w.i64(taskNext[p] ?? 0)
        w.raw(task.checkpointState())
        let seq = (snapshotSequence[p] ?? 0) + 1
        let started = ContinuousClock.now
        do {
            try store.write(partition: p, sequence: seq, snapshot: w.bytes, timeoutMillis: 30_000)
        } catch {
            logger.error("partition state not written (tried again later)", metadata: ["partition": "\(p)", "error": "\(error)"])
            // Again after a snapshot interval, not at the next poll: a write that cannot succeed
            // (a snapshot larger than the broker keeps) would otherwise be resent in a tight loop.
            snapshotAt[p] = .now
            return false
        }
        snapshotSequence[p] = seq
        snapshotAt[p] = .now
        taskDirty.remove(p)
        counters.snapshotsWritten += 1
        logger.debug("partition state written", metadata: [
            "partition": "\(p)", "reason": "\(reason)", "bytes": "\(w.bytes.count)", "sequence": "\(seq)",
            "ms": "\(Int(seconds(.now - started) * 1000))",
        ])
        return true
    }

    /// Called before partitions are assigned: restores each legs partition's task from its
    /// newest snapshot and says where it resumes (right after the snapshot; the beginning of the
    /// partition without one).
    func prepare(_ parts: [TopicPartition]) -> [TopicPartition: Int64] {
        var out: [TopicPartition: Int64] = [:]
        for tp in parts where tp.topic == scale.legsTopic {
            let p = tp.partition
            let scope = DetectorScope(partition: p, partitioner: partitioner, linkDelayMillis: scale.linkDelayMillis)
            let started = ContinuousClock.now
            var restored: DetectTask?
            var next = TopicPartitionOffset.beginning
            do {
                if let snap = try store.readLatest(partition: p, timeoutMillis: 30_000) {
                    var r = CheckpointReader(snap.bytes)
                    try r.tag("MSNP")
                    let offset = try r.i64("offset")
                    restored = try DetectTask(rules: rules, config: taskConfig, scope: scope, restoring: Array(try r.raw("task")), decoder: decoder)
                    next = offset
                    snapshotSequence[p] = snap.sequence
                    counters.snapshotsRestored += 1
                }
            } catch {
                counters.snapshotsRejected += 1
                logger.error("partition state unusable: starting it from the beginning of the legs partition",
                             metadata: ["partition": "\(p)", "error": "\(error)"])
            }
            let task = restored ?? DetectTask(rules: rules, config: taskConfig, scope: scope, decoder: decoder)
            let ms = Int64(seconds(.now - started) * 1000)
            counters.restoreMillis[p] = ms
            logger.info("partition assigned", metadata: [
                "partition": "\(p)", "resume_offset": "\(next)", "restore_ms": "\(ms)",
                "accounts": "\(task.detector.trackedAccounts)",
            ])
            tasks[p] = task
            taskNext[p] = next >= 0 ? next : 0
            snapshotAt[p] = nil
            out[tp] = next
        }
        return out
    }

    func rebalanced(_ event: RebalanceEvent) {
        switch event {
        case .assigned(let parts):
            lastAssignment = .now
            if phase != .stopping { enter(consumingPhase) }
            logger.info("partitions assigned", metadata: ["partitions": "\(parts.map(\.description).joined(separator: ","))"])
            // An input partition reports from its assignment on: it may be idle from the start.
            for tp in parts where tp.topic == config.inputTopic { inputsOwned.insert(tp.partition) }
        case .revoked(let parts):
            logger.info("partitions revoked", metadata: ["partitions": "\(parts.map(\.description).joined(separator: ","))"])
            // Leaving (close after shutdown): everything is already committed and written.
            if phase == .stopping {
                dropPartitions(parts)
                return
            }
            do {
                try advanceTasks()
                try commitInputs()
                try writeSnapshots(parts.filter { $0.topic == scale.legsTopic }.map(\.partition), reason: "revoked")
            } catch {
                logger.error("could not hand over cleanly (the next owner repeats from the last snapshot)", metadata: ["error": "\(error)"])
            }
            dropPartitions(parts)
            if phase != .stopping { enter(.rebalancing) }
        case .lost(let parts):
            logger.warning("partitions lost (another member may own them): dropped without writing state",
                           metadata: ["partitions": "\(parts.map(\.description).joined(separator: ","))"])
            dropPartitions(parts)
            if phase != .stopping { enter(.rebalancing) }
        case .failed(let error):
            logger.error("rebalance failed", metadata: ["error": "\(error)"])
        }
    }

    /// Input partitions this instance routes.
    var inputsOwned: Set<Int32> = []
    /// The group's committed offset of input partitions read since their assignment (for lag).
    var committedAt: [TopicPartition: Int64] = [:]

    func dropPartitions(_ parts: [TopicPartition]) {
        for tp in parts {
            if tp.topic == scale.legsTopic {
                tasks[tp.partition] = nil
                taskNext[tp.partition] = nil
                unsentFloor[tp.partition] = nil
                floorSent[tp.partition] = nil
                taskDirty.remove(tp.partition)
                snapshotAt[tp.partition] = nil
            } else {
                fence.drop(partitions: [tp.partition])
                inputNext[tp.partition] = nil
                inputLastEvent[tp.partition] = nil
                lastRouteMarks[tp.partition] = nil
                inputsOwned.remove(tp.partition)
                committedAt[tp] = nil
                router.forget(input: tp.partition)
            }
        }
    }

    /// Done for now: nothing left to read in any assigned partition, and every task has applied
    /// all its legs (links delivered after the newest event wait for more input).
    func caughtUp(_ consumer: KafkaConsumer) -> Bool {
        // Not between a revocation and the next assignment: the work is only moving.
        guard case .consuming = phase, tasks.values.allSatisfy({ $0.detector.bufferedTransfers == 0 }) else { return false }
        let parts = inputsOwned.map { TopicPartition(topic: config.inputTopic, partition: $0) }
            + tasks.keys.map { TopicPartition(topic: scale.legsTopic, partition: $0) }
        return lags(parts, consumer: consumer).allSatisfy { $0 == 0 }
    }

    /// Lag per partition. Before anything is read from a partition its position is unknown:
    /// reading resumes at the group's committed offset (input) or where the task's state ends
    /// (legs), so those stand in (an input partition taken over with nothing left to read is idle,
    /// not unknown).
    func lags(_ parts: [TopicPartition], consumer: KafkaConsumer) -> [Int64?] {
        var lags = consumer.cachedLag(parts)
        if !lags.contains(where: { $0 == nil }) { return lags }
        let unknown = parts.enumerated().filter { lags[$0.offset] == nil && $0.element.topic == config.inputTopic && committedAt[$0.element] == nil }
        if !unknown.isEmpty, let got = try? consumer.committed(unknown.map(\.element), timeoutMillis: 2000) {
            for c in got where c.offset >= 0 { committedAt[TopicPartition(topic: c.topic, partition: c.partition)] = c.offset }
        }
        lags = consumer.cachedLag(parts, fallback: parts.map { $0.topic == scale.legsTopic ? taskNext[$0.partition] : committedAt[$0] })
        return lags
    }
}

// MARK: status for /metrics, /readyz and the live view

extension ScaleOutEngine {
    func enter(_ next: EnginePhase) {
        guard next != phase else { return }
        phase = next
        monitor?.enter(next)
    }

    /// The phase once partitions are assigned and restored (this instance's legs partitions).
    var consumingPhase: EnginePhase { .consuming(partitions: tasks.keys.sorted()) }

    /// A snapshot in the single-instance engine's terms: input counted by the route stage,
    /// detection summed over this instance's legs partitions, lag of its input partitions.
    func publishStatus(now: ContinuousClock.Instant) {
        guard let monitor else { return }
        var s = EngineStatus()
        s.phase = phase
        var c = EngineCounters()
        c.consumed = counters.inputConsumed
        c.deadLettered = counters.deadLettered
        c.alertsPublished = counters.alertsPublished
        c.shadowAlertsPublished = counters.shadowAlertsPublished
        c.snoozedHits = counters.snoozedHits
        c.commits = counters.commits
        c.ruleReloads = counters.ruleReloads
        c.ruleReloadFailures = counters.ruleReloadFailures
        c.checkpointsWritten = counters.snapshotsWritten
        c.checkpointsRestored = counters.snapshotsRestored
        c.alerts = alertTallies
        var d = DetectorCounters()
        for t in tasks.values {
            let x = t.detector.counters
            d.ingested &+= x.ingested
            d.applied &+= x.applied
            d.duplicates &+= x.duplicates
            d.lateDropped &+= x.lateDropped
            d.legsEvicted &+= x.legsEvicted
            d.accountsEvictedIdle &+= x.accountsEvictedIdle
            d.accountsEvictedCap &+= x.accountsEvictedCap
            d.alertsRaised &+= x.alertsRaised
            d.alertsSuppressedCooldown &+= x.alertsSuppressedCooldown
        }
        c.detector = d
        s.counters = c
        s.assignedPartitions = inputsOwned.sorted()
        if let consumer {
            let parts = inputsOwned.sorted()
            let lags = consumer.cachedLag(parts.map { TopicPartition(topic: config.inputTopic, partition: $0) })
            s.lag = zip(parts, lags).map { PartitionLag(partition: $0.0, lag: $0.1) }
        }
        s.trackedAccounts = tasks.values.reduce(0) { $0 + $1.detector.trackedAccounts }
        s.stateBytes = tasks.values.reduce(0) { $0 + $1.detector.stateBytes }
        s.bufferedTransfers = tasks.values.reduce(0) { $0 + $1.detector.bufferedTransfers }
        s.maxEventTime = tasks.values.map(\.detector.maxEventTime).max() ?? .min
        s.watermark = tasks.values.map(\.detector.watermark).min() ?? .min
        if let taken = statusTakenAt, now > taken {
            s.eventsPerSecond = Double(counters.inputConsumed - consumedAtStatus) / seconds(now - taken)
        }
        s.ruleSet = ruleSetHash(rules)
        s.rules = rules.map(\.key)
        s.recentAlerts = recentAlerts.reversed()
        s.startedAt = startedAtWall
        s.updatedAt = wallClockMillis()
        monitor.publish(s)
        statusTakenAt = now
        consumedAtStatus = counters.inputConsumed
    }

    func tally(_ alert: Alert, outcome: String, at wallMillis: Int64) {
        AlertDigest.record(alert, outcome: outcome, at: wallMillis, tallies: &alertTallies, recent: &recentAlerts,
                           limit: monitor?.recentAlertLimit)
    }
}
