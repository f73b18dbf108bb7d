import MuleCore
import MuleRules
import Testing

@Suite struct SnoozeFileTests {
    @Test func parsesSnoozesForOneRuleAndForAll() throws {
        let s = try SnoozeFile.parse("""
        account,rule,until,reason
        A-1,rapid-pass-through,2026-12-01,cleared by analyst: family business, see case 881
        # comment lines are skipped
        A-2,*,2026-12-01T08:00:00+08:00,KYC refreshed
        """)
        #expect(s.count == 2)
        #expect(s[0] == Snooze(account: "A-1", ruleId: "rapid-pass-through", untilMillis: 1_796_083_200_000,
                               reason: "cleared by analyst: family business, see case 881"))
        #expect(s[1].ruleId == nil)
        #expect(s[1].untilMillis == 1_796_083_200_000)  // 08:00 at +08:00 is midnight UTC
    }

    @Test func errorsNameTheLine() {
        #expect(throws: SnoozeFile.Problem(file: "s.csv", line: 2, message: "until must be a date like 2026-12-31 or an RFC 3339 time like 2026-12-31T18:00:00+08:00, got `soon`")) {
            try SnoozeFile.parse("account,rule,until,reason\nA,*,soon,x\n", file: "s.csv")
        }
        #expect(throws: SnoozeFile.Problem.self) { try SnoozeFile.parse("acct,rule\n") }
        #expect(throws: SnoozeFile.Problem(file: "snoozes", line: 2, message: "reason must not be empty: say why the account is cleared")) {
            try SnoozeFile.parse("account,rule,until,reason\nA,*,2026-01-01,\n")
        }
    }

    @Test func snoozeSilencesByEventTimeAndRule() {
        var list = SnoozeList([Snooze(account: "A", ruleId: "r", untilMillis: 1000, reason: "x")])
        func alert(_ rule: String, _ ts: Int64) -> Alert {
            Alert(alertId: "", account: "A", ruleId: rule, ruleVersion: "1", severity: .high, mode: .enforce, action: nil,
                  score: 1, eventTs: ts, window: nil, evidence: [], evidenceCount: 0)
        }
        #expect(list.snooze(for: alert("r", 999)) != nil)
        #expect(list.snooze(for: alert("r", 1000)) == nil)
        #expect(list.snooze(for: alert("other", 10)) == nil)
        list.set(Snooze(account: "A", ruleId: nil, untilMillis: 5000, reason: "all"))
        #expect(list.snooze(for: alert("other", 10))?.reason == "all")
        list.remove(account: "A", ruleId: nil)
        #expect(list.snooze(for: alert("other", 10)) == nil)
    }
}
