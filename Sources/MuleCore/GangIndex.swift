/// Groups accounts tied together by money chains (and shared sinks) into gangs, incrementally,
/// with ties that expire so old connections fade.
///
/// A union–find over account ids. Ties are kept in event-time order; every `rebuildEvery` of
/// event time the expired ones are dropped and the components rebuilt from the rest (between
/// rebuilds a tie may outlive its horizon by at most `rebuildEvery`). A gang's id comes from
/// its earliest-tied member (then the smallest name), so it stays the same while the gang
/// grows, and the older gang's id survives a merge.
@usableFromInline
struct GangIndex: Sendable {
    struct Tie: Sendable {
        var a: Int32
        var b: Int32
        var ts: Int64
        var amount: Int64
    }

    /// What a gang looks like now.
    struct Component: Sendable {
        var representative: Int32
        var representativeSince: Int64
        var size: Int
        var volume: Int64
        var first: Int64
        var last: Int64
    }

    let horizonMillis: Int64
    let rebuildEvery: Int64
    private(set) var ties: [Tie] = []
    private var parent: [Int32] = []
    /// Per root.
    private var components: [Int32: Component] = [:]
    var nextRebuild: Int64 = .min  // internal for GangIndex+Checkpoint.swift

    init(horizonMillis: Int64) {
        self.horizonMillis = horizonMillis
        self.rebuildEvery = max(1, horizonMillis / 10)
    }

    var liveTies: Int { ties.count }
    var gangCount: Int { components.count }

    private mutating func ensure(_ id: Int32) {
        let n = Int(id) + 1
        if parent.count < n {
            let grow = max(n, parent.count * 2, 1024) - parent.count
            parent.append(contentsOf: repeatElement(-1, count: grow))
        }
    }

    /// Root of `a`'s gang, or nil when it belongs to none.
    mutating func root(_ a: Int32) -> Int32? {
        guard Int(a) < parent.count, parent[Int(a)] >= 0 else { return nil }
        var r = a
        while parent[Int(r)] != r { r = parent[Int(r)] }
        var x = a
        while parent[Int(x)] != r {
            let next = parent[Int(x)]
            parent[Int(x)] = r
            x = next
        }
        return r
    }

    func isTied(_ a: Int32) -> Bool { Int(a) < parent.count && parent[Int(a)] >= 0 }

    mutating func component(of a: Int32) -> Component? {
        guard let r = root(a) else { return nil }
        return components[r]
    }

    /// Ties `a` and `b` (money moved between them as part of a chain) at event time `ts`.
    /// `earlier(x, y)` decides which representative is older when first-tie times are equal.
    mutating func tie(_ a: Int32, _ b: Int32, at ts: Int64, amount: Int64, earlier: (Int32, Int32) -> Bool) {
        guard a != b else { return }
        ties.append(Tie(a: a, b: b, ts: ts, amount: amount))
        link(a, b, ts: ts, amount: amount, earlier: earlier)
    }

    private mutating func link(_ a: Int32, _ b: Int32, ts: Int64, amount: Int64, earlier: (Int32, Int32) -> Bool) {
        ensure(max(a, b))
        for x in [a, b] where parent[Int(x)] < 0 {
            parent[Int(x)] = x
            components[x] = Component(representative: x, representativeSince: ts, size: 1, volume: 0, first: ts, last: ts)
        }
        let ra = root(a)!
        let rb = root(b)!
        if ra == rb {
            components[ra]!.volume &+= amount
            components[ra]!.last = max(components[ra]!.last, ts)
            return
        }
        let ca = components.removeValue(forKey: ra)!
        let cb = components.removeValue(forKey: rb)!
        let (big, small) = ca.size >= cb.size ? (ra, rb) : (rb, ra)
        parent[Int(small)] = big
        let aIsOlder = ca.representativeSince < cb.representativeSince
            || (ca.representativeSince == cb.representativeSince && earlier(ca.representative, cb.representative))
        let older = aIsOlder ? ca : cb
        components[big] = Component(
            representative: older.representative, representativeSince: older.representativeSince,
            size: ca.size + cb.size, volume: ca.volume &+ cb.volume &+ amount,
            first: min(ca.first, cb.first), last: max(ca.last, cb.last, ts))
    }

    /// Whether `expire(watermark:earlier:)` would look at the ties now.
    func isDueForExpiry(watermark: Int64) -> Bool {
        watermark >= nextRebuild && watermark > Int64.min + horizonMillis
    }

    /// Drops ties older than `watermark - horizon` (on a schedule) and rebuilds the gangs from
    /// the rest.
    mutating func expire(watermark: Int64, earlier: (Int32, Int32) -> Bool) {
        guard isDueForExpiry(watermark: watermark) else { return }
        nextRebuild = watermark + rebuildEvery
        let cutoff = watermark - horizonMillis
        // Ties are kept in event-time order: the expired ones are a prefix.
        let expired = ties.prefix { $0.ts < cutoff }.count
        guard expired > 0 else { return }
        rebuild(from: Array(ties.dropFirst(expired)), earlier: earlier)
    }

    /// Drops every tie of `a` (its id is about to be reused) and rebuilds.
    mutating func remove(_ a: Int32, earlier: (Int32, Int32) -> Bool) {
        guard isTied(a) else { return }
        rebuild(from: ties.filter { $0.a != a && $0.b != a }, earlier: earlier)
    }

    mutating func rebuild(from kept: [Tie], earlier: (Int32, Int32) -> Bool) {
        for i in parent.indices { parent[i] = -1 }
        components.removeAll(keepingCapacity: true)
        ties = kept
        for t in ties { link(t.a, t.b, ts: t.ts, amount: t.amount, earlier: earlier) }
    }

    /// Every gang with its members (for reports).
    mutating func allGangs() -> [(component: Component, members: [Int32])] {
        var byRoot: [Int32: [Int32]] = [:]
        for i in parent.indices where parent[i] >= 0 {
            byRoot[root(Int32(i))!, default: []].append(Int32(i))
        }
        return byRoot.compactMap { r, m in components[r].map { ($0, m) } }
    }

    var memoryBytes: Int {
        ties.capacity * MemoryLayout<Tie>.stride + parent.capacity * 4
            + components.capacity * (MemoryLayout<Component>.stride + 8)
    }
}
