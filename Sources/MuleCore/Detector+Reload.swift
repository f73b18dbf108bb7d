extension Detector {
    /// Swaps the rule set while keeping every account's window state (hot reload).
    ///
    /// Cool-downs carry over to the rule with the same `id@version`, else to the same `id` (a
    /// new version of a rule does not re-alert an account the old version just alerted). A rule
    /// whose window grew sees only the legs the old windows kept; it fills up as time passes.
    public mutating func replaceRules(_ newRules: [Rule]) {
        precondition(newRules.count < 65_536, "too many rules")
        let remap = Detector.ruleRemap(oldKeys: rules.map(\.key), oldIds: rules.map(\.id), to: newRules)
        var carried: [UInt64: Int64] = [:]
        for (key, at) in lastAlertAt {
            if let ni = remap[Int(key & 0xFFFF)] { carried[(key & ~0xFFFF) | UInt64(ni)] = at }
        }
        lastAlertAt = carried
        rules = newRules
        plans.removeAll()
        signals.removeAll()
        program = ConditionProgram()
        for rule in newRules { plans.append(RulePlan(rule, program: &program, signals: &signals)) }
        indexTriggers()
        longestWindow = newRules.map(\.windowMillis).max() ?? 0
        ruleSet = ruleSetHash(newRules)
    }
}
