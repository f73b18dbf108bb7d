import Foundation
import MuleCore

/// Reads an NDJSON file in fixed-size chunks and hands each line's bytes to a body, so memory
/// does not grow with the file. Lines longer than `maxLineBytes` are reported, not buffered.
public struct LineReader {
    public let path: String
    public var chunkBytes = 1 << 20
    public var maxLineBytes = 1 << 20

    public init(path: String) { self.path = path }

    public struct OpenError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Calls `body(lineNumber, bytes)` for every non-empty line; `bytes` is nil for an overlong line.
    public func forEachLine(_ body: (Int, UnsafeRawBufferPointer?) throws -> Void) throws {
        guard let f = fopen(path, "rb") else { throw OpenError(description: "cannot open `\(path)`") }
        defer { fclose(f) }
        var buf = [UInt8](repeating: 0, count: chunkBytes)
        var carry: [UInt8] = []
        var skippingLong = false
        var lineNo = 0
        while true {
            let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, chunkBytes, f) }
            if n == 0 { break }
            try buf.withUnsafeBytes { raw in
                var start = 0
                for i in 0..<n where raw[i] == 10 {
                    lineNo += 1
                    if skippingLong {
                        skippingLong = false
                        try body(lineNo, nil)
                    } else if carry.isEmpty {
                        if i > start { try body(lineNo, UnsafeRawBufferPointer(rebasing: raw[start..<i])) }
                    } else {
                        carry.append(contentsOf: raw[start..<i])
                        try carry.withUnsafeBytes { try body(lineNo, $0) }
                        carry.removeAll(keepingCapacity: true)
                    }
                    start = i + 1
                }
                if start < n && !skippingLong {
                    carry.append(contentsOf: raw[start..<n])
                    if carry.count > maxLineBytes {
                        carry.removeAll()
                        skippingLong = true
                    }
                }
            }
        }
        if skippingLong {
            try body(lineNo + 1, nil)
        } else if !carry.isEmpty {
            try carry.withUnsafeBytes { try body(lineNo + 1, $0) }
        }
    }
}
