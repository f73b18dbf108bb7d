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

/// What a second read of the events file adds to the alerts: the event-time span, each
/// watched account's first debit, and every transfer paid by a flagged account.
struct EventScan {
    var firstEventTime: Int64?
    var lastEventTime: Int64?
    /// Event time of the first debit in the file, by account (watched accounts only).
    var firstDebit: [String: Int64] = [:]
    var transfers: [ObservedTransfer] = []

    /// Reads `path` once. `watched` are the accounts whose first debit matters (labelled
    /// mules); `flagged` are the accounts whose outgoing transfers are kept. Strings are made only
    /// for events whose payer is one of those, never per event.
    static func read(path: String, limits: DecoderLimits, watched: Set<String>, flagged: Set<String>) throws -> EventScan {
        let names = watched.union(flagged).sorted()
        let lookup = AccountLookup(names)
        let isWatched = names.map { watched.contains($0) }
        let isFlagged = names.map { flagged.contains($0) }
        var firstDebit = [Int64](repeating: .max, count: names.count)
        var scan = EventScan()
        var seenIds = Set<String>()
        let decoder = EventDecoder(limits: limits)
        var reader = LineReader(path: path)
        reader.maxLineBytes = limits.maxEventBytes
        var lo = Int64.max, hi = Int64.min
        try reader.forEachLine { _, bytes in
            guard let bytes, let t = try? decoder.decode(bytes) else { return }
            lo = min(lo, t.timestamp)
            hi = max(hi, t.timestamp)
            guard let p = lookup.index(of: t.payer.bytes(in: bytes)) else { return }
            if isWatched[p] && t.timestamp < firstDebit[p] { firstDebit[p] = t.timestamp }
            if isFlagged[p] {
                let id = t.id.string(in: bytes)
                // A repeated id is one transfer (CONTRACTS.md §1).
                guard seenIds.insert(id).inserted else { return }
                scan.transfers.append(ObservedTransfer(
                    id: id, payer: names[p], payee: t.payee.string(in: bytes), amount: t.amount, timestamp: t.timestamp,
                    payeeKind: t.payeeKind))
            }
        }
        if lo <= hi {
            scan.firstEventTime = lo
            scan.lastEventTime = hi
        }
        for (i, ts) in firstDebit.enumerated() where ts != .max { scan.firstDebit[names[i]] = ts }
        return scan
    }
}
