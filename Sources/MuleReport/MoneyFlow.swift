import MuleCore

/// Money that went from one account to another in a drawn gang, summed over transfers.
public struct FlowEdge: Sendable, Equatable {
    public var from: String
    public var to: String
    public var amount: Money
    public var transfers: Int
    /// A transfer of this edge is in the evidence of both ends' alerts (a debit of `from` that
    /// made its rule fire is a credit that made `to`'s rule fire).
    public var inEvidence: Bool
}

/// An account in a drawn gang, placed in a column by money flow (sources at 0).
public struct FlowNode: Sendable, Equatable {
    public var account: String
    /// False for an unflagged account that received from two or more flagged ones (a likely sink).
    public var flagged: Bool
    public var layer: Int
    /// Position within its layer, top to bottom.
    public var row: Int
}

/// A connected group of flagged accounts that paid each other (plus their likely sinks): a
/// detected chain or gang.
public struct Gang: Sendable, Equatable {
    public var nodes: [FlowNode]
    public var edges: [FlowEdge]

    public var flaggedCount: Int { nodes.filter(\.flagged).count }
    public var layers: Int { (nodes.map(\.layer).max() ?? -1) + 1 }
    public var totalAmount: Money { edges.reduce(Money.zero) { $0 + $1.amount } }
}

/// Builds the money-flow graph among flagged accounts and cuts it into gangs.
public enum GangFinder {
    /// Edges: a flagged account paid another flagged account (in `transfers`), marked when the
    /// transfer is in both accounts' alert evidence. An unflagged payee joins as a likely sink when
    /// two or more flagged accounts passed money on to it: a transfer in the payer's own alert
    /// evidence, or at least half of what the payer sent to people (evidence lists are capped).
    /// Merchants (by the event's `payee_kind`) are spending, and small payments outside the
    /// evidence (a mule splitting a bill with a friend) would merge unrelated gangs, so neither counts. Components with at least two accounts are returned,
    /// largest first, laid out left to right by flow. Deterministic: no hashing order leaks out.
    public static func find(alerts: [Alert], transfers: [ObservedTransfer]) -> [Gang] {
        var evidence: [String: Set<String>] = [:]
        for a in alerts { evidence[a.account, default: []].formUnion(a.evidence) }
        let flagged = Set(evidence.keys)

        struct Key: Hashable { var from: String, to: String }
        var edges: [Key: FlowEdge] = [:]
        /// Edges to unflagged payees with a transfer in the payer's evidence.
        var passedOn = Set<Key>()
        var sentToPeople: [String: Money] = [:]
        var seen = Set<String>()
        for t in transfers where flagged.contains(t.payer) && t.payer != t.payee {
            guard seen.insert(t.id).inserted else { continue }
            if t.payeeKind == .merchant && !flagged.contains(t.payee) { continue }
            let k = Key(from: t.payer, to: t.payee)
            sentToPeople[t.payer, default: .zero] += t.amount
            if evidence[t.payer]!.contains(t.id) { passedOn.insert(k) }
            let both = flagged.contains(t.payee) && evidence[t.payer]!.contains(t.id) && evidence[t.payee]!.contains(t.id)
            if var e = edges[k] {
                e.amount += t.amount
                e.transfers += 1
                e.inEvidence = e.inEvidence || both
                edges[k] = e
            } else {
                edges[k] = FlowEdge(from: t.payer, to: t.payee, amount: t.amount, transfers: 1, inEvidence: both)
            }
        }
        // Unflagged payees keep their edges only when two or more flagged accounts passed money on to them.
        func passesOn(_ e: FlowEdge) -> Bool {
            passedOn.contains(Key(from: e.from, to: e.to)) || e.amount.units * 2 >= sentToPeople[e.from, default: .zero].units
        }
        var payersOf: [String: Int] = [:]
        for e in edges.values where !flagged.contains(e.to) && passesOn(e) { payersOf[e.to, default: 0] += 1 }
        let kept = edges.values
            .filter { flagged.contains($0.to) || (payersOf[$0.to, default: 0] >= 2 && passesOn($0)) }
            .sorted { ($0.from, $0.to) < ($1.from, $1.to) }

        // Union-find over account indices in name order.
        let accounts = Set(kept.flatMap { [$0.from, $0.to] }).sorted()
        let index = Dictionary(uniqueKeysWithValues: accounts.enumerated().map { ($1, $0) })
        var parent = Array(accounts.indices)
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i {
                parent[i] = parent[parent[i]]
                i = parent[i]
            }
            return i
        }
        for e in kept {
            let a = root(index[e.from]!), b = root(index[e.to]!)
            if a != b { parent[max(a, b)] = min(a, b) }
        }
        var members: [Int: [String]] = [:]
        for (i, name) in accounts.enumerated() { members[root(i), default: []].append(name) }
        var byRoot: [Int: [FlowEdge]] = [:]
        for e in kept { byRoot[root(index[e.from]!), default: []].append(e) }

