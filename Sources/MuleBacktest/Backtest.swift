import Foundation
import MuleCore

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
    public var seconds: Double = 0
    public var counters = DetectorCounters()

    public init() {}

    public var flagged: Set<String> { flaggedByRule.values.reduce(into: Set<String>()) { $0.formUnion($1) } }
    public var eventsPerSecond: Double { seconds > 0 ? Double(lines) / seconds : 0 }
}

/// Replays an NDJSON event file through the same detection core as `mulestream run`.
/// Events are applied in event-time order within the configured allowed lateness; events later
/// than that are counted as late (raise `allowedLatenessMillis` for files that are not sorted).
public enum Backtest {
    public static func run(
        eventsPath: String, rules: [Rule], config: DetectorConfig, limits: DecoderLimits = DecoderLimits(),
        snoozes: SnoozeList = SnoozeList(), onAlert: (Alert) throws -> Void
    ) throws -> BacktestSummary {
        var detector = Detector(rules: rules, config: config)
        let decoder = EventDecoder(limits: limits)
        var summary = BacktestSummary()
        let started = Date()
        func drain() throws {
            for a in detector.takeAlerts() {
                if snoozes.snooze(for: a) != nil {
                    summary.snoozed += 1
                    continue
                }
                summary.alerts += 1
                summary.flaggedByRule["\(a.ruleId)@\(a.ruleVersion)", default: []].insert(a.account)
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
                _ = detector.ingest(t, in: bytes, position: SourcePosition(partition: 0, offset: Int64(lineNo)))
            } catch {
                summary.rejected[error.code, default: 0] += 1
                if summary.rejectedSamples.count < 5 { summary.rejectedSamples.append("line \(lineNo): \(error.reason)") }
            }
            if !detector.alerts.isEmpty { try drain() }
        }
        detector.advanceWatermark(to: .max)
        try drain()
        summary.seconds = Date().timeIntervalSince(started)
        summary.counters = detector.counters
        summary.applied = detector.counters.applied
        summary.duplicates = detector.counters.duplicates
        summary.late = detector.counters.lateDropped
        return summary
    }
}
