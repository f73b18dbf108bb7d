/// How a transfer was paid, as named by the event's optional `channel` field.
public enum Channel: UInt8, Sendable, CaseIterable, BitwiseCopyable {
    case unknown = 0, qr, p2p, card, bank, wallet, other

    /// The contract's spelling, used in rule files and alerts.
    public var name: String {
        switch self {
        case .unknown: "unknown"
        case .qr: "qr"
        case .p2p: "p2p"
        case .card: "card"
        case .bank: "bank"
        case .wallet: "wallet"
        case .other: "other"
        }
    }

    public init?(name: String) {
        guard let c = Channel.allCases.first(where: { $0.name == name }) else { return nil }
        self = c
    }
}

/// Kind of account when the payment processor knows it (`payer_kind`, `payee_kind`).
public enum AccountKind: UInt8, Sendable, CaseIterable, BitwiseCopyable {
    case unknown = 0, personal, merchant

    public var name: String {
        switch self {
        case .unknown: "unknown"
        case .personal: "personal"
        case .merchant: "merchant"
        }
    }

    public init?(name: String) {
        guard let k = AccountKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }
}

/// A slice of the message bytes the event was decoded from: `start` and `count` are byte offsets
/// into that buffer. Strings in a decoded event stay as spans so decoding allocates nothing.
/// A span is only valid as long as the buffer it was decoded from.
public struct ByteSpan: Sendable, Equatable {
    public var start: Int32
    public var count: Int32

    @inlinable public init(start: Int32, count: Int32) {
        self.start = start
        self.count = count
    }

    public static let empty = ByteSpan(start: 0, count: 0)

    @inlinable public var isEmpty: Bool { count == 0 }

    /// The bytes of this span inside `buffer`.
    @inlinable public func bytes(in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[Int(start)..<Int(start + count)])
    }

    /// A `String` copy (allocates: for alerts, errors and tests, not for the hot path).
    public func string(in buffer: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes(in: buffer), as: UTF8.self)
    }
}

/// One payment event as decoded from the wire (CONTRACTS.md §1), before interning.
///
/// String fields are spans into the message buffer. The decoder rejects backslash escapes in
/// every known string field, so a span's bytes are exactly the value (see `EventDecoder`).
public struct DecodedTransfer: Sendable, Equatable {
    public var id: ByteSpan
    /// Event time, epoch milliseconds (UTC).
    public var timestamp: Int64
    public var payer: ByteSpan
    public var payee: ByteSpan
    /// Amount in fixed point, 4 decimals (`Money.scale` units per currency unit).
    public var amount: Money
    /// ISO 4217 code packed as three ASCII letters (`CurrencyCode`), or `.none` when absent.
    public var currency: CurrencyCode
    public var channel: Channel
    /// The `qr` field; `.empty` when absent.
    public var qr: ByteSpan
    public var payerKind: AccountKind
    public var payeeKind: AccountKind

    public init(
        id: ByteSpan, timestamp: Int64, payer: ByteSpan, payee: ByteSpan, amount: Money,
        currency: CurrencyCode = .none, channel: Channel = .unknown, qr: ByteSpan = .empty,
        payerKind: AccountKind = .unknown, payeeKind: AccountKind = .unknown
    ) {
        self.id = id
        self.timestamp = timestamp
        self.payer = payer
        self.payee = payee
        self.amount = amount
        self.currency = currency
        self.channel = channel
        self.qr = qr
        self.payerKind = payerKind
        self.payeeKind = payeeKind
    }
}

/// An ISO 4217 currency code packed into an integer (three upper-case ASCII letters), so events
/// carry it without a `String`.
public struct CurrencyCode: Sendable, Equatable, Hashable {
    public var packed: UInt32

    @inlinable public init(packed: UInt32) { self.packed = packed }

    public static let none = CurrencyCode(packed: 0)

    /// `"CNY"` → code; nil unless exactly three ASCII letters A–Z.
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 3, u.allSatisfy({ $0 >= 65 && $0 <= 90 }) else { return nil }
        packed = UInt32(u[0]) << 16 | UInt32(u[1]) << 8 | UInt32(u[2])
    }

    public var code: String {
        if packed == 0 { return "" }
        let b = [UInt8(truncatingIfNeeded: packed >> 16), UInt8(truncatingIfNeeded: packed >> 8), UInt8(truncatingIfNeeded: packed)]
        return String(decoding: b, as: UTF8.self)
    }
}
