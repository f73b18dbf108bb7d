import Foundation
import Logging
import MuleCore
import MuleEngine
import MuleKafka
import MuleSimulator
import MuleTesting
import Testing

/// Checkpoints: the detector's state survives a write and a read bit for bit (the restored
/// detector goes on exactly as the uninterrupted one), damaged files are reported, the folder
/// keeps the newest, and a restarted engine resumes from the checkpoint's offsets.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct CheckpointTests {
    /// A simulated stream with planted gangs, some duplicates and disorder, as NDJSON lines.
    static func stream(events: Int = 12_000, seed: UInt64 = 11) -> [[UInt8]] {
        let sim = PaymentSimulator(config: SimulationConfig(
            seed: seed, accounts: 2500, events: events, gangs: 4, disorderMillis: 2_000, duplicateRate: 0.01))
        return sim.map(\.line)
    }

    /// Feeds `lines` (positions partition = i % 4, offset = i / 4), checkpointing and restoring at
    /// each cut; returns every alert and the final counters.
    static func replay(_ lines: [[UInt8]], rules: [Rule], config: DetectorConfig, cuts: Set<Int>,
                       restoreRules: [Rule]? = nil) throws -> (alerts: [Alert], counters: DetectorCounters, accounts: Int) {
        let decoder = EventDecoder()
        var detector = Detector(rules: rules, config: config)
        var alerts: [Alert] = []
        for (i, line) in lines.enumerated() {
            if cuts.contains(i) {
                alerts += detector.takeAlerts()
                let file = Checkpoint(offsets: [], ruleSet: detector.ruleSet, takenAtMillis: 0,
                                      detectorState: detector.checkpointState()).encoded()
                let back = try Checkpoint.decode(file)
                detector = try Detector(rules: restoreRules ?? rules, config: config, restoring: back.detectorState)
            }
            line.withUnsafeBytes { bytes in
                guard let t = try? decoder.decode(bytes) else { return }
                _ = detector.ingest(t, in: bytes, position: SourcePosition(partition: Int32(i % 4), offset: Int64(i / 4)))
            }
        }
        detector.advanceWatermark(to: .max)
        alerts += detector.takeAlerts()
        return (alerts, detector.counters, detector.trackedAccounts)
    }

    static func config() -> DetectorConfig {
        var c = DetectorConfig()
        c.transferIdLogBytes = 1 << 20
        c.maxDedupEntries = 100_000
        return c
    }

    @Test func aRestoredDetectorGoesOnExactlyAsTheUninterruptedOne() throws {
        let lines = Self.stream()
        let rules = try StreamEngineTests.rules()
        let whole = try Self.replay(lines, rules: rules, config: Self.config(), cuts: [])
        #expect(whole.alerts.count >= 10, "the stream should raise alerts: \(whole.alerts.count)")
        var rng = SeededRandom(state: 5)
        let cuts = Set((0..<12).map { _ in Int(rng.next() % UInt64(lines.count)) })
        let cut = try Self.replay(lines, rules: rules, config: Self.config(), cuts: cuts)
        #expect(cut.alerts == whole.alerts)
        #expect(cut.counters == whole.counters)
        #expect(cut.accounts == whole.accounts)
    }

    @Test func rulesChangedBetweenCheckpointAndRestartKeepStateAndCoolDowns() throws {
        let lines = Self.stream(events: 12_000, seed: 3)
        let rules = try StreamEngineTests.rules()
        // The restart runs a new version of every rule: same windows, so the same verdicts;
        // cool-downs carry over by rule id, so nothing alerts twice.
        let bumped = rules.map { r -> Rule in
            var r = r
            r.version += "-next"
            return r
        }
        let whole = try Self.replay(lines, rules: bumped, config: Self.config(), cuts: [])
        let cut = try Self.replay(lines, rules: rules, config: Self.config(), cuts: [lines.count / 2], restoreRules: bumped)
        let after = cut.alerts.filter { $0.ruleVersion.hasSuffix("-next") }
        #expect(!after.isEmpty)
        #expect(Set(after.map(\.alertId)).isSubset(of: Set(whole.alerts.map(\.alertId))))
        #expect(cut.alerts.count == whole.alerts.count)
    }

    @Test func damagedCheckpointsAreReportedNotTrusted() throws {
        var d = Detector(rules: try StreamEngineTests.rules(), config: Self.config())
        let line = Array(#"{"id":"t1","ts":1764000000000,"payer":"A","payee":"B","amount":"5.00"}"#.utf8)
        line.withUnsafeBytes { b in _ = d.ingest(try! EventDecoder().decode(b), in: b) }
        let good = Checkpoint(offsets: [CheckpointOffset(topic: "in", partition: 0, next: 1)], ruleSet: d.ruleSet,
                              takenAtMillis: 1, detectorState: d.checkpointState()).encoded()
        #expect(try Checkpoint.decode(good).offsets == [CheckpointOffset(topic: "in", partition: 0, next: 1)])
        #expect(throws: CheckpointError.badMagic) { try Checkpoint.decode(Array("hello world, not a checkpoint".utf8)) }
        let truncated = Array(good.prefix(good.count - 7))
        #expect(throws: CheckpointError.truncated(expected: good.count, got: good.count - 7)) { try Checkpoint.decode(truncated) }
        var flipped = good
        flipped[good.count / 2] ^= 0x10
        do {
            _ = try Checkpoint.decode(flipped)
            Issue.record("a flipped bit was not detected")
        } catch {
            #expect(error.code == "checksum_mismatch")
        }
        var future = good
        future[8] = 9
        #expect(throws: CheckpointError.unsupportedVersion(9)) { try Checkpoint.decode(future) }
        // A state that passes the checksum but is not a detector's state (wrong layout) is refused.
        #expect(throws: CheckpointError.self) {
            try Detector(rules: [], config: Self.config(), restoring: Array(repeating: 7, count: 64))
        }
        // Every prefix of a valid state is refused with an error, never a crash.
        let state = d.checkpointState()
        for n in stride(from: 0, to: state.count, by: max(1, state.count / 97)) {
            #expect(throws: CheckpointError.self) { try Detector(rules: [], config: Self.config(), restoring: Array(state.prefix(n))) }
        }
    }

    @Test func theStoreKeepsTheNewestAndCleansUpAfterACrash() throws {
        let dir = NSTemporaryDirectory() + "ckpt-store-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = CheckpointStore(directory: dir, keep: 3)
        try store.prepare()
        for seq in 1...5 { try store.write(Array("state \(seq)".utf8), sequence: UInt64(seq)) }
        let entries = try store.entries()
        #expect(entries.map(\.sequence) == [5, 4, 3])
        #expect(try store.read(entries[0]) == Array("state 5".utf8))
        // A crash mid-write leaves a temp file: never read, removed at the next start.
        _ = FileManager.default.createFile(atPath: dir + "/.tmp-checkpoint-00000000000000000006.mck", contents: Data([1, 2]))
        #expect(try store.entries().map(\.sequence) == [5, 4, 3])
        try store.prepare()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".tmp") }.isEmpty)
    }

    /// Runs the engine once over what is in `in`, with checkpoints in `dir`.
    static func runEngine(_ h: StreamEngineTests.Harness, group: String, dir: String, stop: StopSignal = StopSignal(),
                          tweak: (inout EngineConfig) -> Void = { _ in }) throws -> EngineCounters {
        var config = h.engineConfig(group: group, lateness: 5_000)
        config.checkpointDir = dir
        config.checkpointIntervalMillis = 500
        tweak(&config)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return try StreamEngine(config: config, rules: StreamEngineTests.rules(), logger: logger).run(stop: stop)
    }

    static func pairs(_ h: StreamEngineTests.Harness) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for r in try h.read("out") {
            let o = try JSONSerialization.jsonObject(with: Data(r.value.utf8)) as? [String: Any]
            out["\(o?["account"] as? String ?? "?")|\(o?["rule"] as? String ?? "?")", default: 0] += 1
        }
        return out
    }

    @Test func aRestartedEngineResumesFromItsCheckpointAndMissesNothing() throws {
        let lines = Self.stream(events: 8_000, seed: 21)
        let expected = try Self.replay(lines, rules: try StreamEngineTests.rules(), config: DetectorConfig(), cuts: [])
        let expectedPairs = Set(expected.alerts.filter { $0.mode == .enforce }.map { "\($0.account)|\($0.ruleId)" })
        let h = try StreamEngineTests.Harness(partitions: 1)
        let dir = NSTemporaryDirectory() + "ckpt-engine-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let half = lines.count / 2
        try h.produce(Array(lines[..<half]))
        // First run: no idle flush, so events stay buffered at shutdown and live on only in the
        // checkpoint; it is stopped once a checkpoint covers all it was given.
        let stop = StopSignal()
        Thread {
            let store = CheckpointStore(directory: dir)
            for _ in 0..<1200 {
                if let newest = try? store.entries().first, let bytes = try? store.read(newest),
                   let c = try? Checkpoint.decode(bytes), c.offsets.reduce(0, { $0 + $1.next }) == Int64(half) {
                    break
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            stop.stop()
        }.start()
        let first = try Self.runEngine(h, group: "ck", dir: dir, stop: stop) { $0.idleFlushMillis = 0; $0.exitWhenIdleMillis = nil }
        #expect(first.consumed == UInt64(half))
        #expect(first.checkpointsWritten >= 1)
        #expect(first.checkpointsRestored == 0)
        try h.produce(Array(lines[half...]))
        let second = try Self.runEngine(h, group: "ck", dir: dir)
        #expect(second.checkpointsRestored == 1)
        // Nothing before the checkpoint's offsets is read again.
        #expect(second.consumed == UInt64(lines.count - half))
        #expect(second.detector.duplicates == expected.counters.duplicates)
        let seen = try Self.pairs(h)
        #expect(Set(seen.keys) == expectedPairs)
        #expect(seen.values.allSatisfy { $0 == 1 }, "repeated alerts: \(seen.filter { $0.value > 1 })")
    }

    @Test func aCorruptNewestCheckpointFallsBackToTheOlderOne() throws {
        let lines = Self.stream(events: 4_000, seed: 8)
        let h = try StreamEngineTests.Harness(partitions: 1)
        let dir = NSTemporaryDirectory() + "ckpt-corrupt-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try h.produce(Array(lines[..<2000]))
        _ = try Self.runEngine(h, group: "cc", dir: dir)
        let store = CheckpointStore(directory: dir)
        let entries = try store.entries()
        #expect(entries.count >= 2)
        // Cut the newest in half (a torn write that somehow got renamed).
        let newest = try store.read(entries[0])
        try Data(newest.prefix(newest.count / 2)).write(to: URL(fileURLWithPath: entries[0].path))
        try h.produce(Array(lines[2000...]))
        let second = try Self.runEngine(h, group: "cc", dir: dir)
        #expect(second.checkpointsRejected["truncated"] == 1)
        #expect(second.checkpointsRestored == 1)
    }
}
