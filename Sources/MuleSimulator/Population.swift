import MuleCore

/// What an account does in the simulation; decides its label and its `*_kind`.
enum Role: UInt8, Sendable {
    case normal, shop, restaurant, refundingMerchant, supplier, employer, cardIssuer
    case landlord, salaryEarner, billSplitter, parent, child, victim, mule, sink

    var isMerchant: Bool {
        switch self {
        case .shop, .restaurant, .refundingMerchant, .supplier, .employer, .cardIssuer: true
        default: false
        }
    }

    var isMule: Bool { self == .mule || self == .sink }

    func name(layer: Int) -> String {
        switch self {
        case .normal: "normal"
        case .shop: "shop"
        case .restaurant: "restaurant"
        case .refundingMerchant: "refunding_merchant"
        case .supplier: "supplier"
        case .employer: "employer"
        case .cardIssuer: "card_issuer"
        case .landlord: "landlord"
        case .salaryEarner: "salary_earner"
        case .billSplitter: "bill_splitter"
        case .parent: "parent"
        case .child: "child"
        case .victim: "victim"
        case .mule: layer <= 1 ? "mule" : "mule_layer\(layer)"
        case .sink: "sink"
        }
    }
}

/// Every planned account: role, layer and wire id. Ids are `A-` (personal) or `M-` (merchant)
/// plus eight digits from a seeded permutation of the account index, so ids reveal nothing
/// about roles or planning order.
struct Population: Sendable {
    static let idWidth = 10
    private(set) var roles: [Role] = []
    private(set) var layers: [UInt8] = []
    /// `idWidth` bytes per account, back to back.
    private(set) var idBytes: [UInt8] = []
    private let permutation: DigitPermutation

    init(seed: UInt64) { permutation = DigitPermutation(seed: seed) }

    var count: Int { roles.count }

    @discardableResult
    mutating func add(_ role: Role, layer: Int = 0) -> Int32 {
        let index = roles.count
        roles.append(role)
        layers.append(UInt8(layer))
        idBytes.append(role.isMerchant ? UInt8(ascii: "M") : UInt8(ascii: "A"))
        idBytes.append(UInt8(ascii: "-"))
        appendDigits(of: index)
        return Int32(index)
    }

    mutating func add(_ role: Role, count: Int) -> [Int32] {
        (0..<count).map { _ in add(role) }
    }

    private mutating func appendDigits(of index: Int) {
        var n = permutation.apply(UInt32(index))
        var digits = [UInt8](repeating: 48, count: 8)
        var i = 7
        while i >= 0 {
            digits[i] = UInt8(48 + n % 10)
            n /= 10
            i -= 1
        }
        idBytes.append(contentsOf: digits)
    }

    @inline(__always)
    func isMerchant(_ account: Int32) -> Bool { roles[Int(account)].isMerchant }

    /// The wire id (`A-12345678`).
    func id(_ account: Int32) -> String {
        let start = Int(account) * Population.idWidth
        return String(decoding: idBytes[start..<start + Population.idWidth], as: UTF8.self)
    }

    func label(_ account: Int32) -> AccountLabel {
        let role = roles[Int(account)]
        let layer = Int(layers[Int(account)])
        return AccountLabel(account: id(account), isMule: role.isMule, role: role.name(layer: layer), layer: layer)
    }
}

/// A seeded bijection on 0..<10^8: a 4-round Feistel network on 28 bits with cycle walking.
struct DigitPermutation: Sendable {
    private let keys: (UInt64, UInt64, UInt64, UInt64)
    private static let limit: UInt32 = 100_000_000

    init(seed: UInt64) {
        var sm = SplitMix64(state: seed ^ 0x5EED_1D5)
        keys = (sm.next(), sm.next(), sm.next(), sm.next())
    }

    func apply(_ value: UInt32) -> UInt32 {
        precondition(value < DigitPermutation.limit, "more than 10^8 accounts")
        var v = value
        repeat { v = feistel(v) } while v >= DigitPermutation.limit
        return v
    }

    private func feistel(_ v: UInt32) -> UInt32 {
        var left = (v >> 14) & 0x3FFF
        var right = v & 0x3FFF
        for key in [keys.0, keys.1, keys.2, keys.3] {
            let f = UInt32(truncatingIfNeeded: SplitMix64.mix(UInt64(right) ^ key)) & 0x3FFF
            (left, right) = (right, left ^ f)
        }
        return (left << 14) | right
    }
}

extension Population {
    @inline(__always)
    func appendID(_ account: Int32, to out: inout [UInt8]) {
        let start = Int(account) * Population.idWidth
        out.append(contentsOf: idBytes[start..<start + Population.idWidth])
    }

    /// The eight digits of the id, which QR code ids embed (`QR-12345678-2`).
    @inline(__always)
    func appendDigits(_ account: Int32, to out: inout [UInt8]) {
        let start = Int(account) * Population.idWidth + 2
        out.append(contentsOf: idBytes[start..<start + Population.idWidth - 2])
    }
}
