import Foundation
import MuleCore
import MuleSimulator
import Testing

private func bytes(of config: SimulationConfig) -> [UInt8] {
    var simulator = PaymentSimulator(config: config)
    var out: [UInt8] = []
    while let e = simulator.next() {
        out += e.line
        out.append(10)
    }
    return out
}

private let minute: Int64 = 60_000

@Suite("Payment simulator")
struct PaymentSimulatorTests {
    @Test("same seed gives byte-identical output, a different seed does not")
    func determinism() throws {
        let config = SimulationConfig(seed: 11, accounts: 400, events: 6000)
        let first = bytes(of: config)
        #expect(first.count > 100_000)
        #expect(first == bytes(of: config))
        var other = config
        other.seed = 12
        #expect(first != bytes(of: other))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mulesim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let e1 = dir.appendingPathComponent("e1.ndjson").path, l1 = dir.appendingPathComponent("l1.csv").path
        let e2 = dir.appendingPathComponent("e2.ndjson").path, l2 = dir.appendingPathComponent("l2.csv").path
        let counts = try SimulationWriter.write(config: config, eventsPath: e1, labelsPath: l1)
        try SimulationWriter.write(config: config, eventsPath: e2, labelsPath: l2)
        #expect(FileManager.default.contents(atPath: e1) == Data(first))
        #expect(FileManager.default.contents(atPath: e1) == FileManager.default.contents(atPath: e2))
        #expect(FileManager.default.contents(atPath: l1) == FileManager.default.contents(atPath: l2))
        #expect(counts.events == first.filter { $0 == 10 }.count)
    }

    @Test("events come out in event-time order, and timestamp matches the line's ts")
    func sorted() {
        for run in [demoRun, defaultRun] {
            #expect(zip(run.events, run.events.dropFirst()).allSatisfy { $0.ts <= $1.ts })
            #expect(zip(run.raw, run.events).allSatisfy { $0.timestamp == $1.ts })
        }
    }

    @Test("every line is valid per the contract; ids are unique; legal variations all occur")
    func contract() {
        // `Run` already failed loudly on any invalid line.
        for run in [demoRun, defaultRun] {
            #expect(Set(run.events.map(\.id)).count == run.events.count)
            #expect(run.events.contains { $0.tsWasString })
            #expect(run.events.filter { $0.tsWasString }.count < run.events.count / 10)
            #expect(run.events.contains { $0.amountWasNumber })
            #expect(run.events.contains { $0.fieldCount > 10 })  // unknown extra field
        }
    }

    @Test("event count stays close to the budget")
    func budget() {
        for run in [demoRun, defaultRun] {
            let target = Double(run.config.events)
            #expect(abs(Double(run.events.count) - target) < target * 0.05, "\(run.events.count)")
        }
    }

    @Test("first-layer mules take bursts of orders from distinct one-off victims via their QR codes")
    func bursts() {
        for run in [demoRun, defaultRun] {
            let (inbound, _) = run.gangFlows()
            let mules = run.accounts(role: "mule")
            #expect(!mules.isEmpty)
            for mule in mules {
                let paid = inbound[mule, default: []].filter { run.label[$0.payer]?.role == "victim" }
                #expect(!paid.isEmpty)
                let digits = mule.dropFirst(2)
                #expect(paid.allSatisfy { $0.channel == "qr" && $0.qr?.hasPrefix("QR-\(digits)-") == true })
                // Some 60-minute window holds at least five distinct payers.
                var best = 0
                for (i, e) in paid.enumerated() {
                    let window = paid[i...].prefix { $0.ts <= e.ts + 60 * minute }
                    best = max(best, Set(window.map(\.payer)).count)
                }
                #expect(best >= 5, "\(mule) best burst \(best)")
            }
            // Victims pay exactly once and never receive.
            let victims = Set(run.accounts(role: "victim"))
            var payments: [String: Int] = [:]
            for e in run.events {
                if victims.contains(e.payer) { payments[e.payer, default: 0] += 1 }
                #expect(!victims.contains(e.payee))
            }
            #expect(payments.count == victims.count && payments.values.allSatisfy { $0 == 1 })
            #expect(run.events.filter { victims.contains($0.payer) }.allSatisfy { (2000_000...50_000_000).contains($0.amount) })
        }
    }

