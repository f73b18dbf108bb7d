import MuleCore

/// A merchant that takes customers' payments all day and settles with its supplier at closing.
struct Outlet: Sendable {
    var account: Int32
    var opens: Int
    /// Hour the outlet closes and pays its supplier (24 = open all night, settles at 23:xx).
    var closes: Int
    var supplier: Int32
    var kind: Role
    var takings: Int64 = 0

    func isOpen(atHour h: Int) -> Bool { h >= opens && h < closes }
}

/// An employer paying salaries on a fixed day of the month, at a fixed time.
struct Employer: Sendable {
    var account: Int32
    var dayOfMonth: Int
    var hour: Int
    var minute: Int
    var staff: [Int32]
}

/// The planned population and the behaviour of its non-gang members. Gang plans live here too,
/// expanded shift by shift.
struct World: Sendable {
    /// Relative activity per hour of day (UTC+8), per mille: quiet nights, busy days.
    static let activity: [Int] = [
        250, 150, 100, 80, 80, 120, 300, 600, 900, 1000, 1000, 1000,
        1000, 950, 900, 900, 950, 1000, 1000, 1000, 950, 850, 600, 400,
    ]

    let seed: UInt64
    var population: Population
    /// Personal accounts that send and receive everyday money (mules and sinks included, so they
    /// have ordinary activity too; victims excluded, they pay once).
    var people: [Int32] = []
    var outlets: [Outlet] = []
    var restaurantSlots: [Int] = []
    var refundingSlots: [Int] = []
    var employers: [Employer] = []
    var landlords: [Int32] = []
    var cardIssuers: [Int32] = []
    var splitters: [Int32] = []
    var parents: [Int32] = []
    var children: [Int32] = []
    var gangs: [GangPlan] = []
    var shiftOrder: [(start: Int64, gang: Int, shift: Int)] = []

    init(seed: UInt64) {
        self.seed = seed
        population = Population(seed: seed)
    }

    // MARK: background scenarios

    mutating func expand(_ scenario: Scenario, at t: Int64, rng: inout Xoshiro256StarStar, into out: inout [PlannedTransfer]) {
        switch scenario {
        case .friendTransfer: friendTransfer(at: t, rng: &rng, into: &out)
        case .purchase: purchase(at: t, rng: &rng, into: &out)
        case .billSplit: billSplit(at: t, rng: &rng, into: &out)
        case .parentSupport: parentSupport(at: t, rng: &rng, into: &out)
        case .refundBurst: refundBurst(at: t, rng: &rng, into: &out)
        }
    }

    private func pick(_ list: [Int32], _ rng: inout Xoshiro256StarStar) -> Int32 {
        list[rng.int(0...list.count - 1)]
    }

    /// One of the account's eight regular contacts (a fixed small circle per person).
    private func friend(ofPerson i: Int, _ k: Int) -> Int32 {
        let n = people.count
        let offset = 1 + Int(SplitMix64.mix(seed ^ UInt64(i) << 8 ^ UInt64(k)) % UInt64(n - 1))
        return people[(i + offset) % n]
    }

    private func distinctPeople(_ count: Int, excluding: Int32, _ rng: inout Xoshiro256StarStar) -> [Int32] {
        var chosen: [Int32] = []
        while chosen.count < count {
            let p = pick(people, &rng)
            if p != excluding && !chosen.contains(p) { chosen.append(p) }
        }
        return chosen
    }

    private func friendTransfer(at t: Int64, rng: inout Xoshiro256StarStar, into out: inout [PlannedTransfer]) {
        let i = rng.int(0...people.count - 1)
        let payee = friend(ofPerson: i, rng.int(0...7))
        // Gang members' everyday money comes from outside the gang, so transfers between gang
        // accounts are exactly the gang's flows.
        if population.roles[Int(people[i])].isMule && population.roles[Int(payee)].isMule { return }
        let amount: Int64
        if rng.chance(0.6) {
            let round: [Int64] = [10, 20, 50, 50, 100, 100, 200, 500]
            amount = cny(round[rng.int(0...round.count - 1)])
        } else {
            amount = cnyCents(&rng, 1, 800)
        }
        out.append(PlannedTransfer(ts: t, payer: people[i], payee: payee, amount: amount, channel: rng.chance(0.8) ? .p2p : .wallet, qr: 0))
    }

