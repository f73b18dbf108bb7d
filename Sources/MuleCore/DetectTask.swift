/// One partition of the legs topic being detected: a scoped `Detector`, its `TaskClock`, and
/// the handling of every record kind on the topic. Pure (no I/O): the engine feeds it records
/// and publishes what it hands back; tests drive it the same way.
public struct DetectTask: Sendable {
    public private(set) var detector: Detector
    public private(set) var clock: TaskClock
    /// The floor last advertised to the other tasks.
    public private(set) var advertised: Int64 = .min
    let decoder: EventDecoder

    public var partition: Int32 { clock.partition }

    public init(rules: [Rule], config: DetectorConfig, scope: DetectorScope, decoder: EventDecoder = EventDecoder()) {
        detector = Detector(rules: rules, config: config, scope: scope)
        clock = TaskClock(partition: scope.partition, partitions: scope.partitioner.partitions, linkDelayMillis: scope.linkDelayMillis)
        self.decoder = decoder
    }

    /// What happened to one record of the legs topic.
    public enum Received: Sendable, Equatable {
        case legs(IngestOutcome)
        case link(LinkOutcome)
        case marker
        /// Not a record this build understands (a link or marker included), or an event that no
        /// longer decodes: dead-letter it with the reason.
        case malformed(String)
    }

    public mutating func receive(_ value: UnsafeRawBufferPointer, position: SourcePosition = .none) -> Received {
        switch LegsRecordKind(firstByte: value.first) {
        case .legs(let sides):
            let event = UnsafeRawBufferPointer(rebasing: value[1...])
            do throws(DecodeError) {
                let t = try decoder.decode(event)
                return .legs(detector.ingest(t, sides: sides, in: event, position: position))
            } catch {
                return .malformed("leg record: \(error.reason)")
            }
        case .link:
            let outcome = detector.ingestLink(value)
            if case .malformed(let why) = outcome { return .malformed("link: \(why)") }
            return .link(outcome)
        case .marker:
            do throws(CheckpointError) {
                switch try LegsMarker.decode(value) {
                case .route(let i, let n, let w, let newest, let lowest, let idle):
                    clock.routeMarker(input: i, of: n, watermark: w, newest: newest, lowest: lowest, idle: idle)
                case .task(let p, let floor):
                    guard p < clock.partitions else { return .malformed("marker from partition \(p) of \(clock.partitions)") }
                    clock.taskMarker(from: p, floor: floor)
                }
                return .marker
            } catch {
                return .malformed("marker: \(error.description)")
            }
        case .unknown(let b):
            return .malformed("unknown legs record tag 0x\(String(b, radix: 16))")
        }
    }

    /// Applies everything the markers allow. Returns the new floor when it moved (send it to
    /// every other task as `LegsMarker.task`, after the links from `takeLinks()`).
    public mutating func advance() -> Int64? {
        let b = clock.bound
        if b != .min { detector.advanceWatermark(to: b) }
        let floor = clock.floor(pending: detector.pendingFloor)
        guard floor > advertised else { return nil }
        advertised = floor
        return floor
    }

    public mutating func takeLinks() -> [OutboundLink] { detector.takeLinks() }

    /// Hot reload: new rules over the same window state (`Detector.replaceRules`).
    public mutating func replaceRules(_ rules: [Rule]) { detector.replaceRules(rules) }
    public mutating func takeAlerts() -> [Alert] { detector.takeAlerts() }

    /// Detector state and clock, as bytes.
    public func checkpointState() -> [UInt8] {
        var w = CheckpointWriter(reserving: 1 << 12)
        w.tag("TASK")
        w.i32(clock.partition)
        w.i32(clock.partitions)
        w.i64(advertised)
        clock.writeCheckpoint(to: &w)
        w.raw(detector.checkpointState())
        return w.bytes
    }

    /// A task holding the state `checkpointState()` wrote for the same partition.
    public init(rules: [Rule], config: DetectorConfig, scope: DetectorScope, restoring state: [UInt8],
                decoder: EventDecoder = EventDecoder()) throws(CheckpointError) {
        self.init(rules: rules, config: config, scope: scope, decoder: decoder)
        var r = CheckpointReader(state)
        try r.tag("TASK")
        let p = try r.i32("partition")
        let n = try r.i32("partitions")
        guard p == scope.partition, n == scope.partitioner.partitions else {
            throw .corrupt("state of legs partition \(p) of \(n), not \(scope.partition) of \(scope.partitioner.partitions)")
        }
        advertised = try r.i64("advertised floor")
        try clock.readCheckpoint(from: &r)
        detector = try Detector(rules: rules, config: config, scope: scope, restoring: Array(try r.raw("detector")))
        guard r.isAtEnd else { throw .corrupt("bytes left after the task state") }
    }
}
