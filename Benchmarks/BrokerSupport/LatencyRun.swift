import BenchSupport
import Foundation
import MuleCore
import MuleEngine
import MuleKafka
import Synchronization

/// A paced run through the broker: a producer sends a simulated stream at a fixed rate (with an
/// optional burst), the engine runs in this process exactly as `mulestream run` does, and a
/// reader of the alert topic notes when each alert arrives. Latency is alert received minus the
/// time the triggering event was *scheduled* to be produced (not when the producer got round to
/// it), so a producer that falls behind does not hide the delay (no coordinated omission).
///
/// Event time: by default events keep the simulator's event times (days of simulated traffic
/// pass in seconds of wall time, so windows hold what they would hold live, and the reorder
/// lateness counts in simulated time). With `stampWallTime` event `i` carries `ts` = wall time
/// at the start + its scheduled offset, as a live feed does — then a lateness in milliseconds
/// is a wait in wall milliseconds, but the simulated days are squeezed into seconds, so every
/// account's whole history is inside the rules' 2 h windows: a far heavier workload for the
/// core (about 14k events/s on the 2-core box), usable at low rates only.
public struct LatencyPlan: Sendable {
    /// Input events per second.
    public var rate: Int
    /// Length of the measured part, after the warm-up.
    public var measuredSeconds: Double
    /// Traffic before the measured part (the engine's group join takes ~3 s), at a low rate so
    /// that the backlog of the join is small and the engine has caught up when measuring starts.
    public var warmUpSeconds: Double = 5
    public var warmUpRate: Int { min(rate, 2_000) }
    /// Events scheduled all at one instant in the middle of the measured part (0 = none).
    public var burst = 0
    public var stampWallTime = false
    public var settings = PipelineSettings.lowLatency
    public var accounts = 100_000
    public var seed: UInt64 = 42
    /// The paced producer's shortest sleep between sends (see `measureLatency`).
    public var minimumSleepNanos: Int64 = 200_000

    public init(rate: Int, measuredSeconds: Double) {
        self.rate = rate
        self.measuredSeconds = measuredSeconds
    }

    /// Traffic after the measured part, so every measured event is followed by steady input
    /// (otherwise the last events wait for the idle flush): 1 s plus twice the lateness.
    var tailSeconds: Double { 1 + 2 * Double(allowedLatenessMillis) / 1000 }

    /// The engine's reorder lateness in this plan (its default unless set).
    public var allowedLatenessMillis: Int64 { settings.allowedLatenessMillis ?? DetectorConfig().allowedLatenessMillis }

    public var warmUpEvents: Int { Int(Double(warmUpRate) * warmUpSeconds) }
    var measuredEvents: Int { Int(Double(rate) * measuredSeconds) }
    var burstStart: Int { warmUpEvents + measuredEvents / 2 }
    public var totalEvents: Int { warmUpEvents + measuredEvents + burst + Int(Double(rate) * tailSeconds) }

    /// Scheduled offset of event `i` from the start, in nanoseconds: one every 1/warmUpRate
    /// seconds during the warm-up, then one every 1/rate seconds, except that the burst's events
    /// are all due when the burst starts.
    func scheduledNanos(_ i: Int) -> Int64 {
        if i < warmUpEvents { return Int64(i) * 1_000_000_000 / Int64(warmUpRate) }
        let base = Int64(warmUpEvents) * 1_000_000_000 / Int64(warmUpRate)
        let slot = i < burstStart ? i : (i < burstStart + burst ? burstStart : i - burst)
        return base + Int64(slot - warmUpEvents) * 1_000_000_000 / Int64(rate)
    }

    /// Whether event `i` is in the measured part (the burst belongs to it).
    func isMeasured(_ i: Int) -> Bool { i >= warmUpEvents && i < warmUpEvents + measuredEvents + burst }
}

