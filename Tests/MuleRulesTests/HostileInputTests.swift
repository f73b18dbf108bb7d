import Foundation
import Testing
@testable import MuleRules

/// Hostile or malformed input is rejected with an error — never a crash, never a hang.
@Suite("Hostile YAML is rejected fast")
struct HostileInputTests {
    @Test("structural attacks and YAML features rule files do not use", arguments: [
        ("anchor", "id: &name r\n", ["Rules/x.yaml:1:5: id: YAML anchors (`&name`) are not allowed in rule files; write the value out in full"]),
        ("alias of an anchored mapping", "a: &b { min: 1 }\nc: *b\n", ["Rules/x.yaml:1:4: a: YAML anchors (`&name`) are not allowed in rule files; write the value out in full"]),
        ("alias as a key", "? *x\n: 1\n", ["Rules/x.yaml:1:3: ?: YAML aliases (`*name`) are not allowed in rule files; write the value out in full"]),
        ("merge key", "base: &b { window: 1h }\nrule:\n  <<: *b\n", ["Rules/x.yaml:1:7: base: YAML anchors (`&name`) are not allowed in rule files; write the value out in full"]),
        ("explicit tag", "id: !!str r\n", ["Rules/x.yaml:1:5: id: YAML tags (`!name`, `!!type`) are not allowed in rule files; write the plain value"]),
        ("two documents", "id: a\n---\nid: b\n", ["Rules/x.yaml:2:1: a rule file holds exactly one YAML document (one rule); found a second document here"]),
        ("top level is a list", "- id: r\n", ["Rules/x.yaml:1:1: the top level of a rule file must be a mapping of keys (id, version, severity, window, conditions, …), got a list"]),
        ("top level is text", "just some text\n", ["Rules/x.yaml:1:1: the top level of a rule file must be a mapping of keys (id, version, severity, window, conditions, …), got `just some text`"]),
        ("empty file", "", ["Rules/x.yaml:1:1: the file is empty; a rule file needs at least id, version, severity, window and conditions"]),
        ("only comments", "# TODO\n", ["Rules/x.yaml:1:1: the file is empty; a rule file needs at least id, version, severity, window and conditions"]),
        ("duplicate key", "id: a\nversion: 1\nid: b\n", ["Rules/x.yaml:3:1: id: duplicate key `id` (already set on line 1); each key may appear once"]),
        ("duplicate key deep inside", "conditions:\n  all:\n    - in_count: { min: 1, min: 2 }\n", ["Rules/x.yaml:3:27: conditions.all[0].in_count.min: duplicate key `min` (already set on line 3); each key may appear once"]),
        ("syntax error", "id: r\n  version: 1\n", ["Rules/x.yaml:2:10: invalid YAML: mapping values are not allowed in this context"]),
        ("unclosed flow", "conditions: { in_count: { min: 5 }\n", ["Rules/x.yaml:2:1: invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping that starts on line 1)"]),
        ("tab indentation", "id: r\nscore:\n\tbase: 1\n", ["Rules/x.yaml:3:1: invalid YAML: found character that cannot start any token (while scanning for the next token that starts on line 3)"]),
        ("control character", "id: r\u{7}\n", ["Rules/x.yaml:1:6: invalid YAML: control characters are not allowed"]),
    ] as [(String, String, [String])])
    func structural(name: String, yaml: String, expected: [String]) {
        #expect(Fixtures.errors(yaml) == expected, "\(name)")
    }

    @Test("absurd numbers", arguments: [
        ("pass_through: { min: .nan }", "Rules/x.yaml:6:24: conditions.pass_through.min: must be a number between 0 and 1, got `.nan`"),
        ("pass_through: { min: .inf }", "Rules/x.yaml:6:24: conditions.pass_through.min: must be a number between 0 and 1, got `.inf`"),
        ("pass_through: { max: 1e400 }", "Rules/x.yaml:6:24: conditions.pass_through.max: must be between 0 and 1, got 1e400"),
        ("retained: { min: -1e400 }", "Rules/x.yaml:6:20: conditions.retained.min: must be between -1 and 1, got -1e400"),
        ("in_count: { min: 99999999999999999999999999 }", "Rules/x.yaml:6:20: conditions.in_count.min: is too large, got 99999999999999999999999999 (at most 1000000000)"),
        ("in_count: { min: 0x10 }", "Rules/x.yaml:6:20: conditions.in_count.min: must be a whole number like 5, got `0x10`"),
        ("in_count: { min: 5.0 }", "Rules/x.yaml:6:20: conditions.in_count.min: must be a whole number like 5, got `5.0`"),
        ("in_amount: { min: 99999999999999999999 }", "Rules/x.yaml:6:21: conditions.in_amount.min: is too large, got 99999999999999999999"),
        ("in_amount: { min: 1e3 }", "Rules/x.yaml:6:21: conditions.in_amount.min: must be an amount in currency units like 1000 or \"500.50\", got `1e3`"),
        ("in_amount: { min: -5 }", "Rules/x.yaml:6:21: conditions.in_amount.min: must not be negative, got -5"),
        ("account_age: { max: 106751991168d }", "Rules/x.yaml:6:23: conditions.account_age.max: is too large, got `106751991168d`"),
    ])
    func absurdNumbers(condition: String, expected: String) {
        let yaml = Fixtures.minimalRule.replacingOccurrences(of: "in_count: { min: 5 }", with: condition)
        #expect(Fixtures.errors(yaml) == [expected])
    }

