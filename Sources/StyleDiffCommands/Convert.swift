// `stylediff convert IMAGE`: img2img into another style.

import ArgumentParser
import Pipeline

public struct Convert: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Convert an image into another style (img2img).")

    @Argument(help: "The image to convert (PNG of any size): centre-cropped to the output's aspect ratio (--fit crop) or not (--fit stretch), then resized to the output size (--width/--height, default the model's) with an antialiased bilinear filter.")
    public var input: String

    @Option(help: "How the input is brought to the output size.")
    public var fit: ImageFit = GenerationSettings.Defaults.initImageFit

    @Option(help: "What the image shows, e.g. \"folder icon\" (optional).")
    public var prompt: String = ""

    @Option(help: "How much of the schedule to run, in (0, 1]: higher changes more.")
    public var strength: Double = GenerationSettings.Defaults.strength

    @OptionGroup public var options: GenerationOptions

    public init() {}

    public func validate() throws {
        if let problem = options.settings(prompt: prompt, initImage: input, strength: strength, fit: fit).problems().first {
            throw ValidationError(problem)
        }
        guard options.style != nil || !options.styleImages.isEmpty || !prompt.isEmpty else {
            throw ValidationError("convert needs a target: --style, --style-image or --prompt")
        }
    }

    public func run() throws {
        try reportingErrors { try options.execute(prompt: prompt, initImage: input, strength: strength, fit: fit) }
    }
}
