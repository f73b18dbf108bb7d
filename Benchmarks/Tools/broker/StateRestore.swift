import BrokerSupport
import Foundation
import MuleKafka

/// `broker state-restore [MiB=4] [rounds=5] [--bootstrap HOST:PORT]`: how long a detect task's
/// state takes to write to and restore from the state topic (`PartitionStateStore`).
///
/// Each round writes a snapshot of `MiB` incompressible bytes as the next sequence of partition 0
/// (timed until every chunk is acknowledged), then restores it with a new store, as a new owner
/// would after a rebalance (timed from the watermark query to the verified bytes). Without
/// `--bootstrap` the broker is librdkafka's mock cluster in this process, which keeps only ~5 MiB
/// per partition, so snapshots above ~4.9 MiB cannot be stored there (the write reports it).
/// With `--bootstrap` the topic is created (compacted) when missing.
func stateRestore(_ args: [String]) throws {
    var bootstrap: String?
    var numbers: [Double] = []
    var i = 0
    while i < args.count {
        if args[i] == "--bootstrap", i + 1 < args.count {
            bootstrap = args[i + 1]
            i += 2
            continue
        }
        guard let n = Double(args[i]), n >= 0 else { fail("state-restore takes [MiB] [rounds] [--bootstrap HOST:PORT], not \(args[i])") }
        numbers.append(n)
        i += 1
    }
    let size = Int((numbers.first ?? 4) * 1_048_576)
    let rounds = max(1, Int(numbers.count > 1 ? numbers[1] : 5))

    var mock: MockCluster?
    var config = KafkaConfig()
    config.logHandler = { record in if record.level <= .warning { KafkaLogRecord.standardError(record) } }
    let topic = "state-restore-\(ProcessInfo.processInfo.processIdentifier)"
    if let bootstrap {
        config.set("bootstrap.servers", bootstrap)
        try KafkaAdmin.ensureTopic(config: config, topic: .init(name: topic, partitions: 1, replicationFactor: 1,
                                                                configs: [("cleanup.policy", "compact")]),
                                   timeoutMillis: 30_000)
    } else {
        let cluster = try MockCluster(logHandler: config.logHandler)
        try cluster.createTopic(topic, partitions: 1)
        config.set("bootstrap.servers", cluster.bootstrapServers)
        mock = cluster
    }
    var snapshot = [UInt8](repeating: 0, count: size)
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    for j in snapshot.indices {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        snapshot[j] = UInt8(truncatingIfNeeded: x)
    }

    let writer = try PartitionStateStore(config: config, topic: topic)
    let clock = ContinuousClock()
    var writes: [Double] = []
    var reads: [Double] = []
    print("state-restore: \(size) bytes (\((size + writer.chunkBytes - 1) / writer.chunkBytes) chunks of ≤ \(writer.chunkBytes) B) "
          + "to \(bootstrap ?? "the in-process mock cluster"), \(rounds) rounds")
    for r in 1...rounds {
        if size > 0 { snapshot[r % size] &+= 1 }  // a different snapshot each round
        var t0 = clock.now
        try writer.write(partition: 0, sequence: UInt64(r), snapshot: snapshot, timeoutMillis: 120_000)
        writes.append(millis(clock.now - t0))
        let reader = try PartitionStateStore(config: config, topic: topic)
        t0 = clock.now
        let read = try reader.read(partition: 0, timeoutMillis: 120_000)
        reads.append(millis(clock.now - t0))
        guard let latest = read.latest, latest.sequence == UInt64(r), latest.bytes == snapshot else {
            throw BenchFailure("round \(r): restored \(read.latest.map { "sequence \($0.sequence), \($0.bytes.count) bytes" } ?? "nothing"), "
                               + "rejected \(read.rejected)")
        }
        print("round \(r): write \(format(writes.last!)) ms, restore \(format(reads.last!)) ms (\(read.records) records read)")
    }
    let mib = Double(size) / 1_048_576
    print("median: write \(format(median(writes))) ms (\(format(mib / median(writes) * 1000)) MiB/s), "
          + "restore \(format(median(reads))) ms (\(format(mib / median(reads) * 1000)) MiB/s)")
    withExtendedLifetime(mock) {}
}

private func millis(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

private func format(_ v: Double) -> String { String(format: "%.1f", v) }
