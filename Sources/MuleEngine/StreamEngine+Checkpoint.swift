import Logging
import MuleCore
import MuleKafka

/// A transaction was aborted: the engine rewinds to its last checkpoint (or empty state) and
/// the committed offsets.
struct TransactionAborted: Error {
    var cause: KafkaError
}

/// Checkpoints: the detector's state and the input offsets it covers, written every
/// `checkpointIntervalMillis`, on partition revoke and on shutdown, after the alerts and dead
/// letters of every event they cover are acknowledged (so a restore never skips an alert);
/// restored at start-up from the newest readable file, older ones tried when it is damaged.
///
/// Consistency with the input: a checkpoint's offset for a partition is the next event its state
/// does not hold. On restore each assigned partition is read from there (not from the committed
/// offset, which may be behind because of the reorder buffer, or ahead because commits are more
/// frequent than checkpoints): events before it are in the state and are not applied again;
/// events from it on are read again (their alerts, already published before a crash, are
/// published again with the same ids). Partitions the checkpoint does not know start at the
/// committed offset.
///
/// State is global per account (one engine owns all input partitions); the offsets are kept per
/// partition so that state kept per partition can be restored per partition later.
extension StreamEngine {
    /// Replaces the detector with the newest checkpoint that reads back; logs and counts each
    /// one it has to skip.
    func restoreNewestCheckpoint() {
        guard let store = checkpoints else { return }
        let entries: [CheckpointStore.Entry]
        do { entries = try store.entries() } catch {
            logger.error("cannot list checkpoints: starting from committed offsets", metadata: ["error": "\(error)"])
            return
        }
        for entry in entries {
            let checkpoint: Checkpoint
            let restored: Detector
            do {
                checkpoint = try Checkpoint.decode(try store.read(entry))
                if let other = checkpoint.offsets.first(where: { $0.topic != config.inputTopic }) {
                    throw CheckpointError.corrupt("it covers topic `\(other.topic)`, the input is `\(config.inputTopic)`")
                }
                restored = try Detector(rules: detector.ruleList, config: config.detector, restoring: checkpoint.detectorState)
            } catch {
                let code = (error as? CheckpointError)?.code ?? "unreadable"
                counters.checkpointsRejected[code, default: 0] += 1
                logger.error("checkpoint rejected: trying an older one", metadata: [
                    "file": "\(entry.path)", "reason": "\(error)"])
                continue
            }
            if checkpoint.ruleSet != restored.ruleSet {
                // Windows, legs, hops and ties do not depend on the rules; cool-downs carry over by
                // rule id exactly as in a hot reload.
                logger.notice("rules changed since the checkpoint: state kept, cool-downs carried over by rule id", metadata: [
                    "rule_set": "\(checkpoint.ruleSet) → \(restored.ruleSet)"])
            }
            detector = restored
            stateNext = Dictionary(checkpoint.offsets.map { ($0.partition, $0.next) }, uniquingKeysWith: max)
            counters.checkpointsRestored = 1
            logger.notice("restored checkpoint", metadata: [
                "file": "\(entry.path)", "accounts": "\(restored.trackedAccounts)", "buffered": "\(restored.bufferedTransfers)",
                "offsets": "\(describe(stateNext))", "taken_at": "\(formatRFC3339(millis: checkpoint.takenAtMillis))",
            ])
            return
        }
        if !entries.isEmpty {
            logger.warning("no readable checkpoint: starting from the committed offsets with empty state")
        }
    }

