import ArgumentParser
import StyleDiffCommands
import StyleDiffServer

/// The command line: StyleDiffCommands' commands and `serve`.
@main
struct StyleDiffCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: StyleDiff.configuration.commandName, abstract: StyleDiff.configuration.abstract,
        discussion: StyleDiff.configuration.discussion, subcommands: StyleDiff.configuration.subcommands + [Serve.self])
}
