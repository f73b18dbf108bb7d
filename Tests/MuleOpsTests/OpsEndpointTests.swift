import Foundation
import Logging
import MuleCore
import MuleEngine
import MuleKafka
import MuleOps
import MuleRules
import MuleTesting
import Prometheus
import Testing

/// The operations endpoint in-process: the engine against librdkafka's mock cluster, its monitor
/// feeding a Prometheus registry, and the HTTP server on an ephemeral loopback port, probed with
/// plain HTTP/1.1 requests.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct OpsEndpointTests {
    static let t0: Int64 = 1_764_000_000_000
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func event(_ id: String, _ ts: Int64, _ payer: String, _ payee: String, _ amount: String, channel: String = "qr") -> [UInt8] {
        Array(#"{"id":"\#(id)","ts":\#(ts),"payer":"\#(payer)","payee":"\#(payee)","amount":"\#(amount)","channel":"\#(channel)","payee_kind":"personal"}"#.utf8)
    }

    /// A personal QR account paid by six strangers that passes 98.5 % on two minutes later.
    static func mule(_ name: String, from t: Int64) -> [[UInt8]] {
        var v: [[UInt8]] = (1...6).map { event("\(name)-in-\($0)", t + Int64($0) * 1000, "\(name)-v\($0)", name, "1000.00") }
        v.append(event("\(name)-out", t + 120_000, name, "\(name)-next", "5910.00", channel: "p2p"))
        return v
    }

    struct Cluster {
        let cluster: MockCluster

        init(inputPartitions: Int32 = 1) throws {
            cluster = try MockCluster()
            for (topic, partitions) in [("in", inputPartitions), ("out", 1), ("in.dlq", 1), ("out.shadow", 1)] {
                try cluster.createTopic(topic, partitions: partitions)
            }
        }

        func produce(_ values: [[UInt8]]) throws {
            let producer = try KafkaProducer(config: KafkaConfig([("bootstrap.servers", cluster.bootstrapServers)]))
            for v in values { try producer.send(topic: "in", partition: 0, key: nil, value: v) }
            try producer.flush(timeoutMillis: 10_000)
        }

        func engineConfig(group: String) -> EngineConfig {
            var kc = KafkaConfig([("bootstrap.servers", cluster.bootstrapServers), ("group.id", group),
                                  ("auto.offset.reset", "earliest"), ("session.timeout.ms", "6000")])
            kc.logHandler = KafkaLogRecord.discard
            var c = EngineConfig(kafka: kc, inputTopic: "in", outputTopic: "out")
            c.detector.allowedLatenessMillis = 10_000
            c.idleFlushMillis = 300
            c.progressIntervalMillis = 0
            c.commitIntervalMillis = 200
            c.statusIntervalMillis = 100
            return c
        }
    }

    static func logger() -> Logger {
        var logger = Logger(label: "ops-test")
        logger.logLevel = .warning
        return logger
    }

    /// Runs the engine on its own thread (it blocks), off Swift's cooperative pool.
    static func runEngine(_ config: EngineConfig, monitor: EngineMonitor, snoozes: [Snooze] = [], shadowTrial: Bool = false,
                          stop: StopSignal = StopSignal()) async throws -> EngineCounters {
        var rules = try RuleLoader.load(path: repoRoot.appendingPathComponent("Rules").path).map(\.rule)
        if shadowTrial, var trial = rules.first(where: { $0.id == "rapid-pass-through" }) {
            // A new version on trial next to the live one: its alerts go to the shadow topic.
            trial.version = "trial"
            trial.mode = .shadow
            rules.append(trial)
        }
        let ruleSet = rules
        return try await withCheckedThrowingContinuation { done in
            Thread {
                do {
                    let engine = try StreamEngine(config: config, rules: ruleSet, snoozes: snoozes, logger: logger())
                    engine.monitor = monitor
                    done.resume(returning: try engine.run(stop: stop))
                } catch {
                    done.resume(throwing: error)
                }
            }.start()
        }
    }

    /// `name{labels} value` lines of a Prometheus text exposition, keyed by everything before the value.
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    @Test func metricsCountAKnownStreamExactly() async throws {
        let c = try Cluster()
        var events = Self.mule("M", from: Self.t0)
        events += Array(events.prefix(2))  // a producer retry repeats two transfers
        events += [Array("{}".utf8), Array(#"{"id":"x""#.utf8),
                   Self.event("bad-amount", Self.t0, "X-1", "X-2", "-3")]
        events.append(Self.event("too-late", Self.t0, "L-1", "L-2", "5.00"))
        try c.produce(events)

        let registry = PrometheusCollectorRegistry()
        let monitor = EngineMonitor(metrics: OpsServer.metricsFactory(registry))
        let server = try await OpsServer.start(at: OpsAddress(host: "127.0.0.1", port: 0), monitor: monitor,
                                               registry: registry, logger: Self.logger())
        #expect(server.address.port > 0)
        var config = c.engineConfig(group: "metrics")
        config.exitWhenIdleMillis = 1000
        // An analyst decided M's forwarding is fine: that rule's hit is snoozed, not published.
        let snooze = Snooze(account: "M", ruleId: "layered-forwarding", untilMillis: Self.t0 + 86_400_000, reason: "ticket RISK-1")
        let counters = try await Self.runEngine(config, monitor: monitor, snoozes: [snooze], shadowTrial: true)
        #expect(counters.consumed == 13)

        let scraped = HTTPProbe.get(port: server.address.port, path: "/metrics")
        #expect(scraped.status == 200)
        let m = Self.samples(try #require(scraped.body))
        let expected: [String: Double] = [
            "mulestream_events_consumed_total": 13,
            "mulestream_events_applied_total": 7,
            "mulestream_dead_lettered_total": 4,
            #"mulestream_decode_failures_total{reason="missing_field"}"#: 1,
            #"mulestream_decode_failures_total{reason="malformed_json"}"#: 1,
            #"mulestream_decode_failures_total{reason="invalid_value"}"#: 1,
            #"mulestream_late_events_total{action="dropped"}"#: 1,
            "mulestream_duplicate_events_total": 2,
            #"mulestream_alerts_total{rule="rapid-pass-through",mode="enforce",outcome="published"}"#: 1,
            #"mulestream_alerts_total{rule="layered-forwarding",mode="enforce",outcome="snoozed"}"#: 1,
            #"mulestream_alerts_total{rule="rapid-pass-through",mode="shadow",outcome="published"}"#: 1,
            "mulestream_delivery_failures_total": 0,
            #"mulestream_rule_reloads_total{result="refused"}"#: 0,
            "mulestream_ready": 0,
        ]
        for (name, value) in expected {
            let got: Double? = m[name]
            #expect(got == value, "\(name): \(got.map { "\($0)" } ?? "absent")")
        }
        #expect(m.keys.filter { $0.hasPrefix("mulestream_alerts_total") }.count == 3, "\(m.keys.sorted())")
        #expect(m["mulestream_accounts_tracked"] ?? 0 > 0)
        #expect(m[#"mulestream_state_bytes{part="accounts"}"#] ?? 0 > 0)
        #expect((m["mulestream_batch_duration_seconds_count"] ?? 0) >= 1)
        #expect(m[#"mulestream_consumer_lag{partition="0"}"#] == nil, "a stopped engine owns no partitions")
        #expect(m["mulestream_checkpoint_age_seconds"] == nil, "no checkpoint written yet")

        // The live view's JSON: the planted mule's published alert, with its id.
        let status = HTTPProbe.get(port: server.address.port, path: "/api/status")
        let json = try #require(try JSONSerialization.jsonObject(with: Data((status.body ?? "").utf8)) as? [String: Any])
        #expect(json["events_consumed"] as? Int == 13)
        let alerts = try #require(json["recent_alerts"] as? [[String: Any]])
        func has(_ rule: String, snoozed: Bool) -> Bool {
            alerts.contains { a in
                let id = a["alert_id"] as? String ?? ""
                return a["account"] as? String == "M" && a["rule"] as? String == rule && id.count == 32
                    && a["snoozed"] as? Bool == snoozed
            }
        }
        #expect(has("rapid-pass-through", snoozed: false), "\(alerts)")
        #expect(has("layered-forwarding", snoozed: true), "\(alerts)")
        await server.shutdown()
    }

    @Test func readinessFollowsAssignmentAndShutdown() async throws {
        let c = try Cluster(inputPartitions: 2)
        try c.produce(Self.mule("R", from: Self.t0))
        let registry = PrometheusCollectorRegistry()
        let monitor = EngineMonitor(metrics: OpsServer.metricsFactory(registry))
        let server = try await OpsServer.start(at: OpsAddress(host: "127.0.0.1", port: 0), monitor: monitor,
                                               registry: registry, logger: Self.logger())
        let port = server.address.port
        // Before the engine runs: alive, not ready.
        #expect(HTTPProbe.get(port: port, path: "/healthz") == .response(status: 200, body: "ok\n"))
        let before = HTTPProbe.get(port: port, path: "/readyz")
        #expect(before.status == 503)
        #expect(before.body == "not ready: starting\n")

        let stop = StopSignal()
        async let counters = Self.runEngine(c.engineConfig(group: "ready"), monitor: monitor, stop: stop)
        // Not ready until the group assigns the partitions (the first join takes seconds).
        var seen: [String] = []
        let deadline = ContinuousClock.now + .seconds(45)
        while ContinuousClock.now < deadline {
            let r = HTTPProbe.get(port: port, path: "/readyz")
            if let body = r.body, seen.last != body { seen.append(body) }
            if r.status == 200 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(seen.last == "ready: consuming partitions 0,1\n", "\(seen)")
        #expect(seen.contains("not ready: waiting for the consumer group to assign partitions\n"), "\(seen)")
        #expect(HTTPProbe.get(port: port, path: "/healthz").status == 200)
        // Let it consume the stream (seen through the status snapshots) before stopping it.
        let consumeBy = ContinuousClock.now + .seconds(30)
        while monitor.status.counters.consumed < 7, ContinuousClock.now < consumeBy {
            try await Task.sleep(for: .milliseconds(50))
        }

        stop.stop()
        let final = try await counters
        #expect(final.consumed == 7)
        // The engine has stopped and committed; the endpoint still answers until it is shut down.
        #expect(HTTPProbe.get(port: port, path: "/readyz") == .response(status: 503, body: "not ready: stopped\n"))
        #expect(monitor.phase == .stopped)
        await server.shutdown()
        #expect(HTTPProbe.get(port: port, path: "/healthz") == .refused)
    }

    @Test func liveViewIsOneSelfContainedPage() async throws {
        let registry = PrometheusCollectorRegistry()
        let server = try await OpsServer.start(at: OpsAddress(host: "127.0.0.1", port: 0), monitor: EngineMonitor(metrics: OpsServer.metricsFactory(registry)),
                                               registry: registry, logger: Self.logger())
        let page = HTTPProbe.get(port: server.address.port, path: "/")
        await server.shutdown()
        let html = try #require(page.body)
        #expect(page.status == 200)
        #expect(html.contains("fetch(\"/api/status\""))
        // Nothing from elsewhere: no external scripts, styles, images or fonts.
        for needle in ["src=", "href=", "@import", "url(", "http://", "https://"] {
            #expect(!html.contains(needle), "the live view references \(needle)")
        }
        // Values from the stream are set as text, never parsed as markup.
        #expect(!html.contains("innerHTML"))
    }

    @Test func addressesParse() {
        func parsed(_ text: String) -> String? { try? OpsAddress.parse(text).get().description }
        #expect(parsed("9464") == "127.0.0.1:9464")
        #expect(parsed(":0") == "127.0.0.1:0")
        #expect(parsed("0.0.0.0:9464") == "0.0.0.0:9464")
        #expect(parsed("localhost:80") == "localhost:80")
        #expect(parsed("[::1]:9464") == "[::1]:9464")
        #expect(parsed("::1:9464") == nil)
        #expect(parsed("host:") == nil)
        #expect(parsed("host:65536") == nil)
        #expect(parsed("host:http") == nil)
        if case .failure(let e) = OpsAddress.parse("[::1]9464") { #expect(e.description.contains("expected `:PORT` after `]`")) }
        else { Issue.record("[::1]9464 parsed") }
    }

    @Test func aBusyPortIsAnError() async throws {
        let registry = PrometheusCollectorRegistry()
        let monitor = EngineMonitor(metrics: OpsServer.metricsFactory(registry))
        let first = try await OpsServer.start(at: OpsAddress(host: "127.0.0.1", port: 0), monitor: monitor, registry: registry,
                                              logger: Self.logger())
        await #expect(throws: (any Error).self) {
            _ = try await OpsServer.start(at: first.address, monitor: monitor, registry: registry, logger: Self.logger())
        }
        await first.shutdown()
    }
}
