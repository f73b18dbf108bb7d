import Foundation
import Testing
@testable import MuleRules

@Suite("Rules/rule.schema.json")
struct SchemaTests {
    static let schemaPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Rules/rule.schema.json").path

    func schema() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.schemaPath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("is well-formed JSON Schema 2020-12 with the loader's keys")
    func wellFormed() throws {
        let schema = try schema()
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        let properties = try #require(schema["properties"] as? [String: Any])
        #expect(Set(properties.keys) == Set(RuleFileReader.topLevelKeys))
        #expect(schema["required"] as? [String] == ["id", "version", "severity", "window", "conditions"])
        let definitions = try #require(schema["$defs"] as? [String: Any])
        let condition = try #require(definitions["condition"] as? [String: Any])
        let conditionKeys = try #require(condition["properties"] as? [String: Any]).keys
        #expect(Set(conditionKeys) == Set(RuleFileReader.conditionKeys))
    }

    @Test("every object forbids unknown keys and every property has a description")
    func strictAndDescribed() throws {
        var problems: [String] = []
        func walk(_ value: Any, _ path: String) {
            if let object = value as? [String: Any] {
                if let properties = object["properties"] as? [String: Any] {
                    if object["additionalProperties"] as? Bool != false {
                        problems.append("\(path): additionalProperties is not false")
                    }
                    for (name, property) in properties {
                        if (property as? [String: Any])?["description"] == nil {
                            problems.append("\(path).\(name): no description")
                        }
                    }
                }
                for (key, child) in object { walk(child, path + "/" + key) }
            } else if let array = value as? [Any] {
                for (i, child) in array.enumerated() { walk(child, path + "[\(i)]") }
            }
        }
        walk(try schema(), "#")
        #expect(problems == [])
    }
}
