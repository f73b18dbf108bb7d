import Foundation
import Testing

/// `mulestream report` end to end: simulate a stream, write the page, and open it in headless
/// Chromium (Debian package `chromium`, installed by `scripts/setup` and `.ci/run`).
///
/// How console errors are caught (Chromium 156): with `--enable-logging=stderr --v=0`, every
/// console message of the page — `console.error`, `console.log`, and uncaught exceptions
/// ("Uncaught ReferenceError: …") — is written to stderr as a line containing `:CONSOLE`
/// (`[pid:tid:date:INFO:CONSOLE:1] "message", source: file:///… (line)`). The level in that tag
/// is not the console level (an error shows as `INFO:CONSOLE`), so the test treats any
/// `:CONSOLE` or `Uncaught` line as a failure: the report has no script, so it should log
/// nothing. A canary page with a deliberate `console.error` and a thrown exception checks first
/// that this Chromium still reports them that way, so the check cannot pass vacuously.
@Suite(.timeLimit(.minutes(3)))
struct ReportTests {
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static let sweepJSON = """
    {"rule":"rapid-pass-through@2","axes":["distinct_payers.min","pass_through.min"],"points":[
    {"values":[3,0.8],"alerts":160,"flagged":120,"true_positives":80,"false_positives":40,"precision":0.667,"recall":0.9,"f1":0.766},
    {"values":[3,0.9],"alerts":130,"flagged":95,"true_positives":78,"false_positives":17,"precision":0.821,"recall":0.878,"f1":0.849},
    {"values":[5,0.8],"alerts":100,"flagged":80,"true_positives":74,"false_positives":6,"precision":0.925,"recall":0.83,"f1":0.875},
    {"values":[5,0.9],"alerts":90,"flagged":72,"true_positives":71,"false_positives":1,"precision":0.986,"recall":0.8,"f1":0.883},
    {"values":[8,0.9],"alerts":60,"flagged":50,"true_positives":50,"false_positives":0,"precision":1.0,"recall":0.56,"f1":0.718},
    {"values":[12,0.95],"alerts":30,"flagged":25,"true_positives":25,"false_positives":0,"precision":1.0,"recall":0.28,"f1":0.438}]}
    """

