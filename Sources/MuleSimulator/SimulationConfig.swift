/// What to simulate: population size, event budget, period, gang shape and stream faults.
/// A value assembled once and handed to `PaymentSimulator`; the same config always yields the
/// same bytes.
public struct SimulationConfig: Sendable, Equatable {
    public var seed: UInt64
    /// Background population (normal people, shops, employers, …). Gang members and victims
    /// come on top. Values below 200 are raised to 200.
    public var accounts: Int
    /// Approximate number of events to generate (typically within a few percent).
    public var events: Int
    /// Start of the simulated period, epoch milliseconds. The default is 2025-11-25 00:00 in
    /// China Standard Time (UTC+8), the clock all daily cycles follow.
    public var startMillis: Int64
    /// Length of the simulated period; 0 derives it from `events / accounts` (1–60 whole days).
    public var durationMillis: Int64
    /// Number of mule gangs.
    public var gangs: Int
    /// Mule layers between victims and the sink, chosen per gang in `minLayers...maxLayers`.
    public var minLayers: Int
    public var maxLayers: Int
    /// When > 0, events leave the generator shuffled, each at most this far (in event time)
    /// behind any event emitted before it.
    public var disorderMillis: Int64
    /// Fraction of events re-emitted later as byte-identical duplicates (same `id`). A
    /// duplicate trails its original by at most `max(disorderMillis, 30 000)` ms of event time.
    public var duplicateRate: Double

    public static let defaultStartMillis: Int64 = 1_764_000_000_000

    public init(
        seed: UInt64, accounts: Int = 3000, events: Int = 40_000,
        startMillis: Int64 = SimulationConfig.defaultStartMillis, durationMillis: Int64 = 0,
        gangs: Int? = nil, minLayers: Int = 1, maxLayers: Int = 4,
        disorderMillis: Int64 = 0, duplicateRate: Double = 0
    ) {
        self.seed = seed
        self.accounts = accounts
        self.events = events
        self.startMillis = startMillis
        self.durationMillis = durationMillis
        // One gang per 2 000 accounts, but never so many that gangs swamp a small event budget.
        self.gangs = gangs ?? max(1, min(accounts / 2000, events / 8000))
        self.minLayers = minLayers
        self.maxLayers = maxLayers
        self.disorderMillis = disorderMillis
        self.duplicateRate = duplicateRate
    }

    /// The profile behind `mulestream demo`: ~3 000 accounts and ~40 000 events over eight
    /// daytime hours (08:00–16:00 UTC+8), four gangs whose first-layer mules forward straight
    /// to the sink or through one further layer.
    public static func demo(seed: UInt64 = 42) -> SimulationConfig {
        SimulationConfig(
            seed: seed, accounts: 3000, events: 40_000,
            startMillis: defaultStartMillis + 8 * 3_600_000, durationMillis: 8 * 3_600_000,
            gangs: 4, minLayers: 1, maxLayers: 2)
    }
}

/// One generated payment: its event time and its NDJSON line (CONTRACTS.md §1), without the
/// trailing newline.
public struct SimulatedEvent: Sendable, Equatable {
    public var timestamp: Int64
    public var line: [UInt8]

    public init(timestamp: Int64, line: [UInt8]) {
        self.timestamp = timestamp
        self.line = line
    }
}

/// Ground truth for one account (CONTRACTS.md §3): mules of every layer and gang sinks are
/// mules; everyone else is not, and `role` says which kind of hard negative they are.
public struct AccountLabel: Sendable, Equatable {
    public var account: String
    public var isMule: Bool
    /// `mule` (first layer, owns the QR codes victims scan), `mule_layer2`…, `sink`, `victim`,
    /// `normal`, `shop`, `restaurant`, `refunding_merchant`, `supplier`, `employer`,
    /// `card_issuer`, `landlord`, `salary_earner`, `bill_splitter`, `parent`, `child`.
    public var role: String
    /// Mule layer (1 = takes victims' payments), the sink's layer is one past the last mule
    /// layer; 0 for accounts outside gangs.
    public var layer: Int

    public init(account: String, isMule: Bool, role: String, layer: Int) {
        self.account = account
        self.isMule = isMule
        self.role = role
        self.layer = layer
    }
}