/// What a paced run measured.
public struct LatencyResult: Sendable {
    /// Produced → alert received, microseconds, one per alert whose trigger is in the measured part.
    public var latenciesMicros: [UInt64] = []
    /// The same for the burst's triggers only.
    public var burstLatenciesMicros: [UInt64] = []
    /// The first part of each measured latency: trigger scheduled → alert produced by the engine
    /// (the alert message's create time, which librdkafka stamps in whole milliseconds when the
    /// engine hands it over), and the second: alert produced → alert received.
    public var toProducedMicros: [UInt64] = []
    public var producedToReceivedMicros: [UInt64] = []
    public var produced = 0
    public var alertsReceived = 0
    /// Alerts whose triggering event could not be found (should be 0).
    public var unmatchedAlerts = 0
    /// How far behind schedule the producer was at worst (its own lag, included in the latencies).
    public var maxProducerLagMicros: Int64 = 0
    public var engine = EngineCounters()
    /// The engine thread over the whole run (group join included): on a CPU, and runnable but
    /// waiting for one (the rest it slept, waiting for input).
    public var engineSchedule = ThreadSchedule(onCPU: 0, runnable: 0)
}

/// One alert as read back: its account, the event time of its trigger, when it arrived.
struct ReceivedAlert: Sendable {
    var account: [UInt8]
    var eventTs: Int64
    var at: ContinuousClock.Instant
    /// Wall-clock milliseconds: the alert message's create time, and when it was received.
    var createdMillis: Int64?
    var receivedMillis: Int64
}

