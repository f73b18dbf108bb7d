/// Precision against recall: every sweep point, the frontier through the best of them, iso-F1
/// guides, the best-F1 point called out with its threshold values, and the replay's own
/// operating point.
struct PRCurveChart {
    var sweep: SweepCurve?
    /// Precision and recall of the replayed rule set, when labels were given.
    var operatingPoint: (precision: Double, recall: Double)?

    func svg() -> String {
        let f = PlotFrame(width: 600, height: 460, bottom: 56, xMax: 1, yMax: 1)
        var s = f.open(id: "pr-curve", label: "Precision–recall curve")
        let ticks = stride(from: 0.0, through: 1.0001, by: 0.2).map { ($0, Markup.fixed($0, 1)) }
        s += f.axes(xTicks: ticks, yTicks: ticks, xTitle: "recall (share of labelled mules flagged)", yTitle: "precision (share of flagged that are mules)")
        // Iso-F1 guides: precision = F·r / (2r − F) for r > F/2.
        for target in [0.5, 0.7, 0.9] {
            var d = ""
            var r = target / 2 + 0.005
            while r <= 1.0001 {
                let p = target * r / (2 * r - target)
                if p <= 1 { d += (d.isEmpty ? "M" : "L") + "\(Markup.n(f.x(r))),\(Markup.n(f.y(p)))" }
                r += 0.01
            }
            s += "<path class=\"iso-f1\" d=\"\(d)\" fill=\"none\" stroke=\"#cbd5e1\" stroke-dasharray=\"4 4\"/>"
            s += "<text x=\"\(Markup.n(f.x(1) - 4))\" y=\"\(Markup.n(f.y(target / (2 - target)) - 5))\" text-anchor=\"end\" font-size=\"11\" fill=\"#94a3b8\">F1 \(Markup.fixed(target, 1))</text>"
        }
        let points = sweep?.points ?? []
        if points.isEmpty && operatingPoint == nil {
            s += f.message(sweep == nil ? "no labels: nothing to score" : "the sweep has no points")
        }
        if !points.isEmpty, let sweep {
            // Frontier: the points no other point beats on both precision and recall, by recall.
            let frontier = points.filter { p in
                !points.contains { q in q.precision >= p.precision && q.recall >= p.recall && (q.precision > p.precision || q.recall > p.recall) }
            }.sorted { ($0.recall, -$0.precision) < ($1.recall, -$1.precision) }
            if frontier.count > 1 {
                let d = frontier.enumerated().map { i, p in (i == 0 ? "M" : "L") + "\(Markup.n(f.x(p.recall))),\(Markup.n(f.y(p.precision)))" }.joined()
                s += "<path class=\"frontier\" d=\"\(d)\" fill=\"none\" stroke=\"\(Palette.series[0])\" stroke-width=\"2\"/>"
            }
            s += "<g class=\"sweep-points\">"
            for p in points {
                s += "<circle cx=\"\(Markup.n(f.x(p.recall)))\" cy=\"\(Markup.n(f.y(p.precision)))\" r=\"4.5\" fill=\"\(Palette.series[0])\" fill-opacity=\"0.55\" stroke=\"#fff\">"
                s += "<title>\(Markup.escape(describe(p, axes: sweep.axes)))</title></circle>"
            }
            s += "</g>"
        }
        // One key box in the lower left (where precision–recall points rarely are): the best-F1
        // setting with its threshold values, and this replay's own point.
        var lines: [(String, String, Bool)] = []  // text, colour, bold
        let best = sweep?.best
        if let best, let sweep {
            lines.append(("best F1 \(Markup.fixed(best.f1, 3))  (P \(Markup.fixed(best.precision, 3)), R \(Markup.fixed(best.recall, 3)))", "#b91c1c", true))
            for (axis, v) in zip(sweep.axes, best.values) { lines.append(("\(axis) = \(Markup.label(v))", Palette.ink, false)) }
        }
        if let op = operatingPoint {
            let f1 = op.precision + op.recall == 0 ? 0 : 2 * op.precision * op.recall / (op.precision + op.recall)
            lines.append(("this replay  (P \(Markup.fixed(op.precision, 3)), R \(Markup.fixed(op.recall, 3)), F1 \(Markup.fixed(f1, 3)))", "#92400e", true))
        }
        let boxX = f.x(0.04), boxY = f.y(0.40), boxW = 330.0, indent = 26.0
        if let best {
            let bx = f.x(best.recall), by = f.y(best.precision)
            s += "<circle class=\"best\" cx=\"\(Markup.n(bx))\" cy=\"\(Markup.n(by))\" r=\"9\" fill=\"none\" stroke=\"#dc2626\" stroke-width=\"2.5\"/>"
            s += "<line x1=\"\(Markup.n(bx - 7))\" y1=\"\(Markup.n(by + 7))\" x2=\"\(Markup.n(boxX + boxW * 0.6))\" y2=\"\(Markup.n(boxY))\" stroke=\"#dc2626\" stroke-dasharray=\"3 3\"/>"
        }
        if let op = operatingPoint {
            s += diamond(x: f.x(op.recall), y: f.y(op.precision), size: 8, title: "this replay: precision \(Markup.fixed(op.precision, 3)), recall \(Markup.fixed(op.recall, 3))")
        }
        if !lines.isEmpty {
            s += "<g class=\"pr-key\" font-size=\"12\">"
            s += "<rect x=\"\(Markup.n(boxX))\" y=\"\(Markup.n(boxY))\" width=\"\(Markup.n(boxW))\" height=\"\(Markup.n(Double(lines.count) * 18 + 12))\" rx=\"6\" fill=\"#fff\" fill-opacity=\"0.92\" stroke=\"#cbd5e1\"/>"
            for (i, line) in lines.enumerated() {
                let y = boxY + 21 + Double(i) * 18
                if i == 0 && best != nil {
                    s += "<circle cx=\"\(Markup.n(boxX + 13))\" cy=\"\(Markup.n(y - 4))\" r=\"6\" fill=\"none\" stroke=\"#dc2626\" stroke-width=\"2\"/>"
                } else if i == lines.count - 1 && operatingPoint != nil {
                    s += diamond(x: boxX + 13, y: y - 4, size: 6, title: nil)
                }
                s += "<text x=\"\(Markup.n(boxX + indent))\" y=\"\(Markup.n(y))\" fill=\"\(line.1)\"\(line.2 ? " font-weight=\"600\"" : "")>\(Markup.escape(line.0))</text>"
            }
            s += "</g>"
        }
        return s + "</svg>"
    }

    func diamond(x: Double, y: Double, size: Double, title: String?) -> String {
        let d = "M\(Markup.n(x)),\(Markup.n(y - size))L\(Markup.n(x + size)),\(Markup.n(y))L\(Markup.n(x)),\(Markup.n(y + size))L\(Markup.n(x - size)),\(Markup.n(y))Z"
        let t = title.map { "<title>\(Markup.escape($0))</title>" } ?? ""
        return "<path class=\"operating-point\" d=\"\(d)\" fill=\"#f59e0b\" stroke=\"#92400e\" stroke-width=\"1.5\">\(t)</path>"
    }

    func describe(_ p: CurvePoint, axes: [String]) -> String {
        zip(axes, p.values).map { "\($0)=\(Markup.label($1))" }.joined(separator: ", ")
            + " — precision \(Markup.fixed(p.precision, 3)), recall \(Markup.fixed(p.recall, 3)), F1 \(Markup.fixed(p.f1, 3)), \(p.flagged) flagged (\(p.truePositives) TP, \(p.falsePositives) FP), \(p.alerts) alerts"
    }
}
