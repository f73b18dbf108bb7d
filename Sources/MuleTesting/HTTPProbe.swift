#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal blocking HTTP/1.1 GET over loopback TCP for tests of the operations endpoint: one
/// request per connection (`Connection: close`), bounded by a socket timeout, and telling a
/// refused connection apart from an answer (a stopped endpoint must refuse).
public enum HTTPProbe {
    public enum Outcome: Equatable, Sendable {
        case response(status: Int, body: String)
        /// Nothing listens there (ECONNREFUSED).
        case refused
        case failed(String)

        public var status: Int? { if case .response(let s, _) = self { s } else { nil } }
        public var body: String? { if case .response(_, let b) = self { b } else { nil } }
    }

    public static func get(host: String = "127.0.0.1", port: Int, path: String, timeoutSeconds: Int = 5) -> Outcome {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return .failed("socket: errno \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return .failed("not an IPv4 address: \(host)") }
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 { return errno == ECONNREFUSED ? .refused : .failed("connect: errno \(errno)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else { return .failed("send: errno \(errno)") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            if n < 0 {
                // A reset by a server going away after accepting counts as "no answer".
                return errno == ECONNRESET ? .refused : .failed("recv: errno \(errno)")
            }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return parse(bytes)
    }

    /// Status and body of a response read to the end of the connection (body de-chunked).
    static func parse(_ bytes: [UInt8]) -> Outcome {
        let crlf: [UInt8] = [13, 10]
        func find(_ needle: [UInt8], from: Int) -> Int? {
            guard bytes.count >= needle.count else { return nil }
            var i = from
            while i + needle.count <= bytes.count {
                if bytes[i..<i + needle.count].elementsEqual(needle) { return i }
                i += 1
            }
            return nil
        }
        guard let headEnd = find(crlf + crlf, from: 0) else {
            return .failed("no complete response head: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return .failed("bad status line: \(statusLine)") }
        var body = Array(bytes[(headEnd + 4)...])
        if head.lowercased().contains("transfer-encoding: chunked") {
            var out: [UInt8] = []
            var at = headEnd + 4
            while let lineEnd = find(crlf, from: at),
                  let size = Int(String(decoding: bytes[at..<lineEnd], as: UTF8.self), radix: 16), size > 0,
                  lineEnd + 2 + size <= bytes.count {
                out += bytes[(lineEnd + 2)..<(lineEnd + 2 + size)]
                at = lineEnd + 2 + size + 2
            }
            body = out
        }
        return .response(status: status, body: String(decoding: body, as: UTF8.self))
    }
}
