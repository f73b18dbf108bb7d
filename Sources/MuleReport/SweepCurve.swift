import Foundation

/// One rule's parameter sweep as `mulestream sweep --json` writes it: each point is a setting of
/// the swept thresholds with the precision and recall it reached.
public struct SweepCurve: Sendable, Equatable {
    /// `id@version` of the swept rule.
    public var rule: String
    /// Names of the swept thresholds, e.g. `distinct_payers.min`.
    public var axes: [String]
    public var points: [CurvePoint]

    public init(rule: String, axes: [String], points: [CurvePoint]) {
        self.rule = rule
        self.axes = axes
        self.points = points
    }

    /// Why a sweep file was refused.
    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func load(path: String) throws -> SweepCurve {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ParseError(description: "cannot read sweep file `\(path)`")
        }
        do { return try parse(data) } catch let e as ParseError {
            throw ParseError(description: "sweep file `\(path)`: \(e.description)")
        }
    }

    public static func parse(_ data: Data) throws -> SweepCurve {
        let file: SweepFile
        do { file = try JSONDecoder().decode(SweepFile.self, from: data) } catch let e as DecodingError {
            throw ParseError(description: reason(e))
        } catch {
            throw ParseError(description: "not valid JSON")
        }
        var points: [CurvePoint] = []
        for (i, p) in file.points.enumerated() {
            guard p.values.count == file.axes.count else {
                throw ParseError(description: "points[\(i)].values must hold \(file.axes.count) number(s), one per axis")
            }
            guard (0...1).contains(p.precision), (0...1).contains(p.recall), (0...1).contains(p.f1) else {
                throw ParseError(description: "points[\(i)]: precision, recall and f1 must be between 0 and 1")
            }
            points.append(CurvePoint(values: p.values, alerts: p.alerts, flagged: p.flagged, truePositives: p.true_positives,
                                     falsePositives: p.false_positives, precision: p.precision, recall: p.recall, f1: p.f1))
        }
        return SweepCurve(rule: file.rule, axes: file.axes, points: points)
    }

    /// The file's shape; field names are the JSON keys.
    private struct SweepFile: Decodable {
        struct Point: Decodable {
            var values: [Double]
            var alerts: Int
            var flagged: Int
            var true_positives: Int
            var false_positives: Int
            var precision: Double
            var recall: Double
            var f1: Double
        }
        var rule: String
        var axes: [String]
        var points: [Point]
    }

    /// `points[2].recall: expected a number` rather than Foundation's debug text.
    private static func reason(_ e: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { k in k.intValue.map { "[\($0)]" } ?? ".\(k.stringValue)" }.joined().trimmingPrefix(".").description
        }
        switch e {
        case .keyNotFound(let key, let c): return "missing field `\(path(c.codingPath + [key]))`"
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c):
            let what = type == String.self ? "a string" : type == [String].self ? "an array of strings" : (type == Int.self || type == Double.self) ? "a number" : "\(type)"
            return "`\(path(c.codingPath))` must be \(what)"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON" : "`\(path(c.codingPath))`: \(c.debugDescription)"
        @unknown default: return "not a sweep file"
        }
    }

    /// The point with the highest F1 (the first one on ties, so the choice is stable).
    public var best: CurvePoint? {
        points.indices.max { a, b in points[a].f1 < points[b].f1 || (points[a].f1 == points[b].f1 && a > b) }.map { points[$0] }
    }
}

/// One setting of a sweep and what it scored.
public struct CurvePoint: Sendable, Equatable {
    public var values: [Double]
    public var alerts: Int
    public var flagged: Int
    public var truePositives: Int
    public var falsePositives: Int
    public var precision: Double
    public var recall: Double
    public var f1: Double

    public init(values: [Double], alerts: Int, flagged: Int, truePositives: Int, falsePositives: Int,
                precision: Double, recall: Double, f1: Double) {
        self.values = values
        self.alerts = alerts
        self.flagged = flagged
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.precision = precision
        self.recall = recall
        self.f1 = f1
    }
}
