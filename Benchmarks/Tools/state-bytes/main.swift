// Bytes per tracked account: N accounts, each holding a few legs (pairs paying each other
// within one window), then `Detector.stateBytes / trackedAccounts` and the process RSS delta.
// Usage: state-bytes [accounts=1000000] [legsPerAccount=4] [hopWindowMs] [--idle]
// --idle: accounts are remembered 30 days (`accountMemoryMillis`) and event time then moves past
// the longest rule window, so every account is tracked with no legs left in any window (dedup
// horizon one minute, see below).
import BenchSupport
import Glibc
import MuleCore

func residentBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var size = 0, resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in
            withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

let idle = CommandLine.arguments.contains("--idle")
let args = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let accounts = args.count > 0 ? args[0] : 1_000_000
let legs = args.count > 1 ? args[1] : 4
let rules = shippedRules()

// Account names and ids laid out once, before the baseline RSS is read.
var arena: [UInt8] = []
var names: [ByteSpan] = []
@MainActor func span(_ s: String) -> ByteSpan {
    let start = Int32(arena.count)
    arena.append(contentsOf: s.utf8)
    return ByteSpan(start: start, count: Int32(arena.count) - start)
}
for i in 0..<accounts { names.append(span("acct-\(String(i, radix: 10))-cn")) }
// Each account sends legs/2 and receives legs/2 transfers: transfer k of round r goes from
// account k to account (k + r + 1) mod N.
let rounds = max(1, legs / 2)
var transfers: [DecodedTransfer] = []
transfers.reserveCapacity(accounts * rounds)
let t0: Int64 = 1_764_000_000_000
for r in 0..<rounds {
    for k in 0..<accounts {
        let id = span("tx-\(r)-\(k)")
        transfers.append(DecodedTransfer(
            id: id, timestamp: t0 + Int64(r * accounts + k), payer: names[k], payee: names[(k + r + 1) % accounts],
            amount: Money(units: 1_000_000), channel: .p2p))
    }
}

var config = DetectorConfig()
config.maxDedupEntries = 1 << 30
// Third argument: hop window in ms (0 = no hops, to measure the account state alone).
if args.count > 2 { config.chains.hopWindowMillis = Int64(args[2]) }
// Idle accounts are remembered long after their transfers leave the dedup horizon (24 h by
// default); a one-minute horizon keeps the dedup index (sized by transfers per horizon, not by
// accounts) out of the per-account figure.
if idle {
    config.accountMemoryMillis = 30 * 86_400_000
    config.dedupHorizonMillis = 60_000
}
let before = residentBytes()
var d = Detector(rules: rules, config: config)
let afterInit = residentBytes()
// Alerts are handed over as the engine would (this pattern makes everyone pass money on, so the
// chain rules fire a lot); the count is printed, the alerts are not kept.
var alertCount = 0
arena.withUnsafeBytes { raw in
    for (i, t) in transfers.enumerated() {
        _ = d.ingest(t, in: raw)
        if i & 1023 == 0 { alertCount += d.takeAlerts().count }
    }
}
d.advanceWatermark(to: t0 + Int64(rounds * accounts))  // apply everything, still within the window
alertCount += d.takeAlerts().count
if idle {
    // Past every window: each step lets the detector walk its next accounts (a stream moves
    // event time on with every event; here nothing else happens).
    let longest = rules.map(\.windowMillis).max() ?? 0
    var w = t0 + Int64(rounds * accounts) + longest + 1
    for _ in 0...(accounts / 256 + 1) {
        d.advanceWatermark(to: w)
        w += 1
    }
    alertCount += d.takeAlerts().count
}
let after = residentBytes()
let n = d.trackedAccounts
print("accounts tracked:        \(n) (\(legs) legs each\(idle ? ", then idle: no legs left in any window" : ""))")
print("stateBytes:              \(d.stateBytes) = \(d.stateBytes / max(n, 1)) bytes/account")
print("RSS delta (after init):  \(after - afterInit) = \((after - afterInit) / max(n, 1)) bytes/account")
print("RSS delta (incl. init):  \(after - before) = \((after - before) / max(n, 1)) bytes/account")
print("  fixed at init (id log, dedup, tables): \(afterInit - before) bytes")
// The transfer-id ring is reserved at init but its pages become resident only as ids are
// written: those bytes are in the deltas above (and in stateBytes) although the ring's size is
// fixed (`transferIdLogBytes`), not a cost per account.
let ringWritten = min(transfers.reduce(0) { $0 + Int($1.id.count) + 1 }, config.transferIdLogBytes)
print("  of which transfer-id ring pages written: \(ringWritten) = \(ringWritten / max(n, 1)) bytes/account (fixed cap \(config.transferIdLogBytes))")
print("alerts handed over:      \(alertCount)")
let m = d.accountMemory
print("per account: table \(m.table / max(n, 1)), states \(m.states / max(n, 1)), leg pool \(m.legPool / max(n, 1)) (free \(m.legPoolFree / max(n, 1))), cool-downs \(m.cooldowns / max(n, 1)) bytes")
let chain = d.chainState
print("chain state:             \(chain.hops) hops, \(chain.ties) gang ties, \(chain.bytes) bytes (\(chain.hops > 0 ? chain.bytes / chain.hops : 0) bytes/hop)")
