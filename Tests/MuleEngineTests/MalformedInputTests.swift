import Foundation
import Logging
import MuleCore
import MuleEngine
import MuleKafka
import MuleRules
import Testing

extension StreamEngineTests.Harness {
    /// One consumed record, copied out of librdkafka's buffers.
    struct Record {
        var key: [UInt8]?
        var value: [UInt8]
        var headers: [String: String]
    }

    /// Every record on `topic` in the order consumed, with its headers by name.
    func records(_ topic: String) throws -> [Record] {
        var kc = KafkaConfig([("bootstrap.servers", cluster.bootstrapServers), ("group.id", "reader-\(UUID())"),
                              ("auto.offset.reset", "earliest")])
        kc.logHandler = KafkaLogRecord.discard
        let c = try KafkaConsumer(config: kc, topics: [topic])
        defer { c.close() }
        var out: [Record] = []
        var quiet = 0
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && (out.isEmpty ? quiet < 40 : quiet < 5) {
            let n = try c.poll(max: 100, timeoutMillis: 200) { m in
                var headers: [String: String] = [:]
                m.forEachHeader { name, value in headers[name] = value.map { String(decoding: $0, as: UTF8.self) } ?? "" }
                out.append(Record(key: m.key.map { Array($0) }, value: Array(m.value), headers: headers))
            }
            quiet = n == 0 ? quiet + 1 : 0
        }
        return out
    }
}

