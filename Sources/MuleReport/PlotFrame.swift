/// The drawing area of a chart with its axes: maps data to SVG coordinates and draws gridlines,
/// tick labels and axis titles.
struct PlotFrame {
    var width: Double
    var height: Double
    var left = 64.0
    var right = 24.0
    var top = 24.0
    var bottom = 56.0
    var xMax: Double
    var yMax: Double
    var xMin = 0.0
    var yMin = 0.0

    var plotWidth: Double { width - left - right }
    var plotHeight: Double { height - top - bottom }

    func x(_ v: Double) -> Double { left + (xMax == xMin ? 0 : (v - xMin) / (xMax - xMin)) * plotWidth }
    func y(_ v: Double) -> Double { top + plotHeight - (yMax == yMin ? 0 : (v - yMin) / (yMax - yMin)) * plotHeight }

    /// Opening tag of the chart's SVG element.
    func open(id: String, label: String) -> String {
        "<svg id=\"\(id)\" viewBox=\"0 0 \(Markup.n(width)) \(Markup.n(height))\" width=\"\(Markup.n(width))\" height=\"\(Markup.n(height))\" role=\"img\" aria-label=\"\(Markup.escape(label))\">"
    }

    /// Horizontal gridlines with y tick labels, an x axis with tick labels, and axis titles.
    /// `xTicks` are (value, label) pairs.
    func axes(xTicks: [(Double, String)], yTicks: [(Double, String)], xTitle: String, yTitle: String) -> String {
        var s = "<g class=\"axes\" font-size=\"12\" fill=\"\(Palette.axis)\">"
        for (v, text) in yTicks {
            let yy = Markup.n(y(v))
            s += "<line x1=\"\(Markup.n(left))\" x2=\"\(Markup.n(left + plotWidth))\" y1=\"\(yy)\" y2=\"\(yy)\" stroke=\"\(Palette.grid)\"/>"
            s += "<text x=\"\(Markup.n(left - 8))\" y=\"\(yy)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(Markup.escape(text))</text>"
        }
        let base = Markup.n(top + plotHeight)
        s += "<line x1=\"\(Markup.n(left))\" x2=\"\(Markup.n(left + plotWidth))\" y1=\"\(base)\" y2=\"\(base)\" stroke=\"\(Palette.axis)\"/>"
        s += "<line x1=\"\(Markup.n(left))\" x2=\"\(Markup.n(left))\" y1=\"\(Markup.n(top))\" y2=\"\(base)\" stroke=\"\(Palette.axis)\"/>"
        for (v, text) in xTicks {
            let xx = Markup.n(x(v))
            s += "<line x1=\"\(xx)\" x2=\"\(xx)\" y1=\"\(base)\" y2=\"\(Markup.n(top + plotHeight + 5))\" stroke=\"\(Palette.axis)\"/>"
            s += "<text x=\"\(xx)\" y=\"\(Markup.n(top + plotHeight + 19))\" text-anchor=\"middle\">\(Markup.escape(text))</text>"
        }
        s += "<text x=\"\(Markup.n(left + plotWidth / 2))\" y=\"\(Markup.n(height - 10))\" text-anchor=\"middle\" font-size=\"13\" fill=\"\(Palette.ink)\">\(Markup.escape(xTitle))</text>"
        let cy = Markup.n(top + plotHeight / 2)
        s += "<text x=\"16\" y=\"\(cy)\" text-anchor=\"middle\" font-size=\"13\" fill=\"\(Palette.ink)\" transform=\"rotate(-90 16 \(cy))\">\(Markup.escape(yTitle))</text>"
        return s + "</g>"
    }

    /// A centred message in an empty chart.
    func message(_ text: String) -> String {
        "<text x=\"\(Markup.n(left + plotWidth / 2))\" y=\"\(Markup.n(top + plotHeight / 2))\" text-anchor=\"middle\" font-size=\"14\" fill=\"\(Palette.muted)\">\(Markup.escape(text))</text>"
    }
}
