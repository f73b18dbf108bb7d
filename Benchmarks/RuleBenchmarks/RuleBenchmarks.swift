import Benchmark
import BenchSupport
import MuleCore

// Rule evaluation, heavy case: one busy merchant with a full window (hundreds of legs within
// the shipped rules' 1 h and 2 h windows). Every eighth event is a debit, on which both rules
// scan the whole window (distinct payers, FIFO matching, dwell quantiles). The same stream into
// a detector with no rules gives the state update's share; the difference is rule evaluation
// (MuleCore has no entry point that evaluates a rule without ingesting).
let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
let eventsPerIteration = 1_000
let warmUpEvents = 4_000
let stream = Shared<BusyMerchantStream?>(nil)
let warm = Shared<(detector: Detector, next: Int)?>(nil)
let warmNoRules = Shared<(detector: Detector, next: Int)?>(nil)

/// One iteration: `eventsPerIteration` more events into the warmed-up detector held in `slot`.
func ingestNext(_ benchmark: Benchmark, _ slot: Shared<(detector: Detector, next: Int)?>) {
    let s = stream.value!
    var (d, next) = slot.value!
    slot.value = nil  // keep `d` uniquely referenced, or its first mutation copies every buffer
    let end = next + eventsPerIteration
    precondition(end <= s.count, "stream too short for this many iterations")
    benchmark.startMeasurement()
    let start = ContinuousClock.now
    s.ingest(next..<end, into: &d)
    blackHole(d.takeAlerts())
    benchmark.measurement(eventsPerSecond, Int(Double(eventsPerIteration) / secondsSince(start)))
    benchmark.stopMeasurement()
    slot.value = (d, end)
}

/// A detector with `rules` that has taken the stream's first `warmUpEvents` events.
func warmedUp(_ rules: [Rule]) -> (detector: Detector, next: Int) {
    if stream.value == nil { stream.value = BusyMerchantStream(events: warmUpEvents + eventsPerIteration * 210) }
    var d = Detector(rules: rules)
    stream.value!.ingest(0..<warmUpEvents, into: &d)
    _ = d.takeAlerts()
    return (d, warmUpEvents)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark(
        "busy merchant 1k events (125 full-window evaluations)",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .mallocCountTotal, eventsPerSecond],
            warmupIterations: 3, maxDuration: .seconds(10), maxIterations: 200)
    ) { benchmark in
        ingestNext(benchmark, warm)
    } setup: {
        warm.value = warmedUp(shippedRules())
    }

    Benchmark(
        "busy merchant 1k events, no rules (state update share)",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .mallocCountTotal, eventsPerSecond],
            warmupIterations: 3, maxDuration: .seconds(10), maxIterations: 200)
    ) { benchmark in
        ingestNext(benchmark, warmNoRules)
    } setup: {
        warmNoRules.value = warmedUp([])
    }
}
