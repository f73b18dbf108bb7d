/// What to do with an event that arrives after the watermark has passed its event time.
public enum LatePolicy: String, Sendable, CaseIterable {
    /// Send it to the dead-letter destination with reason `late` (default).
    case drop
    /// Apply it anyway, out of order (its legs are inserted at their event-time position, but
    /// rules already evaluated are not re-evaluated).
    case process
}

/// Tuning of the detection core. Assembled once at start-up and validated by the caller.
public struct DetectorConfig: Sendable, Equatable {
    /// How far behind the newest event time an event may arrive and still be applied in order.
    public var allowedLatenessMillis: Int64 = 5_000
    public var latePolicy: LatePolicy = .drop
    /// How long a transfer id is remembered to drop repeats.
    public var dedupHorizonMillis: Int64 = 24 * 3_600_000
    /// Upper bound on remembered transfer ids (memory cap of the dedup index).
    public var maxDedupEntries: Int = 20_000_000
    /// Legs kept per account; the oldest is dropped (and counted) beyond this.
    public var maxLegsPerAccount: Int = 1024
    /// Tracked accounts; beyond this the least recently active account is evicted (and counted).
    public var maxAccounts: Int = 10_000_000
    /// How long an idle account is remembered beyond the longest rule window (keeps
    /// `account_age` meaningful); 0 = forget as soon as nothing in its window can matter.
    public var accountMemoryMillis: Int64 = 0
    /// Evidence ids listed per alert (the count is always complete).
    public var evidenceLimit: Int = 32
    /// Bytes of the ring that keeps transfer ids for evidence.
    public var transferIdLogBytes: Int = 64 << 20
    /// Size the account table, the account states and the leg pool at start for this many
    /// tracked accounts (0: start small and grow as accounts come). A table that grows is copied
    /// whole while the event that needed the room waits: 12–23 ms for a leg pool of 1–2 M legs
    /// on the 2-core box, the largest part of the p99.9 latency. Reserved room that is never
    /// written is address space, not resident memory (the account table's slots, 4 B per
    /// ~0.7 account, are written at start).
    public var reserveAccounts: Int = 0
    /// Size the duplicate index at start for this many transfer ids within `dedupHorizonMillis`
    /// (at most `maxDedupEntries`; 0: grow). Its slots (16 B per id) are written at start.
    public var reserveTransferIds: Int = 0
    /// Leg slots reserved per account by `reserveAccounts` (rings are power-of-two chunks).
    public static let reservedLegsPerAccount = 16
    /// Name bytes reserved per account by `reserveAccounts`.
    public static let reservedNameBytesPerAccount = 16
    /// Following money through layers of accounts (hops, chains, gangs).
    public var chains = ChainConfig()

    public init() {}
}

/// How money is followed from account to account.
public struct ChainConfig: Sendable, Equatable {
    /// A transfer is a *hop* when it passes on money its payer received within this window.
    public var hopWindowMillis: Int64 = 30 * 60_000
    /// Share of the onward transfer that must be covered (FIFO) by money received in the hop window.
    public var minCoverage: Double = 0.9
    /// Share of what came in during the hop window that must have gone out again (with this transfer).
    public var minPassOn: Double = 0.8
    /// What a mule-style forwarder keeps of what it received in the hop window: mules keep a
    /// 1–1.8 % commission; people passing on a bill pay out their own share too (below 0), and
    /// ordinary forwards keep far more.
    public var commissionMin: Double = -0.005
    public var commissionMax: Double = 0.05
    /// Consecutive hops that make a chain worth tying into a gang (and `chain_depth` to alert on).
    public var minChainHops: Int = 2
    /// How long a tie between gang members lasts after the transfer that made it.
    public var gangHorizonMillis: Int64 = 7 * 86_400_000
    /// How long hops are remembered to reconstruct chains (several hop windows).
    public var hopMemoryMillis: Int64 = 8 * 30 * 60_000

    public init() {}
}

/// What the core did with one ingested event.
public enum IngestOutcome: Sendable, Equatable {
    /// Buffered; it is applied once the watermark passes it.
    case accepted
    /// Its id was seen within the dedup horizon: ignored.
    case duplicate
    /// Behind the watermark by `behindMillis` and dropped (`LatePolicy.drop`): dead-letter it.
    case late(behindMillis: Int64)
    /// Behind the watermark but applied anyway (`LatePolicy.process`).
    case lateProcessed
}

/// Counters the core keeps; the engine exports them as metrics.
public struct DetectorCounters: Sendable, Equatable {
    public var ingested: UInt64 = 0
    public var applied: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var lateDropped: UInt64 = 0
    public var lateProcessed: UInt64 = 0
    public var legsEvicted: UInt64 = 0
    public var accountsEvictedIdle: UInt64 = 0
    public var accountsEvictedCap: UInt64 = 0
    public var alertsRaised: UInt64 = 0
    public var alertsSuppressedCooldown: UInt64 = 0
    public var firingsBelowBands: UInt64 = 0
    public var dedupForcedExpiries: UInt64 = 0

    public init() {}
}

