import Foundation
import Testing

/// Delivery guarantees with separate processes only (`mulestream dev-broker`, `mulestream run`,
/// kcat): `kill -9` at random points with checkpoints, graceful stop, and a broker outage. The
/// reference is `mulestream backtest` over the same file (the same core, in event-time order).
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ReliabilityTests {
    /// A simulated stream with planted gangs, and the (account, rule) pairs backtest raises on it.
    static func stream(dir: URL, seed: Int, events: Int) throws -> (lines: [String], expected: Set<String>) {
        let events_ = dir.appendingPathComponent("events.ndjson").path
        let (s1, _, e1) = try runToEnd(Env.mulestream, ["simulate", "--seed", "\(seed)", "--accounts", "3000", "--events", "\(events)",
                                                         "--out", events_, "--labels", dir.appendingPathComponent("labels.csv").path])
        #expect(s1 == 0, "simulate failed: \(e1)")
        let alertsOut = dir.appendingPathComponent("expected.ndjson").path
        let (s2, _, e2) = try runToEnd(Env.mulestream, ["backtest", "--events", events_, "--rules", "Rules", "--alerts-out", alertsOut],
                                       timeout: 120)
        #expect(s2 == 0, "backtest failed: \(e2)")
        let expected = Set(try String(contentsOfFile: alertsOut, encoding: .utf8).split(separator: "\n").compactMap { pair(String($0)) })
        let lines = try String(contentsOfFile: events_, encoding: .utf8).split(separator: "\n").map(String.init)
        return (lines, expected)
    }

    static func pair(_ json: String) -> String? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let a = o["account"] as? String, let r = o["rule"] as? String else { return nil }
        return "\(a)|\(r)"
    }

    static func startBroker(dir: URL, partitions: Int) throws -> (Child, String) {
        try HotReloadEndToEndTests().startBroker(dir: dir, topics: ["payments:\(partitions)", "alerts:2", "payments.dlq:1", "alerts.shadow:1"])
    }

    static func produce(_ lines: ArraySlice<String>, brokers: String) throws {
        let (status, _, err) = try runToEnd(Env.kcat, ["-P", "-b", brokers, "-t", "payments"],
                                            stdin: Data((lines.joined(separator: "\n") + "\n").utf8), timeout: 120)
        #expect(status == 0, "kcat -P failed: \(err)")
    }

    /// Alert messages on the topic: the (account, rule) pair of each, and how many times each alert id came.
    static func published(brokers: String) throws -> (pairs: [String: Int], messages: Int, ids: Set<String>) {
        let (_, out, _) = try runToEnd(Env.kcat, ["-C", "-b", brokers, "-t", "alerts", "-o", "beginning", "-e", "-q"], timeout: 60)
        var pairs: [String: Int] = [:]
        var ids = Set<String>()
        var messages = 0
        for line in out.split(separator: "\n") {
            guard let p = pair(String(line)) else { continue }
            messages += 1
            pairs[p, default: 0] += 1
            if let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let id = o["alert_id"] as? String {
                ids.insert(id)
            }
        }
        return (pairs, messages, ids)
    }

    static func engineArgs(_ brokers: String, group: String, checkpoints: URL, extra: [String] = []) -> [String] {
        ["run", "--brokers", brokers, "--input", "payments", "--output", "alerts", "--rules", "Rules", "--group", group,
         "--checkpoint-dir", checkpoints.path, "--checkpoint-interval", "1s", "--commit-interval", "500ms",
         "--log-level", "info", "-X", "session.timeout.ms=6000"] + extra
    }

    static func logCount(_ log: String, _ key: String, line marker: String = "engine stopped") -> Int? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains(marker) }),
              let r = line.range(of: "\(key)=\\d+", options: .regularExpression) else { return nil }
        return Int(line[r].dropFirst(key.count + 1))
    }

    static func checkpointFiles(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("checkpoint-") }.sorted()
    }

    @Test func killNineAtRandomPointsMissesNoAlert() throws {
        let dir = Env.tempDir()
        let (lines, expected) = try Self.stream(dir: dir, seed: 17, events: 30_000)
        #expect(expected.count >= 10, "the stream should raise alerts: \(expected.count)")
        let (broker, brokers) = try Self.startBroker(dir: dir, partitions: 8)
        defer { broker.terminate(); broker.wait(seconds: 10) }
        let checkpoints = dir.appendingPathComponent("checkpoints")

        // The stream is produced while the engine is killed and restarted: 10 chunks, ~1 s apart.
        let producerDone = DoneFlag()
        Thread {
            let chunk = (lines.count + 9) / 10
            for start in stride(from: 0, to: lines.count, by: chunk) {
                try? Self.produce(lines[start..<min(lines.count, start + chunk)], brokers: brokers)
                Thread.sleep(forTimeInterval: 1)
            }
            producerDone.set()
        }.start()
        // Seeded kill points (SplitMix64): the same run every time, as far as scheduling allows.
        var seed: UInt64 = 0x5EED_0017
        func nextUnit() -> Double {
            seed &+= 0x9E37_79B9_7F4A_7C15
            var z = seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        let kills = 10
        var killedAfterProgress = 0
        for k in 0..<kills {
            // A new group each time: the killed member's session would otherwise hold its
            // partitions for session.timeout.ms. The checkpoint, not the group, says where to resume.
            let engine = try Child(Env.mulestream, Self.engineArgs(brokers, group: "kill-\(k)", checkpoints: checkpoints,
                                                                   extra: ["--idle-flush", "0s"]),
                                   dir: dir, name: "engine-\(k)")
            // Kill at a random point once the engine is consuming (assigned), 0.1–2.5 s later.
            let assigned = eventually(seconds: 30, every: 0.05) { engine.stderr.contains("partitions assigned") ? true : nil }
            #expect(assigned == true, "engine \(k) never got its partitions: \(engine.stderr)")
            usleep(UInt32((0.1 + 2.4 * nextUnit()) * 1_000_000))
            if engine.stderr.contains("checkpoint written") || engine.stderr.contains("restored checkpoint") { killedAfterProgress += 1 }
            kill(engine.process.processIdentifier, SIGKILL)
            engine.process.waitUntilExit()
            #expect(engine.process.terminationReason == .uncaughtSignal)
        }
        #expect(eventually(seconds: 120) { producerDone.isSet ? true : nil } == true, "the producer did not finish")
        // The last run goes to the end and stops when idle.
        let last = try Child(Env.mulestream, Self.engineArgs(brokers, group: "kill-final", checkpoints: checkpoints,
                                                             extra: ["--idle-flush", "1s", "--exit-when-idle", "3s"]),
                             dir: dir, name: "engine-final")
        #expect(last.wait(seconds: 120) == 0, "final run failed: \(last.stderr)")
        #expect(last.stderr.contains("restored checkpoint"), "the final run did not restore: \(last.stderr)")

        let got = try Self.published(brokers: brokers)
        let missing = expected.subtracting(got.pairs.keys)
        let unexpected = Set(got.pairs.keys).subtracting(expected)
        let duplicated = got.messages - got.ids.count
        print("kill test: kills=\(kills) (after progress: \(killedAfterProgress)) events=\(lines.count) "
              + "alert pairs expected=\(expected.count) seen=\(got.pairs.count) missing=\(missing.count) "
              + "unexpected=\(unexpected.count) alert messages=\(got.messages) duplicated=\(duplicated)")
        #expect(missing.isEmpty, "missing alerts: \(missing.sorted().prefix(20))")
        #expect(unexpected.isEmpty, "alerts the uninterrupted run does not raise: \(unexpected.sorted().prefix(20))")
        #expect(Self.checkpointFiles(checkpoints).count <= 3)
    }

    @Test func sigtermFlushesCommitsCheckpointsAndARestartReadsNothingTwice() throws {
        let dir = Env.tempDir()
        let (lines, expected) = try Self.stream(dir: dir, seed: 5, events: 16_000)
        let (broker, brokers) = try Self.startBroker(dir: dir, partitions: 4)
        defer { broker.terminate(); broker.wait(seconds: 10) }
        let checkpoints = dir.appendingPathComponent("checkpoints")
        try Self.produce(lines[...], brokers: brokers)
        let first = try Child(Env.mulestream, Self.engineArgs(brokers, group: "term", checkpoints: checkpoints),
                              dir: dir, name: "engine-1")
        let progressed = eventually(seconds: 60, every: 0.05) { first.stderr.contains("checkpoint written") ? true : nil }
        #expect(progressed == true, "no checkpoint: \(first.stderr)")
        first.terminate()  // SIGTERM
        #expect(first.wait(seconds: 60) == 0, "not a clean stop: \(first.stderr)")
        #expect(first.stderr.contains("reason=shutdown"), "no checkpoint on shutdown: \(first.stderr)")
        let consumedFirst = try #require(Self.logCount(first.stderr, "consumed"))
        let second = try Child(Env.mulestream, Self.engineArgs(brokers, group: "term", checkpoints: checkpoints,
                                                               extra: ["--exit-when-idle", "3s"]),
                               dir: dir, name: "engine-2")
        #expect(second.wait(seconds: 120) == 0, "second run failed: \(second.stderr)")
        #expect(second.stderr.contains("restored checkpoint"))
        let consumedSecond = try #require(Self.logCount(second.stderr, "consumed"))
        // A graceful stop checkpoints everything it read: the restart reads only the rest.
        #expect(consumedFirst + consumedSecond == lines.count, "\(consumedFirst) + \(consumedSecond) != \(lines.count)")
        let got = try Self.published(brokers: brokers)
        #expect(Set(got.pairs.keys) == expected)
        #expect(got.messages == got.ids.count, "a graceful restart repeated alerts")
    }

    @Test func aBrokerOutageMidStreamLosesNothing() throws {
        let dir = Env.tempDir()
        let (lines, expected) = try Self.stream(dir: dir, seed: 9, events: 24_000)
        let (broker, brokers) = try Self.startBroker(dir: dir, partitions: 4)
        defer { broker.terminate(); broker.wait(seconds: 10) }
        let checkpoints = dir.appendingPathComponent("checkpoints")
        try Self.produce(lines[...], brokers: brokers)
        // A tiny producer queue: alerts raised during the outage fill it, and the engine must wait
        // for room (back-pressure) rather than drop or fail.
        let engine = try Child(Env.mulestream, Self.engineArgs(brokers, group: "outage", checkpoints: checkpoints,
                                                               extra: ["--exit-when-idle", "3s",
                                                                       "-X", "queue.buffering.max.messages=5"]),
                               dir: dir, name: "engine")
        let started = eventually(seconds: 60, every: 0.05) { engine.stderr.contains("checkpoint written") ? true : nil }
        #expect(started == true, "engine made no progress: \(engine.stderr)")
        kill(broker.process.processIdentifier, SIGUSR1)  // every broker down, mid-stream
        usleep(6_000_000)
        #expect(engine.process.isRunning, "the engine gave up during the outage: \(engine.stderr)")
        kill(broker.process.processIdentifier, SIGUSR2)  // back up
        #expect(engine.wait(seconds: 150) == 0, "engine did not finish cleanly: \(engine.stderr)")
        #expect(broker.stderr.contains("brokers down (outage)"))
        let deferred = engine.stderr.components(separatedBy: "commit deferred").count - 1
            + engine.stderr.components(separatedBy: "offset commit failed").count - 1
        let got = try Self.published(brokers: brokers)
        let missing = expected.subtracting(got.pairs.keys)
        print("outage test: events=\(lines.count) expected=\(expected.count) seen=\(got.pairs.count) missing=\(missing.count) "
              + "messages=\(got.messages) duplicated=\(got.messages - got.ids.count) commits deferred=\(deferred)")
        // The engine saw the outage (its connections were cut), mid-stream: nothing dead-lettered as late.
        #expect(engine.stderr.contains("Connection refused"), "the engine never noticed the outage")
        #expect(Self.logCount(engine.stderr, "late") == 0, "events declared late after the outage")
        #expect(missing.isEmpty, "missing after outage: \(missing.sorted().prefix(20))")
        #expect(Self.logCount(engine.stderr, "consumed") == lines.count)
    }
}

/// Set once by one thread, read by another.
final class DoneFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
