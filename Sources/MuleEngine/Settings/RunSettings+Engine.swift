import MuleCore
import MuleKafka
import MuleRules

/// From settings to the values the engine and the core take.
extension RunSettings {
    /// Settings `mulestream run` cannot start without.
    public static let required = ["kafka.brokers", "topics.input", "topics.output", "rules.path"]

    /// The core's tuning (every detector setting has a default).
    public func detectorConfig() -> DetectorConfig {
        var c = DetectorConfig()
        c.allowedLatenessMillis = millis("detector.allowed_lateness") ?? c.allowedLatenessMillis
        c.latePolicy = text("detector.late_policy").flatMap(LatePolicy.init(rawValue:)) ?? c.latePolicy
        c.dedupHorizonMillis = millis("detector.dedup_horizon") ?? c.dedupHorizonMillis
        c.maxAccounts = integer("detector.max_accounts").map { Int($0) } ?? c.maxAccounts
        c.maxLegsPerAccount = integer("detector.max_legs_per_account").map { Int($0) } ?? c.maxLegsPerAccount
        c.reserveAccounts = integer("detector.reserve_accounts").map { Int($0) } ?? c.reserveAccounts
        c.reserveTransferIds = integer("detector.reserve_transfer_ids").map { Int($0) } ?? c.reserveTransferIds
        c.chains.hopWindowMillis = millis("detector.hop_window") ?? c.chains.hopWindowMillis
        c.chains.gangHorizonMillis = millis("detector.gang_horizon") ?? c.chains.gangHorizonMillis
        // Hops are remembered for eight hop windows, enough to walk a chain several layers deep.
        c.chains.hopMemoryMillis = c.chains.hopWindowMillis * 8
        return c
    }

    /// librdkafka properties: `bootstrap.servers` and `group.id` from `kafka.brokers` and
    /// `kafka.group`, unless a property of the same name comes from the same or a stronger source.
    public func kafkaConfig() -> KafkaConfig {
        var kc = KafkaConfig()
        var fromSettings: [(String, String)] = []
        for (property, key) in [("bootstrap.servers", "kafka.brokers"), ("group.id", "kafka.group")] {
            guard let s = setting(key) else { continue }
            if let p = properties.first(where: { $0.key == property }), p.origin.rank >= s.origin.rank { continue }
            fromSettings.append((property, s.value.text))
        }
        for p in properties where !fromSettings.contains(where: { $0.0 == p.key }) { kc.set(p.key, p.value) }
        for (property, value) in fromSettings { kc.set(property, value) }
        return kc
    }

    /// The engine's configuration, or every problem (missing required settings, topics that
    /// clash, …) as one failure.
    public func engineConfig() throws(RuleLoadFailure) -> EngineConfig {
        var problems = Self.required.filter { text($0) == nil }.map { key in
            RuleFileError(file: key, line: 0, column: 0, field: "", message: "is required: set \(Self.ways(toSet: key))")
        }
        guard problems.isEmpty, let input = text("topics.input"), let output = text("topics.output") else {
            throw RuleLoadFailure(errors: problems)
        }
        var config = EngineConfig(kafka: kafkaConfig(), inputTopic: input, outputTopic: output,
                                  deadLetterTopic: text("topics.dead_letter"), shadowTopic: text("topics.shadow_output"))
        config.rulesPath = text("rules.path")
        config.snoozeFile = text("rules.snoozes")
        config.snoozeTopic = text("topics.snooze_topic")
        config.ruleCheckIntervalMillis = millis("rules.check_interval") ?? config.ruleCheckIntervalMillis
        config.detector = detectorConfig()
        config.commitIntervalMillis = millis("engine.commit_interval") ?? config.commitIntervalMillis
        config.idleFlushMillis = millis("engine.idle_flush") ?? config.idleFlushMillis
        config.partitionIdleMillis = millis("engine.partition_idle") ?? config.partitionIdleMillis
        config.exitWhenIdleMillis = millis("engine.exit_when_idle")
        config.exactlyOnce = flag("engine.exactly_once")
        config.transactionalId = text("engine.transactional_id")
        config.checkpointDir = text("checkpoint.dir")
        config.checkpointIntervalMillis = millis("checkpoint.interval") ?? config.checkpointIntervalMillis
        config.checkpointsKept = integer("checkpoint.kept").map { Int($0) } ?? config.checkpointsKept
        if let app = text("scale.app_id") {
            var scale = ScaleOutConfig(appId: app)
            scale.legsPartitions = integer("scale.legs_partitions").map { Int32($0) } ?? scale.legsPartitions
            scale.linkDelayMillis = millis("scale.link_delay") ?? scale.linkDelayMillis
            scale.snapshotIntervalMillis = millis("scale.snapshot_interval") ?? scale.snapshotIntervalMillis
            config.scaleOut = scale
        }
        problems = config.problems().map { RuleFileError(file: "configuration", line: 0, column: 0, field: "", message: $0) }
        guard problems.isEmpty else { throw RuleLoadFailure(errors: problems) }
        return config
    }
}
