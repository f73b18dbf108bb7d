import Foundation
import MuleBacktest
import MuleCore
@testable import MuleReport
import Testing

/// Hand-built alerts and transfers, so each test states the money flow it draws.
enum Fixture {
    static let t0: Int64 = 1_764_000_000_000

    static func alert(_ account: String, rule: String = "rapid-pass-through", score: Double = 0.9, at minutes: Int64 = 10,
                      evidence: [String]) -> Alert {
        Alert(alertId: "a-\(account)-\(rule)", account: account, ruleId: rule, ruleVersion: "2", severity: .high, mode: .enforce,
              action: "block", score: score, eventTs: t0 + minutes * 60_000,
              window: AlertWindow(start: t0, end: t0 + minutes * 60_000, inCount: 6, inAmount: Money(decimal: "6000")!, distinctPayers: 6,
                                  outCount: 1, outAmount: Money(decimal: "5910")!, distinctPayees: 1, passThrough: 0.985, medianDwellSeconds: 240),
              evidence: evidence, evidenceCount: evidence.count)
    }

    static func transfer(_ id: String, _ payer: String, _ payee: String, _ amount: String, at minutes: Int64 = 5,
                         payeeKind: AccountKind = .personal) -> ObservedTransfer {
        ObservedTransfer(id: id, payer: payer, payee: payee, amount: Money(decimal: amount)!, timestamp: t0 + minutes * 60_000, payeeKind: payeeKind)
    }

    /// Three first-layer mules pay a second-layer mule; it and one of them pay an unflagged sink.
    /// Two unrelated flagged accounts both shop at the same merchant and split a bill with the
    /// same friend (neither is a sink), and two others
    /// pay each other once (a second, smaller gang).
    static var threeLayerChain: (alerts: [Alert], transfers: [ObservedTransfer]) {
        let alerts = [
            alert("L1-a", evidence: ["v1", "v2", "t-a2"]),
            alert("L1-b", evidence: ["v3", "t-b2"]),
            alert("L1-c", evidence: ["v4", "t-c2", "t-cs"]),
            alert("L2", rule: "layered-forwarding", evidence: ["t-a2", "t-b2", "t-2s"]),
            alert("X", evidence: ["x1"]),
            alert("Y", evidence: ["y1"]),
            alert("P", evidence: ["p1"]),
            alert("Q", evidence: ["q1"]),
        ]
        let transfers = [
            transfer("t-a2", "L1-a", "L2", "5900"),
            transfer("t-b2", "L1-b", "L2", "4900"),
            transfer("t-c2", "L1-c", "L2", "3000"),
            transfer("t-c2", "L1-c", "L2", "3000"),  // a repeated id is one transfer
            transfer("t-cs", "L1-c", "SINK", "900"),
            transfer("t-2s", "L2", "SINK", "13500", at: 9),
            transfer("x-shop", "X", "M-SHOP", "120", payeeKind: .merchant),
            transfer("y-shop", "Y", "M-SHOP", "80", payeeKind: .merchant),
            transfer("x-friend", "X", "A-FRIEND", "50"),
            // X and Y both pay a friend's bill share: small, outside their evidence, not a sink.
            transfer("x-split", "X", "A-SPLIT", "10"),
            transfer("y-split", "Y", "A-SPLIT", "10"),
            transfer("y-rent", "Y", "A-LANDLORD", "200"),
            transfer("pq", "P", "Q", "700"),
        ]
        return (alerts, transfers)
    }

    static func report(alerts: [Alert], transfers: [ObservedTransfer], labels: Labels? = nil, sweep: SweepCurve? = nil) -> RunReport {
        var summary = BacktestSummary()
        summary.lines = 100
        summary.alerts = alerts.count
        for a in alerts { summary.flaggedByRule["\(a.ruleId)@\(a.ruleVersion)", default: []].insert(a.account) }
        return RunReport(summary: summary, rules: [], alerts: alerts, labels: labels, sweep: sweep,
                         firstEventTime: t0, lastEventTime: t0 + 3 * 3_600_000,
                         firstDebit: transfers.reduce(into: [:]) { $0[$1.payer] = min($0[$1.payer] ?? .max, $1.timestamp) },
                         gangs: GangFinder.find(alerts: alerts, transfers: transfers))
    }
}

