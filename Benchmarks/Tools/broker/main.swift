// The engine through the broker (librdkafka's mock cluster, in this process).
//
//   broker throughput [events=1000000] [rounds=3] [--input-linger MS] [BROKER OPTIONS]
//       produces a simulated stream to the broker (linger.ms 5, or MS: the mock hands out one
//       producer batch per partition per fetch), then runs StreamEngine over it `rounds` times
//       (a new consumer group each) and prints the best events/s (first batch to last batch).
//   broker latency --rate 100000 [--seconds 10] [--burst 0] [--defaults] [BROKER OPTIONS]
//                  [--lateness MS] [--idle-flush MS] [--input-linger MS] [--alert-linger MS]
//                  [--fetch-wait MS] [--poll-batch N] [--warm-up S] [--accounts N] [--wall-time]
//                  [--reserve 0|1] [--partitions N]
//                  [--core-only [--core-partitions N] [--core-batch B]]
//       --wall-time: event time = scheduled wall time (see LatencyPlan); --core-only: the
//       decoder and detector alone over the same events, no broker (µs per event, wall and on
//       CPU, decode alone and decode + detector); with --core-partitions N the events are read
//       as the engine reads them from N partitions, B (128) of one partition at a time.
//   broker lateness [events=500000] [disorder-ms=2000]
//       core alone: what each allowed lateness loses on input that is up to disorder-ms out of order.
//       a paced producer, the engine and an alert reader; prints produced → alert percentiles
//       (HdrHistogram). Starts from the low-latency settings (`--defaults`: MuleStream's and
//       librdkafka's defaults); each flag overrides one.
//   broker state-restore [MiB=4] [rounds=5] [--bootstrap HOST:PORT]
//       write and restore one partition's state snapshot through PartitionStateStore (StateRestore.swift).
//   BROKER OPTIONS (throughput, latency):
//       --bootstrap HOST:PORT  an external broker instead of the in-process mock cluster (topics of
//                              this run are created there: `Benchmarks/tansu.sh run …` starts Tansu)
//       --partitions N         input partitions (default: enough for the mock's ~5 MiB retention, ≥ 8)
//       -X key=value           a librdkafka property for the engine's clients (repeatable; printed)
import BenchSupport
import BrokerSupport
import Foundation
import Histogram
import MuleCore

func peakRSSMiB() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss / 1024
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("broker: \(message)\n".utf8))
    exit(2)
}

/// `--bootstrap`, `--partitions` and `-X` taken out of a command's arguments.
struct BrokerChoice {
    var bootstrap: String?
    var partitions: Int32?
    var properties: [(String, String)] = []

    init(taking args: inout [String]) {
        var rest: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            guard ["--bootstrap", "--partitions", "-X"].contains(a) else { rest.append(a); i += 1; continue }
            guard i + 1 < args.count else { fail("\(a) needs a value") }
            let v = args[i + 1]
            switch a {
            case "--bootstrap": bootstrap = v
            case "--partitions":
                guard let n = Int32(v), n > 0 else { fail("--partitions takes a whole number > 0, not \(v)") }
                partitions = n
            default:
                guard let eq = v.firstIndex(of: "="), eq != v.startIndex else { fail("-X takes key=value, not \(v)") }
                properties.append((String(v[..<eq]), String(v[v.index(after: eq)...])))
            }
            i += 2
        }
        args = rest
    }

    /// The rig: the external broker, or the mock with `defaultPartitions` unless told otherwise.
    func rig(defaultPartitions: Int32) throws -> BrokerRig {
        let n = partitions ?? defaultPartitions
        if let bootstrap { return try BrokerRig(bootstrap: bootstrap, partitions: n) }
        return try BrokerRig(partitions: n)
    }
}