    private mutating func purchase(at t: Int64, rng: inout Xoshiro256StarStar, into out: inout [PlannedTransfer]) {
        let slot = rng.int(0...outlets.count - 1)
        guard outlets[slot].isOpen(atHour: LocalClock.hourOfDay(t)) else { return }
        let outlet = outlets[slot]
        let r = rng.int(0...99)
        var amount = r < 60 ? cnyCents(&rng, 3, 60) : r < 92 ? cnyCents(&rng, 60, 300) : cnyCents(&rng, 300, 2000)
        if outlet.kind == .restaurant { amount *= 2 }
        let channel: Channel = outlet.kind == .refundingMerchant ? .wallet : rng.chance(0.75) ? .qr : .card
        out.append(PlannedTransfer(ts: t, payer: pick(people, &rng), payee: outlet.account, amount: amount, channel: channel, qr: channel == .qr ? 1 : 0))
        outlets[slot].takings += amount
    }

    /// Friends pay their share to one person within minutes; that person pays the restaurant
    /// the whole bill shortly after. Many payers, fast outflow, but out ≥ in.
    private mutating func billSplit(at t: Int64, rng: inout Xoshiro256StarStar, into out: inout [PlannedTransfer]) {
        let splitter = pick(splitters, &rng)
        let slot = restaurantSlots[rng.int(0...restaurantSlots.count - 1)]
        let friends = distinctPeople(rng.int(3...8), excluding: splitter, &rng)
        var bill = rng.chance(0.5) ? cny(rng.int64(150...1800)) : cnyCents(&rng, 150, 1800)
        let share = bill / Int64(friends.count + 1) / 100 * 100
        var times = friends.map { _ in t + rng.int64(0...6 * LocalClock.minute) }
        times.sort()
        var received: Int64 = 0
        for (k, f) in friends.enumerated() {
            // Some round their share up to whole yuan.
            let amount = rng.chance(0.4) ? (share + cny(1) - 1) / cny(1) * cny(1) : share
            received += amount
            out.append(PlannedTransfer(ts: times[k], payer: f, payee: splitter, amount: amount, channel: rng.chance(0.7) ? .p2p : .wallet, qr: 0))
        }
        bill = max(bill, received)
        let paid = times[times.count - 1] + rng.int64(2 * LocalClock.minute...15 * LocalClock.minute)
        out.append(PlannedTransfer(ts: paid, payer: splitter, payee: outlets[slot].account, amount: bill, channel: .qr, qr: 1))
        outlets[slot].takings += bill
    }

    /// A parent receives money and passes part of it to their child later that day.
    private func parentSupport(at t: Int64, rng: inout Xoshiro256StarStar, into out: inout [PlannedTransfer]) {
        let k = rng.int(0...parents.count - 1)
        let parent = parents[k]
        var from = pick(people, &rng)
        if from == parent { from = children[k] }
        let amount = rng.chance(0.6) ? cny(rng.int64(10...100) * 100) : cnyCents(&rng, 1000, 10_000)
        out.append(PlannedTransfer(ts: t, payer: from, payee: parent, amount: amount, channel: rng.chance(0.5) ? .p2p : .bank, qr: 0))
        let part = amount * rng.int64(20...50) / 100 / cny(1) * cny(1)
        out.append(PlannedTransfer(
            ts: t + rng.int64(10 * LocalClock.minute...180 * LocalClock.minute), payer: parent, payee: children[k],
            amount: max(part, cny(50)), channel: rng.chance(0.7) ? .p2p : .wallet, qr: 0))
    }

