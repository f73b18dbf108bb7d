/// How one debit of a forwarder was covered by money it received in the hop window.
@usableFromInline
struct CoveredDebit: Sendable {
    var leg: Int32
    var coverage: Double
    var delayMillis: Int64
    var parent: UInt64
    var parentDepth: UInt8
    /// Distinct payers (0, 1, or 2 meaning "two or more") of the credits before it.
    var sources: Int
    /// Its matched credits' payers, as a range of `hopPayers`.
    var payers: Range<Int32>
}

/// A gang as reports show it.
public struct GangSummary: Sendable, Equatable {
    /// Stable id (`G-` and 12 hex digits), the same one alerts carry.
    public var id: String
    /// Member account ids, sorted.
    public var members: [String]
    /// Money moved along the hops that tied the gang: chain hops from the second layer down and
    /// mule-style payments into a shared sink (first-layer hops feeding a chain are not counted,
    /// so the volume is not counted twice when a mule passes money on in several transfers).
    public var volume: Money
    /// Event time of the first and the last tie.
    public var first: Int64
    public var last: Int64

    public var size: Int { members.count }
}

/// Following money through layers of accounts: hops, chains and gangs.
///
/// When a transfer is applied, its payer's recent legs (within the hop window) are matched
/// FIFO: if the money it sends on is almost all money it received in the hop window
/// (`minCoverage`) and it has passed on most of what came in (`minPassOn`), the transfer is a
/// *hop*. It is *mule-style* when the money came from two or more payers (or from a chain) and
/// the forwarder kept about a commission (`commissionMin…commissionMax` of what came in). A
/// hop whose money came from an earlier mule-style hop extends that chain (`depth` + 1). Chains
/// of `minChainHops` or more, two mule-style forwarders paying the same account (a shared
/// sink), and two mule-style forwarders passing on money from the same payer (a shared
/// upstream payer) tie accounts into gangs. Transfers to or from merchants are spending, not
/// layering, and never make hops.
extension Detector {
    mutating func trackHop(_ p: PendingTransfer) {
        guard p.payer != p.payee, p.payerKind != .merchant, p.payeeKind != .merchant else { return }
        let cfg = config.chains
        let ring = states[Int(p.payer)].legs
        let n = ring.count
        guard n >= 2 else { return }
        // Totals first, without matching: FIFO matching can cover at most what came in, and
        // the pass-on share is a ratio of the same totals, so most transfers (money not
        // received and passed on within the hop window) stop here, before any hop lookup.
        // Walking back from the newest leg finds the window's start on the way.
        let cutoff = p.ts &- cfg.hopWindowMillis
        // (Through a pointer: the ring's slots are in the pool, no bounds check per leg.)
        var (inflow, outflow, start) = legs.storage.withUnsafeBufferPointer { pool in
            var inflow: Int64 = 0
            var outflow: Int64 = 0
            var start = n
            while start > 0 {
                let leg = pool[ring.slot(start &- 1)]
                if leg.ts < cutoff { break }
                if leg.isCredit { inflow &+= leg.amount } else { outflow &+= leg.amount }
                start &-= 1
            }
            return (inflow, outflow, start)
        }
        guard start < n - 1, inflow > 0, !(Double(inflow) / Double(legs[ring, n - 1].amount) < cfg.minCoverage),
              Double(outflow) / Double(inflow) >= cfg.minPassOn else { return }
        // FIFO over the payer's legs in the hop window, this debit (the last leg) included:
        // every debit spends the oldest money still unspent. Each debit's match is noted so that
        // when this transfer turns out to be a hop, earlier covered forwards of the same batch
        // (a mule fanning out in several transfers) become hops too. The scratch arrays are
        // sized for the window first (each holds at most one entry per leg: a matching step
        // spends a credit or ends a debit) and written through pointers: appending entry by
        // entry cost a uniqueness check per write.
        let w = n - start
        Detector.ensureCount(&chainFifo, w, (0, 0))
        Detector.ensureCount(&chainDebits, w, CoveredDebit(leg: 0, coverage: 0, delayMillis: 0, parent: 0, parentDepth: 0,
                                                          sources: 0, payers: 0..<0))
        Detector.ensureCount(&hopPayers, w, 0)
        var debitCount = 0
        (inflow, outflow, debitCount) = chainFifo.withUnsafeMutableBufferPointer { fifo in
            chainDebits.withUnsafeMutableBufferPointer { debits in
                hopPayers.withUnsafeMutableBufferPointer { payers in
                    legs.storage.withUnsafeBufferPointer { pool in
                        Detector.matchFifo(ring, start..<n, in: pool, hops: hops, fifo: fifo, debits: debits, payers: payers)
                    }
                }
            }
        }
        guard inflow > 0, debitCount > 0, Int(chainDebits[debitCount - 1].leg) == n - 1,
              chainDebits[debitCount - 1].coverage >= cfg.minCoverage,
              Double(outflow) / Double(inflow) >= cfg.minPassOn else { return }
        let retained = Double(inflow &- outflow) / Double(inflow)
        for k in 0..<debitCount where chainDebits[k].coverage >= cfg.minCoverage {
            let d = chainDebits[k]
            let leg = legs[ring, Int(d.leg)]
            guard leg.counterpartyKind != .merchant, leg.counterparty != p.payer,
                  hops.hop(forTransfer: leg.txHandle) == nil else { continue }
            recordHop(from: p.payer, debit: leg, covered: d, retained: retained, now: p.ts)
        }
    }