    /// Publishes and acknowledges everything (committing, in a transaction with
    /// `exactlyOnce`), then writes the state and the offsets it covers. A failure to write the
    /// file is logged and counted; the engine goes on (the older checkpoints stay valid).
    func writeCheckpoint(reason: String) throws {
        guard let store = checkpoints else { return }
        try publishAlerts()
        guard try commitProcessed() else {
            // Not every alert is acknowledged: a checkpoint now could skip one after a crash.
            logger.warning("checkpoint deferred until the brokers acknowledge", metadata: ["reason": "\(reason)"])
            return
        }
        let clock = ContinuousClock()
        let started = clock.now
        var next = stateNext
        for (p, last) in consumedThrough { next[p] = max(next[p] ?? 0, last + 1) }
        let checkpoint = Checkpoint(
            offsets: next.keys.sorted().map { CheckpointOffset(topic: config.inputTopic, partition: $0, next: next[$0]!) },
            ruleSet: detector.ruleSet, takenAtMillis: wallClockMillis(), detectorState: detector.checkpointState())
        let bytes = checkpoint.encoded()
        do {
            let path = try store.write(bytes, sequence: checkpointSequence + 1)
            checkpointSequence += 1
            stateMarkAtCheckpoint = stateMark
            lastCheckpointAt = clock.now  // mulestream_checkpoint_age_seconds
            counters.checkpointsWritten += 1
            counters.checkpointBytes = UInt64(bytes.count)
            let took = clock.now - started
            logger.info("checkpoint written", metadata: [
                "reason": "\(reason)", "file": "\(path)", "bytes": "\(bytes.count)",
                "ms": "\(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000)",
                "offsets": "\(describe(next))",
            ])
        } catch {
            counters.checkpointFailures += 1
            logger.error("checkpoint not written: the older checkpoints remain", metadata: [
                "reason": "\(reason)", "error": "\(error)"])
        }
    }

    /// Commits the open transaction with `offsets` and opens the next one; an error that needs
    /// an abort aborts it and throws `TransactionAborted`.
    func commitTransaction(consumer: KafkaConsumer, offsets: [TopicPartitionOffset]) throws {
        do {
            try producer.sendOffsetsToTransaction(offsets, consumer: consumer, timeoutMillis: 30_000)
            try producer.commitTransaction(timeoutMillis: 60_000)
        } catch let error as KafkaError where error.requiresAbort {
            counters.transactionsAborted += 1
            abandoning = true
            try producer.abortTransaction(timeoutMillis: 60_000)
            try producer.beginTransaction()
            throw TransactionAborted(cause: error)
        }
        for o in offsets { committedNext[o.partition] = o.offset }
        if !offsets.isEmpty { counters.commits += 1 }
        counters.transactionsCommitted += 1
        try producer.beginTransaction()
    }

    /// After an abort: the state that went with the aborted output is dropped; the newest
    /// checkpoint (or empty state) is the new start, read from its offsets (or the committed ones).
    func rewindAfterAbort() {
        consumer?.close()
        consumer = nil
        detector = Detector(rules: detector.ruleList, config: config.detector)
        _ = detector.takeAlerts()
        stateNext = [:]
        consumedThrough = [:]
        committedNext = [:]
        partitionLastInput = [:]
        replayUntil = [:]
        abandoning = false
        restoreNewestCheckpoint()
    }

    /// With `exactlyOnce`, output of events between the state's offsets and the group's committed
    /// offsets is already in committed transactions: note that range so it is not repeated.
    func noteReplayRange(_ partitions: [Int32]) {
        guard let consumer else { return }
        let known = partitions.filter { stateNext[$0] != nil }
        guard !known.isEmpty else { return }
        do {
            let committed = try consumer.committed(known.map { TopicPartition(topic: config.inputTopic, partition: $0) },
                                                   timeoutMillis: 10_000)
            for c in committed where c.offset > stateNext[c.partition] ?? .max {
                replayUntil[c.partition] = c.offset
            }
            if !replayUntil.isEmpty {
                logger.info("replaying events a committed transaction covered: their output is not repeated", metadata: [
                    "until": "\(describe(replayUntil))"])
            }
        } catch {
            // Without it, output of the replayed range would be repeated; refuse to guess.
            logger.error("cannot read committed offsets after restore", metadata: ["error": "\(error)"])
            rewindPending = KafkaError(code: -1, message: "committed offsets unavailable after restore: \(error)")
        }
    }

    func describe(_ offsets: [Int32: Int64]) -> String {
        offsets.keys.sorted().map { "\($0):\(offsets[$0]!)" }.joined(separator: ",")
    }
}
