import MuleCore
import Yams

/// Reads one composed rule file (a Yams node tree) into a `Rule`, collecting every problem it
/// finds rather than stopping at the first, each with its location and field path.
struct RuleFileReader {
    let file: String
    private(set) var errors: [RuleFileError] = []
    /// The rule's window once read, so `burst.within` can be checked against it.
    private var windowMillis: Int64?

    init(file: String) {
        self.file = file
    }

    static let topLevelKeys = [
        "id", "version", "description", "severity", "mode", "window", "cooldown", "trigger",
        "credits", "debits", "conditions", "score", "outcomes",
    ]
    static let maxWindowMillis = 30 * RuleValues.day
    static let maxCooldownMillis = 365 * RuleValues.day
    /// Longest duration a condition bound (`dwell`, `account_age`) may name.
    static let maxBoundMillis = 3650 * RuleValues.day

    /// The rule, and where its `id` is written (for folder-level duplicate errors); nil when
    /// the file has problems (see `errors`).
    mutating func read(_ root: Node) -> (rule: Rule, idMark: Mark?)? {
        guard root.mapping != nil else {
            report(root, "", "the top level of a rule file must be a mapping of keys (id, version, severity, window, conditions, …), got \(kind(of: root))")
            return nil
        }
        guard let fields = fields(of: root, at: "", known: Self.topLevelKeys, required: ["id", "version", "severity", "window", "conditions"]) else {
            return nil
        }
        var id: String?
        if let node = fields["id"] { id = ruleID(node) }
        var version: String?
        if let node = fields["version"] { version = self.version(node) }
        var description = ""
        if let node = fields["description"], let text = text(node, at: "description", allowEmpty: true) {
            description = text
        }
        var severity: Severity?
        if let node = fields["severity"], let name = choice(node, at: "severity", Severity.allCases.map(\.name)) {
            severity = Severity(name: name)
        }
        var mode = RuleMode.enforce
        if let node = fields["mode"], let name = choice(node, at: "mode", RuleMode.allCases.map(\.name)), let m = RuleMode(name: name) {
            mode = m
        }
        if let node = fields["window"], let ms = duration(node, at: "window") {
            if ms <= 0 {
                report(node, "window", "must be longer than 0, got `\(node.string ?? "")`")
            } else if ms > Self.maxWindowMillis {
                report(node, "window", "must be at most 30d, got `\(RuleValues.shown(node.string ?? ""))`")
            } else {
                windowMillis = ms
            }
        }
        var cooldown: Int64 = 0
        if let node = fields["cooldown"], let ms = duration(node, at: "cooldown") {
            if ms > Self.maxCooldownMillis {
                report(node, "cooldown", "must be at most 365d, got `\(RuleValues.shown(node.string ?? ""))`")
            } else {
                cooldown = ms
            }
        }
        var trigger = RuleTrigger.anyLeg
        if let node = fields["trigger"], let name = choice(node, at: "trigger", ["any", "credit", "debit"]) {
            trigger = name == "credit" ? .credit : name == "debit" ? .debit : .anyLeg
        }
        var credits = LegFilter.any
        if let node = fields["credits"], let filter = legFilter(node, at: "credits") { credits = filter }
        var debits = LegFilter.any
        if let node = fields["debits"], let filter = legFilter(node, at: "debits") { debits = filter }
        var conditions: Condition?
        if let node = fields["conditions"] { conditions = condition(node, at: "conditions") }
        var scoreBase = 1.0
        var signals: [ScoreSignal] = []
        if let node = fields["score"], let score = score(node) {
            scoreBase = score.base
            signals = score.signals
        }
        var outcomes: [OutcomeBand] = []
        if let node = fields["outcomes"], let bands = outcomeBands(node) { outcomes = bands }

        guard errors.isEmpty, let id, let version, let severity, let windowMillis, let conditions else { return nil }
        let rule = Rule(
            id: id, version: version, description: description, severity: severity, mode: mode,
            windowMillis: windowMillis, cooldownMillis: cooldown, trigger: trigger,
            credits: credits, debits: debits, conditions: conditions, scoreBase: scoreBase,
            signals: signals, outcomes: outcomes
        )
        return (rule, fields["id"]?.mark)
    }

    // MARK: Top-level values

