import Foundation
import Logging
import MuleCore
import MuleEngine
import MuleKafka
import MuleRules
import Testing

/// The live engine in-process against librdkafka's mock cluster (real wire protocol on
/// loopback): dead letters, lateness, duplicates, and what gets committed.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct StreamEngineTests {
    static let t0: Int64 = 1_764_000_000_000
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func rules() throws -> [Rule] {
        try RuleLoader.load(path: repoRoot.appendingPathComponent("Rules").path).map(\.rule)
    }

    static func event(_ id: String, _ ts: Int64, _ payer: String, _ payee: String, _ amount: String, channel: String = "qr") -> [UInt8] {
        Array(#"{"id":"\#(id)","ts":\#(ts),"payer":"\#(payer)","payee":"\#(payee)","amount":"\#(amount)","channel":"\#(channel)","payee_kind":"personal"}"#.utf8)
    }

    struct Harness {
        let cluster: MockCluster
        let producer: KafkaProducer

        init(partitions: Int32 = 1, brokers: Int32 = 1) throws {
            cluster = try MockCluster(brokers: brokers)
            try cluster.createTopic("in", partitions: partitions)
            try cluster.createTopic("out", partitions: 1)
            try cluster.createTopic("in.dlq", partitions: 1)
            producer = try KafkaProducer(config: KafkaConfig([("bootstrap.servers", cluster.bootstrapServers)]))
        }

        func produce(_ values: [[UInt8]], partition: Int32 = 0) throws {
            for v in values { try producer.send(topic: "in", partition: partition, key: nil, value: v) }
            try producer.flush(timeoutMillis: 10_000)
        }

        func engineConfig(group: String = "g", lateness: Int64 = 0) -> EngineConfig {
            // The mock only notices a departed member at its session timeout: keep it short so a
            // restart in the same group is assigned quickly.
            var kc = KafkaConfig([("bootstrap.servers", cluster.bootstrapServers), ("group.id", group),
                                  ("auto.offset.reset", "earliest"), ("session.timeout.ms", "6000")])
            kc.logHandler = KafkaLogRecord.discard
            var c = EngineConfig(kafka: kc, inputTopic: "in", outputTopic: "out")
            c.detector.allowedLatenessMillis = lateness
            c.exitWhenIdleMillis = 1000
            c.idleFlushMillis = 300
            c.progressIntervalMillis = 0
            c.commitIntervalMillis = 200
            return c
        }

        func run(_ config: EngineConfig) throws -> EngineCounters {
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            return try StreamEngine(config: config, rules: StreamEngineTests.rules(), logger: logger).run(stop: StopSignal())
        }

        /// Every record on `topic` with its `reason` header (if any).
        func read(_ topic: String) throws -> [(reason: String?, value: String)] {
            try records(topic).map { ($0.headers["reason"], String(decoding: $0.value, as: UTF8.self)) }
        }
    }

    static func mule(_ name: String, from t: Int64) -> [[UInt8]] {
        var v: [[UInt8]] = (1...6).map { event("\(name)-in-\($0)", t + Int64($0) * 1000, "\(name)-v\($0)", name, "1000.00") }
        v.append(event("\(name)-out", t + 120_000, name, "\(name)-next", "5910.00", channel: "p2p"))
        return v
    }

    @Test func lateEventsAreDeadLetteredWithReason() throws {
        let h = try Harness()
        var events = Self.mule("M", from: Self.t0)
        events.append(Self.event("too-late", Self.t0, "L-1", "L-2", "5.00"))
        try h.produce(events)
        let counters = try h.run(h.engineConfig(lateness: 10_000))
        #expect(counters.consumed == 8)
        #expect(counters.deadLettered == 1)
        let dlq = try h.read("in.dlq")
        #expect(dlq.count == 1)
        #expect(dlq.first?.reason == "late: 110000 ms behind the watermark")
        #expect(dlq.first?.value.contains("too-late") == true)
        #expect(try h.read("out").contains { $0.value.contains(#""account":"M""#) })
    }

    @Test func duplicatesAreCountedNotAlertedTwice() throws {
        let h = try Harness()
        let events = Self.mule("D", from: Self.t0)
        try h.produce(events + events)  // a producer retry storm replays everything
        let counters = try h.run(h.engineConfig())
        #expect(counters.consumed == 14)
        #expect(counters.detector.duplicates == 7)
        #expect(counters.deadLettered == 0)
        let alerts = try h.read("out")
        #expect(alerts.count == 2)  // one per shipped rule, not four
    }

    @Test func undecodableEventsAreDeadLetteredAndCountedByReason() throws {
        let h = try Harness()
        try h.produce([Array("{}".utf8), Array("{\"id\":\"x\"".utf8), Array([0xFF, 0xFE]),
                       Self.event("ok-1", Self.t0, "a", "b", "1.00")])
        let counters = try h.run(h.engineConfig())
        #expect(counters.deadLettered == 3)
        #expect(counters.decodeFailures["missing_field"] == 1)
        #expect(counters.decodeFailures["malformed_json"] == 2)
        let reasons = try h.read("in.dlq").compactMap(\.reason)
        #expect(reasons.count == 3)
        #expect(reasons.contains("missing_field: id"))
    }

    @Test func offsetsOfBufferedEventsAreNotCommitted() throws {
        let h = try Harness()
        // With a 1 h lateness and no idle flush, nothing is applied: nothing may be committed
        // past the first buffered event.
        try h.produce([Self.event("b-0", Self.t0, "x0", "y0", "1.00"), Self.event("b-1", Self.t0 + 1, "x1", "y1", "1.00")])
        var config = h.engineConfig(group: "buffered", lateness: 3_600_000)
        config.idleFlushMillis = 0
        config.exitWhenIdleMillis = nil
        let stop = StopSignal()
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let engine = try StreamEngine(config: config, rules: Self.rules(), logger: logger)
        let stopper = Thread { Thread.sleep(forTimeInterval: 6); stop.stop() }
        stopper.start()
        let counters = try engine.run(stop: stop)
        #expect(counters.consumed == 2)
        let committed = try Self.committed(h, group: "buffered")
        #expect(committed <= 0, "committed past buffered events: \(committed)")
    }

    @Test func aRestartWhereSomePartitionsGetNothingNewStillFlushesAndStops() throws {
        // Partition 1 holds only events committed by the first run; after the restart nothing
        // new arrives there. The engine must still see it is caught up (from the committed
        // offset), apply what is buffered and stop when idle.
        let h = try Harness(partitions: 2)
        try h.produce(Self.mule("P", from: Self.t0), partition: 1)
        #expect(try h.run(h.engineConfig(group: "quiet")).consumed == 7)
        try h.produce([Self.event("p-new", Self.t0 + 300_000, "x", "y", "3.00")], partition: 0)
        let second = try h.run(h.engineConfig(group: "quiet"))
        #expect(second.consumed == 1)
        #expect(second.idleFlushes >= 1)
    }

    @Test func aPartitionBehindIsNotReleasedAsIdle() throws {
        // Two partitions with interleaved event times and a backlog each: the engine works
        // through librdkafka's fetched runs one partition at a time, so one partition is often
        // silent for longer than the (here 1 ms) idle time while it still has messages to
        // deliver. Released as idle, its queued events would fall behind the other partition's
        // watermark and be dead-lettered as late (lateness 0). Behind is not idle: nothing is late.
        let h = try Harness(partitions: 2)
        // 30 000 events of ~130 B stay within the mock's ~5 MiB retention per partition.
        let perPartition = 30_000
        for part in 0..<2 {
            let values = (0..<perPartition).map { i -> [UInt8] in
                let n = i * 2 + part
                return Self.event("bk-\(n)", Self.t0 + Int64(n) * 10, "a\(n % 997)", "b\(n % 503)", "10.00", channel: "p2p")
            }
            try h.produce(values, partition: Int32(part))
        }
        var config = h.engineConfig(group: "behind")
        config.partitionIdleMillis = 1
        let counters = try h.run(config)
        #expect(counters.consumed == UInt64(2 * perPartition))
        #expect(counters.detector.lateDropped == 0)
        #expect(counters.deadLettered == 0)
        // The situation did arise: some check found a silent partition with messages left.
        #expect(counters.idleReleasesDeferred > 0)
    }

    @Test func chainAndSinkAlertsArePublishedThroughKafka() throws {
        let h = try Harness()
        var events: [[UInt8]] = []
        var t = Self.t0
        // Two first-layer mules, each paid by five victims, pass 98.5 % to one second-layer mule,
        // which passes it on to the gang's sink.
        var layer2In: Int64 = 0
        for m in 0..<2 {
            for v in 0..<5 {
                events.append(Self.event("c-\(m)-\(v)", t, "cv-\(m)-\(v)", "C-M1-\(m)", "1000.00"))
                t += 60_000
            }
            t += 180_000
            events.append(Self.event("c-\(m)-fw", t, "C-M1-\(m)", "C-M2", "4925.00", channel: "p2p"))
            layer2In += 4925
        }
        t += 180_000
        events.append(Self.event("c-m2-fw", t, "C-M2", "C-SINK", "\(layer2In * 985 / 1000).00", channel: "p2p"))
        // A third first-layer mule pays the sink directly: the sink now collects from two.
        for v in 0..<5 {
            t += 60_000
            events.append(Self.event("c-2-\(v)", t, "cv-2-\(v)", "C-M1-2", "1000.00"))
        }
        t += 180_000
        events.append(Self.event("c-2-fw", t, "C-M1-2", "C-SINK", "4925.00", channel: "p2p"))
        try h.produce(events)
        _ = try h.run(h.engineConfig(group: "chains"))
        let alerts = try h.read("out").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.value.utf8)) as? [String: Any]
        }
        let chain = try #require(alerts.first { $0["rule"] as? String == "layered-chain" }, "\(alerts)")
        #expect(chain["account"] as? String == "C-M2")
        #expect((chain["chain"] as? [String])?.last == "C-SINK")
        #expect((chain["chain"] as? [String])?.count == 3)
        #expect((chain["hops"] as? [[String: Any]])?.count == 2)
        let gang = try #require(chain["gang"] as? String)
        let sink = try #require(alerts.first { $0["rule"] as? String == "gang-sink" && $0["account"] as? String == "C-SINK" }, "\(alerts)")
        #expect(sink["gang"] as? String == gang)
        #expect((sink["gang_size"] as? Int ?? 0) >= 5)
    }

    @Test func appliedEventsAreCommittedSoARestartResumes() throws {
        let h = try Harness()
        try h.produce(Self.mule("R", from: Self.t0))
        #expect(try h.run(h.engineConfig(group: "resume")).consumed == 7)
        try h.produce([Self.event("r-new", Self.t0 + 200_000, "p", "q", "3.00")])
        let second = try h.run(h.engineConfig(group: "resume"))
        #expect(second.consumed == 1)
        #expect(second.alertsPublished == 0)
    }

    /// An alert leaves while the batch that raised it is still being handled: with a poll
    /// batch far larger than the input, the alert of the 7th event is published right after
    /// that event (or the next, which moves event time past it), not after the 300 behind it.
    @Test func anAlertIsPublishedWhenItsEventIsHandledNotWhenTheBatchEnds() throws {
        let h = try Harness()
        let filler = (1...300).map { Self.event("f-\($0)", Self.t0 + 200_000 + Int64($0), "f-payer-\($0)", "f-payee-\($0)", "2.00") }
        try h.produce(Self.mule("B", from: Self.t0) + filler)
        var config = h.engineConfig()
        config.pollBatch = 10_000
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let engine = try StreamEngine(config: config, rules: Self.rules(), logger: logger)
        var consumedAtAlert: [UInt64] = []
        engine.onAlert = { [unowned engine] _ in consumedAtAlert.append(engine.counters.consumed) }
        let counters = try engine.run(stop: StopSignal())
        #expect(counters.consumed == 307)
        #expect(counters.alertsPublished == 2)
        #expect(consumedAtAlert.count == 2)
        #expect(consumedAtAlert.allSatisfy { $0 <= 8 })
        // Everything handled was committed: a restart in the same group reads nothing again.
        #expect(try h.run(h.engineConfig()).consumed == 0)
    }

    /// The committed offset of partition 0 of `in` for `group` (`TopicPartitionOffset.noOffset`
    /// if none), read by an assigned probe: joining the group would wait out the stopped
    /// engine's session (the mock ignores LeaveGroup), and the fetch could time out under load.
    static func committed(_ h: Harness, group: String) throws -> Int64 {
        var kc = KafkaConfig([("bootstrap.servers", h.cluster.bootstrapServers), ("group.id", group)])
        kc.logHandler = KafkaLogRecord.discard
        let probe = try KafkaConsumer(config: kc, assignment: [TopicPartitionOffset(topic: "in", partition: 0, offset: TopicPartitionOffset.beginning)])
        defer { probe.close() }
        var committed: [TopicPartitionOffset]?
        for _ in 0..<3 where committed == nil {
            committed = try? probe.committed([TopicPartition(topic: "in", partition: 0)], timeoutMillis: 10_000)
        }
        return try #require(committed?.first?.offset, "the committed offset could not be fetched in 3 × 10 s")
    }

    /// The periodic commit goes in the background while the engine keeps consuming; the first
    /// one is refused by the coordinator, counted, and the offsets go again at the next interval.
    @Test func periodicCommitsLandWhileRunningAndARefusedOneIsRetried() throws {
        let h = try Harness()
        try h.produce(Self.mule("C", from: Self.t0))
        h.cluster.failNextRequests(apiKey: 8, errors: [12])  // the first OffsetCommit: OFFSET_METADATA_TOO_LARGE
        var config = h.engineConfig(group: "bg-commit")
        config.exitWhenIdleMillis = nil
        let engine = try RunningEngine(config)
        // While it runs (no exit on idle): every applied event is committed.
        let seen = try Self.waitForCommitted(h, group: "bg-commit", offset: 7)
        let stillRunning = engine.isRunning
        let counters = try engine.finish()
        #expect(seen == 7)
        #expect(stillRunning, "the offsets must be committed while running, not only at shutdown")
        #expect(counters.commitsDeferred >= 1, "the refused commit was not counted")
        #expect(counters.commits >= 1)
        #expect(counters.alertsPublished == 2)
    }

    /// Alerts keep coming while the broker leading the alert topic answers each Produce 150 ms
    /// late, so some alert is nearly always unacknowledged. The periodic commit holds its offsets
    /// only until the outputs sent before them are acknowledged (not until the producer is
    /// empty), so it goes in the background every time and never falls back to a synchronous
    /// commit. (Waiting for an empty producer instead, as before, went overdue in 3 runs of 3.)
    @Test func periodicCommitsDoNotWaitForAlertsSentAfterThem() throws {
        let h = try Harness(brokers: 2)
        try h.cluster.setLeader(topic: "in", partition: 0, broker: 1)
        try h.cluster.setLeader(topic: "out", partition: 0, broker: 2)
        var config = h.engineConfig(group: "fence")
        config.exitWhenIdleMillis = nil
        config.commitIntervalMillis = 500
        let engine = try RunningEngine(config)
        // Joined and running (the mock's first join takes ~3 s): the first mule is committed.
        try h.produce(Self.mule("F0", from: Self.t0))
        #expect(try Self.waitForCommitted(h, group: "fence", offset: 7) == 7)
        try h.cluster.delayNextRequests(broker: 2, apiKey: 0, count: 400, millis: 150)
        let mules = 50
        for i in 1...mules {
            for v in Self.mule("F\(i)", from: Self.t0 + Int64(i) * 200_000) {
                try h.producer.send(topic: "in", partition: 0, key: nil, value: v)
            }
            h.producer.poll(timeoutMillis: 0)
            Thread.sleep(forTimeInterval: 0.04)
        }
        try h.producer.flush(timeoutMillis: 30_000)
        let seen = try Self.waitForCommitted(h, group: "fence", offset: Int64((mules + 1) * 7))
        let counters = try engine.finish()
        #expect(seen == Int64((mules + 1) * 7))
        #expect(counters.alertsPublished == UInt64(2 * (mules + 1)))
        #expect(counters.commitsOverdue == 0, "a periodic commit waited for alerts sent after its offsets")
        #expect(counters.commits >= 3)
    }

    /// Polls the group's committed offset until it is `offset` (or 20 s pass); returns the last seen.
    static func waitForCommitted(_ h: Harness, group: String, offset: Int64) throws -> Int64 {
        var seen: Int64 = -1
        let deadline = ContinuousClock.now + .seconds(20)
        while seen != offset && ContinuousClock.now < deadline {
            seen = (try? committed(h, group: group)) ?? -1
            if seen != offset { Thread.sleep(forTimeInterval: 0.2) }
        }
        return seen
    }

    /// An alert the brokers refuse fails the engine, and no input offset past its event is
    /// committed: the event is read again after a restart, so the alert is not lost.
    @Test func aRefusedAlertFailsTheEngineWithoutCommittingPastIt() throws {
        let h = try Harness()
        try h.produce(Self.mule("D", from: Self.t0))
        h.cluster.failNextRequests(apiKey: 0, errors: [10, 10, 10])  // Produce: MESSAGE_TOO_LARGE, not retried
        #expect {
            _ = try h.run(h.engineConfig(group: "refused"))
        } throws: { error in
            guard case EngineError.deliveryFailed = error else { return false }
            return true
        }
        let committed = try Self.committed(h, group: "refused")
        #expect(committed < 7, "committed \(committed): past the event whose alert was refused")
    }
}

/// An engine running on its own thread until `finish()` stops it.
final class RunningEngine {
    private let stop = StopSignal()
    private let result = Locked<Result<EngineCounters, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ config: EngineConfig) throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let rules = try StreamEngineTests.rules()
        let (stop, result, done) = (stop, result, done)
        Thread { [config, logger] in
            let r = Result { try StreamEngine(config: config, rules: rules, logger: logger).run(stop: stop) }
            result.withLock { $0 = r }
            done.signal()
        }.start()
    }

    var isRunning: Bool { result.withLock { $0 == nil } }

    /// Stops the engine and returns its counters (or throws what it failed with).
    func finish() throws -> EngineCounters {
        stop.stop()
        done.wait()
        return try #require(try result.withLock { $0 }?.get())
    }
}

/// A value shared with a thread.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
