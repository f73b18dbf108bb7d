import Foundation
import MuleCore

/// An (account, rule) pair an alert was raised for; `rule` is `id@version`.
public struct FlagKey: Sendable, Hashable {
    public var account: String
    public var ruleId: String
    public var ruleVersion: String

    public init(account: String, ruleId: String, ruleVersion: String) {
        self.account = account
        self.ruleId = ruleId
        self.ruleVersion = ruleVersion
    }

    public var ruleKey: String { "\(ruleId)@\(ruleVersion)" }
}

/// What a replay saw and raised.
public struct BacktestSummary: Sendable {
    public var lines = 0
    public var applied: UInt64 = 0
    /// Undecodable lines by reason code.
    public var rejected: [String: Int] = [:]
    /// First few rejected lines with their reason, for the operator.
    public var rejectedSamples: [String] = []
    public var duplicates: UInt64 = 0
    public var late: UInt64 = 0
    public var alerts = 0
    /// Hits silenced by a snooze (counted, not written).
    public var snoozed = 0
    /// Accounts flagged, by `rule@version`.
    public var flaggedByRule: [String: Set<String>] = [:]
    /// Alerts written, by `rule@version`.
    public var alertsByRule: [String: Int] = [:]
    /// Alerts written by UTC day of their event time (days since 1970-01-01), overall.
    public var alertsByDay: [Int64: Int] = [:]
    /// The same by `rule@version`.
    public var alertsByDayByRule: [String: [Int64: Int]] = [:]
    /// Event time of the first alert written for each (account, rule).
    public var firstAlertAt: [FlagKey: Int64] = [:]
    /// Oldest and newest event time among decoded events (nil for an empty replay).
    public var firstEventTs: Int64?
    public var lastEventTs: Int64?
    /// With labels: the event time of each labelled mule's first debit (first onward transfer)
    /// among the events applied; mules that never sent money are absent.
    public var firstDebitAt: [String: Int64] = [:]
    public var seconds: Double = 0
    public var counters = DetectorCounters()
    /// Gangs alive at the end of the replay (ties within the gang horizon of the last event).
    public var gangs: [GangSummary] = []
    /// Largest number of hops remembered at once during the replay, and their bytes then.
    public var peakHops = 0
    public var peakChainBytes = 0

    public init() {}

    public var flagged: Set<String> { flaggedByRule.values.reduce(into: Set<String>()) { $0.formUnion($1) } }
    public var eventsPerSecond: Double { seconds > 0 ? Double(lines) / seconds : 0 }

    /// UTC days from the first to the last decoded event, each with its alert count (zero days included).
    public func alertsPerDay(rule: String? = nil) -> [(day: Int64, alerts: Int)] {
        let counts = rule.map { alertsByDayByRule[$0] ?? [:] } ?? alertsByDay
        var days = Set(counts.keys)
        if let a = firstEventTs, let b = lastEventTs {
            for d in UTCDay.day(of: a)...UTCDay.day(of: b) { days.insert(d) }
        }
        return days.sorted().map { ($0, counts[$0] ?? 0) }
    }

    /// Detection delay of the labelled mules flagged by `rule` (`id@version`; nil = any rule): from
    /// each mule's first debit to its first alert, in event-time seconds. A mule flagged before it
    /// ever sent money (possible only with credit-triggered rules) has a negative delay; a flagged
    /// mule with no debit in the replay is not counted.
    public func detectionDelay(rule: String? = nil) -> DetectionDelay {
        var first: [String: Int64] = [:]
        for (k, t) in firstAlertAt where firstDebitAt[k.account] != nil {
            if let rule, k.ruleKey != rule { continue }
            if let cur = first[k.account], cur <= t { continue }
            first[k.account] = t
        }
        return DetectionDelay(seconds: first.map { Double($0.value - firstDebitAt[$0.key]!) / 1000 })
    }
}

/// Count, median, 90th percentile and maximum of a set of delays in seconds (nearest-rank
/// percentiles; all zero when empty).
public struct DetectionDelay: Sendable, Equatable {
    public var count: Int
    public var median: Double
    public var p90: Double
    public var max: Double

    public init(seconds: [Double]) {
        let s = seconds.sorted()
        count = s.count
        func rank(_ p: Double) -> Double {
            guard !s.isEmpty else { return 0 }
            return s[Swift.max(0, Int((p * Double(s.count)).rounded(.up)) - 1)]
        }
        median = rank(0.5)
        p90 = rank(0.9)
        max = s.last ?? 0
    }
}

/// UTC calendar days as day numbers since 1970-01-01 and `YYYY-MM-DD` text.
public enum UTCDay {
    public static func day(of millis: Int64) -> Int64 {
        millis >= 0 ? millis / 86_400_000 : (millis + 1) / 86_400_000 - 1
    }

