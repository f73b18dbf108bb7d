import ArgumentParser
import MuleCore
import MuleEngine
import MuleKafka
import MuleRules

extension MuleStream {
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Work with `mulestream run` configuration files.",
            discussion: """
            A configuration file is YAML with the sections kafka, topics, rules, detector, engine, log and http; \
            `mulestream run --print-config` prints a complete one (with where each value came from).

            Example:
              mulestream config check /etc/mulestream/mulestream.yaml
            """,
            subcommands: [Check.self]
        )

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate a configuration file; errors name file, line, column and key.",
                discussion: """
                Checks every key (unknown keys with a "did you mean"), every value's type and range, the \
                librdkafka properties file, rule files and snooze file it names, and — when the file sets brokers, \
                topics and rules itself — the combination (topics that must differ, …). Settings the file leaves \
                out may come from MULESTREAM_* variables or flags at `run` time: they are listed, not errors. \
                The environment is not read. Exit status 0 when valid (with a short summary), 2 otherwise.

                Example:
                  mulestream config check deploy/mulestream.yaml
                """
            )

            @Argument(help: ArgumentHelp("The configuration file.", valueName: "file"))
            var path: String

            func run() throws {
                let settings: RunSettings
                do {
                    settings = try RunSettings.resolve(file: SettingsFile.load(path: path))
                } catch {
                    for e in error.errors { printError(e.description) }
                    throw ExitCode(2)
                }
                var problems: [String] = []
                var rules: [LoadedRule] = []
                if let rulesPath = settings.text("rules.path") {
                    do { rules = try RuleLoader.load(path: rulesPath) } catch { problems += error.errors.map(\.description) }
                }
                if let file = settings.text("rules.snoozes") {
                    do { _ = try SnoozeFile.load(path: file) } catch { problems.append(error.description) }
                }
                let missing = RunSettings.required.filter { settings.text($0) == nil }
                if missing.isEmpty {
                    do { _ = try settings.engineConfig() } catch { problems += error.errors.map(\.description) }
                }
                guard problems.isEmpty else {
                    for p in problems { printError(p) }
                    throw ExitCode(2)
                }
                let fromFile = settings.values.filter { if case .file = $0.value.origin { true } else { false } }
                let properties = settings.properties.filter { $0.origin != .defaultValue }
                let secrets = properties.filter { KafkaConfig.isSecret($0.key) }.count
                say("ok \(path): \(fromFile.count) settings, \(properties.count) librdkafka properties (\(secrets) secret)")
                if !rules.isEmpty { say("rules: \(rules.map(\.rule.key).joined(separator: ", "))") }
                if !missing.isEmpty {
                    say("not set in the file (give them as flags or MULESTREAM_* variables): \(missing.joined(separator: ", "))")
                }
            }
        }
    }
}
