import MuleCore

/// Drives the detection core by hand with explicit event times — no broker, no threads, no
/// sleeps. Tests and benchmarks build transfers with `send` and read alerts back.
public struct CoreDriver {
    public var detector: Detector
    private var scratch: [UInt8] = []

    public init(rules: [Rule], config: DetectorConfig = DetectorConfig()) {
        detector = Detector(rules: rules, config: config)
    }

    /// Feeds one transfer. `amount` is decimal text (`"1250.00"`).
    @discardableResult
    public mutating func send(
        id: String, ts: Int64, payer: String, payee: String, amount: String,
        channel: Channel = .unknown, payerKind: AccountKind = .unknown, payeeKind: AccountKind = .unknown,
        position: SourcePosition = .none
    ) -> IngestOutcome {
        guard let money = Money(decimal: amount) else { preconditionFailure("bad amount \(amount)") }
        scratch.removeAll(keepingCapacity: true)
        func span(_ s: String) -> ByteSpan {
            let start = Int32(scratch.count)
            scratch.append(contentsOf: s.utf8)
            return ByteSpan(start: start, count: Int32(scratch.count) - start)
        }
        let t = DecodedTransfer(
            id: span(id), timestamp: ts, payer: span(payer), payee: span(payee), amount: money,
            channel: channel, payerKind: payerKind, payeeKind: payeeKind)
        let d = scratch
        return d.withUnsafeBytes { detector.ingest(t, in: $0, position: position) }
    }

    /// Alerts raised so far (without forcing buffered transfers through).
    public mutating func takeAlerts() -> [Alert] { detector.takeAlerts() }

    /// Applies everything buffered (end of input) and returns all alerts not yet taken.
    public mutating func finish() -> [Alert] {
        detector.advanceWatermark(to: .max)
        return detector.takeAlerts()
    }
}

/// Builds the receive-and-forward scenes tests keep needing, with explicit event times.
public struct SceneBuilder {
    public var driver: CoreDriver
    private var next = 0

    public init(rules: [Rule], config: DetectorConfig = DetectorConfig()) {
        driver = CoreDriver(rules: rules, config: config)
    }

    public mutating func nextId() -> String {
        next += 1
        return "tx-\(next)"
    }

    @discardableResult
    public mutating func pay(_ payer: String, _ payee: String, _ amount: String, at ts: Int64,
                             channel: Channel = .unknown, payerKind: AccountKind = .personal,
                             payeeKind: AccountKind = .personal) -> IngestOutcome {
        let id = nextId()
        return driver.send(id: id, ts: ts, payer: payer, payee: payee, amount: amount, channel: channel,
                           payerKind: payerKind, payeeKind: payeeKind)
    }
}
