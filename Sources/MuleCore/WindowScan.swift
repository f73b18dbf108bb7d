/// Computes an account's window metrics for one rule in one pass over its legs, reusing
/// scratch buffers so evaluation allocates nothing in steady state.
///
/// Pass-through and dwell use FIFO money matching: each debit spends the oldest unspent
/// credits in the window first; money spent that arrived before the window is not counted.
/// Computes an account's window metrics for one rule, reusing scratch buffers so evaluation
/// allocates nothing in steady state.
///
/// `run` makes one pass for the cheap metrics (counts, amounts, distinct counterparties, credit
/// times). FIFO matching (pass-through) and the dwell quantiles are computed only when a
/// condition first asks for them, in a second pass over the same legs: most windows already
/// fail a cheap condition (too few payers), so most evaluations never match money or sort.
///
/// Pass-through and dwell use FIFO money matching: each debit spends the oldest unspent
/// credits in the window first; money spent that arrived before the window is not counted.
@usableFromInline
struct WindowScan: Sendable {
    /// One matched piece of money: how long it stayed, and how much it was.
    struct DwellPiece {
        var ms: Int64
        var units: Int64
    }

    // Distinct counting: a small open-addressing set of the window's counterparties (payers
    // as `id << 1`, payees as `id << 1 | 1`, in the low 32 bits) stamped with the scan's
    // generation in the high 32 bits, so it needs no clearing between scans. It stays in L1
    // however many accounts exist, where marks indexed by account id cost a cache miss per leg
    // and 8 bytes per account.
    var seen: [UInt64] = []
    var generation: UInt64 = 0
    // FIFO of unspent credits: (ts, remaining units).
    var fifoTs: [Int64] = []
    var fifoLeft: [Int64] = []
    /// Dwell pieces of the last matching pass: the first `dwellCount` (the array is scratch).
    var dwell: [DwellPiece] = []
    var dwellCount = 0
    var creditTimes: [Int64] = []

    // The window being described, kept for the deferred matching pass.
    // Only between `run` and `releaseLegs` (a reference kept longer would make the detector's
    // next append copy the whole pool).
    var legStorage = LineArray<Leg>()
    var ring = LegRing()
    var start = 0
    var credits = LegFilterBits(.any)
    var debits = LegFilterBits(.any)
    var collectDwell = false
    /// No amount in the window is negative (the decoder guarantees it; checked, not assumed).
    var amountsPositive = true
    var matchingDone = true
    var dwellDone = true

    var now: Int64 = 0
    // Chain metrics, filled in by the detector before the conditions run (when a rule reads them).
    var chainDepth = 0
    var chainPayers = 0
    var gangSize = 0
    var firstSeen: Int64 = 0
    var inCount = 0
    var inAmount: Int64 = 0
    var outCount = 0
    var outAmount: Int64 = 0
    var distinctPayers = 0
    var distinctPayees = 0
    var matchedUnits: Int64 = 0
    var dwellMedianMs: Int64?
    var dwellP90Ms: Int64?

    @usableFromInline init() {}

    /// Money matched FIFO from credits to later debits in the window (deferred pass).
    var matched: Int64 {
        mutating get {
            if !matchingDone { match() }
            return matchedUnits
        }
    }

    var dwellMedian: Int64? {
        mutating get {
            if !dwellDone { computeDwell() }
            return dwellMedianMs
        }
    }

    var dwellP90: Int64? {
        mutating get {
            if !dwellDone { computeDwell() }
            return dwellP90Ms
        }
    }

