import Foundation
@testable import MuleRules

/// Rule files used by several tests, written the way risk teams write them.
enum Fixtures {
    static let fullRule = """
        # Running points: many unrelated personal payers, nearly everything forwarded within minutes.
        id: rapid-pass-through
        version: 3
        description: "Receives from many payers and forwards 97-99.5% within minutes"
        severity: high
        mode: enforce
        window: 2h
        cooldown: 24h
        trigger: debit
        credits:
          channel: [qr]
          account_kind: [personal]
          counterparty_kind: [personal, unknown]
        debits:
          counterparty_kind: [personal, unknown]
        conditions:
          all:
            - distinct_payers: { min: 5 }
            - in_count: { min: 5, max: 200 }
            - in_amount: { min: 1000 }
            - out_amount: { min: "500.50" }
            - out_count: { min: 1 }
            - distinct_payees: { max: 3 }
            - pass_through: { min: 0.9 }
            - retained: { min: 0.005, max: 0.03 }
            - dwell: { stat: median, max: 30m }
            - dwell: { stat: p90, min: 500ms, max: 1h }
            - burst: { within: 30m, min: 5 }
            - account_age: { max: 30d }
            - any:
                - in_amount: { min: 0.0125 }
                - not: { in_count: { max: 3 } }
        score:
          base: 0.6
          signals:
            - weight: 0.2
              when: { distinct_payers: { min: 10 } }
            - weight: -0.1
              when:
                account_age: { min: 90d }
        outcomes:
          block: 0.85
          review: 0.6
        """

    /// The smallest valid rule; error tests change one line of it.
    static let minimalRule = """
        id: small
        version: v1
        severity: low
        window: 15m
        conditions:
          in_count: { min: 5 }
        """

    static func errors(_ yaml: String, file: String = "Rules/x.yaml") -> [String] {
        do {
            _ = try RuleLoader.parse(yaml: yaml, file: file)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    /// A fresh empty folder under the temporary directory.
    static func makeFolder() throws -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("mulerules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func write(_ text: String, to folder: String, _ name: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent(name)))
    }
}