    /// An online merchant refunds a cancelled batch: many small payments out to distinct people.
    private func refundBurst(at t: Int64, rng: inout Xoshiro256StarStar, into out: inout [PlannedTransfer]) {
        let merchant = outlets[refundingSlots[rng.int(0...refundingSlots.count - 1)]].account
        let customers = distinctPeople(rng.int(8...40), excluding: merchant, &rng)
        let span = rng.int64(3 * LocalClock.minute...20 * LocalClock.minute)
        var times = customers.map { _ in t + rng.int64(0...span) }
        times.sort()
        for (k, c) in customers.enumerated() {
            out.append(PlannedTransfer(ts: times[k], payer: merchant, payee: c, amount: cnyCents(&rng, 5, 300), channel: .wallet, qr: 0))
        }
    }

    // MARK: salaries

    /// Next pay time of employer `e` at or after `from`.
    func nextPayday(_ e: Int, from: Int64) -> Int64? {
        let employer = employers[e]
        let first = LocalClock.localDay(from)
        for d in first...(first + 62) where LocalClock.dayOfMonth(d) == employer.dayOfMonth {
            let t = LocalClock.startOfLocalDay(d) + Int64(employer.hour) * LocalClock.hour + Int64(employer.minute) * LocalClock.minute
            if t >= from { return t }
        }
        return nil
    }

    /// Payroll run: each employee's salary arrives within seconds of each other; most pay rent
    /// and their card bill the same morning.
    func payday(_ e: Int, at t: Int64, into out: inout [PlannedTransfer]) {
        let employer = employers[e]
        var rng = Xoshiro256StarStar(seed: seed, stream: 0x5A1A_0000 + UInt64(e), index: UInt64(t))
        var ts = t
        for person in employer.staff {
            // Fixed per person across paydays.
            var own = Xoshiro256StarStar(seed: seed, stream: 0x5A1A, index: UInt64(person))
            let salary = cnyCents(&own, 5000, 30_000)
            let rent = cny(own.int64(15...60) * 100)
            let landlord = landlords[own.int(0...landlords.count - 1)]
            let issuer = cardIssuers[own.int(0...cardIssuers.count - 1)]
            ts += rng.int64(200...3000)
            out.append(PlannedTransfer(ts: ts, payer: employer.account, payee: person, amount: salary, channel: .bank, qr: 0))
            if rng.chance(0.85) && landlord != person {
                out.append(PlannedTransfer(
                    ts: ts + rng.int64(10 * LocalClock.minute...180 * LocalClock.minute), payer: person, payee: landlord,
                    amount: rent, channel: rng.chance(0.5) ? .bank : .p2p, qr: 0))
            }
            if rng.chance(0.75) {
                out.append(PlannedTransfer(
                    ts: ts + rng.int64(20 * LocalClock.minute...240 * LocalClock.minute), payer: person, payee: issuer,
                    amount: rng.int64(cny(300)...salary / 2) / 100 * 100, channel: .bank, qr: 0))
            }
        }
    }

    // MARK: end-of-day settlement

    /// The outlet's next closing time after `t`: its closing hour plus up to 45 minutes.
    func nextSettlement(_ m: Int, after t: Int64) -> Int64 {
        let outlet = outlets[m]
        let hour = min(outlet.closes, 23)
        var d = LocalClock.localDay(t)
        while true {
            let jitter = Int64(SplitMix64.mix(seed ^ UInt64(m) << 24 ^ UInt64(bitPattern: d)) % UInt64(45 * LocalClock.minute))
            let close = LocalClock.startOfLocalDay(d) + Int64(hour) * LocalClock.hour + jitter
            if close > t { return close }
            d += 1
        }
    }

    /// Pays the supplier a large part of the day's takings.
    mutating func settle(_ m: Int, at t: Int64, into out: inout [PlannedTransfer]) {
        let takings = outlets[m].takings
        outlets[m].takings = 0
        guard takings >= cny(100) else { return }
        let percent = Int64(55 + SplitMix64.mix(seed ^ UInt64(bitPattern: t) ^ UInt64(m)) % 31)
        let amount = takings * percent / 100 / cny(1) * cny(1)
        out.append(PlannedTransfer(ts: t, payer: outlets[m].account, payee: outlets[m].supplier, amount: amount, channel: .bank, qr: 0))
    }
}
