import Foundation
import MuleCore
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