extension BrokerRig {
    /// Runs `plan` over `stream` (which must hold `plan.totalEvents` events): see `LatencyPlan`.
    public func measureLatency(_ plan: LatencyPlan, stream: SimulatedStream, rules: [Rule]) throws -> LatencyResult {
        let total = plan.totalEvents
        guard stream.count >= total else { throw BenchFailure("stream has \(stream.count) events, the plan needs \(total)") }
        let settings = plan.settings
        let stop = StopSignal()

        // The engine, in its own thread, exactly as `mulestream run` runs it.
        let engineDone = DispatchSemaphore(value: 0)
        let engineResult = Locked<Result<EngineCounters, BenchFailure>?>(nil)
        let engineSchedule = Locked(ThreadSchedule(onCPU: 0, runnable: 0))
        let config = engineConfig(group: "latency", settings: settings)
        let engineThread = Thread {
            let r: Result<EngineCounters, BenchFailure>
            do {
                let engine = try StreamEngine(config: config, rules: rules, logger: quietLogger())
                let start = ThreadSchedule.now()
                r = .success(try engine.run(stop: stop))
                let used = ThreadSchedule.now() - start
                engineSchedule.withLock { $0 = used }
            } catch {
                r = .failure(BenchFailure("engine: \(error)"))
            }
            engineResult.withLock { $0 = r }
            engineDone.signal()
        }
        engineThread.name = "engine"
        engineThread.start()

        // The alert reader, in its own thread: manual assignment (no group join to wait for).
        let readerDone = DispatchSemaphore(value: 0)
        let readerStop = StopSignal()
        let received = Locked<[ReceivedAlert]>([])
        let readerError = Locked<String?>(nil)
        let readerConfig = {
            var kc = kafkaConfig()
            kc.set("group.id", "latency-reader")
            if let v = settings.fetchWaitMaxMillis { kc.set("fetch.wait.max.ms", String(v)) }
            return kc
        }()
        let assignment = (0..<outputPartitions).map { TopicPartitionOffset(topic: output, partition: $0, offset: TopicPartitionOffset.beginning) }
        let readerThread = Thread {
            do {
                let consumer = try KafkaConsumer(config: readerConfig, assignment: assignment)
                defer { consumer.close() }
                var local: [ReceivedAlert] = []
                while !readerStop.isStopped {
                    _ = try consumer.poll(max: 1000, timeoutMillis: 20) { m in
                        let at = ContinuousClock.now
                        if let a = AlertFields(m.value) {
                            local.append(ReceivedAlert(account: a.account, eventTs: a.eventTs, at: at,
                                                       createdMillis: m.timestampMillis, receivedMillis: wallClockMillis()))
                        }
                    }
                }
                received.withLock { $0 = local }
            } catch {
                readerError.withLock { $0 = "alert reader: \(error)" }
            }
            readerDone.signal()
        }
        readerThread.name = "alert-reader"
        readerThread.start()

        // The paced producer, on this thread.
        let restamp = RestampedLines(stream, count: total)
        let wallStartMillis = wallClockMillis()
        func eventTs(_ i: Int) -> Int64 {
            plan.stampWallTime ? wallStartMillis + plan.scheduledNanos(i) / 1_000_000 : stream.transfers[i].timestamp
        }
        let producer = try KafkaProducer(config: kafkaConfig(lingerMillis: settings.inputLingerMillis))
        let start = ContinuousClock.now
        var result = LatencyResult()
        var next = 0
        var line: [UInt8] = []
        line.reserveCapacity(512)
        while next < total {
            let elapsed = nanos(ContinuousClock.now - start)
            let dueBefore = next
            while next < total && plan.scheduledNanos(next) <= elapsed {
                let partition = Int32(next % Int(partitions))
                if plan.stampWallTime {
                    restamp.line(next, ts: eventTs(next), into: &line)
                    try line.withUnsafeBytes { try producer.send(topic: input, partition: partition, key: nil, value: $0) }
                } else {
                    try stream.arena.withUnsafeBytes { raw in
                        let value = UnsafeRawBufferPointer(rebasing: raw[stream.lineStart[next]..<stream.lineEnd[next]])
                        try producer.send(topic: input, partition: partition, key: nil, value: value)
                    }
                }
                next += 1
            }
            if next > dueBefore {
                let lag = (elapsed - plan.scheduledNanos(dueBefore)) / 1000
                if plan.isMeasured(dueBefore) { result.maxProducerLagMicros = max(result.maxProducerLagMicros, lag) }
            }
            producer.poll(timeoutMillis: 0)
            if next < total {
                // Sleep until the next event is due, but at least `minimumSleepNanos`: at 100 k
                // events/s they are 10 µs apart, and waiting for each by spinning kept a whole
                // core busy — one of the two the engine and the broker share on the test box
                // (the feed's real producers run elsewhere). Each wake-up sends what fell due;
                // the latency still counts from each event's schedule.
                let wait = plan.scheduledNanos(next) - nanos(ContinuousClock.now - start)
                if wait > 0 { usleep(UInt32(min(max(wait, plan.minimumSleepNanos), 1_000_000_000) / 1000)) }
            }
        }
        try producer.flush(timeoutMillis: 30_000)
        result.produced = total
        // Alerts of the tail's last events may still be on their way; the measured ones are long in.
        Thread.sleep(forTimeInterval: 1 + Double((settings.fetchWaitMaxMillis ?? 500) + (settings.alertLingerMillis ?? 5)) / 1000)
        stop.stop()
        engineDone.wait()
        readerStop.stop()
        readerDone.wait()
        producer.close()
        if let e = readerError.withLock({ $0 }) { throw BenchFailure(e) }
        switch engineResult.withLock({ $0 })! {
        case .success(let c):
            result.engine = c
            result.engineSchedule = engineSchedule.withLock { $0 }
        case .failure(let e): throw e
        }

        // Each alert's trigger: the earliest event with the alert's event time that involves its account.
        let alerts = received.withLock { $0 }
        result.alertsReceived = alerts.count
        let tsOf = (0..<total).map(eventTs)
        precondition(zip(tsOf, tsOf.dropFirst()).allSatisfy { $0 <= $1 }, "event times must not decrease (simulator disorder is 0)")
        stream.arena.withUnsafeBytes { raw in
            for a in alerts {
                var lo = 0, hi = total
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if tsOf[mid] < a.eventTs { lo = mid + 1 } else { hi = mid }
                }
                var trigger: Int?
                var i = lo
                while i < total && tsOf[i] == a.eventTs {
                    let t = stream.transfers[i]
                    if a.account.elementsEqual(t.payer.bytes(in: raw)) || a.account.elementsEqual(t.payee.bytes(in: raw)) {
                        trigger = i
                        break
                    }
                    i += 1
                }
                guard let i = trigger else {
                    result.unmatchedAlerts += 1
                    continue
                }
                guard plan.isMeasured(i) else { continue }
                let latency = UInt64(max(0, nanos(a.at - start) - plan.scheduledNanos(i)) / 1000)
                result.latenciesMicros.append(latency)
                if let created = a.createdMillis {
                    let scheduledMillis = Double(wallStartMillis) + Double(plan.scheduledNanos(i)) / 1e6
                    result.toProducedMicros.append(UInt64(max(0, (Double(created) - scheduledMillis) * 1000)))
                    result.producedToReceivedMicros.append(UInt64(max(0, a.receivedMillis - created) * 1000))
                }
                if plan.burst > 0 && i >= plan.burstStart && i < plan.burstStart + plan.burst {
                    result.burstLatenciesMicros.append(latency)
                }
            }
        }
        return result
    }
}

