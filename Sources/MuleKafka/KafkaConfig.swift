import Crdkafka

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// librdkafka properties passed through verbatim, like kcat's `-X key=value` and `--kafka-config FILE`.
///
/// Entries are kept in order and applied in order, so a later entry for a key wins. Nothing is
/// validated here beyond syntax: librdkafka validates when a client is created, and those errors
/// name the property without echoing secret values.
public struct KafkaConfig: Sendable {
    /// Ordered `key=value` pairs; a later entry for the same key wins.
    public var properties: [(key: String, value: String)]
    /// Receives every librdkafka log line (from librdkafka's own threads). Secret values from this
    /// configuration are replaced by `[redacted]` before the handler sees them.
    public var logHandler: @Sendable (KafkaLogRecord) -> Void = KafkaLogRecord.standardError

    public init(_ properties: [(String, String)] = []) {
        self.properties = properties.map { (key: $0.0, value: $0.1) }
    }

    /// Sets `key`, replacing any earlier entries for it.
    public mutating func set(_ key: String, _ value: String) {
        properties.removeAll { $0.key == key }
        properties.append((key: key, value: value))
    }

    /// The effective (last) value for `key`, if set.
    public subscript(key: String) -> String? {
        properties.last { $0.key == key }?.value
    }

    /// Parses one `key=value` assignment as given to `-X`. The value may be empty and may contain `=`.
    public static func parseAssignment(_ text: String) throws -> (String, String) {
        guard let eq = text.firstIndex(of: "=") else {
            let shown = isSecret(text) ? "[redacted]" : "\"\(text)\""
            throw KafkaError.invalidArgument("expected key=value for a librdkafka property, got \(shown)")
        }
        let key = trim(text[..<eq])
        guard !key.isEmpty else {
            throw KafkaError.invalidArgument("expected key=value for a librdkafka property: the key before '=' is empty")
        }
        return (key, String(text[text.index(after: eq)...]))
    }

    /// Reads a Java-properties style file: `key=value` or `key: value` (first `=` or `:` separates),
    /// `#` and `!` comment lines, blank lines, keys and values trimmed, a trailing `\` continues a
    /// line. Backslash escapes are otherwise kept verbatim. Errors name the file and line.
    public static func loadProperties(path: String) throws -> [(String, String)] {
        let bytes = try readFile(path)
        return try parseProperties(String(decoding: bytes, as: UTF8.self), origin: path)
    }

    /// Parses properties text; `origin` names the source in errors.
    public static func parseProperties(_ text: String, origin: String) throws -> [(String, String)] {
        var result: [(String, String)] = []
        var pending = ""          // accumulated logical line (continuations)
        var pendingLine = 0       // where the logical line started
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = trim(rawLine)
            if pending.isEmpty {
                pendingLine = lineNumber
                if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("!") { continue }
            }
            let continues = line.reversed().prefix { $0 == "\\" }.count % 2 == 1
            if continues { line.removeLast() }
            pending += line
            if continues { continue }
            let logical = pending
            pending = ""
            guard let sep = logical.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw KafkaError.invalidArgument("\(origin):\(pendingLine): expected 'key=value' or 'key: value'")
            }
            let key = trim(logical[..<sep])
            guard !key.isEmpty else {
                throw KafkaError.invalidArgument("\(origin):\(pendingLine): empty key before '\(logical[sep])'")
            }
            result.append((key, trim(logical[logical.index(after: sep)...])))
        }
        if !pending.isEmpty {
            throw KafkaError.invalidArgument("\(origin):\(pendingLine): line continuation '\\' at end of file")
        }
        return result
    }

    /// Whether a property holds a secret that must never be printed or logged.
    public static func isSecret(_ key: String) -> Bool {
        let k = key.lowercased()
        return secretKeys.contains(k) || k.contains("password") || k.contains("secret")
            || k.contains("credential") || k.contains("private.key")
    }

    private static let secretKeys: Set<String> = [
        "sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.truststore.password",
        "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "ssl.key.pem", "ssl_key",
        "sasl.jaas.config",
    ]

    /// `key=value` lines in order, with secret values shown as `[redacted]`.
    public func redactedDescription() -> [String] {
        properties.map { "\($0.key)=\(Self.isSecret($0.key) ? "[redacted]" : $0.value)" }
    }

    /// Scrubs this configuration's secret values out of text from librdkafka.
    var redactor: Redactor {
        Redactor(secrets: properties.filter { Self.isSecret($0.key) && !$0.value.isEmpty }.map(\.value))
    }

    // MARK: - Building an rd_kafka_conf_t

    /// A new `rd_kafka_conf_t` holding `defaults` (only for keys the user did not set) then the
    /// user's properties. The caller owns the result until `rd_kafka_new` succeeds.
    func makeConf(defaults: [(String, String)] = []) throws -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError.invalidArgument("rd_kafka_conf_new failed")
        }
        do {
            for (key, value) in defaults where self[key] == nil {
                try Self.set(conf, key, value, redactor: redactor)
            }
            for (key, value) in properties {
                try Self.set(conf, key, value, redactor: redactor)
            }
        } catch {
            rd_kafka_conf_destroy(conf)
            throw error
        }
        return conf
    }

    static func set(_ conf: OpaquePointer, _ key: String, _ value: String, redactor: Redactor) throws {
        var errstr = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
        guard result != RD_KAFKA_CONF_OK else { return }
        let detail = errstr.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        throw KafkaError.invalidArgument(
            sanitizedConfError(detail, key: key, value: value, unknown: result == RD_KAFKA_CONF_UNKNOWN, redactor: redactor))
    }

    /// librdkafka's message for a rejected property, which may quote the value: secret values are
    /// removed, and the message always names the property.
    static func sanitizedConfError(_ detail: String, key: String, value: String, unknown: Bool, redactor: Redactor) -> String {
        var detail = redactor.scrub(detail)
        if isSecret(key) && !value.isEmpty { detail = detail.replacing(value, with: "[redacted]") }
        let what = unknown ? "unknown librdkafka property" : "invalid value for librdkafka property"
        return "\(what) \"\(key)\": \(detail)"
    }
}

