import Foundation
import Logging
import MuleCore
import MuleEngine
import MuleKafka
import Testing

/// `--exactly-once` against the mock cluster. The mock accepts transactions but writes no
/// markers, so what is shown here is that the transactional path runs end to end — alerts are
/// produced in transactions, input offsets are committed through them, a restart resumes from
/// them — not that aborted output is hidden (that needs a real Kafka ≥ 2.5).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ExactlyOnceTests {
    func run(_ h: StreamEngineTests.Harness, group: String, checkpoints: String? = nil) throws -> EngineCounters {
        var config = h.engineConfig(group: group)
        config.exactlyOnce = true
        config.checkpointDir = checkpoints
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return try StreamEngine(config: config, rules: StreamEngineTests.rules(), logger: logger).run(stop: StopSignal())
    }

    @Test func alertsAndOffsetsGoThroughTransactionsAndARestartResumes() throws {
        let h = try StreamEngineTests.Harness()
        let dir = NSTemporaryDirectory() + "eos-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try h.produce(StreamEngineTests.mule("X", from: StreamEngineTests.t0))
        let first = try run(h, group: "eos", checkpoints: dir)
        #expect(first.consumed == 7)
        #expect(first.transactionsCommitted >= 1)
        #expect(first.commits >= 1, "input offsets were never sent to a transaction")
        #expect(first.transactionsAborted == 0)
        #expect(first.alertsPublished == 2)
        let alerts = try h.read("out")
        #expect(alerts.count == 2)
        #expect(alerts.allSatisfy { $0.value.contains(#""account":"X""#) })
        // The mock accepts TxnOffsetCommit but does not store the offsets (a real broker does),
        // so here the restart resumes from the checkpoint taken after the last transaction.
        try h.produce([StreamEngineTests.event("x-new", StreamEngineTests.t0 + 200_000, "p", "q", "3.00")])
        let second = try run(h, group: "eos", checkpoints: dir)
        #expect(second.checkpointsRestored == 1)
        #expect(second.consumed == 1)
        #expect(second.alertsPublished == 0)
    }

    @Test func withCheckpointsARestartDoesNotRepeatCommittedOutput() throws {
        let h = try StreamEngineTests.Harness()
        let dir = NSTemporaryDirectory() + "eos-ckpt-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try h.produce(StreamEngineTests.mule("Y", from: StreamEngineTests.t0))
        let first = try run(h, group: "eos-ck", checkpoints: dir)
        #expect(first.alertsPublished == 2)
        #expect(first.checkpointsWritten >= 1)
        // What a real broker keeps from the transaction (the mock drops it): the group's offset 7.
        var kc = KafkaConfig([("bootstrap.servers", h.cluster.bootstrapServers), ("group.id", "eos-ck"),
                              ("session.timeout.ms", "6000")])
        kc.logHandler = KafkaLogRecord.discard
        let probe = try KafkaConsumer(config: kc, topics: ["in"])
        for _ in 0..<150 where try probe.assignment.isEmpty { _ = try probe.poll(max: 1, timeoutMillis: 100) { _ in } }
        try probe.commit([TopicPartitionOffset(topic: "in", partition: 0, offset: 7)])
        probe.close()
        // Replace the newest checkpoint by one taken before any input: the restart must replay the
        // input (the state needs it) but not publish the alerts a committed transaction holds.
        let store = CheckpointStore(directory: dir)
        let empty = Detector(rules: try StreamEngineTests.rules())
        let before = Checkpoint(offsets: [CheckpointOffset(topic: "in", partition: 0, next: 0)], ruleSet: empty.ruleSet,
                                takenAtMillis: 0, detectorState: empty.checkpointState())
        try store.write(before.encoded(), sequence: (try store.entries().first?.sequence ?? 0) + 1)
        try h.produce([StreamEngineTests.event("y-new", StreamEngineTests.t0 + 200_000, "p", "q", "3.00")])
        let second = try run(h, group: "eos-ck", checkpoints: dir)
        #expect(second.checkpointsRestored == 1)
        #expect(second.consumed == 8)
        #expect(second.alertsPublished == 0)
        #expect(second.replaySuppressed == 2)
        #expect(try h.read("out").count == 2)
    }

    @Test func anAbortedTransactionRewindsAndPublishesAgain() throws {
        let h = try StreamEngineTests.Harness()
        try h.produce(StreamEngineTests.mule("Z", from: StreamEngineTests.t0))
        // The first AddOffsetsToTxn (send offsets) is refused: an abortable transaction error.
        h.cluster.failNextRequests(apiKey: 25, errors: [30])  // GROUP_AUTHORIZATION_FAILED
        let counters = try run(h, group: "eos-abort")
        #expect(counters.transactionsAborted == 1)
        // Rewound to empty state at the (uncommitted) start: every event is read and applied
        // again, and the alerts (whether or not the aborted transaction held them) are produced
        // in a committed one.
        #expect(counters.consumed == 14)
        #expect(counters.alertsPublished >= 2)
        #expect(counters.transactionsCommitted >= 1)
        #expect(try h.read("out").filter { $0.value.contains(#""account":"Z""#) }.count >= 2)
    }
}
