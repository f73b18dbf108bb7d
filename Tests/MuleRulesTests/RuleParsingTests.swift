import MuleCore
import Testing
@testable import MuleRules

@Suite("A valid rule file maps exactly to the rule model")
struct RuleParsingTests {
    @Test("full rule: every field and every metric")
    func fullRule() throws {
        let rule = try RuleLoader.parse(yaml: Fixtures.fullRule, file: "Rules/rapid.yaml")
        let minute = 60_000.0
        let expected = Rule(
            id: "rapid-pass-through", version: "3",
            description: "Receives from many payers and forwards 97-99.5% within minutes",
            severity: .high, mode: .enforce, windowMillis: 7_200_000, cooldownMillis: 86_400_000,
            trigger: .debit,
            credits: LegFilter(channels: [.qr], accountKinds: [.personal], counterpartyKinds: [.personal, .unknown]),
            debits: LegFilter(counterpartyKinds: [.personal, .unknown]),
            conditions: .all([
                .metric(.distinctPayers, Bound(min: 5)),
                .metric(.inCount, Bound(min: 5, max: 200)),
                .metric(.inAmount, Bound(min: 1000)),
                .metric(.outAmount, Bound(min: 500.5)),
                .metric(.outCount, Bound(min: 1)),
                .metric(.distinctPayees, Bound(max: 3)),
                .metric(.passThrough, Bound(min: 0.9)),
                .metric(.retained, Bound(min: 0.005, max: 0.03)),
                .metric(.dwellMedian, Bound(max: 30 * minute)),
                .metric(.dwellP90, Bound(min: 500, max: 60 * minute)),
                .metric(.burst(subWindowMillis: 1_800_000), Bound(min: 5)),
                .metric(.accountAge, Bound(max: 30 * 1440 * minute)),
                .any([
                    .metric(.inAmount, Bound(min: 0.0125)),
                    .not(.metric(.inCount, Bound(max: 3))),
                ]),
            ]),
            scoreBase: 0.6,
            signals: [
                ScoreSignal(weight: 0.2, condition: .metric(.distinctPayers, Bound(min: 10))),
                ScoreSignal(weight: -0.1, condition: .metric(.accountAge, Bound(min: 90 * 1440 * minute))),
            ],
            outcomes: [OutcomeBand(action: "review", minScore: 0.6), OutcomeBand(action: "block", minScore: 0.85)]
        )
        #expect(rule == expected)
        #expect(rule.key == "rapid-pass-through@3")
        #expect(rule.outcomes.map(\.action) == ["review", "block"])
    }

    @Test("minimal rule gets the documented defaults")
    func minimalRuleDefaults() throws {
        let rule = try RuleLoader.parse(yaml: Fixtures.minimalRule, file: "small.yaml")
        #expect(rule == Rule(
            id: "small", version: "v1", description: "", severity: .low, mode: .enforce,
            windowMillis: 900_000, cooldownMillis: 0, trigger: .anyLeg, credits: .any, debits: .any,
            conditions: .metric(.inCount, Bound(min: 5)), scoreBase: 1, signals: [], outcomes: []
        ))
    }

    @Test("version is kept as written text; shadow mode, credit trigger, empty score")
    func versionAsText() throws {
        let yaml = """
            id: v
            version: "2024-06.1"
            severity: critical
            mode: shadow
            window: 1d
            trigger: credit
            score: {}
            conditions: { not: { pass_through: { max: 1 } } }
            """
        let rule = try RuleLoader.parse(yaml: yaml, file: "v.yaml")
        #expect(rule.version == "2024-06.1")
        #expect(rule.mode == .shadow)
        #expect(rule.trigger == .credit)
        #expect(rule.severity == .critical)
        #expect(rule.windowMillis == 86_400_000)
        #expect(rule.scoreBase == 1)
        #expect(rule.conditions == .not(.metric(.passThrough, Bound(max: 1))))
    }

    @Test("amounts are exact decimals: 0.0001 and large whole amounts")
    func amountsExact() throws {
        let yaml = Fixtures.minimalRule.replacingOccurrences(
            of: "in_count: { min: 5 }", with: "in_amount: { min: 0.0001, max: \"123456789.1234\" }")
        let rule = try RuleLoader.parse(yaml: yaml, file: "a.yaml")
        #expect(rule.conditions == .metric(.inAmount, Bound(min: 0.0001, max: 123_456_789.1234)))
    }
}