struct GangFinderTests {
    @Test func threeLayerChainIsLaidOutSourcesLeftSinkRight() throws {
        let (alerts, transfers) = Fixture.threeLayerChain
        let gangs = GangFinder.find(alerts: alerts, transfers: transfers)
        #expect(gangs.count == 2, "the chain and the P→Q pair; X and Y only share a merchant and a friend")
        let chain = gangs[0]
        let layer = Dictionary(uniqueKeysWithValues: chain.nodes.map { ($0.account, $0.layer) })
        #expect(layer == ["L1-a": 0, "L1-b": 0, "L1-c": 0, "L2": 1, "SINK": 2])
        #expect(chain.layers == 3)
        #expect(chain.flaggedCount == 4)
        #expect(chain.nodes.first { $0.account == "SINK" }?.flagged == false)
        #expect(chain.nodes.filter { $0.layer == 0 }.map(\.row) == [0, 1, 2])
        let edge = Dictionary(uniqueKeysWithValues: chain.edges.map { ("\($0.from)>\($0.to)", $0) })
        #expect(edge.keys.sorted() == ["L1-a>L2", "L1-b>L2", "L1-c>L2", "L1-c>SINK", "L2>SINK"])
        #expect(edge["L1-c>L2"]?.transfers == 1)
        #expect(edge["L1-c>L2"]?.amount == Money(decimal: "3000"))
        #expect(edge["L1-a>L2"]?.inEvidence == true)
        #expect(edge["L1-c>L2"]?.inEvidence == false, "t-c2 is in L1-c's evidence but not in L2's")
        #expect(chain.totalAmount == Money(decimal: "28200"))
        #expect(gangs[1].nodes.map(\.account) == ["P", "Q"])
    }

    @Test func aCycleStillGetsColumnsAndTheResultDoesNotDependOnInputOrder() {
        let alerts = ["A", "B", "C"].map { Fixture.alert($0, evidence: []) }
        let transfers = [Fixture.transfer("1", "A", "B", "10"), Fixture.transfer("2", "B", "C", "10"), Fixture.transfer("3", "C", "A", "10")]
        let g1 = GangFinder.find(alerts: alerts, transfers: transfers)
        let g2 = GangFinder.find(alerts: alerts.reversed(), transfers: transfers.reversed())
        #expect(g1 == g2)
        #expect(g1.count == 1 && g1[0].layers == 3)
    }

    @Test func unflaggedPayeeOfOneFlaggedAccountIsNotDrawn() {
        let gangs = GangFinder.find(alerts: [Fixture.alert("A", evidence: [])], transfers: [Fixture.transfer("1", "A", "B", "10")])
        #expect(gangs.isEmpty)
    }
}

struct ReportPageTests {
    @Test func accountIdsAreEscapedInTablesAndDrawings() {
        let evil = "<script>alert(1)</script>"
        let alerts = [Fixture.alert(evil, evidence: ["\"><img src=x>", "e2"]), Fixture.alert("B&B", evidence: ["e2"])]
        let transfers = [Fixture.transfer("e2", evil, "B&B", "100")]
        let labels = Labels(mules: [evil], roles: [evil: "mule_layer2 <b>"])
        let html = ReportPage.render(Fixture.report(alerts: alerts, transfers: transfers, labels: labels))
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("mule_layer2 <b>") && html.contains("mule_layer2 &lt;b&gt;"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("B&amp;B"))
        #expect(html.contains("&quot;&gt;&lt;img src=x&gt;"))
        // The drawing names the account too (SVG text and the node's tooltip), escaped.
        let chains = html[html.range(of: "<svg id=\"chains\"")!.lowerBound...]
        #expect(chains.contains("&lt;script&gt;alert(1)&lt;/script&gt;</text>"))
        #expect(!html.contains("http://") && !html.contains("https://"))
    }

    @Test func sameInputGivesTheSameBytes() {
        let (alerts, transfers) = Fixture.threeLayerChain
        let labels = Labels(mules: ["L1-a", "L1-b", "L2", "SINK"], roles: ["L2": "mule_layer2", "SINK": "sink"])
        let sweep = SweepCurve(rule: "r@1", axes: ["x"], points: [
            CurvePoint(values: [1], alerts: 9, flagged: 8, truePositives: 4, falsePositives: 4, precision: 0.5, recall: 1, f1: 0.667),
            CurvePoint(values: [2], alerts: 5, flagged: 4, truePositives: 4, falsePositives: 0, precision: 1, recall: 1, f1: 1),
        ])
        let a = ReportPage.render(Fixture.report(alerts: alerts, transfers: transfers, labels: labels, sweep: sweep))
        let b = ReportPage.render(Fixture.report(alerts: alerts, transfers: transfers.reversed(), labels: labels, sweep: sweep))
        #expect(a == b)
        #expect(a.contains("id=\"gang-1\"") && a.contains("id=\"gang-2\""))
        #expect(a.contains("Gang 1: 4 flagged accounts, 1 likely sink, 3 layers"))
    }

