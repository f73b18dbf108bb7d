import MuleCore

/// One axis of a threshold sweep: a bound (`min` or `max`) of the first leaf condition in a
/// rule's `conditions` tree that reads a metric, and the values to try for it.
public struct SweepAxis: Sendable, Equatable {
    /// As written on the command line: `distinct_payers.min`, `dwell.max`, `dwell.p90.max`, …
    public var name: String
    public var metric: String
    public var isMin: Bool
    /// Values in the rule's units (durations in milliseconds).
    public var values: [Double]
    /// The values as written, for tables.
    public var texts: [String]

    /// Whether the metric's bounds are durations (written `10m`, stored in ms).
    public var isDuration: Bool { metric.hasPrefix("dwell") || metric == "account_age" }

    /// Parses `METRIC.BOUND=v1,v2,…`.
    public init(parsing spec: String) throws(SweepError) {
        guard let eq = spec.firstIndex(of: "=") else { throw .badAxis(spec, "expected METRIC.BOUND=v1,v2,…") }
        name = String(spec[..<eq])
        guard let dot = name.lastIndex(of: ".") else { throw .badAxis(spec, "expected METRIC.BOUND, e.g. distinct_payers.min") }
        metric = String(name[..<dot])
        switch name[name.index(after: dot)...] {
        case "min": isMin = true
        case "max": isMin = false
        default: throw .badAxis(spec, "the bound must be `min` or `max`, e.g. `\(metric).min`")
        }
        guard SweepAxis.metricNames.contains(metric) else {
            throw .badAxis(spec, "unknown metric `\(metric)`; one of \(SweepAxis.metricNames.joined(separator: ", "))")
        }
        texts = spec[spec.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
        values = []
        guard !texts.isEmpty, !texts.contains(where: \.isEmpty) else { throw .badAxis(spec, "give one or more comma-separated values") }
        for t in texts {
            if metric.hasPrefix("dwell") || metric == "account_age" {
                guard let ms = DurationText.milliseconds(t) else {
                    throw .badAxis(spec, "`\(t)` is not a duration like 90s, 10m or 1h")
                }
                values.append(Double(ms))
            } else {
                guard let v = Double(t), v.isFinite else { throw .badAxis(spec, "`\(t)` is not a number") }
                values.append(v)
            }
        }
    }

    /// Metric spellings `--vary` accepts; `dwell` means the rule's dwell leaf whatever its `stat`.
    public static let metricNames = [
        "in_count", "in_amount", "distinct_payers", "out_count", "out_amount", "distinct_payees",
        "pass_through", "dwell", "dwell.median", "dwell.p90", "retained", "burst", "account_age",
    ]

    func matches(_ m: Metric) -> Bool {
        switch metric {
        case "dwell": m == .dwellMedian || m == .dwellP90
        default: m.name == metric
        }
    }

    /// A value as the JSON report shows it: durations in seconds, everything else as is.
    public func reported(_ v: Double) -> Double { isDuration ? v / 1000 : v }
}

/// Why a sweep cannot run.
public enum SweepError: Error, Equatable, CustomStringConvertible {
    case badAxis(String, String)
    case notInRule(axis: String, rule: String)
    case repeatedAxis(String)
    case noAxes

    public var description: String {
        switch self {
        case .badAxis(let spec, let why): "--vary `\(spec)`: \(why)"
        case .notInRule(let axis, let rule): "--vary \(axis): rule \(rule) has no `\(axis)` bound in its conditions"
        case .repeatedAxis(let axis): "--vary \(axis) is given twice"
        case .noAxes: "give at least one --vary METRIC.BOUND=v1,v2,…"
        }
    }
}

/// One combination of a sweep's grid with what its rule variant raised.
public struct SweepPoint: Sendable {
    /// One value per axis, in the rule's units.
    public var values: [Double]
    public var variant: Rule
    public var alerts: Int
    public var flagged: Set<String>
    public var score: Score?
}

/// A grid of threshold variants of one rule, evaluated in a single replay: each combination
/// becomes a copy of the rule with its own version (`2+sweep.7`), so cool-downs and alert ids
/// stay separate, and all copies run side by side in one `Detector`.
public struct Sweep: Sendable {
    public var rule: Rule
    public var axes: [SweepAxis]
    /// Path (child indices) to the leaf each axis changes.
    var paths: [[Int]]

