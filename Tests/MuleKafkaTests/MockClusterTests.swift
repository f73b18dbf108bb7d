import Crdkafka
import Foundation
import Testing
@testable import MuleKafka

/// Real wire protocol against librdkafka's mock cluster on loopback.
@Suite(.timeLimit(.minutes(1))) struct MockClusterTests {
    let logs = LogCollector()
    let cluster: MockCluster

    init() throws {
        cluster = try MockCluster(logHandler: logs.handler)
    }

    @Test func messagesWithHeadersAreConsumedInOrderPerPartition() throws {
        let topic = uniqueName("transfers")
        try cluster.createTopic(topic, partitions: 3)
        let producer = try KafkaProducer(config: clientConfig(cluster.bootstrapServers, logs: logs))
        let count = 90
        for i in 0..<count {
            try producer.send(topic: topic, key: bytes("acct-\(i % 6)"), value: bytes("v\(i)"),
                              headers: [("seq", bytes("\(i)")), ("source", bytes("test"))])
        }
        try producer.flush(timeoutMillis: 10_000)
        #expect(producer.deliveredCount == UInt64(count))
        #expect(producer.failedCount == 0)

        let events = Events()
        let consumer = try KafkaConsumer(config: consumerConfig(cluster.bootstrapServers, group: uniqueName("g")),
                                         topics: [topic], onRebalance: { events.rebalances.append($0) })
        let records = try drain(consumer, count: count)
        #expect(records.count == count)
        #expect(Set(events.assigned) == Set((0..<3).map { TopicPartition(topic: topic, partition: $0) }))
        #expect(Set(try consumer.assignment) == Set(events.assigned))

        for partition in Set(records.map(\.partition)) {
            let inPartition = records.filter { $0.partition == partition }
            #expect(inPartition.map(\.offset) == (0..<Int64(inPartition.count)).map { $0 })
        }
        for key in Set(records.compactMap(\.key)) {
            let sequence = records.filter { $0.key == key }.map { Int($0.headers["seq"]!)! }
            #expect(sequence == sequence.sorted())
            #expect(Set(records.filter { $0.key == key }.map(\.partition)).count == 1)
        }
        for r in records {
            #expect(r.topic == topic)
            #expect(r.topicIndex == 0)
            #expect(r.value == "v\(r.headers["seq"]!)")
            #expect(r.headers["source"] == "test")
            #expect(r.timestampMillis != nil)
        }
        #expect(Set(records.map(\.value)).count == count)
        consumer.close()
        consumer.close()  // idempotent
        #expect(events.rebalances.last == .revoked(events.assigned))
        #expect(throws: KafkaError.self) { _ = try consumer.poll(max: 1, timeoutMillis: 0) { _ in } }
    }

    /// A background commit returns at once; its outcome arrives during later polls, once, and
    /// a refused one (here OFFSET_METADATA_TOO_LARGE, not retried by librdkafka) changes nothing.
    @Test func backgroundCommitsReportTheirOutcomeDuringPoll() throws {
        let topic = uniqueName("bg-commit")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(config: clientConfig(cluster.bootstrapServers, logs: logs))
        for i in 0..<5 { try producer.send(topic: topic, value: bytes("m\(i)")) }
        try producer.flush(timeoutMillis: 10_000)
        let consumer = try KafkaConsumer(config: consumerConfig(cluster.bootstrapServers, group: uniqueName("g")), topics: [topic])
        defer { consumer.close() }
        #expect(try drain(consumer, count: 5).count == 5)
        let partition = TopicPartition(topic: topic, partition: 0)

        func outcome() throws -> CommitResult {
            let deadline = ContinuousClock.now + .seconds(10)
            while consumer.commitsInFlight > 0 && ContinuousClock.now < deadline {
                _ = try consumer.poll(max: 1, timeoutMillis: 50) { _ in }
            }
            let results = consumer.takeCommitResults()
            try #require(results.count == 1, "expected one outcome, got \(results)")
            #expect(consumer.takeCommitResults().isEmpty, "an outcome is handed out once")
            #expect(!consumer.hasCommitResults)
            return results[0]
        }

        let three = TopicPartitionOffset(topic: topic, partition: 0, offset: 3)
        try consumer.commitInBackground([three])
        #expect(consumer.commitsInFlight == 1)
        let ok = try outcome()
        #expect(ok.error == nil)
        #expect(ok.offsets == [three])
        #expect(try consumer.committed([partition], timeoutMillis: 5_000) == [three])

        cluster.failNextRequests(apiKey: 8, errors: [12])  // OffsetCommit: OFFSET_METADATA_TOO_LARGE
        try consumer.commitInBackground([TopicPartitionOffset(topic: topic, partition: 0, offset: 5)])
        let refused = try outcome()
        #expect(refused.error?.code == 12, "\(String(describing: refused.error))")
        #expect(try consumer.committed([partition], timeoutMillis: 5_000) == [three])

        try consumer.commitInBackground([])  // nothing to send: no outcome either
        #expect(consumer.commitsInFlight == 0)
    }

    /// `settledThrough` follows the delivery reports by sequence number: a message the broker
    /// answers late holds it back, and so does nothing sent before it; a failed message settles.
    @Test func settledThroughCountsMessagesSentBeforeAPointOnly() throws {
        let topic = uniqueName("settle")
        try cluster.createTopic(topic, partitions: 2)
        let producer = try KafkaProducer(config: clientConfig(cluster.bootstrapServers, [("linger.ms", "0")], logs: logs))
        #expect(producer.sentCount == 0 && producer.settledThrough == 0)
        try producer.send(topic: topic, partition: 0, value: bytes("first"))
        try producer.flush(timeoutMillis: 10_000)
        #expect(producer.sentCount == 1 && producer.settledThrough == 1)

        // The next Produce is answered 1.5 s late: the message after it waits behind it.
        try cluster.delayNextRequests(broker: 1, apiKey: 0, millis: 1_500)
        try producer.send(topic: topic, partition: 1, value: bytes("slow"))
        let mark = producer.sentCount
        #expect(mark == 2)
        Thread.sleep(forTimeInterval: 0.3)
        try producer.send(topic: topic, partition: 0, value: bytes("after"))
        producer.poll(timeoutMillis: 300)
        #expect(producer.sentCount == 3)
        #expect(producer.settledThrough == 1, "the slow message is not acknowledged yet")
        #expect(producer.outstanding > 0)
        try producer.flush(timeoutMillis: 10_000)
        #expect(producer.settledThrough == 3)

        // A refused message is settled too (its failure waits in takeDeliveryFailures).
        try cluster.delayNextRequests(broker: 1, apiKey: 0, millis: 0, error: 10)  // MESSAGE_TOO_LARGE: not retried
        try producer.send(topic: topic, partition: 0, value: bytes("refused"))
        #expect(throws: KafkaError.self) { try producer.flush(timeoutMillis: 10_000) }
        #expect(producer.settledThrough == 4)
        #expect(producer.takeDeliveryFailures().count == 1)
        #expect(producer.deliveredCount == 3)
    }

    @Test func aNewMemberResumesAfterTheCommittedOffset() throws {
        let topic = uniqueName("resume")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(config: clientConfig(cluster.bootstrapServers, logs: logs))
        for i in 0..<20 { try producer.send(topic: topic, value: bytes("m\(i)")) }
        try producer.flush(timeoutMillis: 10_000)

        let group = uniqueName("g")
        let first = try KafkaConsumer(config: consumerConfig(cluster.bootstrapServers, group: group), topics: [topic])
        let processed = try drain(first, count: 10)
        #expect(processed.map(\.offset) == Array(0..<10))
        let partition = TopicPartition(topic: topic, partition: 0)
        #expect(try first.committed([partition], timeoutMillis: 5_000).first?.offset == TopicPartitionOffset.noOffset)
        try first.commit([TopicPartitionOffset(topic: topic, partition: 0, offset: 10)])
        #expect(try first.committed([partition], timeoutMillis: 5_000) == [TopicPartitionOffset(topic: topic, partition: 0, offset: 10)])
        first.close()

        let second = try KafkaConsumer(config: consumerConfig(cluster.bootstrapServers, group: group), topics: [topic])
        let rest = try drain(second, count: 10)
        #expect(rest.map(\.offset) == Array(10..<20))
        #expect(rest.map(\.value) == (10..<20).map { "m\($0)" })
        #expect(try drain(second, count: 1, seconds: 0.5).isEmpty)
        second.close()
    }

    @Test func cooperativeStickyAssignsIncrementally() throws {
        let topic = uniqueName("coop")
        try cluster.createTopic(topic, partitions: 2)
        let producer = try KafkaProducer(config: clientConfig(cluster.bootstrapServers, logs: logs))
        try producer.send(topic: topic, partition: 1, value: bytes("hello"))
        try producer.flush(timeoutMillis: 10_000)
        let events = Events()
        let consumer = try KafkaConsumer(
            config: consumerConfig(cluster.bootstrapServers, group: uniqueName("g"),
                                   [("partition.assignment.strategy", "cooperative-sticky")]),
            topics: [topic], onRebalance: { events.rebalances.append($0) })
        let records = try drain(consumer, count: 1)
        #expect(records.map(\.value) == ["hello"])
        #expect(consumer.rebalanceProtocol == "COOPERATIVE")
        #expect(Set(events.assigned) == [TopicPartition(topic: topic, partition: 0), TopicPartition(topic: topic, partition: 1)])
        consumer.close()
        #expect(events.rebalances.contains { if case .revoked = $0 { true } else { false } })
    }

    @Test func idempotentProducerCountsDeliveryReportsOnAnAutoCreatedTopic() throws {
        let topic = uniqueName("auto")
        let config = clientConfig(cluster.bootstrapServers, logs: logs)
        let producer = try KafkaProducer(config: config)
        for i in 0..<500 { try producer.send(topic: topic, key: bytes("k\(i)"), value: bytes("payload \(i)")) }
        try producer.flush(timeoutMillis: 10_000)
        #expect(producer.deliveredCount == 500)
        #expect(producer.failedCount == 0)
        #expect(producer.outstanding == 0)
        #expect(producer.takeDeliveryFailures().isEmpty)
        // The mock auto-creates topics with 4 partitions.
        #expect(try KafkaAdmin.partitionCount(config: config, topic: topic, timeoutMillis: 5_000) == 4)
    }

    @Test func aFullQueueAppliesBackPressureInsteadOfDropping() throws {
        let topic = uniqueName("pressure")
        try cluster.createTopic(topic, partitions: 2)
        let producer = try KafkaProducer(config: clientConfig(cluster.bootstrapServers, [
            ("queue.buffering.max.messages", "5"), ("linger.ms", "1"),
        ], logs: logs))
        for i in 0..<300 { try producer.send(topic: topic, value: bytes("m\(i)"), timeoutMillis: 10_000) }
        try producer.flush(timeoutMillis: 10_000)
        #expect(producer.deliveredCount == 300)
    }

    @Test func aMissingPartitionIsAFailureNotASilentDrop() throws {
        let topic = uniqueName("narrow")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(config: clientConfig(cluster.bootstrapServers, [("message.timeout.ms", "2000")], logs: logs))
        var failures: [KafkaError] = []
        do {
            try producer.send(topic: topic, partition: 7, value: bytes("lost?"))
            #expect(throws: KafkaError.self) { try producer.flush(timeoutMillis: 10_000) }
            failures = producer.takeDeliveryFailures()
            #expect(producer.failedCount == 1)
        } catch let error as KafkaError {
            failures = [error]  // known metadata: rejected at enqueue
        }
        #expect(failures.count == 1)
        #expect(failures.first?.code == KafkaError.Code.unknownPartition)
        #expect(producer.deliveredCount == 0)
    }

    @Test func adminCreateTopicsTimesOutOnTheMock() throws {
        let started = Date()
        do {
            try KafkaAdmin.createTopics(config: clientConfig(cluster.bootstrapServers, logs: logs),
                                        topics: [(name: uniqueName("admin"), partitions: 3, replicationFactor: 1)],
                                        timeoutMillis: 1_000)
            Issue.record("librdkafka 2.0.2's mock was expected not to support CreateTopics")
        } catch let error as KafkaError {
            #expect(error.code == KafkaError.Code.timedOut)
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func kcatReadsOurMessagesAndWeReadKcats() throws {
        let kcat = "/usr/bin/kcat"
        try #require(FileManager.default.isExecutableFile(atPath: kcat))
        let fromKcat = uniqueName("from-kcat")
        let toKcat = uniqueName("to-kcat")
        try cluster.createTopic(fromKcat, partitions: 1)
        try cluster.createTopic(toKcat, partitions: 1)

        let produced = try run(kcat, ["-P", "-b", cluster.bootstrapServers, "-t", fromKcat, "-K", ":"],
                               input: "alice:first\nbob:second\n")
        #expect(produced.status == 0)

        let producer = try KafkaProducer(config: clientConfig(cluster.bootstrapServers, logs: logs))
        try producer.send(topic: toKcat, key: bytes("carol"), value: bytes("third"), headers: [("h", bytes("1"))])
        try producer.send(topic: toKcat, key: nil, value: bytes("fourth"))
        try producer.flush(timeoutMillis: 10_000)
        let consumed = try run(kcat, ["-C", "-b", cluster.bootstrapServers, "-t", toKcat, "-o", "beginning", "-e", "-q",
                                      "-f", "%k=%s;%h\n"])
        #expect(consumed.status == 0)
        #expect(consumed.output == "carol=third;h=1\n=fourth;\n")

        let consumer = try KafkaConsumer(config: consumerConfig(cluster.bootstrapServers, group: uniqueName("g")), topics: [fromKcat])
        let records = try drain(consumer, count: 2)
        #expect(records.map { "\($0.key ?? "-")=\($0.value)" } == ["alice=first", "bob=second"])
        consumer.close()
    }

    @Test func subscribingToAMissingTopicAutoCreatesItOnTheMock() throws {
        // The mock ignores the consumer's allow.auto.create.topics=false: it creates 4 partitions.
        let topic = uniqueName("missing")
        let events = Events()
        let consumer = try KafkaConsumer(config: consumerConfig(cluster.bootstrapServers, group: uniqueName("g")),
                                         topics: [topic], onRebalance: { events.rebalances.append($0) })
        let deadline = Date().addingTimeInterval(15)
        while events.assigned.isEmpty && Date() < deadline {
            _ = try consumer.poll(max: 10, timeoutMillis: 100) { _ in Issue.record("no messages expected") }
        }
        #expect(Set(events.assigned) == Set((0..<4).map { TopicPartition(topic: topic, partition: $0) }))
        consumer.close()
    }
}

/// Failures with nothing to talk to.
@Suite struct DeliveryFailureTests {
    @Test func consumerErrorsAreReportedNotDelivered() throws {
        let logs = LogCollector()
        let events = Events()
        var config = consumerConfig("127.0.0.1:1", group: uniqueName("g"))
        config.logHandler = logs.handler
        let consumer = try KafkaConsumer(config: config, topics: ["transfers"], onError: { events.errors.append($0) })
        let deadline = Date().addingTimeInterval(10)
        while events.errors.isEmpty && Date() < deadline {
            #expect(try consumer.poll(max: 10, timeoutMillis: 100) { _ in Issue.record("no messages expected") } == 0)
        }
        let codes: Set<Int32> = [RD_KAFKA_RESP_ERR__TRANSPORT.rawValue, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue]
        #expect(events.errors.contains { codes.contains($0.code) })
        #expect(consumer.errorCount == UInt64(events.errors.count))
        consumer.close()
    }

    @Test func undeliverableMessagesAreReportedAndFlushThrows() throws {
        let logs = LogCollector()
        let producer = try KafkaProducer(config: clientConfig("127.0.0.1:1", [("message.timeout.ms", "300")], logs: logs))
        try producer.send(topic: "alerts", value: bytes("alert-1"))
        try producer.send(topic: "alerts", value: bytes("alert-2"))
        #expect(throws: KafkaError.self) { try producer.flush(timeoutMillis: 5_000) }
        #expect(producer.failedCount == 2)
        #expect(producer.deliveredCount == 0)
        let failures = producer.takeDeliveryFailures()
        #expect(failures.count == 2)
        #expect(failures.allSatisfy { $0.code == KafkaError.Code.messageTimedOut && $0.isRetriable })
        #expect(failures.first?.message.contains("alerts") == true)
        try producer.flush(timeoutMillis: 1_000)  // failures taken: nothing left to report
        #expect(logs.lines.contains { $0.contains("127.0.0.1:1") })
        producer.close()
        producer.close()
        #expect(throws: KafkaError.self) { try producer.send(topic: "alerts", value: bytes("late")) }
    }

    @Test func aQueueThatStaysFullTimesOutWithAnError() throws {
        let producer = try KafkaProducer(config: clientConfig("127.0.0.1:1", [
            ("queue.buffering.max.messages", "2"), ("message.timeout.ms", "60000"),
        ]))
        try producer.send(topic: "alerts", value: bytes("1"))
        try producer.send(topic: "alerts", value: bytes("2"))
        let started = Date()
        do {
            try producer.send(topic: "alerts", value: bytes("3"), timeoutMillis: 200)
            Issue.record("expected queue full")
        } catch let error as KafkaError {
            #expect(error.code == KafkaError.Code.queueFull)
            #expect(error.message.contains("200 ms"))
        }
        #expect(Date().timeIntervalSince(started) >= 0.2)
        #expect(producer.outstanding == 2)
    }

    @Test func secretsNeverReachTheLog() throws {
        let logs = LogCollector()
        let producer = try KafkaProducer(config: clientConfig("127.0.0.1:1", [
            ("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "alice"), ("sasl.password", "hunter2-very-secret"),
            ("debug", "conf,security"), ("message.timeout.ms", "200"),
        ], logs: logs))
        try producer.send(topic: "t", value: bytes("x"))
        _ = try? producer.flush(timeoutMillis: 2_000)
        producer.close()
        #expect(!logs.lines.isEmpty)
        #expect(!logs.lines.contains { $0.contains("hunter2-very-secret") })
    }
}