/// A value shared with a thread.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

func nanos(_ d: Duration) -> Int64 {
    d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
}

extension LatencyPlan {
    /// The core alone (decoder and detector, no broker) over the stream exactly as the paced run
    /// stamps it: how fast the engine's thread could go on this input at best. A decode-only
    /// pass over the same lines comes first, so the detector's share is the difference; both
    /// are also timed on the thread's CPU clock (schedstat), which a loaded box does not inflate.
    ///
    /// `partitions` > 0 feeds the events as the engine reads them from the broker: event `i` in
    /// partition `i % partitions` (as the harness's producer sends them), read `batch` events of
    /// one partition at a time, round robin, each with its partition and offset, every partition
    /// holding the watermark from the start (as on assignment). 0 = one source in stream order.
    public func coreOnly(stream: SimulatedStream, rules: [Rule], partitions: Int = 0, batch: Int = 128) -> CoreOnlyRun {
        // Cutting out every line's `ts` is only needed to restamp it.
        let restamp = stampWallTime ? RestampedLines(stream, count: totalEvents) : nil
        var lines: [[UInt8]] = []
        lines.reserveCapacity(totalEvents)
        var line: [UInt8] = []
        for i in 0..<totalEvents {
            if let restamp {
                restamp.line(i, ts: Self.epochBase + scheduledNanos(i) / 1_000_000, into: &line)
                lines.append(line)
            } else {
                lines.append(Array(stream.arena[stream.lineStart[i]..<stream.lineEnd[i]]))
            }
        }
        let decoder = EventDecoder()
        var checksum: Int64 = 0
        // Reading order: (line, partition, offset) per event.
        var order: [(line: Int, position: SourcePosition)] = []
        order.reserveCapacity(totalEvents)
        if partitions > 0 {
            let step = max(1, batch)
            var next = [Int](repeating: 0, count: partitions)  // next offset per partition
            let perPartition = (0..<partitions).map { p in (totalEvents - p + partitions - 1) / partitions }
            while order.count < totalEvents {
                for p in 0..<partitions where next[p] < perPartition[p] {
                    for k in next[p]..<min(perPartition[p], next[p] + step) {
                        order.append((k * partitions + p, SourcePosition(partition: Int32(p), offset: Int64(k))))
                    }
                    next[p] = min(perPartition[p], next[p] + step)
                }
            }
        } else {
            for i in 0..<totalEvents { order.append((i, .none)) }
        }
        var run = CoreOnlyRun(events: totalEvents)
        var sched0 = ThreadSchedule.now()
        let decodeStart = ContinuousClock.now
        for l in lines {
            l.withUnsafeBytes { bytes in
                if let t = try? decoder.decode(bytes) { checksum &+= t.timestamp &+ t.amount.units }
            }
        }
        run.decodeSeconds = seconds(ContinuousClock.now - decodeStart)
        run.decodeCPU = ThreadSchedule.now() - sched0
        precondition(checksum != 0, "nothing decoded")
        var config = DetectorConfig()
        config.allowedLatenessMillis = allowedLatenessMillis
        var detector = Detector(rules: rules, config: config)
        if partitions > 0 { detector.holdWatermark(for: (0..<partitions).map { Int32($0) }) }
        sched0 = ThreadSchedule.now()
        let start = ContinuousClock.now
        for (i, position) in order {
            lines[i].withUnsafeBytes { bytes in
                if let t = try? decoder.decode(bytes) {
                    if case .late = detector.ingest(t, in: bytes, position: position) { run.late += 1 }
                }
            }
            run.alerts += detector.takeAlerts().count
        }
        detector.advanceWatermark(to: .max)
        run.alerts += detector.takeAlerts().count
        run.coreSeconds = seconds(ContinuousClock.now - start)
        run.coreCPU = ThreadSchedule.now() - sched0
        run.trackedAccounts = detector.trackedAccounts
        return run
    }

    static let epochBase: Int64 = 1_780_000_000_000
}