    /// Scans the legs of the ring in the window `[from, …]` with `rule`'s filters, and sets
    /// `start` to the window's first leg. Metrics the rule cannot read are left at zero/nil, as
    /// before: `reporting` plans ask for all of them.
    ///
    /// Returns false, with only the counts and amounts filled in, when they already show that
    /// the rule's conditions cannot hold (`RulePlan.needs`): most windows stop there, after one
    /// pass that only counts, before the distinct sets and credit times are built. That pass
    /// walks back from the newest leg, so it finds the window's start on the way (the legs
    /// before it, up to the longest rule's window, are never read).
    @usableFromInline
    mutating func run(pool: LegPool, ring: LegRing, from: Int64, rule: RulePlan, now: Int64, firstSeen: Int64) -> Bool {
        let tally = pool.storage.withUnsafeBufferPointer {
            WindowTally(counting: $0, ring: ring, from: from, credits: rule.creditBits, debits: rule.debitBits)
        }
        return run(pool: pool, ring: ring, tally: tally, rule: rule, now: now, firstSeen: firstSeen)
    }

    /// `run` with the counting pass already made (`tally`, for the same ring, window and
    /// filters): the detector counts first and comes here only when `rule.needs` are met, so a
    /// rejected window writes nothing into the scan.
    @usableFromInline
    mutating func run(pool: LegPool, ring: LegRing, tally: WindowTally, rule: RulePlan, now: Int64, firstSeen: Int64) -> Bool {
        self.now = now
        self.firstSeen = firstSeen
        credits = rule.creditBits
        debits = rule.debitBits
        distinctPayers = 0; distinctPayees = 0; matchedUnits = 0
        dwellMedianMs = nil; dwellP90Ms = nil
        matchingDone = !rule.needsMatching
        collectDwell = rule.needsDwell
        dwellDone = !rule.needsDwell
        start = tally.start
        amountsPositive = tally.amountsPositive
        inCount = tally.inCount
        inAmount = tally.inAmount
        outCount = tally.outCount
        outAmount = tally.outAmount
        guard tally.meets(rule.needs) else {
            matchingDone = true
            dwellDone = true
            return false
        }
        legStorage = pool.storage
        self.ring = ring
        creditTimes.removeAll(keepingCapacity: true)
        if rule.needsDistinctPayers || rule.needsDistinctPayees || rule.needsCreditTimes {
            describe(payers: rule.needsDistinctPayers, payees: rule.needsDistinctPayees, creditTimes: rule.needsCreditTimes)
        }
        return true
    }

    /// The second pass of `run`: distinct payers/payees and credit times, those asked for.
    mutating func describe(payers needsPayers: Bool, payees needsPayees: Bool, creditTimes needsCreditTimes: Bool) {
        let count = ring.count
        let start = self.start
        let ring = self.ring
        // Set of at most `count - start` keys at load ≤ 1/2.
        var seenMask = 0
        if needsPayers || needsPayees {
            var cap = 16
            while cap < 2 * (count - start) { cap <<= 1 }
            if seen.count < cap { seen = Array(repeating: 0, count: cap) }
            seenMask = cap - 1
            generation &+= 1
            if generation == 1 << 32 {  // stamps wrapped: clear stale ones
                for i in seen.indices { seen[i] = 0 }
                generation = 1
            }
        }
        let stamp = generation << 32
        let credits = self.credits
        let debits = self.debits
        var distinctPayers = 0, distinctPayees = 0
        var seen = self.seen
        self.seen = []
        var creditTimes = self.creditTimes
        self.creditTimes = []
        legStorage.withUnsafeBufferPointer { buf in
            seen.withUnsafeMutableBufferPointer { set in
                /// Adds `key` (32 bits); true if it was not there yet in this scan.
                @inline(__always) func insert(_ key: UInt64) -> Bool {
                    let entry = stamp | key
                    var s = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & seenMask
                    while true {
                        let k = set[s]
                        if k == entry { return false }
                        if k & 0xFFFF_FFFF_0000_0000 != stamp { set[s] = entry; return true }
                        s = (s &+ 1) & seenMask
                    }
                }
                var i = start
                while i < count {
                    let leg = buf[ring.slot(i)]
                    i &+= 1
                    if leg.isCredit {
                        guard needsPayers || needsCreditTimes, credits.accepts(leg) else { continue }
                        if needsPayers, insert(UInt64(UInt32(bitPattern: leg.counterparty) << 1)) { distinctPayers &+= 1 }
                        if needsCreditTimes { creditTimes.append(leg.ts) }
                    } else {
                        guard needsPayees, debits.accepts(leg) else { continue }
                        if insert(UInt64(UInt32(bitPattern: leg.counterparty) << 1 | 1)) { distinctPayees &+= 1 }
                    }
                }
            }
        }
        self.seen = seen
        self.creditTimes = creditTimes
        self.distinctPayers = distinctPayers
        self.distinctPayees = distinctPayees
    }

