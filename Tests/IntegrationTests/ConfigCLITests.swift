import Foundation
import Testing

/// `mulestream config check`, `run --config … --print-config` with the environment and flags on
/// top, and `--help` of every verb, as an operator meets them: the built binary as a process.
@Suite(.timeLimit(.minutes(3)))
struct ConfigCLITests {
    @Test func configCheckLocatesEachProblemAndExitsTwo() throws {
        let file = Env.tempDir().appendingPathComponent("bad.yaml")
        try """
        kafka:
          brokres: kafka-1:9092
        topics:
          partitions: [6]
        detector:
          hop_window: 30
        """.write(to: file, atomically: true, encoding: .utf8)
        let (status, out, err) = try runToEnd(Env.mulestream, ["config", "check", file.path])
        #expect(status == 2)
        #expect(out.isEmpty)
        let lines = err.split(separator: "\n").map(String.init)
        #expect(lines == [
            "\(file.path):2:3: kafka.brokres: unknown key `brokres` (did you mean `brokers`?)",
            "\(file.path):4:15: topics.partitions: must be a single value, got a list",
            "\(file.path):6:15: detector.hop_window: must be a duration with a unit (ms, s, m, h or d), like 90s or 15m; got the bare number 30",
        ])
    }

    @Test func configCheckAcceptsTheShippedExample() throws {
        let example = try String(contentsOf: Env.repoRoot.appendingPathComponent("deploy/mulestream.yaml"), encoding: .utf8)
        let file = Env.tempDir().appendingPathComponent("mulestream.yaml")
        try example.replacingOccurrences(of: "/etc/mulestream/rules", with: Env.repoRoot.appendingPathComponent("Rules").path)
            .write(to: file, atomically: true, encoding: .utf8)
        let (status, out, err) = try runToEnd(Env.mulestream, ["config", "check", file.path])
        #expect(status == 0, "\(err)")
        #expect(out.hasPrefix("ok \(file.path): "))
        #expect(out.contains("rapid-pass-through@"))
    }

    @Test func printConfigMergesFileEnvironmentAndFlagsAndRedactsSecrets() throws {
        let file = Env.tempDir().appendingPathComponent("run.yaml")
        try """
        kafka:
          brokers: file:9092
          group: file-group
          properties:
            sasl.password: file-secret-1
        topics:
          input: payments
          output: alerts
        rules:
          path: Rules
        detector:
          allowed_lateness: 30s
          max_accounts: 500
        """.write(to: file, atomically: true, encoding: .utf8)
        let env = ["MULESTREAM_CONFIG": file.path, "MULESTREAM_GROUP": "env-group", "MULESTREAM_MAX_ACCOUNTS": "600",
                   "MULESTREAM_KAFKA_SSL_KEY_PASSWORD": "env-secret-2"]
        let (status, out, err) = try runToEnd(Env.mulestream, ["run", "--max-accounts", "700", "--print-config"], environment: env)
        #expect(status == 0, "\(err)")
        #expect(!out.contains("file-secret-1") && !out.contains("env-secret-2") && !err.contains("secret-"))
        let lines = out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines.contains("brokers: \"file:9092\" # file \(file.path):2"))
        #expect(lines.contains("group: \"env-group\" # env MULESTREAM_GROUP"))
        #expect(lines.contains("max_accounts: 700 # flag --max-accounts"))
        #expect(lines.contains("allowed_lateness: \"30s\" # file \(file.path):12"))
        #expect(lines.contains("dedup_horizon: \"1d\" # default"))
        #expect(lines.contains("sasl.password: \"[redacted]\" # file \(file.path):5"))
        #expect(lines.contains("ssl.key.password: \"[redacted]\" # env MULESTREAM_KAFKA_SSL_KEY_PASSWORD"))

        // What it printed is a configuration file `run` reads back (without the environment).
        let printed = Env.tempDir().appendingPathComponent("printed.yaml")
        try out.write(to: printed, atomically: true, encoding: .utf8)
        let (s2, out2, e2) = try runToEnd(Env.mulestream, ["run", "--config", printed.path, "--print-config"])
        #expect(s2 == 0, "\(e2)")
        #expect(out2.contains("group: \"env-group\""))
        #expect(out2.contains("max_accounts: 700"))
    }

    @Test func badEnvironmentValuesAreUsageErrorsNamingTheVariable() throws {
        let (status, _, err) = try runToEnd(Env.mulestream, ["run", "--brokers", "b:1", "--input", "a", "--output", "b", "--rules", "Rules"],
                                            environment: ["MULESTREAM_COMMIT_INTERVAL": "often"])
        #expect(status == 2)
        #expect(err == "mulestream: MULESTREAM_COMMIT_INTERVAL: must be a duration like 90s, 15m, 2h or 1d, got `often`\n")
    }

    /// Every setting flag `run --help` lists reaches the configuration: set alone, it shows in
    /// `--print-config` with `# flag --NAME` on its key (so a flag added to `run` without its
    /// entry in the CLI's flag table fails here).
    @Test func everyRunFlagReachesTheConfiguration() throws {
        let (status, help, err) = try runToEnd(Env.mulestream, ["run", "--help"])
        #expect(status == 0, "\(err)")
        let dir = Env.tempDir()
        let snoozes = dir.appendingPathComponent("snoozes.csv")
        try "account,rule,until,reason\nA-1,*,2026-12-31,cleared\n".write(to: snoozes, atomically: true, encoding: .utf8)
        let properties = dir.appendingPathComponent("kafka.properties")
        try "client.id=from-file\n".write(to: properties, atomically: true, encoding: .utf8)

        // Option entries: a line starting with "  -", then its indented continuation lines.
        var entries: [String] = []
        for line in help.split(separator: "\n").map(String.init).drop(while: { $0 != "OPTIONS:" }).dropFirst() {
            if line.hasPrefix("  -") {
                entries.append(line)
            } else if line.hasPrefix("      "), !entries.isEmpty {
                entries[entries.count - 1] += " " + line.trimmingCharacters(in: .whitespaces)
            }
        }
        let base = ["--brokers": "b:1", "--input": "in-topic", "--output": "out-topic", "--rules": "Rules"]
        var checked = 0
        for entry in entries {
            let words = entry.split(separator: " ").map(String.init)
            let flag = words[0].components(separatedBy: "/")[0].components(separatedBy: ",")[0]
            if ["--config", "--print-config", "-h", "-X"].contains(flag) { continue }
            let placeholder = words.count > 1 && words[1].hasPrefix("<") ? words[1] : ""
            var key = "detector." + flag.dropFirst(2).replacingOccurrences(of: "-", with: "_")
            if let range = entry.range(of: #"config ([a-z_]+\.[a-z_]+)\]"#, options: .regularExpression) {
                key = String(entry[range].dropFirst("config ".count).dropLast())
            }
            let samples = [
                "<topic>": "t\(flag)", "<duration>": "7s", "<n>": "7", "<host:port[,host:port]>": "h7:1",
                "<host:port>": "127.0.0.1:0", "<path>": "Rules", "<id>": "g7", "<text|json>": "json", "<level>": "debug",
                "<drop|process>": "process", "<dir>": FileManager.default.temporaryDirectory.path,
                "<file>": key == "rules.snoozes" ? snoozes.path : properties.path,
            ]
            var args = ["run", "--print-config"]
            if flag == "--transactional-id" { args.append("--exactly-once") }  // meaningful only with it
            for (f, v) in base where f != flag { args += [f, v] }
            if placeholder.isEmpty {
                args.append("--no-" + flag.dropFirst(2))  // an on/off flag: the value a default never has
            } else {
                let sample = try #require(samples[placeholder], "no sample value for \(flag) \(placeholder)")
                args += [flag, sample]
            }
            let (s, out, e) = try runToEnd(Env.mulestream, args)
            #expect(s == 0, "\(flag): \(e)")
            let name = key.split(separator: ".")[1]
            let shown = out.split(separator: "\n").contains { $0.hasPrefix("  \(name): ") && $0.hasSuffix("# flag \(flag)") }
            #expect(shown, "\(flag) did not reach \(key):\n\(out)")
            checked += 1
        }
        #expect(checked >= 25)
    }

    /// The engine configured by a file and the environment, logging JSON lines: every stderr line
    /// is one JSON object, event and alert lines carry their ids, and the secret never appears.
    @Test func engineRunsFromAConfigFileAndLogsJSONLines() throws {
        let e2e = EndToEndTests()
        let dir = Env.tempDir()
        let (broker, brokers) = try e2e.startBroker(dir: dir)
        defer { broker.terminate(); broker.wait(seconds: 10) }
        try e2e.produce(EndToEndTests.mule("M-JSON", at: EndToEndTests.start) + [EndToEndTests.malformed[0]], brokers: brokers)
        let file = dir.appendingPathComponent("run.yaml")
        try """
        kafka:
          brokers: \(brokers)
          properties:
            session.timeout.ms: 6000
        topics: {input: payments, output: alerts}
        rules: {path: Rules}
        detector: {allowed_lateness: 30s}
        engine: {idle_flush: 1s, commit_interval: 500ms, exit_when_idle: 3s}
        log: {level: debug, format: json}
        """.write(to: file, atomically: true, encoding: .utf8)
        let engine = try Child(Env.mulestream, ["run", "--config", file.path], dir: dir, name: "engine",
                               environment: ["MULESTREAM_GROUP": "json-logs", "MULESTREAM_KAFKA_SASL_PASSWORD": "hunter2-json"])
        #expect(engine.wait(seconds: 90) == 0, "\(engine.stderr)")
        let log = engine.stderr
        #expect(!log.contains("hunter2-json"))
        var objects: [[String: Any]] = []
        for line in log.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object.map { Set($0.keys) } == ["ts", "level", "label", "message", "metadata"], "not a JSON log line: \(line)")
            if let object { objects.append(object) }
        }
        func metadata(_ message: String) -> [[String: String]] {
            objects.filter { $0["message"] as? String == message }.compactMap { $0["metadata"] as? [String: String] }
        }
        let configuration = try #require(metadata("configuration").first)
        #expect(configuration["kafka.group"] == "json-logs (env MULESTREAM_GROUP)")
        #expect(configuration["kafka.properties.sasl.password"] == "[redacted] (env MULESTREAM_KAFKA_SASL_PASSWORD)")
        #expect(configuration["engine.exit_when_idle"] == "3s (file \(file.path):8)")
        let alert = try #require(metadata("alert").first)
        #expect(alert["account"] == "M-JSON" && alert["alert_id"] != nil && alert["rule"] != nil)
        let deadLetter = try #require(metadata("dead-lettered event").first)
        #expect(deadLetter["topic"] == "payments" && deadLetter["partition"] != nil && deadLetter["offset"] != nil)
        #expect(deadLetter["reason"] == "missing_field: payee")
    }

    /// Every verb's help has an overview, an example, and a description for every option.
    @Test func everyVerbHasCompleteHelp() throws {
        let verbs = [[], ["demo"], ["run"], ["dev-broker"], ["simulate"], ["backtest"], ["sweep"], ["report"], ["gangs"],
                     ["rules"], ["rules", "check"], ["rules", "diff"], ["config"], ["config", "check"]]
        for verb in verbs {
            let (status, out, err) = try runToEnd(Env.mulestream, verb + ["--help"])
            let name = "mulestream \(verb.joined(separator: " "))"
            #expect(status == 0, "\(name): \(err)")
            #expect(out.hasPrefix("OVERVIEW: "), "\(name)")
            #expect(out.contains("Example"), "\(name) has no example")
            let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let indent = String(repeating: " ", count: 26)
            for (i, line) in lines.enumerated() where line.hasPrefix("  -") || line.hasPrefix("  <") {
                let chars = Array(line)
                let describedHere = chars.count > 26 && chars[25] == " " && chars[26] != " "
                let describedBelow = i + 1 < lines.count && lines[i + 1].hasPrefix(indent) && lines[i + 1].count > 26
                #expect(describedHere || describedBelow, "\(name): `\(line)` has no description")
            }
        }
    }
}
