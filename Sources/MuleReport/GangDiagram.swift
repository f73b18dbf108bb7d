import MuleBacktest
import MuleCore

/// Node-link drawings of the detected gangs, stacked in one SVG: money flows left to right,
/// node colour says what the labels know about the account, dashed nodes are unflagged likely sinks.
struct GangDiagram {
    var gangs: [Gang]
    var labels: Labels?
    var limit = 12

    static let width = 1200.0
    static let rowGap = 48.0
    static let radius = 11.0
    /// Most amount labels per gang: dense gangs label their biggest flows; every edge keeps its tooltip.
    static let labelledEdges = 14

    /// What the labels say about an account, as a legend entry and a colour.
    func kind(of account: String) -> (name: String, colour: String) {
        guard let labels else { return ("unlabelled", "#2563eb") }
        guard labels.mules.contains(account) else { return ("not a mule", "#94a3b8") }
        switch labels.roles[account] ?? "" {
        case "sink": return ("sink", "#7c3aed")
        case let r where r.hasPrefix("mule_layer"): return ("mule, deeper layer", "#b91c1c")
        default: return ("mule", "#f97316")
        }
    }

    func svg() -> String {
        let shown = Array(gangs.prefix(limit))
        var body = ""
        var y = 56.0
        for (i, g) in shown.enumerated() {
            let (part, h) = drawing(g, number: i + 1, top: y)
            body += part
            y += h + 24
        }
        if shown.isEmpty {
            body += "<text x=\"\(Markup.n(Self.width / 2))\" y=\"90\" text-anchor=\"middle\" font-size=\"14\" fill=\"\(Palette.muted)\">no two flagged accounts paid each other or a common account</text>"
            y = 120
        } else if gangs.count > shown.count {
            body += "<text x=\"20\" y=\"\(Markup.n(y))\" font-size=\"13\" fill=\"\(Palette.muted)\">\(gangs.count - shown.count) smaller gang(s) not drawn</text>"
            y += 24
        }
        var s = "<svg id=\"chains\" viewBox=\"0 0 \(Markup.n(Self.width)) \(Markup.n(y))\" width=\"\(Markup.n(Self.width))\" height=\"\(Markup.n(y))\" role=\"img\" aria-label=\"Money flow of detected chains and gangs\">"
        s += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"10\" markerHeight=\"10\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10Z\" fill=\"#334155\"/></marker>"
        s += "<marker id=\"arrow-light\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"10\" markerHeight=\"10\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10Z\" fill=\"#94a3b8\"/></marker></defs>"
        s += legend()
        return s + body + "</svg>"
    }

    func legend() -> String {
        let entries: [(String, String)]
        if let labels {
            entries = labels.roles.isEmpty ? [("mule", "#f97316"), ("not a mule", "#94a3b8")]
                : [("mule", "#f97316"), ("mule, deeper layer", "#b91c1c"), ("sink", "#7c3aed"), ("not a mule", "#94a3b8")]
        } else {
            entries = [("unlabelled", "#2563eb")]
        }
        var s = "<g class=\"legend\" font-size=\"12\" fill=\"\(Palette.ink)\">"
        var x = 20.0
        for (name, colour) in entries {
            s += "<circle cx=\"\(Markup.n(x + 7))\" cy=\"20\" r=\"7\" fill=\"\(colour)\"/><text x=\"\(Markup.n(x + 20))\" y=\"20\" dominant-baseline=\"middle\">\(name)</text>"
            x += 36 + Double(name.count) * 7
        }
        s += "<circle cx=\"\(Markup.n(x + 7))\" cy=\"20\" r=\"7\" fill=\"#fff\" stroke=\"#334155\" stroke-dasharray=\"3 2\"/><text x=\"\(Markup.n(x + 20))\" y=\"20\" dominant-baseline=\"middle\">unflagged, paid by ≥ 2 flagged (likely sink)</text>"
        x += 330
        s += "<line x1=\"\(Markup.n(x))\" x2=\"\(Markup.n(x + 26))\" y1=\"20\" y2=\"20\" stroke=\"#334155\" stroke-width=\"2\"/><text x=\"\(Markup.n(x + 32))\" y=\"20\" dominant-baseline=\"middle\">in both alerts' evidence</text>"
        x += 190
        s += "<line x1=\"\(Markup.n(x))\" x2=\"\(Markup.n(x + 26))\" y1=\"20\" y2=\"20\" stroke=\"#94a3b8\" stroke-width=\"2\"/><text x=\"\(Markup.n(x + 32))\" y=\"20\" dominant-baseline=\"middle\">seen in the events</text>"
        return s + "</g>"
    }

