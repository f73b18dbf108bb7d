/// Plans the population, the gangs and the background rates up front, so labels are complete
/// before the first event and the event budget is met on average.
struct Planner {
    private(set) var world: World
    let start: Int64
    let end: Int64
    private(set) var arrivals: [Arrival] = []
    private(set) var expectedEvents = 0

    init(config: SimulationConfig) {
        let n = max(200, config.accounts)
        let budget = max(0, config.events)
        start = config.startMillis
        let duration: Int64
        if config.durationMillis > 0 {
            duration = max(config.durationMillis, 2 * LocalClock.hour)
        } else {
            // About a dozen payments per person per day, in whole days so daily cycles complete.
            let days = min(60, max(1, (budget + n * 12 - 1) / (n * 12)))
            duration = Int64(days) * LocalClock.day
        }
        end = start + duration
        var rng = Xoshiro256StarStar(seed: config.seed, stream: 0x91A4)
        var world = World(seed: config.seed)

        func share(_ fraction: Double, _ minimum: Int) -> Int { max(minimum, Int(Double(n) * fraction)) }
        let shops = share(0.03, 2), restaurants = share(0.01, 1), refunding = share(0.005, 1)
        let suppliers = share(0.005, 1), employers = share(0.003, 1), issuers = max(1, min(6, n / 500))
        let landlords = share(0.01, 1), earners = share(0.08, 2), splitters = share(0.04, 1)
        let parents = share(0.03, 1)
        let normals = n - (shops + restaurants + refunding + suppliers + employers + issuers + landlords
            + earners + splitters + 2 * parents)

        let supplierAccounts = world.population.add(.supplier, count: suppliers)
        for _ in 0..<shops {
            let opens = rng.int(6...10)
            world.outlets.append(Outlet(
                account: world.population.add(.shop), opens: opens, closes: rng.int(opens + 4...23),
                supplier: supplierAccounts[rng.int(0...suppliers - 1)], kind: .shop))
        }
        for _ in 0..<restaurants {
            world.restaurantSlots.append(world.outlets.count)
            world.outlets.append(Outlet(
                account: world.population.add(.restaurant), opens: rng.int(10...11), closes: rng.int(21...23),
                supplier: supplierAccounts[rng.int(0...suppliers - 1)], kind: .restaurant))
        }
        for _ in 0..<refunding {
            world.refundingSlots.append(world.outlets.count)
            world.outlets.append(Outlet(
                account: world.population.add(.refundingMerchant), opens: 0, closes: 24,
                supplier: supplierAccounts[rng.int(0...suppliers - 1)], kind: .refundingMerchant))
        }
        world.cardIssuers = world.population.add(.cardIssuer, count: issuers)
        world.landlords = world.population.add(.landlord, count: landlords)
        let firstDay = LocalClock.localDay(start)
        let lastDay = LocalClock.localDay(end - 1)
        for _ in 0..<employers {
            // A payday that falls inside the simulated period (within its first four weeks).
            let day = firstDay + rng.int64(0...min(lastDay - firstDay, 27))
            world.employers.append(Employer(
                account: world.population.add(.employer), dayOfMonth: LocalClock.dayOfMonth(day),
                hour: rng.int(9...10), minute: rng.chance(0.5) ? 0 : 30, staff: []))
        }
        let earnerAccounts = world.population.add(.salaryEarner, count: earners)
        for e in earnerAccounts { world.employers[rng.int(0...employers - 1)].staff.append(e) }
        world.splitters = world.population.add(.billSplitter, count: splitters)
        world.parents = world.population.add(.parent, count: parents)
        world.children = world.population.add(.child, count: parents)
        let normalAccounts = world.population.add(.normal, count: normals)
        world.people = normalAccounts + earnerAccounts + world.splitters + world.parents + world.children + world.landlords

        for g in 0..<max(0, config.gangs) {
            let gang = GangPlan.plan(index: g, config: config, start: start, end: end, rng: &rng, population: &world.population)
            world.people += gang.mules.map(\.account) + [gang.sink]
            // Some sinks are ordinary employees too: a salary lands among the gang's money.
            if g == 0 || rng.chance(0.5) { world.employers[rng.int(0...employers - 1)].staff.append(gang.sink) }
            for s in gang.shifts.indices { world.shiftOrder.append((gang.shifts[s].start, g, s)) }
            world.gangs.append(gang)
        }
        world.shiftOrder.sort { ($0.start, $0.gang, $0.shift) < ($1.start, $1.gang, $1.shift) }

        // Events that do not depend on the background rates.
        var fixed = 0.0
        for item in world.shiftOrder {
            fixed += Double(world.gangs[item.gang].expand(shift: item.shift, seed: config.seed).count)
        }
        for e in world.employers.indices {
            var t = world.nextPayday(e, from: start)
            while let pay = t, pay < end {
                fixed += Double(world.employers[e].staff.count) * 2.6
                t = world.nextPayday(e, from: pay + 1)
            }
        }
        for m in world.outlets.indices {
            var t = world.nextSettlement(m, after: start - 1)
            while t < end {
                fixed += 0.95
                t = world.nextSettlement(m, after: t)
            }
        }
        let background = max(0, Double(budget) - fixed)

        var openFraction = [Double](repeating: 0, count: 24)
        for h in 0..<24 {
            openFraction[h] = Double(world.outlets.filter { $0.isOpen(atHour: h) }.count) / Double(world.outlets.count)
        }
        var expected = fixed
        for scenario in Scenario.allCases {
            let scenarios = background * scenario.share / scenario.eventsPerScenario
            let active = Planner.activeMillis(from: start, to: end) { h in
                Double(World.activity[h]) / 1000 * (scenario == .purchase ? openFraction[h] : 1)
            }
            let meanGap = scenarios >= 1 && active > 0 ? active / scenarios : Double.infinity
            if meanGap.isFinite { expected += scenarios * scenario.eventsPerScenario }
            arrivals.append(Arrival(scenario: scenario, start: start, meanGap: meanGap, seed: config.seed))
        }
        expectedEvents = Int(expected.rounded())
        self.world = world
    }

    /// ∫ weight(hour of day) dt over [from, to), in milliseconds.
    static func activeMillis(from: Int64, to: Int64, weight: (Int) -> Double) -> Double {
        var t = from
        var total = 0.0
        while t < to {
            let local = t + LocalClock.offset
            let boundary = (LocalClock.floorDiv(local, LocalClock.hour) + 1) * LocalClock.hour - LocalClock.offset
            let segmentEnd = min(boundary, to)
            total += Double(segmentEnd - t) * weight(LocalClock.hourOfDay(t))
            t = segmentEnd
        }
        return total
    }

    func labels() -> [AccountLabel] {
        var labels = (0..<world.population.count).map { world.population.label(Int32($0)) }
        labels.sort { $0.account < $1.account }
        return labels
    }
}
