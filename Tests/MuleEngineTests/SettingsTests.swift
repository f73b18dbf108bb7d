import Foundation
import Logging
import MuleCore
import MuleEngine
import MuleKafka
import MuleRules
import Testing

/// The configuration of `mulestream run`: defaults < file < environment < flags, the
/// environment scheme, file errors with positions, `--print-config` and redaction.
struct SettingsTests {
    static let file = """
    kafka:
      brokers: [file-1:9092, file-2:9092]
      group: from-file
      properties:
        client.id: file-client
        linger.ms: 5
        sasl.password: file-secret
    topics:
      input: payments
      output: alerts
    rules:
      path: Rules
    detector:
      allowed_lateness: 30s
      max_accounts: 500
      hop_window: 1h
    log:
      level: notice
    """

    static func resolve(file: String? = Self.file, env: [String: String] = [:], flags: [String: String] = [:],
                        properties: [String] = []) throws -> RunSettings {
        let layer = try file.map { try SettingsFile.parse(yaml: $0, file: "run.yaml") }
        let e = SettingsLayer.environment(env)
        #expect(e.problems.isEmpty, "\(e.problems)")
        let f = SettingsLayer.flags(flags, properties: properties)
        #expect(f.problems.isEmpty, "\(f.problems)")
        return try RunSettings.resolve(file: layer, environment: e.layer, flags: f.layer)
    }

