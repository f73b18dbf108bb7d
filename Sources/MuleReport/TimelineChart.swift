import MuleCore

/// Alerts per rule per hour (or per day when the events span more than three days), by event time.
struct TimelineChart {
    var alerts: [Alert]
    var ruleKeys: [String]
    var firstEventTime: Int64?
    var lastEventTime: Int64?

    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    func svg() -> String {
        var f = PlotFrame(width: 1200, height: 340, xMax: 1, yMax: 1)
        f.right = 240  // legend
        var s = f.open(id: "alerts-over-time", label: "Alerts per rule over time")
        let times = alerts.map(\.eventTs)
        guard let lo = [firstEventTime, times.min()].compactMap({ $0 }).min(),
              let hi = [lastEventTime, times.max()].compactMap({ $0 }).max() else {
            return s + f.message("no events") + "</svg>"
        }
        let bucket = hi - lo > 3 * Self.day ? Self.day : Self.hour
        let start = lo - ((lo % bucket) + bucket) % bucket
        let buckets = Int((hi - start) / bucket) + 1
        // Keys of rules in the rule set first (stable colours), then any others seen in alerts.
        let keys = ruleKeys + Set(alerts.map { "\($0.ruleId)@\($0.ruleVersion)" }).subtracting(ruleKeys).sorted()
        var counts = [[Int]](repeating: [Int](repeating: 0, count: buckets), count: keys.count)
        let slot = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        for a in alerts {
            counts[slot["\(a.ruleId)@\(a.ruleVersion)"]!][Int((a.eventTs - start) / bucket)] += 1
        }
        let peak = counts.flatMap { $0 }.max() ?? 0
        let yTicks = Markup.ticks(maxValue: Double(max(peak, 1)), count: 5, integers: true)
        f.yMax = yTicks.last ?? 1
        f.xMin = 0
        f.xMax = Double(max(buckets - 1, 1))
        // Label every k-th bucket so labels do not overlap (~110 px each).
        let every = max(1, Int((Double(buckets) * 90 / f.plotWidth).rounded(.up)))
        let xTicks: [(Double, String)] = stride(from: 0, to: buckets, by: every).map { i in
            let t = start + Int64(i) * bucket
            return (Double(i), bucket == Self.day ? String(Markup.minute(t).prefix(10)) : Markup.shortMinute(t))
        }
        s += f.axes(xTicks: xTicks, yTicks: yTicks.map { ($0, Markup.label($0)) },
                    xTitle: "event time (UTC), alerts per \(bucket == Self.day ? "day" : "hour")", yTitle: "alerts")
        if alerts.isEmpty { s += f.message("no alerts in this replay") }
        for (k, key) in keys.enumerated() {
            let colour = Palette.series[k % Palette.series.count]
            let d = counts[k].enumerated().map { i, c in (i == 0 ? "M" : "L") + "\(Markup.n(f.x(Double(i)))),\(Markup.n(f.y(Double(c))))" }.joined()
            s += "<g class=\"series\" data-rule=\"\(Markup.escape(key))\">"
            s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" stroke-linejoin=\"round\"/>"
            if buckets <= 200 {
                for (i, c) in counts[k].enumerated() where c > 0 {
                    let label = (bucket == Self.day ? String(Markup.minute(start + Int64(i) * bucket).prefix(10)) : Markup.minute(start + Int64(i) * bucket))
                    s += "<circle cx=\"\(Markup.n(f.x(Double(i))))\" cy=\"\(Markup.n(f.y(Double(c))))\" r=\"3\" fill=\"\(colour)\"><title>\(Markup.escape(key)): \(c) alert\(c == 1 ? "" : "s") from \(label)</title></circle>"
                }
            }
            s += "</g>"
            let ly = f.top + 8 + Double(k) * 22
            let lx = f.left + f.plotWidth + 20
            let total = counts[k].reduce(0, +)
            s += "<g class=\"legend\" font-size=\"12\"><rect x=\"\(Markup.n(lx))\" y=\"\(Markup.n(ly - 6))\" width=\"14\" height=\"4\" fill=\"\(colour)\"/>"
            s += "<text x=\"\(Markup.n(lx + 20))\" y=\"\(Markup.n(ly))\" dominant-baseline=\"middle\" fill=\"\(Palette.ink)\">\(Markup.escape(key)) (\(total))</text></g>"
        }
        return s + "</svg>"
    }
}