func throughput(_ arguments: [String]) throws {
    var args = arguments
    let choice = BrokerChoice(taking: &args)
    var settings = PipelineSettings.defaults
    settings.engineProperties = choice.properties
    if let i = args.firstIndex(of: "--input-linger") {
        guard i + 1 < args.count, let v = Double(args[i + 1]), v >= 0 else { fail("--input-linger takes a number of milliseconds ≥ 0") }
        settings.inputLingerMillis = v
        args.removeSubrange(i...(i + 1))
    }
    if let unknown = args.first(where: { Int($0) == nil }) { fail("unexpected argument \(unknown)") }
    let numbers = args.compactMap { Int($0) }
    let events = numbers.count > 0 ? numbers[0] : 1_000_000
    let rounds = numbers.count > 1 ? numbers[1] : 3
    let clock = ContinuousClock()
    let stream = SimulatedStream(accounts: max(200, events / 10), events: events)
    let rules = shippedRules()
    let rig = try choice.rig(defaultPartitions: BrokerRig.partitions(forBytes: stream.arena.count))
    print("broker: \(rig.brokerDescription); engine: \(settings)"
          + rig.harnessConsumerProperties.map { " (harness: -X \($0.0)=\($0.1))" }.joined())
    var t0 = clock.now
    try rig.produceAll(stream, settings: settings)
    let produceSeconds = seconds(clock.now - t0)
    print("produced \(stream.count) events to \(rig.partitions) partitions in \(String(format: "%.2f", produceSeconds)) s "
          + "(\(Int(Double(stream.count) / produceSeconds)) events/s, acknowledged)")
    var best: ThroughputRun?
    for r in 0..<rounds {
        t0 = clock.now
        let run = try rig.drainWithEngine(rules: rules, group: "throughput-\(r)", settings: settings)
        guard run.consumed == UInt64(stream.count) else { throw BenchFailure("engine consumed \(run.consumed) of \(stream.count)") }
        print("round \(r + 1): \(Int(run.eventsPerSecond)) events/s (\(run.consumed) events in \(String(format: "%.2f", run.activeSeconds)) s active, "
              + "\(String(format: "%.1f", seconds(clock.now - t0))) s with group join and idle exit; engine thread "
              + "on CPU \(String(format: "%.2f", run.engineCPUSeconds)) s, waiting for a CPU \(String(format: "%.2f", run.engineRunnableSeconds)) s), "
              + "\(run.alerts) alerts, \(run.deadLettered) dead-lettered (\(run.late) late)")
        if run.eventsPerSecond > best?.eventsPerSecond ?? 0 { best = run }
    }
    print("engine through broker: \(Int(best!.eventsPerSecond)) events/s (best of \(rounds)); peak RSS \(peakRSSMiB()) MiB (broker, stream and engine in one process)")
}