/// What evaluating one rule needs on the hot path, precomputed once. Plain values only, so
/// reading it per evaluation retains nothing; conditions and signals live in the detector's
/// `ConditionProgram`, the `Rule` itself (strings, bands) is read only when an alert is raised.
@usableFromInline
struct RulePlan: Sendable {
    @usableFromInline var windowMillis: Int64
    @usableFromInline var cooldownMillis: Int64
    @usableFromInline var creditBits: LegFilterBits
    @usableFromInline var debitBits: LegFilterBits
    @usableFromInline var scoreBase: Double
    /// Root op of `conditions` in the program.
    @usableFromInline var condition: Int32
    /// The rule's signals in the detector's `signals`.
    @usableFromInline var signalStart: Int32
    @usableFromInline var signalEnd: Int32
    @usableFromInline var needsMatching: Bool
    @usableFromInline var needsDwell: Bool
    @usableFromInline var needsCreditTimes: Bool
    @usableFromInline var needsDistinctPayers: Bool
    @usableFromInline var needsDistinctPayees: Bool
    @usableFromInline var hasOutcomes: Bool
    @usableFromInline var needsChain: Bool
    @usableFromInline var readsChainDepth: Bool
    @usableFromInline var readsChainPayers: Bool
    /// Reads chain metrics only: no pass over the window's legs is needed to evaluate it.
    @usableFromInline var chainOnly: Bool
    /// Its conditions (not only its signals) read `gang_size`.
    @usableFromInline var conditionReadsGang: Bool
    /// For a rule whose conditions read only chain depth and chain payers: whether they hold
    /// when both are 0, as they are for every account without a hop in the window (most of
    /// them), so those evaluations need not walk the condition program.
    @usableFromInline var holdsWithoutHops: Bool?
    /// What the window must hold for the conditions to possibly hold (cheap pre-checks).
    @usableFromInline var needs: WindowNeeds
    @usableFromInline var onCredit: Bool
    @usableFromInline var onDebit: Bool

    /// The same rule with every metric enabled: used to describe a firing window in full.
    @usableFromInline var reporting: RulePlan {
        var r = self
        r.needsMatching = true
        r.needsDwell = true
        r.needsDistinctPayers = true
        r.needsDistinctPayees = true
        r.needs = .none
        return r
    }

    init(_ rule: Rule, program: inout ConditionProgram, signals: inout ContiguousArray<SignalPlan>) {
        windowMillis = rule.windowMillis
        cooldownMillis = rule.cooldownMillis
        creditBits = LegFilterBits(rule.credits)
        debitBits = LegFilterBits(rule.debits)
        scoreBase = rule.scoreBase
        condition = program.compile(rule.conditions)
        signalStart = Int32(signals.count)
        for s in rule.signals { signals.append(SignalPlan(weight: s.weight, condition: program.compile(s.condition))) }
        signalEnd = Int32(signals.count)
        hasOutcomes = !rule.outcomes.isEmpty
        let ms = rule.conditions.metrics + rule.signals.flatMap(\.condition.metrics)
        needsDwell = ms.contains { $0 == .dwellMedian || $0 == .dwellP90 }
        needsMatching = needsDwell || ms.contains(.passThrough)
        needsCreditTimes = ms.contains { if case .burst = $0 { true } else { false } }
        needsDistinctPayers = ms.contains(.distinctPayers)
        needsDistinctPayees = ms.contains(.distinctPayees)
        needsChain = ms.contains(.chainDepth) || ms.contains(.chainPayers) || ms.contains(.gangSize)
        readsChainDepth = ms.contains(.chainDepth)
        readsChainPayers = ms.contains(.chainPayers)
        chainOnly = needsChain && ms.allSatisfy { $0 == .chainDepth || $0 == .chainPayers || $0 == .gangSize }
        conditionReadsGang = rule.conditions.metrics.contains(.gangSize)
        needs = WindowNeeds(rule.conditions)
        holdsWithoutHops = nil
        if chainOnly && !conditionReadsGang {
            var zero = WindowScan()  // every metric 0
            holdsWithoutHops = zero.holds(program, condition)
        }
        onCredit = rule.trigger != .debit
        onDebit = rule.trigger != .credit
    }
}

/// A score signal of a rule: `weight` is added when the condition at `condition` holds.
@usableFromInline
struct SignalPlan: Sendable {
    @usableFromInline var weight: Double
    @usableFromInline var condition: Int32
}

