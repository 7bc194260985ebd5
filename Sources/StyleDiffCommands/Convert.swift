// `stylediff convert IMAGE`: img2img into another style.

import ArgumentParser

public struct Convert: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Convert an image into another style (img2img).")

    @Argument(help: "The image to convert (PNG; resized to the model's resolution with an antialiased bilinear filter).")
    public var input: String

    @Option(help: "What the image shows, e.g. \"folder icon\" (optional).")
    public var prompt: String = ""

    @Option(help: "How much of the schedule to run, in (0, 1]: higher changes more.")
    public var strength: Double = GenerationSettings.Defaults.strength

    @OptionGroup public var options: GenerationOptions

    public init() {}

    public func validate() throws {
        if let problem = options.settings(prompt: prompt, initImage: input, strength: strength).problems().first {
            throw ValidationError(problem)
        }
        guard options.style != nil || !options.styleImages.isEmpty || !prompt.isEmpty else {
            throw ValidationError("convert needs a target: --style, --style-image or --prompt")
        }
    }

    public func run() throws {
        try reportingErrors { try options.execute(prompt: prompt, initImage: input, strength: strength) }
    }
}
