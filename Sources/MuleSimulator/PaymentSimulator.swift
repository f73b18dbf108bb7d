import MuleCore

/// Deterministic generator of a payment stream with planted mule gangs. The whole population
/// (and so `labels`) is planned in `init`; events are then produced lazily, in event-time order
/// (or within `disorderMillis` of it), with memory bounded by the few hours of transfers that
/// are in flight at any moment.
public struct PaymentSimulator: Sequence, IteratorProtocol, Sendable {
    public let config: SimulationConfig
    /// Every planned account with its ground truth, sorted by account id.
    public let labels: [AccountLabel]
    /// End of the simulated period (scenarios start before it; their tails may run past it).
    public let endMillis: Int64
    /// Events the plan expects to produce (duplicates not included).
    public let expectedEvents: Int

    private var world: World
    private var pending = MinHeap<PendingTransfer>()
    private var sources = MinHeap<Source>()
    private var arrivals: [Arrival]
    private var nextShift = 0
    private var sequence: UInt64 = 0
    /// Reused for every scenario expansion so a one-event scenario allocates nothing.
    private var scratch: [PlannedTransfer] = []

    // Output stage: disorder and duplicates.
    private var lookahead: PendingTransfer?
    private var outbox = MinHeap<Outgoing>()
    private var outSequence: UInt64 = 0
    private var faultRNG: Xoshiro256StarStar

    public init(config: SimulationConfig) {
        self.config = config
        let planner = Planner(config: config)
        world = planner.world
        endMillis = planner.end
        arrivals = planner.arrivals
        expectedEvents = planner.expectedEvents
        labels = planner.labels()
        faultRNG = Xoshiro256StarStar(seed: config.seed, stream: 0xFA_0175)

        for (i, a) in arrivals.enumerated() where a.isActive(before: endMillis) {
            sources.push(Source(time: a.nextTime, order: Int32(i), kind: .arrival(i)))
        }
        if !world.shiftOrder.isEmpty {
            sources.push(Source(time: world.shiftOrder[0].start, order: 16, kind: .gangShift))
        }
        for e in world.employers.indices {
            if let t = world.nextPayday(e, from: config.startMillis), t < endMillis {
                sources.push(Source(time: t, order: Int32(32 + e), kind: .payday(e)))
            }
        }
        for m in world.outlets.indices {
            let t = world.nextSettlement(m, after: config.startMillis - 1)
            if t < endMillis {
                sources.push(Source(time: t, order: Int32(32 + world.employers.count + m), kind: .settlement(m)))
            }
        }
    }

    public mutating func next() -> SimulatedEvent? {
        if config.disorderMillis <= 0 && config.duplicateRate <= 0 {
            guard let t = nextInOrder() else { return nil }
            return SimulatedEvent(timestamp: t.ts, line: world.encode(t))
        }
        while true {
            if lookahead == nil { lookahead = nextInOrder() }
            if let top = outbox.peek, lookahead == nil || top.key <= lookahead!.ts {
                return outbox.pop()!.event
            }
            guard let t = lookahead else { return nil }
            lookahead = nil
            let event = SimulatedEvent(timestamp: t.ts, line: world.encode(t))
            let key = t.ts + (config.disorderMillis > 0 ? faultRNG.int64(0...config.disorderMillis) : 0)
            outbox.push(Outgoing(key: key, order: outSequence, event: event))
            outSequence += 1
            if config.duplicateRate > 0 && faultRNG.chance(config.duplicateRate) {
                let lag = faultRNG.int64(0...Swift.max(config.disorderMillis, 30_000))
                outbox.push(Outgoing(key: key + lag, order: outSequence, event: event))
                outSequence += 1
            }
        }
    }

    /// The next transfer in event-time order. A pending transfer is released once no scenario
    /// still to be expanded could produce an earlier one (scenarios never emit before they start).
    private mutating func nextInOrder() -> PendingTransfer? {
        while true {
            let horizon = sources.peek?.time ?? Int64.max
            if let top = pending.peek, top.ts <= horizon { return pending.pop() }
            guard let source = sources.pop() else { return nil }
            run(source)
        }
    }