/// The detection core: takes decoded transfers with their event time, keeps per-account
/// sliding-window state, and raises alerts. Pure: no I/O and no clock — time moves only with
/// the events' own timestamps (and `advanceWatermark`). The live engine, backtests, tests and
/// benchmarks all drive this same value.
///
/// Event time: the watermark is `max event time seen - allowedLateness`, where "max event time
/// seen" is taken per source partition and the slowest partition that is holding the watermark
/// counts (a partition far behind the others must not see its events declared late; an idle or
/// revoked partition is released with `releaseWatermarkHold`). Accepted transfers wait
/// in a reorder buffer and are applied in (event time, id hash) order once the watermark passes
/// them, so out-of-order input within the lateness gives exactly the in-order result. A rule is
/// evaluated for an account when one of its legs is applied, over the legs in
/// `[t - window, t]` applied so far.
public struct Detector: Sendable {
    public let config: DetectorConfig
    @usableFromInline var rules: [Rule]
    @usableFromInline var plans = ContiguousArray<RulePlan>()
    /// Indices into `plans`, in rule order: the rules a credit leg triggers (the first
    /// `creditTriggered`), then those a debit leg triggers. See `indexTriggers`.
    @usableFromInline var triggered = ContiguousArray<UInt16>()
    @usableFromInline var creditTriggered = 0
    @usableFromInline var signals = ContiguousArray<SignalPlan>()
    @usableFromInline var program = ConditionProgram()
    @usableFromInline var longestWindow: Int64
    /// `ruleSetHash` of the loaded rules; every alert carries it.
    public internal(set) var ruleSet: String
    @usableFromInline var accounts = AccountTable()
    @usableFromInline var states = LineArray<AccountState>()
    @usableFromInline var legs = LegPool()
    @usableFromInline var transferIds: TransferIdLog
    @usableFromInline var dedup: DedupIndex
    @usableFromInline var buffer = ReorderBuffer()
    @usableFromInline var maxSeen: Int64 = .min
    /// Newest event time accepted so far (`Int64.min` before the first event).
    public var maxEventTime: Int64 { maxSeen }
    /// Every transfer with event time before this has been applied (or was late).
    public internal(set) var watermark: Int64 = .min
    /// Newest event time per source partition (index = partition + 1, so `.none` is slot 0).
    @usableFromInline var partitionMax: [Int64] = []
    /// Whether the partition holds the watermark back (it delivered events or was declared).
    @usableFromInline var partitionHolds: [Bool] = []
    @usableFromInline var lruHead: Int32 = -1
    @usableFromInline var lruTail: Int32 = -1
    /// Where the walk giving back idle accounts' legs resumes in the LRU list: accounts before
    /// it hold no legs (-1: past the tail). See `releaseIdleLegs`.
    @usableFromInline var idleScan: Int32 = -1
    /// End of the latest cool-down of each account that raised an alert (`AccountState.hasCooldown`).
    @usableFromInline var cooldownEnds: [Int32: Int64] = [:]
    @usableFromInline var lastAlertAt: [UInt64: Int64] = [:]
    @usableFromInline var scan = WindowScan()
    @usableFromInline var hops = HopStore()
    @usableFromInline var gangs: GangIndex
    /// Receiving account → the last mule-style forwarder that paid it (shared-sink ties).
    @usableFromInline var lastForwarderInto = IntMap<Int32, (from: Int32, ts: Int64)>(filler: (-1, 0))
    /// Payer → the last mule-style forwarder that passed its money on (shared-upstream ties).
    /// (Not `Dictionary`: both are probed for every forgotten account, and SipHash made that
    /// half of forgetting one.)
    @usableFromInline var lastForwarderOf = IntMap<Int32, (by: Int32, ts: Int64)>(filler: (-1, 0))
    // Scratch for hop matching (reused: no allocation per transfer).
    @usableFromInline var chainFifo: [(index: Int32, left: Int64)] = []
    @usableFromInline var chainMatched: [Int32] = []
    @usableFromInline var hopPayers: [Int32] = []
    @usableFromInline var chainDebits: [CoveredDebit] = []
    public internal(set) var counters = DetectorCounters()
    /// Alerts raised and not yet taken by `takeAlerts()`.
    public internal(set) var alerts: [Alert] = []
    /// Input position of the transfer being applied (alerts carry it as `source`).
    @usableFromInline var applying = SourcePosition.none
    /// Event time of the transfer or link being applied (links made now are stamped with it).
    @usableFromInline var applyingTime: Int64 = .min
    /// Set when this detector does one partition's share of the work (`Detector+Links.swift`).
    public let scope: DetectorScope?
    /// Links received from other partitions, waiting for their delivery time.
    var links = LinkQueue()
    /// Links made for other partitions, not yet taken.
    var outbox: [OutboundLink] = []
    public internal(set) var linkCounters = LinkCounters()

    /// `scope`: set when this detector owns one partition of the legs topic (legs are then
    /// ingested with `ingest(_:sides:in:position:)` and the watermark is moved by the caller).
    public init(rules: [Rule], config: DetectorConfig = DetectorConfig(), scope: DetectorScope? = nil) {
        precondition(rules.count < 65_536, "too many rules")
        self.config = config
        self.scope = scope
        self.rules = rules
        for rule in rules { plans.append(RulePlan(rule, program: &program, signals: &signals)) }
        self.longestWindow = rules.map(\.windowMillis).max() ?? 0
        self.ruleSet = ruleSetHash(rules)
        self.transferIds = TransferIdLog(capacityBytes: config.transferIdLogBytes)
        self.dedup = DedupIndex(maxEntries: config.maxDedupEntries)
        self.gangs = GangIndex(horizonMillis: config.chains.gangHorizonMillis)
        reserveConfiguredCapacity()
        indexTriggers()
    }

    /// The loaded rules, in evaluation order.
    public var ruleList: [Rule] { rules }
    /// Accounts currently tracked.
    public var trackedAccounts: Int { accounts.count }
    /// Transfers accepted and waiting for the watermark.
    public var bufferedTransfers: Int { buffer.count }

    /// Accepts one decoded transfer; `bytes` is the buffer its spans point into.

