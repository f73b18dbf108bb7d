import Benchmark
import BenchSupport
import MuleCore

// Rule evaluation, heavy case: one busy merchant with a full window (hundreds of legs within
// the shipped rules' 1 h and 2 h windows). Every eighth event is a debit, on which both rules
// scan the whole window (distinct payers, FIFO matching, dwell quantiles).
let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
let eventsPerIteration = 1_000
let warmUpEvents = 4_000
let stream = Shared<BusyMerchantStream?>(nil)
let warm = Shared<(detector: Detector, next: Int)?>(nil)

let benchmarks: @Sendable () -> Void = {
    Benchmark(
        "busy merchant 1k events (125 full-window evaluations)",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .mallocCountTotal, eventsPerSecond],
            warmupIterations: 3, maxDuration: .seconds(10), maxIterations: 200)
    ) { benchmark in
        let s = stream.value!
        var (d, next) = warm.value!
        warm.value = nil  // keep `d` uniquely referenced, or its first mutation copies every buffer
        let end = next + eventsPerIteration
        precondition(end <= s.count, "stream too short for this many iterations")
        benchmark.startMeasurement()
        let start = ContinuousClock.now
        s.ingest(next..<end, into: &d)
        blackHole(d.takeAlerts())
        benchmark.measurement(eventsPerSecond, Int(Double(eventsPerIteration) / secondsSince(start)))
        benchmark.stopMeasurement()
        warm.value = (d, end)
    } setup: {
        let s = BusyMerchantStream(events: warmUpEvents + eventsPerIteration * 210)
        var d = Detector(rules: shippedRules())
        s.ingest(0..<warmUpEvents, into: &d)
        _ = d.takeAlerts()
        stream.value = s
        warm.value = (d, warmUpEvents)
    }
}
