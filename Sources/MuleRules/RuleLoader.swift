import Foundation
import MuleCore
import Yams

/// A rule together with the file it was read from (for logs, alerts and reload messages).
public struct LoadedRule: Sendable {
    public var rule: Rule
    public var file: String

    public init(rule: Rule, file: String) {
        self.rule = rule
        self.file = file
    }
}

/// Turns rule files (YAML, one rule per file) into the core's `Rule` model, rejecting broken
/// or hostile files with every problem located by file, line, column and field.
public enum RuleLoader {
    /// Largest rule file accepted; real ones are a few kilobytes.
    public static let maxFileBytes = 1 << 20

    /// Loads `path`: a rule file, or a folder whose `*.yaml` and `*.yml` files (not
    /// subfolders, not hidden files) are loaded in name order. Collects every problem across
    /// all files; also rejects a folder without rule files and two files defining the same
    /// `id@version`.
    public static func load(path: String) throws(RuleLoadFailure) -> [LoadedRule] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RuleLoadFailure(errors: [wholeFile(path, "no such file or folder")])
        }
        let files: [String]
        if isDirectory.boolValue {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                throw RuleLoadFailure(errors: [wholeFile(path, "cannot list the folder: \(error.localizedDescription)")])
            }
            files = names
                .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }
                .sorted()
                .map { (path as NSString).appendingPathComponent($0) }
                .filter { isRegularFile($0) }
            if files.isEmpty {
                throw RuleLoadFailure(errors: [wholeFile(path, "the folder has no rule files (*.yaml or *.yml)")])
            }
        } else {
            files = [path]
        }

        var errors: [RuleFileError] = []
        var loaded: [LoadedRule] = []
        var firstFileByKey: [String: String] = [:]
        for file in files {
            do {
                let (rule, idMark) = try readFile(file)
                if let first = firstFileByKey[rule.key] {
                    errors.append(RuleFileError(
                        file: file, line: idMark?.line ?? 0, column: idMark?.column ?? 0, field: "id",
                        message: "rule `\(rule.key)` is defined twice: in \(first) and in \(file); give one of them a new version"
                    ))
                    continue
                }
                firstFileByKey[rule.key] = file
                loaded.append(LoadedRule(rule: rule, file: file))
            } catch {
                errors += error.errors
            }
        }
        guard errors.isEmpty else { throw RuleLoadFailure(errors: errors) }
        return loaded
    }

    /// Parses one rule file's text; `file` is only used to name the file in errors.
    public static func parse(yaml: String, file: String) throws(RuleLoadFailure) -> Rule {
        try parseWithIDMark(yaml: yaml, file: file).rule
    }

    // MARK: Internals

    static func parseWithIDMark(yaml: String, file: String) throws(RuleLoadFailure) -> (rule: Rule, idMark: Mark?) {
        guard let root = try composeYAML(yaml, file: file) else {
            throw RuleLoadFailure(errors: [RuleFileError(file: file, line: 1, column: 1, field: "", message: "the file is empty; a rule file needs at least id, version, severity, window and conditions")])
        }
        var reader = RuleFileReader(file: file)
        guard let result = reader.read(root) else {
            throw RuleLoadFailure(errors: reader.errors)
        }
        return result
    }

    /// The node tree of one YAML document, after the size limit and the safety scan (no anchors,
    /// aliases, tags, duplicate keys or deep nesting); nil for an empty document. Shared with
    /// the engine's configuration file, so both report problems the same way.
    package static func composeYAML(_ yaml: String, file: String) throws(RuleLoadFailure) -> Node? {
        let size = yaml.utf8.count
        guard size <= maxFileBytes else {
            throw RuleLoadFailure(errors: [tooLarge(file, size)])
        }
        if let problem = YAMLSafetyScan.firstProblem(in: yaml) {
            throw RuleLoadFailure(errors: [RuleFileError(file: file, line: problem.line, column: problem.column, field: problem.field, message: problem.message)])
        }
        do {
            return try Parser(yaml: yaml, resolver: .basic, constructor: .default, encoding: .utf8).singleRoot()
        } catch {
            // The safety scan has already rejected what libyaml would; this is a backstop.
            throw RuleLoadFailure(errors: [RuleFileError(file: file, line: 0, column: 0, field: "", message: "invalid YAML: \(error)")])
        }
    }

    static func readFile(_ file: String) throws(RuleLoadFailure) -> (rule: Rule, idMark: Mark?) {
        try parseWithIDMark(yaml: readText(file), file: file)
    }

    /// A YAML file's text: at most `maxFileBytes` (a device or pipe is not read to its end) and
    /// valid UTF-8, or an error locating the first bad byte.
    package static func readText(_ file: String) throws(RuleLoadFailure) -> String {
        guard let handle = FileHandle(forReadingAtPath: file) else {
            throw RuleLoadFailure(errors: [wholeFile(file, "cannot open the file for reading")])
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maxFileBytes + 1) ?? Data()
        } catch {
            throw RuleLoadFailure(errors: [wholeFile(file, "cannot read the file: \(error.localizedDescription)")])
        }
        guard data.count <= maxFileBytes else {
            throw RuleLoadFailure(errors: [tooLarge(file, nil)])
        }
        let bytes = [UInt8](data)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let offset = firstInvalidUTF8Offset(bytes) ?? 0
            let (line, column) = bytes.withUnsafeBufferPointer { TextPosition.lineAndColumn(ofByte: offset, in: $0) }
            let byte = offset < bytes.count ? String(bytes[offset], radix: 16, uppercase: true) : "?"
            throw RuleLoadFailure(errors: [RuleFileError(
                file: file, line: line, column: column, field: "",
                message: "the file is not valid UTF-8 text (byte 0x\(byte.count == 1 ? "0" + byte : byte)); save it as UTF-8"
            )])
        }
        return text
    }

    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }

    private static func isRegularFile(_ path: String) -> Bool {
        // Follows symbolic links, so a link to a rule file counts as one.
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: (path as NSString).resolvingSymlinksInPath) else { return false }
        return attributes[.type] as? FileAttributeType == .typeRegular
    }

    private static func wholeFile(_ path: String, _ message: String) -> RuleFileError {
        RuleFileError(file: path, line: 0, column: 0, field: "", message: message)
    }

    private static func tooLarge(_ file: String, _ size: Int?) -> RuleFileError {
        let shown = size.map { " (\($0) bytes)" } ?? ""
        return wholeFile(file, "the file is larger than 1 MiB\(shown); rule files hold one rule and are a few kilobytes")
    }
}
