/// Seconds elapsed since `start` on `ContinuousClock` (for the events/s custom metrics).
public func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    seconds(ContinuousClock.now - start)
}

/// A duration in seconds.
public func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// A mutable value shared between a benchmark's setup and its iterations (benchmarks run one
/// at a time on one thread).
public final class Shared<Value>: @unchecked Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }
}
