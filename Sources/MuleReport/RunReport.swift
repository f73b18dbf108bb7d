import MuleBacktest
import MuleCore

/// Everything the report page shows about one replay: facts, alerts, scores, first debits and
/// the gangs drawn from the money flow. Built once; rendering only reads it.
public struct RunReport: Sendable {
    public var summary: BacktestSummary
    public var ruleKeys: [String]
    public var ruleSetHash: String
    /// Alerts in the order the replay raised them.
    public var alerts: [Alert]
    public var labels: Labels?
    public var sweep: SweepCurve?
    public var firstEventTime: Int64?
    public var lastEventTime: Int64?
    /// Event time of the first debit in the file of each labelled mule.
    public var firstDebit: [String: Int64]
    public var gangs: [Gang]

    public init(summary: BacktestSummary, rules: [Rule], alerts: [Alert], labels: Labels?, sweep: SweepCurve?,
                firstEventTime: Int64?, lastEventTime: Int64?, firstDebit: [String: Int64], gangs: [Gang]) {
        self.summary = summary
        self.ruleKeys = rules.map(\.key).sorted()
        self.ruleSetHash = MuleCore.ruleSetHash(rules)
        self.alerts = alerts
        self.labels = labels
        self.sweep = sweep
        self.firstEventTime = firstEventTime
        self.lastEventTime = lastEventTime
        self.firstDebit = firstDebit
        self.gangs = gangs
    }

    /// Replays `eventsPath` with `Backtest.run` (which also finds the span and the labelled mules'
    /// first debits), then reads the file once more for the transfers of flagged accounts.
    public static func build(eventsPath: String, rules: [Rule], config: DetectorConfig, limits: DecoderLimits = DecoderLimits(),
                             labels: Labels?, sweep: SweepCurve?) throws -> RunReport {
        var alerts: [Alert] = []
        // The replay itself finds the event-time span and each labelled mule's first debit; the
        // second read only collects the transfers of the accounts it flagged.
        let summary = try Backtest.run(eventsPath: eventsPath, rules: rules, config: config, limits: limits,
                                       labels: labels) { alerts.append($0) }
        let transfers = try EventScan.transfers(path: eventsPath, limits: limits, flagged: Set(alerts.map(\.account)))
        return RunReport(
            summary: summary, rules: rules, alerts: alerts, labels: labels, sweep: sweep,
            firstEventTime: summary.firstEventTs, lastEventTime: summary.lastEventTs, firstDebit: summary.firstDebitAt,
            gangs: GangFinder.find(alerts: alerts, transfers: transfers))
    }

    public var flagged: Set<String> { Set(alerts.map(\.account)) }

    /// Precision, recall and F1 of all flagged accounts, when labels were given.
    public var score: Score? { labels.map { Score(flagged: flagged, labels: $0) } }

    /// For each flagged labelled mule with a debit in the file: event time from its first debit to
    /// its first alert, milliseconds (never negative), sorted by account.
    public var detectionDelays: [(account: String, millis: Int64)] {
        guard let labels else { return [] }
        var firstAlert: [String: Int64] = [:]
        for a in alerts where labels.mules.contains(a.account) {
            firstAlert[a.account] = min(firstAlert[a.account] ?? .max, a.eventTs)
        }
        return firstAlert.keys.sorted().compactMap { account in
            guard let debit = firstDebit[account] else { return nil }
            return (account, max(0, firstAlert[account]! - debit))
        }
    }

    /// Flagged accounts with what their alerts say, strongest first.
    public var accounts: [FlaggedAccount] {
        var byAccount: [String: FlaggedAccount] = [:]
        for a in alerts {
            var f = byAccount[a.account] ?? FlaggedAccount(account: a.account, strongest: a)
            f.rules.insert("\(a.ruleId)@\(a.ruleVersion)")
            f.alertCount += 1
            for e in a.evidence where !f.evidence.contains(e) { f.evidence.append(e) }
            if a.score > f.strongest.score { f.strongest = a }
            byAccount[a.account] = f
        }
        return byAccount.values.sorted { a, b in
            if a.strongest.score != b.strongest.score { return a.strongest.score > b.strongest.score }
            let ia = a.strongest.window?.inAmount ?? .zero, ib = b.strongest.window?.inAmount ?? .zero
            if ia != ib { return ia > ib }
            return a.account < b.account
        }
    }
}

/// One flagged account as the table shows it: its strongest alert's window and all its evidence.
public struct FlaggedAccount: Sendable {
    public var account: String
    public var rules: Set<String> = []
    public var alertCount = 0
    /// The alert with the highest score (the first one on ties).
    public var strongest: Alert
    /// Evidence ids of all its alerts, first seen first.
    public var evidence: [String] = []

    init(account: String, strongest: Alert) {
        self.account = account
        self.strongest = strongest
    }
}
