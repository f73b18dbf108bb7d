#if canImport(Glibc)
import Glibc
#endif
import MuleCore

/// A folder of checkpoint files, newest kept, written crash-safely: each checkpoint goes to a
/// temporary file that is fsynced, renamed into place and the folder fsynced, so a crash at any
/// point leaves either the old set of files or the old set plus the complete new one.
///
/// Files are named `checkpoint-<sequence, 20 digits>.mck`; the highest sequence is the newest.
public struct CheckpointStore: Sendable {
    public let directory: String
    /// How many checkpoints are kept; older ones are deleted after each write.
    public let keep: Int

    static let prefix = "checkpoint-"
    static let suffix = ".mck"
    static let tempPrefix = ".tmp-checkpoint-"

    public init(directory: String, keep: Int = 3) {
        self.directory = directory
        self.keep = max(1, keep)
    }

    /// A failed file operation, with the path and the system's reason.
    public struct Failure: Error, CustomStringConvertible {
        public var operation: String
        public var path: String
        public var errno: Int32
        public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
    }

    /// One checkpoint file on disk.
    public struct Entry: Sendable, Equatable {
        public var sequence: UInt64
        public var path: String
    }

    /// Creates the folder if needed (one level) and removes temporary files a crash left.
    public func prepare() throws {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST { throw Failure(operation: "create", path: directory, errno: errno) }
        for name in try names() where name.hasPrefix(Self.tempPrefix) {
            _ = unlink(directory + "/" + name)
        }
    }

    /// Checkpoint files, newest first.
    public func entries() throws -> [Entry] {
        var out: [Entry] = []
        for name in try names() where name.hasPrefix(Self.prefix) && name.hasSuffix(Self.suffix) {
            let digits = name.dropFirst(Self.prefix.count).dropLast(Self.suffix.count)
            guard digits.count == 20, let seq = UInt64(digits) else { continue }
            out.append(Entry(sequence: seq, path: directory + "/" + name))
        }
        return out.sorted { $0.sequence > $1.sequence }
    }

    /// Writes `bytes` as checkpoint `sequence` (temp file, fsync, rename, folder fsync), then
    /// deletes all but the newest `keep`. Returns the path written.
    @discardableResult
    public func write(_ bytes: [UInt8], sequence: UInt64) throws -> String {
        let digits = String(sequence)
        let name = Self.prefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + Self.suffix
        let path = directory + "/" + name
        let temp = directory + "/" + Self.tempPrefix + name
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(operation: "create", path: temp, errno: errno) }
        var ok = false
        defer {
            if !ok { _ = unlink(temp) }
        }
        do {
            defer { close(fd) }
            try bytes.withUnsafeBytes { buf in
                var done = 0
                while done < buf.count {
                    let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw Failure(operation: "write", path: temp, errno: errno)
                    }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw Failure(operation: "fsync", path: temp, errno: errno) }
        }
        guard rename(temp, path) == 0 else { throw Failure(operation: "rename to \(path)", path: temp, errno: errno) }
        ok = true
        try syncDirectory()
        for old in try entries().dropFirst(keep) { _ = unlink(old.path) }
        return path
    }

    /// The file's bytes.
    public func read(_ entry: Entry) throws -> [UInt8] {
        let fd = open(entry.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open", path: entry.path, errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(operation: "read", path: entry.path, errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    func syncDirectory() throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open", path: directory, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(operation: "fsync", path: directory, errno: errno) }
    }

    func names() throws -> [String] {
        guard let dir = opendir(directory) else { throw Failure(operation: "list", path: directory, errno: errno) }
        defer { closedir(dir) }
        var out: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            out.append(name)
        }
        return out
    }
}
