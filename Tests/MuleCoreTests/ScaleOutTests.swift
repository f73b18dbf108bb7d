import Foundation
@testable import MuleCore
import MuleRules
import MuleSimulator
import MuleTesting
import Testing

/// Splitting detection across partitions of the legs topic (`DetectTask`, `TaskClock`, links),
/// driven in-process by `LegsCluster`: the result must not depend on schedule, batch sizes or
/// restarts, a single partition must match the single-instance detector, and per-account rules
/// must match it at any partition count.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ScaleOutTests {
    static let rules: [Rule] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try! RuleLoader.load(path: root.appendingPathComponent("Rules").path).map(\.rule)
    }()

    static let events: [[UInt8]] = PaymentSimulator(config: SimulationConfig(
        seed: 7, accounts: 2500, events: 16_000, gangs: 4, minLayers: 1, maxLayers: 3,
        disorderMillis: 1_500, duplicateRate: 0.01)).map(\.line)

    /// What an alert is judged by: account, rule and chain.
    static func key(_ a: Alert) -> String { "\(a.account) \(a.ruleId) \((a.chain ?? []).joined(separator: ">"))" }
    static func keys(_ alerts: [Alert]) -> Set<String> { Set(alerts.map(key)) }
    static func ids(_ alerts: [Alert]) -> Set<String> { Set(alerts.map(\.alertId)) }

    static func single() -> [Alert] {
        var d = CoreDriver(rules: rules)
        let decoder = EventDecoder()
        var alerts: [Alert] = []
        for (i, line) in events.enumerated() {
            line.withUnsafeBytes { b in
                guard let t = try? decoder.decode(b) else { return }
                _ = d.detector.ingest(t, in: b, position: SourcePosition(partition: Int32(i % 3), offset: Int64(i / 3)))
            }
            alerts += d.takeAlerts()
        }
        return alerts + d.finish()
    }

    static func cluster(partitions: Int, seed: UInt64, batch: Int = 64, snapshots: Double = 0, crashes: Double = 0) -> LegsCluster.Outcome {
        var o = LegsCluster.Options()
        o.legsPartitions = partitions
        o.maxBatch = batch
        o.snapshotChance = snapshots
        o.crashChance = crashes
        var config = DetectorConfig()
        config.transferIdLogBytes = 4 << 20  // snapshots stay small
        config.maxDedupEntries = 200_000
        return LegsCluster(rules: rules, config: config, options: o).run(events: events, seed: seed)
    }

    @Test func oneLegsPartitionMatchesTheSingleInstanceDetector() {
        let one = Self.cluster(partitions: 1, seed: 1)
        let single = Self.single()
        #expect(!single.isEmpty)
        #expect(Self.keys(one.alerts) == Self.keys(single))
        #expect(Self.ids(one.alerts) == Self.ids(single))
        #expect(one.links == 0)
    }

    @Test func theResultDoesNotDependOnScheduleOrBatchSize() {
        let a = Self.cluster(partitions: 4, seed: 1, batch: 64)
        let b = Self.cluster(partitions: 4, seed: 99, batch: 7)
        let c = Self.cluster(partitions: 4, seed: 12345, batch: 500)
        #expect(a.links > 0)
        #expect(!a.alerts.isEmpty)
        #expect(Self.ids(a.alerts) == Self.ids(b.alerts))
        #expect(Self.ids(a.alerts) == Self.ids(c.alerts))
        #expect(a.alerts.count == Set(a.alerts.map(\.alertId)).count, "no repeats without restarts")
    }

    @Test func tasksRestoredFromSnapshotsEndWithTheSameAlerts() {
        let calm = Self.cluster(partitions: 4, seed: 5)
        let stormy = Self.cluster(partitions: 4, seed: 5, snapshots: 0.004, crashes: 0.002)
        #expect(stormy.crashes > 0)
        #expect(Self.ids(stormy.alerts) == Self.ids(calm.alerts))
    }

    @Test func perAccountRulesMatchTheSingleInstanceAtAnyPartitionCount() {
        let single = Self.single()
        let perAccount: Set<String> = ["rapid-pass-through", "layered-forwarding"]
        for n in [2, 3, 6] {
            let split = Self.cluster(partitions: n, seed: UInt64(n))
            #expect(Self.ids(split.alerts.filter { perAccount.contains($0.ruleId) })
                    == Self.ids(single.filter { perAccount.contains($0.ruleId) }), "partitions: \(n)")
        }
    }

    @Test func chainsAndGangsAreFoundAcrossPartitions() {
        let single = Self.single()
        let split = Self.cluster(partitions: 4, seed: 3)
        for rule in ["layered-chain", "gang-sink"] {
            let a = Set(single.filter { $0.ruleId == rule }.map(\.account))
            let b = Set(split.alerts.filter { $0.ruleId == rule }.map(\.account))
            #expect(!a.isEmpty, "\(rule) fires in the single instance")
            print("\(rule): single \(a.count) split \(b.count) common \(a.intersection(b).count)")
            #expect(a == b, "\(rule): accounts flagged")
        }
    }
}