    private mutating func run(_ source: Source) {
        switch source.kind {
        case .arrival(let i):
            var a = arrivals[i]
            let t = a.nextTime
            if a.rng.int(0...999) < World.activity[LocalClock.hourOfDay(t)] {
                scratch.removeAll(keepingCapacity: true)
                world.expand(a.scenario, at: t, rng: &a.rng, into: &scratch)
                scheduleScratch()
            }
            a.advance()
            arrivals[i] = a
            if a.isActive(before: endMillis) { sources.push(Source(time: a.nextTime, order: source.order, kind: source.kind)) }
        case .gangShift:
            let item = world.shiftOrder[nextShift]
            schedule(world.gangs[item.gang].expand(shift: item.shift, seed: config.seed))
            nextShift += 1
            if nextShift < world.shiftOrder.count {
                sources.push(Source(time: world.shiftOrder[nextShift].start, order: source.order, kind: .gangShift))
            }
        case .payday(let e):
            scratch.removeAll(keepingCapacity: true)
            world.payday(e, at: source.time, into: &scratch)
            scheduleScratch()
            if let t = world.nextPayday(e, from: source.time + 1), t < endMillis {
                sources.push(Source(time: t, order: source.order, kind: source.kind))
            }
        case .settlement(let m):
            scratch.removeAll(keepingCapacity: true)
            world.settle(m, at: source.time, into: &scratch)
            scheduleScratch()
            let t = world.nextSettlement(m, after: source.time)
            if t < endMillis { sources.push(Source(time: t, order: source.order, kind: source.kind)) }
        }
    }

    private mutating func scheduleScratch() {
        for t in scratch {
            pending.push(PendingTransfer(transfer: t, seq: sequence))
            sequence += 1
        }
    }

    private mutating func schedule(_ transfers: [PlannedTransfer]) {
        for t in transfers {
            pending.push(PendingTransfer(transfer: t, seq: sequence))
            sequence += 1
        }
    }
}

/// A planned transfer with its creation number, which becomes its id and breaks timestamp ties.
struct PendingTransfer: HeapOrdered, Sendable {
    var transfer: PlannedTransfer
    var seq: UInt64
    var ts: Int64 { transfer.ts }

    @inline(__always)
    static func precedes(_ a: PendingTransfer, _ b: PendingTransfer) -> Bool {
        a.transfer.ts != b.transfer.ts ? a.transfer.ts < b.transfer.ts : a.seq < b.seq
    }
}

/// Something that starts scenarios over time.
struct Source: HeapOrdered, Sendable {
    enum Kind: Sendable {
        case arrival(Int)
        case gangShift
        case payday(Int)
        case settlement(Int)
    }
    var time: Int64
    var order: Int32
    var kind: Kind

    static func precedes(_ a: Source, _ b: Source) -> Bool {
        a.time != b.time ? a.time < b.time : a.order < b.order
    }
}

/// An encoded event waiting in the disorder buffer.
struct Outgoing: HeapOrdered, Sendable {
    var key: Int64
    var order: UInt64
    var event: SimulatedEvent

    static func precedes(_ a: Outgoing, _ b: Outgoing) -> Bool {
        a.key != b.key ? a.key < b.key : a.order < b.order
    }
}

/// A Poisson stream of background scenarios, thinned by the hour-of-day activity curve.
struct Arrival: Sendable {
    var scenario: Scenario
    var nextTime: Int64
    private var clock: Double
    /// Mean gap in ms between candidate arrivals; infinite when the scenario is switched off.
    let meanGap: Double
    var rng: Xoshiro256StarStar

    init(scenario: Scenario, start: Int64, meanGap: Double, seed: UInt64) {
        self.scenario = scenario
        self.meanGap = meanGap
        rng = Xoshiro256StarStar(seed: seed, stream: 0xA_0000 + UInt64(scenario.rawValue))
        clock = Double(start)
        nextTime = start
        advance()
    }

    mutating func advance() {
        guard meanGap.isFinite else { return }
        clock += rng.exponential(mean: meanGap)
        nextTime = Int64(clock)
    }

    func isActive(before end: Int64) -> Bool { meanGap.isFinite && nextTime < end }
}

/// Background scenario kinds started by `Arrival`s.
enum Scenario: Int, Sendable, CaseIterable {
    case friendTransfer, purchase, billSplit, parentSupport, refundBurst

    /// Share of the background event budget, and events per scenario on average.
    var share: Double {
        switch self {
        case .friendTransfer: 0.30
        case .purchase: 0.48
        case .billSplit: 0.10
        case .parentSupport: 0.05
        case .refundBurst: 0.07
        }
    }

    var eventsPerScenario: Double {
        switch self {
        case .friendTransfer, .purchase: 1
        case .billSplit: 6.5
        case .parentSupport: 2
        case .refundBurst: 24
        }
    }
}
