import Foundation
import MuleCore
import MuleSimulator

/// One event line checked against CONTRACTS.md §1 and reduced to what the tests look at.
struct CheckedEvent: Sendable {
    var id: String
    var ts: Int64
    var payer: String
    var payee: String
    var amount: Int64  // Money units
    var channel: String
    var qr: String?
    var tsWasString: Bool
    var amountWasNumber: Bool
    var fieldCount: Int
}

struct ContractViolation: Error, CustomStringConvertible {
    var why: String
    var line: String
    var description: String { "\(why): \(line)" }
}

/// A minimal, independent reading of the event contract (not the engine's decoder).
func check(_ line: [UInt8]) throws -> CheckedEvent {
    let text = String(decoding: line, as: UTF8.self)
    func fail(_ why: String) -> ContractViolation { ContractViolation(why: why, line: text) }
    guard !line.contains(10), let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
    else { throw fail("not one JSON object") }
    func idField(_ name: String) throws -> String {
        guard let s = object[name] as? String, (1...128).contains(s.utf8.count) else { throw fail("bad \(name)") }
        return s
    }
    let id = try idField("id"), payer = try idField("payer"), payee = try idField("payee")
    guard payer != payee else { throw fail("payer == payee") }

    var ts: Int64
    var tsWasString = false
    if let s = object["ts"] as? String {
        guard let parsed = parseRFC3339(s) else { throw fail("bad ts string") }
        ts = parsed
        tsWasString = true
    } else if let token = rawToken(after: "\"ts\":", in: text), let n = Int64(token) {
        ts = n
    } else {
        throw fail("bad ts")
    }

    guard let token = rawToken(after: "\"amount\":", in: text) else { throw fail("no amount") }
    let amountWasNumber = !token.hasPrefix("\"")
    let digits = amountWasNumber ? token : String(token.dropFirst().dropLast())
    guard let money = Money(decimal: digits), money.units > 0 else { throw fail("bad amount") }
    if amountWasNumber { guard object["amount"] is NSNumber else { throw fail("amount type") } }

    if let c = object["currency"] { guard (c as? String) == "CNY" else { throw fail("currency") } }
    let channel = object["channel"] as? String ?? "unknown"
    guard ["qr", "p2p", "card", "bank", "wallet"].contains(channel) else { throw fail("channel") }
    for kind in ["payer_kind", "payee_kind"] {
        if let k = object[kind] { guard ["personal", "merchant"].contains(k as? String ?? "") else { throw fail(kind) } }
    }
    return CheckedEvent(
        id: id, ts: ts, payer: payer, payee: payee, amount: money.units, channel: channel,
        qr: object["qr"] as? String, tsWasString: tsWasString, amountWasNumber: amountWasNumber,
        fieldCount: object.count)
}

/// The raw JSON token after `key` (up to the next `,` or `}` outside a string).
private func rawToken(after key: String, in text: String) -> String? {
    guard let r = text.range(of: key) else { return nil }
    var token = ""
    var inString = false
    for ch in text[r.upperBound...] {
        if ch == "\"" { inString.toggle() }
        if !inString && (ch == "," || ch == "}") { break }
        token.append(ch)
    }
    return token
}

/// `2025-11-24T10:07:01.120Z` or `…+08:00` → epoch ms.
func parseRFC3339(_ s: String) -> Int64? {
    let u = Array(s.utf8)
    guard u.count == 24 || u.count == 29 else { return nil }
    func num(_ a: Int, _ n: Int) -> Int64? {
        var v: Int64 = 0
        for i in a..<(a + n) {
            guard u[i] >= 48 && u[i] <= 57 else { return nil }
            v = v * 10 + Int64(u[i] - 48)
        }
        return v
    }
    guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
          let sec = num(17, 2), let ms = num(20, 3) else { return nil }
    var offset: Int64 = 0
    if u.count == 29 {
        guard let oh = num(24, 2), let om = num(27, 2) else { return nil }
        offset = (oh * 60 + om) * 60_000 * (u[23] == UInt8(ascii: "-") ? -1 : 1)
    } else if u[23] != UInt8(ascii: "Z") {
        return nil
    }
    // Days from civil (Howard Hinnant).
    let yy = mo <= 2 ? y - 1 : y
    let era = yy / 400
    let yoe = yy - era * 400
    let doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    return ((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms - offset
}

/// A whole generated stream, checked and indexed once and shared by the tests.
struct Run: Sendable {
    let config: SimulationConfig
    let raw: [SimulatedEvent]
    let events: [CheckedEvent]
    let labels: [AccountLabel]
    let label: [String: AccountLabel]

    init(_ config: SimulationConfig) {
        self.config = config
        var simulator = PaymentSimulator(config: config)
        var raw: [SimulatedEvent] = []
        while let e = simulator.next() { raw.append(e) }
        self.raw = raw
        events = raw.map { try! check($0.line) }
        labels = simulator.labels
        label = Dictionary(uniqueKeysWithValues: labels.map { ($0.account, $0) })
    }

    func accounts(role: String) -> [String] { labels.filter { $0.role == role }.map(\.account) }

    func isGang(_ account: String) -> Bool { label[account]?.isMule ?? false }

    /// Gang money only: victims paying first-layer mules, and transfers between gang accounts
    /// (ordinary payments between two gang accounts are never generated).
    func gangFlows() -> (inbound: [String: [CheckedEvent]], outbound: [String: [CheckedEvent]]) {
        var inbound: [String: [CheckedEvent]] = [:]
        var outbound: [String: [CheckedEvent]] = [:]
        for e in events {
            let payerRole = label[e.payer]?.role
            if isGang(e.payee) && (payerRole == "victim" || isGang(e.payer)) { inbound[e.payee, default: []].append(e) }
            if isGang(e.payer) && isGang(e.payee) { outbound[e.payer, default: []].append(e) }
        }
        return (inbound, outbound)
    }
}

let demoRun = Run(.demo(seed: 42))
let defaultRun = Run(SimulationConfig(seed: 7))
