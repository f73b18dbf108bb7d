import Foundation
import Testing

/// `run --app-id` as separate processes on `dev-broker`: one instance, three instances, one of
/// three killed with SIGKILL mid-stream, and two instances joined by a third mid-stream all
/// publish the same set of alerts (account, rule, chain). Each configuration has its own
/// application id (its own legs and state topics), consumer group and output topic, and reads
/// the same input topic from the beginning.
@Suite(.serialized, .timeLimit(.minutes(12)))
struct ScaleOutEndToEndTests {
    static let apps = ["one", "three", "killed", "grown"]
    static let legsPartitions = 6

    func startBroker(dir: URL) throws -> (Child, String) {
        var topics = ["payments:4", "payments.dlq:1"]
        for app in Self.apps {
            topics += ["alerts-\(app):2", "alerts-\(app).shadow:1", "\(app)-legs:\(Self.legsPartitions)", "\(app)-state:\(Self.legsPartitions)"]
        }
        return try HotReloadEndToEndTests().startBroker(dir: dir, topics: topics)
    }

    static func engineArgs(_ brokers: String, app: String, extra: [String] = []) -> [String] {
        ["run", "--brokers", brokers, "--input", "payments", "--output", "alerts-\(app)", "--rules", "Rules",
         "--group", app, "--app-id", app, "--legs-partitions", "\(legsPartitions)", "--link-delay", "10s",
         "--snapshot-interval", "1s", "--commit-interval", "500ms", "--idle-flush", "1s", "--exit-when-idle", "8s",
         "-X", "session.timeout.ms=6000"] + extra
    }

