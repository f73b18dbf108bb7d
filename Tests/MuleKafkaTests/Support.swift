import Foundation
import Testing
@testable import MuleKafka

/// A consumed message copied out of the lent `KafkaMessage`.
struct Record: Equatable {
    var topic: String
    var topicIndex: Int
    var partition: Int32
    var offset: Int64
    var key: String?
    var value: String
    var headers: [String: String]
    var timestampMillis: Int64?

    init(_ m: borrowing KafkaMessage) {
        topic = m.topic
        topicIndex = m.topicIndex
        partition = m.partition
        offset = m.offset
        key = m.key.map { String(decoding: $0, as: UTF8.self) }
        value = String(decoding: m.value, as: UTF8.self)
        var headers: [String: String] = [:]
        m.forEachHeader { name, value in headers[name] = value.map { String(decoding: $0, as: UTF8.self) } ?? "" }
        self.headers = headers
        timestampMillis = m.timestampMillis
    }
}

/// Collects log lines instead of printing them; warnings and worse can be inspected by tests.
final class LogCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [KafkaLogRecord] = []

    var handler: @Sendable (KafkaLogRecord) -> Void {
        { [self] record in lock.withLock { records.append(record) } }
    }

    var lines: [String] { lock.withLock { records.map { "\($0.level) \($0.facility): \($0.message)" } } }
}

/// Non-Sendable event sink for consumer callbacks (they run on the polling thread).
final class Events {
    var rebalances: [RebalanceEvent] = []
    var errors: [KafkaError] = []

    var assigned: [TopicPartition] {
        rebalances.flatMap { event -> [TopicPartition] in
            if case .assigned(let partitions) = event { return partitions }
            return []
        }
    }
}

func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}

func clientConfig(_ bootstrap: String, _ extra: [(String, String)] = [], logs: LogCollector = LogCollector()) -> KafkaConfig {
    var config = KafkaConfig([("bootstrap.servers", bootstrap)] + extra)
    config.logHandler = logs.handler
    return config
}

func consumerConfig(_ bootstrap: String, group: String, _ extra: [(String, String)] = []) -> KafkaConfig {
    clientConfig(bootstrap, [
        ("group.id", group),
        ("auto.offset.reset", "earliest"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
    ] + extra)
}

/// Polls until `count` records arrived or `seconds` passed.
func drain(_ consumer: KafkaConsumer, count: Int, seconds: Double = 20) throws -> [Record] {
    var records: [Record] = []
    let deadline = Date().addingTimeInterval(seconds)
    while records.count < count && Date() < deadline {
        _ = try consumer.poll(max: count - records.count, timeoutMillis: 100) { records.append(Record($0)) }
    }
    return records
}

/// Runs a command with optional stdin, failing the test if it does not finish in time.
func run(_ path: String, _ arguments: [String], input: String? = nil, seconds: Double = 20) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    let inPipe = Pipe()
    process.standardInput = inPipe
    try process.run()
    if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
    try inPipe.fileHandleForWriting.close()
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    if process.isRunning {
        process.terminate()
        Issue.record("\(path) \(arguments) did not finish in \(seconds) s")
    }
    process.waitUntilExit()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