    /// FIFO matching of the legs `range` of `ring` (see `trackHop`): credits queue in `fifo`,
    /// each debit spends the oldest and is described in `debits`, its matched credits' payers
    /// in `payers`. Returns the window's totals and the number of debits. (Static over what it
    /// reads: the scratch arrays are being written while it runs.)
    @inline(__always)
    static func matchFifo(_ ring: LegRing, _ range: Range<Int>, in pool: UnsafeBufferPointer<Leg>, hops: HopStore, fifo: UnsafeMutableBufferPointer<(index: Int32, left: Int64)>,
                   debits: UnsafeMutableBufferPointer<CoveredDebit>, payers: UnsafeMutableBufferPointer<Int32>)
        -> (inflow: Int64, outflow: Int64, debits: Int) {
        var inflow: Int64 = 0
        var outflow: Int64 = 0
        var head = 0
        var fifoCount = 0
        var debitCount = 0
        var payerCount = 0
        var firstPayer: Int32 = -1
        var sources = 0
        for i in range {
            let leg = pool[ring.slot(i)]
            if leg.isCredit {
                inflow &+= leg.amount
                fifo[fifoCount] = (Int32(i), leg.amount)
                fifoCount &+= 1
                if sources == 0 { firstPayer = leg.counterparty; sources = 1 } else if sources == 1 && leg.counterparty != firstPayer { sources = 2 }
                continue
            }
            outflow &+= leg.amount
            var left = leg.amount
            var matched: Int64 = 0
            var weightedDelay: Double = 0
            var parentSeq = Hop.none
            var parentDepth: UInt8 = 0
            let payersFrom = payerCount
            while left > 0 && head < fifoCount {
                let take = min(left, fifo[head].left)
                let credit = pool[ring.slot(Int(fifo[head].index))]
                left -= take
                matched &+= take
                weightedDelay += Double(take) * Double(leg.ts &- credit.ts)
                payers[payerCount] = credit.counterparty
                payerCount &+= 1
                // Only a mule-style hop extends a chain: money a single person forwarded (a
                // parent passing on part of a salary) does not make the next forward a layer.
                if let (seq, h) = hops.hop(forTransfer: credit.txHandle), h.muleStyle,
                   h.depth > parentDepth || parentSeq == Hop.none {
                    parentSeq = seq
                    parentDepth = h.depth
                }
                fifo[head].left -= take
                if fifo[head].left == 0 { head += 1 }
            }
            debits[debitCount] = CoveredDebit(
                leg: Int32(i), coverage: Double(matched) / Double(leg.amount),
                delayMillis: matched > 0 ? Int64(weightedDelay / Double(matched)) : 0,
                parent: parentSeq, parentDepth: parentDepth, sources: sources,
                payers: Int32(payersFrom)..<Int32(payerCount))
            debitCount &+= 1
        }
        return (inflow, outflow, debitCount)
    }

    /// Grows a scratch array to at least `n` entries (by doubling; never shrinks it).
    @inline(__always)
    static func ensureCount<T>(_ a: inout [T], _ n: Int, _ filler: T) {
        if a.count < n { a.append(contentsOf: repeatElement(filler, count: max(n, 2 * a.count) - a.count)) }
    }