    @Test("mules forward 98.2–99% of what they receive within 15 minutes")
    func forwarding() {
        for run in [demoRun, defaultRun] {
            let (inbound, outbound) = run.gangFlows()
            for l in run.labels where l.role.hasPrefix("mule") {
                let ins = inbound[l.account, default: []], outs = outbound[l.account, default: []]
                let totalIn = ins.reduce(0) { $0 + $1.amount }, totalOut = outs.reduce(0) { $0 + $1.amount }
                #expect(totalIn > 0)
                let ratio = Double(totalOut) / Double(totalIn)
                #expect(ratio >= 0.982 && ratio <= 0.990, "\(l.account) \(l.role) passes \(ratio)")
                // By 15 minutes after any inbound payment, at least 98.2% of everything received
                // up to then has gone on (one fen of rounding per transfer allowed).
                var received: Int64 = 0
                for e in ins {
                    received += e.amount
                    let sent = outs.filter { $0.ts <= e.ts + 15 * minute }.reduce(0) { $0 + $1.amount }
                    let slack = Int64(outs.count) * 100
                    #expect(sent * 1000 + slack * 1000 >= received * 982, "\(l.account) late at \(e.ts)")
                }
                // Nothing leaves before money has arrived.
                #expect(outs.allSatisfy { o in ins.contains { $0.ts < o.ts } })
            }
        }
    }

    @Test("every layer keeps 1–1.8% and the last layer delivers to the sink")
    func layers() {
        for run in [demoRun, defaultRun] {
            let (inbound, outbound) = run.gangFlows()
            var byLayer: [Int: (Int64, Int64)] = [:]
            for l in run.labels where l.role.hasPrefix("mule") {
                let i = inbound[l.account, default: []].reduce(0) { $0 + $1.amount }
                let o = outbound[l.account, default: []].reduce(0) { $0 + $1.amount }
                byLayer[l.layer, default: (0, 0)].0 += i
                byLayer[l.layer, default: (0, 0)].1 += o
                // Money moves one layer down: to the next layer or to the sink.
                for e in outbound[l.account, default: []] {
                    let next = run.label[e.payee]!
                    #expect(next.layer == l.layer + 1, "\(l.account) → \(e.payee)")
                }
            }
            #expect(byLayer[1] != nil)
            for (layer, (i, o)) in byLayer {
                let kept = 1 - Double(o) / Double(i)
                #expect(kept >= 0.010 && kept <= 0.018, "layer \(layer) keeps \(kept)")
            }
            for sink in run.accounts(role: "sink") {
                #expect(inbound[sink, default: []].count > 0)
                #expect(outbound[sink] == nil)
            }
        }
    }

    @Test("gangs fan out to three next-layer mules and aggregate several payments into one")
    func gangShapes() {
        let (inbound, outbound) = demoRun.gangFlows()
        let fanOut = demoRun.labels.contains { l in
            l.role == "mule" && outbound[l.account, default: []].contains { o in
                Set(outbound[l.account, default: []].filter { abs($0.ts - o.ts) <= 5 * minute }.map(\.payee)).count >= 3
            }
        }
        #expect(fanOut)
        let aggregates = demoRun.labels.contains { l in
            l.role == "mule" && !outbound[l.account, default: []].isEmpty
                && outbound[l.account, default: []].count * 2 <= inbound[l.account, default: []].count
        }
        #expect(aggregates)
    }

    @Test("demo profile: 3–4 gangs, first-layer mules forward to the sink or one further layer")
    func demoProfile() {
        let sinks = demoRun.accounts(role: "sink")
        #expect((3...4).contains(sinks.count))
        #expect(demoRun.labels.allSatisfy { !$0.role.hasPrefix("mule_layer") || $0.layer == 2 })
        #expect(!demoRun.accounts(role: "mule_layer2").isEmpty)
        let background = demoRun.labels.filter { !$0.isMule && $0.role != "victim" }.count
        #expect(background == 3000)
        let span = demoRun.events.last!.ts - demoRun.events.first!.ts
        #expect(span >= 6 * 60 * minute && span <= 12 * 60 * minute)
        // Some sink also receives an ordinary salary.
        #expect(demoRun.events.contains { demoRun.label[$0.payer]?.role == "employer" && demoRun.label[$0.payee]?.role == "sink" })
    }

