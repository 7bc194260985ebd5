// `stylediff styles`: the styles a model knows.

import ArgumentParser
import FileAccess
import Pipeline

public struct Styles: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "List the styles the model knows.")

    @OptionGroup public var common: ModelOptions

    public init() {}

    public func run() throws {
        try reportingErrors {
            let directory = common.directory
            guard FileAccess.isDirectory(directory) else { throw CLIError(.noInput, "model folder \(directory) does not exist") }
            let styles: [String]
            do { styles = try StyleDiffusionPipeline.styles(in: directory) } catch { throw CLIError(error) }
            if styles.isEmpty { note("the model in \(directory) lists no styles (no styles.json)") }
            for s in styles { print(s) }
        }
    }
}
