/// Computes an account's window metrics for one rule in one pass over its legs, reusing
/// scratch buffers so evaluation allocates nothing in steady state.
///
/// Pass-through and dwell use FIFO money matching: each debit spends the oldest unspent
/// credits in the window first; money spent that arrived before the window is not counted.
@usableFromInline
struct WindowScan: Sendable {
    // Distinct-counting marks indexed by account id, stamped with a generation number.
    var payerMarks: [UInt32] = []
    var payeeMarks: [UInt32] = []
    var generation: UInt32 = 0
    // FIFO of unspent credits: (ts, remaining units).
    var fifoTs: [Int64] = []
    var fifoLeft: [Int64] = []
    // Dwell pieces: (dwell ms, matched units).
    var dwellMs: [Int64] = []
    var dwellUnits: [Int64] = []
    var creditTimes: [Int64] = []

    var now: Int64 = 0
    var firstSeen: Int64 = 0
    var inCount = 0
    var inAmount: Int64 = 0
    var outCount = 0
    var outAmount: Int64 = 0
    var distinctPayers = 0
    var distinctPayees = 0
    var matched: Int64 = 0
    var dwellMedian: Int64?
    var dwellP90: Int64?

    @usableFromInline init() {}

    @usableFromInline
    mutating func ensureCapacity(_ accounts: Int) {
        if payerMarks.count < accounts {
            let n = max(accounts, payerMarks.count * 2, 1024)
            payerMarks.append(contentsOf: repeatElement(0, count: n - payerMarks.count))
            payeeMarks.append(contentsOf: repeatElement(0, count: n - payeeMarks.count))
        }
    }

    @usableFromInline
    mutating func run(legs: LegRing, start: Int, rule: RulePlan, now: Int64, firstSeen: Int64) {
        self.now = now
        self.firstSeen = firstSeen
        inCount = 0; inAmount = 0; outCount = 0; outAmount = 0
        distinctPayers = 0; distinctPayees = 0; matched = 0
        dwellMedian = nil; dwellP90 = nil
        generation &+= 1
        if generation == 0 {  // wrapped: clear stale stamps
            for i in payerMarks.indices { payerMarks[i] = 0; payeeMarks[i] = 0 }
            generation = 1
        }
        fifoTs.removeAll(keepingCapacity: true)
        fifoLeft.removeAll(keepingCapacity: true)
        dwellMs.removeAll(keepingCapacity: true)
        dwellUnits.removeAll(keepingCapacity: true)
        creditTimes.removeAll(keepingCapacity: true)
        var fifoHead = 0
        let credits = rule.credits
        let debits = rule.debits
        for i in start..<legs.count {
            let leg = legs[i]
            if leg.isCredit {
                guard credits.accepts(channel: leg.channel, accountKind: leg.ownKind, counterpartyKind: leg.counterpartyKind) else { continue }
                inCount += 1
                inAmount &+= leg.amount
                if rule.needsDistinct, payerMarks[Int(leg.counterparty)] != generation {
                    payerMarks[Int(leg.counterparty)] = generation
                    distinctPayers += 1
                }
                if rule.needsMatching {
                    fifoTs.append(leg.ts)
                    fifoLeft.append(leg.amount)
                }
                if rule.needsCreditTimes { creditTimes.append(leg.ts) }
            } else {
                guard debits.accepts(channel: leg.channel, accountKind: leg.ownKind, counterpartyKind: leg.counterpartyKind) else { continue }
                outCount += 1
                outAmount &+= leg.amount
                if rule.needsDistinct, payeeMarks[Int(leg.counterparty)] != generation {
                    payeeMarks[Int(leg.counterparty)] = generation
                    distinctPayees += 1
                }
                if rule.needsMatching {
                    var left = leg.amount
                    while left > 0 && fifoHead < fifoTs.count {
                        let take = min(left, fifoLeft[fifoHead])
                        left -= take
                        fifoLeft[fifoHead] -= take
                        matched &+= take
                        if rule.needsDwell {
                            dwellMs.append(leg.ts - fifoTs[fifoHead])
                            dwellUnits.append(take)
                        }
                        if fifoLeft[fifoHead] == 0 { fifoHead += 1 }
                    }
                }
            }
        }
        if rule.needsDwell && !dwellMs.isEmpty {
            sortDwell()
            dwellMedian = weightedQuantile(0.5)
            dwellP90 = weightedQuantile(0.9)
        }
    }

    // Insertion sort by dwell (pieces are few: bounded by the legs in one window).
    mutating func sortDwell() {
        let n = dwellMs.count
        if n < 2 { return }
        for i in 1..<n {
            let d = dwellMs[i]
            let u = dwellUnits[i]
            var j = i
            while j > 0 && dwellMs[j - 1] > d {
                dwellMs[j] = dwellMs[j - 1]
                dwellUnits[j] = dwellUnits[j - 1]
                j -= 1
            }
            dwellMs[j] = d
            dwellUnits[j] = u
        }
    }

    /// Smallest dwell such that at least `q` of the matched money left within it.
    func weightedQuantile(_ q: Double) -> Int64 {
        let total = Double(matched)
        var acc: Int64 = 0
        for i in 0..<dwellMs.count {
            acc += dwellUnits[i]
            if Double(acc) >= q * total { return dwellMs[i] }
        }
        return dwellMs[dwellMs.count - 1]
    }

    var passThrough: Double { inAmount > 0 ? Double(matched) / Double(inAmount) : 0 }

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
    func value(_ slot: ConditionProgram.Slot, burstWidth: Int64) -> Double {
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
        case .retained: inAmount > 0 ? 1 - Double(outAmount) / Double(inAmount) : .nan
        case .burst: Double(burst(burstWidth))
        case .accountAge: Double(now - firstSeen)
        }
    }

    /// Whether the condition tree rooted at op `root` of `program` holds for the scanned window.
    @usableFromInline
    func holds(_ program: ConditionProgram, _ root: Int32) -> Bool {
        program.ops.withUnsafeBufferPointer { holds($0, Int(root)) }
    }

    func holds(_ ops: UnsafeBufferPointer<ConditionProgram.Op>, _ i: Int) -> Bool {
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
            // Same as `Bound.contains`: NaN (an undefined metric) never satisfies a bound.
            let v = value(op.slot, burstWidth: op.burstWidth)
            return !v.isNaN && !(v < op.min) && !(v > op.max)
        }
    }
}
