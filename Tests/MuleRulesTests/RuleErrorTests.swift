import Testing
@testable import MuleRules

/// Each broken file yields exactly these errors (file:line:column: field: message).
@Suite("Broken rule files are rejected with precise, plain-words errors")
struct RuleErrorTests {
    @Test("each error class", arguments: [
        // Missing required keys are reported at the mapping that lacks them, all at once.
        ("missing keys", """
            id: r
            version: 1
            conditions:
              in_count: { min: 5 }
            """, [
                "Rules/x.yaml:1:1: severity: missing required key `severity`",
                "Rules/x.yaml:1:1: window: missing required key `window`",
            ]),
        ("unknown key with suggestion", """
            id: r
            version: 1
            severity: high
            window: 2h
            conditions:
              all:
                - in_count: { min: 5 }
                - pass_thru: { min: 0.9 }
            """, [
                "Rules/x.yaml:8:7: conditions.all[1].pass_thru: unknown key `pass_thru` (did you mean `pass_through`?); a condition is one of `all`, `any`, `not`, `distinct_payers`, `in_count`, `in_amount`, `out_count`, `out_amount`, `distinct_payees`, `pass_through`, `retained`, `dwell`, `burst`, `account_age`, `chain_depth`, `chain_payers`, `gang_size`",
            ]),
        ("unknown top-level key, bound key and filter key", """
            id: r
            version: 1
            severity: high
            window: 2h
            cooldwn: 1h
            owner: fraud-team
            credits: { chanel: [qr] }
            conditions:
              in_count: { mn: 5, max: 9 }
            """, [
                "Rules/x.yaml:5:1: cooldwn: unknown key `cooldwn` (did you mean `cooldown`?)",
                "Rules/x.yaml:6:1: owner: unknown key `owner`; expected `id`, `version`, `description`, `severity`, `mode`, `window`, `cooldown`, `trigger`, `credits`, `debits`, `conditions`, `score`, `outcomes`",
                "Rules/x.yaml:7:12: credits.chanel: unknown key `chanel` (did you mean `channel`?)",
                "Rules/x.yaml:9:15: conditions.in_count.mn: unknown key `mn` (did you mean `min`?)",
            ]),
        ("ratio out of range", """
            id: r
            version: 1
            severity: high
            window: 2h
            conditions:
              all:
                - in_count: { min: 5 }
                - pass_through: { min: 1.5 }
                - retained: { min: -2 }
            """, [
                "Rules/x.yaml:8:28: conditions.all[1].pass_through.min: must be between 0 and 1, got 1.5",
                "Rules/x.yaml:9:24: conditions.all[2].retained.min: must be between -1 and 1, got -2",
            ]),
        ("durations: unit words, bare number, bound too long, burst longer than window", """
            id: r
            version: 1
            severity: high
            window: 2 hours
            cooldown: 3600
            conditions:
              all:
                - dwell: { stat: p95, max: 30 }
                - account_age: { min: 4000d }
            """, [
                "Rules/x.yaml:4:9: window: must be a duration like 90s, 15m, 2h or 1d, got `2 hours`",
                "Rules/x.yaml:5:11: cooldown: must be a duration with a unit (ms, s, m, h or d), like 90s or 15m; got the bare number 3600",
                "Rules/x.yaml:8:32: conditions.all[0].dwell.max: must be a duration with a unit (ms, s, m, h or d), like 90s or 15m; got the bare number 30",
                "Rules/x.yaml:8:22: conditions.all[0].dwell.stat: must be one of median or p90, got `p95` (did you mean `p90`?)",
                "Rules/x.yaml:9:27: conditions.all[1].account_age.min: must be at most 3650d, got `4000d`",
            ]),
        ("burst: within missing, within longer than window", """
            id: r
            version: 1
            severity: high
            window: 1h
            conditions:
              any:
                - burst: { min: 5 }
                - burst: { within: 2h, min: 5 }
            """, [
                "Rules/x.yaml:7:14: conditions.any[0].burst.within: missing required key `within`",
                "Rules/x.yaml:8:24: conditions.any[1].burst.within: must not be longer than `window` (1h), got `2h`",
            ]),
        ("bounds: none, min above max, negative count, quoted count, too many decimals, decimal comma", """
            id: r
            version: 1
            severity: high
            window: 1h
            conditions:
              all:
                - in_count: {}
                - out_count: { min: 10, max: 2 }
                - distinct_payers: { min: -1 }
                - distinct_payees: { min: "5" }
                - in_amount: { min: 10.12345 }
                - out_amount: { max: 12,50 }
            """, [
                "Rules/x.yaml:7:17: conditions.all[0].in_count: needs a `min`, a `max` or both",
                "Rules/x.yaml:8:18: conditions.all[1].out_count: `min` (10) is greater than `max` (2), so nothing can match",
                "Rules/x.yaml:9:31: conditions.all[2].distinct_payers.min: must not be negative, got -1",
                "Rules/x.yaml:10:31: conditions.all[3].distinct_payees.min: must be a number written without quotes (like 5), got the text \"5\"",
                "Rules/x.yaml:11:25: conditions.all[4].in_amount.min: has more than 4 decimal places, got 10.12345",
                "Rules/x.yaml:12:29: conditions.all[5].out_amount.50: unknown key `50`; expected `min`, `max`",
            ]),
        ("condition shapes: two keys, empty all, not a mapping", """
            id: r
            version: 1
            severity: high
            window: 1h
            conditions:
              all:
                - in_count: { min: 5 }
                  out_count: { min: 5 }
                - any: []
                - in_count
            """, [
                "Rules/x.yaml:7:7: conditions.all[0]: a condition has exactly one key (a metric, `all`, `any` or `not`); found 2: `in_count`, `out_count`; put each in its own list item under `all` or `any`",
                "Rules/x.yaml:9:12: conditions.all[1].any: must be a non-empty list of conditions, got an empty list",
                "Rules/x.yaml:10:7: conditions.all[2]: must be a condition such as `in_count: { min: 5 }`, `all: [...]`, `any: [...]` or `not: {...}`, got `in_count`",
            ]),
        ("top-level values: id, version, severity, mode, trigger, filters", """
            id: Rapid_Pass
            version: "3 beta"
            severity: hgh
            mode: live
            trigger: both
            window: 1h
            credits:
              channel: [qr, upi]
              account_kind: personal
            debits:
              counterparty_kind: []
            conditions:
              in_count: { min: 5 }
            """, [
                "Rules/x.yaml:1:5: id: must be 1 to 64 lower-case letters, digits and dashes, starting with a letter or digit (like rapid-pass-through), got `Rapid_Pass`",
                "Rules/x.yaml:2:10: version: must be a whole number or up to 32 letters, digits, dots, dashes and underscores (like 3 or 2024-06.1), got `3 beta`",
                "Rules/x.yaml:3:11: severity: must be one of low, medium, high or critical, got `hgh` (did you mean `high`?)",
                "Rules/x.yaml:4:7: mode: must be one of enforce or shadow, got `live`",
                "Rules/x.yaml:5:10: trigger: must be one of any, credit or debit, got `both`",
                "Rules/x.yaml:8:17: credits.channel[1]: unknown channel `upi`; expected one of qr, p2p, card, bank, wallet, other, unknown",
                "Rules/x.yaml:9:17: credits.account_kind: must be a list like [personal, merchant], got `personal`",
                "Rules/x.yaml:11:22: debits.counterparty_kind: must list at least one account kind (leave the key out to accept any)",
            ]),
        ("score and outcomes", """
            id: r
            version: 1
            severity: high
            window: 1h
            conditions: { in_count: { min: 5 } }
            score:
              base: 1.2
              signals:
                - weight: 0.2
                - weight: 2
                  when: { in_count: { min: 9 } }
                - wieght: 0.1
                  when: { in_count: { min: 9 } }
            outcomes:
              Review: 0.5
              block: high
            """, [
                "Rules/x.yaml:7:9: score.base: must be between 0 and 1, got 1.2",
                "Rules/x.yaml:9:7: score.signals[0].when: missing required key `when`",
                "Rules/x.yaml:10:15: score.signals[1].weight: must be between -1 and 1, got 2",
                "Rules/x.yaml:12:7: score.signals[2].wieght: unknown key `wieght` (did you mean `weight`?)",
                "Rules/x.yaml:12:7: score.signals[2].weight: missing required key `weight`",
                "Rules/x.yaml:15:3: outcomes.Review: an action name must be 1 to 32 lower-case letters, digits, `_` or `-`, starting with a letter (like review or block)",
                "Rules/x.yaml:16:10: outcomes.block: must be a number between 0 and 1, got `high`",
            ]),
        ("empty values and wrong shapes", """
            id:
            version: [1]
            severity: high
            window: { h: 2 }
            conditions: []
            """, [
                "Rules/x.yaml:1:4: id: has no value",
                "Rules/x.yaml:2:10: version: must be a single value, got a list",
                "Rules/x.yaml:4:9: window: must be a single value, got a mapping",
                "Rules/x.yaml:5:13: conditions: must be a condition such as `in_count: { min: 5 }`, `all: [...]`, `any: [...]` or `not: {...}`, got a list",
            ]),
    ] as [(String, String, [String])])
    func errorClass(name: String, yaml: String, expected: [String]) {
        let got = Fixtures.errors(yaml)
        #expect(got == expected, "\(name)")
    }

    @Test("the description of a failure lists one problem per line")
    func failureDescription() {
        do {
            _ = try RuleLoader.parse(yaml: "id: r\n", file: "a.yaml")
            Issue.record("expected a failure")
        } catch {
            #expect(error.errors.count == 4)
            #expect(error.description.split(separator: "\n").first == "a.yaml:1:1: version: missing required key `version`")
            #expect(error.errors[0] == RuleFileError(file: "a.yaml", line: 1, column: 1, field: "version", message: "missing required key `version`"))
        }
    }
}
