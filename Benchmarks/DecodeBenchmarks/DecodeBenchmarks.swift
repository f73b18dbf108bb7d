import Benchmark
import BenchSupport
import MuleCore

// Decoding alone: a mix of simulator lines (integer and RFC 3339 `ts`, string and numeric
// amounts, optional fields, the odd unknown field).
let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
let stream = Shared<SimulatedStream?>(nil)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, eventsPerSecond],
        maxDuration: .seconds(5), maxIterations: 50)

    Benchmark("decode 100k simulator lines") { benchmark in
        let s = stream.value!
        let decoder = EventDecoder()
        benchmark.startMeasurement()
        let start = ContinuousClock.now
        blackHole(s.decodeAll(decoder))
        benchmark.measurement(eventsPerSecond, Int(Double(s.count) / secondsSince(start)))
    } setup: {
        stream.value = SimulatedStream(accounts: 10_000, events: 100_000)
    }
}