/// The malformed corpus (`MalformedCorpus`) interleaved with good events, through the live engine
/// against librdkafka's mock cluster: every bad event lands in the dead-letter topic with its exact
/// reason, the good ones raise exactly the alerts they raise alone, the counters agree, and the
/// engine finishes normally.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct MalformedInputTests {
    /// Ordinary transfers between distinct people, events exactly at each decoder limit, and one
    /// first-layer mule, in event-time order.
    static func goodEvents() -> [[UInt8]] {
        let t0 = MalformedCorpus.t0
        var timed: [(Int64, [UInt8])] = (0..<60).map { i in
            let ts = t0 + Int64(i) * 3000
            return (ts, StreamEngineTests.event("good-\(i)", ts, "G-\(i)", "H-\(i)", "12.50", channel: "p2p"))
        }
        let mule = StreamEngineTests.mule("M", from: t0 + 20_000)
        for (k, e) in mule.enumerated() { timed.append((t0 + 20_000 + (k < 6 ? Int64(k + 1) * 1000 : 120_000), e)) }
        timed += MalformedCorpus.atTheLimits(from: t0 + 90_000).map { ($0.ts, $0.value) }
        return timed.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// The alert ids the good events raise on their own, straight through the core.
    static func expectedAlertIds(_ good: [[UInt8]], config: DetectorConfig) throws -> Set<String> {
        var detector = Detector(rules: try StreamEngineTests.rules(), config: config)
        let decoder = EventDecoder()
        for bytes in good {
            try bytes.withUnsafeBytes { raw in
                _ = detector.ingest(try decoder.decode(raw), in: raw, position: .none)
            }
        }
        detector.advanceWatermark(to: .max)
        return Set(detector.takeAlerts().map(\.alertId))
    }

    @Test func everyMalformedEventIsDeadLetteredWithItsReasonAndGoodEventsStillAlert() throws {
        let h = try StreamEngineTests.Harness()
        // The test's own producer may send what a misbehaving upstream would: up to 4 MB.
        var pc = KafkaConfig([("bootstrap.servers", h.cluster.bootstrapServers), ("message.max.bytes", "4000000")])
        pc.logHandler = KafkaLogRecord.discard
        let producer = try KafkaProducer(config: pc)
        let bad = MalformedCorpus.all
        let good = Self.goodEvents()
        var order: [(good: [UInt8]?, bad: MalformedEvent?)] = []
        for k in 0..<max(good.count, bad.count) {
            if k < good.count { order.append((good[k], nil)) }
            if k < bad.count { order.append((nil, bad[k])) }
        }
        var expectedReasons: [Int64: MalformedEvent] = [:]
        for (offset, item) in order.enumerated() {
            if let g = item.good {
                try producer.send(topic: "in", partition: 0, key: nil, value: g)
            } else if let b = item.bad {
                expectedReasons[Int64(offset)] = b
                if let value = b.value {
                    try producer.send(topic: "in", partition: 0, key: b.key, value: value)
                } else {
                    // A null value cannot be sent through KafkaProducer (it never sends tombstones):
                    // kcat can (-Z), after everything before it is on the broker.
                    try producer.flush(timeoutMillis: 10_000)
                    try Self.produceNull(key: b.key ?? [], bootstrap: h.cluster.bootstrapServers)
                }
            }
        }
        try producer.flush(timeoutMillis: 20_000)

        let config = h.engineConfig(group: "malformed")
        let counters = try h.run(config)  // returning (not throwing) = the engine never stopped on bad input

        #expect(counters.consumed == UInt64(order.count))
        #expect(counters.deadLettered == UInt64(bad.count))
        var byCode: [String: UInt64] = [:]
        for b in bad { byCode[b.code, default: 0] += 1 }
        #expect(counters.decodeFailures == byCode)

        let dlq = try h.records("in.dlq")
        #expect(dlq.count == bad.count)
        var seen = Set<Int64>()
        for record in dlq {
            let offset = Int64(record.headers["source.offset"] ?? "") ?? -1
            guard let expected = expectedReasons[offset] else {
                Issue.record("dead letter for offset \(offset), which held a good event: \(record.headers)")
                continue
            }
            seen.insert(offset)
            #expect(record.headers["reason"] == expected.reason, "\(expected.name)")
            #expect(record.headers["source.topic"] == "in")
            #expect(record.headers["source.partition"] == "0")
            let original = expected.value ?? []
            let limit = MalformedCorpus.eventLimit
            if original.count > limit {
                // Cut to the event limit so the dead-letter copy always fits the producer's message.max.bytes.
                #expect(record.value == Array(original.prefix(limit)), "\(expected.name)")
                #expect(record.headers["truncated"] == "value \(original.count) bytes", "\(expected.name)")
            } else {
                #expect(record.value == original, "\(expected.name)")
            }
            if let key = expected.key {
                #expect(record.key == Array(key.prefix(limit)), "\(expected.name)")
                if key.count > limit { #expect(record.headers["truncated"] == "key \(key.count) bytes", "\(expected.name)") }
            } else {
                #expect(record.key == nil, "\(expected.name)")
            }
        }
        let missing = expectedReasons.filter { !seen.contains($0.key) }.map(\.value.name).sorted()
        #expect(missing.isEmpty, "not dead-lettered: \(missing)")

        let alertIds = try h.records("out").compactMap { r -> String? in
            let obj = try JSONSerialization.jsonObject(with: Data(r.value)) as? [String: Any]
            return obj?["alert_id"] as? String
        }
        let expectedIds = try Self.expectedAlertIds(good, config: config.detector)
        #expect(!expectedIds.isEmpty)
        #expect(Set(alertIds) == expectedIds)
        #expect(alertIds.count == expectedIds.count)
        #expect(counters.alertsPublished == UInt64(expectedIds.count))
    }

    @Test func anEventLimitWhoseDeadLetterCopyWouldNotFitIsRefusedAtStart() {
        var config = EngineConfig(kafka: KafkaConfig([("bootstrap.servers", "127.0.0.1:1"), ("group.id", "g")]),
                                  inputTopic: "in", outputTopic: "out")
        #expect(config.problems().isEmpty)  // 64 KiB events, librdkafka's 1 000 000-byte default
        #expect(config.deadLetterCopyLimit == 65_536)
        config.kafka.set("message.max.bytes", "100000")
        #expect(config.problems() == ["the largest event (65536 bytes) must leave room for its dead-letter copy "
            + "(key and value, 4096 bytes of headers) under message.max.bytes (100000)"])
        config.decoderLimits.maxEventBytes = 40_000
        #expect(config.problems().isEmpty)
        config.kafka.set("message.max.bytes", "1000000")
        config.decoderLimits.maxEventBytes = 600_000
        #expect(config.problems().count == 1)
    }

    static func produceNull(key: [UInt8], bootstrap: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        p.arguments = ["-P", "-b", bootstrap, "-t", "in", "-p", "0", "-K", "#", "-Z"]
        let pipe = Pipe()
        p.standardInput = pipe
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        pipe.fileHandleForWriting.write(Data(key + Array("#\n".utf8)))
        try pipe.fileHandleForWriting.close()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "kcat could not produce the null-value record")
    }
}
