import Logging
import MuleCore
import MuleKafka
import Synchronization

/// A swift-log handler that writes one JSON object per line (`--log-format json`), for log
/// collectors: `{"ts":"2026-11-24T10:07:01.120Z","level":"info","label":"mulestream",
/// "message":"alert","metadata":{"alert_id":"…","account":"A-88412"}}`. Metadata values keep
/// their shape (strings, lists, nested objects). Each line is written with one `write(2)`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: LogSink

    /// `sink` receives each finished line (with its newline); standard error by default.
    public init(label: String, sink: LogSink = .standardError) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let own = event.metadata { all.merge(own) { _, new in new } }
        sink.write(Self.line(ts: wallClockMillis(), level: event.level, label: label, message: event.message.description, metadata: all))
    }

    /// One log line, newline included. Keys in a fixed order; metadata keys sorted.
    public static func line(ts: Int64, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{")
        w.key("ts", first: true); w.string(formatRFC3339(millis: ts))
        w.key("level"); w.string(level.rawValue)
        w.key("label"); w.string(label)
        w.key("message"); w.string(message)
        w.key("metadata"); value(.dictionary(metadata), into: &w)
        w.raw("}\n")
        return w.bytes
    }

    private static func value(_ v: Logger.MetadataValue, into w: inout JSONWriter) {
        switch v {
        case .string(let s): w.string(s)
        case .stringConvertible(let c): w.string(c.description)
        case .array(let items):
            w.raw("[")
            for (i, item) in items.enumerated() {
                if i > 0 { w.raw(",") }
                value(item, into: &w)
            }
            w.raw("]")
        case .dictionary(let d):
            w.raw("{")
            for (i, key) in d.keys.sorted().enumerated() {
                w.key(key, first: i == 0)
                value(d[key]!, into: &w)
            }
            w.raw("}")
        @unknown default:
            w.string("\(v)")
        }
    }
}

/// Where finished log lines go: a file descriptor, or (for tests) memory.
public final class LogSink: Sendable {
    private let fd: Int32
    private let captured = Mutex<[[UInt8]]>([])

    public static let standardError = LogSink(fd: 2)

    public init(fd: Int32) {
        self.fd = fd
    }

    /// Keeps lines in memory (`lines`) instead of writing them.
    public static func capturing() -> LogSink { LogSink(fd: -1) }

    /// The lines kept by a capturing sink.
    public var lines: [String] {
        captured.withLock { $0.map { String(decoding: $0, as: UTF8.self) } }
    }

    func write(_ line: [UInt8]) {
        if fd < 0 {
            captured.withLock { $0.append(line) }
            return
        }
        line.withUnsafeBytes { writeAll(fd, $0) }
    }
}
