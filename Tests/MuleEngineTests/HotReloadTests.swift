import Foundation
import Logging
import MuleCore
import MuleEngine
import MuleKafka
import MuleRules
import Synchronization
import Testing

/// Keeps every log line (message and metadata) so a test can check what the engine reported and when.
final class RecordingLog: Sendable {
    let lines = Mutex<[String]>([])

    var handler: Logger { Logger(label: "test") { _ in Handler(log: self) } }

    struct Handler: LogHandler {
        let log: RecordingLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            let meta = (metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            log.lines.withLock { $0.append("\(message) \(meta)") }
        }
    }
}

/// Changing rules in a running engine (against the mock cluster): reload on request and on file
/// change keeps window state, a bad file is refused, shadow alerts go to their own topic, and
/// snoozes from a file and from a compacted topic silence hits.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HotReloadTests {
    typealias H = StreamEngineTests.Harness
    static let t0 = StreamEngineTests.t0

    /// A private copy of the shipped rules that a test may edit.
    static func tempRules() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mulestream-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = StreamEngineTests.repoRoot.appendingPathComponent("Rules")
        for name in try FileManager.default.contentsOfDirectory(atPath: src.path) where name.hasSuffix(".yaml") {
            try FileManager.default.copyItem(at: src.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        return dir
    }

    static func edit(_ dir: URL, _ file: String = "rapid-pass-through.yaml", _ change: (String) -> String) throws {
        let url = dir.appendingPathComponent(file)
        let text = try String(contentsOf: url, encoding: .utf8)
        let changed = change(text)
        precondition(changed != text, "the edit changed nothing")
        try changed.write(to: url, atomically: false, encoding: .utf8)
    }

    static func bumpVersion(_ dir: URL) throws {
        try edit(dir) { $0.replacingOccurrences(of: "\nversion: 2\n", with: "\nversion: 3\n") }
    }

    static func load(_ dir: URL) throws -> [Rule] { try RuleLoader.load(path: dir.path).map(\.rule) }

    static func engine(_ config: EngineConfig, rules: [Rule], snoozes: [Snooze] = [], log: RecordingLog? = nil) throws -> StreamEngine {
        var logger = log?.handler ?? Logger(label: "test")
        logger.logLevel = log == nil ? .critical : .info
        return try StreamEngine(config: config, rules: rules, snoozes: snoozes, logger: logger)
    }

    /// Waits until the engine's group has committed `offset` on `in[0]`: every event before it
    /// is applied and the alerts it caused are acknowledged.
    static func waitCommitted(_ h: H, group: String, offset: Int64, seconds: Double = 30) -> Bool {
        var kc = KafkaConfig([("bootstrap.servers", h.cluster.bootstrapServers), ("group.id", group)])
        kc.logHandler = KafkaLogRecord.discard
        // A manual assignment never joins the group, so the engine is not rebalanced by the probe.
        guard let probe = try? KafkaConsumer(config: kc, assignment: [TopicPartitionOffset(topic: "in", partition: 0, offset: TopicPartitionOffset.end)]) else {
            return false
        }
        defer { probe.close() }
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let c = try? probe.committed([TopicPartition(topic: "in", partition: 0)], timeoutMillis: 2000),
               (c.first?.offset ?? -1) >= offset { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    static func alerts(_ h: H, _ topic: String = "out") throws -> [[String: Any]] {
        try h.read(topic).compactMap { try JSONSerialization.jsonObject(with: Data($0.value.utf8)) as? [String: Any] }
    }

    /// Runs the engine until `script` (on another thread) returns, then stops it.
    static func run(_ engine: StreamEngine, reload: ReloadRequest = ReloadRequest(),
                    script: @escaping @Sendable () -> Void) throws -> EngineCounters {
        let stop = StopSignal()
        let helper = Thread {
            script()
            stop.stop()
        }
        helper.start()
        return try engine.run(stop: stop, reload: reload)
    }

    /// The mule's six credits arrive and are applied under the old rules; its debit arrives
    /// after the change. `change` edits the rules and returns once the engine should have them.
    func halfWayMule(group: String, configure: (inout EngineConfig) -> Void,
                     change: @escaping @Sendable (URL, ReloadRequest) -> Void) throws -> (EngineCounters, [[String: Any]], URL, oldSet: String) {
        let h = try H()
        let dir = try Self.tempRules()
        let events = StreamEngineTests.mule("HALF", from: Self.t0)
        try h.produce(Array(events.prefix(6)))
        var config = h.engineConfig(group: group)
        config.rulesPath = dir.path
        config.exitWhenIdleMillis = nil
        configure(&config)
        let rules = try Self.load(dir)
        let engine = try Self.engine(config, rules: rules)
        let reload = ReloadRequest()
        let debit = events[6]
        let counters = try Self.run(engine, reload: reload) {
            guard Self.waitCommitted(h, group: group, offset: 6) else { return }
            change(dir, reload)
            try? h.produce([debit])
            _ = Self.waitCommitted(h, group: group, offset: 7)
        }
        return (counters, try Self.alerts(h), dir, ruleSetHash(rules))
    }

    @Test func reloadOnRequestKeepsWindowStateAndAlertsWithTheNewVersion() throws {
        let (counters, alerts, dir, oldSet) = try halfWayMule(group: "reload", configure: { $0.ruleCheckIntervalMillis = 0 }) { dir, reload in
            try? Self.bumpVersion(dir)
            reload.request()
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(counters.consumed == 7)
        #expect(counters.ruleReloads == 1)
        #expect(counters.ruleReloadFailures == 0)
        let newSet = ruleSetHash(try Self.load(dir))
        #expect(newSet != oldSet)
        // Only the debit came after the reload: the alert exists only if the credits were kept.
        let rapid = try #require(alerts.first { $0["rule"] as? String == "rapid-pass-through" }, "no alert after reload: \(alerts)")
        #expect(rapid["account"] as? String == "HALF")
        #expect(rapid["rule_version"] as? String == "3")
        #expect(rapid["rule_set"] as? String == newSet)
        #expect((rapid["window"] as? [String: Any])?["distinct_payers"] as? Int == 6)
        #expect(alerts.allSatisfy { $0["rule_set"] as? String == newSet })
    }

    @Test func invalidRuleFileIsRefusedAndTheOldRulesKeepAlerting() throws {
        let (counters, alerts, _, oldSet) = try halfWayMule(group: "refuse", configure: { $0.ruleCheckIntervalMillis = 0 }) { dir, reload in
            try? Self.edit(dir) { $0.replacingOccurrences(of: "severity: high", with: "severity: extreme") }
            reload.request()
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(counters.ruleReloads == 0)
        #expect(counters.ruleReloadFailures == 1)
        let rapid = try #require(alerts.first { $0["rule"] as? String == "rapid-pass-through" }, "old rules stopped alerting: \(alerts)")
        #expect(rapid["rule_version"] as? String == "2")
        #expect(rapid["rule_set"] as? String == oldSet)
        #expect(alerts.count == 2)
    }

    @Test func changedRuleFileIsReloadedWithoutBeingAsked() throws {
        let (counters, alerts, dir, _) = try halfWayMule(group: "watch", configure: { $0.ruleCheckIntervalMillis = 100 }) { dir, _ in
            try? Self.bumpVersion(dir)
            Thread.sleep(forTimeInterval: 2)  // a few check intervals: seen, settled, loaded
        }
        #expect(counters.ruleReloads == 1)
        #expect(counters.ruleReloadFailures == 0)
        let rapid = try #require(alerts.first { $0["rule"] as? String == "rapid-pass-through" })
        #expect(rapid["rule_version"] as? String == "3")
        #expect(rapid["rule_set"] as? String == ruleSetHash(try Self.load(dir)))
    }

    @Test func shadowAlertsGoToTheShadowTopicOnly() throws {
        let h = try H()
        try h.cluster.createTopic("out.shadow", partitions: 1)
        let dir = try Self.tempRules()
        try Self.edit(dir) { $0.replacingOccurrences(of: "mode: enforce", with: "mode: shadow") }
        try h.produce(StreamEngineTests.mule("SH", from: Self.t0))
        var config = h.engineConfig(group: "shadow")
        config.rulesPath = dir.path
        let counters = try Self.engine(config, rules: Self.load(dir)).run(stop: StopSignal())
        #expect(counters.alertsPublished == 1)
        #expect(counters.shadowAlertsPublished == 1)
        let out = try Self.alerts(h)
        #expect(out.map { $0["rule"] as? String } == ["layered-forwarding"])
        let shadow = try Self.alerts(h, "out.shadow")
        #expect(shadow.count == 1)
        #expect(shadow.first?["rule"] as? String == "rapid-pass-through")
        #expect(shadow.first?["mode"] as? String == "shadow")
        #expect(shadow.first?["account"] as? String == "SH")
    }

    @Test func snoozeFileSilencesHitsByEventTime() throws {
        let h = try H()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("snoozes-\(UUID().uuidString).csv")
        // SF-1 is cleared for one rule; SF-2's snooze ended before its events.
        try """
        account,rule,until,reason
        SF-1,rapid-pass-through,2026-12-01,family business, checked by analyst
        SF-2,*,2025-01-01,expired clearance
        """.write(to: file, atomically: true, encoding: .utf8)
        try h.produce(StreamEngineTests.mule("SF-1", from: Self.t0) + StreamEngineTests.mule("SF-2", from: Self.t0 + 200_000))
        var config = h.engineConfig(group: "snooze-file")
        config.snoozeFile = file.path
        let counters = try Self.engine(config, rules: StreamEngineTests.rules(), snoozes: SnoozeFile.load(path: file.path)).run(stop: StopSignal())
        #expect(counters.snoozedHits == 1)
        #expect(counters.alertsPublished == 3)
        let out = try Self.alerts(h).map { "\($0["account"] as? String ?? "?")/\($0["rule"] as? String ?? "?")" }
        #expect(Set(out) == ["SF-1/layered-forwarding", "SF-2/layered-forwarding", "SF-2/rapid-pass-through"])
    }

    @Test func snoozeTopicIsReadBeforeInputAndFollowedIncludingTombstones() throws {
        let h = try H()
        try h.cluster.createTopic("snoozes", partitions: 1)
        @Sendable func snooze(_ account: String, _ rule: String, until: String = "2026-12-01") -> ([UInt8], [UInt8]) {
            (Array("\(account)|\(rule)".utf8),
             Array(#"{"account":"\#(account)","rule":"\#(rule)","until":"\#(until)","reason":"cleared by analyst"}"#.utf8))
        }
        @Sendable func send(_ records: [([UInt8], [UInt8])]) throws {
            for (k, v) in records { try h.producer.send(topic: "snoozes", key: k, value: v) }
            try h.producer.flush(timeoutMillis: 10_000)
        }
        try send([
            snooze("ST-1", "*"),                                   // every rule of ST-1
            snooze("ST-2", "rapid-pass-through"), (Array("ST-2|rapid-pass-through".utf8), []),  // set, then lifted
            snooze("ST-4", "*", until: "2026-12-01T00:00:00Z"),    // lifted later, while running
            (Array("no-bar".utf8), Array("{}".utf8)),              // malformed key
            (Array("ST-9|*".utf8), Array("{not json".utf8)),       // malformed value
        ])
        // Produced before the engine starts: only a topic read to its end before input silences ST-1.
        try h.produce(StreamEngineTests.mule("ST-1", from: Self.t0) + StreamEngineTests.mule("ST-2", from: Self.t0 + 200_000))
        var config = h.engineConfig(group: "snooze-topic")
        config.snoozeTopic = "snoozes"
        config.exitWhenIdleMillis = nil
        let log = RecordingLog()
        let engine = try Self.engine(config, rules: StreamEngineTests.rules(), log: log)
        let counters = try Self.run(engine) {
            guard Self.waitCommitted(h, group: "snooze-topic", offset: 14) else { return }
            try? send([(Array("ST-4|*".utf8), []), snooze("ST-5", "*")])
            Thread.sleep(forTimeInterval: 1)
            try? h.produce(StreamEngineTests.mule("ST-4", from: Self.t0 + 400_000) + StreamEngineTests.mule("ST-5", from: Self.t0 + 600_000))
            _ = Self.waitCommitted(h, group: "snooze-topic", offset: 28)
        }
        #expect(counters.consumed == 28)
        // Everything produced before the start was applied before the engine consumed input.
        let lines = log.lines.withLock { $0 }
        let started = try #require(lines.firstIndex { $0.hasPrefix("engine started") })
        let read = try #require(lines.firstIndex { $0.hasPrefix("snooze topic read") }, "\(lines)")
        #expect(read < started)
        #expect(lines[read].contains("records=4") && lines[read].contains("snoozes=2"), "\(lines[read])")
        #expect(counters.snoozedHits == 4)  // ST-1 and ST-5, both rules
        #expect(counters.snoozeRecords == 6)
        #expect(counters.snoozeRecordsMalformed == 2)
        let flagged = try Self.alerts(h).compactMap { $0["account"] as? String }
        #expect(flagged.sorted() == ["ST-2", "ST-2", "ST-4", "ST-4"])
    }

    @Test func snoozeRecordsParse() throws {
        let set = try SnoozeRecord.parse(key: Array("A-1|*".utf8), value: Array(#"{"account":"A-1","rule":"*","until":"2026-12-01","reason":"ok"}"#.utf8))
        #expect(set == .set(Snooze(account: "A-1", ruleId: nil, untilMillis: parseTimestamp("2026-12-01")!, reason: "ok")))
        #expect(try SnoozeRecord.parse(key: Array("A|B|r".utf8), value: nil) == .lift(account: "A|B", ruleId: "r"))
        #expect(throws: SnoozeRecord.Problem.self) {
            try SnoozeRecord.parse(key: Array("A-1|r".utf8), value: Array(#"{"account":"A-2","rule":"r","until":"2026-12-01","reason":"x"}"#.utf8))
        }
        #expect(throws: SnoozeRecord.Problem.self) {
            try SnoozeRecord.parse(key: Array("A-1|r".utf8), value: Array(#"{"account":"A-1","rule":"r","until":"soon","reason":"x"}"#.utf8))
        }
        #expect(throws: SnoozeRecord.Problem.self) { try SnoozeRecord.parse(key: nil, value: nil) }
    }

    @Test func shadowAndSnoozeTopicsMustDifferFromTheOthers() {
        var c = EngineConfig(kafka: KafkaConfig([("bootstrap.servers", "x:1"), ("group.id", "g")]), inputTopic: "in", outputTopic: "out", shadowTopic: "out")
        #expect(c.problems().contains("the shadow topic must differ from the output topic"))
        c.shadowTopic = "out.shadow"
        c.snoozeTopic = "in.dlq"
        #expect(c.problems() == ["the snooze topic must differ from the dead-letter topic"])
    }
}