/// Records on the legs topic come from other instances: whatever arrives, a task answers with
/// an outcome (a malformed record has its reason) and never crashes.
@Suite struct LegsRecordTests {
    static func task(partition: Int32 = 0, of n: Int32 = 3) -> DetectTask {
        var config = DetectorConfig()
        config.transferIdLogBytes = 1 << 16
        config.maxDedupEntries = 4_096
        return DetectTask(rules: ScaleOutTests.rules, config: config,
                   scope: DetectorScope(partition: partition, partitioner: LegPartitioner(partitions: n), linkDelayMillis: 1_000))
    }

    func receive(_ bytes: [UInt8], into task: inout DetectTask) -> DetectTask.Received {
        bytes.withUnsafeBytes { task.receive($0) }
    }

    @Test func malformedRecordsAreRefusedWithAReason() {
        var t = Self.task()
        let cases: [([UInt8], String)] = [
            ([], "unknown legs record tag"),
            (Array("X{}".utf8), "unknown legs record tag 0x58"),
            (Array("C{\"id\":\"t\"}".utf8), "leg record:"),
            (Array("B".utf8), "leg record:"),
            ([UInt8(ascii: "L")], "runs past the end"),
            ([UInt8(ascii: "L"), 9, 1], "version 9"),
            ([UInt8(ascii: "M")], "runs past the end"),
            ([UInt8(ascii: "M"), UInt8(ascii: "Q")], "unknown marker kind"),
            (LegsMarker.task(partition: 7, floor: 5).encode(), "marker from partition 7 of 3"),
            (LegsMarker.route(input: 0, inputCount: 2, watermark: 1, newest: 2, lowest: 1, idle: false).encode() + [0], "bytes left"),
        ]
        for (bytes, reason) in cases {
            guard case .malformed(let why) = receive(bytes, into: &t) else {
                Issue.record("accepted \(bytes.prefix(12))")
                continue
            }
            #expect(why.contains(reason), "\(bytes.prefix(12)): \(why)")
        }
    }

    @Test func truncatedAndFlippedLinksNeverCrash() {
        let link = LinkMessage.tie(a: "A-1", b: "A-2", at: 1_000, amount: 5).encode(deliverAt: 2_000)
        var t = Self.task()
        #expect(receive(link, into: &t) == .link(.accepted))
        #expect(receive(link, into: &t) == .link(.duplicate))
        for cut in 0..<link.count {
            var x = Self.task()
            if case .link(.accepted) = receive(Array(link.prefix(cut)), into: &x) { Issue.record("accepted a link cut at \(cut)") }
        }
        var rng = SeededRandom(state: 11)
        for _ in 0..<2_000 {
            var bytes = link
            bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            var x = Self.task()
            _ = receive(bytes, into: &x)
            _ = x.advance()
        }
    }

    @Test func aLinkBehindTheWatermarkIsStale() {
        var t = Self.task()
        // Hear from every input and peer: everything before 10 000 may be applied.
        #expect(receive(LegsMarker.route(input: 0, inputCount: 1, watermark: 10_000, newest: 15_000, lowest: 1, idle: false).encode(), into: &t) == .marker)
        for q: Int32 in [1, 2] { _ = receive(LegsMarker.task(partition: q, floor: 20_000).encode(), into: &t) }
        #expect(t.clock.bound == 10_000)
        #expect(t.advance() == 10_000)
        let late = LinkMessage.tie(a: "A-1", b: "A-2", at: 1_000, amount: 5).encode(deliverAt: 2_000)
        #expect(receive(late, into: &t) == .link(.stale))
    }

    @Test func theClockWaitsForEveryInputAndPeer() {
        var c = TaskClock(partition: 1, partitions: 3, linkDelayMillis: 1_000)
        #expect(c.bound == .min)
        c.routeMarker(input: 0, of: 2, watermark: 5_000, newest: 10_000, lowest: 3_000, idle: false)
        #expect(c.routeBound == .min, "input 1 not heard from")
        c.routeMarker(input: 1, of: 2, watermark: .min, newest: .min, lowest: .max, idle: true)
        #expect(c.routeBound == 5_000)
        // Peers not heard from are assumed at the earliest event time anything can have.
        #expect(c.earliest == 3_000)
        #expect(c.linkBound == 4_000)
        c.taskMarker(from: 0, floor: 4_500)
        c.taskMarker(from: 2, floor: 6_000)
        #expect(c.linkBound == 5_500)
        #expect(c.bound == 5_000)
        // Markers only move forward; all inputs idle: past the newest event.
        c.taskMarker(from: 0, floor: 1)
        #expect(c.peers[0] == 4_500)
        c.routeMarker(input: 0, of: 2, watermark: 5_000, newest: 10_000, lowest: 3_000, idle: true)
        #expect(c.routeBound == 10_001)
        #expect(c.floor(pending: .max) == c.bound)
    }
}