    @Test("labels cover every account in the stream; CSV header is exact")
    func labels() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mulesim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let eventsPath = dir.appendingPathComponent("events.ndjson").path
        let labelsPath = dir.appendingPathComponent("labels.csv").path
        let config = SimulationConfig(seed: 5, accounts: 500, events: 8000, gangs: 2)
        let counts = try SimulationWriter.write(config: config, eventsPath: eventsPath, labelsPath: labelsPath)
        let csv = try String(contentsOfFile: labelsPath, encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "account,is_mule,role")
        #expect(csv.count == counts.accounts + 1)
        var isMule: [String: String] = [:]
        for row in csv.dropFirst() {
            let cols = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(cols.count == 3)
            isMule[cols[0]] = cols[1]
            let mule = cols[2].hasPrefix("mule") || cols[2] == "sink"
            #expect(cols[1] == (mule ? "1" : "0"), "\(row)")
        }
        let lines = try String(contentsOfFile: eventsPath, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == counts.events)
        for line in lines {
            let e = try check(Array(line.utf8))
            #expect(isMule[e.payer] != nil && isMule[e.payee] != nil)
        }
        #expect(isMule.values.filter { $0 == "1" }.count >= 2 * 5)
    }

    @Test("hard-negative roles are all present in a default-size run")
    func hardNegatives() {
        var seen = Set<String>()
        for e in defaultRun.events {
            seen.insert(defaultRun.label[e.payer]!.role)
            seen.insert(defaultRun.label[e.payee]!.role)
        }
        for role in ["normal", "shop", "restaurant", "refunding_merchant", "supplier", "employer", "card_issuer",
                     "landlord", "salary_earner", "bill_splitter", "parent", "child", "victim", "mule", "sink"] {
            #expect(seen.contains(role), "\(role) missing")
        }
        // Merchants are labelled merchants on the wire.
        let merchants = Set(defaultRun.labels.filter { ["shop", "restaurant", "refunding_merchant", "supplier", "employer", "card_issuer"].contains($0.role) }.map(\.account))
        #expect(defaultRun.raw.prefix(5000).allSatisfy { e in
            let c = try! check(e.line)
            let text = String(decoding: e.line, as: UTF8.self)
            return text.contains("\"payee_kind\":\"\(merchants.contains(c.payee) ? "merchant" : "personal")\"")
        })
        // Fewer events at night than by day.
        let byHour = Dictionary(grouping: defaultRun.events) { (($0.ts + 8 * 3_600_000) / 3_600_000) % 24 }
        #expect(byHour[3, default: []].count * 4 < byHour[11, default: []].count)
    }

    @Test("duplicates are byte-identical copies emitted after their original")
    func duplicates() {
        let base = SimulationConfig(seed: 3, accounts: 400, events: 6000)
        var dup = base
        dup.duplicateRate = 0.05
        let plain = Run(base), noisy = Run(dup)
        var firstSeen: [String: [UInt8]] = [:]
        var originals: [[UInt8]] = []
        var repeats = 0
        for (raw, e) in zip(noisy.raw, noisy.events) {
            if let earlier = firstSeen[e.id] {
                #expect(earlier == raw.line)
                repeats += 1
            } else {
                firstSeen[e.id] = raw.line
                originals.append(raw.line)
            }
        }
        let rate = Double(repeats) / Double(originals.count)
        #expect(rate > 0.03 && rate < 0.07, "\(rate)")
        #expect(originals == plain.raw.map(\.line))
        // A duplicate trails its original by at most 30 s of event time.
        var maxTs: Int64 = 0
        for e in noisy.events {
            #expect(e.ts >= maxTs - 30_000)
            maxTs = max(maxTs, e.ts)
        }
    }

    @Test("disorder shuffles events but never beyond its bound")
    func disorder() {
        let base = SimulationConfig(seed: 3, accounts: 400, events: 6000)
        var shuffled = base
        shuffled.disorderMillis = 120_000
        let plain = Run(base), noisy = Run(shuffled)
        #expect(noisy.raw.map(\.line) != plain.raw.map(\.line))
        #expect(noisy.raw.map(\.line).sorted { $0.lexicographicallyPrecedes($1) }
            == plain.raw.map(\.line).sorted { $0.lexicographicallyPrecedes($1) })
        var maxTs: Int64 = 0
        var inversions = 0
        for e in noisy.events {
            #expect(e.ts >= maxTs - 120_000)
            if e.ts < maxTs { inversions += 1 }
            maxTs = max(maxTs, e.ts)
        }
        #expect(inversions > noisy.events.count / 10)
    }
}
