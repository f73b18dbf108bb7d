/// How bad an alert is, as the rule file says (`severity`).
public enum Severity: UInt8, Sendable, CaseIterable, Comparable {
    case low, medium, high, critical

    public var name: String {
        switch self {
        case .low: "low"
        case .medium: "medium"
        case .high: "high"
        case .critical: "critical"
        }
    }

    public init?(name: String) {
        guard let s = Severity.allCases.first(where: { $0.name == name }) else { return nil }
        self = s
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }
}

/// Whether a rule's alerts are meant to be acted on (`enforce`) or only recorded while the
/// rule is being evaluated (`shadow`). Shadow alerts are still published, marked `"mode":"shadow"`.
public enum RuleMode: UInt8, Sendable, CaseIterable {
    case enforce, shadow

    public var name: String { self == .enforce ? "enforce" : "shadow" }

    public init?(name: String) {
        switch name {
        case "enforce": self = .enforce
        case "shadow": self = .shadow
        default: return nil
        }
    }
}

/// A window quantity a condition compares against bounds. Units: counts are counts, amounts
/// are currency units, ratios are 0…1 (`retained` may be negative when more left than came in),
/// durations are milliseconds.
public enum Metric: Sendable, Equatable, Hashable {
    /// Number of (filtered) credits in the window.
    case inCount
    /// Sum of (filtered) credits in the window, currency units.
    case inAmount
    /// Distinct accounts that paid this account in the window.
    case distinctPayers
    case outCount
    case outAmount
    case distinctPayees
    /// Money sent out after it came in (FIFO matched), divided by money received, in the window.
    case passThrough
    /// Money-weighted median of the time from a credit to the debit that spends it (FIFO), ms.
    case dwellMedian
    /// Money-weighted 90th percentile of the same, ms.
    case dwellP90
    /// `1 - out_amount / in_amount`: the fraction kept (the commission band).
    case retained
    /// Most credits inside any sub-window of the given length (ms) within the window.
    case burst(subWindowMillis: Int64)
    /// Time since the account was first seen by the engine, ms.
    case accountAge
    /// Longest run of consecutive forwarding hops ending with a transfer this account made in the
    /// window: 0 = it forwarded nothing, 1 = it passed on money that was not itself forwarded to
    /// it, 2 = it is the second layer of a chain, …
    case chainDepth
    /// Distinct payers in the window that passed money on to this account mule-style: their
    /// transfer forwarded money gathered from two or more payers, or was itself at depth ≥ 2.
    case chainPayers
    /// Members of the account's gang (0 when it belongs to none).
    case gangSize

    /// The rule-file spelling of the metric.
    public var name: String {
        switch self {
        case .inCount: "in_count"
        case .inAmount: "in_amount"
        case .distinctPayers: "distinct_payers"
        case .outCount: "out_count"
        case .outAmount: "out_amount"
        case .distinctPayees: "distinct_payees"
        case .passThrough: "pass_through"
        case .dwellMedian: "dwell.median"
        case .dwellP90: "dwell.p90"
        case .retained: "retained"
        case .burst: "burst"
        case .accountAge: "account_age"
        case .chainDepth: "chain_depth"
        case .chainPayers: "chain_payers"
        case .gangSize: "gang_size"
        }
    }
}

/// Inclusive bounds on a metric; either may be absent.
public struct Bound: Sendable, Equatable {
    public var min: Double?
    public var max: Double?

    public init(min: Double? = nil, max: Double? = nil) {
        self.min = min
        self.max = max
    }

    /// False for NaN: a metric that is undefined (a ratio with nothing received, a dwell with
    /// nothing passed on) never satisfies a bound.
    @inlinable public func contains(_ v: Double) -> Bool {
        if v.isNaN { return false }
        if let min, v < min { return false }
        if let max, v > max { return false }
        return true
    }
}

/// A rule's condition tree over window metrics.
public indirect enum Condition: Sendable, Equatable {
    case all([Condition])
    case any([Condition])
    case not(Condition)
    case metric(Metric, Bound)

    /// Every metric the tree reads, for planning what a window scan must compute.
    public var metrics: [Metric] {
        switch self {
        case .all(let cs), .any(let cs): cs.flatMap(\.metrics)
        case .not(let c): c.metrics
        case .metric(let m, _): [m]
        }
    }

    /// Always true: an empty `all`.
    public static let always = Condition.all([])
}