    public init(rule: Rule, axes: [SweepAxis]) throws(SweepError) {
        guard !axes.isEmpty else { throw .noAxes }
        self.rule = rule
        self.axes = axes
        paths = []
        var seen = Set<String>()
        for a in axes {
            guard let path = rule.conditions.firstLeafPath(where: a.matches),
                  case .metric(_, let b) = rule.conditions.leaf(at: path),
                  (a.isMin ? b.min : b.max) != nil
            else { throw .notInRule(axis: a.name, rule: rule.key) }
            guard seen.insert("\(path)/\(a.isMin)").inserted else { throw .repeatedAxis(a.name) }
            paths.append(path)
        }
    }

    /// Every combination, first axis slowest (the order the table and JSON list them).
    public var grid: [[Double]] {
        axes.reduce([[]]) { acc, axis in acc.flatMap { prefix in axis.values.map { prefix + [$0] } } }
    }

    /// The value texts of combination `i`.
    public func texts(_ i: Int) -> [String] {
        var rest = i
        var out = [String](repeating: "", count: axes.count)
        for k in axes.indices.reversed() {
            out[k] = axes[k].texts[rest % axes[k].values.count]
            rest /= axes[k].values.count
        }
        return out
    }

    /// The rule with combination `values` applied, as version `VERSION+sweep.INDEX`.
    public func variant(_ index: Int, values: [Double]) -> Rule {
        var r = rule
        r.version = "\(rule.version)+sweep.\(index)"
        for (k, axis) in axes.enumerated() {
            r.conditions = r.conditions.updatingLeaf(at: paths[k]) { b in
                if axis.isMin { b.min = values[k] } else { b.max = values[k] }
            }
        }
        return r
    }

    public var variants: [Rule] { grid.enumerated().map { variant($0.offset, values: $0.element) } }

    /// Replays the file once with every variant and scores each against `labels`.
    public func run(eventsPath: String, config: DetectorConfig, limits: DecoderLimits = DecoderLimits(),
                    labels: Labels?) throws -> (points: [SweepPoint], summary: BacktestSummary) {
        let rules = variants
        let summary = try Backtest.run(eventsPath: eventsPath, rules: rules, config: config, limits: limits) { _ in }
        let points = zip(grid, rules).map { values, r in
            let flagged = summary.flaggedByRule[r.key] ?? []
            return SweepPoint(values: values, variant: r, alerts: summary.alertsByRule[r.key] ?? 0, flagged: flagged,
                              score: labels.map { Score(flagged: flagged, labels: $0) })
        }
        return (points, summary)
    }
}

extension Condition {
    /// Child-index path to the first leaf (depth first, in file order) whose metric matches.
    func firstLeafPath(where match: (Metric) -> Bool) -> [Int]? {
        switch self {
        case .metric(let m, _): return match(m) ? [] : nil
        case .not(let c): return c.firstLeafPath(where: match).map { [0] + $0 }
        case .all(let cs), .any(let cs):
            for (i, c) in cs.enumerated() {
                if let p = c.firstLeafPath(where: match) { return [i] + p }
            }
            return nil
        }
    }

    func leaf(at path: [Int]) -> Condition {
        guard let i = path.first else { return self }
        switch self {
        case .not(let c): return c.leaf(at: Array(path.dropFirst()))
        case .all(let cs), .any(let cs): return cs[i].leaf(at: Array(path.dropFirst()))
        case .metric: return self
        }
    }

    func updatingLeaf(at path: [Int], _ change: (inout Bound) -> Void) -> Condition {
        switch self {
        case .metric(let m, var b):
            change(&b)
            return .metric(m, b)
        case .not(let c):
            return .not(c.updatingLeaf(at: Array(path.dropFirst()), change))
        case .all(var cs):
            cs[path[0]] = cs[path[0]].updatingLeaf(at: Array(path.dropFirst()), change)
            return .all(cs)
        case .any(var cs):
            cs[path[0]] = cs[path[0]].updatingLeaf(at: Array(path.dropFirst()), change)
            return .any(cs)
        }
    }
}
