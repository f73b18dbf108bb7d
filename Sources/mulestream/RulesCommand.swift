import ArgumentParser
import MuleCore
import MuleRules

extension MuleStream {
    struct Rules: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Work with rule files.",
            subcommands: [Check.self, Diff.self]
        )

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate a rule file or a folder of them; errors name file, line, column and field."
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
