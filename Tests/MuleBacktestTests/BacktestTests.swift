import Foundation
import MuleBacktest
import MuleCore
import Testing

@Suite struct LabelsTests {
    @Test func parsesHeaderRowsAndExtraColumns() throws {
        let l = try Labels.parse("account,is_mule,role\nA-1,1,mule\nA-2,0,normal\r\nA-3,true,sink\n\n")
        #expect(l.mules == ["A-1", "A-3"])
        #expect(l.roles["A-2"] == "normal")
        #expect(l.listed == 3)
    }

    @Test func rejectsAWrongHeaderWithItsLine() {
        #expect(throws: Labels.ParseError.self) { try Labels.parse("acct,mule\nA,1\n") }
        do {
            _ = try Labels.parse("account,is_mule\nA,yes\n", file: "l.csv")
            Issue.record("accepted is_mule=yes")
        } catch {
            #expect("\(error)" == "l.csv:2: is_mule must be 0 or 1, got `yes`")
        }
    }

    @Test func scoresPrecisionRecallAndF1() {
        let labels = Labels(mules: ["m1", "m2", "m3", "m4"])
        let s = Score(flagged: ["m1", "m2", "x"], labels: labels)
        #expect(s.truePositives == 2 && s.falsePositives == 1)
        #expect(s.precision == 2.0 / 3.0)
        #expect(s.recall == 0.5)
        #expect(abs(s.f1 - 4.0 / 7.0) < 1e-12)
        #expect(Score(flagged: [], labels: labels).f1 == 0)
    }
}

@Suite struct LineReaderTests {
    func write(_ text: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID()).ndjson").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    @Test func readsLinesAcrossChunkBoundariesAndWithoutFinalNewline() throws {
        var reader = LineReader(path: write("alpha\nbeta\n\ngamma-delta\nlast"))
        reader.chunkBytes = 3
        var got: [String] = []
        try reader.forEachLine { _, b in got.append(b.map { String(decoding: $0, as: UTF8.self) } ?? "<long>") }
        #expect(got == ["alpha", "beta", "gamma-delta", "last"])
    }

    @Test func reportsOverlongLinesWithoutBufferingThem() throws {
        var reader = LineReader(path: write("short\n" + String(repeating: "x", count: 100) + "\nok\n"))
        reader.chunkBytes = 16
        reader.maxLineBytes = 32
        var got: [(Int, String)] = []
        try reader.forEachLine { n, b in got.append((n, b.map { String(decoding: $0, as: UTF8.self) } ?? "<long>")) }
        #expect(got.map(\.1) == ["short", "<long>", "ok"])
        #expect(got.map(\.0) == [1, 2, 3])
    }

    @Test func missingFileIsAnError() {
        #expect(throws: LineReader.OpenError.self) { try LineReader(path: "/nonexistent/x").forEachLine { _, _ in } }
    }
}

@Suite struct BacktestReplayTests {
    static let rule = Rule(id: "pt", version: "1", windowMillis: 3_600_000, trigger: .debit,
                           conditions: .all([.metric(.distinctPayers, Bound(min: 5)), .metric(.passThrough, Bound(min: 0.9))]))

    @Test func replaysAFileCountingRejectsAndRaisingAlerts() throws {
        var lines: [String] = []
        let t0: Int64 = 1_764_000_000_000
        for i in 1...5 {
            lines.append(#"{"id":"in-\#(i)","ts":\#(t0 + Int64(i) * 1000),"payer":"v\#(i)","payee":"M","amount":"100.00"}"#)
        }
        lines.append(#"{"id":"dup","ts":\#(t0 + 9000),"payer":"x","payee":"y","amount":"1"}"#)
        lines.append(#"{"id":"dup","ts":\#(t0 + 9000),"payer":"x","payee":"y","amount":"1"}"#)
        lines.append(#"{"id":"out","ts":\#(t0 + 60_000),"payer":"M","payee":"N","amount":"495.00"}"#)
        lines.append(#"{"id":"bad","payer":"M","payee":"N","amount":"1"}"#)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bt-\(UUID()).ndjson").path
        _ = FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        var alerts: [Alert] = []
        let summary = try Backtest.run(eventsPath: path, rules: [Self.rule], config: DetectorConfig()) { alerts.append($0) }
        #expect(summary.lines == 9)
        #expect(summary.applied == 7)
        #expect(summary.duplicates == 1)
        #expect(summary.rejected == ["missing_field": 1])
        #expect(summary.rejectedSamples == ["line 9: missing_field: ts"])
        #expect(alerts.map(\.account) == ["M"])
        #expect(summary.flaggedByRule == ["pt@1": ["M"]])
    }
}