    /// `YYYY-MM-DD` of a day number (proleptic Gregorian, civil-from-days).
    public static func text(_ day: Int64) -> String {
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))"
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` of an epoch-millisecond time.
    public static func timestamp(_ millis: Int64) -> String {
        let d = day(of: millis)
        let ms = millis - d * 86_400_000
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: Swift.max(0, n - s.count)) + s
        }
        return "\(text(d))T\(pad(ms / 3_600_000, 2)):\(pad(ms / 60_000 % 60, 2)):\(pad(ms / 1000 % 60, 2)).\(pad(ms % 1000, 3))Z"
    }
}

/// Replays an NDJSON event file through the same detection core as `mulestream run`.
/// Events are applied in event-time order within the configured allowed lateness; events later
/// than that are counted as late (raise `allowedLatenessMillis` for files that are not sorted).
public enum Backtest {
    /// `labels`, when given, enables `firstDebitAt` (and so detection delays).
    public static func run(
        eventsPath: String, rules: [Rule], config: DetectorConfig, limits: DecoderLimits = DecoderLimits(),
        snoozes: SnoozeList = SnoozeList(), labels: Labels? = nil, onAlert: (Alert) throws -> Void
    ) throws -> BacktestSummary {
        var detector = Detector(rules: rules, config: config)
        let decoder = EventDecoder(limits: limits)
        var summary = BacktestSummary()
        let started = Date()
        // Labelled mules interned up front, so each event costs a byte lookup, not a String.
        let mules = labels.map { Array($0.mules).sorted() } ?? []
        let muleTable = AccountTable(names: mules)
        var firstDebit = [Int64](repeating: .max, count: mules.count)
        var minTs = Int64.max
        var maxTs = Int64.min
        func drain() throws {
            for a in detector.takeAlerts() {
                if snoozes.snooze(for: a) != nil {
                    summary.snoozed += 1
                    continue
                }
                let key = "\(a.ruleId)@\(a.ruleVersion)"
                let day = UTCDay.day(of: a.eventTs)
                summary.alerts += 1
                summary.flaggedByRule[key, default: []].insert(a.account)
                summary.alertsByRule[key, default: 0] += 1
                summary.alertsByDay[day, default: 0] += 1
                summary.alertsByDayByRule[key, default: [:]][day, default: 0] += 1
                let fk = FlagKey(account: a.account, ruleId: a.ruleId, ruleVersion: a.ruleVersion)
                if summary.firstAlertAt[fk].map({ a.eventTs < $0 }) ?? true { summary.firstAlertAt[fk] = a.eventTs }
                try onAlert(a)
            }
        }
        var reader = LineReader(path: eventsPath)
        reader.maxLineBytes = limits.maxEventBytes
        try reader.forEachLine { lineNo, bytes in
            summary.lines += 1
            guard let bytes else {
                summary.rejected["oversized", default: 0] += 1
                if summary.rejectedSamples.count < 5 { summary.rejectedSamples.append("line \(lineNo): oversized") }
                return
            }
            do throws(DecodeError) {
                let t = try decoder.decode(bytes)
                if t.timestamp < minTs { minTs = t.timestamp }
                if t.timestamp > maxTs { maxTs = t.timestamp }
                let outcome = detector.ingest(t, in: bytes, position: SourcePosition(partition: 0, offset: Int64(lineNo)))
                if muleTable.count > 0, outcome == .accepted || outcome == .lateProcessed,
                   let i = muleTable.lookup(t.payer.bytes(in: bytes)).map(Int.init),
                   t.timestamp < firstDebit[i] {
                    firstDebit[i] = t.timestamp
                }
            } catch {
                summary.rejected[error.code, default: 0] += 1
                if summary.rejectedSamples.count < 5 { summary.rejectedSamples.append("line \(lineNo): \(error.reason)") }
            }
            if !detector.alerts.isEmpty { try drain() }
            if summary.lines & 0xFFFF == 0 {  // sample the chain state's size now and then
                let state = detector.chainState
                if state.hops > summary.peakHops { (summary.peakHops, summary.peakChainBytes) = (state.hops, state.bytes) }
            }
        }
        detector.advanceWatermark(to: .max)
        try drain()
        summary.seconds = Date().timeIntervalSince(started)
        if minTs <= maxTs {
            summary.firstEventTs = minTs
            summary.lastEventTs = maxTs
        }
        for (i, m) in mules.enumerated() where firstDebit[i] != .max { summary.firstDebitAt[m] = firstDebit[i] }
        summary.counters = detector.counters
        summary.gangs = detector.gangSummaries()
        let state = detector.chainState
        if state.hops > summary.peakHops { (summary.peakHops, summary.peakChainBytes) = (state.hops, state.bytes) }
        summary.applied = detector.counters.applied
        summary.duplicates = detector.counters.duplicates
        summary.late = detector.counters.lateDropped
        return summary
    }
}