        var gangs: [Gang] = []
        for (r, names) in members where names.count >= 2 {
            gangs.append(layout(names: names, edges: byRoot[r] ?? [], flagged: flagged))
        }
        return gangs.sorted { a, b in
            if a.flaggedCount != b.flaggedCount { return a.flaggedCount > b.flaggedCount }
            if a.totalAmount != b.totalAmount { return a.totalAmount > b.totalAmount }
            return a.nodes.map(\.account).min()! < b.nodes.map(\.account).min()!
        }
    }

    /// Columns by longest path from the sources (edges closing a cycle are ignored for this),
    /// rows by the mean row of a node's payers, ties by name.
    static func layout(names: [String], edges: [FlowEdge], flagged: Set<String>) -> Gang {
        let names = names.sorted()
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var out = [[Int]](repeating: [], count: names.count)
        var into = [[Int]](repeating: [], count: names.count)
        for e in edges {
            out[index[e.from]!].append(index[e.to]!)
            into[index[e.to]!].append(index[e.from]!)
        }
        // Depth-first post-order from sources (then from anything left, for pure cycles) gives a
        // topological order of the graph without its back edges.
        var state = [UInt8](repeating: 0, count: names.count)  // 0 new, 1 on stack, 2 done
        var order: [Int] = []
        var backEdges = Set<[Int]>()
        func visit(_ v: Int) {
            var stack: [(Int, Int)] = [(v, 0)]
            state[v] = 1
            while let (u, next) = stack.last {
                if next < out[u].count {
                    stack[stack.count - 1].1 += 1
                    let w = out[u][next]
                    if state[w] == 0 {
                        state[w] = 1
                        stack.append((w, 0))
                    } else if state[w] == 1 {
                        backEdges.insert([u, w])
                    }
                } else {
                    state[u] = 2
                    order.append(u)
                    stack.removeLast()
                }
            }
        }
        for v in names.indices where into[v].isEmpty && state[v] == 0 { visit(v) }
        for v in names.indices where state[v] == 0 { visit(v) }
        var layer = [Int](repeating: 0, count: names.count)
        for u in order.reversed() {
            for w in out[u] where !backEdges.contains([u, w]) { layer[w] = max(layer[w], layer[u] + 1) }
        }
        var row = [Double](repeating: 0, count: names.count)
        var nodes: [FlowNode] = []
        for l in 0...(layer.max() ?? 0) {
            let inLayer = names.indices.filter { layer[$0] == l }
            func weight(_ v: Int) -> Double {
                let ps = into[v].filter { layer[$0] < l }
                return ps.isEmpty ? -1 : ps.map { row[$0] }.reduce(0, +) / Double(ps.count)
            }
            let sorted = inLayer.sorted { (weight($0), names[$0]) < (weight($1), names[$1]) }
            for (r, v) in sorted.enumerated() {
                row[v] = Double(r)
                nodes.append(FlowNode(account: names[v], flagged: flagged.contains(names[v]), layer: l, row: r))
            }
        }
        return Gang(nodes: nodes, edges: edges.sorted { ($0.from, $0.to) < ($1.from, $1.to) })
    }
}
