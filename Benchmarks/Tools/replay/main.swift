// Replays a simulated stream through the detection core with the shipped rules and prints
// events/s (ContinuousClock), alert count and an alert fingerprint. Also the profiling target:
//   swift build -c release --product replay && valgrind --tool=callgrind .build/release/replay 100000 1
// Arguments: [events=500000] [rounds=5] [accounts=events/10] [--rules ID,ID…] (only these of
// the shipped rules: what each rule costs)
import BenchSupport
import MuleCore

var argv = Array(CommandLine.arguments.dropFirst())
var onlyRules: Set<String>?
if let i = argv.firstIndex(of: "--rules") {
    guard i + 1 < argv.count else { fatalError("--rules takes a comma-separated list of rule ids") }
    onlyRules = Set(argv[i + 1].split(separator: ",").map(String.init))
    argv.removeSubrange(i...(i + 1))
}
let args = argv.compactMap { Int($0) }
let events = args.count > 0 ? args[0] : 500_000
let rounds = args.count > 1 ? args[1] : 5
let accounts = args.count > 2 ? args[2] : max(200, events / 10)

let clock = ContinuousClock()
var t0 = clock.now
let stream = SimulatedStream(accounts: accounts, events: events)
let rules = shippedRules().filter { onlyRules?.contains($0.id) ?? true }
if let onlyRules, rules.count != onlyRules.count { fatalError("--rules: not all of \(onlyRules.sorted()) are shipped rules") }
print("generated \(stream.count) events over \(accounts) accounts in \(clock.now - t0)")

t0 = clock.now
var sum: Int64 = 0
for _ in 0..<rounds { sum &+= stream.decodeAll(EventDecoder()) }
var dt = clock.now - t0
var secs = Double(dt.components.seconds) + Double(dt.components.attoseconds) * 1e-18
print("decode:  \(Int(Double(stream.count * rounds) / secs)) events/s (checksum \(sum))")

var best = Double.infinity
var alerts: [Alert] = []
var blackHoleCount = 0
for _ in 0..<rounds {
    t0 = clock.now
    alerts = stream.replay(rules: rules)
    dt = clock.now - t0
    secs = Double(dt.components.seconds) + Double(dt.components.attoseconds) * 1e-18
    best = min(best, secs)
}
print("replay:  \(Int(Double(stream.count) / best)) events/s (best of \(rounds))")
print("alerts:  \(alerts.count) fingerprint \(String(fingerprint(alerts), radix: 16))")

// The same replay with no rules: leg, window and chain state update alone (the difference to
// the line above is rule evaluation).
best = .infinity
for _ in 0..<rounds {
    t0 = clock.now
    blackHoleCount = stream.replay(rules: []).count
    dt = clock.now - t0
    secs = Double(dt.components.seconds) + Double(dt.components.attoseconds) * 1e-18
    best = min(best, secs)
}
print("no rules: \(Int(Double(stream.count) / best)) events/s (best of \(rounds); state update alone)")
