import Foundation
import MuleCore

/// One record of the snooze topic: a compacted topic keyed `account|rule` (`rule` = a rule id,
/// or `*` for every rule) whose value is
/// `{"account":"A-1","rule":"rapid-pass-through","until":"2026-12-01T00:00:00Z","reason":"…"}`
/// (`until` an RFC 3339 time or a date, compared with the alert's event time). A null or empty
/// value (a tombstone) lifts the snooze for its key.
public enum SnoozeRecord: Equatable, Sendable {
    case set(Snooze)
    case lift(account: String, ruleId: String?)

    /// Why a record could not be used (logged and counted; the record is skipped).
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public static func parse(key: [UInt8]?, value: [UInt8]?) throws(Problem) -> SnoozeRecord {
        guard let key, let keyText = String(validating: key, as: UTF8.self), let bar = keyText.lastIndex(of: "|") else {
            throw Problem(message: "the key must be `account|rule` (rule `*` = every rule)")
        }
        let keyAccount = String(keyText[..<bar])
        let keyRule = String(keyText[keyText.index(after: bar)...])
        guard !keyAccount.isEmpty, keyAccount.utf8.count <= 128, !keyRule.isEmpty else {
            throw Problem(message: "the key must be `account|rule` with a 1–128 byte account and a rule id or `*`, got `\(keyText)`")
        }
        guard let value, !value.isEmpty else {
            return .lift(account: keyAccount, ruleId: keyRule == "*" ? nil : keyRule)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: Any] else {
            throw Problem(message: "the value must be a JSON object {account, rule, until, reason} or empty (to lift the snooze)")
        }
        guard let account = object["account"] as? String, let rule = object["rule"] as? String else {
            throw Problem(message: "`account` and `rule` must be strings")
        }
        guard account == keyAccount, rule == keyRule else {
            throw Problem(message: "the key `\(keyText)` must be the value's `account|rule` (`\(account)|\(rule)`): compaction keeps one record per key")
        }
        guard let untilText = object["until"] as? String, let until = parseTimestamp(untilText) else {
            throw Problem(message: "`until` must be a date like 2026-12-31 or an RFC 3339 time like 2026-12-31T18:00:00+08:00")
        }
        guard let reason = object["reason"] as? String, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw Problem(message: "`reason` must not be empty: say why the account is cleared")
        }
        return .set(Snooze(account: account, ruleId: rule == "*" ? nil : rule, untilMillis: until, reason: reason))
    }
}