    public mutating func ingest(_ t: DecodedTransfer, in bytes: UnsafeRawBufferPointer,
                                position: SourcePosition = .none) -> IngestOutcome {
        let outcome = admit(t, sides: .both, in: bytes, position: position)
        guard outcome == .accepted, scope == nil else { return outcome }
        let slot = Int(position.partition) + 1
        if slot >= partitionMax.count { growPartitions(slot + 1) }
        if t.timestamp > partitionMax[slot] || !partitionHolds[slot] {
            let wasHolding = partitionHolds[slot]
            if t.timestamp > partitionMax[slot] { partitionMax[slot] = t.timestamp }
            if !wasHolding { partitionHolds[slot] = true }
            if wasHolding || partitionMax[slot] > watermark {
                advanceWatermark(to: Detector.heldWatermark(
                    partitionMax: partitionMax, partitionHolds: partitionHolds, maxSeen: maxSeen,
                    lateness: config.allowedLatenessMillis))
            }
        }
        return .accepted
    }

    /// Dedup, lateness and buffering of one transfer (or of the legs of it this partition owns).
    @inline(__always)
    mutating func admit(_ t: DecodedTransfer, sides: LegSides, in bytes: UnsafeRawBufferPointer,
                        position: SourcePosition) -> IngestOutcome {
        counters.ingested &+= 1
        let idBytes = t.id.bytes(in: bytes)
        // Each leg is its own record when the accounts' owners differ: each is deduplicated alone.
        let idHash = ByteHash.hash(idBytes, seed: sides == .both ? ByteHash.transferSeed : ByteHash.transferSeed &+ UInt64(sides.rawValue))
        // All three table slots are known before any is probed: their cache misses overlap.
        let payerBytes = t.payer.bytes(in: bytes), payeeBytes = t.payee.bytes(in: bytes)
        let payerHash = AccountTable.hash(payerBytes), payeeHash = AccountTable.hash(payeeBytes)
        dedup.prefetch(hash: idHash)
        accounts.prefetch(hash: payerHash)
        accounts.prefetch(hash: payeeHash)
        if !dedup.insert(idHash, at: t.timestamp) {
            counters.duplicates &+= 1
            return .duplicate
        }
        let isLate = t.timestamp < watermark
        if isLate && config.latePolicy == .drop {
            counters.lateDropped &+= 1
            return .late(behindMillis: watermark - t.timestamp)
        }
        let payer = touchAccount(payerBytes, hash: payerHash, at: t.timestamp)
        let payee = touchAccount(payeeBytes, hash: payeeHash, at: t.timestamp)
        let handle = transferIds.append(idBytes)
        let p = PendingTransfer(
            ts: t.timestamp, idHash: idHash, amount: t.amount.units, txHandle: handle,
            offset: position.offset, partition: position.partition, payer: payer, payee: payee,
            channel: t.channel, payerKind: t.payerKind, payeeKind: t.payeeKind, sides: sides)
        if isLate {
            counters.lateProcessed &+= 1
            apply(p, inOrder: false)
            return .lateProcessed
        }
        buffer.push(p)
        if t.timestamp > maxSeen { maxSeen = t.timestamp }
        return .accepted
    }

    /// The slowest holding partition's newest event time, minus the allowed lateness.
    func heldWatermark() -> Int64 {
        Detector.heldWatermark(partitionMax: partitionMax, partitionHolds: partitionHolds, maxSeen: maxSeen,
                               lateness: config.allowedLatenessMillis)
    }

    // Static over the few values it reads: called per ingested event, and a method call on a
    // copy of the whole detector cost a 400-byte memcpy each time.
    @inline(__always)
    static func heldWatermark(partitionMax: [Int64], partitionHolds: [Bool], maxSeen: Int64, lateness: Int64) -> Int64 {
        var low = Int64.max
        var any = false
        for i in 0..<partitionMax.count where partitionHolds[i] {
            any = true
            if partitionMax[i] < low { low = partitionMax[i] }
        }
        if !any { low = maxSeen }
        if low == .min { return .min }
        return low &- lateness
    }

    mutating func growPartitions(_ n: Int) {
        while partitionMax.count < n {
            partitionMax.append(.min)
            partitionHolds.append(false)
        }
    }

    /// Declares source partitions whose events are coming (the engine calls this on assignment):
    /// the watermark waits for each of them until it delivers or is released.
    public mutating func holdWatermark(for partitions: [Int32]) {
        for p in partitions where p >= -1 {
            let slot = Int(p) + 1
            if slot >= partitionMax.count { growPartitions(slot + 1) }
            partitionHolds[slot] = true
        }
    }

    /// Stops a partition from holding the watermark back (it is idle or was revoked). If it
    /// delivers again it holds again; its events older than the watermark are then late.
    public mutating func releaseWatermarkHold(partition p: Int32) {
        let slot = Int(p) + 1
        guard slot < partitionHolds.count, partitionHolds[slot] else { return }
        partitionHolds[slot] = false
        advanceWatermark(to: heldWatermark())
    }

    /// Whether `partition` currently holds the watermark back.
    public func holdsWatermark(partition p: Int32) -> Bool {
        let slot = Int(p) + 1
        return slot < partitionHolds.count && partitionHolds[slot]
    }