func latency(_ arguments: [String]) throws {
    var args = arguments
    let choice = BrokerChoice(taking: &args)
    var options: [String: String] = [:]
    var flags: Set<String> = []
    var i = 0
    while i < args.count {
        let a = args[i]
        guard a.hasPrefix("--") else { fail("unexpected argument \(a)") }
        if ["--defaults", "--core-only", "--wall-time"].contains(a) { flags.insert(a); i += 1; continue }
        guard i + 1 < args.count else { fail("\(a) needs a value") }
        options[a] = args[i + 1]
        i += 2
    }
    func int(_ name: String) -> Int? {
        guard let v = options.removeValue(forKey: name) else { return nil }
        guard let n = Int(v), n >= 0 else { fail("\(name) takes a whole number ≥ 0, not \(v)") }
        return n
    }
    guard let rate = int("--rate"), rate > 0 else { fail("latency needs --rate EVENTS_PER_S") }
    var plan = LatencyPlan(rate: rate, measuredSeconds: Double(int("--seconds") ?? 10))
    plan.settings = flags.contains("--defaults") ? .defaults : .lowLatency
    plan.burst = int("--burst") ?? 0
    plan.stampWallTime = flags.contains("--wall-time")
    if let v = int("--warm-up") { plan.warmUpSeconds = Double(v) }
    if let v = int("--lateness") { plan.settings.allowedLatenessMillis = Int64(v) }
    if let v = int("--idle-flush") { plan.settings.idleFlushMillis = Int64(v) }
    if let v = options.removeValue(forKey: "--input-linger") {
        guard let ms = Double(v), ms >= 0 else { fail("--input-linger takes a number of milliseconds ≥ 0, not \(v)") }
        plan.settings.inputLingerMillis = ms
    }
    if let v = int("--alert-linger") { plan.settings.alertLingerMillis = v }
    if let v = int("--fetch-wait") { plan.settings.fetchWaitMaxMillis = v }
    if let v = int("--poll-batch"), v > 0 { plan.settings.pollBatch = v }
    if let v = int("--accounts") { plan.accounts = max(200, v) }
    // As a deployment that knows its working set would: room for the simulated accounts (with
    // slack) and for every transfer id of the run (all within the 24 h dedup horizon: days of
    // simulated time pass in seconds). `--reserve 0` starts small and grows instead.
    if int("--reserve") ?? 1 != 0 {
        plan.settings.reserveAccounts = plan.accounts * 3 / 2
        plan.settings.reserveTransferIds = plan.totalEvents + plan.totalEvents / 4
    }
    let corePartitions = int("--core-partitions") ?? 0
    let coreBatch = max(1, int("--core-batch") ?? 128)
    plan.settings.engineProperties = choice.properties
    if let unknown = options.keys.first { fail("unknown option \(unknown)") }

    let coreOnly = flags.contains("--core-only")
    let total = plan.totalEvents
    // The simulator hits its event budget only roughly (within ~10 % on small streams).
    let stream = SimulatedStream(accounts: plan.accounts, events: total + total / 4 + 1_000)
    guard stream.count >= total else { fail("the simulator gave \(stream.count) events, \(total) needed") }
    if coreOnly {
        let run = plan.coreOnly(stream: stream, rules: shippedRules(), partitions: corePartitions, batch: coreBatch)
        print("core alone (decode + detector, no broker) over the same \(total) stamped events, allowed lateness \(plan.allowedLatenessMillis) ms"
              + (corePartitions > 0 ? ", read from \(corePartitions) partitions \(coreBatch) events at a time" : "") + ": \(run.summary)")
        return
    }
    // Consumed while produced: retention (~5 MiB a partition) only has to hold the engine's
    // lag; enough partitions for 1 s of it (and the burst). Not more: the mock broker finds a fetch's offset by
    // walking the partition's retained batches from the oldest (its `rd_kafka_mock_msgset_find`,
    // "FIXME: Maintain an index"), so its CPU grows with partitions × batches — at 100 k
    // events/s over 18 partitions its thread took 6.1 s of CPU per 8 s (0.9 s over 2), on the
    // 2 cores the engine needs — and with allowed lateness 0 an event waits for every
    // partition to pass its time.
    let bytesPerEvent = stream.arena.count / max(1, stream.count)
    let rig = try choice.rig(defaultPartitions: BrokerRig.partitions(forBytes: (rate + plan.burst) * bytesPerEvent, minimum: 1))
    print("broker: \(rig.brokerDescription), \(rig.partitions) input partitions"
          + rig.harnessConsumerProperties.map { " (harness: -X \($0.0)=\($0.1))" }.joined())
    print("rate \(rate) events/s for \(plan.measuredSeconds) s measured (after \(plan.warmUpSeconds) s warm-up at \(plan.warmUpRate) events/s)"
          + (plan.burst > 0 ? ", burst of \(plan.burst) events at once half-way" : "")
          + (plan.stampWallTime ? ", event time = wall time" : ", simulator event times") + "; \(plan.settings)")
    let r = try rig.measureLatency(plan, stream: stream, rules: shippedRules())
    print("produced \(r.produced) events; engine consumed \(r.engine.consumed), dead-lettered \(r.engine.deadLettered), "
          + "late \(r.engine.detector.lateDropped); alerts received \(r.alertsReceived) (\(r.unmatchedAlerts) without a trigger found)")
    print("producer worst lag behind schedule: \(String(format: "%.2f", Double(r.maxProducerLagMicros) / 1000)) ms")
    print("engine commits: \(r.engine.commits) (\(r.engine.commitsOverdue) overdue, synchronous; \(r.engine.commitsDeferred) deferred)")
    let sched = r.engineSchedule
    print("engine thread: on CPU \(String(format: "%.2f", sched.onCPU)) s (\(String(format: "%.2f", sched.onCPU * 1e6 / Double(max(1, r.engine.consumed)))) µs per event), "
          + "runnable but waiting for a CPU \(String(format: "%.2f", sched.runnable)) s (group join included)")
    report("produced → alert", r.latenciesMicros)
    report("  of which trigger scheduled → alert produced (ms clock)", r.toProducedMicros)
    report("  of which alert produced → received (ms clock)", r.producedToReceivedMicros)
    if plan.burst > 0 { report("burst triggers only", r.burstLatenciesMicros) }
    print("peak RSS \(peakRSSMiB()) MiB")
    // An alert whose trigger is not in the stream means the measurement itself is wrong.
    if r.unmatchedAlerts > 0 { throw BenchFailure("\(r.unmatchedAlerts) alerts without a trigger: latencies not trustworthy") }
    // So does input the broker dropped before the engine read it (the mock keeps ~5 MiB a
    // partition): the alerts of the missing events are missing from the figures.
    if r.engine.consumed != UInt64(r.produced) {
        throw BenchFailure("the engine consumed \(r.engine.consumed) of \(r.produced) events (the broker's retention was overrun): "
                           + "latencies not trustworthy; give more --partitions")
    }
}