    /// Drops the scan's reference to the leg pool (the detector is about to append to it).
    @usableFromInline
    mutating func releaseLegs() {
        // Most evaluations never took the reference (the counting pass reads the pool in place).
        if legStorage.capacity > 0 { legStorage = LineArray() }
        ring = LegRing()
    }

    /// Scratch bytes (distinct-counting marks and buffers), for memory accounting.
    var memoryBytes: Int {
        seen.capacity * 8
            + (fifoTs.capacity + fifoLeft.capacity + creditTimes.capacity + dwell.capacity * 2) * 8
    }

    /// Computes every deferred metric now (the alert describes the whole window).
    @usableFromInline
    mutating func completeAll() {
        if !matchingDone { match() }
        if !dwellDone { computeDwell() }
    }

    /// The FIFO matching pass; also collects dwell pieces when the rule reads dwell.
    mutating func match() {
        matchingDone = true
        let n = ring.count - start
        // Scratch sized for the window (a debit and the credits it spends make at most one
        // piece per leg), written through pointers: no append or uniqueness check per leg.
        if fifoTs.count < n {
            fifoTs = Array(repeating: 0, count: max(n, fifoTs.count * 2))
            fifoLeft = Array(repeating: 0, count: fifoTs.count)
        }
        if collectDwell && dwell.count < n {
            dwell = Array(repeating: DwellPiece(ms: 0, units: 0), count: max(n, dwell.count * 2))
        }
        var fifoTs = self.fifoTs, fifoLeft = self.fifoLeft, dwell = self.dwell
        self.fifoTs = []
        self.fifoLeft = []
        self.dwell = []
        let credits = self.credits, debits = self.debits, collectDwell = self.collectDwell
        let ring = self.ring, start = self.start
        var matched: Int64 = 0
        var pieces = 0
        legStorage.withUnsafeBufferPointer { buf in
            fifoTs.withUnsafeMutableBufferPointer { fts in
                fifoLeft.withUnsafeMutableBufferPointer { fleft in
                    dwell.withUnsafeMutableBufferPointer { dw in
                        var fifoHead = 0
                        var fifoCount = 0
                        for i in start..<ring.count {
                            let leg = buf[ring.slot(i)]
                            if leg.isCredit {
                                guard credits.accepts(leg) else { continue }
                                fts[fifoCount] = leg.ts
                                fleft[fifoCount] = leg.amount
                                fifoCount &+= 1
                            } else {
                                guard debits.accepts(leg) else { continue }
                                var left = leg.amount
                                while left > 0 && fifoHead < fifoCount {
                                    let take = min(left, fleft[fifoHead])
                                    left -= take
                                    fleft[fifoHead] -= take
                                    matched &+= take
                                    if collectDwell {
                                        dw[pieces] = DwellPiece(ms: leg.ts - fts[fifoHead], units: take)
                                        pieces &+= 1
                                    }
                                    if fleft[fifoHead] == 0 { fifoHead += 1 }
                                }
                            }
                        }
                    }
                }
            }
        }
        self.fifoTs = fifoTs
        self.fifoLeft = fifoLeft
        self.dwell = dwell
        dwellCount = pieces
        matchedUnits = matched
    }

    mutating func computeDwell() {
        if !matchingDone { match() }
        dwellDone = true
        if dwellCount > 0 {
            // Order among equal dwells does not matter: the quantile is a dwell value.
            let n = dwellCount
            dwell.withUnsafeMutableBufferPointer { WindowScan.heapSortByDwell(UnsafeMutableBufferPointer(rebasing: $0[0..<n])) }
            dwellMedianMs = weightedQuantile(0.5)
            dwellP90Ms = weightedQuantile(0.9)
        }
    }

