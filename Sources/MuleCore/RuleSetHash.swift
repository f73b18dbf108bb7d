extension Rule {
    /// A canonical, order-independent-of-formatting rendering of everything that affects what
    /// the rule raises (comments, key order and spelling in the file do not matter; the
    /// description does not either).
    public var canonicalText: String {
        var out = "id=\(id);version=\(version);severity=\(severity.name);mode=\(mode.name);window=\(windowMillis);"
        out += "cooldown=\(cooldownMillis);trigger=\(trigger.rawValue);"
        out += "credits=\(credits.channels),\(credits.accountKinds),\(credits.counterpartyKinds);"
        out += "debits=\(debits.channels),\(debits.accountKinds),\(debits.counterpartyKinds);"
        out += "when=\(conditions.canonicalText);base=\(scoreBase);"
        for s in signals { out += "signal=\(s.weight):\(s.condition.canonicalText);" }
        for o in outcomes { out += "band=\(o.action)@\(o.minScore);" }
        return out
    }
}

extension Condition {
    var canonicalText: String {
        switch self {
        case .all(let cs): "all(" + cs.map(\.canonicalText).joined(separator: ",") + ")"
        case .any(let cs): "any(" + cs.map(\.canonicalText).joined(separator: ",") + ")"
        case .not(let c): "not(" + c.canonicalText + ")"
        case .metric(let m, let b):
            "\(m.name)" + (m.subWindow.map { "/\($0)" } ?? "") + "[\(b.min.map { "\($0)" } ?? "")..\(b.max.map { "\($0)" } ?? "")]"
        }
    }
}

extension Metric {
    var subWindow: Int64? {
        if case .burst(let w) = self { return w }
        return nil
    }
}

/// Identifies a loaded rule set: 16 hex digits over the canonical text of its rules, sorted by
/// `id@version`. Every alert names it, so the same events and the same hash give the same alerts.
public func ruleSetHash(_ rules: [Rule]) -> String {
    let text = rules.sorted { $0.key < $1.key }.map(\.canonicalText).joined(separator: "\n")
    let h = ByteHash.hash(Array(text.utf8), seed: ByteHash.alertSeedA)
    let s = String(h, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
