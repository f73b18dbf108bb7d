import Foundation
import Testing
@testable import MuleKafka

/// Snapshots on a state topic of librdkafka's mock cluster (real wire protocol on loopback).
@Suite(.timeLimit(.minutes(2))) struct PartitionStateStoreTests {
    let logs = LogCollector()
    let cluster: MockCluster
    let topic = uniqueName("state")

    init() throws {
        cluster = try MockCluster(logHandler: logs.handler)
        try cluster.createTopic(topic, partitions: 3)
    }

    var config: KafkaConfig { clientConfig(cluster.bootstrapServers, logs: logs) }

    func store(chunkBytes: Int = 512 * 1024) throws -> PartitionStateStore {
        try PartitionStateStore(config: config, topic: topic, chunkBytes: chunkBytes)
    }

    /// Writes a snapshot's chunks the way the store would, minus `skipping` and with `corrupting`
    /// flipped: what a crash in the middle of a write or bit rot leaves behind.
    func writeRaw(partition: Int32, slot: UInt8, sequence: UInt64, snapshot: [UInt8], chunkBytes: Int,
                  skipping: Int? = nil, corrupting: Int? = nil) throws {
        let producer = try KafkaProducer(config: config)
        try snapshot.withUnsafeBytes { bytes in
            let plan = ChunkPlan(partition: partition, slot: slot, sequence: sequence, snapshot: bytes, chunkBytes: chunkBytes)
            for i in 0..<plan.count where i != skipping {
                var value = Array(plan.value(i, of: bytes))
                if i == corrupting { value[0] ^= 0x40 }
                try producer.send(topic: topic, partition: partition, key: plan.key(i), value: value, headers: plan.headers(i))
            }
        }
        try producer.flush(timeoutMillis: 10_000)
    }

    @Test func emptyOneByteAndMultiChunkSnapshotsRoundTrip() throws {
        let store = try store()
        let large = pseudoRandomBytes(5_000_000, seed: 1)
        try store.write(partition: 0, sequence: 1, snapshot: [], timeoutMillis: 20_000)
        try store.write(partition: 1, sequence: 1, snapshot: [0xA5], timeoutMillis: 20_000)
        try store.write(partition: 2, sequence: 1, snapshot: large, timeoutMillis: 60_000)

        let empty = try #require(try store.readLatest(partition: 0, timeoutMillis: 20_000))
        #expect(empty.bytes.isEmpty)
        #expect(empty.chunks == 1)
        #expect(try store.readLatest(partition: 1, timeoutMillis: 20_000)?.bytes == [0xA5])
        let read = try store.read(partition: 2, timeoutMillis: 60_000)
        let big = try #require(read.latest)
        #expect(big.sequence == 1)
        #expect(big.chunks == 10)  // ⌈5,000,000 / 524,288⌉
        #expect(big.offsets == 0...9)
        #expect(big.bytes == large)
        #expect(read.rejected.isEmpty)
        #expect(read.records == 10)
        #expect(store.rejectedSnapshots == 0)
    }

    @Test func theNewestSequenceWinsAndPartitionsAreIndependent() throws {
        let store = try store(chunkBytes: 1_000)
        for sequence: UInt64 in 1...3 {
            try store.write(partition: 0, sequence: sequence, snapshot: pseudoRandomBytes(2_500, seed: sequence), timeoutMillis: 20_000)
        }
        try store.write(partition: 1, sequence: 7, snapshot: bytes("partition one"), timeoutMillis: 20_000)

        let zero = try store.read(partition: 0, timeoutMillis: 20_000)
        #expect(zero.latest?.sequence == 3)
        #expect(zero.latest?.bytes == pseudoRandomBytes(2_500, seed: 3))
        #expect(zero.latest?.chunks == 3)
        #expect(zero.rejected.isEmpty)
        let one = try #require(try store.readLatest(partition: 1, timeoutMillis: 20_000))
        #expect(one.sequence == 7)
        #expect(one.bytes == bytes("partition one"))
        // A second store (another instance after a rebalance) sees the same.
        #expect(try self.store().readLatest(partition: 0, timeoutMillis: 20_000)?.sequence == 3)
    }

    @Test func anEmptyPartitionHasNoSnapshot() throws {
        let read = try store().read(partition: 2, timeoutMillis: 20_000)
        #expect(read == SnapshotRead(latest: nil, rejected: [], malformedRecords: 0, records: 0))
    }

    @Test func aTornNewestWriteFallsBackToThePreviousCompleteSnapshot() throws {
        let store = try store(chunkBytes: 1_000)
        let first = pseudoRandomBytes(4_200, seed: 10)
        try store.write(partition: 1, sequence: 1, snapshot: first, timeoutMillis: 20_000)
        // Sequence 1 went to slot 1 (odd sequence, nothing known yet): a torn write goes to slot 0.
        try writeRaw(partition: 1, slot: 0, sequence: 2, snapshot: pseudoRandomBytes(4_200, seed: 11), chunkBytes: 1_000, skipping: 3)

        let read = try store.read(partition: 1, timeoutMillis: 20_000)
        #expect(read.latest?.sequence == 1)
        #expect(read.latest?.bytes == first)
        #expect(read.latest?.slot == 1)
        #expect(read.rejected == [RejectedSnapshot(sequence: 2, reason: .incomplete(present: 4, expected: 5))])
        #expect(store.rejectedSnapshots == 1)

        // The new owner writes sequence 2 again with other bytes: the later write wins.
        let second = pseudoRandomBytes(3_100, seed: 12)
        try store.write(partition: 1, sequence: 2, snapshot: second, timeoutMillis: 20_000)
        let again = try store.read(partition: 1, timeoutMillis: 20_000)
        #expect(again.latest?.sequence == 2)
        #expect(again.latest?.bytes == second)
        #expect(again.latest?.slot == 0)  // the slot not holding sequence 1
        #expect(again.rejected.isEmpty)
    }

    @Test func aCorruptChunkIsRejectedAndForeignRecordsAreCounted() throws {
        let store = try store(chunkBytes: 1_000)
        let good = pseudoRandomBytes(2_000, seed: 20)
        try store.write(partition: 0, sequence: 5, snapshot: good, timeoutMillis: 20_000)
        try writeRaw(partition: 0, slot: 0, sequence: 6, snapshot: pseudoRandomBytes(2_000, seed: 21), chunkBytes: 1_000, corrupting: 1)
        let producer = try KafkaProducer(config: config)
        try producer.send(topic: topic, partition: 0, key: bytes("0/0/0"), value: bytes("no headers"))
        try producer.send(topic: topic, partition: 0, key: bytes("0/0/1"), value: bytes("bad header"),
                          headers: [(StateHeader.sequence, bytes("7x"))])
        try producer.flush(timeoutMillis: 10_000)

        let read = try store.read(partition: 0, timeoutMillis: 20_000)
        #expect(read.latest?.sequence == 5)
        #expect(read.latest?.bytes == good)
        #expect(read.rejected == [RejectedSnapshot(sequence: 6, reason: .checksumMismatch)])
        #expect(read.malformedRecords == 2)
        #expect(read.records == 6)
    }

    @Test func writesBeyondTheMockRetentionStillRestoreTheNewestSnapshot() throws {
        // The mock keeps ~5 MiB per partition: three 3 MiB snapshots push the first one out.
        let store = try store()
        for sequence: UInt64 in 1...3 {
            try store.write(partition: 2, sequence: sequence, snapshot: pseudoRandomBytes(3 << 20, seed: sequence), timeoutMillis: 60_000)
        }
        let read = try store.read(partition: 2, timeoutMillis: 60_000)
        #expect(read.latest?.sequence == 3)
        #expect(read.latest?.bytes == pseudoRandomBytes(3 << 20, seed: 3))
        #expect(read.rejected.isEmpty)  // older, partly deleted sets are superseded, not rejected

        // One snapshot larger than the retention cannot survive: the write says so.
        do {
            try store.write(partition: 2, sequence: 4, snapshot: pseudoRandomBytes(6 << 20, seed: 4), timeoutMillis: 60_000)
            Issue.record("a 6 MiB snapshot should not fit the mock's 5 MiB retention")
        } catch let error as KafkaError {
            #expect(error.message.contains("retention already deleted"))
        }
        let after = try store.read(partition: 2, timeoutMillis: 60_000)
        #expect(after.latest == nil)  // the 6 MiB write pushed sequence 3 out as well
        #expect(after.rejected.map(\.sequence) == [4])
    }

    @Test func aRejectedWriteThrowsAndLeavesNothingBehindForTheNextOne() throws {
        let store = try store(chunkBytes: 1_000)
        // The next Produce request (API key 0) fails with MESSAGE_TOO_LARGE, which is not retried.
        cluster.failNextRequests(apiKey: 0, errors: [10])
        do {
            try store.write(partition: 0, sequence: 1, snapshot: pseudoRandomBytes(2_500, seed: 30), timeoutMillis: 20_000)
            Issue.record("the write should report the broker's rejection")
        } catch let error as KafkaError {
            #expect(error.message.hasPrefix("state write of \(topic)[0] sequence 1 (3 chunks, 2500 bytes) failed"))
        }
        let second = pseudoRandomBytes(2_500, seed: 31)
        try store.write(partition: 0, sequence: 2, snapshot: second, timeoutMillis: 20_000)
        let read = try store.read(partition: 0, timeoutMillis: 20_000)
        #expect(read.latest?.sequence == 2)
        #expect(read.latest?.bytes == second)
        #expect(read.rejected.isEmpty)
    }

    @Test func badArgumentsAreErrors() throws {
        #expect(throws: KafkaError.self) { try PartitionStateStore(config: config, topic: topic, chunkBytes: 0) }
        #expect(throws: KafkaError.self) { try PartitionStateStore(config: config, topic: "", chunkBytes: 1) }
        let store = try store()
        #expect(throws: KafkaError.self) { try store.write(partition: -1, sequence: 1, snapshot: [1], timeoutMillis: 1_000) }
        #expect(throws: KafkaError.self) { try store.write(partition: 9, sequence: 1, snapshot: [1], timeoutMillis: 5_000) }
    }

    @Test func ensureTopicChecksThePartitionCount() throws {
        let state = KafkaAdmin.NewTopic(name: topic, partitions: 3, replicationFactor: 1, configs: [("cleanup.policy", "compact")])
        #expect(try KafkaAdmin.ensureTopic(config: config, topic: state, timeoutMillis: 10_000) == .existed)

        var wider = state
        wider.partitions = 8
        do {
            try KafkaAdmin.ensureTopic(config: config, topic: wider, timeoutMillis: 10_000)
            Issue.record("a topic with 3 partitions should not pass for 8")
        } catch let error as KafkaError {
            #expect(error.code == KafkaError.Code.invalidPartitions)
            #expect(error.message.contains("3 partitions, expected 8"))
        }
    }

    @Test func ensureTopicOnTheMockFailsClearlyInsteadOfHangingOrAutoCreating() throws {
        let missing = KafkaAdmin.NewTopic(name: uniqueName("missing-state"), partitions: 6, replicationFactor: 1,
                                          configs: [("cleanup.policy", "compact")])
        let started = Date()
        do {
            try KafkaAdmin.ensureTopic(config: config, topic: missing, timeoutMillis: 1_000)
            Issue.record("librdkafka 2.0.2's mock was expected not to answer CreateTopics")
        } catch let error as KafkaError {
            #expect(error.code == KafkaError.Code.timedOut)
            #expect(error.message.contains("did not answer CreateTopics"))
        }
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(try KafkaAdmin.topicPartitionCounts(config: config, timeoutMillis: 10_000)[missing.name] == nil)
    }
}

/// Deterministic incompressible bytes (xorshift64*).
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        for i in 0..<count {
            x ^= x >> 12
            x ^= x << 25
            x ^= x >> 27
            buffer[i] = UInt8(truncatingIfNeeded: (x &* 0x2545_F491_4F6C_DD1D) >> 56)
        }
        initialized = count
    }
}

@Test func crc32cIsTheCastagnoliChecksumAtEveryLength() {
    #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
    let data = pseudoRandomBytes(40, seed: 3)
    for n in 0...data.count {
        // Bit by bit, straight from the definition (reflected polynomial 0x82F63B78).
        var reference: UInt32 = 0xFFFF_FFFF
        for b in data[..<n] {
            reference ^= UInt32(b)
            for _ in 0..<8 { reference = reference & 1 != 0 ? 0x82F6_3B78 ^ (reference >> 1) : reference >> 1 }
        }
        #expect(data[..<n].withUnsafeBytes { CRC32C.checksum($0) } == reference ^ 0xFFFF_FFFF, "length \(n)")
    }
}
