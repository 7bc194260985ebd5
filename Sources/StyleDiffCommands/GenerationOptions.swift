// Options shared by generate, convert and batch; their validation runs without a model.

import ArgumentParser
import Foundation
import Pipeline
import Schedulers

extension SchedulerKind: ExpressibleByArgument {}
extension StyleBlend: ExpressibleByArgument {}

/// A --style-image value: PATH or PATH:WEIGHT.
public struct StyleImageSpec: ExpressibleByArgument, Equatable, Sendable {
    public var path: String
    public var weight: Float

    public init?(argument: String) {
        if let colon = argument.lastIndex(of: ":"), let w = Float(argument[argument.index(after: colon)...]) {
            guard w >= 0, w.isFinite, colon != argument.startIndex else { return nil }
            path = String(argument[..<colon])
            weight = w
        } else {
            guard !argument.isEmpty else { return nil }
            path = argument
            weight = 1
        }
    }
}

public struct GenerationOptions: ParsableArguments {
    @Option(help: "A style the model knows (see `stylediff styles`); added to the prompt as \", NAME style\".")
    public var style: String?

    @Option(name: .customLong("style-image"), help: "A style reference image, PATH or PATH:WEIGHT (repeatable).")
    public var styleImages: [StyleImageSpec] = []

    @Flag(inversion: .prefixedNo,
          help: "Use the model's stored embedding of a style the prompt names (\"..., NAME style\" or --style) when no --style-image is given.")
    public var stylePreset = true

    @Option(help: "Weight of the style attention for style images or a style preset (0...20, 0 ignores them; default: 1, with style images the model's sampling_defaults.json value).")
    public var styleStrength: Float?

    @Option(help: "Snap each --style-image to the model's style presets: the softmax mixture of the presets at this temperature (0: off; 0.05: nearly the nearest preset).")
    public var styleSnap: Float = 0

    @Option(help: "How several style images combine.")
    public var blend: StyleBlend = .linear

    @Option(help: "Negative prompt.")
    public var negative: String = ""

    @Option(help: "Denoising steps (1...1000; the model's scheduler may allow fewer).")
    public var steps: Int = 20

    @Option(help: "Sampler.")
    public var scheduler: SchedulerKind = .ddim

    @Option(help: "DDIM noise in [0, 1] (0 = deterministic).")
    public var eta: Float = 0

    @Option(help: "Classifier-free guidance scale (0...100; default: the model's sampling_defaults.json value, else 5).")
    public var guidance: Float?

    @Option(help: "Seed; several images use seed, seed+1, ... (default: random, printed and stored).")
    public var seed: UInt64?

    @Option(help: "Number of images.")
    public var count: Int = 1

    @Option(help: "Threads for the computation (default: all cores).")
    public var threads: Int?

    @Option(help: "Model folder (default: $STYLEDIFF_MODEL, else Weights/default of the package).")
    public var model: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output PNG; {seed} and {index} are replaced.")
    public var output: String = "stylediff-{seed}.png"

    @Flag(help: "Replace existing output files.")
    public var overwrite = false

    @Flag(help: "Print a JSON result on stdout.")
    public var json = false

    public init() {}

    public func validate() throws {
        // The ranges every entry point shares (GenerationLimits); the first problem is reported.
        let found = GenerationLimits.problems(
            steps: steps, guidanceScale: guidance, styleStrength: styleStrength, styleSnap: styleSnap, eta: eta,
            scheduler: scheduler, strength: nil, styleWeights: styleImages.map(\.weight), blend: blend)
        if let first = found.first { throw ValidationError(first) }
        guard (1...1000).contains(count) else { throw ValidationError("--count must be between 1 and 1000, got \(count)") }
        if let threads { guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") } }
        guard count == 1 || output.contains("{seed}") || output.contains("{index}") else {
            throw ValidationError("--count \(count) needs {seed} or {index} in --output, or every image would overwrite the last")
        }
        guard !output.isEmpty else { throw ValidationError("--output must not be empty") }
    }

    /// The output path for image `index` with `seed`.
    public func outputPath(index: Int, seed: UInt64) -> String {
        output.replacingOccurrences(of: "{seed}", with: "\(seed)").replacingOccurrences(of: "{index}", with: "\(index)")
    }
}