/// Which legs a rule looks at. Sets are bitmasks over `Channel`/`AccountKind` raw values;
/// an empty mask means "any".
public struct LegFilter: Sendable, Equatable {
    /// Channels of the transfer.
    public var channels: UInt16
    /// Kind of the account being evaluated, as the event reported it (for credits: `payee_kind`;
    /// for debits: `payer_kind`).
    public var accountKinds: UInt8
    /// Kind of the other side (for credits: `payer_kind`; for debits: `payee_kind`).
    public var counterpartyKinds: UInt8

    public init(channels: [Channel] = [], accountKinds: [AccountKind] = [], counterpartyKinds: [AccountKind] = []) {
        self.channels = channels.reduce(0) { $0 | (1 << UInt16($1.rawValue)) }
        self.accountKinds = accountKinds.reduce(0) { $0 | (1 << $1.rawValue) }
        self.counterpartyKinds = counterpartyKinds.reduce(0) { $0 | (1 << $1.rawValue) }
    }

    public static let any = LegFilter()

    @inlinable public func accepts(channel: Channel, accountKind: AccountKind, counterpartyKind: AccountKind) -> Bool {
        (channels == 0 || channels & (1 << UInt16(channel.rawValue)) != 0)
            && (accountKinds == 0 || accountKinds & (1 << accountKind.rawValue) != 0)
            && (counterpartyKinds == 0 || counterpartyKinds & (1 << counterpartyKind.rawValue) != 0)
    }
}

/// A weighted signal: when `condition` holds, `weight` is added to the rule's score.
public struct ScoreSignal: Sendable, Equatable {
    public var weight: Double
    public var condition: Condition

    public init(weight: Double, condition: Condition) {
        self.weight = weight
        self.condition = condition
    }
}

/// Maps a score to what the consumer of the alert should do (for example `review` from 0.6,
/// `block` from 0.85).
public struct OutcomeBand: Sendable, Equatable {
    public var action: String
    public var minScore: Double

    public init(action: String, minScore: Double) {
        self.action = action
        self.minScore = minScore
    }
}

/// When a rule is evaluated for an account.
public enum RuleTrigger: UInt8, Sendable {
    /// On every credit and every debit of the account.
    case anyLeg
    /// Only when the account receives money.
    case credit
    /// Only when the account sends money (the usual choice for receive-and-forward rules).
    case debit
}

/// One detection rule as risk teams write it in a rule file, identified by `id@version`.
///
/// The rule fires for an account when `conditions` hold over the account's legs in the
/// sliding window `(t - window, t]` ending at the triggering leg's event time `t`. Its score is
/// `base + Σ weight` of the `signals` that hold, clamped to 0…1; the alert's action is the
/// highest outcome band the score reaches. With bands defined, a score below every band raises
/// no alert; without bands every firing raises one.
public struct Rule: Sendable, Equatable {
    public var id: String
    public var version: String
    public var description: String
    public var severity: Severity
    public var mode: RuleMode
    public var windowMillis: Int64
    public var cooldownMillis: Int64
    public var trigger: RuleTrigger
    public var credits: LegFilter
    public var debits: LegFilter
    public var conditions: Condition
    public var scoreBase: Double
    public var signals: [ScoreSignal]
    public var outcomes: [OutcomeBand]

    public init(
        id: String, version: String, description: String = "", severity: Severity = .high,
        mode: RuleMode = .enforce, windowMillis: Int64, cooldownMillis: Int64 = 0,
        trigger: RuleTrigger = .anyLeg, credits: LegFilter = .any, debits: LegFilter = .any,
        conditions: Condition, scoreBase: Double = 1, signals: [ScoreSignal] = [],
        outcomes: [OutcomeBand] = []
    ) {
        self.id = id
        self.version = version
        self.description = description
        self.severity = severity
        self.mode = mode
        self.windowMillis = windowMillis
        self.cooldownMillis = cooldownMillis
        self.trigger = trigger
        self.credits = credits
        self.debits = debits
        self.conditions = conditions
        self.scoreBase = scoreBase
        self.signals = signals
        self.outcomes = outcomes.sorted { $0.minScore < $1.minScore }
    }

    /// `id@version`, how alerts and logs name the rule.
    public var key: String { "\(id)@\(version)" }
}
