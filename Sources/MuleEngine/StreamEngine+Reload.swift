import Logging
import MuleCore
import MuleKafka
import MuleRules

/// Hot reload: the rule files and the snooze file are read again on request (SIGHUP) or when
/// they change, validated as a whole, and swapped in between batches. Window state is kept
/// (`Detector.replaceRules`); a file that does not validate changes nothing.
extension StreamEngine {
    func reloadRules(trigger: String) {
        guard let path = config.rulesPath else {
            logger.warning("\(trigger): ignored, the engine was not given a rules path")
            return
        }
        let newRules: [Rule]
        var snoozes = fileSnoozes
        switch readForReload(rulesPath: path, snoozeFile: config.snoozeFile, watch: &ruleWatch) {
        case .failure(let refusal):
            refuseReload(trigger: trigger, problems: refusal.problems)
            return
        case .success(let (rules, s)):
            newRules = rules
            if let s { snoozes = s }
        }
        let oldSet = detector.ruleSet
        let oldKeys = detector.ruleList.map(\.key)
        if ruleSetHash(newRules) != oldSet || newRules.map(\.key) != oldKeys {
            detector.replaceRules(newRules)
        }
        fileSnoozes = snoozes
        counters.ruleReloads += 1
        logger.notice("rules reloaded (window state kept)", metadata: [
            "trigger": "\(trigger)",
            "rule_set": "\(oldSet) → \(detector.ruleSet)",
            "rules": "\(oldKeys.joined(separator: ",")) → \(detector.ruleList.map(\.key).joined(separator: ","))",
            "file_snoozes": "\(fileSnoozes.count)",
        ])
    }

    private func refuseReload(trigger: String, problems: [String]) {
        counters.ruleReloadFailures += 1
        logReloadRefused(logger, trigger: trigger, ruleSet: detector.ruleSet, problems: problems)
    }
}

/// Why a reload changed nothing: every problem found in the rule files or the snooze file.
struct ReloadRefusal: Error {
    var problems: [String]
}

/// Reads the rule files and (if configured) the snooze file for a hot reload: all of it
/// validates, or nothing is taken. The watch is marked first, so an edit made while loading is
/// noticed at the next check.
func readForReload(rulesPath: String, snoozeFile: String?, watch: inout RuleFileWatch?) -> Result<(rules: [Rule], snoozes: SnoozeList?), ReloadRefusal> {
    if let stamps = watch?.fingerprint() { watch?.markLoaded(stamps) }
    let loaded: [LoadedRule]
    do {
        loaded = try RuleLoader.load(path: rulesPath)
    } catch {
        return .failure(ReloadRefusal(problems: error.errors.map(\.description)))
    }
    guard let file = snoozeFile else { return .success((loaded.map(\.rule), nil)) }
    do {
        return .success((loaded.map(\.rule), SnoozeList(try SnoozeFile.load(path: file))))
    } catch {
        return .failure(ReloadRefusal(problems: [error.description]))
    }
}

func logReloadRefused(_ logger: Logger, trigger: String, ruleSet: String, problems: [String]) {
    logger.error("rule reload refused: the old rules keep running", metadata: [
        "trigger": "\(trigger)", "rule_set": "\(ruleSet)", "problems": "\(problems.count)",
    ])
    for p in problems { logger.error("rule reload refused: \(p)") }
}

/// The snooze topic: read to its end before any input, then followed from the engine loop.
extension StreamEngine {
    func startSnoozeTopic() throws {
        guard let topic = config.snoozeTopic else { return }
        let reader = try SnoozeTopicReader(config: config.kafka, topic: topic,
                                           timeoutMillis: Int32(clamping: config.snoozeStartupTimeoutMillis))
        snoozeReader = reader
        let complete = try reader.readToEnd(timeoutMillis: config.snoozeStartupTimeoutMillis) { message in
            applySnoozeRecord(message)
        }
        if complete {
            logger.info("snooze topic read", metadata: ["topic": "\(topic)", "records": "\(counters.snoozeRecords)",
                                                        "snoozes": "\(topicSnoozes.count)"])
        } else {
            logger.warning("snooze topic not read to its end in time: starting anyway, the rest follows", metadata: [
                "topic": "\(topic)", "records": "\(counters.snoozeRecords)",
            ])
        }
    }

    func followSnoozeTopic() throws {
        guard let reader = snoozeReader else { return }
        try reader.poll(max: 500, timeoutMillis: 0) { message in applySnoozeRecord(message) }
    }

    private func applySnoozeRecord(_ message: borrowing KafkaMessage) {
        let key = message.key.map { Array($0) }
        let value: [UInt8]? = message.isNullValue ? nil : Array(message.value)
        do throws(SnoozeRecord.Problem) {
            switch try SnoozeRecord.parse(key: key, value: value) {
            case .set(let s):
                topicSnoozes.set(s)
                logger.debug("snooze set", metadata: ["account": "\(s.account)", "rule": "\(s.ruleId ?? "*")",
                                                      "until": "\(formatRFC3339(millis: s.untilMillis))", "reason": "\(s.reason)",
                                                      "topic": "\(config.snoozeTopic ?? "")", "partition": "\(message.partition)",
                                                      "offset": "\(message.offset)"])
            case .lift(let account, let ruleId):
                topicSnoozes.remove(account: account, ruleId: ruleId)
                logger.debug("snooze lifted", metadata: ["account": "\(account)", "rule": "\(ruleId ?? "*")",
                                                         "topic": "\(config.snoozeTopic ?? "")", "partition": "\(message.partition)",
                                                         "offset": "\(message.offset)"])
            }
            counters.snoozeRecords += 1
        } catch {
            counters.snoozeRecordsMalformed += 1
            logger.warning("malformed snooze record skipped", metadata: [
                "topic": "\(config.snoozeTopic ?? "")", "partition": "\(message.partition)", "offset": "\(message.offset)",
                "reason": "\(error.message)",
            ])
        }
    }
}
