import ArgumentParser
import MuleCore
import MuleRules

extension MuleStream {
    struct Rules: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Work with rule files.",
            discussion: """
            Rule files are YAML, one rule per file (see Rules/ and Rules/rule.schema.json). `check` validates them \
            exactly as `run` does at start and on reload; `diff` shows what a change does to the alerts.

            Example:
              mulestream rules check Rules/
            """,
            subcommands: [Check.self, Diff.self]
        )

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate a rule file or a folder of them; errors name file, line, column and field.",
                discussion: """
                Prints `ok FILE: id@version (severity, mode, window …)` per rule and exits 0, or every problem \
                (FILE:LINE:COL: field: reason, with "did you mean" for misspelt keys) on stderr and exits 2. The \
                same checks guard hot reload in a running engine.

                Example:
                  mulestream rules check Rules/rapid-pass-through.yaml
                """
            )

            @Argument(help: ArgumentHelp("Rule file or folder of rule files.", valueName: "path"))
            var path: String

            func run() throws {
                do {
                    let loaded = try RuleLoader.load(path: path)
                    for l in loaded {
                        let r = l.rule
                        say("ok \(l.file): \(r.key) (\(r.severity.name), \(r.mode.name), window \(DurationText.format(milliseconds: r.windowMillis)))")
                    }
                } catch {
                    for e in error.errors { printError(e.description) }
                    throw ExitCode(2)
                }
            }
        }
    }
}