    /// Records one hop and the gang ties it makes.
    mutating func recordHop(from payer: Int32, debit leg: Leg, covered d: CoveredDebit, retained: Double, now: Int64) {
        let cfg = config.chains
        let depth = d.parentDepth == 255 ? 255 : d.parentDepth + 1
        let muleStyle = (d.sources >= 2 || depth >= 2) && retained >= cfg.commissionMin && retained <= cfg.commissionMax
        let seq = hops.add(Hop(
            from: payer, to: leg.counterparty, ts: leg.ts, amount: leg.amount, delayMillis: d.delayMillis,
            retained: retained, depth: depth, muleStyle: muleStyle, parent: d.parent, txHandle: leg.txHandle))
        states[Int(payer)].lastHop.any = max(states[Int(payer)].lastHop.any, leg.ts)
        let payee = leg.counterparty
        // When the work is split by account, what concerns the payee (and the gang ties its
        // owner makes) is done by its owner when this hop's link arrives (`applyLink`).
        let payeeHere = owns(payee)
        if payeeHere {
            states[Int(payee)].lastHop.any = max(states[Int(payee)].lastHop.any, leg.ts)
            if muleStyle { states[Int(payee)].lastHop.muleIn = max(states[Int(payee)].lastHop.muleIn, leg.ts) }
        } else {
            send(.hop(transferId: transferIds.name(leg.txHandle) ?? "?", chain: linkChain(endingAt: seq), at: now),
                 about: accounts.name(payee), to: partition(of: payee))
        }
        guard muleStyle else { return }
        let earlier = nameOrder()
        let horizon = cfg.gangHorizonMillis
        // (a) a chain long enough: tie this hop and the one that fed it. Earlier hops of the chain
        // were tied when they were recorded (or, for the chain's first hop, are tied here when
        // the second is), so the gang holds the whole chain with at most two ties per hop.
        if Int(depth) >= cfg.minChainHops {
            tieEverywhere(payer, payee, at: now, amount: leg.amount, earlier: earlier)
            if let parent = hops.hop(d.parent), stillSameAccount(parent.from, since: parent.ts),
               stillSameAccount(parent.to, since: parent.ts) {
                tieEverywhere(parent.from, parent.to, at: now, amount: 0, earlier: earlier)
            }
        }
        // (b) a shared sink: another mule-style forwarder paid the same account recently.
        if payeeHere {
            if let prev = lastForwarderInto[payee], prev.from != payer, now &- prev.ts <= horizon,
               stillSameAccount(prev.from, since: prev.ts) {
                tieEverywhere(prev.from, payee, at: now, amount: 0, earlier: earlier)
                tieEverywhere(payer, payee, at: now, amount: leg.amount, earlier: earlier)
            }
            lastForwarderInto[payee] = (payer, now)
        }
        // (c) a shared upstream payer: another mule-style forwarder passed on this payer's money.
        for k in d.payers {
            let upstream = hopPayers[Int(k)]
            guard owns(upstream) else {
                send(.upstream(upstream: accounts.name(upstream), forwarder: accounts.name(payer), at: now),
                     about: accounts.name(upstream), to: partition(of: upstream))
                continue
            }
            if let prev = lastForwarderOf[upstream], prev.by != payer, now &- prev.ts <= horizon,
               stillSameAccount(prev.by, since: prev.ts) {
                tieEverywhere(prev.by, payer, at: now, amount: 0, earlier: earlier)
            }
            lastForwarderOf[upstream] = (payer, now)
        }
    }

    /// Orders accounts by id bytes: the tie-break that keeps gang ids independent of interning.
    func nameOrder() -> (Int32, Int32) -> Bool {
        let table = accounts
        return { a, b in table.withName(a) { x in table.withName(b) { y in x.lexicographicallyPrecedes(y) } } }
    }

    /// The hops of the chain ending at `seq`, first hop first, from the first hop whose accounts
    /// are all still tracked: under the account cap (`maxAccounts`) an account of an older hop
    /// can have been forgotten, its id free or handed to another account since. Such a chain is
    /// reported from the account after the last forgotten one, never with a wrong or freed name.
    func knownChain(endingAt seq: UInt64) -> ArraySlice<Hop> {
        let chain = hops.chain(endingAt: seq)
        var first = chain.count
        while first > 0 {
            let h = chain[first - 1]
            guard stillSameAccount(h.from, since: h.ts), stillSameAccount(h.to, since: h.ts) else { break }
            first -= 1
        }
        return chain[first...]
    }

    /// False when `id` was forgotten and handed to another account after `ts`.
    func stillSameAccount(_ id: Int32, since ts: Int64) -> Bool {
        accounts.contains(id) && states[Int(id)].firstSeen <= ts
    }

    mutating func expireChains() {
        let now = min(watermark, maxSeen)
        guard now > Int64.min + max(config.chains.hopMemoryMillis, config.chains.gangHorizonMillis) else { return }
        hops.expire(before: now - config.chains.hopMemoryMillis)
        // The name order copies the account table (retains): build it only when a rebuild is due.
        if gangs.isDueForExpiry(watermark: now) { gangs.expire(watermark: now, earlier: nameOrder()) }
    }

    mutating func forgetChains(of id: Int32) {
        lastForwarderInto.removeValue(forKey: id)
        lastForwarderOf.removeValue(forKey: id)
        if gangs.isTied(id) {
            gangs.remove(id, earlier: nameOrder())
        }
    }

