import MuleCore

/// A transfer as the property tests generate it: plain strings and integer money units.
struct ReferenceTransfer: Sendable, Equatable, CustomStringConvertible {
    var id: String
    var ts: Int64
    var payer: String
    var payee: String
    /// Money units (`Money.scale` per currency unit).
    var amount: Int64
    var channel: Channel = .unknown
    var payerKind: AccountKind = .unknown
    var payeeKind: AccountKind = .unknown

    /// Decimal text for `CoreDriver.send`.
    var amountText: String { Money(units: amount).description }

    var idHash: UInt64 { ByteHash.hash(Array(id.utf8), seed: ByteHash.transferSeed) }

    var description: String {
        "\(id) ts=\(ts) \(payer)(\(payerKind.name))→\(payee)(\(payeeKind.name)) \(amountText) \(channel.name)"
    }
}

/// A deliberately naive model of the detection core's semantics (single source partition,
/// late policy `drop`, nothing ever evicted): every account keeps all its legs in a plain
/// array and every evaluation recomputes every metric from scratch. The property tests hold
/// the optimised `Detector` to this.
struct ReferenceDetector {
    struct Leg {
        var ts: Int64
        var amount: Int64
        var id: String
        var counterparty: String
        var isCredit: Bool
        var channel: Channel
        var ownKind: AccountKind
        var counterpartyKind: AccountKind
    }

    /// Every window quantity, computed over one filtered window.
    struct Metrics {
        var inCount = 0
        var inAmount: Int64 = 0
        var outCount = 0
        var outAmount: Int64 = 0
        var payers: Set<String> = []
        var payees: Set<String> = []
        var matched: Int64 = 0
        /// (dwell ms, units) per consumed piece of a credit.
        var pieces: [(dwell: Int64, units: Int64)] = []
        var creditTimes: [Int64] = []
        var age: Int64 = 0

        init(window: [Leg], now: Int64, firstSeen: Int64) {
            age = now - firstSeen
            var fifo: [(ts: Int64, left: Int64)] = []
            for leg in window {
                if leg.isCredit {
                    inCount += 1
                    inAmount += leg.amount
                    payers.insert(leg.counterparty)
                    fifo.append((leg.ts, leg.amount))
                    creditTimes.append(leg.ts)
                } else {
                    outCount += 1
                    outAmount += leg.amount
                    payees.insert(leg.counterparty)
                    var left = leg.amount
                    var k = 0
                    while left > 0 && k < fifo.count {
                        if fifo[k].left > 0 {
                            let take = min(left, fifo[k].left)
                            fifo[k].left -= take
                            left -= take
                            matched += take
                            pieces.append((leg.ts - fifo[k].ts, take))
                        }
                        k += 1
                    }
                }
            }
        }

        func quantile(_ q: Double) -> Int64? {
            if pieces.isEmpty { return nil }
            // Stable: equal dwells keep their matching order.
            let sorted = pieces.enumerated().sorted { a, b in
                a.element.dwell != b.element.dwell ? a.element.dwell < b.element.dwell : a.offset < b.offset
            }.map(\.element)
            var cumulative: Int64 = 0
            for p in sorted {
                cumulative += p.units
                if Double(cumulative) >= q * Double(matched) { return p.dwell }
            }
            return sorted.last!.dwell
        }

        func burst(_ width: Int64) -> Int {
            var best = 0
            for x in creditTimes {
                best = max(best, creditTimes.filter { $0 >= x && $0 <= x + width }.count)
            }
            return best
        }

        func value(_ m: Metric) -> Double {
            switch m {
            case .inCount: Double(inCount)
            case .inAmount: Double(inAmount) / Double(Money.scale)
            case .distinctPayers: Double(payers.count)
            case .outCount: Double(outCount)
            case .outAmount: Double(outAmount) / Double(Money.scale)
            case .distinctPayees: Double(payees.count)
            case .passThrough: inAmount == 0 ? .nan : Double(matched) / Double(inAmount)
            case .dwellMedian: quantile(0.5).map(Double.init) ?? .nan
            case .dwellP90: quantile(0.9).map(Double.init) ?? .nan
            // 1 − out/in, rounded once: the double nearest the exact ratio compares with a
            // bound's double the way the exact ratio compares with the bound's decimal.
            case .retained: inAmount == 0 ? .nan : Double(inAmount - outAmount) / Double(inAmount)
            case .burst(let w): Double(burst(w))
            case .accountAge: Double(age)
            // Chains and gangs are modelled and tested on their own (ChainTests); the random
            // rules here never read them.
            case .chainDepth, .chainPayers, .gangSize: preconditionFailure("not generated")
            }
        }

        func holds(_ c: Condition) -> Bool {
            switch c {
            case .all(let cs): cs.allSatisfy(holds)
            case .any(let cs): cs.contains(where: holds)
            case .not(let x): !holds(x)
            case .metric(let m, let b):
                { v in !v.isNaN && (b.min.map { v >= $0 } ?? true) && (b.max.map { v <= $0 } ?? true) }(value(m))
            }
        }
    }

