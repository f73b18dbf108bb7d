import Foundation

/// How long labelled mules worked before their first alert: event time from each flagged mule's
/// first onward transfer (first debit in the file) to its first alert.
struct DelayHistogram {
    /// Delays in milliseconds; nil when there are no labels to know mules by.
    var delays: [Int64]?

    /// Bin widths to choose from: the first that gives at most 24 bins.
    static let widths: [Int64] = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400].map { $0 * 1000 }

    func svg() -> String {
        var f = PlotFrame(width: 580, height: 460, xMax: 1, yMax: 1)
        var s = f.open(id: "delay-histogram", label: "Detection delay histogram")
        guard let delays, !delays.isEmpty else {
            s += f.axes(xTicks: [], yTicks: [(0, "0")], xTitle: "time from first onward transfer to first alert", yTitle: "flagged mules")
            return s + f.message(delays == nil ? "needs --labels to know which accounts are mules" : "no labelled mule was flagged") + "</svg>"
        }
        let sorted = delays.sorted()
        let maxDelay = sorted.last!
        let width: Int64 = Self.widths.first(where: { maxDelay / $0 < 24 }) ?? Self.widths[Self.widths.count - 1]
        let binCount = Int(min(maxDelay / width, 23)) + 1
        var bins = [Int](repeating: 0, count: binCount)
        for d in sorted { bins[min(Int(d / width), binCount - 1)] += 1 }
        let yTicks = Markup.ticks(maxValue: Double(bins.max()!), count: 5, integers: true)
        f.xMax = Double(binCount)
        f.yMax = yTicks.last!
        f.top = 52
        let every = max(1, Int((Double(binCount) * 52 / f.plotWidth).rounded(.up)))
        let xTicks = stride(from: 0, through: binCount, by: every).map { (Double($0), Markup.duration(millis: Int64($0) * width)) }
        s += f.axes(xTicks: xTicks, yTicks: yTicks.map { ($0, Markup.label($0)) },
                    xTitle: "time from first onward transfer to first alert (\(Markup.duration(millis: width)) bins)", yTitle: "flagged mules")
        let barW = f.plotWidth / Double(binCount)
        s += "<g class=\"bars\">"
        for (i, c) in bins.enumerated() where c > 0 {
            let x = f.x(Double(i)) + 1, y = f.y(Double(c))
            let lo = Markup.duration(millis: Int64(i) * width), hi = Markup.duration(millis: Int64(i + 1) * width)
            s += "<path d=\"M\(Markup.n(x)),\(Markup.n(f.y(0)))V\(Markup.n(y))H\(Markup.n(x + barW - 2))V\(Markup.n(f.y(0)))Z\" fill=\"#0891b2\">"
            s += "<title>\(c) mule\(c == 1 ? "" : "s") caught \(lo)–\(hi) after their first onward transfer</title></path>"
        }
        s += "</g>"
        func pct(_ q: Double) -> Int64 { sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))] }
        let stats = "\(sorted.count) mule\(sorted.count == 1 ? "" : "s") · median \(Markup.duration(millis: pct(0.5))) · p90 \(Markup.duration(millis: pct(0.9))) · max \(Markup.duration(millis: maxDelay))"
        s += "<text x=\"\(Markup.n(f.left))\" y=\"28\" font-size=\"13\" fill=\"\(Palette.ink)\">\(Markup.escape(stats))</text>"
        return s + "</svg>"
    }
}