    /// Moves event time forward without an event (idle input, end of a replay: pass
    /// `Int64.max` to apply everything buffered). Never moves it back.
    public mutating func advanceWatermark(to newWatermark: Int64) {
        guard newWatermark > watermark else { return }
        watermark = newWatermark
        if links.isEmpty {
            while let p = buffer.popMin(before: watermark) {
                prefetchReleases()
                apply(p, inOrder: true)
            }
        } else {
            // Links and transfers in one event-time order (a link first at the same time).
            while true {
                let lt = links.minDeliverAt ?? .max
                let bt = buffer.minTimestamp ?? .max
                if lt <= bt {
                    guard lt < watermark else { break }
                    applyLink(links.popMin())
                } else {
                    guard let p = buffer.popMin(before: watermark) else { break }
                    prefetchReleases()
                    apply(p, inOrder: true)
                }
            }
        }
        if watermark > Int64.min + config.dedupHorizonMillis {
            dedup.expire(before: watermark - config.dedupHorizonMillis)
            counters.dedupForcedExpiries = dedup.forcedExpiries
        }
        expireChains()
        evictIdle(limit: 256)
    }

    /// Hands over the alerts raised since the last call.
    public mutating func takeAlerts() -> [Alert] {
        // Nothing raised (the usual case): hand over the shared empty array, because emptying a
        // buffer the caller now shares would allocate a fresh one on every call.
        if alerts.isEmpty { return [] }
        defer { alerts.removeAll(keepingCapacity: true) }
        return alerts
    }

    /// For every partition with transfers still buffered, the lowest such offset (one pass): the
    /// engine must not commit past it.
    public func lowestBufferedOffsets() -> [Int32: Int64] {
        var out: [Int32: Int64] = [:]
        buffer.forEach { p in
            guard p.partition >= 0 else { return }
            if let cur = out[p.partition], cur <= p.offset { return }
            out[p.partition] = p.offset
        }
        return out
    }

    /// Approximate bytes of state (accounts, legs, dedup, id log), for metrics and sizing.
    public var stateBytes: Int {
        return accounts.memoryBytes + states.capacity * MemoryLayout<AccountState>.stride + legs.memoryBytes
            + scan.memoryBytes            + dedup.memoryBytes + transferIds.memoryBytes + buffer.memoryBytes
    }

    // MARK: accounts


    /// The id of an account a transfer being admitted names (it is then pending, see
    /// `AccountState.pendingRefs`, and first seen no later than `ts`); `hash` is
    /// `AccountTable.hash(name)`, computed early so its slot could be prefetched.
    mutating func touchAccount(_ name: UnsafeRawBufferPointer, hash: UInt64, at ts: Int64) -> Int32 {
        internAccount(name, hash: hash, at: ts, pending: true).id
    }

    /// The account's id; a new one gets fresh state (first seen at `ts`), joins the LRU list
    /// and may evict the least recently active account beyond the cap. `pending`: see
    /// `touchAccount` (it is counted before the eviction, so the new account is never the one
    /// evicted). The state is written through one pointer (one uniqueness check per account).
    @inline(__always)
    mutating func internAccount(_ name: UnsafeRawBufferPointer, hash: UInt64, at ts: Int64, pending: Bool = false) -> (id: Int32, isNew: Bool) {
        let (id, isNew) = accounts.intern(name, hash: hash)
        let i = Int(id)
        if isNew && i == states.count { states.append(AccountState(firstSeen: ts)) }
        if isNew || pending {
            withLRU { st, ends in
                if isNew {
                    st[i] = AccountState(firstSeen: ts)
                    Detector.lruAppend(id, in: st, &ends)
                } else if ts < st[i].firstSeen {
                    st[i].firstSeen = ts
                }
                if pending { st[i].pendingRefs += 1 }
            }
        }
        // Never the new account itself: a caller that has yet to take its reference would go
        // on with a freed id.
        if isNew && accounts.count > config.maxAccounts { evictForCap(sparing: id) }
        return (id, isNew)
    }

    @usableFromInline
    mutating func lruAppend(_ id: Int32) {
        withLRU { Detector.lruAppend(id, in: $0, &$1) }
    }

    @usableFromInline
    mutating func lruUnlink(_ id: Int32) {
        withLRU { Detector.lruUnlink(id, in: $0, &$1) }
    }

    @usableFromInline
    mutating func lruTouch(_ id: Int32) {
        if lruTail == id { return }
        withLRU { Detector.lruTouch(id, in: $0, &$1) }
    }

    /// The LRU list's ends and where the idle-legs walk resumes (`idleScan`), moved together.
    @usableFromInline
    struct LRUEnds {
        var head: Int32
        var tail: Int32
        var scan: Int32
    }

    /// Runs `body` on the states and the LRU ends through one pointer: every write into `states`
    /// checks uniqueness, and a touch (once per leg) rewrites up to five links.
    @inline(__always)
    mutating func withLRU(_ body: (UnsafeMutableBufferPointer<AccountState>, inout LRUEnds) -> Void) {
        var ends = LRUEnds(head: lruHead, tail: lruTail, scan: idleScan)
        states.withUnsafeMutableBufferPointer { body($0, &ends) }
        lruHead = ends.head
        lruTail = ends.tail
        idleScan = ends.scan
    }