    /// In-place heap sort by `ms`: O(n log n) and, unlike the standard library's stable sort,
    /// no scratch allocation (busy accounts sort hundreds of pieces per evaluation).
    static func heapSortByDwell(_ a: UnsafeMutableBufferPointer<DwellPiece>) {
        let n = a.count
        if n < 2 { return }
        func siftDown(_ root: Int, _ end: Int) {
            var i = root
            while true {
                var c = 2 &* i &+ 1
                if c >= end { return }
                if c &+ 1 < end && a[c &+ 1].ms > a[c].ms { c &+= 1 }
                if a[c].ms <= a[i].ms { return }
                a.swapAt(i, c)
                i = c
            }
        }
        var i = n / 2 - 1
        while i >= 0 { siftDown(i, n); i -= 1 }
        var end = n - 1
        while end > 0 {
            a.swapAt(0, end)
            siftDown(0, end)
            end -= 1
        }
    }

    /// Smallest dwell such that at least `q` of the matched money left within it.
    func weightedQuantile(_ q: Double) -> Int64 {
        let total = Double(matchedUnits)
        var acc: Int64 = 0
        for p in dwell[0..<dwellCount] {
            acc += p.units
            if Double(acc) >= q * total { return p.ms }
        }
        return dwell[dwellCount - 1].ms
    }

    /// Pass-through for the alert (0 when nothing came in); valid after `completeAll()`.
    var passThrough: Double { inAmount > 0 ? Double(matchedUnits) / Double(inAmount) : 0 }

    /// Most credits inside any sub-window `[x, x + width]` of the window.
    func burst(_ width: Int64) -> Int {
        var best = 0
        var lo = 0
        for hi in 0..<creditTimes.count {
            while creditTimes[hi] - creditTimes[lo] > width { lo += 1 }
            best = max(best, hi - lo + 1)
        }
        return best
    }

    @usableFromInline
    mutating func value(_ slot: ConditionProgram.Slot, burstWidth: Int64) -> Double {
        switch slot {
        case .inCount: Double(inCount)
        case .inAmount: Double(inAmount) / Double(Money.scale)
        case .distinctPayers: Double(distinctPayers)
        case .outCount: Double(outCount)
        case .outAmount: Double(outAmount) / Double(Money.scale)
        case .distinctPayees: Double(distinctPayees)
        case .passThrough: inAmount > 0 ? Double(matched) / Double(inAmount) : .nan
        case .dwellMedian: dwellMedian.map(Double.init) ?? .nan
        case .dwellP90: dwellP90.map(Double.init) ?? .nan
        // One rounding only (integer difference, then divide), so a cut of exactly 1.8 % meets
        // a `max: 0.018` bound; `1 - out / in` rounds twice and lands just above it.
        case .retained: inAmount > 0 ? Double(inAmount &- outAmount) / Double(inAmount) : .nan
        case .burst: Double(burst(burstWidth))
        case .accountAge: Double(now - firstSeen)
        case .chainDepth: Double(chainDepth)
        case .chainPayers: Double(chainPayers)
        case .gangSize: Double(gangSize)
        }
    }

    /// Whether the condition tree rooted at op `root` of `program` holds for the scanned window.
    @usableFromInline
    mutating func holds(_ program: ConditionProgram, _ root: Int32) -> Bool {
        program.ops.withUnsafeBufferPointer { holds($0, Int(root)) }
    }

