/// Which legs of a transfer a detector applies. A transfer has a credit leg (the payee's) and a
/// debit leg (the payer's); when the work is split by account, each goes to its account's owner.
public struct LegSides: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The payee's leg.
    public static let credit = LegSides(rawValue: 1)
    /// The payer's leg.
    public static let debit = LegSides(rawValue: 2)
    public static let both: LegSides = [.credit, .debit]

    /// The one-byte tag a leg record starts with on the legs topic: `C`, `D` or `B`.
    public var tag: UInt8 {
        switch self {
        case .credit: UInt8(ascii: "C")
        case .debit: UInt8(ascii: "D")
        default: UInt8(ascii: "B")
        }
    }

    public init?(tag: UInt8) {
        switch tag {
        case UInt8(ascii: "C"): self = .credit
        case UInt8(ascii: "D"): self = .debit
        case UInt8(ascii: "B"): self = .both
        default: return nil
        }
    }
}

/// Which partition of the legs topic owns an account: a seeded hash of the account id modulo
/// the partition count. Every instance computes the same answer without asking anyone, so the
/// route stage sends each leg to its account's partition and a detect task knows which
/// counterparties it owns. Changing the partition count moves accounts: it needs a fresh
/// application id (see README, "Running on several machines").
public struct LegPartitioner: Sendable, Equatable {
    public static let seed: UInt64 = 0x452821E6_38D01377
    public let partitions: Int32

    public init(partitions: Int32) {
        precondition(partitions > 0, "a legs topic needs at least one partition")
        self.partitions = partitions
    }

    @inlinable
    public func partition(of account: UnsafeRawBufferPointer) -> Int32 {
        Int32(truncatingIfNeeded: ByteHash.hash(account, seed: Self.seed) % UInt64(partitions))
    }

    public func partition(of account: String) -> Int32 {
        var s = account
        return s.withUTF8 { partition(of: UnsafeRawBufferPointer($0)) }
    }
}

/// The share of the work one detector does when the work is split across partitions of the
/// legs topic: it owns the accounts that `partitioner` maps to `partition`, applies only their
/// legs, and tells the owners of other accounts about hops, forwards and gang ties through
/// `LinkRecord`s that take effect `linkDelayMillis` of event time after the event that made them.
public struct DetectorScope: Sendable, Equatable {
    public var partition: Int32
    public var partitioner: LegPartitioner
    /// Event time between an event and the moment what it taught other partitions (a hop into
    /// their account, a gang tie) takes effect there. Instances exchange watermarks through the
    /// legs topic and may run up to this far ahead of the slowest one, so it bounds how often
    /// they wait for each other; the result never depends on timing.
    public var linkDelayMillis: Int64

    public init(partition: Int32, partitioner: LegPartitioner, linkDelayMillis: Int64) {
        precondition(partition >= 0 && partition < partitioner.partitions, "partition out of range")
        precondition(linkDelayMillis > 0, "the link delay must be positive")
        self.partition = partition
        self.partitioner = partitioner
        self.linkDelayMillis = linkDelayMillis
    }
}
