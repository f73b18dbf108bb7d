import Foundation
import MuleCore
import Testing
@testable import MuleRules

@Suite("Loading a folder of rule files")
struct FolderLoadingTests {
    func rule(id: String, version: String, mode: String = "enforce") -> String {
        """
        id: \(id)
        version: \(version)
        severity: medium
        mode: \(mode)
        window: 1h
        conditions:
          in_count: { min: 5 }
        """
    }

    func path(_ folder: String, _ name: String) -> String {
        (folder as NSString).appendingPathComponent(name)
    }

    @Test("*.yaml and *.yml in name order; other files, hidden files and subfolders ignored")
    func sortedAndFiltered() throws {
        let folder = try Fixtures.makeFolder()
        try Fixtures.write(rule(id: "c", version: "1"), to: folder, "c.yaml")
        try Fixtures.write(rule(id: "a", version: "1"), to: folder, "a.yml")
        try Fixtures.write(rule(id: "b", version: "1"), to: folder, "b.yaml")
        try Fixtures.write("not yaml at all: [", to: folder, "README.md")
        try Fixtures.write("{", to: folder, "notes.yaml.bak")
        try Fixtures.write("{", to: folder, ".c.yaml.swp.yaml")
        try FileManager.default.createDirectory(atPath: path(folder, "old.yaml"), withIntermediateDirectories: false)
        try Fixtures.write("{", to: path(folder, "old.yaml"), "x.yaml")
        let loaded = try RuleLoader.load(path: folder)
        #expect(loaded.map(\.rule.id) == ["a", "b", "c"])
        #expect(loaded.map(\.file) == [path(folder, "a.yml"), path(folder, "b.yaml"), path(folder, "c.yaml")])
    }

    @Test("the same id with different versions is allowed (v3 enforce + v4 shadow)")
    func mixedVersions() throws {
        let folder = try Fixtures.makeFolder()
        try Fixtures.write(rule(id: "rapid", version: "3"), to: folder, "rapid-v3.yaml")
        try Fixtures.write(rule(id: "rapid", version: "4", mode: "shadow"), to: folder, "rapid-v4.yaml")
        let loaded = try RuleLoader.load(path: folder)
        #expect(loaded.map(\.rule.key) == ["rapid@3", "rapid@4"])
        #expect(loaded.map(\.rule.mode) == [.enforce, .shadow])
    }

    @Test("two files with the same id@version: an error naming both files")
    func duplicateKey() throws {
        let folder = try Fixtures.makeFolder()
        try Fixtures.write(rule(id: "rapid", version: "3"), to: folder, "a.yaml")
        try Fixtures.write("# copy\n" + rule(id: "rapid", version: "3"), to: folder, "b.yaml")
        do {
            _ = try RuleLoader.load(path: folder)
            Issue.record("expected a failure")
        } catch {
            let a = path(folder, "a.yaml"), b = path(folder, "b.yaml")
            #expect(error.errors == [RuleFileError(
                file: b, line: 2, column: 5, field: "id",
                message: "rule `rapid@3` is defined twice: in \(a) and in \(b); give one of them a new version")])
        }
    }

    @Test("problems in several files are all reported, in file order")
    func collectsAcrossFiles() throws {
        let folder = try Fixtures.makeFolder()
        try Fixtures.write(rule(id: "ok", version: "1"), to: folder, "a.yaml")
        try Fixtures.write(rule(id: "b", version: "1").replacingOccurrences(of: "window: 1h", with: "window: 0s"), to: folder, "b.yaml")
        try Fixtures.write(rule(id: "c", version: "1").replacingOccurrences(of: "severity: medium", with: "severity: urgent"), to: folder, "c.yml")
        do {
            _ = try RuleLoader.load(path: folder)
            Issue.record("expected a failure")
        } catch {
            #expect(error.description == """
                \(path(folder, "b.yaml")):5:9: window: must be longer than 0, got `0s`
                \(path(folder, "c.yml")):3:11: severity: must be one of low, medium, high or critical, got `urgent`
                """)
        }
    }

    @Test("an empty folder, a folder of other files, and a missing path are errors")
    func emptyOrMissing() throws {
        let empty = try Fixtures.makeFolder()
        do {
            _ = try RuleLoader.load(path: empty)
            Issue.record("expected a failure")
        } catch {
            #expect(error.errors == [RuleFileError(file: empty, line: 0, column: 0, field: "", message: "the folder has no rule files (*.yaml or *.yml)")])
        }
        let other = try Fixtures.makeFolder()
        try Fixtures.write("x", to: other, "rules.json")
        do {
            _ = try RuleLoader.load(path: other)
            Issue.record("expected a failure")
        } catch {
            #expect(error.description == "\(other): the folder has no rule files (*.yaml or *.yml)")
        }
        let missing = path(empty, "nope")
        do {
            _ = try RuleLoader.load(path: missing)
            Issue.record("expected a failure")
        } catch {
            #expect(error.description == "\(missing): no such file or folder")
        }
    }

    @Test("a single file path loads that file")
    func singleFile() throws {
        let folder = try Fixtures.makeFolder()
        try Fixtures.write(Fixtures.fullRule, to: folder, "rapid.yaml")
        let loaded = try RuleLoader.load(path: path(folder, "rapid.yaml"))
        #expect(loaded.count == 1)
        #expect(loaded.first?.rule == (try RuleLoader.parse(yaml: Fixtures.fullRule, file: "x")))
        #expect(loaded.first?.file == path(folder, "rapid.yaml"))
    }
}