    @inline(__always)
    static func lruAppend(_ id: Int32, in st: UnsafeMutableBufferPointer<AccountState>, _ ends: inout LRUEnds) {
        st[Int(id)].lruPrev = ends.tail
        st[Int(id)].lruNext = -1
        if ends.tail >= 0 { st[Int(ends.tail)].lruNext = id } else { ends.head = id }
        ends.tail = id
        if ends.scan < 0 { ends.scan = id }
    }

    @inline(__always)
    static func lruUnlink(_ id: Int32, in st: UnsafeMutableBufferPointer<AccountState>, _ ends: inout LRUEnds) {
        let p = st[Int(id)].lruPrev, n = st[Int(id)].lruNext
        if p >= 0 { st[Int(p)].lruNext = n } else { ends.head = n }
        if n >= 0 { st[Int(n)].lruPrev = p } else { ends.tail = p }
        if ends.scan == id { ends.scan = n }
    }

    /// `lruUnlink` then `lruAppend` (nothing when `id` is already the tail).
    @inline(__always)
    static func lruTouch(_ id: Int32, in st: UnsafeMutableBufferPointer<AccountState>, _ ends: inout LRUEnds) {
        if ends.tail == id { return }
        lruUnlink(id, in: st, &ends)
        lruAppend(id, in: st, &ends)
    }

    mutating func forget(_ id: Int32) {
        // Only an account that raised an alert has cool-down entries (raising sets the flag).
        if states[Int(id)].flags & AccountState.hasCooldown != 0 {
            for r in 0..<plans.count { lastAlertAt.removeValue(forKey: UInt64(UInt32(bitPattern: id)) << 16 | UInt64(r)) }
            cooldownEnds.removeValue(forKey: id)
        }
        var ring = states[Int(id)].legs
        legs.release(&ring)
        withLRU { st, ends in
            st[Int(id)].legs = ring
            Detector.lruUnlink(id, in: st, &ends)
        }
        forgetChains(of: id)
        accounts.remove(id)
    }

    /// Forgets accounts that nothing can matter for any more: no legs within the longest window
    /// (plus `accountMemoryMillis`), no pending transfer, no cool-down running.
    mutating func evictIdle(limit: Int) {
        guard watermark > Int64.min + longestWindow + config.accountMemoryMillis else { return }
        let horizon = watermark - longestWindow - config.accountMemoryMillis
        var budget = limit
        while budget > 0, lruHead >= 0 {
            budget -= 1
            let id = lruHead
            let s = states[Int(id)]
            guard s.lastActive < horizon else { break }
            if s.pendingRefs > 0 || cooldownEnd(of: id, s) >= watermark || gangs.isTied(id) {
                releaseLegsIfIdle(id)
                lruTouch(id)  // still matters; look again later
                continue
            }
            forget(id)
            counters.accountsEvictedIdle &+= 1
        }
        releaseIdleLegs(limit: limit)
    }

    @usableFromInline
    mutating func evictForCap(sparing spared: Int32) {
        var id = lruHead
        var tries = 0
        while id >= 0 && tries < 64 {
            let next = states[Int(id)].lruNext
            if states[Int(id)].pendingRefs == 0 && id != spared {
                forget(id)
                counters.accountsEvictedCap &+= 1
                return
            }
            id = next
            tries += 1
        }
    }

    // MARK: applying transfers

    @usableFromInline
    mutating func apply(_ p: PendingTransfer, inOrder: Bool) {
        counters.applied &+= 1
        let cap = config.maxLegsPerAccount
        let keepFrom = p.ts &- longestWindow
        let credit = Leg(ts: p.ts, amount: p.amount, txHandle: p.txHandle, counterparty: p.payer, isCredit: true,
                         channel: p.channel, ownKind: p.payeeKind, counterpartyKind: p.payerKind)
        let debit = Leg(ts: p.ts, amount: p.amount, txHandle: p.txHandle, counterparty: p.payee, isCredit: false,
                        channel: p.channel, ownKind: p.payerKind, counterpartyKind: p.payeeKind)
        let both = p.sides == .both
        if both {
            addLegs(credit: credit, to: p.payee, debit: debit, to: p.payer, inOrder: inOrder, keepFrom: keepFrom, cap: cap)
        } else {
            if p.sides.contains(.credit) {
                addLeg(credit, to: p.payee, inOrder: inOrder, keepFrom: keepFrom, cap: cap)
            } else {
                keepCounterparty(p.payee, at: p.ts)
            }
            if p.sides.contains(.debit) {
                addLeg(debit, to: p.payer, inOrder: inOrder, keepFrom: keepFrom, cap: cap)
            } else {
                keepCounterparty(p.payer, at: p.ts)
            }
        }
        if inOrder {
            applying = SourcePosition(partition: p.partition, offset: p.offset)
            applyingTime = p.ts
            if both {
                trackHop(p)
                evaluate(account: p.payee, at: p.ts, credit: true)
                evaluate(account: p.payer, at: p.ts, credit: false)
            } else if p.sides.contains(.credit) {
                evaluate(account: p.payee, at: p.ts, credit: true)
            } else {
                trackHop(p)
                evaluate(account: p.payer, at: p.ts, credit: false)
            }
        }
    }

