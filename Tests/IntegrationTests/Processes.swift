import Foundation

/// Paths and child processes for the end-to-end tests: the built `mulestream` binary, kcat,
/// and the repository root (for `Rules/`).
enum Env {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `MULESTREAM_BIN` if set, else the `mulestream` next to the test bundle (`swift test` builds it).
    static var mulestream: String {
        if let p = ProcessInfo.processInfo.environment["MULESTREAM_BIN"] { return p }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("mulestream").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return repoRoot.appendingPathComponent(".build/debug/mulestream").path
    }

    static let kcat = "/usr/bin/kcat"

    static func tempDir() -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("mulestream-it-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// A child process with its output captured to files (pipes could fill and block it).
final class Child: @unchecked Sendable {
    let process = Process()
    let stdoutURL: URL
    let stderrURL: URL

    /// `environment` adds to (and overrides) this process's environment.
    init(_ executable: String, _ args: [String], dir: URL, name: String, stdin: Data? = nil, environment: [String: String] = [:]) throws {
        stdoutURL = dir.appendingPathComponent("\(name).out")
        stderrURL = dir.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.currentDirectoryURL = Env.repoRoot
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        if let stdin {
            let pipe = Pipe()
            process.standardInput = pipe
            try process.run()
            pipe.fileHandleForWriting.write(stdin)
            try pipe.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
    }

    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Waits at most `seconds`; kills the process if it is still running then. Returns the exit status.
    @discardableResult
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Runs a command to completion and returns (status, stdout, stderr).
func runToEnd(_ executable: String, _ args: [String], stdin: Data? = nil, timeout: Double = 60,
              environment: [String: String] = [:]) throws -> (Int32?, String, String) {
    let dir = Env.tempDir()
    let c = try Child(executable, args, dir: dir, name: "cmd", stdin: stdin, environment: environment)
    let status = c.wait(seconds: timeout)
    return (status, c.stdout, c.stderr)
}

/// Polls `body` until it returns non-nil or `seconds` pass.
func eventually<T>(seconds: Double, every interval: Double = 0.25, _ body: () throws -> T?) rethrows -> T? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let v = try body() { return v }
        usleep(UInt32(interval * 1_000_000))
    }
    return try body()
}
