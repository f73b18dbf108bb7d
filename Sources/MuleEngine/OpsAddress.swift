/// Where `run --http` listens: `HOST:PORT`, `[IPv6]:PORT`, or just `PORT` / `:PORT` (then
/// 127.0.0.1: the endpoint shows account ids and must be exposed on purpose). Port 0 picks a
/// free port; the bound address is logged and printed.
public struct OpsAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public static let defaultHost = "127.0.0.1"

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses the flag value; nil with a reason a person can act on.
    public static func parse(_ text: String) -> Result<OpsAddress, AddressError> {
        var host = defaultHost
        var portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(AddressError(text, "missing `]` after the IPv6 address")) }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(AddressError(text, "expected `:PORT` after `]`")) }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            let h = text[..<colon]
            if h.contains(":") { return .failure(AddressError(text, "write an IPv6 address in brackets, e.g. [::1]:9464")) }
            if !h.isEmpty { host = String(h) }
            portText = text[text.index(after: colon)...]
        }
        if host.isEmpty { return .failure(AddressError(text, "empty host")) }
        guard let port = Int(portText), (0...65_535).contains(port) else {
            return .failure(AddressError(text, "the port must be a number from 0 to 65535"))
        }
        return .success(OpsAddress(host: host, port: port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public struct AddressError: Error, CustomStringConvertible {
        /// What is wrong with the address, without naming where it came from.
        public let why: String
        public let description: String
        init(_ text: String, _ why: String) {
            self.why = "\(why) (expected HOST:PORT or PORT, got `\(text)`)"
            description = "--http `\(text)`: \(why) (expected HOST:PORT or PORT)"
        }
    }
}