    /// The other account of a leg this partition does not own: no leg, but it is remembered as
    /// long as the owned leg that names it (its id must not be handed to another account).
    mutating func keepCounterparty(_ account: Int32, at ts: Int64) {
        let i = Int(account)
        states[i].pendingRefs -= 1
        if ts > states[i].lastActive { states[i].lastActive = ts }
        lruTouch(account)
    }

    mutating func addLeg(_ leg: Leg, to account: Int32, inOrder: Bool, keepFrom: Int64, cap: Int) {
        var ring = states[Int(account)].legs
        pool(leg, in: &ring, inOrder: inOrder, keepFrom: keepFrom, cap: cap)
        // The state and the LRU links through one pointer.
        withLRU { st, ends in Detector.noteLeg(leg, ring, of: account, in: st, &ends) }
    }

    /// `addLeg` for both legs of a transfer, the two accounts' states written through one
    /// pointer and (in order) the two legs through another: one uniqueness check each per
    /// transfer, not per leg. Same order as two `addLeg`s: when payer and payee are the same
    /// account, the debit goes into the ring the credit left.
    @inline(__always)
    mutating func addLegs(credit: Leg, to payee: Int32, debit: Leg, to payer: Int32, inOrder: Bool, keepFrom: Int64, cap: Int) {
        var creditRing = states[Int(payee)].legs
        var debitRing: LegRing
        if inOrder && payer != payee {
            // The debit's ring is another account's: reserving its slot reads and moves only
            // its own legs, so the credit's slot may be written after it.
            legs.dropBefore(keepFrom, in: &creditRing)
            let c = legs.reserve(at: credit.ts, in: &creditRing, cap: cap)
            debitRing = states[Int(payer)].legs
            legs.dropBefore(keepFrom, in: &debitRing)
            let d = legs.reserve(at: debit.ts, in: &debitRing, cap: cap)
            legs.storage.withUnsafeMutableBufferPointer { st in
                st[c.slot] = credit
                st[d.slot] = debit
            }
            if c.evicted { counters.legsEvicted &+= 1 }
            if d.evicted { counters.legsEvicted &+= 1 }
        } else {
            pool(credit, in: &creditRing, inOrder: inOrder, keepFrom: keepFrom, cap: cap)
            debitRing = payer == payee ? creditRing : states[Int(payer)].legs
            pool(debit, in: &debitRing, inOrder: inOrder, keepFrom: keepFrom, cap: cap)
        }
        withLRU { st, ends in
            Detector.noteLeg(credit, creditRing, of: payee, in: st, &ends)
            Detector.noteLeg(debit, debitRing, of: payer, in: st, &ends)
        }
    }

    /// Puts `leg` into the pool (dropping what left the longest window when in order).
    @inline(__always)
    mutating func pool(_ leg: Leg, in ring: inout LegRing, inOrder: Bool, keepFrom: Int64, cap: Int) {
        if inOrder { legs.dropBefore(keepFrom, in: &ring) }
        let evicted = inOrder ? legs.append(leg, to: &ring, cap: cap) : legs.insertSorted(leg, into: &ring, cap: cap)
        if evicted { counters.legsEvicted &+= 1 }
    }

    /// The account's state after `leg` was added (its ring now `ring`): no longer pending for
    /// it, active at its time, most recently used.
    @inline(__always)
    static func noteLeg(_ leg: Leg, _ ring: LegRing, of account: Int32, in st: UnsafeMutableBufferPointer<AccountState>,
                        _ ends: inout LRUEnds) {
        let i = Int(account)
        st[i].legs = ring
        st[i].pendingRefs -= 1
        if leg.ts > st[i].lastActive { st[i].lastActive = leg.ts }
        Detector.lruTouch(account, in: st, &ends)
    }

    /// Lists the rules each side of a leg triggers (`triggered`), after `plans` changed.
    mutating func indexTriggers() {
        let onCredit = plans.indices.filter { plans[$0].onCredit }, onDebit = plans.indices.filter { plans[$0].onDebit }
        triggered = ContiguousArray((onCredit + onDebit).map { UInt16($0) })
        creditTriggered = onCredit.count
    }

    /// Evaluates the rules a `credit` (else debit) leg of `account` at `t` triggers.
    @inlinable @inline(__always)
    mutating func evaluate(account: Int32, at t: Int64, credit: Bool, chainRulesOnly: Bool = false) {
        let rules = credit ? 0..<creditTriggered : creditTriggered..<triggered.count
        // None (no rules at all: state update alone): not even a call.
        if rules.isEmpty { return }
        evaluate(account: account, at: t, rules: rules, chainRulesOnly: chainRulesOnly)
    }

