// `stylediff generate PROMPT`: text (and style image) to image.

import ArgumentParser

public struct Generate: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Generate images from a text prompt and style images.")

    @Argument(help: "What to draw, e.g. \"folder icon\".")
    public var prompt: String

    @OptionGroup public var options: GenerationOptions

    public init() {}

    public func run() throws {
        try reportingErrors { try options.execute(prompt: prompt, initImage: nil, strength: nil) }
    }
}