    @Test func detectionDelayIsFromFirstDebitToFirstAlert() {
        let (alerts, transfers) = Fixture.threeLayerChain
        let labels = Labels(mules: ["L1-a", "L2", "NEVER-FLAGGED"])
        let r = Fixture.report(alerts: alerts, transfers: transfers, labels: labels)
        let delays = r.detectionDelays
        #expect(delays.map(\.account) == ["L1-a", "L2"])
        #expect(delays.map(\.millis) == [5 * 60_000, 1 * 60_000])
        #expect(DelayHistogram(delays: delays.map(\.millis)).svg().contains("2 mules · median"))
        #expect(DelayHistogram(delays: [60_000]).svg().contains("1 mule · median 1m"))
        #expect(DelayHistogram(delays: nil).svg().contains("needs --labels"))
    }
}

struct PRCurveTests {
    func point(_ v: Double, p: Double, r: Double) -> CurvePoint {
        CurvePoint(values: [v], alerts: 10, flagged: 10, truePositives: 5, falsePositives: 5, precision: p, recall: r, f1: p + r == 0 ? 0 : 2 * p * r / (p + r))
    }

    func circles(_ svg: String) -> Int {
        guard let start = svg.range(of: "<g class=\"sweep-points\">"), let end = svg.range(of: "</g>", range: start.upperBound..<svg.endIndex) else { return 0 }
        return svg[start.upperBound..<end.lowerBound].components(separatedBy: "<circle").count - 1
    }

    @Test func noPoints() {
        let svg = PRCurveChart(sweep: SweepCurve(rule: "r@1", axes: ["x"], points: []), operatingPoint: nil).svg()
        #expect(svg.hasPrefix("<svg id=\"pr-curve\""))
        #expect(svg.contains("the sweep has no points"))
        #expect(circles(svg) == 0)
        #expect(!svg.contains("best F1"))
        // Without a sweep but with labels: the replay's single operating point.
        let single = PRCurveChart(sweep: nil, operatingPoint: (0.9, 0.7)).svg()
        #expect(single.contains("class=\"operating-point\""))
        #expect(single.contains("this replay  (P 0.900, R 0.700"))
    }

    @Test func onePoint() {
        let svg = PRCurveChart(sweep: SweepCurve(rule: "r@1", axes: ["distinct_payers.min"], points: [point(5, p: 0.8, r: 0.6)]), operatingPoint: nil).svg()
        #expect(circles(svg) == 1)
        #expect(!svg.contains("class=\"frontier\""))
        #expect(svg.contains("best F1 0.686"))
        #expect(svg.contains("distinct_payers.min = 5"))
    }

    @Test func manyPoints() {
        let pts = (1...12).map { i in point(Double(i), p: min(1, 0.5 + Double(i) * 0.05), r: 1 - Double(i) * 0.07) }
        let sweep = SweepCurve(rule: "r@1", axes: ["k"], points: pts)
        let svg = PRCurveChart(sweep: sweep, operatingPoint: (0.95, 0.5)).svg()
        #expect(circles(svg) == 12)
        #expect(svg.contains("class=\"frontier\""))
        let best = pts.max { $0.f1 < $1.f1 }!
        #expect(sweep.best == best)
        #expect(svg.contains("k = \(Markup.label(best.values[0]))"))
        #expect(svg.components(separatedBy: "class=\"best\"").count == 2)
    }

    @Test func sweepFileParsesTheSweepCommandsFormatAndRefusesOthers() throws {
        let ok = try SweepCurve.parse(Data("""
        {"rule":"rapid-pass-through@2","axes":["distinct_payers.min","pass_through.min"],"points":[{"values":[3,0.9],"alerts":120,"flagged":80,"true_positives":70,"false_positives":10,"precision":0.875,"recall":0.68,"f1":0.76}]}
        """.utf8))
        #expect(ok.points == [CurvePoint(values: [3, 0.9], alerts: 120, flagged: 80, truePositives: 70, falsePositives: 10, precision: 0.875, recall: 0.68, f1: 0.76)])
        func reason(_ text: String) -> String {
            do { _ = try SweepCurve.parse(Data(text.utf8)); return "" } catch { return "\(error)" }
        }
        #expect(reason("not json") == "not valid JSON")
        #expect(reason("{\"rule\":\"r\",\"axes\":[\"a\"],\"points\":[{\"values\":[1,2],\"alerts\":1,\"flagged\":1,\"true_positives\":1,\"false_positives\":0,\"precision\":1,\"recall\":1,\"f1\":1}]}")
            .contains("points[0].values must hold 1 number"))
        #expect(reason("{\"rule\":\"r\",\"axes\":[\"a\"],\"points\":[{\"values\":[1],\"alerts\":1,\"flagged\":1,\"true_positives\":1,\"false_positives\":0,\"precision\":\"1\",\"recall\":1,\"f1\":1}]}")
            == "`points[0].precision` must be a number")
        #expect(reason("{\"axes\":[],\"points\":[]}") == "missing field `rule`")
    }
}
