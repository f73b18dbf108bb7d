import Testing
@testable import MuleRules

@Suite("Durations in rule files")
struct DurationTests {
    @Test("valid spellings", arguments: [
        ("500ms", 500), ("90s", 90_000), ("15m", 900_000), ("2h", 7_200_000), ("1d", 86_400_000),
        ("0s", 0), ("0ms", 0), ("30d", 2_592_000_000), ("1500ms", 1500),
    ] as [(String, Int64)])
    func valid(text: String, millis: Int64) throws {
        #expect(try RuleValues.durationMillis(text) == millis)
    }

    @Test("rejected spellings say why", arguments: [
        ("90", "must be a duration with a unit (ms, s, m, h or d), like 90s or 15m; got the bare number 90"),
        ("2 hours", "must be a duration like 90s, 15m, 2h or 1d, got `2 hours`"),
        ("2H", "must be a duration like 90s, 15m, 2h or 1d, got `2H`"),
        ("1.5h", "must be a duration like 90s, 15m, 2h or 1d, got `1.5h`"),
        ("-5m", "must be a duration like 90s, 15m, 2h or 1d, got `-5m`"),
        ("h", "must be a duration like 90s, 15m, 2h or 1d, got `h`"),
        ("1w", "must be a duration like 90s, 15m, 2h or 1d, got `1w`"),
        ("106751991168d", "is too large, got `106751991168d`"),
        ("99999999999999999999ms", "is too large, got `99999999999999999999ms`"),
    ])
    func rejected(text: String, message: String) {
        #expect(throws: ValueProblem(message)) { try RuleValues.durationMillis(text) }
    }

    @Test("shortest exact spelling for messages", arguments: [
        (7_200_000, "2h"), (1500, "1500ms"), (90_000, "90s"), (0, "0ms"), (86_400_000, "1d"),
    ] as [(Int64, String)])
    func format(millis: Int64, text: String) {
        #expect(RuleValues.formatDuration(millis) == text)
    }

    @Test("window: 0s rejected, 31d rejected, 30d accepted")
    func windowRange() throws {
        func rule(window: String) -> String {
            Fixtures.minimalRule.replacingOccurrences(of: "window: 15m", with: "window: \(window)")
        }
        #expect(Fixtures.errors(rule(window: "0s")) == ["Rules/x.yaml:4:9: window: must be longer than 0, got `0s`"])
        #expect(Fixtures.errors(rule(window: "31d")) == ["Rules/x.yaml:4:9: window: must be at most 30d, got `31d`"])
        #expect(Fixtures.errors(rule(window: "99999999999999999999d")) == ["Rules/x.yaml:4:9: window: is too large, got `99999999999999999999d`"])
        #expect(Fixtures.errors(rule(window: "30d")) == [])
    }
}
