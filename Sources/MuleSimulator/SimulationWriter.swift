import Foundation

/// Writes a simulated stream to files: events as NDJSON, labels as CSV
/// (`account,is_mule,role`, CONTRACTS.md §3).
public enum SimulationWriter {
    /// Why a simulation could not be written.
    public struct WriteError: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "cannot write \(path)" }
    }

    /// Generates the stream for `config` and writes both files. Returns the number of event
    /// lines written (duplicates included) and of labelled accounts.
    @discardableResult
    public static func write(config: SimulationConfig, eventsPath: String, labelsPath: String) throws -> (events: Int, accounts: Int) {
        var simulator = PaymentSimulator(config: config)
        var count = 0
        try withFile(eventsPath) { sink in
            while let event = simulator.next() {
                try sink.append(event.line)
                try sink.append(newline)
                count += 1
            }
        }
        try withFile(labelsPath) { sink in
            try sink.append(Array("account,is_mule,role\n".utf8))
            for label in simulator.labels {
                try sink.append(Array("\(label.account),\(label.isMule ? 1 : 0),\(label.role)\n".utf8))
            }
        }
        return (count, simulator.labels.count)
    }

    private static let newline: [UInt8] = [10]

    /// Buffers writes into 1 MiB chunks.
    private final class BufferedFile {
        let handle: FileHandle
        var buffer: [UInt8] = []

        init(handle: FileHandle) {
            self.handle = handle
            buffer.reserveCapacity(1 << 20)
        }

        func append(_ bytes: [UInt8]) throws {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { try flush() }
        }

        func flush() throws {
            if buffer.isEmpty { return }
            try handle.write(contentsOf: Data(buffer))
            buffer.removeAll(keepingCapacity: true)
        }
    }

    private static func withFile(_ path: String, _ body: (BufferedFile) throws -> Void) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path)
        else { throw WriteError(path: path) }
        defer { try? handle.close() }
        let file = BufferedFile(handle: handle)
        try body(file)
        try file.flush()
    }
}