    static func fileErrors(_ yaml: String) -> [String] {
        do {
            _ = try SettingsFile.parse(yaml: yaml, file: "run.yaml")
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    // MARK: Precedence

    @Test func eachSourceOverridesTheOneBelowItSettingBySetting() throws {
        let defaults = try Self.resolve(file: nil)
        #expect(defaults.millis("detector.allowed_lateness") == 5000)
        #expect(defaults.origin("detector.allowed_lateness") == .defaultValue)
        #expect(defaults.text("kafka.brokers") == nil)

        let fileOnly = try Self.resolve()
        #expect(fileOnly.text("kafka.brokers") == "file-1:9092,file-2:9092")
        #expect(fileOnly.millis("detector.allowed_lateness") == 30_000)
        #expect(fileOnly.origin("detector.allowed_lateness") == .file(path: "run.yaml", line: 14, column: 21))
        #expect(fileOnly.integer("detector.max_accounts") == 500)
        #expect(fileOnly.millis("detector.dedup_horizon") == 86_400_000)  // not in the file: default

        let env = ["MULESTREAM_BROKERS": "env:9092", "MULESTREAM_ALLOWED_LATENESS": "1m", "MULESTREAM_LOG_LEVEL": "debug"]
        let withEnv = try Self.resolve(env: env)
        #expect(withEnv.text("kafka.brokers") == "env:9092")
        #expect(withEnv.origin("kafka.brokers") == .environment("MULESTREAM_BROKERS"))
        #expect(withEnv.millis("detector.allowed_lateness") == 60_000)
        #expect(withEnv.text("log.level") == "debug")
        #expect(withEnv.integer("detector.max_accounts") == 500)  // file still counts where env says nothing

        let all = try Self.resolve(env: env, flags: ["allowed-lateness": "2s", "max-accounts": "7"])
        #expect(all.millis("detector.allowed_lateness") == 2000)
        #expect(all.origin("detector.allowed_lateness") == .flag("--allowed-lateness"))
        #expect(all.integer("detector.max_accounts") == 7)
        #expect(all.text("kafka.brokers") == "env:9092")
        #expect(all.text("log.level") == "debug")
        #expect(all.millis("detector.hop_window") == 3_600_000)
        let detector = all.detectorConfig()
        #expect(detector.allowedLatenessMillis == 2000 && detector.maxAccounts == 7)
        #expect(detector.chains.hopWindowMillis == 3_600_000 && detector.chains.hopMemoryMillis == 8 * 3_600_000)
    }

    @Test func kafkaPropertiesMergeKeyByKeyInTheSameOrder() throws {
        let s = try RunSettings.resolve(
            file: SettingsFile.parse(yaml: Self.file, file: "run.yaml"),
            environment: SettingsLayer.environment(["MULESTREAM_KAFKA_CLIENT_ID": "env-client", "MULESTREAM_KAFKA_CONFIG": "k.properties"]).layer,
            flags: SettingsLayer.flags([:], properties: ["linger.ms=50"]).layer,
            readProperties: { path in
                #expect(path == "k.properties")
                return [("client.id", "propfile-client"), ("acks", "all"), ("auto.offset.reset", "latest")]
            })
        let byKey = Dictionary(uniqueKeysWithValues: s.properties.map { ($0.key, $0) })
        #expect(byKey["client.id"]?.value == "env-client")
        #expect(byKey["client.id"]?.origin == .environment("MULESTREAM_KAFKA_CLIENT_ID"))
        #expect(byKey["linger.ms"]?.value == "50")
        #expect(byKey["acks"]?.origin == .propertiesFile("k.properties"))
        #expect(byKey["auto.offset.reset"]?.value == "latest")  // the properties file beats the default
        #expect(byKey["sasl.password"]?.value == "file-secret")
        #expect(s.properties.count == byKey.count)  // one entry per key
        let kc = s.kafkaConfig()
        #expect(kc["bootstrap.servers"] == "file-1:9092,file-2:9092")
        #expect(kc["group.id"] == "from-file")
        #expect(kc["client.id"] == "env-client")
    }

    @Test func bootstrapServersPropertyCompetesWithBrokersBySource() throws {
        // `-X bootstrap.servers` (a flag) beats `kafka.brokers` from the file …
        let flagProperty = try Self.resolve(properties: ["bootstrap.servers=x:1"])
        #expect(flagProperty.kafkaConfig()["bootstrap.servers"] == "x:1")
        // … but `--brokers` beats `bootstrap.servers` set in the file's properties.
        let yaml = Self.file.replacingOccurrences(of: "    client.id: file-client", with: "    bootstrap.servers: y:1")
        #expect(try Self.resolve(file: yaml).kafkaConfig()["bootstrap.servers"] == "y:1")
        #expect(try Self.resolve(file: yaml, flags: ["brokers": "z:1"]).kafkaConfig()["bootstrap.servers"] == "z:1")
    }

    // MARK: Environment

    @Test func environmentVariablesAreNamedAfterFlagsAndChecked() throws {
        #expect(SettingSpec.named("detector.max_legs_per_account")?.environmentName == "MULESTREAM_MAX_LEGS_PER_ACCOUNT")
        #expect(SettingSpec.named("kafka.config_file")?.environmentName == "MULESTREAM_KAFKA_CONFIG")
        let e = SettingsLayer.environment([
            "MULESTREAM_MAX_LEGS_PER_ACCOUNT": "64", "MULESTREAM_KAFKA_SASL_PASSWORD": "pw", "MULESTREAM_SNOOZES": "",
            "MULESTREAM_BROKER": "typo:1", "MULESTREAM_CONFIG": "x.yaml", "HOME": "/root", "MULESTREAM_HOP_WINDOW": "0s",
            "MULESTREAM_CREATE_TOPICS": "yes",
        ])
        #expect(e.layer.values["detector.max_legs_per_account"]?.value == .integer(64))
        #expect(e.layer.values["topics.create"]?.value == .flag(true))
        #expect(e.layer.values["rules.snoozes"] == nil)  // empty = not set
        #expect(e.layer.properties == [KafkaProperty(key: "sasl.password", value: "pw", origin: .environment("MULESTREAM_KAFKA_SASL_PASSWORD"))])
        #expect(e.warnings == ["ignoring unknown environment variable MULESTREAM_BROKER (did you mean MULESTREAM_BROKERS?)"])
        #expect(e.problems.map(\.description) == ["MULESTREAM_HOP_WINDOW: must be longer than 0, got `0s`"])
    }

    @Test func everySettingHasAUniqueKeyFlagAndVariableAndAValidDefault() {
        let specs = SettingSpec.all
        #expect(Set(specs.map(\.key)).count == specs.count)
        #expect(Set(specs.map(\.flag)).count == specs.count)
        #expect(Set(specs.map(\.environmentName)).count == specs.count)
        for spec in specs {
            #expect(spec.key.split(separator: ".").count == 2, "\(spec.key)")
            if let d = spec.defaultText {
                #expect(SettingsLayer.defaults.values[spec.key] != nil, "\(spec.key) default \(d)")
            }
        }
    }

    // MARK: File errors

    @Test func unknownKeysAreLocatedWithASuggestion() {
        #expect(Self.fileErrors("kafka:\n  brokres: a:1\n") == ["run.yaml:2:3: kafka.brokres: unknown key `brokres` (did you mean `brokers`?)"])
        #expect(Self.fileErrors("detecter:\n  hop_window: 1h\n") == ["run.yaml:1:1: detecter: unknown section `detecter` (did you mean `detector`?)"])
        #expect(Self.fileErrors("brokers: a:1\n") == [
            "run.yaml:1:1: brokers: unknown section `brokers` (did you mean `kafka.brokers`? `brokers` belongs in the `kafka:` section)",
        ])
        #expect(Self.fileErrors("engine:\n  max-accounts: 5\n") == [
            "run.yaml:2:3: engine.max-accounts: unknown key `max-accounts` (did you mean `detector.max_accounts`? `max_accounts` belongs in the `detector:` section)",
        ])
    }

    @Test func wrongTypesAndValuesAreExplainedInPlainWords() {
        let errors = Self.fileErrors("""
        topics:
          partitions: many
          create: maybe
        detector:
          allowed_lateness: 5
          dedup_horizon: soon
          late_policy: dropp
          max_legs_per_account: 1
        log: debug
        kafka:
          properties: [a, b]
          brokers: { a: 1 }
        http:
          address: localhost
        """)
        #expect(errors == [
            "run.yaml:2:15: topics.partitions: must be a whole number like 1, got `many`",
            "run.yaml:3:11: topics.create: must be true or false, got `maybe`",
            "run.yaml:5:21: detector.allowed_lateness: must be a duration with a unit (ms, s, m, h or d), like 90s or 15m; got the bare number 5",
            "run.yaml:6:18: detector.dedup_horizon: must be a duration like 90s, 15m, 2h or 1d, got `soon`",
            "run.yaml:7:16: detector.late_policy: must be one of drop, process, got `dropp` (did you mean `drop`?)",
            "run.yaml:8:25: detector.max_legs_per_account: must be between 2 and 1000000, got 1",
            "run.yaml:9:6: log: must be a mapping of settings, got `debug`",
            "run.yaml:11:15: kafka.properties: must be a mapping of librdkafka properties (like `security.protocol: SASL_SSL`), got a list",
            "run.yaml:12:12: kafka.brokers: must be a single value, got a mapping",
            "run.yaml:14:12: http.address: the port must be a number from 0 to 65535 (expected HOST:PORT or PORT, got `localhost`)",
        ])
    }

    @Test func hostileYAMLIsRefusedLikeARuleFile() {
        #expect(Self.fileErrors("kafka:\n  group: a\n  group: b\n").first?.contains("run.yaml:3:3") == true)
        #expect(Self.fileErrors("a: &x 1\nb: *x\n").first?.contains("anchor") == true)
        #expect(Self.fileErrors("").isEmpty)
    }

    @Test func missingRequiredSettingsSayHowToSetThem() throws {
        do {
            _ = try Self.resolve(file: "topics:\n  input: a\n  output: b\n").engineConfig()
            Issue.record("accepted a configuration without brokers and rules")
        } catch let error as RuleLoadFailure {
            #expect(error.errors.map(\.description) == [
                "kafka.brokers: is required: set --brokers, MULESTREAM_BROKERS or `kafka.brokers` in the config file",
                "rules.path: is required: set --rules, MULESTREAM_RULES or `rules.path` in the config file",
            ])
        }
        do {
            _ = try Self.resolve(flags: ["output": "payments"]).engineConfig()
            Issue.record("accepted the same input and output topic")
        } catch let error as RuleLoadFailure {
            #expect(error.errors.map(\.description) == ["configuration: the output topic must differ from the input topic"])
        }
    }

    // MARK: Printing and redaction

    @Test func printedConfigurationReadsBackToTheSameValuesWithSecretsRedacted() throws {
        let s = try Self.resolve(env: ["MULESTREAM_KAFKA_SSL_KEY_PASSWORD": "env-secret", "MULESTREAM_DEAD_LETTER": "dlq \"quoted\""],
                                 flags: ["idle-flush": "0s", "create-topics": "true"], properties: ["sasl.username=u"])
        let yaml = s.printedYAML()
        #expect(!yaml.contains("file-secret") && !yaml.contains("env-secret"))
        #expect(yaml.contains(#"sasl.password: "[redacted]""#))
        #expect(yaml.contains("# env MULESTREAM_DEAD_LETTER"))
        #expect(yaml.contains("# flag --idle-flush"))
        #expect(yaml.contains("# file run.yaml:"))
        #expect(yaml.contains("# default"))
        let again = try RunSettings.resolve(file: SettingsFile.parse(yaml: yaml, file: "printed.yaml"))
        for spec in SettingSpec.all where spec.kind != .properties {
            #expect(again.setting(spec.key)?.value == s.setting(spec.key)?.value, "\(spec.key)")
        }
        #expect(again.properties.map(\.key) == s.properties.map(\.key))
        #expect(again.properties.map(\.shownValue) == s.properties.map(\.shownValue))
    }

    @Test func startupLogLineRedactsSecretsAndNamesSources() throws {
        let s = try Self.resolve(env: ["MULESTREAM_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET": "oauth-secret"])
        let sink = LogSink.capturing()
        let logger = Logger(label: "mulestream") { JSONLogHandler(label: $0, sink: sink) }
        logger.info("configuration", metadata: s.logMetadata())
        let line = try #require(sink.lines.first)
        #expect(!line.contains("file-secret") && !line.contains("oauth-secret"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let metadata = try #require(object["metadata"] as? [String: String])
        #expect(metadata["kafka.properties.sasl.password"] == "[redacted] (file run.yaml:7)")
        #expect(metadata["kafka.properties.sasl.oauthbearer.client.secret"] == "[redacted] (env MULESTREAM_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET)")
        #expect(metadata["detector.max_accounts"] == "500 (file run.yaml:15)")
        #expect(metadata["detector.dedup_horizon"] == nil)  // defaults are left out
    }

    // MARK: JSON log lines

    @Test func jsonLogLinesAreOneObjectEachWithTheExpectedKeys() throws {
        let sink = LogSink.capturing()
        var logger = Logger(label: "mulestream") { JSONLogHandler(label: $0, sink: sink) }
        logger.logLevel = .debug
        logger[metadataKey: "instance"] = "i-1"
        logger.debug("dead-lettered event", metadata: ["reason": "missing_field: \"payee\"\nnext", "offset": "42"])
        logger.warning("nested", metadata: ["list": ["a", "b"], "map": ["k": "v"]])
        logger.trace("not shown")
        let lines = sink.lines
        #expect(lines.count == 2)
        for line in lines {
            #expect(line.hasSuffix("}\n") && line.dropLast().allSatisfy { $0 != "\n" })
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(Set(o.keys) == ["ts", "level", "label", "message", "metadata"])
            #expect(o["label"] as? String == "mulestream")
            #expect((o["ts"] as? String)?.hasSuffix("Z") == true)
        }
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["level"] as? String == "debug")
        #expect(first["message"] as? String == "dead-lettered event")
        let meta = try #require(first["metadata"] as? [String: String])
        #expect(meta == ["reason": "missing_field: \"payee\"\nnext", "offset": "42", "instance": "i-1"])
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        let nested = try #require(second["metadata"] as? [String: Any])
        #expect(nested["list"] as? [String] == ["a", "b"])
        #expect(nested["map"] as? [String: String] == ["k": "v"])
    }

    @Test func jsonLineIsExactForAFixedTime() {
        let line = JSONLogHandler.line(ts: 1_764_000_000_123, level: .info, label: "m", message: "alert",
                                       metadata: ["b": "2", "a": "1"])
        #expect(String(decoding: line, as: UTF8.self)
            == #"{"ts":"2025-11-24T16:00:00.123Z","level":"info","label":"m","message":"alert","metadata":{"a":"1","b":"2"}}"# + "\n")
    }
}
