import MuleCore
import MuleRules
import MuleSimulator

/// The repository root, found from this file's location (benchmarks read the shipped rules).
public let repositoryRoot: String = {
    var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)  // BenchSupport/Workloads.swift, Benchmarks/
    return parts.joined(separator: "/")
}()

/// The rules shipped in `Rules/`, loaded the way the engine loads them.
public func shippedRules() -> [Rule] {
    do {
        return try RuleLoader.load(path: repositoryRoot + "/Rules").map(\.rule)
    } catch {
        fatalError("cannot load the shipped rules: \(error)")
    }
}

/// A simulated stream held in memory: every NDJSON line in one byte arena, and each line also
/// pre-decoded (spans rebased onto the arena) so the core can be measured without the decoder.
public struct SimulatedStream: Sendable {
    public var arena: [UInt8] = []
    public var lineStart: [Int] = []
    public var lineEnd: [Int] = []
    public var transfers: [DecodedTransfer] = []

    public var count: Int { transfers.count }

    /// `events` simulated events (in event-time order) over a population of `accounts`
    /// (`gangs` planted gangs; nil = the simulator's default of one per 2 000 accounts), each
    /// event at most `disorderMillis` of event time behind any event before it.
    public init(seed: UInt64 = 42, accounts: Int, events: Int, gangs: Int? = nil, disorderMillis: Int64 = 0) {
        var sim = PaymentSimulator(config: SimulationConfig(
            seed: seed, accounts: accounts, events: events, gangs: gangs, disorderMillis: disorderMillis))
        arena.reserveCapacity(events * 240)
        let decoder = EventDecoder()
        while let e = sim.next() {
            let start = arena.count
            arena.append(contentsOf: e.line)
            lineStart.append(start)
            lineEnd.append(arena.count)
        }
        transfers.reserveCapacity(lineStart.count)
        arena.withUnsafeBytes { raw in
            for i in lineStart.indices {
                let line = UnsafeRawBufferPointer(rebasing: raw[lineStart[i]..<lineEnd[i]])
                guard var t = try? decoder.decode(line) else { fatalError("simulator line \(i) does not decode") }
                let base = Int32(lineStart[i])
                t.id.start += base
                t.payer.start += base
                t.payee.start += base
                if !t.qr.isEmpty { t.qr.start += base }
                transfers.append(t)
            }
        }
    }

    /// Decodes every line once; returns a checksum so the work cannot be optimised away.
    public func decodeAll(_ decoder: EventDecoder) -> Int64 {
        var sum: Int64 = 0
        arena.withUnsafeBytes { raw in
            for i in lineStart.indices {
                let line = UnsafeRawBufferPointer(rebasing: raw[lineStart[i]..<lineEnd[i]])
                if let t = try? decoder.decode(line) { sum &+= t.timestamp &+ t.amount.units }
            }
        }
        return sum
    }

    /// Ingests events `range` (pre-decoded) into `detector`.
    public func ingest(_ range: Range<Int>, into detector: inout Detector) {
        arena.withUnsafeBytes { raw in
            for i in range { _ = detector.ingest(transfers[i], in: raw) }
        }
    }

    /// A full replay: fresh detector, every event, end-of-input flush. Returns the alerts.
    public func replay(rules: [Rule], config: DetectorConfig = DetectorConfig()) -> [Alert] {
        var d = Detector(rules: rules, config: config)
        ingest(0..<count, into: &d)
        d.advanceWatermark(to: .max)
        return d.takeAlerts()
    }
}

/// A synthetic stream for one busy account whose window stays full: many distinct payers pay it
/// (QR, account kind not reported, so every rule filter accepts the legs) and it forwards the
/// money on in batches. Every debit makes the rules scan hundreds of legs.
public struct BusyMerchantStream: Sendable {
    public var arena: [UInt8] = []
    public var transfers: [DecodedTransfer] = []

    public var count: Int { transfers.count }

    /// `events` transfers, one every `gapMillis`; every `fanOut`-th one is a debit.
    public init(events: Int, gapMillis: Int64 = 5_000, payers: Int = 400, fanOut: Int = 8) {
        func span(_ s: String) -> ByteSpan {
            let start = Int32(arena.count)
            arena.append(contentsOf: s.utf8)
            return ByteSpan(start: start, count: Int32(arena.count) - start)
        }
        let hub = span("busy-merchant-0001")
        let payerSpans = (0..<payers).map { span("customer-\($0)") }
        let payeeSpans = (0..<16).map { span("supplier-\($0)") }
        var ts = SimulationConfig.defaultStartMillis
        var received: Int64 = 0
        for i in 0..<events {
            ts += gapMillis
            let id = span("busy-\(i)")
            if i % fanOut == fanOut - 1 {
                // Forward 98.5 % of what came in since the last debit.
                let amount = max(1, received * 985 / 1000)
                received = 0
                transfers.append(DecodedTransfer(
                    id: id, timestamp: ts, payer: hub, payee: payeeSpans[i % payeeSpans.count],
                    amount: Money(units: amount), channel: .bank))
            } else {
                let amount = Int64(500 + (i * 7919) % 4500) * Money.scale
                received += amount
                transfers.append(DecodedTransfer(
                    id: id, timestamp: ts, payer: payerSpans[(i * 31) % payers], payee: hub,
                    amount: Money(units: amount), channel: .qr))
            }
        }
    }

    public func ingest(_ range: Range<Int>, into detector: inout Detector) {
        arena.withUnsafeBytes { raw in
            for i in range { _ = detector.ingest(transfers[i], in: raw) }
        }
    }
}

/// An order-independent fingerprint of alerts (encoded bytes hashed), to check that an
/// optimisation left the engine's output identical.
public func fingerprint(_ alerts: [Alert]) -> UInt64 {
    var h: UInt64 = 0
    for a in alerts {
        let bytes = AlertEncoder.encode(a, emittedAtMillis: 0)
        h = h &* 0x100_0000_01B3 ^ ByteHash.hash(bytes, seed: 7)
    }
    return h
}
