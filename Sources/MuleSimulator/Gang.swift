import MuleCore

/// One transfer the generator has decided on, before it gets an id and a line.
struct PlannedTransfer: Sendable {
    var ts: Int64
    var payer: Int32
    var payee: Int32
    /// Fixed-point units (`Money.scale` per CNY).
    var amount: Int64
    var channel: Channel
    /// QR code number on the payee (`QR-<payee digits>-<n>`); 0 = no `qr` field.
    var qr: Int32
}

/// CNY amounts in `Money` units.
@inline(__always) func cny(_ yuan: Int64) -> Int64 { yuan * Money.scale }
/// A random amount with cents, in `Money` units.
@inline(__always) func cnyCents(_ rng: inout Xoshiro256StarStar, _ lo: Int64, _ hi: Int64) -> Int64 {
    rng.int64(lo * 100...hi * 100) * (Money.scale / 100)
}

/// How a mule moves money on after receiving it.
enum ForwardPolicy: UInt8, Sendable {
    /// Each inbound payment forwarded on its own (sometimes as two transfers).
    case single
    /// Several inbound payments collected, then one onward transfer.
    case aggregate
    /// Each inbound payment split across three next-layer mules.
    case fanout
}

/// One mule's standing instructions from the gang.
struct MulePlan: Sendable {
    var account: Int32
    var layer: Int
    /// Commission kept, in basis points of what passes through (102–178, i.e. 1.02%–1.78%).
    var keepBasisPoints: Int64
    var policy: ForwardPolicy
    var channel: Channel
    /// Usual next hop: index into the next layer.
    var nextHop: Int
    /// How many personal QR codes this mule rents out.
    var qrCodes: Int
}

/// A first-layer mule "grabbing orders": victims pay its QR codes within the burst.
struct Burst: Sendable {
    var mule: Int
    var start: Int64
    var duration: Int64
    var firstVictim: Int32
    var victims: Int
}

/// A stretch of time when the gang works: some of its first-layer mules burst together.
struct Shift: Sendable {
    var start: Int64
    var bursts: [Burst]
}

/// A running-points gang: layers of mules in front of one sink, and the shifts it works.
struct GangPlan: Sendable {
    var index: Int
    var sink: Int32
    /// Mule indices (into `mules`) per layer; layer 1 first.
    var layers: [[Int]]
    var mules: [MulePlan]
    var shifts: [Shift]

    /// Plans the gang and adds its members and victims to `population`.
    static func plan(
        index: Int, config: SimulationConfig, start: Int64, end: Int64,
        rng: inout Xoshiro256StarStar, population: inout Population
    ) -> GangPlan {
        let minLayers = max(1, config.minLayers)
        let maxLayers = max(minLayers, config.maxLayers)
        // Gang 0 always has a second layer when allowed, so fan-out is always present.
        let layerCount = index == 0 && maxLayers >= 2 ? max(minLayers, 2) : rng.int(minLayers...maxLayers)
        var mules: [MulePlan] = []
        var layers: [[Int]] = []
        for layer in 1...layerCount {
            let size = layer == 1 ? rng.int(4...8) : rng.int(3...4)
            var members: [Int] = []
            for _ in 0..<size {
                let account = population.add(.mule, layer: layer)
                mules.append(MulePlan(
                    account: account, layer: layer, keepBasisPoints: rng.int64(102...178),
                    policy: .single, channel: rng.chance(0.6) ? .p2p : .bank, nextHop: 0,
                    qrCodes: rng.int(1...3)))
                members.append(mules.count - 1)
            }
            layers.append(members)
        }
        let sink = population.add(.sink, layer: layerCount + 1)

        for (li, members) in layers.enumerated() {
            let nextSize = li + 1 < layers.count ? layers[li + 1].count : 0
            for m in members {
                mules[m].nextHop = nextSize > 0 ? rng.int(0...nextSize - 1) : 0
                let r = rng.int(0...99)
                mules[m].policy = r < 50 ? .single : r < 80 ? .aggregate : nextSize >= 3 ? .fanout : .single
            }
        }
        if index == 0 {
            mules[layers[0][0]].policy = .aggregate
            if layers.count >= 2 { mules[layers[0][1]].policy = .fanout }
        }

        // Shifts at least two hours apart, leaving time for the chain to reach the sink.
        let lo = start + 10 * LocalClock.minute
        let hi = max(lo, end - 100 * LocalClock.minute)
        let wanted = rng.int(1...4)
        var starts: [Int64] = []
        var tries = 0
        while starts.count < wanted && tries < 60 {
            tries += 1
            let t = rng.int64(lo...hi)
            if starts.allSatisfy({ abs($0 - t) >= 2 * LocalClock.hour }) { starts.append(t) }
        }
        starts.sort()
        var shifts = starts.map { Shift(start: $0, bursts: []) }

        // Each first-layer mule works 1–4 of the gang's shifts.
        for m in layers[0] {
            var order = Array(shifts.indices)
            let taken = rng.int(1...min(4, order.count))
            for k in 0..<taken {
                let pick = rng.int(k...order.count - 1)
                order.swapAt(k, pick)
            }
            for s in order[0..<taken].sorted() {
                shifts[s].bursts.append(
                    makeBurst(mule: m, shiftStart: shifts[s].start, rng: &rng, population: &population))
            }
        }
        for s in shifts.indices where shifts[s].bursts.isEmpty {
            let m = layers[0][s % layers[0].count]
            shifts[s].bursts.append(makeBurst(mule: m, shiftStart: shifts[s].start, rng: &rng, population: &population))
        }
        return GangPlan(index: index, sink: sink, layers: layers, mules: mules, shifts: shifts)
    }