    mutating func holds(_ ops: UnsafeBufferPointer<ConditionProgram.Op>, _ i: Int) -> Bool {
        let op = ops[i]
        switch op.kind {
        case .all:
            var j = i + 1
            let end = i + Int(op.size)
            while j < end {
                if !holds(ops, j) { return false }
                j += Int(ops[j].size)
            }
            return true
        case .any:
            var j = i + 1
            let end = i + Int(op.size)
            while j < end {
                if holds(ops, j) { return true }
                j += Int(ops[j].size)
            }
            return false
        case .not:
            return !holds(ops, i + 1)
        case .metric:
            // Matched money is at most what went out (every amount is positive), so a window
            // whose outflow is already below the bound fails without matching. Same rounding as
            // the exact value: one division by the same denominator, and division is monotone.
            if op.slot == .passThrough && !matchingDone && amountsPositive && inAmount > 0
                && Double(Swift.min(inAmount, outAmount)) / Double(inAmount) < op.min {
                return false
            }
            // Same as `Bound.contains`: NaN (an undefined metric) never satisfies a bound.
            let v = value(op.slot, burstWidth: op.burstWidth)
            return !v.isNaN && !(v < op.min) && !(v > op.max)
        }
    }
}

/// The counting pass of a window scan: the rule's filtered credits and debits in `[from, …]`
/// and their totals, and where the window starts. It walks back from the newest leg and stops
/// at the first leg before `from`, so it finds the start on the way and never reads older legs.
/// A plain value computed into registers: most windows are rejected on it alone (`meets`).
@usableFromInline
struct WindowTally: Sendable {
    /// Index in the ring of the window's first leg.
    @usableFromInline var start: Int
    @usableFromInline var inCount: Int
    @usableFromInline var inAmount: Int64
    @usableFromInline var outCount: Int
    @usableFromInline var outAmount: Int64
    /// No amount in the window is negative (see `WindowScan.amountsPositive`).
    @usableFromInline var amountsPositive: Bool

    @inlinable @inline(__always)
    init(counting buf: UnsafeBufferPointer<Leg>, ring: LegRing, from: Int64, credits: LegFilterBits, debits: LegFilterBits) {
        var inCount = 0, outCount = 0
        var inAmount: Int64 = 0, outAmount: Int64 = 0
        var signs: Int64 = 0
        var i = ring.count
        while i > 0 {
            let leg = buf[ring.slot(i &- 1)]
            if leg.ts < from { break }
            i &-= 1
            signs |= leg.amount
            if leg.isCredit {
                guard credits.accepts(leg) else { continue }
                inCount &+= 1
                inAmount &+= leg.amount
            } else {
                guard debits.accepts(leg) else { continue }
                outCount &+= 1
                outAmount &+= leg.amount
            }
        }
        self.start = i
        self.inCount = inCount
        self.inAmount = inAmount
        self.outCount = outCount
        self.outAmount = outAmount
        self.amountsPositive = signs >= 0
    }

    /// Whether the window meets a rule's needs (false: its conditions cannot hold).
    @inlinable @inline(__always)
    func meets(_ needs: WindowNeeds) -> Bool {
        needs.met(credits: inCount, debits: outCount, inUnits: inAmount)
    }
}

/// What a rule's conditions need of a window before they can possibly hold, derived once from
/// the condition tree: at least `credits` legs passing the rule's credit filter, `debits`
/// passing its debit filter, and filtered credits worth at least `inAmount` currency units.
/// Each is implied by the conditions (`distinct_payers ≥ 5` needs five credits; a ratio or a
/// dwell is undefined — and fails every bound — without a credit, or without a debit when it
/// must be above zero), so a window short of them fails the rule whatever else it holds: the
/// detector checks them with one cheap pass (no distinct set, no matching) before the full scan.
@usableFromInline
struct WindowNeeds: Sendable, Equatable {
    @usableFromInline var credits: Int
    @usableFromInline var debits: Int
    /// Compared exactly as the `in_amount` metric is (`Double(units) / scale`); -∞ when absent.
    @usableFromInline var inAmount: Double

    @usableFromInline static let none = WindowNeeds(credits: 0, debits: 0, inAmount: -.infinity)

    @usableFromInline init(credits: Int, debits: Int, inAmount: Double) {
        self.credits = credits
        self.debits = debits
        self.inAmount = inAmount
    }

    /// Fewest legs of any kind the window must hold (checked before any pass).
    @inlinable var legs: Int { credits + debits }

