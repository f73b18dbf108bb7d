import MuleBacktest
import MuleCore

/// A transfer seen in the events file, kept only when its payer was flagged (the raw material
/// of the money-flow drawings).
public struct ObservedTransfer: Sendable, Equatable {
    public var id: String
    public var payer: String
    public var payee: String
    public var amount: Money
    public var timestamp: Int64
    /// The event's `payee_kind`: a merchant paid by several flagged accounts is spending, not a sink.
    public var payeeKind: AccountKind

    public init(id: String, payer: String, payee: String, amount: Money, timestamp: Int64, payeeKind: AccountKind = .unknown) {
        self.id = id
        self.payer = payer
        self.payee = payee
        self.amount = amount
        self.timestamp = timestamp
        self.payeeKind = payeeKind
    }
}

/// The second read of the events file: every transfer paid by an account the replay flagged
/// (the raw material of the money-flow drawings).
enum EventScan {
    /// Strings are made only for events whose payer is flagged, never per event.
    static func transfers(path: String, limits: DecoderLimits, flagged: Set<String>) throws -> [ObservedTransfer] {
        let names = flagged.sorted()
        let lookup = AccountTable(names: names)
        var out: [ObservedTransfer] = []
        var seenIds = Set<String>()
        let decoder = EventDecoder(limits: limits)
        var reader = LineReader(path: path)
        reader.maxLineBytes = limits.maxEventBytes
        try reader.forEachLine { _, bytes in
            guard let bytes, let t = try? decoder.decode(bytes),
                  let p = lookup.lookup(t.payer.bytes(in: bytes)).map(Int.init) else { return }
            let id = t.id.string(in: bytes)
            // A repeated id is one transfer (CONTRACTS.md §1).
            guard seenIds.insert(id).inserted else { return }
            out.append(ObservedTransfer(
                id: id, payer: names[p], payee: t.payee.string(in: bytes), amount: t.amount, timestamp: t.timestamp,
                payeeKind: t.payeeKind))
        }
        return out
    }
}
