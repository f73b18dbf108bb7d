import Foundation
@testable import MuleCore
import MuleRules
import MuleSimulator
import MuleTesting
import Testing

/// The reorder buffer's per-partition FIFO lanes: whatever mix of in-order and out-of-order arrival, it
/// releases in (event time, id hash) order, exactly as sorting would; disordered input within the
/// lateness raises the alerts in-order input does; checkpoints (main's heap layout included) restore.
@Suite(.serialized) struct ReorderBufferTests {
    private static func pending(_ ts: Int64, _ idHash: UInt64, tag: UInt64 = 0, partition: Int32 = 0) -> PendingTransfer {
        PendingTransfer(ts: ts, idHash: idHash, amount: 1, txHandle: tag, offset: Int64(tag), partition: partition, payer: 0, payee: 1,
                        channel: .p2p, payerKind: .personal, payeeKind: .personal)
    }

    private static func key(_ p: PendingTransfer) -> [UInt64] { [UInt64(bitPattern: p.ts), p.idHash, p.txHandle] }

    /// Seeded random mixes: arrival from strictly in order to fully disordered (within a lateness),
    /// ties on event time, releases one at a time, up to a watermark (as `advanceWatermark` does)
    /// or all; lanes run across chunks and get more. Every release must be the least of what is waiting.
    @Test func releasesExactlyInSortedOrderUnderRandomArrivalMixes() {
        var grewRing = false
        for seed: UInt64 in 1...16 {
            var rng = SeededRandom(state: seed)
            let disorderPercent = [0, 1, 5, 20, 50, 100][Int(seed % 6)]
            let lateness = Int64([0, 3, 50, 2_000][Int(seed / 4 % 4)])
            let partitions = [0, 3, 45][Int(seed % 3)]
            var b = ReorderBuffer()
            // The model: what waits, kept sorted (binary insertion); a release takes its first.
            var waiting: [PendingTransfer] = []
            var clock: Int64 = 1_000_000
            var tag: UInt64 = 0
            var released = 0
            func push() {
                clock += Int64.random(in: 0..<3, using: &rng)  // many equal event times
                var ts = clock
                if Int.random(in: 0..<100, using: &rng) < disorderPercent { ts -= Int64.random(in: 0...lateness, using: &rng) }
                tag += 1
                // One partition, a few, or many interleaved (-1: a source without partitions).
                let partition = Int32(Int.random(in: -1..<partitions, using: &rng))
                let p = Self.pending(ts, UInt64.random(in: 0...UInt64.max, using: &rng), tag: tag, partition: partition)
                b.push(p)
                var lo = 0, hi = waiting.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if waiting[mid].precedes(p) { lo = mid + 1 } else { hi = mid }
                }
                waiting.insert(p, at: lo)
            }
            func release() {
                let expected = waiting.removeFirst()
                #expect(b.minTimestamp == expected.ts, "seed \(seed)")
                let p = b.popMin()
                #expect(Self.key(p) == Self.key(expected), "seed \(seed) release \(released)")
                released += 1
            }
            for step in 0..<5_000 {
                // Now and then a burst with no release (a stalled partition holds the watermark).
                if step % 2_000 == 1_000 { for _ in 0..<1_200 { push() } }
                let r = Int.random(in: 0..<100, using: &rng)
                if r < 65 || waiting.isEmpty {
                    push()
                } else if r < 90 {
                    release()
                } else if r < 99 {
                    // The watermark moves: everything before it goes, in order.
                    let watermark = clock - lateness
                    while let ts = b.minTimestamp, ts < watermark { release() }
                    #expect(waiting.first.map { $0.ts >= watermark } ?? true, "seed \(seed)")
                } else {
                    while !waiting.isEmpty { release() }
                }
                #expect(b.count == waiting.count, "seed \(seed)")
            }
            #expect(b.sorted().map(Self.key) == waiting.map(Self.key), "seed \(seed)")
            while !waiting.isEmpty { release() }
            #expect(b.count == 0 && b.minTimestamp == nil)
            if disorderPercent > 0 { #expect(b.heapPushes > 0, "seed \(seed)") }
            if b.chunkCount > 4 { grewRing = true }
        }
        #expect(grewRing, "some mix held more than the first four chunks")
    }