    /// The alerts on `alerts-<app>`: their (account, rule, chain) keys, messages and distinct ids.
    static func alerts(_ brokers: String, app: String) throws -> (keys: Set<String>, messages: Int, ids: Set<String>) {
        let (_, out, _) = try runToEnd(Env.kcat, ["-C", "-b", brokers, "-t", "alerts-\(app)", "-o", "beginning", "-e", "-q"], timeout: 60)
        var keys = Set<String>()
        var ids = Set<String>()
        var messages = 0
        for line in out.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let account = o["account"] as? String, let rule = o["rule"] as? String, let id = o["alert_id"] as? String else { continue }
            messages += 1
            ids.insert(id)
            keys.insert("\(account) \(rule) \((o["chain"] as? [String] ?? []).joined(separator: ">"))")
        }
        return (keys, messages, ids)
    }

    /// Starts `count` instances of `app`; `whenBusy` runs once the first of them has published an alert.
    static func runInstances(_ brokers: String, app: String, count: Int, dir: URL,
                             whenBusy: (([Child]) throws -> [Child])? = nil) throws -> [Child] {
        var children = try (0..<count).map { try Child(Env.mulestream, engineArgs(brokers, app: app), dir: dir, name: "\(app)-\($0)") }
        var killed: [ObjectIdentifier] = []
        if let whenBusy {
            let busy = eventually(seconds: 180, every: 0.05) { children.contains { $0.stderr.contains("[MuleEngine] alert\n") } ? true : nil }
            #expect(busy == true, "\(app): no instance published an alert: \(children.map(\.stderr).joined(separator: "\n---\n").suffix(3000))")
            let before = children
            children += try whenBusy(children)
            killed = before.filter { !$0.process.isRunning }.map { ObjectIdentifier($0) }
        }
        for c in children where !killed.contains(ObjectIdentifier(c)) {
            let status = c.wait(seconds: 300)
            #expect(status == 0, "\(app) instance failed or did not stop: \(c.stderr.suffix(3000))")
        }
        return children
    }

    @Test func oneThreeKilledAndGrownInstancesPublishTheSameAlerts() throws {
        let dir = Env.tempDir()
        let (broker, brokers) = try startBroker(dir: dir)
        defer { broker.terminate(); broker.wait(seconds: 10) }
        let events = dir.appendingPathComponent("events.ndjson")
        let (simStatus, _, simErr) = try runToEnd(Env.mulestream, [
            "simulate", "--seed", "5", "--accounts", "2500", "--events", "16000", "--duration", "2h",
            "--out", events.path, "--labels", dir.appendingPathComponent("labels.csv").path,
        ], timeout: 120)
        #expect(simStatus == 0, "simulate failed: \(simErr)")
        let (prodStatus, _, prodErr) = try runToEnd(Env.kcat, ["-P", "-l", "-b", brokers, "-t", "payments", events.path], timeout: 120)
        #expect(prodStatus == 0, "kcat -P failed: \(prodErr)")

        let clock = ContinuousClock()
        var took: [String: Duration] = [:]
        var started = clock.now
        _ = try Self.runInstances(brokers, app: "one", count: 1, dir: dir)
        took["one"] = clock.now - started
        let reference = try Self.alerts(brokers, app: "one")
        #expect(reference.keys.count >= 10, "the stream should raise alerts: \(reference.keys.sorted())")
        #expect(reference.keys.contains { $0.contains(" layered-chain ") }, "chains across partitions: \(reference.keys.sorted())")
        #expect(reference.keys.contains { $0.contains(" gang-sink ") }, "gang sinks across partitions: \(reference.keys.sorted())")

        started = clock.now
        let three = try Self.runInstances(brokers, app: "three", count: 3, dir: dir)
        took["three"] = clock.now - started
        #expect(three.filter { $0.stderr.contains("partitions assigned") }.count == 3, "all three instances took part")
        let threeAlerts = try Self.alerts(brokers, app: "three")
        #expect(threeAlerts.keys == reference.keys, "3 instances: only in 1: \(reference.keys.subtracting(threeAlerts.keys).sorted()), only in 3: \(threeAlerts.keys.subtracting(reference.keys).sorted())")

        // One of three killed once it is busy: its partitions move, their state comes back from
        // the state topic, and its input is read again from the committed offsets.
        started = clock.now
        let killed = try Self.runInstances(brokers, app: "killed", count: 3, dir: dir) { children in
            let victim = children[0]
            kill(victim.process.processIdentifier, SIGKILL)
            victim.process.waitUntilExit()
            return []
        }
        took["killed"] = clock.now - started
        #expect(killed[0].process.terminationReason == .uncaughtSignal)
        let restored = killed.dropFirst().contains { $0.stderr.contains("partition assigned") && $0.stderr.range(of: #"resume_offset=[1-9]"#, options: .regularExpression) != nil }
        #expect(restored, "a survivor resumed a partition from its snapshot")
        let killedAlerts = try Self.alerts(brokers, app: "killed")
        #expect(killedAlerts.keys == reference.keys, "kill: missing \(reference.keys.subtracting(killedAlerts.keys).sorted()), extra \(killedAlerts.keys.subtracting(reference.keys).sorted())")

        // Two instances, a third joins once they are busy.
        started = clock.now
        let grown = try Self.runInstances(brokers, app: "grown", count: 2, dir: dir) { _ in
            [try Child(Env.mulestream, Self.engineArgs(brokers, app: "grown"), dir: dir, name: "grown-2")]
        }
        took["grown"] = clock.now - started
        #expect(grown.count == 3 && grown[2].stderr.contains("partitions assigned"), "the third instance took part: \(grown.last?.stderr.suffix(2000) ?? "")")
        let grownAlerts = try Self.alerts(brokers, app: "grown")
        #expect(grownAlerts.keys == reference.keys, "2→3: missing \(reference.keys.subtracting(grownAlerts.keys).sorted()), extra \(grownAlerts.keys.subtracting(reference.keys).sorted())")

        print("scale-out end to end: alerts=\(reference.keys.count) messages one=\(reference.messages) three=\(threeAlerts.messages) "
              + "killed=\(killedAlerts.messages) (distinct ids \(killedAlerts.ids.count)) grown=\(grownAlerts.messages) "
              + "seconds: " + took.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.components.seconds)" }.joined(separator: " "))
    }
}