    let rules: [Rule]
    let lateness: Int64
    let evidenceLimit: Int

    var seenIds: Set<String> = []
    var pending: [ReferenceTransfer] = []
    var maxTs: Int64?
    var watermark: Int64 = .min
    var legs: [String: [Leg]] = [:]
    var firstSeen: [String: Int64] = [:]
    var lastFired: [String: Int64] = [:]

    var alerts: [Alert] = []
    var late = 0
    var duplicates = 0
    var belowBands = 0
    var suppressed = 0

    init(rules: [Rule], lateness: Int64, evidenceLimit: Int = 32) {
        self.rules = rules
        self.lateness = lateness
        self.evidenceLimit = evidenceLimit
    }

    mutating func ingest(_ t: ReferenceTransfer) {
        if seenIds.contains(t.id) {
            duplicates += 1
            return
        }
        seenIds.insert(t.id)
        if t.ts < watermark {
            late += 1
            return
        }
        pending.append(t)
        for a in [t.payer, t.payee] { firstSeen[a] = min(firstSeen[a] ?? t.ts, t.ts) }
        maxTs = max(maxTs ?? t.ts, t.ts)
        watermark = max(watermark, maxTs! - lateness)
        applyReady(everything: false)
    }

    /// End of input: everything still pending is applied.
    mutating func finish() -> [Alert] {
        applyReady(everything: true)
        return alerts
    }

    mutating func applyReady(everything: Bool) {
        let ready = pending.filter { everything || $0.ts < watermark }
        pending = pending.filter { !(everything || $0.ts < watermark) }
        let ordered = ready.sorted { a, b in a.ts != b.ts ? a.ts < b.ts : a.idHash < b.idHash }
        for t in ordered { apply(t) }
    }

    mutating func apply(_ t: ReferenceTransfer) {
        legs[t.payee, default: []].append(Leg(
            ts: t.ts, amount: t.amount, id: t.id, counterparty: t.payer, isCredit: true,
            channel: t.channel, ownKind: t.payeeKind, counterpartyKind: t.payerKind))
        legs[t.payer, default: []].append(Leg(
            ts: t.ts, amount: t.amount, id: t.id, counterparty: t.payee, isCredit: false,
            channel: t.channel, ownKind: t.payerKind, counterpartyKind: t.payeeKind))
        evaluate(t.payee, at: t.ts, credit: true)
        evaluate(t.payer, at: t.ts, credit: false)
    }

    mutating func evaluate(_ account: String, at t: Int64, credit: Bool) {
        for (r, rule) in rules.enumerated() {
            switch rule.trigger {
            case .credit where !credit, .debit where credit: continue
            default: break
            }
            let window = (legs[account] ?? []).filter { leg in
                let f = leg.isCredit ? rule.credits : rule.debits
                return leg.ts >= t - rule.windowMillis
                    && f.accepts(channel: leg.channel, accountKind: leg.ownKind, counterpartyKind: leg.counterpartyKind)
            }
            let m = Metrics(window: window, now: t, firstSeen: firstSeen[account]!)
            guard m.holds(rule.conditions) else { continue }
            var score = rule.scoreBase
            for s in rule.signals where m.holds(s.condition) { score += s.weight }
            score = min(1, max(0, score))
            var action: String?
            if !rule.outcomes.isEmpty {
                let reached = rule.outcomes.filter { $0.minScore <= score }
                guard let band = reached.max(by: { $0.minScore < $1.minScore }) else {
                    belowBands += 1
                    continue
                }
                action = band.action
            }
            let key = "\(account)\u{0}\(r)"
            if let last = lastFired[key], t < last + rule.cooldownMillis {
                suppressed += 1
                continue
            }
            lastFired[key] = t
            let start = window.first?.ts ?? t
            let windowStats = AlertWindow(
                start: start, end: t, inCount: m.inCount, inAmount: Money(units: m.inAmount),
                distinctPayers: m.payers.count, outCount: m.outCount, outAmount: Money(units: m.outAmount),
                distinctPayees: m.payees.count, passThrough: m.inAmount == 0 ? 0 : Double(m.matched) / Double(m.inAmount),
                medianDwellSeconds: m.quantile(0.5).map { $0 / 1000 })
            alerts.append(Alert(
                alertId: Detector.alertId(account: account, rule: rule, start: start, end: t),
                account: account, ruleId: rule.id, ruleVersion: rule.version, severity: rule.severity,
                mode: rule.mode, action: action, score: score, eventTs: t, window: windowStats,
                evidence: Array(window.prefix(evidenceLimit).map(\.id)), evidenceCount: window.count, ruleSet: ruleSetHash(rules)))
        }
    }
}