/// What allowed lateness buys on disordered input, core alone: the same stream with events up to
/// `disorder` ms out of order, replayed with several allowed latenesses; late events are dropped
/// (the engine's default `--late-policy drop`, they would be dead-lettered). Compared with the
/// in-order replay of the same events.
func lateness(_ args: [String]) {
    let numbers = args.compactMap { Int($0) }
    let events = numbers.count > 0 ? numbers[0] : 500_000
    let disorder = Int64(numbers.count > 1 ? numbers[1] : 2_000)
    let rules = shippedRules()
    let shuffled = SimulatedStream(accounts: max(200, events / 10), events: events, disorderMillis: disorder)
    var reference = DetectorConfig()
    reference.allowedLatenessMillis = disorder
    let exact = Set(shuffled.replay(rules: rules, config: reference).map { "\($0.account) \($0.ruleId)" })
    print("\(shuffled.count) events, each at most \(disorder) ms of event time behind an earlier one; "
          + "with allowed lateness \(disorder) ms (≥ the disorder) the replay is exact: \(exact.count) (account, rule) pairs flagged")
    print("| allowed lateness | events dropped as late | flagged pairs | missed | extra |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for l: Int64 in [0, 10, 100, 500, 1_000, disorder] {
        var config = DetectorConfig()
        config.allowedLatenessMillis = l
        var d = Detector(rules: rules, config: config)
        shuffled.ingest(0..<shuffled.count, into: &d)
        d.advanceWatermark(to: .max)
        let got = Set(d.takeAlerts().map { "\($0.account) \($0.ruleId)" })
        print("| \(l) ms | \(d.counters.lateDropped) (\(String(format: "%.2f", 100 * Double(d.counters.lateDropped) / Double(shuffled.count))) %) "
              + "| \(got.count) | \(exact.subtracting(got).count) | \(got.subtracting(exact).count) |")
    }
}

func report(_ title: String, _ micros: [UInt64]) {
    var h = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    for v in micros { _ = h.record(v) }
    func ms(_ p: Double) -> String { String(format: "%.2f", Double(h.valueAtPercentile(p)) / 1000) }
    guard h.totalCount > 0 else {
        print("\(title): no samples")
        return
    }
    print("\(title): n=\(h.totalCount) p50=\(ms(50)) ms p90=\(ms(90)) ms p99=\(ms(99)) ms p99.9=\(ms(99.9)) ms "
          + "max=\(String(format: "%.2f", Double(h.max) / 1000)) ms")
}

let args = Array(CommandLine.arguments.dropFirst())
do {
    switch args.first {
    case "throughput": try throughput(Array(args.dropFirst()))
    case "latency": try latency(Array(args.dropFirst()))
    case "lateness": lateness(Array(args.dropFirst()))
    case "state-restore": try stateRestore(Array(args.dropFirst()))
    default: fail("usage: broker throughput [events] [rounds] [--bootstrap HOST:PORT] [--partitions N] [-X k=v] | broker latency --rate N [options] | broker lateness [events] [disorder-ms] | broker state-restore [MiB] [rounds] [--bootstrap HOST:PORT] (see the source header)")
    }
} catch {
    FileHandle.standardError.write(Data("broker: \(error)\n".utf8))
    exit(1)
}