/// What `LatencyPlan.coreOnly` measured: wall time and the thread's scheduling of a decode-only
/// pass and of the decode + detector pass over the same lines. (schedstat's on-CPU time moves in
/// scheduler ticks: it means something for passes of a second or more, not for smoke runs.)
public struct CoreOnlyRun: Sendable {
    public var events: Int
    public var alerts = 0
    public var decodeSeconds = 0.0
    public var decodeCPU = ThreadSchedule(onCPU: 0, runnable: 0)
    public var coreSeconds = 0.0
    public var coreCPU = ThreadSchedule(onCPU: 0, runnable: 0)
    /// Accounts the detector still tracks at the end of the stream.
    public var trackedAccounts = 0
    /// Events dropped as late (only when read from several partitions).
    public var late = 0

    public init(events: Int) { self.events = events }

    public var eventsPerSecond: Double { Double(events) / coreSeconds }

    /// One line: events/s, then µs per event (wall, and on the thread's CPU) for decode + detector
    /// and for decode alone.
    public var summary: String {
        func us(_ s: Double) -> String { String(format: "%.2f", s * 1e6 / Double(max(1, events))) }
        return "\(Int(eventsPerSecond)) events/s, \(alerts) alerts; µs per event (wall / on CPU): decode + detector "
            + "\(us(coreSeconds)) / \(us(coreCPU.onCPU)), decode alone \(us(decodeSeconds)) / \(us(decodeCPU.onCPU)); "
            + "waiting for a CPU \(String(format: "%.2f", coreCPU.runnable + decodeCPU.runnable)) s; \(trackedAccounts) accounts tracked at the end, \(late) late"
    }
}

/// The stream's lines with their `ts` value cut out, to be written with a new event time.
struct RestampedLines {
    let arena: [UInt8]
    var lineStart: [Int] = []
    var tsStart: [Int] = []
    var tsEnd: [Int] = []
    var lineEnd: [Int] = []

    init(_ stream: SimulatedStream, count: Int) {
        arena = stream.arena
        let key = Array(#""ts":"#.utf8)
        for i in 0..<count {
            let s = stream.lineStart[i], e = stream.lineEnd[i]
            var p = s
            while p + key.count <= e && !arena[p..<(p + key.count)].elementsEqual(key) { p += 1 }
            precondition(p + key.count <= e, "simulator line without ts")
            let v = p + key.count
            var q = v
            if arena[q] == UInt8(ascii: "\"") {
                q += 1
                while arena[q] != UInt8(ascii: "\"") { q += 1 }
                q += 1
            } else {
                while q < e, arena[q] >= UInt8(ascii: "0"), arena[q] <= UInt8(ascii: "9") { q += 1 }
            }
            lineStart.append(s); tsStart.append(v); tsEnd.append(q); lineEnd.append(e)
        }
    }

    /// Line `i` with `ts` replaced by epoch milliseconds `ts`, written into `out`.
    func line(_ i: Int, ts: Int64, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: arena[lineStart[i]..<tsStart[i]])
        var digits: [UInt8] = []
        var v = ts
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        } while v > 0
        out.append(contentsOf: digits.reversed())
        out.append(contentsOf: arena[tsEnd[i]..<lineEnd[i]])
    }
}

/// The two fields of an alert the latency needs, found by a plain scan of its JSON (the encoder
/// writes `"account":"…"` and `"event_ts":N` once each).
struct AlertFields {
    var account: [UInt8]
    var eventTs: Int64

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard let a = Self.valueStart(of: #""account":""#, in: bytes),
              let t = Self.valueStart(of: #""event_ts":"#, in: bytes) else { return nil }
        var e = a
        while e < bytes.count && bytes[e] != UInt8(ascii: "\"") { e += 1 }
        account = Array(bytes[a..<e])
        var ts: Int64 = 0
        var i = t
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            ts = ts * 10 + Int64(bytes[i] - UInt8(ascii: "0"))
            i += 1
        }
        eventTs = ts
    }

    static func valueStart(of key: String, in bytes: UnsafeRawBufferPointer) -> Int? {
        let k = Array(key.utf8)
        guard bytes.count >= k.count else { return nil }
        for p in 0...(bytes.count - k.count) where bytes[p] == k[0] {
            if bytes[p..<(p + k.count)].elementsEqual(k) { return p + k.count }
        }
        return nil
    }
}
