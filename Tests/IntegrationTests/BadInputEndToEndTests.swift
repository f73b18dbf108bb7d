import Foundation
import Testing

/// Bad input sent to a running `mulestream run` process (against `mulestream dev-broker`, with
/// kcat as the producer): every message is dead-lettered with its reason, including one larger
/// than the producer's default message.max.bytes, and the engine is still running afterwards —
/// it flags a mule produced after the garbage and stops cleanly on SIGTERM.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BadInputEndToEndTests {
    /// (message, the reason its dead letter must carry). One line each: kcat sends a line per message.
    static let bad: [(String, String)] = [
        (#"{"id":"e2e-trunc","ts":1764000000000,"payer":"X"#, "malformed_json: unterminated string at byte 47"),
        (#"{"id":"e2e-nan","ts":1764000000000,"payer":"X-1","payee":"X-2","amount":NaN}"#, "malformed_json: expected a value at byte 72"),
        (#"{"id":"e2e-exp","ts":1764000000000,"payer":"X-1","payee":"X-2","amount":1e400}"#, "invalid_value: amount must not use an exponent"),
        (#"{"id":"e2e-self","ts":1764000000000,"payer":"X-1","payee":"X-1","amount":"5.00"}"#, "invalid_value: payee must differ from payer"),
        (#"{"id":"e2e-dup","ts":1764000000000,"payer":"X-1","payee":"X-2","amount":"5.00","amount":"6.00"}"#, "duplicate_field: amount"),
        (#"{"id":"e2e-deep","x":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}", "too_deep: nesting exceeds 32"),
        ("\u{1}\u{2}garbage\u{7F}", "malformed_json: expected '{' at start of event at byte 0"),
    ]

    @Test func theEngineProcessSurvivesBadInputAndKeepsAlerting() throws {
        let e2e = EndToEndTests()
        let dir = Env.tempDir()
        let (broker, brokers) = try e2e.startBroker(dir: dir)
        defer { broker.terminate(); broker.wait(seconds: 10) }
        let engine = try Child(Env.mulestream, e2e.engineArgs(brokers), dir: dir, name: "engine")
        defer { engine.terminate() }

        try e2e.produce(Self.bad.map(\.0), brokers: brokers)
        // 1.5 MiB in one message (a file is one message for kcat): over librdkafka's default
        // producer limit, so the engine can only dead-letter a cut copy.
        let big = dir.appendingPathComponent("big.json")
        let bigText = #"{"id":"e2e-big","note":""# + String(repeating: "B", count: 3 << 19) + #""}"#
        try bigText.write(to: big, atomically: true, encoding: .utf8)
        let (status, _, err) = try runToEnd(Env.kcat, ["-P", "-b", brokers, "-t", "payments", "-X", "message.max.bytes=4000000", big.path])
        #expect(status == 0, "kcat could not produce the big message: \(err)")

        let expected = Self.bad.count + 1
        let dlq = try eventually(seconds: 60, every: 1) { () -> [String]? in
            let got = try e2e.consume("payments.dlq", brokers: brokers, format: "%h\n")
            return got.count >= expected ? got : nil
        }
        let headers = try #require(dlq, "dead letters missing; engine log:\n\(engine.stderr.suffix(3000))")
        #expect(headers.count == expected)
        for (_, reason) in Self.bad {
            #expect(headers.contains { $0.contains("reason=\(reason),source.topic=payments") }, "\(reason) not in \(headers)")
        }
        #expect(headers.contains { $0.contains("reason=oversized: \(bigText.utf8.count) bytes exceeds 65536") && $0.contains("truncated=value \(bigText.utf8.count) bytes") },
                "\(headers)")
        #expect(engine.process.isRunning, "the engine stopped on bad input: \(engine.stderr.suffix(3000))")

        // Still processing: a mule produced after the garbage is flagged.
        try e2e.produce(EndToEndTests.inTimeOrder(EndToEndTests.mule("M-AFTER-BAD", at: EndToEndTests.start)), brokers: brokers)
        let alerts = try eventually(seconds: 60, every: 0.5) { () -> [[String: Any]]? in
            let a = try e2e.alerts(brokers: brokers)
            return a.isEmpty ? nil : a
        }
        let flagged = try #require(alerts, "no alert after bad input; engine log:\n\(engine.stderr.suffix(3000))")
        #expect(Set(flagged.compactMap { $0["account"] as? String }) == ["M-AFTER-BAD"])
        engine.terminate()
        #expect(engine.wait(seconds: 30) == 0, "engine did not stop cleanly: \(engine.stderr.suffix(3000))")
        #expect(engine.stderr.contains("dead_lettered=\(expected)"), "\(engine.stderr.suffix(2000))")
    }
}
