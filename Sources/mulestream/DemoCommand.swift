import ArgumentParser
import Foundation
import Logging
import MuleBacktest
import MuleCore
import MuleEngine
import MuleKafka
import MuleSimulator

extension MuleStream {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The embedded default: a generated stream with planted mule gangs, through an in-process Kafka broker and the engine.",
            discussion: """
            No broker to install: starts librdkafka's mock cluster in this process (real wire protocol on loopback), \
            creates the topics, produces a generated stream (a few thousand accounts, planted mules that take QR \
            payments from many payers and forward ~98–99 % within minutes, and ordinary traffic including hard \
            negatives), runs the same engine as `mulestream run` against it, reads the alert topic back, and prints \
            the alerts and a scorecard.

            Example (from the repository root, where ./Rules is):
              mulestream demo --seed 7 --show 10
            """
        )

        @Option(help: "Random seed of the generated stream.")
        var seed: UInt64 = 7

        @Option(help: ArgumentHelp("Rule file or folder (default: ./Rules, the shipped rule set).", valueName: "path"))
        var rules: String?

        @Option(help: "Alerts to list (all are counted).")
        var show: Int = 20

        @Option(help: "Engine log level (the demo's own output is on stdout).")
        var logLevel: String = "warning"

        func run() throws {
            let ruleSet: [Rule]
            if let rules {
                ruleSet = try loadRules(rules)
            } else if FileManager.default.fileExists(atPath: "Rules") {
                ruleSet = try loadRules("Rules")
            } else {
                throw CLIFailure.usage("no ./Rules folder here: run from the repository root or pass --rules PATH")
            }
            let logger = try makeLogger("mulestream.demo", level: logLevel)
            do {
                try DemoRun(seed: seed, rules: ruleSet, show: show, logger: logger).run()
            } catch let e as CLIFailure {
                throw e
            } catch {
                throw CLIFailure.runtime("demo failed: \(error)")
            }
        }
    }
}

/// The demo's steps, in order: broker, topics, stream, engine, alerts, scorecard.
struct DemoRun {
    var seed: UInt64
    var rules: [Rule]
    var show: Int
    var logger: Logger

    let input = "payments"
    let output = "alerts"
    let partitions: Int32 = 8

