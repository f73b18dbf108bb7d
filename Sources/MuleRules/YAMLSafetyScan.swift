import CYaml

/// A first pass over a rule file's YAML events, before Yams builds a node tree from it.
///
/// It exists so that hostile input fails fast and precisely: anchors and aliases (which rule
/// files never need, and which make "billion laughs" files expand exponentially), explicit
/// tags, more than one document, nesting deeper than `maxDepth`, duplicate keys and plain
/// syntax errors are all reported here from the event stream, where nothing has been expanded
/// yet. Only a file that passes is composed into `Yams.Node`s.
///
/// This is the one place MuleRules touches libyaml (vendored by Yams as `CYaml`) directly; the
/// parser is created, used and deleted inside `firstProblem(in:)`.
enum YAMLSafetyScan {
    /// Deepest nesting of mappings and lists a rule file may use (the top-level mapping is 1).
    static let maxDepth = 32

    /// Where and what the first problem is, or nil when the file is safe to compose.
    struct Problem: Equatable {
        var line: Int
        var column: Int
        var field: String
        var message: String
    }

    /// One open mapping or list while walking the events, to know each node's field path.
    private struct Frame {
        var path: String
        var isMapping: Bool
        var expectingKey = true
        var currentKey = ""
        var index = 0
        /// Keys seen so far in a mapping, with the line each was first set on.
        var keys: [String: Int] = [:]
    }

    static func firstProblem(in text: String) -> Problem? {
        // A trailing NUL keeps the buffer non-empty: libyaml asserts on a NULL input pointer.
        let bytes = Array(text.utf8) + [0]
        return bytes.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                return Problem(line: 0, column: 0, field: "", message: "could not start the YAML parser (out of memory)")
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count - 1)
            return scan(&parser, bytes: buffer)
        }
    }

    private static func scan(_ parser: inout yaml_parser_t, bytes: UnsafeBufferPointer<UInt8>) -> Problem? {
        var stack: [Frame] = []
        var documents = 0
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { return syntaxProblem(parser, bytes: bytes) }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            let column = Int(event.start_mark.column) + 1
            func problem(_ field: String, _ message: String) -> Problem {
                Problem(line: line, column: column, field: field, message: message)
            }

            switch event.type {
            case YAML_STREAM_END_EVENT:
                return nil
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    return problem("", "a rule file holds exactly one YAML document (one rule); found a second document here")
                }
            case YAML_ALIAS_EVENT:
                let field = startNode(&stack, key: nil).path
                return problem(field, "YAML aliases (`*name`) are not allowed in rule files; write the value out in full")
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)), as: UTF8.self)
                let (field, isKey) = startNode(&stack, key: value)
                if scalar.anchor != nil { return problem(field, anchorMessage) }
                if scalar.tag != nil { return problem(field, tagMessage) }
                if isKey, var top = stack.popLast() {
                    if let firstLine = top.keys[value] {
                        return problem(field, "duplicate key `\(value)` (already set on line \(firstLine)); each key may appear once")
                    }
                    top.keys[value] = line
                    stack.append(top)
                }
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
                let tag = isMapping ? event.data.mapping_start.tag : event.data.sequence_start.tag
                let field = startNode(&stack, key: nil).path
                if anchor != nil { return problem(field, anchorMessage) }
                if tag != nil { return problem(field, tagMessage) }
                if stack.count >= maxDepth {
                    return problem(field, deepMessage)
                }
                stack.append(Frame(path: field, isMapping: isMapping))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                _ = stack.popLast()
            default:
                break
            }
        }
    }

    private static let deepMessage = "nesting is deeper than \(maxDepth) levels; rule files never need that much"
    private static let anchorMessage = "YAML anchors (`&name`) are not allowed in rule files; write the value out in full"
    private static let tagMessage = "YAML tags (`!name`, `!!type`) are not allowed in rule files; write the plain value"

    /// Accounts for a node starting inside the innermost open collection and returns its field
    /// path and whether it is a mapping key (`key` is the scalar text, nil for other nodes).
    private static func startNode(_ stack: inout [Frame], key: String?) -> (path: String, isKey: Bool) {
        guard var top = stack.popLast() else { return ("", false) }
        defer { stack.append(top) }
        if top.isMapping {
            if top.expectingKey {
                top.expectingKey = false
                top.currentKey = key ?? "?"
                return (FieldPath.join(top.path, top.currentKey), true)
            }
            top.expectingKey = true
            return (FieldPath.join(top.path, top.currentKey), false)
        }
        let path = top.path + "[\(top.index)]"
        top.index += 1
        return (path, false)
    }

    private static func syntaxProblem(_ parser: yaml_parser_t, bytes: UnsafeBufferPointer<UInt8>) -> Problem {
        let problemText = parser.problem.map { String(cString: $0) } ?? "unreadable YAML"
        if problemText.hasPrefix("Maximum nesting level") {
            // libyaml's own limit (1000 levels) can trip before our event count sees level 33.
            return Problem(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1, field: "", message: deepMessage)
        }
        var message = "invalid YAML: " + problemText
        if let context = parser.context {
            message += " (" + String(cString: context) + " that starts on line \(Int(parser.context_mark.line) + 1))"
        }
        if parser.error == YAML_READER_ERROR {
            // Reader errors (such as control characters) carry a byte offset instead of a mark.
            let (line, column) = TextPosition.lineAndColumn(ofByte: Int(parser.problem_offset), in: bytes)
            return Problem(line: line, column: column, field: "", message: message)
        }
        return Problem(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1, field: "", message: message)
    }
}

/// Field paths as errors print them: `conditions.all[1].pass_through.min`.
enum FieldPath {
    static func join(_ parent: String, _ key: String) -> String {
        parent.isEmpty ? key : parent + "." + key
    }
}

/// Line and column (1-based, columns in Unicode characters) of a byte offset in UTF-8 text.
enum TextPosition {
    static func lineAndColumn(ofByte offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
        let end = min(max(offset, 0), bytes.count)
        var line = 1
        var lineStart = 0
        for i in 0..<end where bytes[i] == 10 {
            line += 1
            lineStart = i + 1
        }
        // Continuation bytes (10xxxxxx) do not start a character.
        var column = 1
        for i in lineStart..<end where bytes[i] & 0xC0 != 0x80 {
            column += 1
        }
        return (line, column)
    }
}
