import MuleCore

/// What changing a rule set does to the alerts on one history: the (account, rule id) pairs
/// the new set flags that the old did not (added) and the reverse (removed). Rules are matched
/// by id, not version, since a changed rule gets a new version.
public struct RuleSetDiff: Sendable {
    /// One (account, rule id) pair with the event time of its first alert in the set that raised it.
    public struct Change: Sendable, Equatable {
        public var account: String
        public var ruleId: String
        public var firstAlertTs: Int64

        public init(account: String, ruleId: String, firstAlertTs: Int64) {
            self.account = account
            self.ruleId = ruleId
            self.firstAlertTs = firstAlertTs
        }
    }

    public var oldRuleIds: [String]
    public var newRuleIds: [String]
    public var added: [Change]
    public var removed: [Change]
    /// Pairs both sets flag.
    public var kept: Int

    public var onlyInOld: [String] { oldRuleIds.filter { !newRuleIds.contains($0) } }
    public var onlyInNew: [String] { newRuleIds.filter { !oldRuleIds.contains($0) } }

    /// Compares two replays of the same events.
    public init(old: [Rule], new: [Rule], oldSummary: BacktestSummary, newSummary: BacktestSummary) {
        oldRuleIds = Array(Set(old.map(\.id))).sorted()
        newRuleIds = Array(Set(new.map(\.id))).sorted()
        let a = RuleSetDiff.firstAlerts(oldSummary)
        let b = RuleSetDiff.firstAlerts(newSummary)
        func changes(_ from: [Pair: Int64], missingIn other: [Pair: Int64]) -> [Change] {
            from.filter { other[$0.key] == nil }
                .map { Change(account: $0.key.account, ruleId: $0.key.ruleId, firstAlertTs: $0.value) }
                .sorted { ($0.firstAlertTs, $0.account, $0.ruleId) < ($1.firstAlertTs, $1.account, $1.ruleId) }
        }
        added = changes(b, missingIn: a)
        removed = changes(a, missingIn: b)
        kept = a.keys.filter { b[$0] != nil }.count
    }

    struct Pair: Hashable {
        var account: String
        var ruleId: String
    }

    static func firstAlerts(_ s: BacktestSummary) -> [Pair: Int64] {
        var out: [Pair: Int64] = [:]
        for (k, t) in s.firstAlertAt {
            let p = Pair(account: k.account, ruleId: k.ruleId)
            if out[p].map({ t < $0 }) ?? true { out[p] = t }
        }
        return out
    }
}