    func run() throws {
        let wall = Date()
        let cluster = try MockCluster(brokers: 1)
        try cluster.createTopic(input, partitions: partitions)
        try cluster.createTopic(output, partitions: 4)
        try cluster.createTopic(input + ".dlq", partitions: 1)
        say("MuleStream demo — in-process Kafka broker (librdkafka mock cluster) at \(cluster.bootstrapServers)")
        say("rules: \(rules.map(\.key).joined(separator: ", "))")

        // 1. The stream, produced through the broker.
        var sim = PaymentSimulator(config: .demo(seed: seed))
        let labels = Labels(simulator: sim.labels)
        var producerConfig = KafkaConfig()
        producerConfig.set("bootstrap.servers", cluster.bootstrapServers)
        producerConfig.set("linger.ms", "5")
        let producer = try KafkaProducer(config: producerConfig)
        var produced = 0
        var firstTs: Int64 = .max
        var lastTs: Int64 = .min
        while let e = sim.next() {
            // Spread evenly: with no key librdkafka's sticky partitioner can put most of a burst
            // into one partition, past the mock broker's per-partition retention.
            try producer.send(topic: input, partition: Int32(produced % Int(partitions)), key: nil, value: e.line, headers: [])
            produced += 1
            firstTs = min(firstTs, e.timestamp)
            lastTs = max(lastTs, e.timestamp)
            if produced % 5000 == 0 { producer.poll(timeoutMillis: 0) }
        }
        // A few events a real feed will contain sooner or later; each must end up dead-lettered.
        let broken = [
            #"{"id":"bad-1","ts":1764000000000,"payer":"A-1","amount":"10.00"}"#,
            #"{"id":"bad-2","ts":1764000000000,"payer":"A-1","payee":"A-1","amount":"10.00"}"#,
            #"{"id":"bad-3","ts":"yesterday","payer":"A-1","payee":"A-2","amount":"10.00"}"#,
            #"{"id":"bad-4","ts":1764000000000,"payer":"A-1","payee":"A-2","amount":"-5"}"#,
            #"not json at all"#,
        ]
        for (i, b) in broken.enumerated() { try producer.send(topic: input, partition: Int32(i) % partitions, key: nil, value: Array(b.utf8), headers: []) }
        produced += broken.count
        try producer.flush(timeoutMillis: 30_000)
        let marks = try KafkaAdmin.watermarks(config: producerConfig, topic: input, partitions: Array(0..<partitions), timeoutMillis: 10_000)
        let stored = marks.reduce(0) { $0 + Int($1.high - $1.low) }
        // The mock broker silently drops the oldest data beyond ~5 MiB per partition: make sure
        // the whole stream is there before claiming anything about it.
        guard stored == produced else {
            throw CLIFailure.runtime("the broker retained \(stored) of \(produced) events (mock retention limit); not running on a partial stream")
        }
        let hours = Double(lastTs - firstTs) / 3_600_000
        say("produced \(produced) events to `\(input)` (\(partitions) partitions): \(labels.listed) accounts, \(String(format: "%.1f", hours)) h of event time, \(broken.count) of them malformed on purpose")

        // 2. The engine, exactly as `mulestream run` runs it, until the input is drained.
        var kc = KafkaConfig()
        kc.set("bootstrap.servers", cluster.bootstrapServers)
        kc.set("group.id", "mulestream-demo")
        kc.set("auto.offset.reset", "earliest")
        var config = EngineConfig(kafka: kc, inputTopic: input, outputTopic: output)
        config.exitWhenIdleMillis = 1500
        config.idleFlushMillis = 500
        config.progressIntervalMillis = 0
        let engine = try StreamEngine(config: config, rules: rules, logger: logger)
        say("engine: consuming `\(input)` in group mulestream-demo …")
        let counters = try engine.run(stop: StopSignal())
        let active = engine.activeDuration
        let activeSeconds = Double(active.components.seconds) + Double(active.components.attoseconds) / 1e18
        let rate = activeSeconds > 0 ? Double(counters.consumed) / activeSeconds : 0

        // 3. The alerts, read back from the output topic.
        let alerts = try readAlerts(bootstrap: cluster.bootstrapServers, expected: Int(counters.alertsPublished + counters.shadowAlertsPublished))
        say("")
        say("alerts read back from `\(output)`: \(alerts.count)")
        say("  " + pad("account", 14) + pad("rule", 22) + pad("score", 7) + pad("action", 8) + pad("payers", 8) + pad("in", 12) + pad("out", 12) + pad("pass", 7) + "dwell")
        for a in alerts.prefix(show) {
            let w = a["window"] as? [String: Any] ?? [:]
            let dwell = (w["median_dwell_s"] as? Int).map { "\($0)s" } ?? "-"
            say("  " + pad(a["account"] as? String ?? "?", 14) + pad("\(a["rule"] ?? "?")@\(a["rule_version"] ?? "?")", 22)
                + pad("\(a["score"] ?? "")", 7) + pad(a["action"] as? String ?? "-", 8) + pad("\(w["distinct_payers"] ?? "")", 8)
                + pad(w["in_amount"] as? String ?? "", 12) + pad(w["out_amount"] as? String ?? "", 12) + pad("\(w["pass_through"] ?? "")", 7) + dwell)
        }
        if alerts.count > show { say("  … and \(alerts.count - show) more") }

        // 4. Scorecard against the planted truth.
        let flagged = Set(alerts.compactMap { $0["account"] as? String })
        say("")
        say("scorecard")
        var byRole: [String: (total: Int, found: Int)] = [:]
        for (account, role) in labels.roles where labels.mules.contains(account) {
            byRole[role, default: (0, 0)].total += 1
            if flagged.contains(account) { byRole[role, default: (0, 0)].found += 1 }
        }
        for (role, v) in byRole.sorted(by: { $0.key < $1.key }) {
            say("  planted \(pad(role + ":", 16)) \(v.found)/\(v.total) flagged")
        }
        let falseFlags = flagged.subtracting(labels.mules)
        say("  false flags:           \(falseFlags.count)" + (falseFlags.isEmpty ? "" : " (" + falseFlags.sorted().prefix(10).map { "\($0) [\(labels.roles[$0] ?? "?")]" }.joined(separator: ", ") + ")"))
        let score = Score(flagged: flagged, labels: labels)
        say("  precision \(f3(score.precision)), recall \(f3(score.recall)) over \(score.mules) labelled accounts of gangs")
        let reasons = counters.decodeFailures.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        say("  dead-lettered:         \(counters.deadLettered) (\(reasons)) → `\(input).dlq`")
        say("  engine:                \(counters.consumed) events in \(String(format: "%.2f", activeSeconds)) s through the broker = \(Int(rate)) events/s")
        say("  demo wall time:        \(String(format: "%.1f", Date().timeIntervalSince(wall))) s")
        withExtendedLifetime(cluster) {}
    }

    func readAlerts(bootstrap: String, expected: Int) throws -> [[String: Any]] {
        var kc = KafkaConfig()
        kc.set("bootstrap.servers", bootstrap)
        kc.set("group.id", "mulestream-demo-reader")
        kc.set("auto.offset.reset", "earliest")
        let consumer = try KafkaConsumer(config: kc, topics: [output])
        defer { consumer.close() }
        var out: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(30)
        while out.count < expected && Date() < deadline {
            _ = try consumer.poll(max: 1000, timeoutMillis: 200) { m in
                if let o = try? JSONSerialization.jsonObject(with: Data(m.value)) as? [String: Any] { out.append(o) }
            }
        }
        return out.sorted { ($0["event_ts"] as? Int ?? 0) < ($1["event_ts"] as? Int ?? 0) }
    }
}

extension Labels {
    init(simulator labels: [AccountLabel]) {
        var mules = Set<String>()
        var roles: [String: String] = [:]
        for l in labels {
            if l.isMule { mules.insert(l.account) }
            roles[l.account] = l.role
        }
        self.init(mules: mules, roles: roles, listed: labels.count)
    }
}