    /// `evaluate` over `triggered[rules]`: only the rules the leg triggers are looked at.
    @usableFromInline
    mutating func evaluate(account: Int32, at t: Int64, rules triggeredRules: Range<Int>, chainRulesOnly: Bool) {
        for k in triggeredRules {
            let r = Int(triggered[k])
            if chainRulesOnly && !plans[r].needsChain { continue }
            // A chain-only rule that cannot hold without hops is decided by the account's last
            // hop time alone when it took part in none within the window (nearly always).
            if plans[r].holdsWithoutHops == false,
               lastHop(of: account, depth: plans[r].readsChainDepth, payers: plans[r].readsChainPayers) < t &- plans[r].windowMillis {
                continue
            }
            let from = t &- plans[r].windowMillis
            let ring = states[Int(account)].legs
            var tally: WindowTally?
            if !plans[r].chainOnly {
                if ring.count < plans[r].needs.legs { continue }
                // Counted into registers before the plan is copied out or the scan written:
                // most windows fail the needs and stop here.
                let credits = plans[r].creditBits, debits = plans[r].debitBits
                let counted = legs.storage.withUnsafeBufferPointer {
                    WindowTally(counting: $0, ring: ring, from: from, credits: credits, debits: debits)
                }
                guard counted.meets(plans[r].needs) else { continue }
                tally = counted
            }
            let plan = plans[r]
            // -1 until needed: a rule reading chain metrics only looks at the legs when the
            // account took part in a hop within its window (most never do).
            var start = -1
            if let tally {
                _ = scan.run(pool: legs, ring: ring, tally: tally, rule: plan, now: t, firstSeen: states[Int(account)].firstSeen)
                start = tally.start
            }
            if plan.needsChain {
                chainMetrics(account: account, ring: ring, from: from, start: &start,
                             depth: plan.readsChainDepth, payers: plan.readsChainPayers)
                scan.gangSize = plan.conditionReadsGang ? gangSize(of: account) : 0
            }
            if let known = plan.holdsWithoutHops, scan.chainDepth == 0, scan.chainPayers == 0 {
                guard known else { continue }
            } else {
                guard scan.holds(program, plan.condition) else { continue }
            }
            if plan.needsChain && !plan.conditionReadsGang { scan.gangSize = gangSize(of: account) }
            if start < 0 { start = legs.firstIndex(ring, atOrAfter: from) }
            var score = plan.scoreBase
            for s in Int(plan.signalStart)..<Int(plan.signalEnd) where scan.holds(program, signals[s].condition) {
                score += signals[s].weight
            }
            score = min(1, max(0, score))
            var action: String?
            if plan.hasOutcomes {
                guard let band = rules[r].outcomes.last(where: { score >= $0.minScore }) else {
                    counters.firingsBelowBands &+= 1
                    continue
                }
                action = band.action
            }
            let key = UInt64(UInt32(bitPattern: account)) << 16 | UInt64(r)
            if let last = lastAlertAt[key], t < last &+ plan.cooldownMillis {
                counters.alertsSuppressedCooldown &+= 1
                continue
            }
            lastAlertAt[key] = t
            let until = t &+ plan.cooldownMillis
            noteCooldown(of: account, until: until)
            // The alert reports every window statistic, not only those the rule reads.
            _ = scan.run(pool: legs, ring: ring, from: from, rule: plan.reporting, now: t, firstSeen: states[Int(account)].firstSeen)
            scan.completeAll()
            alerts.append(makeAlert(account: account, rule: rules[r], start: start, at: t, score: score, action: action))
            counters.alertsRaised &+= 1
        }
        // The scan must not keep the pool shared, or the next leg appended would copy it.
        scan.releaseLegs()
    }

    mutating func makeAlert(account: Int32, rule: Rule, start: Int, at t: Int64, score: Double, action: String?) -> Alert {
        let ring = states[Int(account)].legs
        var evidence: [String] = []
        var count = 0
        var windowStart = t
        for i in start..<ring.count {
            let leg = legs[ring, i]
            let f = leg.isCredit ? rule.credits : rule.debits
            guard f.accepts(channel: leg.channel, accountKind: leg.ownKind, counterpartyKind: leg.counterpartyKind) else { continue }
            if count == 0 { windowStart = leg.ts }
            count += 1
            if evidence.count < config.evidenceLimit, let id = transferIds.name(leg.txHandle) { evidence.append(id) }
        }
        let name = accounts.name(account)
        let window = AlertWindow(
            start: windowStart, end: t, inCount: scan.inCount, inAmount: Money(units: scan.inAmount),
            distinctPayers: scan.distinctPayers, outCount: scan.outCount, outAmount: Money(units: scan.outAmount),
            distinctPayees: scan.distinctPayees, passThrough: scan.passThrough,
            medianDwellSeconds: scan.dwellMedianMs.map { $0 / 1000 })
        var alert = Alert(
            alertId: Detector.alertId(account: name, rule: rule, start: windowStart, end: t),
            account: name, ruleId: rule.id, ruleVersion: rule.version, severity: rule.severity,
            mode: rule.mode, action: action, score: score, eventTs: t, window: window,
            evidence: evidence, evidenceCount: count, ruleSet: ruleSet)
        alert.source = applying
        describeChain(of: account, ring: ring, start: start, in: &alert)
        return alert
    }

    /// Deterministic alert id: 32 hex digits from the account, `rule@version` and the window.
    public static func alertId(account: String, rule: Rule, start: Int64, end: Int64) -> String {
        var bytes = Array(account.utf8)
        bytes.append(0)
        bytes.append(contentsOf: rule.key.utf8)
        bytes.append(0)
        for v in [start, end] {
            for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
        }
        let a = ByteHash.hash(bytes, seed: ByteHash.alertSeedA)
        let b = ByteHash.hash(bytes, seed: ByteHash.alertSeedB)
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(a) + hex(b)
    }
}