    /// Needs of every condition at once (`all`).
    func and(_ o: WindowNeeds) -> WindowNeeds {
        WindowNeeds(credits: max(credits, o.credits), debits: max(debits, o.debits), inAmount: max(inAmount, o.inAmount))
    }

    /// Needs of at least one of two conditions (`any`): only what both need.
    func or(_ o: WindowNeeds) -> WindowNeeds {
        WindowNeeds(credits: min(credits, o.credits), debits: min(debits, o.debits), inAmount: min(inAmount, o.inAmount))
    }

    /// Whether a window with these filtered counts and credit total meets the needs.
    @inlinable @inline(__always)
    func met(credits c: Int, debits d: Int, inUnits: Int64) -> Bool {
        c >= credits && d >= debits && !(Double(inUnits) / Double(Money.scale) < inAmount)
    }

    /// The needs of condition `c` (see the type's comment for why each one is implied).
    init(_ c: Condition) {
        switch c {
        case .all(let cs):
            self = cs.reduce(.none) { $0.and(WindowNeeds($1)) }
        case .any(let cs):
            // An empty `any` never holds; needing nothing is merely weaker than that.
            guard let first = cs.first else { self = .none; return }
            self = cs.dropFirst().reduce(WindowNeeds(first)) { $0.or(WindowNeeds($1)) }
        case .not:
            // Negation turns "needs" into "forbids": nothing can be required.
            self = .none
        case .metric(let m, let b):
            // At least `⌈min⌉` legs for a count bounded below (a huge bound is clamped: no window
            // holds 2^31 legs either).
            let atLeast = Int(Swift.min(Swift.max(0, (b.min ?? 0).rounded(.up)), Double(Int32.max)))
            let positive = (b.min ?? 0) > 0
            self = .none
            switch m {
            case .inCount, .distinctPayers, .burst: credits = atLeast
            case .outCount, .distinctPayees: debits = atLeast
            case .inAmount:
                if let lo = b.min { inAmount = lo }
            case .passThrough:
                // NaN with nothing received; zero with nothing sent on.
                credits = 1
                debits = positive ? 1 : 0
            case .dwellMedian, .dwellP90:
                // Undefined unless some money was received and then sent on.
                credits = 1
                debits = 1
            case .retained:
                credits = 1
            case .outAmount, .accountAge, .chainDepth, .chainPayers, .gangSize:
                break
            }
        }
    }
}

/// A rule's leg filter compiled into one bit per (channel, own kind, counterparty kind): one
/// load and shift per leg instead of three mask tests.
@usableFromInline
struct LegFilterBits: Sendable, Equatable {
    @usableFromInline var low: UInt64 = 0
    @usableFromInline var high: UInt64 = 0

    @usableFromInline init(_ f: LegFilter) {
        precondition(Channel.allCases.allSatisfy { $0.rawValue < 8 } && AccountKind.allCases.allSatisfy { $0.rawValue < 4 },
                     "LegFilterBits packs channels in 3 bits and kinds in 2")
        for c in Channel.allCases {
            for own in AccountKind.allCases {
                for cp in AccountKind.allCases where f.accepts(channel: c, accountKind: own, counterpartyKind: cp) {
                    let i = LegFilterBits.index(c, own, cp)
                    if i < 64 { low |= 1 << UInt64(i) } else { high |= 1 << UInt64(i - 64) }
                }
            }
        }
    }

    @inlinable @inline(__always)
    static func index(_ c: Channel, _ own: AccountKind, _ cp: AccountKind) -> Int {
        Int(c.rawValue) &<< 4 | Int(own.rawValue) &<< 2 | Int(cp.rawValue)
    }

    @inlinable @inline(__always)
    func accepts(_ leg: Leg) -> Bool {
        let i = LegFilterBits.index(leg.channel, leg.ownKind, leg.counterpartyKind)
        return ((i < 64 ? low : high) &>> UInt64(i & 63)) & 1 != 0
    }
}
