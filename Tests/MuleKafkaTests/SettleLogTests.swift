import Testing
@testable import MuleKafka

/// The producer's sequence bookkeeping on its own: reports in any order, a ring that grows.
@Suite struct SettleLogTests {
    @Test func settledThroughIsTheLongestRunOfSettledMessagesFromTheFirst() {
        var log = SettleLog()
        for _ in 0..<5 { log.accept() }
        #expect(log.sent == 5 && log.next == 6)
        log.settle(2)
        log.settle(3)
        #expect(log.settledThrough == 0)
        log.settle(1)
        #expect(log.settledThrough == 3)
        log.settle(5)
        #expect(log.settledThrough == 3)
        log.settle(4)
        #expect(log.settledThrough == 5)
    }

    @Test func unknownAndRepeatedNumbersAreIgnored() {
        var log = SettleLog()
        log.settle(0)
        log.settle(1)  // not sent yet
        #expect(log.settledThrough == 0)
        log.accept()
        log.settle(1)
        log.settle(1)
        log.settle(7)
        #expect(log.settledThrough == 1)
        log.accept()
        log.settle(2)
        #expect(log.settledThrough == 2)
    }

    /// Thousands unsettled at once, settled in a scrambled order, across the ring's growth and
    /// wrap-around: the answer always equals a recount.
    @Test func agreesWithARecountAcrossGrowthAndWrapAround() {
        var log = SettleLog()
        var settled = Set<UInt64>()
        var rng = SystemRandomNumberGenerator()
        var pending: [UInt64] = []
        for round in 0..<40 {
            for _ in 0..<(round % 7 == 0 ? 600 : 50) {
                log.accept()
                pending.append(log.sent)
            }
            pending.shuffle(using: &rng)
            for _ in 0..<(pending.count * 2 / 3) {
                let s = pending.removeLast()
                log.settle(s)
                settled.insert(s)
            }
            var expected: UInt64 = 0
            while settled.contains(expected + 1) { expected += 1 }
            #expect(log.settledThrough == expected)
        }
        for s in pending { log.settle(s) }
        #expect(log.settledThrough == log.sent)
    }
}
