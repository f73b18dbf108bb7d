import Foundation
import Testing

/// The walking skeleton over the real wire protocol, with separate processes only:
/// `mulestream dev-broker`, `mulestream run`, and kcat as the independent Kafka client.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct EndToEndTests {
    static let start: Int64 = 1_764_000_000_000
    static let minute: Int64 = 60_000

    static func event(_ id: String, _ ts: Int64, _ payer: String, _ payee: String, _ amount: String,
                      channel: String, payerKind: String = "personal", payeeKind: String = "personal") -> String {
        #"{"id":"\#(id)","ts":\#(ts),"payer":"\#(payer)","payee":"\#(payee)","amount":"\#(amount)","currency":"CNY","channel":"\#(channel)","payer_kind":"\#(payerKind)","payee_kind":"\#(payeeKind)"}"#
    }

    /// A personal QR account paid by six strangers that forwards 98.5 % five minutes later.
    static func mule(_ name: String, at t: Int64) -> [String] {
        var lines: [String] = []
        for i in 1...6 {
            lines.append(event("\(name)-in-\(i)", t + Int64(i) * 30_000, "\(name)-victim-\(i)", name, "1000.00", channel: "qr"))
        }
        lines.append(event("\(name)-out", t + 8 * minute, name, "\(name)-next", "5910.00", channel: "p2p"))
        return lines
    }

    /// Ordinary traffic the rule must leave alone: a shop paid by QR all day that pays its
    /// supplier, and a friend collecting a shared bill and paying the restaurant.
    static func ordinary(at t: Int64) -> [String] {
        var lines: [String] = []
        for i in 1...8 {
            lines.append(event("shop-in-\(i)", t + Int64(i) * 20_000, "customer-\(i)", "SHOP-1", "88.00", channel: "qr", payeeKind: "merchant"))
        }
        lines.append(event("shop-out", t + 9 * minute, "SHOP-1", "SUPPLIER-1", "690.00", channel: "bank", payerKind: "merchant", payeeKind: "merchant"))
        for i in 1...4 {
            lines.append(event("bill-in-\(i)", t + Int64(i) * 10_000, "friend-\(i)", "ALICE", "62.50", channel: "qr"))
        }
        lines.append(event("bill-out", t + 6 * minute, "ALICE", "RESTAURANT-1", "312.50", channel: "qr", payeeKind: "merchant"))
        return lines
    }

    static func inTimeOrder(_ lines: [String]) -> [String] {
        func ts(_ l: String) -> Int64 {
            let r = l.range(of: #""ts":\d+"#, options: .regularExpression)!
            return Int64(l[r].dropFirst(5))!
        }
        return lines.sorted { ts($0) < ts($1) }
    }

    static let malformed = [
        #"{"id":"bad-no-payee","ts":1764000000000,"payer":"X-1","amount":"10.00"}"#,
        #"{"id":"bad-amount","ts":1764000000000,"payer":"X-1","payee":"X-2","amount":"-3"}"#,
        #"{"id":"bad-json","ts":176400"#,
    ]

    func produce(_ lines: [String], brokers: String, topic: String = "payments") throws {
        let (status, _, err) = try runToEnd(Env.kcat, ["-P", "-b", brokers, "-t", topic], stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
        #expect(status == 0, "kcat -P failed: \(err)")
    }

    func consume(_ topic: String, brokers: String, format: String = "%s\n") throws -> [String] {
        let (_, out, _) = try runToEnd(Env.kcat, ["-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", format], timeout: 30)
        return out.split(separator: "\n").map(String.init)
    }

    func alerts(brokers: String) throws -> [[String: Any]] {
        try consume("alerts", brokers: brokers).compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func startBroker(dir: URL) throws -> (Child, String) {
        let file = dir.appendingPathComponent("bootstrap")
        let broker = try Child(Env.mulestream, ["dev-broker", "--bootstrap-file", file.path,
                                                 "--topic", "payments:4", "--topic", "alerts:2", "--topic", "payments.dlq:1"],
                               dir: dir, name: "broker")
        let address = eventually(seconds: 15) { () -> String? in
            let text = (try? String(contentsOf: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            return text?.isEmpty == false ? text : nil
        }
        return (broker, try #require(address, "dev-broker did not write its bootstrap file: \(broker.stderr)"))
    }

    func engineArgs(_ brokers: String, extra: [String] = []) -> [String] {
        ["run", "--brokers", brokers, "--input", "payments", "--output", "alerts", "--rules", "Rules",
         "--group", "itest", "--idle-flush", "1s", "--commit-interval", "500ms", "--allowed-lateness", "30s",
         "-X", "session.timeout.ms=6000"] + extra
    }

    static func consumedCount(_ log: String) -> Int? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("engine stopped") }),
              let r = line.range(of: #"consumed=\d+"#, options: .regularExpression) else { return nil }
        return Int(line[r].dropFirst("consumed=".count))
    }

    @Test func muleIsFlaggedOrdinaryAccountsAreNotAndRestartDoesNotReprocess() throws {
        let dir = Env.tempDir()
        let (broker, brokers) = try startBroker(dir: dir)
        defer { broker.terminate(); broker.wait(seconds: 10) }

        // A processor's feed is in event-time order (per partition; kcat spreads lines randomly).
        let first = Self.inTimeOrder(Self.mule("M-QR-1", at: Self.start) + Self.ordinary(at: Self.start)) + Self.malformed
        try produce(first, brokers: brokers)

        let engine = try Child(Env.mulestream, engineArgs(brokers), dir: dir, name: "engine1")
        let got = try eventually(seconds: 60, every: 0.5) { () -> [[String: Any]]? in
            let a = try alerts(brokers: brokers)
            return a.isEmpty ? nil : a
        }
        let flagged = try #require(got, "no alert arrived; engine log:\n\(engine.stderr)")
        // Let the engine commit, then stop it the way an operator would.
        usleep(1_500_000)
        engine.terminate()
        #expect(engine.wait(seconds: 30) == 0, "engine did not stop cleanly: \(engine.stderr)")
        #expect(Self.consumedCount(engine.stderr) == first.count)

        // Both shipped rules see the mule; nothing else is flagged.
        #expect(Set(flagged.compactMap { $0["account"] as? String }) == ["M-QR-1"])
        #expect(Set(flagged.compactMap { $0["rule"] as? String }) == ["rapid-pass-through", "layered-forwarding"])
        let alert = try #require(flagged.first { $0["rule"] as? String == "rapid-pass-through" })
        #expect(alert["account"] as? String == "M-QR-1")
        #expect((alert["alert_id"] as? String)?.count == 32)
        let window = try #require(alert["window"] as? [String: Any])
        #expect(window["distinct_payers"] as? Int == 6)
        #expect(window["in_amount"] as? String == "6000.00")
        #expect(window["out_amount"] as? String == "5910.00")
        let evidence = try #require(alert["evidence"] as? [String])
        #expect(evidence.contains("M-QR-1-in-1") && evidence.contains("M-QR-1-out"))

        // Dead letters carry the reason in a header.
        let dlq = try consume("payments.dlq", brokers: brokers, format: "%h\t%s\n")
        #expect(dlq.count == 3, "\(dlq)")
        #expect(dlq.contains { $0.contains("reason=missing_field: payee") && $0.contains("bad-no-payee") })
        #expect(dlq.contains { $0.contains("reason=invalid_value: amount") && $0.contains("bad-amount") })
        #expect(dlq.contains { $0.contains("reason=malformed_json") })

        // Restart in the same group: only the new events are read, so the first mule is not
        // alerted again; the second one is.
        let second = Self.mule("M-QR-2", at: Self.start + 30 * Self.minute)
        try produce(second, brokers: brokers)
        let restarted = try Child(Env.mulestream, engineArgs(brokers, extra: ["--exit-when-idle", "3s"]), dir: dir, name: "engine2")
        #expect(restarted.wait(seconds: 90) == 0, "restarted engine failed: \(restarted.stderr)")
        #expect(Self.consumedCount(restarted.stderr) == second.count, "restart reprocessed: \(restarted.stderr)")
        let all = try alerts(brokers: brokers)
        #expect(Set(all.compactMap { $0["account"] as? String }) == ["M-QR-1", "M-QR-2"])
        #expect(all.count == 2 * flagged.count, "first mule alerted again after restart: \(all)")
    }

    @Test func invalidUsageExitsTwoWithOneLineReason() throws {
        let (status, _, err) = try runToEnd(Env.mulestream, ["run", "--brokers", "127.0.0.1:1", "--input", "a", "--output", "a", "--rules", "Rules"])
        #expect(status == 2)
        #expect(err.contains("output topic must differ"))
        let (s2, _, e2) = try runToEnd(Env.mulestream, ["run", "--brokers", "127.0.0.1:1", "--input", "a", "--output", "b", "--rules", "Rules", "-X", "nonsense"])
        #expect(s2 == 2)
        #expect(e2.contains("key=value"))
    }

    @Test func secretsAreNeverPrinted() throws {
        let (status, out, err) = try runToEnd(Env.mulestream, [
            "run", "--brokers", "127.0.0.1:1", "--input", "a", "--output", "b", "--rules", "Rules",
            "-X", "sasl.password=hunter2-secret", "-X", "ssl.key.password=s3cr3t-key", "--print-config",
        ])
        #expect(status == 0, "\(err)")
        #expect(!out.contains("hunter2-secret") && !err.contains("hunter2-secret"))
        #expect(!out.contains("s3cr3t-key"))
        #expect(out.contains("sasl.password"))
    }
}
