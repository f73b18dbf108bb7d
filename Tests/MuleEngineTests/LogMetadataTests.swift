import Foundation
import Logging
import MuleCore
import MuleEngine
import MuleKafka
import Testing

/// Every log line about an event or an alert carries its ids, in `--log-format json` (against
/// the mock cluster, as the engine runs in production).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct LogMetadataTests {
    typealias H = StreamEngineTests.Harness

    @Test func eventAndAlertLinesCarryTheirIds() throws {
        let h = try H()
        var events = StreamEngineTests.mule("M", from: StreamEngineTests.t0)
        events.append(StreamEngineTests.event("too-late", StreamEngineTests.t0, "L-1", "L-2", "5.00"))
        events.append(Array(#"{"id":"no-payee"}"#.utf8))
        try h.produce(events)
        let sink = LogSink.capturing()
        var logger = Logger(label: "mulestream") { JSONLogHandler(label: $0, sink: sink) }
        logger.logLevel = .debug
        let engine = try StreamEngine(config: h.engineConfig(lateness: 10_000), rules: StreamEngineTests.rules(), logger: logger)
        let counters = try engine.run(stop: StopSignal())
        #expect(counters.deadLettered == 2)

        let objects = try sink.lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        }
        func metadata(_ message: String) -> [[String: String]] {
            objects.filter { $0["message"] as? String == message }.compactMap { $0["metadata"] as? [String: String] }
        }
        let alerts = metadata("alert")
        #expect(!alerts.isEmpty)
        for m in alerts {
            #expect(m["account"] == "M")
            #expect(m["alert_id"]?.isEmpty == false)
            #expect(m["rule"]?.contains("@") == true)
            #expect(m["severity"] != nil && m["event_ts"] != nil && m["topic"] == "out")
        }
        let deadLetters = metadata("dead-lettered event")
        #expect(deadLetters.count == 2)
        for m in deadLetters {
            #expect(m["topic"] == "in" && m["partition"] == "0" && m["offset"] != nil && m["reason"] != nil)
        }
        #expect(deadLetters.contains { $0["transfer_id"] == "too-late" && $0["reason"]?.hasPrefix("late:") == true })
        #expect(deadLetters.contains { $0["transfer_id"] == nil && $0["reason"]?.hasPrefix("missing_field") == true })
    }
}