    /// One gang drawn from `top`; returns its markup and height.
    func drawing(_ g: Gang, number: Int, top: Double) -> (String, Double) {
        let layers = max(g.layers, 1)
        let rows = (0..<layers).map { l in g.nodes.filter { $0.layer == l }.count }
        let maxRows = rows.max() ?? 1
        let left = 70.0, right = 150.0
        let colGap = layers > 1 ? min(420, (Self.width - left - right) / Double(layers - 1)) : 0
        let header = 30.0
        let height = header + Double(maxRows) * Self.rowGap + 10
        var pos: [String: (Double, Double)] = [:]
        for node in g.nodes {
            let offset = Double(maxRows - rows[node.layer]) * Self.rowGap / 2
            pos[node.account] = (left + Double(node.layer) * colGap, top + header + offset + (Double(node.row) + 0.5) * Self.rowGap)
        }
        let sinks = g.nodes.count - g.flaggedCount
        var s = "<g class=\"gang\" id=\"gang-\(number)\">"
        s += "<rect x=\"4\" y=\"\(Markup.n(top))\" width=\"\(Markup.n(Self.width - 8))\" height=\"\(Markup.n(height))\" rx=\"8\" fill=\"#f8fafc\" stroke=\"\(Palette.grid)\"/>"
        let title = "Gang \(number): \(g.flaggedCount) flagged account\(g.flaggedCount == 1 ? "" : "s")"
            + (sinks > 0 ? ", \(sinks) likely sink\(sinks == 1 ? "" : "s")" : "") + ", \(layers) layer\(layers == 1 ? "" : "s"), \(Markup.money(g.totalAmount)) moved along these edges"
        s += "<text x=\"16\" y=\"\(Markup.n(top + 20))\" font-size=\"13\" font-weight=\"600\" fill=\"\(Palette.ink)\">\(Markup.escape(title))</text>"
        let maxAmount = Double(g.edges.map(\.amount.units).max() ?? 1)
        // Amount labels of edges into the same account sit at staggered points along the curves
        // (by payer row), so labels of converging edges do not pile up in one spot.
        var intoCount: [String: Int] = [:], intoRank: [Int] = []
        for e in g.edges {
            intoRank.append(intoCount[e.to, default: 0])
            intoCount[e.to, default: 0] += 1
        }
        let labelled = Set(g.edges.indices.sorted { (g.edges[$0].amount, -$0) > (g.edges[$1].amount, -$1) }.prefix(Self.labelledEdges))
        for (ei, e) in g.edges.enumerated() {
            guard let a = pos[e.from], let b = pos[e.to] else { continue }
            let forward = b.0 > a.0
            let x1 = a.0 + (forward ? Self.radius : 0), y1 = a.1 + (forward ? 0 : Self.radius)
            let x2 = b.0 - (forward ? Self.radius + 2 : 0), y2 = b.1 + (forward ? 0 : Self.radius + 2)
            let d: String
            if forward {
                let mx = (x1 + x2) / 2
                d = "M\(Markup.n(x1)),\(Markup.n(y1))C\(Markup.n(mx)),\(Markup.n(y1)) \(Markup.n(mx)),\(Markup.n(y2)) \(Markup.n(x2)),\(Markup.n(y2))"
            } else {
                // Backward or same-column flow (a cycle): loop below the nodes.
                let dip = max(y1, y2) + 40
                d = "M\(Markup.n(x1)),\(Markup.n(y1))C\(Markup.n(x1)),\(Markup.n(dip)) \(Markup.n(x2)),\(Markup.n(dip)) \(Markup.n(x2)),\(Markup.n(y2))"
            }
            let w = 1.2 + 3.5 * Double(e.amount.units) / maxAmount
            let colour = e.inEvidence ? "#334155" : "#94a3b8"
            s += "<path class=\"flow\" d=\"\(d)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"\(Markup.n(w))\" stroke-opacity=\"0.85\" marker-end=\"url(#\(e.inEvidence ? "arrow" : "arrow-light"))\">"
            s += "<title>\(Markup.escape(e.from)) → \(Markup.escape(e.to)): \(Markup.money(e.amount)) in \(e.transfers) transfer\(e.transfers == 1 ? "" : "s")\(e.inEvidence ? " (in both alerts' evidence)" : "")</title></path>"
            let siblings = intoCount[e.to]!
            let t = siblings > 1 ? 0.28 + 0.44 * Double(intoRank[ei]) / Double(siblings - 1) : 0.5
            // Point on the cubic at t: x moves through the control points, y is a smoothstep.
            let u = 1 - t
            let cx = forward ? (x1 + x2) / 2 : x1, dx = forward ? (x1 + x2) / 2 : x2
            let lx = u * u * u * x1 + 3 * u * u * t * cx + 3 * u * t * t * dx + t * t * t * x2
            let ly = forward ? y1 + (y2 - y1) * (3 * t * t - 2 * t * t * t) - 4 : max(y1, y2) + 30
            guard labelled.contains(ei) else { continue }
            s += "<text class=\"amount\" x=\"\(Markup.n(lx))\" y=\"\(Markup.n(ly))\" text-anchor=\"middle\" font-size=\"11\" fill=\"\(Palette.ink)\" stroke=\"#f8fafc\" stroke-width=\"3\" paint-order=\"stroke\">\(Markup.compactMoney(e.amount))\(e.transfers > 1 ? " ×\(e.transfers)" : "")</text>"
        }
        for node in g.nodes {
            let (x, y) = pos[node.account]!
            let k = kind(of: node.account)
            let role = labels?.roles[node.account].map { ", role \($0)" } ?? ""
            if node.flagged {
                s += "<circle class=\"node\" cx=\"\(Markup.n(x))\" cy=\"\(Markup.n(y))\" r=\"\(Markup.n(Self.radius))\" fill=\"\(k.colour)\" stroke=\"#fff\" stroke-width=\"2\">"
            } else {
                s += "<circle class=\"node sink\" cx=\"\(Markup.n(x))\" cy=\"\(Markup.n(y))\" r=\"\(Markup.n(Self.radius))\" fill=\"#fff\" stroke=\"\(k.colour == "#94a3b8" ? "#334155" : k.colour)\" stroke-width=\"2.5\" stroke-dasharray=\"4 3\">"
            }
            s += "<title>\(Markup.escape(node.account)): \(node.flagged ? "flagged" : "not flagged, paid by several flagged accounts"); \(Markup.escape(k.name + role))</title></circle>"
            s += "<text x=\"\(Markup.n(x))\" y=\"\(Markup.n(y + Self.radius + 13))\" text-anchor=\"middle\" font-size=\"11\" fill=\"\(Palette.ink)\">\(Markup.escape(node.account))</text>"
        }
        return (s + "</g>", height)
    }
}