    @Test("nesting deeper than 32 levels, including 100 000 levels, fails at level 33")
    func deepNesting() {
        let flow = "conditions: " + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "\n"
        #expect(Fixtures.errors(flow) == ["Rules/x.yaml:1:44: conditions[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nesting is deeper than 32 levels; rule files never need that much"])
        let deep = "a: " + String(repeating: "[", count: 100_000)
        #expect(Fixtures.errors(deep) == ["Rules/x.yaml:1:5: nesting is deeper than 32 levels; rule files never need that much"])
        // The top-level mapping, `conditions`, the nots and the bounds: 29 nots fit in 32 levels.
        func nested(nots: Int) -> String {
            Fixtures.minimalRule.replacingOccurrences(
                of: "in_count: { min: 5 }",
                with: String(repeating: "not: { ", count: nots) + "in_count: { min: 5 }" + String(repeating: " }", count: nots))
        }
        #expect(Fixtures.errors(nested(nots: 29)) == [])
        #expect(Fixtures.errors(nested(nots: 30)).first?.hasSuffix("nesting is deeper than 32 levels; rule files never need that much") == true)
    }

    @Test("billion laughs fails at the first anchor, quickly")
    func billionLaughs() {
        var yaml = "lol0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for i in 1...12 {
            yaml += "lol\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 9).joined(separator: ",") + "]\n"
        }
        let start = ContinuousClock.now
        let errors = Fixtures.errors(yaml)
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(errors == ["Rules/x.yaml:1:7: lol0: YAML anchors (`&name`) are not allowed in rule files; write the value out in full"])
    }

    @Test("a file over 1 MiB is rejected without parsing it")
    func tooLarge() throws {
        let big = String(repeating: "#", count: RuleLoader.maxFileBytes + 1)
        #expect(Fixtures.errors(big) == ["Rules/x.yaml: the file is larger than 1 MiB (1048577 bytes); rule files hold one rule and are a few kilobytes"])
        let folder = try Fixtures.makeFolder()
        try Fixtures.write(big, to: folder, "big.yaml")
        let path = (folder as NSString).appendingPathComponent("big.yaml")
        #expect(throws: RuleLoadFailure.self) { try RuleLoader.load(path: path) }
        do {
            _ = try RuleLoader.load(path: path)
        } catch {
            #expect(error.description == "\(path): the file is larger than 1 MiB; rule files hold one rule and are a few kilobytes")
        }
    }

    @Test("a file that is not UTF-8 is located at its first bad byte")
    func notUTF8() throws {
        let folder = try Fixtures.makeFolder()
        let path = (folder as NSString).appendingPathComponent("latin1.yaml")
        // "id: r\ndescription: caf\u{E9}" in Latin-1.
        try Data(Array("id: r\ndescription: caf".utf8) + [0xE9, 0x0A]).write(to: URL(fileURLWithPath: path))
        do {
            _ = try RuleLoader.load(path: path)
            Issue.record("expected a failure")
        } catch {
            #expect(error.errors == [RuleFileError(file: path, line: 2, column: 17, field: "", message: "the file is not valid UTF-8 text (byte 0xE9); save it as UTF-8")])
        }
    }

    @Test("non-ASCII text is fine and columns count characters")
    func unicodeColumns() {
        let yaml = "description: \"é→ok\"\nid: r\nversion: 1\nseverity: hïgh\nwindow: 1h\nconditions: { in_count: { min: 1 } }\n"
        #expect(Fixtures.errors(yaml) == ["Rules/x.yaml:4:11: severity: must be one of low, medium, high or critical, got `hïgh` (did you mean `high`?)"])
    }
}

@Suite("Huge but well-formed files")
struct HugeFileTests {
    @Test("a 1 MiB file of misspelt keys gets a short report, quickly")
    func manyUnknownKeys() {
        var yaml = ""
        var i = 0
        while yaml.utf8.count < RuleLoader.maxFileBytes - 40 {
            yaml += "windw\(i): 1h\n"
            i += 1
        }
        let start = ContinuousClock.now
        let errors = Fixtures.errors(yaml)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(errors.count == RuleFileReader.maxErrorsPerFile + 1)
        #expect(errors.first == "Rules/x.yaml:1:1: windw0: unknown key `windw0` (did you mean `window`?)")
        #expect(errors.last == "Rules/x.yaml: more than 50 problems; fix these first")
    }

    @Test("an empty list item is described as an empty value")
    func emptyItem() {
        let yaml = Fixtures.minimalRule.replacingOccurrences(of: "in_count: { min: 5 }", with: "all:\n    -\n")
        #expect(Fixtures.errors(yaml) == ["Rules/x.yaml:7:6: conditions.all[0]: must be a condition such as `in_count: { min: 5 }`, `all: [...]`, `any: [...]` or `not: {...}`, got an empty value"])
    }
}