/// Replaces known secret values in text that may reach logs or error messages.
struct Redactor: Sendable {
    var secrets: [String]

    func scrub(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.replacing(secret, with: "[redacted]")
        }
        return text
    }
}

/// Severity of a librdkafka log line (syslog levels, as librdkafka uses them).
public enum KafkaLogLevel: Int32, Sendable, Comparable, CustomStringConvertible {
    case emergency = 0, alert, critical, error, warning, notice, info, debug

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .emergency: "EMERG"
        case .alert: "ALERT"
        case .critical: "CRIT"
        case .error: "ERROR"
        case .warning: "WARN"
        case .notice: "NOTICE"
        case .info: "INFO"
        case .debug: "DEBUG"
        }
    }
}

/// One log line from librdkafka, already scrubbed of secret configuration values.
public struct KafkaLogRecord: Sendable {
    public var level: KafkaLogLevel
    /// librdkafka's facility, for example `FAIL` or `REQTMOUT`.
    public var facility: String
    public var message: String
    /// The client instance name (`rd_kafka_name`), for example `rdkafka#producer-1`.
    public var client: String

    public init(level: KafkaLogLevel, facility: String, message: String, client: String) {
        self.level = level
        self.facility = facility
        self.message = message
        self.client = client
    }

    /// The default handler: one line on standard error, `rdkafka WARN [client] FACILITY: message`.
    public static let standardError: @Sendable (KafkaLogRecord) -> Void = { record in
        var line = "rdkafka \(record.level) [\(record.client)] \(record.facility): \(record.message)\n"
        line.withUTF8 { writeAll(2, UnsafeRawBufferPointer($0)) }
    }

    /// A handler that drops everything.
    public static let discard: @Sendable (KafkaLogRecord) -> Void = { _ in }
}

// MARK: - Small helpers (no Foundation in this module)

@inline(__always)
private func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\u{0C}" }

/// Writes all of `bytes` to `fd` (a short write continues; an error gives up: it is a log line).
package func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    var rest = bytes
    while !rest.isEmpty {
        let n = write(fd, rest.baseAddress, rest.count)
        if n <= 0 { break }
        rest = UnsafeRawBufferPointer(rebasing: rest[n...])
    }
}

/// `s` without leading and trailing blanks (spaces, tabs, CR, form feed).
package func trim<S: StringProtocol>(_ s: S) -> String {
    guard let start = s.firstIndex(where: { !isSpace($0) }) else { return "" }
    let end = s.lastIndex(where: { !isSpace($0) })!
    return String(s[start...end])
}

func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
        throw KafkaError.invalidArgument("\(path): cannot open: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16_384)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw KafkaError.invalidArgument("\(path): cannot read: \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[..<n])
    }
    return bytes
}