    /// A lane runs across chunks, which go back to the free list as it drains and are reused;
    /// order and contents survive.
    @Test func lanesRunAcrossChunksAndReuseThem() {
        var b = ReorderBuffer()
        for i in 0..<1_000 { b.push(Self.pending(Int64(i), 0, tag: UInt64(i))) }
        for i in 0..<900 { #expect(b.popMin().txHandle == UInt64(i)) }
        for i in 1_000..<4_000 { b.push(Self.pending(Int64(i), 0, tag: UInt64(i))) }
        #expect(b.chunkCount * ReorderBuffer.chunkSize >= 3_100)
        #expect(b.heap.isEmpty)
        for i in 900..<4_000 { #expect(b.popMin().txHandle == UInt64(i)) }
        #expect(b.count == 0)
        let chunks = b.chunkCount
        for round in 0..<4 {
            for i in 0..<3_000 { b.push(Self.pending(Int64(10_000 * round + i), 0, tag: UInt64(i))) }
            for i in 0..<3_000 { #expect(b.popMin().txHandle == UInt64(i)) }
        }
        #expect(b.chunkCount == chunks, "drained chunks are reused, not added")
    }

    /// A consumer hands over runs of one partition at a time, each behind what other partitions
    /// delivered: every partition is in order, so nothing takes the heap path, and the releases
    /// merge the partitions exactly as sorting would.
    @Test func interleavedPartitionRunsStayOffTheHeap() {
        var rng = SeededRandom(state: 7)
        var b = ReorderBuffer()
        var all: [PendingTransfer] = []
        var next = [Int64](repeating: 1_000_000, count: 45)
        var tag: UInt64 = 0
        for _ in 0..<400 {
            let p = Int.random(in: 0..<45, using: &rng)
            for _ in 0..<Int.random(in: 1...300, using: &rng) {
                next[p] += Int64.random(in: 1..<40, using: &rng)  // equal times would go by id hash
                tag += 1
                let t = Self.pending(next[p], UInt64.random(in: 0...UInt64.max, using: &rng), tag: tag, partition: Int32(p))
                b.push(t)
                all.append(t)
            }
        }
        #expect(b.heapPushes == 0)
        all.sort { $0.precedes($1) }
        #expect(b.sorted().map(Self.key) == all.map(Self.key))
        for expected in all {
            #expect(b.minTimestamp == expected.ts)
            #expect(Self.key(b.popMin()) == Self.key(expected))
        }
        #expect(b.count == 0 && b.minTimestamp == nil)
    }

    /// Equal event times are released by id hash whichever order they arrive in: a later arrival
    /// with the same time and a lower hash goes to the heap and still comes first.
    @Test func equalEventTimesGoByIdHash() {
        var b = ReorderBuffer()
        for h: UInt64 in [5, 9, 2, 7, 1, 9_000, 3] { b.push(Self.pending(100, h, tag: h)) }
        b.push(Self.pending(101, 0, tag: 0))
        #expect(!b.heap.isEmpty)
        var out: [UInt64] = []
        while b.count > 0 { out.append(b.popMin().idHash) }
        #expect(out == [1, 2, 3, 5, 7, 9, 9_000, 0])
    }

    // MARK: the detector on disordered streams

    static let rules: [Rule] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try! RuleLoader.load(path: root.appendingPathComponent("Rules").path).map(\.rule)
    }()

    static func stream(disorderMillis: Int64) -> [[UInt8]] {
        PaymentSimulator(config: SimulationConfig(
            seed: 11, accounts: 2500, events: 16_000, gangs: 4, minLayers: 1, maxLayers: 3,
            disorderMillis: disorderMillis)).map(\.line)
    }

    /// Replays `lines` through a detector with the shipped rules (5 s of lateness); returns the
    /// alerts and how many transfers went to its heap (arrived out of order). With
    /// `checkpointEvery`, the detector is checkpointed and replaced by its restored copy that often.
    static func replay(_ lines: [[UInt8]], checkpointEvery: Int = 0) throws -> (alerts: [Alert], heapPushes: Int) {
        var d = CoreDriver(rules: rules)
        let decoder = EventDecoder()
        var alerts: [Alert] = []
        for (i, line) in lines.enumerated() {
            line.withUnsafeBytes { b in
                guard let t = try? decoder.decode(b) else { return }
                _ = d.detector.ingest(t, in: b)
            }
            alerts += d.takeAlerts()
            if checkpointEvery > 0 && i % checkpointEvery == checkpointEvery - 1 {
                let before = d.detector.buffer.sorted().map(key)
                d.detector = try Detector(rules: rules, config: d.detector.config, restoring: d.detector.checkpointState())
                #expect(d.detector.buffer.sorted().map(key) == before)
                #expect(d.detector.buffer.heap.isEmpty, "a restore puts everything in the lanes (it was written sorted)")
            }
        }
        let heapPushes = d.detector.buffer.heapPushes
        return (alerts + d.finish(), heapPushes)
    }

    private static func key(_ a: Alert) -> String { "\(a.alertId) \(a.account) \(a.ruleId) \(a.window?.end ?? 0)" }

    @Test func disorderedReplaysRaiseTheAlertsOfTheInOrderReplay() throws {
        let inOrder = try Self.replay(Self.stream(disorderMillis: 0))
        #expect(inOrder.alerts.count > 10)
        // The simulator breaks event-time ties by creation order, the buffer by id hash: only
        // such ties go to the heap.
        #expect(inOrder.heapPushes <= 2, "in-order input (nearly) only uses the FIFO lanes")
        for disorder: Int64 in [300, 4_900] {
            let shuffled = try Self.replay(Self.stream(disorderMillis: disorder))
            #expect(shuffled.heapPushes > 8 * max(1, inOrder.heapPushes), "disorder \(disorder) took the heap path")
            #expect(shuffled.alerts.map(Self.key) == inOrder.alerts.map(Self.key), "disorder \(disorder)")
            #expect(shuffled.alerts == inOrder.alerts, "disorder \(disorder)")
        }
    }

    @Test func checkpointsMidStreamWithOutOfOrderTransfersWaitingRestore() throws {
        let lines = Self.stream(disorderMillis: 4_000)
        let whole = try Self.replay(lines)
        let restored = try Self.replay(lines, checkpointEvery: 2_999)
        #expect(restored.alerts.map(Self.key) == whole.alerts.map(Self.key))
    }

    // MARK: main's checkpoint layout

    private static func fixtureRule() -> Rule {
        Rule(id: "pass-through", version: "1", windowMillis: 10 * 60_000, cooldownMillis: 0, trigger: .debit,
             conditions: .all([.metric(.distinctPayers, Bound(min: 5)), .metric(.passThrough, Bound(min: 0.9))]))
    }

    private static func fixtureConfig() -> DetectorConfig {
        var config = DetectorConfig()
        config.allowedLatenessMillis = 5_000
        config.transferIdLogBytes = 1 << 12
        config.maxDedupEntries = 1024
        return config
    }

    /// `MainReorderCheckpointFixture.swift`: main wrote its 11 waiting transfers in heap order;
    /// restored, they are released in event-time order and raise what an uninterrupted run does.
    @Test func checkpointFromMainWithBufferedTransfersRestores() throws {
        func feed(_ driver: inout CoreDriver, _ events: [(String, Int64, String, String, String)]) {
            for (id, ts, payer, payee, amount) in events { driver.send(id: id, ts: ts, payer: payer, payee: payee, amount: amount) }
        }
        let rule = Self.fixtureRule(), config = Self.fixtureConfig()
        var whole = CoreDriver(rules: [rule], config: config)
        feed(&whole, reorderFixturePartA)
        #expect(whole.takeAlerts().isEmpty)
        let waiting = whole.detector.buffer.sorted().map { [$0.ts, Int64(bitPattern: $0.idHash), $0.amount] }
        feed(&whole, reorderFixturePartB)
        let expected = whole.finish()
        #expect(expected.map(\.account) == ["m", "m"], "the forward and the later debit of m")

        let old = try #require(Data(base64Encoded: mainReorderCheckpointBase64, options: .ignoreUnknownCharacters))
        var restored = CoreDriver(rules: [rule], config: config)
        restored.detector = try Detector(rules: [rule], config: config, restoring: Array(old))
        #expect(restored.detector.bufferedTransfers == 11)
        #expect(restored.detector.buffer.sorted().map { [$0.ts, Int64(bitPattern: $0.idHash), $0.amount] } == waiting)
        // What it writes restores again, and the copy agrees.
        let again = try Detector(rules: [rule], config: config, restoring: restored.detector.checkpointState())
        #expect(again.buffer.sorted().map { [$0.ts, Int64(bitPattern: $0.idHash), $0.amount] } == waiting)
        feed(&restored, reorderFixturePartB)
        #expect(restored.finish() == expected)
    }
}