    /// Fills the scan's chain depth and chain payers (those asked for) for the legs in the window
    /// `[from, …]`; `start` is the window's first leg, found here (and handed back) if still -1
    /// and needed.
    mutating func chainMetrics(account: Int32, ring: LegRing, from: Int64, start: inout Int, depth wantDepth: Bool, payers wantPayers: Bool) {
        scan.chainDepth = 0
        scan.chainPayers = 0
        // Most accounts never took part in a hop, and fewer still received a mule-style one:
        // one array read instead of one lookup per leg. Depth counts the account's own hops,
        // payers the mule-style hops into it.
        let last = lastHop(of: account, depth: wantDepth, payers: wantPayers)
        guard last >= from else { return }
        if start < 0 { start = legs.firstIndex(ring, atOrAfter: from) }
        guard start < ring.count, last >= legs[ring, start].ts else { return }
        // Through a pointer into the pool and lent copies of the hop store and the scratch
        // array (a few retains per call): a mule account walks tens of legs here per evaluation,
        // most of them hops, and a subscript per leg cost bounds and uniqueness checks.
        var matched = chainMatched
        chainMatched = []
        matched.removeAll(keepingCapacity: true)
        let hops = self.hops
        let first = start
        let depth = legs.storage.withUnsafeBufferPointer { pool in
            var depth = 0
            var i = first
            while i < ring.count {
                let leg = pool[ring.slot(i)]
                i &+= 1
                // A hop raises its sender's `any` and (mule-style) its receiver's `muleIn` to the
                // transfer's time, and the legs are in time order: none after `last` is one we count.
                if leg.ts > last { break }
                if leg.isCredit ? !wantPayers : !wantDepth { continue }
                guard let (_, h) = hops.hop(forTransfer: leg.txHandle) else { continue }
                if !leg.isCredit && h.from == account { depth = max(depth, Int(h.depth)) }
                if leg.isCredit && h.to == account && h.muleStyle && !matched.contains(h.from) {
                    matched.append(h.from)
                }
            }
            return depth
        }
        scan.chainDepth = depth
        scan.chainPayers = matched.count
        chainMatched = matched
    }

    /// Latest time the account made a hop (`depth`) or received a mule-style one (`payers`):
    /// no leg after it, and none at all when it is before the window, counts for chain metrics.
    @inline(__always)
    func lastHop(of account: Int32, depth wantDepth: Bool, payers wantPayers: Bool) -> Int64 {
        let times = states[Int(account)].lastHop
        return max(wantDepth ? times.any : .min, wantPayers ? times.muleIn : .min)
    }

    /// Members of the account's gang (0 when it is in none).
    mutating func gangSize(of account: Int32) -> Int {
        gangs.isTied(account) ? gangs.component(of: account)?.size ?? 0 : 0
    }

    /// Adds the deepest chain through the account (within the window) and its gang to an alert.
    mutating func describeChain(of account: Int32, ring: LegRing, start: Int, in alert: inout Alert) {
        var best: (seq: UInt64, hop: Hop)?
        let tookPart = states[Int(account)].lastHop.any != .min
        for i in start..<ring.count where tookPart {
            guard let found = hops.hop(forTransfer: legs[ring, i].txHandle) else { continue }
            if best == nil || found.hop.depth >= best!.hop.depth { best = found }
        }
        if let best {
            let chain = knownChain(endingAt: best.seq)
            if let first = chain.first {
                alert.chain = [accounts.name(first.from)] + chain.map { accounts.name($0.to) }
                alert.hops = chain.map {
                    AlertHop(from: accounts.name($0.from), to: accounts.name($0.to), amount: Money(units: $0.amount),
                             delaySeconds: $0.delayMillis / 1000, retained: $0.retained)
                }
            }
        }
        if let c = gangs.component(of: account) {
            alert.gang = gangId(c.representative)
            alert.gangSize = c.size
        }
    }

    func gangId(_ representative: Int32) -> String {
        let h = accounts.withName(representative) { ByteHash.hash($0, seed: ByteHash.alertSeedB) }
        let s = String(h >> 16, radix: 16)
        return "G-" + String(repeating: "0", count: 12 - s.count) + s
    }

    /// The gangs alive now (ties within the gang horizon of the newest event), largest first.
    public mutating func gangSummaries() -> [GangSummary] {
        gangs.allGangs().map { g in
            GangSummary(id: gangId(g.component.representative), members: g.members.map { accounts.name($0) }.sorted(),
                        volume: Money(units: g.component.volume), first: g.component.first, last: g.component.last)
        }.sorted { ($0.size, $1.id) > ($1.size, $0.id) }
    }

    /// Hops remembered and gang ties alive now, and the bytes they take (for memory accounting).
    public var chainState: (hops: Int, ties: Int, bytes: Int) { (hops.count, gangs.liveTies, chainStateBytes) }

    /// Bytes of hop, tie and forwarder bookkeeping.
    public var chainStateBytes: Int { hops.memoryBytes + gangs.memoryBytes + lastForwarderInto.memoryBytes + lastForwarderOf.memoryBytes }
}
