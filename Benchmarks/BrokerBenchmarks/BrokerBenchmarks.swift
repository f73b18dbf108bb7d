import Benchmark
import BenchSupport
import BrokerSupport
import MuleCore

// End to end through the development broker: a simulated stream produced to librdkafka's mock
// cluster (in this process) once, then per iteration a `StreamEngine` — exactly as `mulestream
// run` runs it — drains the topic with a new consumer group and publishes its alerts.
// `events/s` counts from the first batch consumed to the last (the ~3 s group join and the 1 s
// idle wait before the engine exits are not in it); `Malloc (total)` covers the whole run, join
// included, and librdkafka's own allocations (per fetched message, per produced alert).
let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
let events = 100_000
let rig = Shared<BrokerRig?>(nil)
/// Events in the topic (the simulator hits `events` only roughly).
let produced = Shared(0)
let rules = Shared<[Rule]>([])
let round = Shared(0)

let benchmarks: @Sendable () -> Void = {
    Benchmark(
        "engine through broker 100k events",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident, eventsPerSecond],
            warmupIterations: 0, maxDuration: .seconds(30), maxIterations: 3)
    ) { benchmark in
        round.value += 1
        benchmark.startMeasurement()
        let run = try rig.value!.drainWithEngine(rules: rules.value, group: "bench-\(round.value)")
        benchmark.stopMeasurement()
        precondition(run.consumed == UInt64(produced.value), "engine consumed \(run.consumed) of \(produced.value)")
        benchmark.measurement(eventsPerSecond, Int(run.eventsPerSecond))
    } setup: {
        if rig.value == nil {
            let stream = SimulatedStream(accounts: events / 10, events: events)
            let r = try BrokerRig(partitions: BrokerRig.partitions(forBytes: stream.arena.count))
            try r.produceAll(stream)
            rig.value = r
            produced.value = stream.count
        }
        rules.value = shippedRules()
    }
}