    private mutating func ruleID(_ node: Node) -> String? {
        guard let text = text(node, at: "id") else { return nil }
        let utf8 = Array(text.utf8)
        let ok = (1...64).contains(utf8.count) && utf8.enumerated().allSatisfy { i, c in
            (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (i > 0 && c == 45)
        }
        guard ok else {
            report(node, "id", "must be 1 to 64 lower-case letters, digits and dashes, starting with a letter or digit (like rapid-pass-through), got `\(RuleValues.shown(text))`")
            return nil
        }
        return text
    }

    private mutating func version(_ node: Node) -> String? {
        guard let text = text(node, at: "version") else { return nil }
        let utf8 = Array(text.utf8)
        let ok = (1...32).contains(utf8.count) && utf8.allSatisfy { c in
            (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 46 || c == 95 || c == 45
        }
        guard ok else {
            report(node, "version", "must be a whole number or up to 32 letters, digits, dots, dashes and underscores (like 3 or 2024-06.1), got `\(RuleValues.shown(text))`")
            return nil
        }
        return text
    }

    private mutating func legFilter(_ node: Node, at path: String) -> LegFilter? {
        let keys = ["channel", "account_kind", "counterparty_kind"]
        guard let fields = fields(of: node, at: path, known: keys, required: []) else { return nil }
        var channels: [Channel] = []
        var accountKinds: [AccountKind] = []
        var counterpartyKinds: [AccountKind] = []
        var ok = true
        if let list = fields["channel"] {
            if let names = nameList(list, at: FieldPath.join(path, "channel"), of: "channel", Channel.allCases.filter { $0 != .unknown }.map(\.name) + ["unknown"]) {
                channels = names.compactMap(Channel.init(name:))
            } else { ok = false }
        }
        let kindNames = [AccountKind.personal, .merchant, .unknown].map(\.name)
        if let list = fields["account_kind"] {
            if let names = nameList(list, at: FieldPath.join(path, "account_kind"), of: "account kind", kindNames) {
                accountKinds = names.compactMap(AccountKind.init(name:))
            } else { ok = false }
        }
        if let list = fields["counterparty_kind"] {
            if let names = nameList(list, at: FieldPath.join(path, "counterparty_kind"), of: "account kind", kindNames) {
                counterpartyKinds = names.compactMap(AccountKind.init(name:))
            } else { ok = false }
        }
        return ok ? LegFilter(channels: channels, accountKinds: accountKinds, counterpartyKinds: counterpartyKinds) : nil
    }

    private mutating func nameList(_ node: Node, at path: String, of what: String, _ allowed: [String]) -> [String]? {
        guard let sequence = node.sequence else {
            report(node, path, "must be a list like [\(allowed.prefix(2).joined(separator: ", "))], got \(kind(of: node))")
            return nil
        }
        if sequence.isEmpty {
            report(node, path, "must list at least one \(what) (leave the key out to accept any)")
            return nil
        }
        var names: [String] = []
        var ok = true
        for (i, item) in sequence.enumerated() {
            guard let name = text(item, at: path + "[\(i)]") else { ok = false; continue }
            guard allowed.contains(name) else {
                report(item, path + "[\(i)]", "unknown \(what) `\(RuleValues.shown(name))`\(hint(name, allowed)); expected one of \(allowed.joined(separator: ", "))")
                ok = false
                continue
            }
            names.append(name)
        }
        return ok ? names : nil
    }

    private mutating func score(_ node: Node) -> (base: Double, signals: [ScoreSignal])? {
        guard let fields = fields(of: node, at: "score", known: ["base", "signals"], required: []) else { return nil }
        var base: Double? = 1
        if let node = fields["base"] { base = number(node, at: "score.base", in: 0...1) }
        var signals: [ScoreSignal]? = []
        if let list = fields["signals"] {
            if let sequence = list.sequence {
                var parsed: [ScoreSignal] = []
                for (i, item) in sequence.enumerated() {
                    let path = "score.signals[\(i)]"
                    guard let f = self.fields(of: item, at: path, known: ["weight", "when"], required: ["weight", "when"]) else {
                        signals = nil
                        continue
                    }
                    var weight: Double?
                    if let node = f["weight"] { weight = number(node, at: path + ".weight", in: -1...1) }
                    var when: Condition?
                    if let node = f["when"] { when = condition(node, at: path + ".when") }
                    if let weight, let when { parsed.append(ScoreSignal(weight: weight, condition: when)) } else { signals = nil }
                }
                if signals != nil { signals = parsed }
            } else {
                report(list, "score.signals", "must be a list of signals (`- weight: … when: …`), got \(kind(of: list))")
                signals = nil
            }
        }
        guard let base, let signals else { return nil }
        return (base, signals)
    }

    private mutating func outcomeBands(_ node: Node) -> [OutcomeBand]? {
        guard let mapping = node.mapping else {
            report(node, "outcomes", "must be a mapping of action to minimum score (like `review: 0.6`), got \(kind(of: node))")
            return nil
        }
        var bands: [OutcomeBand] = []
        var ok = true
        for (keyNode, value) in mapping {
            guard let action = keyText(keyNode, in: "outcomes") else { ok = false; continue }
            let path = FieldPath.join("outcomes", action)
            let utf8 = Array(action.utf8)
            let valid = (1...32).contains(utf8.count) && (utf8[0] >= 97 && utf8[0] <= 122) && utf8.allSatisfy { c in
                (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 || c == 45
            }
            if !valid {
                report(keyNode, path, "an action name must be 1 to 32 lower-case letters, digits, `_` or `-`, starting with a letter (like review or block)")
                ok = false
                continue
            }
            guard let minScore = number(value, at: path, in: 0...1) else { ok = false; continue }
            bands.append(OutcomeBand(action: action, minScore: minScore))
        }
        return ok ? bands : nil
    }

    // MARK: Conditions

    /// How a metric's bounds are written.
    private enum LeafKind {
        case count, amount, ratio(ClosedRange<Double>), duration, dwell, burst
    }

    private static let metrics: [(name: String, kind: LeafKind)] = [
        ("distinct_payers", .count), ("in_count", .count), ("in_amount", .amount),
        ("out_count", .count), ("out_amount", .amount), ("distinct_payees", .count),
        ("pass_through", .ratio(0...1)), ("retained", .ratio(-1...1)), ("dwell", .dwell),
        ("burst", .burst), ("account_age", .duration),
        ("chain_depth", .count), ("chain_payers", .count), ("gang_size", .count),
    ]
    static let conditionKeys = ["all", "any", "not"] + metrics.map(\.name)

    private mutating func condition(_ node: Node, at path: String) -> Condition? {
        guard let mapping = node.mapping else {
            report(node, path, "must be a condition such as `in_count: { min: 5 }`, `all: [...]`, `any: [...]` or `not: {...}`, got \(kind(of: node))")
            return nil
        }
        guard mapping.count == 1, let (keyNode, value) = mapping.first else {
            let names = mapping.compactMap { $0.key.string }.map { "`\(RuleValues.shown($0))`" }
            let found = mapping.isEmpty ? "found none" : "found \(mapping.count): \(names.joined(separator: ", ")); put each in its own list item under `all` or `any`"
            report(node, path, "a condition has exactly one key (a metric, `all`, `any` or `not`); \(found)")
            return nil
        }
        guard let key = keyText(keyNode, in: path) else { return nil }
        let childPath = FieldPath.join(path, key)
        switch key {
        case "all", "any":
            guard let sequence = value.sequence, !sequence.isEmpty else {
                let got = value.sequence != nil ? "an empty list" : kind(of: value)
                report(value, childPath, "must be a non-empty list of conditions, got \(got)")
                return nil
            }
            var children: [Condition] = []
            var ok = true
            for (i, item) in sequence.enumerated() {
                if let c = condition(item, at: childPath + "[\(i)]") { children.append(c) } else { ok = false }
            }
            guard ok else { return nil }
            return key == "all" ? .all(children) : .any(children)
        case "not":
            return condition(value, at: childPath).map { .not($0) }
        default:
            guard let kind = Self.metrics.first(where: { $0.name == key })?.kind else {
                report(keyNode, childPath, "unknown key `\(RuleValues.shown(key))`\(hint(key, Self.conditionKeys)); a condition is one of \(Self.conditionKeys.map { "`\($0)`" }.joined(separator: ", "))")
                return nil
            }
            return leaf(key, kind, value, at: childPath)
        }
    }

    private mutating func leaf(_ name: String, _ kind: LeafKind, _ node: Node, at path: String) -> Condition? {
        var known = ["min", "max"]
        var required: [String] = []
        switch kind {
        case .dwell: known = ["stat", "min", "max"]
        case .burst: known = ["within", "min", "max"]; required = ["within"]
        default: break
        }
        guard let fields = fields(of: node, at: path, known: known, required: required) else { return nil }
        if fields["min"] == nil && fields["max"] == nil {
            report(node, path, "needs a `min`, a `max` or both")
            return nil
        }
        var ok = true
        func bound(_ key: String, _ reader: inout RuleFileReader) -> Double? {
            guard let value = fields[key] else { return nil }
            let at = FieldPath.join(path, key)
            let parsed: Double?
            switch kind {
            case .count, .burst: parsed = reader.count(value, at: at).map(Double.init)
            case .amount: parsed = reader.amount(value, at: at)
            case .ratio(let range): parsed = reader.number(value, at: at, in: range)
            case .duration, .dwell: parsed = reader.boundDuration(value, at: at).map(Double.init)
            }
            if parsed == nil { ok = false }
            return parsed
        }
        let min = bound("min", &self)
        let max = bound("max", &self)
        if let min, let max, min > max {
            report(node, path, "`min` (\(fields["min"]?.string ?? "")) is greater than `max` (\(fields["max"]?.string ?? "")), so nothing can match")
            ok = false
        }
        var metric: Metric?
        switch kind {
        case .count: metric = [
            "in_count": .inCount, "out_count": .outCount, "distinct_payers": .distinctPayers, "distinct_payees": .distinctPayees,
            "chain_depth": .chainDepth, "chain_payers": .chainPayers, "gang_size": .gangSize,
        ][name]
        case .amount: metric = name == "in_amount" ? .inAmount : .outAmount
        case .ratio: metric = name == "pass_through" ? .passThrough : .retained
        case .duration: metric = .accountAge
        case .dwell:
            metric = .dwellMedian
            if let node = fields["stat"] {
                switch choice(node, at: FieldPath.join(path, "stat"), ["median", "p90"]) {
                case "median": metric = .dwellMedian
                case "p90": metric = .dwellP90
                default: metric = nil
                }
            }
        case .burst:
            metric = nil
            if let node = fields["within"], let within = duration(node, at: FieldPath.join(path, "within")) {
                if within <= 0 {
                    report(node, FieldPath.join(path, "within"), "must be longer than 0, got `\(node.string ?? "")`")
                } else if let windowMillis, within > windowMillis {
                    report(node, FieldPath.join(path, "within"), "must not be longer than `window` (\(RuleValues.formatDuration(windowMillis))), got `\(node.string ?? "")`")
                } else if within > Self.maxWindowMillis {
                    report(node, FieldPath.join(path, "within"), "must be at most 30d, got `\(RuleValues.shown(node.string ?? ""))`")
                } else {
                    metric = .burst(subWindowMillis: within)
                }
            }
        }
        guard ok, let metric else { return nil }
        return .metric(metric, Bound(min: min, max: max))
    }

    // MARK: Scalars

    private mutating func duration(_ node: Node, at path: String) -> Int64? {
        guard let text = text(node, at: path) else { return nil }
        do {
            return try RuleValues.durationMillis(text)
        } catch {
            report(node, path, error.message)
            return nil
        }
    }

    private mutating func boundDuration(_ node: Node, at path: String) -> Int64? {
        guard let ms = duration(node, at: path) else { return nil }
        guard ms <= Self.maxBoundMillis else {
            report(node, path, "must be at most 3650d, got `\(RuleValues.shown(node.string ?? ""))`")
            return nil
        }
        return ms
    }

    private mutating func count(_ node: Node, at path: String) -> Int64? {
        guard let text = plainNumberText(node, at: path, example: "5") else { return nil }
        do {
            return try RuleValues.count(text)
        } catch {
            report(node, path, error.message)
            return nil
        }
    }

    private mutating func amount(_ node: Node, at path: String) -> Double? {
        guard let text = text(node, at: path) else { return nil }
        do {
            return try RuleValues.amount(text)
        } catch {
            report(node, path, error.message)
            return nil
        }
    }

    private mutating func number(_ node: Node, at path: String, in range: ClosedRange<Double>) -> Double? {
        guard let text = plainNumberText(node, at: path, example: "0.5") else { return nil }
        do {
            return try RuleValues.number(text, in: range)
        } catch {
            report(node, path, error.message)
            return nil
        }
    }

    /// Counts and ratios are YAML numbers; a quoted `"5"` is text, which the schema rejects too.
    private mutating func plainNumberText(_ node: Node, at path: String, example: String) -> String? {
        guard let text = text(node, at: path) else { return nil }
        if let scalar = node.scalar, scalar.style != .plain {
            report(node, path, "must be a number written without quotes (like \(example)), got the text \"\(RuleValues.shown(text))\"")
            return nil
        }
        return text
    }

    private mutating func choice(_ node: Node, at path: String, _ allowed: [String]) -> String? {
        guard let name = text(node, at: path) else { return nil }
        guard allowed.contains(name) else {
            let list = allowed.dropLast().joined(separator: ", ") + " or " + allowed.last!
            report(node, path, "must be one of \(list), got `\(RuleValues.shown(name))`\(hint(name, allowed))")
            return nil
        }
        return name
    }

    /// A scalar's text. YAML's empty value (`key:`, `~`, `null`) is reported as missing unless
    /// `allowEmpty`, when it reads as "".
    private mutating func text(_ node: Node, at path: String, allowEmpty: Bool = false) -> String? {
        guard let scalar = node.scalar else {
            report(node, path, "must be a single value, got \(kind(of: node))")
            return nil
        }
        if YAMLNodeText.isEmptyValue(scalar) {
            if allowEmpty { return "" }
            report(node, path, "has no value")
            return nil
        }
        return scalar.string
    }

    // MARK: Mappings

    /// The values of a mapping's keys, after reporting keys that are not `known` (with a
    /// suggestion) and `required` keys that are missing. Nil when `node` is not a mapping.
    private mutating func fields(of node: Node, at path: String, known: [String], required: [String]) -> [String: Node]? {
        guard let mapping = node.mapping else {
            let keys = known.prefix(3).map { "`\($0)`" }.joined(separator: ", ")
            report(node, path, "must be a mapping with keys such as \(keys), got \(kind(of: node))")
            return nil
        }
        var values: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyText(keyNode, in: path) else { continue }
            if known.contains(key) {
                values[key] = value
            } else {
                let suggestion = hint(key, known)
                let expected = suggestion.isEmpty ? "; expected \(known.map { "`\($0)`" }.joined(separator: ", "))" : ""
                report(keyNode, FieldPath.join(path, key), "unknown key `\(RuleValues.shown(key))`\(suggestion)\(expected)")
            }
        }
        for key in required where values[key] == nil {
            report(node, FieldPath.join(path, key), "missing required key `\(key)`")
        }
        return values
    }

    private mutating func keyText(_ keyNode: Node, in path: String) -> String? {
        guard let key = keyNode.scalar?.string else {
            report(keyNode, path, "keys must be plain words, got \(kind(of: keyNode)) as a key")
            return nil
        }
        return key
    }

    // MARK: Reporting

    /// Enough problems for anyone to start fixing; a hostile file with 100 000 bad keys gets a
    /// short report instead of a flood.
    static let maxErrorsPerFile = 50

    private var isOverErrorLimit: Bool { errors.count > Self.maxErrorsPerFile }

    private mutating func report(_ node: Node, _ field: String, _ message: String) {
        if isOverErrorLimit { return }
        if errors.count == Self.maxErrorsPerFile {
            errors.append(RuleFileError(file: file, line: 0, column: 0, field: "", message: "more than \(Self.maxErrorsPerFile) problems; fix these first"))
            return
        }
        let mark = node.mark
        errors.append(RuleFileError(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, field: field, message: message))
    }

    private func hint(_ word: String, _ known: [String]) -> String {
        if isOverErrorLimit { return "" }
        return Suggestion.closest(to: word, in: known).map { " (did you mean `\($0)`?)" } ?? ""
    }

    private func kind(of node: Node) -> String {
        YAMLNodeText.describe(node)
    }
}
