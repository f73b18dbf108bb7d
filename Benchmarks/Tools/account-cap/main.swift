// Memory under the account cap: streams N distinct accounts through the core with
// `maxAccounts` = CAP and checks that resident memory stays under the documented bound
//
//     peak RSS growth ≤ fixed + perAccount × CAP + perDedupEntry × (transfers per dedup horizon)
//
// (README, "Bad input, limits and fuzzing"). Account k is paid 100.00 by account k-1 and pays
// 7.00 to account k+1, 20 ms of event time apart: every account holds two legs, nothing is a
// hop (7 % is no pass-through), so only the account cap keeps the state small. RSS is read from
// /proc/self/status (VmRSS, VmHWM). Exit status 1 when the bound or the cap does not hold.
//
// Usage: account-cap [accounts=5000000] [cap=200000] [dedupHorizonSeconds=3600]
// Built in release by scripts/test (see scripts/memory-check); also a Benchmarks product.
import Glibc
import MuleCore

/// A field of /proc/self/status in bytes (`VmRSS`, `VmHWM`), or 0.
func procStatusBytes(_ field: String) -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard text.hasPrefix(field + ":") else { continue }
        let digits = text.dropFirst(field.count + 1).filter(\.isNumber)
        return (Int(digits) ?? 0) * 1024  // the kernel reports kB
    }
    return 0
}

func mib(_ bytes: Int) -> String { String((Double(bytes) / 1_048_576 * 10).rounded() / 10) }

let args = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let accounts = args.count > 0 ? args[0] : 5_000_000
let cap = args.count > 1 ? args[1] : 200_000
let dedupHorizonMillis = Int64(args.count > 2 ? args[2] : 3600) * 1000
let stepMillis: Int64 = 20

// The documented bound (README). Keep these and the README in step.
let fixedBytes = 96 << 20           // transfer-id ring (64 MiB) + initial tables + allocator slack
let perAccountBytes = 512           // account table, state, scan marks, LRU links and a few legs
let perDedupEntryBytes = 48         // hash slot (×2 load factor) + arrival ring, at worst just after growth

// A rule of the shipped kind, so rule evaluation (and its per-account scan marks) runs too.
let rule = Rule(id: "memory", version: "1", windowMillis: 2 * 3_600_000, cooldownMillis: 86_400_000, trigger: .debit,
                conditions: .all([.metric(.distinctPayers, Bound(min: 5)), .metric(.passThrough, Bound(min: 0.9))]))
var config = DetectorConfig()
config.maxAccounts = cap
config.dedupHorizonMillis = dedupHorizonMillis

// One reusable event buffer: "a<k>" payer, "a<k+1>" payee, "t<k>" id, written in place.
var scratch = [UInt8](repeating: 0, count: 64)
@MainActor func put(_ prefix: UInt8, _ n: Int, at start: Int) -> ByteSpan {
    var digits: [UInt8] = []
    var v = n
    repeat { digits.append(UInt8(48 + v % 10)); v /= 10 } while v > 0
    scratch[start] = prefix
    for (i, d) in digits.reversed().enumerated() { scratch[start + 1 + i] = d }
    return ByteSpan(start: Int32(start), count: Int32(1 + digits.count))
}

let t0: Int64 = 1_764_000_000_000
let baseline = procStatusBytes("VmRSS")
var detector = Detector(rules: [rule], config: config)
var rssAtFifth = 0
var stateAtFifth = 0
var maxTracked = 0
let clock = ContinuousClock()
let started = clock.now
for k in 0..<accounts {
    let ts = t0 + Int64(k) * stepMillis
    let id = put(0x74, k, at: 0)
    let payer = put(0x61, k, at: 20)
    let payee = put(0x61, k + 1, at: 40)
    let amount = Money(units: k % 2 == 0 ? 1_000_000 : 70_000)  // 100.00 in, 7.00 on
    let t = DecodedTransfer(id: id, timestamp: ts, payer: payer, payee: payee, amount: amount, channel: k % 2 == 0 ? .qr : .p2p)
    _ = scratch.withUnsafeBytes { detector.ingest(t, in: $0) }
    if k & 4095 == 0 {
        _ = detector.takeAlerts()
        maxTracked = max(maxTracked, detector.trackedAccounts)
    }
    if k == accounts / 5 { rssAtFifth = procStatusBytes("VmRSS"); stateAtFifth = detector.stateBytes }
}
detector.advanceWatermark(to: t0 + Int64(accounts) * stepMillis)
_ = detector.takeAlerts()
let elapsed = clock.now - started
maxTracked = max(maxTracked, detector.trackedAccounts)
let rss = procStatusBytes("VmRSS"), hwm = procStatusBytes("VmHWM")
let dedupEntries = Int(min(Int64(accounts), dedupHorizonMillis / stepMillis + 1))
let bound = fixedBytes + perAccountBytes * cap + perDedupEntryBytes * dedupEntries
let growth = hwm - baseline
let c = detector.counters
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("accounts streamed:   \(accounts + 1) distinct, \(accounts) transfers in \(Int(seconds * 10) / 10) s (\(Int(Double(accounts) / seconds)) events/s)")
print("cap (maxAccounts):   \(cap); tracked at most \(maxTracked), at the end \(detector.trackedAccounts); evicted for the cap \(c.accountsEvictedCap), idle \(c.accountsEvictedIdle)")
print("dedup:               horizon \(dedupHorizonMillis / 1000) s = at most \(dedupEntries) transfer ids")
print("RSS:                 baseline \(mib(baseline)) MiB; at \(accounts / 5) accounts \(mib(rssAtFifth)) MiB; at the end VmRSS \(mib(rss)) MiB, VmHWM \(mib(hwm)) MiB")
print("peak growth:         \(mib(growth)) MiB = \(growth / max(cap, 1)) bytes per capped account (all included)")
print("bound:               \(mib(fixedBytes)) MiB + \(perAccountBytes) B × \(cap) + \(perDedupEntryBytes) B × \(dedupEntries) = \(mib(bound)) MiB")
print("stateBytes:          \(mib(detector.stateBytes)) MiB")
var failed = false
if maxTracked > cap { print("FAIL: tracked \(maxTracked) accounts, more than the cap \(cap)"); failed = true }
if growth > bound { print("FAIL: peak RSS growth \(mib(growth)) MiB exceeds the bound \(mib(bound)) MiB"); failed = true }
// Once the cap is reached memory must stop growing over the last 80 % of the stream: the state
// may grow only by the transfer-id ring, which starts at 1 MiB and doubles up to its fixed size
// (`transferIdLogBytes`, part of the fixed bound) as ids arrive; and memory the state does not
// account for (allocator slack, anything leaked) must stay where it was.
let stateGrowth = detector.stateBytes - stateAtFifth
let untracked = (before: rssAtFifth - stateAtFifth, after: rss - detector.stateBytes)
print("after the cap:       state \(mib(stateAtFifth)) → \(mib(detector.stateBytes)) MiB; RSS not in the state \(mib(untracked.before)) → \(mib(untracked.after)) MiB")
if stateGrowth > config.transferIdLogBytes + stateAtFifth / 10 {
    print("FAIL: the state still grew after the cap was reached (\(mib(stateAtFifth)) → \(mib(detector.stateBytes)) MiB)"); failed = true
}
if untracked.after > untracked.before + 16 << 20 {
    print("FAIL: memory outside the state grew after the cap was reached (\(mib(untracked.before)) → \(mib(untracked.after)) MiB)"); failed = true
}
print(failed ? "account-cap: FAILED" : "account-cap: ok")
exit(failed ? 1 : 0)