    private static func makeBurst(
        mule: Int, shiftStart: Int64, rng: inout Xoshiro256StarStar, population: inout Population
    ) -> Burst {
        let victims = rng.int(5...50)
        let first = population.add(.victim)
        for _ in 1..<victims { population.add(.victim) }
        return Burst(
            mule: mule, start: shiftStart + rng.int64(0...20 * LocalClock.minute),
            duration: rng.int64(10 * LocalClock.minute...60 * LocalClock.minute),
            firstVictim: first, victims: victims)
    }

    /// Every transfer of one shift: victims paying first-layer mules, then each layer passing
    /// the money on, down to the sink. Pure: the same (seed, gang, shift) always gives the same list.
    func expand(shift s: Int, seed: UInt64) -> [PlannedTransfer] {
        var rng = Xoshiro256StarStar(seed: seed, stream: 0x6A_4E5B, index: UInt64(index) << 8 | UInt64(s))
        var out: [PlannedTransfer] = []
        var inbound = [[(ts: Int64, amount: Int64)]](repeating: [], count: mules.count)
        for burst in shifts[s].bursts {
            let mule = mules[burst.mule]
            var times = (0..<burst.victims).map { _ in burst.start + rng.int64(0...burst.duration) }
            times.sort()
            for (k, t) in times.enumerated() {
                let amount = GangPlan.victimAmount(&rng)
                out.append(PlannedTransfer(
                    ts: t, payer: burst.firstVictim + Int32(k), payee: mule.account, amount: amount,
                    channel: .qr, qr: Int32(rng.int(1...mule.qrCodes))))
                inbound[burst.mule].append((t, amount))
            }
        }
        for li in layers.indices {
            for m in layers[li] where !inbound[m].isEmpty {
                let received = inbound[m].sorted { $0.ts != $1.ts ? $0.ts < $1.ts : $0.amount < $1.amount }
                forward(received, mule: m, layer: li, rng: &rng, out: &out, inbound: &inbound)
            }
        }
        return out
    }

    /// What the mule passes on: the amount less its commission, rounded down to the fen.
    @inline(__always)
    private static func net(_ amount: Int64, keep: Int64) -> Int64 {
        amount * (10_000 - keep) / 10_000 / 100 * 100
    }

    private func forward(
        _ received: [(ts: Int64, amount: Int64)], mule m: Int, layer li: Int,
        rng: inout Xoshiro256StarStar, out: inout [PlannedTransfer],
        inbound: inout [[(ts: Int64, amount: Int64)]]
    ) {
        let plan = mules[m]
        let next = li + 1 < layers.count ? layers[li + 1] : []
        func send(_ ts: Int64, to target: Int?, _ amount: Int64) {
            let payee = target.map { mules[$0].account } ?? sink
            out.append(PlannedTransfer(ts: ts, payer: plan.account, payee: payee, amount: amount, channel: plan.channel, qr: 0))
            if let target { inbound[target].append((ts, amount)) }
        }
        func usualTarget() -> Int? {
            if next.isEmpty { return nil }
            // Mostly the usual next hop; sometimes the gang routes elsewhere.
            return rng.chance(0.85) ? next[plan.nextHop] : next[rng.int(0...next.count - 1)]
        }
        let minute = LocalClock.minute
        switch plan.policy {
        case .single:
            for r in received {
                let f = GangPlan.net(r.amount, keep: plan.keepBasisPoints)
                let t = r.ts + rng.int64(1 * minute...13 * minute)
                let target = usualTarget()
                if f >= cny(400) && rng.chance(0.2) {
                    let first = f * Int64(rng.int(40...70)) / 100 / 100 * 100
                    send(t, to: target, first)
                    send(t + rng.int64(5_000...90_000), to: target, f - first)
                } else {
                    send(t, to: target, f)
                }
            }
        case .aggregate:
            var i = 0
            while i < received.count {
                let due = received[i].ts + rng.int64(5 * minute...14 * minute)
                var sum: Int64 = 0
                var j = i
                while j < received.count && received[j].ts <= due - 30_000 && j - i < 10 {
                    sum += received[j].amount
                    j += 1
                }
                send(due, to: usualTarget(), GangPlan.net(sum, keep: plan.keepBasisPoints))
                i = j
            }
        case .fanout:
            for r in received {
                let f = GangPlan.net(r.amount, keep: plan.keepBasisPoints)
                var targets = next
                for k in 0..<3 { targets.swapAt(k, rng.int(k...targets.count - 1)) }
                let weights = (rng.int64(20...45), rng.int64(20...45), rng.int64(20...45))
                let total = weights.0 + weights.1 + weights.2
                let p0 = f * weights.0 / total / 100 * 100
                let p1 = f * weights.1 / total / 100 * 100
                var t = r.ts + rng.int64(1 * minute...8 * minute)
                send(t, to: targets[0], p0)
                t += rng.int64(10_000...90_000)
                send(t, to: targets[1], p1)
                t += rng.int64(10_000...90_000)
                send(t, to: targets[2], f - p0 - p1)
            }
        }
    }

    /// What a scam victim is told to pay: mostly round sums, "lucky" 8s and 9s, sometimes odd.
    static func victimAmount(_ rng: inout Xoshiro256StarStar) -> Int64 {
        let round: [Int64] = [200, 300, 500, 500, 800, 1000, 1000, 1000, 1500, 2000, 2000, 3000, 5000]
        let lucky: [Int64] = [288, 299, 499, 666, 888, 999, 1888, 1999, 2888, 2999, 4999]
        let r = rng.int(0...99)
        if r < 50 { return cny(round[rng.int(0...round.count - 1)]) }
        if r < 70 { return cny(lucky[rng.int(0...lucky.count - 1)]) }
        return cnyCents(&rng, 200, 5000)
    }
}
