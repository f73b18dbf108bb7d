import Benchmark
import BenchSupport
import MuleCore

// The core replay: a pre-decoded simulated stream (time order) through `Detector` with the
// shipped rules; the same with no rules (leg, window and chain state update alone: the
// difference is rule evaluation). And the steady state: a warmed-up detector ingesting 1 000 further events per
// iteration, for allocations per event (`Malloc (total)` per iteration / 1 000).
let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
let stream = Shared<SimulatedStream?>(nil)
let rules = Shared<[Rule]>([])
let warm = Shared<(detector: Detector, next: Int)?>(nil)
let warmUpEvents = 200_000
let eventsPerSteadyIteration = 1_000

/// The first `warmUpEvents` of the stream through an empty detector with `rules`, measured.
func replayFromEmpty(_ benchmark: Benchmark, rules: [Rule]) {
    let s = stream.value!
    var d = Detector(rules: rules)
    benchmark.startMeasurement()
    let start = ContinuousClock.now
    s.ingest(0..<warmUpEvents, into: &d)
    d.advanceWatermark(to: .max)
    blackHole(d.takeAlerts())
    benchmark.measurement(eventsPerSecond, Int(Double(warmUpEvents) / secondsSince(start)))
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident, eventsPerSecond],
        maxDuration: .seconds(10), maxIterations: 20)

    Benchmark("core replay 200k events") { benchmark in
        replayFromEmpty(benchmark, rules: rules.value)
    } setup: {
        if stream.value == nil { stream.value = SimulatedStream(accounts: 40_000, events: 600_000) }
        rules.value = shippedRules()
    }

    Benchmark("state update 200k events (no rules)") { benchmark in
        replayFromEmpty(benchmark, rules: [])
    } setup: {
        if stream.value == nil { stream.value = SimulatedStream(accounts: 40_000, events: 600_000) }
    }

    Benchmark(
        "steady-state ingest 1k events",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, .freeCountTotal, eventsPerSecond],
            warmupIterations: 5, maxDuration: .seconds(10), maxIterations: 300)
    ) { benchmark in
        let s = stream.value!
        var (d, next) = warm.value!
        warm.value = nil  // keep `d` uniquely referenced, or its first mutation copies every buffer
        let end = next + eventsPerSteadyIteration
        precondition(end <= s.count, "stream too short for this many iterations")
        benchmark.startMeasurement()
        let start = ContinuousClock.now
        s.ingest(next..<end, into: &d)
        blackHole(d.takeAlerts())
        benchmark.measurement(eventsPerSecond, Int(Double(eventsPerSteadyIteration) / secondsSince(start)))
        benchmark.stopMeasurement()
        warm.value = (d, end)
    } setup: {
        if stream.value == nil { stream.value = SimulatedStream(accounts: 40_000, events: 600_000) }
        rules.value = shippedRules()
        var d = Detector(rules: rules.value)
        stream.value!.ingest(0..<warmUpEvents, into: &d)
        _ = d.takeAlerts()
        warm.value = (d, warmUpEvents)
    }
}