    static func headless(_ extra: [String], url: URL, timeout: Double = 90) throws -> (Int32?, String, String) {
        try runToEnd(chromium!, ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"] + extra + [url.absoluteString], timeout: timeout)
    }

    static func consoleLines(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") || $0.contains("console.error") }
    }

    @Test(.enabled(if: chromium != nil, "chromium is not installed (apt-get install -y chromium; scripts/setup does it)"))
    func reportOpensInHeadlessChromiumWithPlotsAndNoConsoleErrors() throws {
        let dir = Env.tempDir()
        let events = dir.appendingPathComponent("events.ndjson").path
        let labels = dir.appendingPathComponent("labels.csv").path
        let sweep = dir.appendingPathComponent("sweep.json")
        let page = dir.appendingPathComponent("report.html")
        let (s1, _, e1) = try runToEnd(Env.mulestream, ["simulate", "--seed", "5", "--accounts", "3000", "--events", "40000", "--out", events, "--labels", labels])
        #expect(s1 == 0, "\(e1)")
        try Self.sweepJSON.write(to: sweep, atomically: true, encoding: .utf8)
        let (s2, out2, e2) = try runToEnd(Env.mulestream, ["report", "--events", events, "--rules", "Rules", "--labels", labels, "--sweep", sweep.path, "--out", page.path])
        #expect(s2 == 0, "\(e2)")
        #expect(out2.contains("wrote"))
        let html = try String(contentsOf: page, encoding: .utf8)
        // Self-contained: nothing is fetched.
        #expect(!html.contains("http://") && !html.contains("https://"))
        #expect(!html.contains("<script") && !html.contains("<link") && !html.contains("<img"))

        // (b) first: the console check must see a canary's errors, or it proves nothing.
        let canary = dir.appendingPathComponent("canary.html")
        try "<html><body><script>console.error('canary-error');</script><script>noSuchFunction();</script></body></html>".write(to: canary, atomically: true, encoding: .utf8)
        let (_, _, canaryErr) = try Self.headless(["--enable-logging=stderr", "--v=0", "--dump-dom"], url: canary)
        let caught = Self.consoleLines(canaryErr)
        #expect(caught.contains { $0.contains("canary-error") } && caught.contains { $0.contains("Uncaught") }, "this chromium no longer logs console messages as expected:\n\(canaryErr)")

        // (a) + (b): the DOM as Chromium built it, and its console.
        let (s3, dom, err3) = try Self.headless(["--enable-logging=stderr", "--v=0", "--dump-dom"], url: page)
        #expect(s3 == 0, "\(err3)")
        #expect(Self.consoleLines(err3).isEmpty, "console output while rendering:\n\(Self.consoleLines(err3).joined(separator: "\n"))")
        func svg(_ id: String) -> Substring? {
            guard let start = dom.range(of: "<svg id=\"\(id)\"") else { return nil }
            guard let end = dom.range(of: "</svg>", range: start.upperBound..<dom.endIndex) else { return nil }
            return dom[start.lowerBound..<end.upperBound]
        }
        func count(_ needle: String, in text: Substring) -> Int { text.components(separatedBy: needle).count - 1 }
        let pr = try #require(svg("pr-curve"), "no PR curve in the DOM")
        #expect(count("<circle", in: pr) >= 6, "one circle per sweep point")
        #expect(pr.contains("best F1 0.883"))
        #expect(pr.contains("distinct_payers.min = 5"))
        let timeline = try #require(svg("alerts-over-time"))
        #expect(count("<path", in: timeline) >= 2, "a series per rule")
        #expect(timeline.contains("rapid-pass-through@2") && timeline.contains("layered-forwarding@1"))
        let delays = try #require(svg("delay-histogram"))
        #expect(count("<path", in: delays) >= 3, "histogram bars")
        let chains = try #require(svg("chains"))
        #expect(count("class=\"node", in: chains) >= 4, "gang nodes")
        #expect(count("class=\"flow\"", in: chains) >= 3, "money-flow edges")
        #expect(dom.contains("id=\"top-accounts\""))

        // (c) a screenshot at the width analysts use.
        let shot = dir.appendingPathComponent("report.png")
        let (s4, _, err4) = try Self.headless(["--hide-scrollbars", "--screenshot=\(shot.path)", "--window-size=1280,2400"], url: page)
        #expect(s4 == 0, "\(err4)")
        let png = try Data(contentsOf: shot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "not a PNG")
        #expect(png.count > 50_000, "a mostly blank screenshot is small; got \(png.count) bytes")
    }

    @Test func reportRefusesBadSweepAndMissingFilesWithExitTwo() throws {
        let dir = Env.tempDir()
        let events = dir.appendingPathComponent("events.ndjson")
        try "{\"id\":\"t1\",\"ts\":1764000000000,\"payer\":\"A-1\",\"payee\":\"A-2\",\"amount\":\"10.00\"}\n".write(to: events, atomically: true, encoding: .utf8)
        let bad = dir.appendingPathComponent("bad.json")
        try "{\"rule\":\"r@1\",\"axes\":[\"x\"],\"points\":[{\"values\":[1]}]}".write(to: bad, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("r.html").path
        let (s1, _, e1) = try runToEnd(Env.mulestream, ["report", "--events", events.path, "--rules", "Rules", "--sweep", bad.path, "--out", out])
        #expect(s1 == 2)
        #expect(e1.contains("bad.json") && e1.contains("missing field `points[0].alerts`"), "\(e1)")
        #expect(e1.split(separator: "\n").count == 1)
        let (s2, _, e2) = try runToEnd(Env.mulestream, ["report", "--events", "/nonexistent.ndjson", "--rules", "Rules", "--out", out])
        #expect(s2 == 2)
        #expect(e2.contains("cannot read events file"))
        let (s3, _, e3) = try runToEnd(Env.mulestream, ["report", "--events", events.path, "--rules", "Rules", "--sweep", "/nonexistent.json", "--out", out])
        #expect(s3 == 2)
        #expect(e3.contains("cannot read sweep file"))
        // Without labels or sweep the page is still written.
        let (s4, _, e4) = try runToEnd(Env.mulestream, ["report", "--events", events.path, "--rules", "Rules", "--out", out])
        #expect(s4 == 0, "\(e4)")
        #expect(try String(contentsOfFile: out, encoding: .utf8).contains("mulestream sweep"))
    }

    @Test func sameInputGivesTheSameBytesAcrossRuns() throws {
        // Separate processes have different hash seeds, so dictionary order cannot leak into the page.
        let dir = Env.tempDir()
        let events = dir.appendingPathComponent("events.ndjson").path
        let labels = dir.appendingPathComponent("labels.csv").path
        _ = try runToEnd(Env.mulestream, ["simulate", "--seed", "5", "--accounts", "3000", "--events", "40000", "--out", events, "--labels", labels])
        var pages: [Data] = []
        for name in ["a.html", "b.html"] {
            let out = dir.appendingPathComponent(name)
            let (status, _, err) = try runToEnd(Env.mulestream, ["report", "--events", events, "--rules", "Rules", "--labels", labels, "--out", out.path])
            #expect(status == 0, "\(err)")
            pages.append(try Data(contentsOf: out))
        }
        #expect(pages[0].count > 10_000)
        #expect(pages[0] == pages[1])
    }
}
