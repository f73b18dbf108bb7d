/// An analyst's decision to silence one account for one rule (or all rules) until a time.
public struct Snooze: Sendable, Equatable {
    public var account: String
    /// Rule id (any version); nil = every rule.
    public var ruleId: String?
    /// Event time (epoch ms) until which hits are snoozed, exclusive.
    public var untilMillis: Int64
    public var reason: String

    public init(account: String, ruleId: String?, untilMillis: Int64, reason: String) {
        self.account = account
        self.ruleId = ruleId
        self.untilMillis = untilMillis
        self.reason = reason
    }
}

/// The snoozes in force. A snoozed hit is judged by the alert's event time, so a backtest and the
/// live engine treat the same history the same way. Snoozed hits are counted, not published.
public struct SnoozeList: Sendable, Equatable {
    // account → (rule id or "*" → until)
    private var byAccount: [String: [String: Snooze]] = [:]

    public init(_ snoozes: [Snooze] = []) {
        for s in snoozes { set(s) }
    }

    public var count: Int { byAccount.values.reduce(0) { $0 + $1.count } }
    public var isEmpty: Bool { byAccount.isEmpty }

    /// Adds or replaces the snooze for (account, rule).
    public mutating func set(_ s: Snooze) {
        byAccount[s.account, default: [:]][s.ruleId ?? "*"] = s
    }

    /// Lifts the snooze for (account, rule), if any.
    public mutating func remove(account: String, ruleId: String?) {
        byAccount[account]?.removeValue(forKey: ruleId ?? "*")
        if byAccount[account]?.isEmpty == true { byAccount.removeValue(forKey: account) }
    }

    /// The snooze that silences this hit, if any.
    public func snooze(for alert: Alert) -> Snooze? {
        guard let rules = byAccount[alert.account] else { return nil }
        for key in [alert.ruleId, "*"] {
            if let s = rules[key], alert.eventTs < s.untilMillis { return s }
        }
        return nil
    }
}
