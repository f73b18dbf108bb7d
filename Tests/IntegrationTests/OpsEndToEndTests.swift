import Foundation
import MuleTesting
import Testing

/// `mulestream run --http` as an operator runs it: separate processes (`dev-broker`, `run`,
/// kcat), the endpoint on an ephemeral loopback port read from the engine's stdout, scraped with
/// plain HTTP, and the live view rendered by headless Chromium while the engine runs.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OpsEndToEndTests {
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The port from the engine's `http: listening on 127.0.0.1:PORT` line.
    static func listeningPort(_ stdout: String) -> Int? {
        guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("http: listening on ") }),
              let colon = line.lastIndex(of: ":") else { return nil }
        return Int(line[line.index(after: colon)...])
    }

    static func status(_ port: Int) -> [String: Any]? {
        guard let body = HTTPProbe.get(port: port, path: "/api/status").body else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }

    @Test(.enabled(if: chromium != nil, "chromium is not installed (apt-get install -y chromium; scripts/setup does it)"))
    func liveViewShowsTheRunningEngineAndEndpointsFollowItsLife() throws {
        let e2e = EndToEndTests()
        let dir = Env.tempDir()
        let (broker, brokers) = try e2e.startBroker(dir: dir)
        defer { broker.terminate(); broker.wait(seconds: 10) }
        let stream = EndToEndTests.inTimeOrder(EndToEndTests.mule("M-LIVE-1", at: EndToEndTests.start)
            + EndToEndTests.ordinary(at: EndToEndTests.start)) + EndToEndTests.malformed
        try e2e.produce(stream, brokers: brokers)

        let engine = try Child(Env.mulestream, e2e.engineArgs(brokers, extra: ["--http", "127.0.0.1:0"]),
                               dir: dir, name: "engine")
        defer { engine.terminate(); engine.wait(seconds: 10) }
        let port = try #require(eventually(seconds: 30) { Self.listeningPort(engine.stdout) },
                                "no `http: listening on` line; stderr:\n\(engine.stderr)")
        #expect(HTTPProbe.get(port: port, path: "/healthz").status == 200)

        // Wait until the engine has consumed the whole stream and published the mule's alert.
        let live = eventually(seconds: 60, every: 0.25) { () -> (Int, String)? in
            guard let s = Self.status(port), s["events_consumed"] as? Int == stream.count,
                  let alerts = s["recent_alerts"] as? [[String: Any]],
                  let alert = alerts.first(where: { $0["account"] as? String == "M-LIVE-1" && $0["rule"] as? String == "rapid-pass-through" }),
                  let id = alert["alert_id"] as? String else { return nil }
            return (s["events_consumed"] as! Int, id)
        }
        let (consumed, alertId) = try #require(live, "the engine did not report the stream; stderr:\n\(engine.stderr)")
        #expect(HTTPProbe.get(port: port, path: "/readyz").status == 200)

        // Metrics: what the engine did, by name.
        let metrics = try #require(HTTPProbe.get(port: port, path: "/metrics").body).split(separator: "\n")
        for sample in ["mulestream_events_consumed_total \(stream.count)", "mulestream_dead_lettered_total 3",
                       #"mulestream_decode_failures_total{reason="malformed_json"} 1"#,
                       #"mulestream_alerts_total{rule="rapid-pass-through",mode="enforce",outcome="published"} 1"#,
                       "mulestream_ready 1.0"] {
            #expect(metrics.contains(Substring(sample)), "no `\(sample)` in:\n\(metrics.joined(separator: "\n"))")
        }

        // The page as a browser builds it: its script fetched /api/status and drew the numbers.
        let (chromeStatus, dom, chromeErr) = try runToEnd(Self.chromium!, [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--virtual-time-budget=5000", "--dump-dom", "http://127.0.0.1:\(port)/",
        ], timeout: 60)
        #expect(chromeStatus == 0, "\(chromeErr)")
        #expect(dom.contains(#"id="events-consumed">\#(consumed)<"#), "events not drawn:\n\(dom.prefix(3000))")
        #expect(dom.contains(#"class="badge ready">consuming<"#))
        #expect(dom.contains(#"data-alert-id="\#(alertId)""#), "the mule's alert is not listed")
        #expect(dom.contains("<td>M-LIVE-1</td>"))
        #expect(dom.contains(#"id="dead-lettered">3<"#))
        #expect(dom.contains(#"<span id="error"></span>"#), "the page reports a failed fetch")

        // SIGTERM: once not ready, never ready again; exit 0; then nothing listens.
        engine.terminate()
        var answers: [String] = []
        while engine.process.isRunning {
            let r = HTTPProbe.get(port: port, path: "/readyz", timeoutSeconds: 2)
            let text = r.status.map(String.init) ?? "\(r)"
            if answers.last != text { answers.append(text) }
            usleep(20_000)
        }
        if let firstNotReady = answers.firstIndex(where: { $0 != "200" }) {
            #expect(!answers[firstNotReady...].contains("200"), "ready again after stopping: \(answers)")
        }
        #expect(engine.wait(seconds: 30) == 0, "\(engine.stderr)")
        #expect(HTTPProbe.get(port: port, path: "/healthz") == .refused)
    }
}
