// `stylediff styles`: the styles a model knows.

import ArgumentParser
import FileAccess

public struct Styles: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "List the styles the model knows.")

    @OptionGroup public var common: ModelOptions

    public init() {}

    public func run() throws {
        try reportingErrors {
            let directory = common.directory
            guard FileAccess.isDirectory(directory) else { throw CLIError(.noInput, "model folder \(directory) does not exist") }
            let styles = try Runner.readStyles(directory)
            if styles.isEmpty { note("the model in \(directory) lists no styles (no styles.json)") }
            for s in styles { print(s) }
        }
    }
}
