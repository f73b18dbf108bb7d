/// Window statistics an alert reports (CONTRACTS.md §2 `window`).
public struct AlertWindow: Sendable, Equatable {
    public var start: Int64
    public var end: Int64
    public var inCount: Int
    public var inAmount: Money
    public var distinctPayers: Int
    public var outCount: Int
    public var outAmount: Money
    public var distinctPayees: Int
    /// Money passed on after it came in, divided by money received (0…1).
    public var passThrough: Double
    /// Money-weighted median dwell, seconds; nil when nothing was passed on.
    public var medianDwellSeconds: Int64?

    public init(start: Int64, end: Int64, inCount: Int, inAmount: Money, distinctPayers: Int, outCount: Int,
                outAmount: Money, distinctPayees: Int, passThrough: Double, medianDwellSeconds: Int64?) {
        self.start = start
        self.end = end
        self.inCount = inCount
        self.inAmount = inAmount
        self.distinctPayers = distinctPayers
        self.outCount = outCount
        self.outAmount = outAmount
        self.distinctPayees = distinctPayees
        self.passThrough = passThrough
        self.medianDwellSeconds = medianDwellSeconds
    }
}

/// One hop of a chain as an alert reports it: `from` passed `amount` on to `to`.
public struct AlertHop: Sendable, Equatable {
    public var from: String
    public var to: String
    public var amount: Money
    /// Money-weighted time the money sat in `from`, seconds.
    public var delaySeconds: Int64
    /// Fraction `from` kept of what it received within the hop window.
    public var retained: Double

    public init(from: String, to: String, amount: Money, delaySeconds: Int64, retained: Double) {
        self.from = from
        self.to = to
        self.amount = amount
        self.delaySeconds = delaySeconds
        self.retained = retained
    }
}

/// A rule verdict on one account, as published on the alert topic (CONTRACTS.md §2).
public struct Alert: Sendable, Equatable {
    /// Deterministic: the same account, rule and window always give the same id, so
    /// downstream can drop duplicates after a replay.
    public var alertId: String
    public var account: String
    public var ruleId: String
    public var ruleVersion: String
    public var severity: Severity
    public var mode: RuleMode
    /// The outcome band the score reached (`review`, `block`, …); nil when the rule has none.
    public var action: String?
    public var score: Double
    /// Event time of the leg that made the rule fire.
    public var eventTs: Int64
    public var window: AlertWindow?
    /// Ids of the credits and debits that made the rule fire, oldest first, capped.
    public var evidence: [String]
    /// How many legs the evidence stands for (may exceed `evidence.count`).
    public var evidenceCount: Int
    public var chain: [String]?
    /// `ruleSetHash` of the rule set that raised it.
    public var ruleSet: String?
    /// The chain's hops, first hop first (with `chain`).
    public var hops: [AlertHop]?
    /// Stable id of the account's gang, when it belongs to one.
    public var gang: String?
    /// Members of that gang when the alert was raised.
    public var gangSize: Int?
    /// Input position of the transfer whose application raised it (`.none` from files and
    /// tests). Not published; the engine uses it to recognise alerts of events replayed after a
    /// restore that an earlier, committed transaction already published.
    public var source: SourcePosition = .none

    public init(alertId: String, account: String, ruleId: String, ruleVersion: String, severity: Severity,
                mode: RuleMode, action: String?, score: Double, eventTs: Int64, window: AlertWindow?,
                evidence: [String], evidenceCount: Int, chain: [String]? = nil, ruleSet: String? = nil) {
        self.alertId = alertId
        self.account = account
        self.ruleId = ruleId
        self.ruleVersion = ruleVersion
        self.severity = severity
        self.mode = mode
        self.action = action
        self.score = score
        self.eventTs = eventTs
        self.window = window
        self.evidence = evidence
        self.evidenceCount = evidenceCount
        self.chain = chain
        self.ruleSet = ruleSet
    }
}
