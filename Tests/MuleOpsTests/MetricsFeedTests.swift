@testable import MuleEngine
import MuleOps
import Prometheus
import Testing

/// What the monitor hands to swift-metrics from successive snapshots, without a broker: counters
/// receive only increases, per-partition lag follows the assignment, and the checkpoint-age hook
/// shows up only once a checkpoint exists.
struct MetricsFeedTests {
    static func samples(_ registry: PrometheusCollectorRegistry) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in registry.emitToString().split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    @Test func successiveSnapshotsBecomeCountersAndGauges() {
        let registry = PrometheusCollectorRegistry()
        let monitor = EngineMonitor(metrics: OpsServer.metricsFactory(registry))
        var s = EngineStatus()
        s.phase = .consuming(partitions: [0, 1])
        s.counters.consumed = 5
        s.counters.decodeFailures["missing_field"] = 1
        s.lag = [PartitionLag(partition: 0, lag: 7), PartitionLag(partition: 1, lag: nil)]
        monitor.publish(s)
        var m = Self.samples(registry)
        #expect(m["mulestream_events_consumed_total"] == 5)
        #expect(m[#"mulestream_decode_failures_total{reason="missing_field"}"#] == 1)
        #expect(m[#"mulestream_consumer_lag{partition="0"}"#] == 7)
        #expect(m[#"mulestream_consumer_lag{partition="1"}"#] == nil, "an unknown lag is not reported as a number")
        #expect(m["mulestream_checkpoint_age_seconds"] == nil)
        #expect(m["mulestream_ready"] == 1)

        // Later: more consumed, partition 0 given away, partition 1 known, a checkpoint written.
        s.phase = .rebalancing
        s.counters.consumed = 8
        s.lag = [PartitionLag(partition: 1, lag: 0)]
        s.checkpointAgeSeconds = 12.5
        monitor.publish(s)
        m = Self.samples(registry)
        #expect(m["mulestream_events_consumed_total"] == 8)
        #expect(m[#"mulestream_consumer_lag{partition="0"}"#] == nil)
        #expect(m[#"mulestream_consumer_lag{partition="1"}"#] == 0)
        #expect(m["mulestream_checkpoint_age_seconds"] == 12.5)
        #expect(m["mulestream_ready"] == 0)

        // A phase change alone moves readiness at once.
        monitor.enter(.consuming(partitions: [1]))
        #expect(Self.samples(registry)["mulestream_ready"] == 1)
        #expect(monitor.status.phase == .consuming(partitions: [1]))
    }

    @Test func phasesSayWhyTheyAreNotReady() {
        #expect(EnginePhase.consuming(partitions: []).isReady)
        #expect(EnginePhase.consuming(partitions: [2, 5]).reason == "consuming partitions 2,5")
        for phase in [EnginePhase.starting, .readingSnoozes, .awaitingAssignment, .restoring(partitions: [0]), .rebalancing,
                      .stopping, .stopped, .failed("broker down")] {
            #expect(!phase.isReady)
            #expect(!phase.reason.isEmpty)
        }
        #expect(EnginePhase.restoring(partitions: [0, 3]).reason == "restoring state of partitions 0,3")
    }
}
