// Options shared by generate and convert; their validation runs without a model. They become a
// GenerationSettings value, as a batch line does.

import ArgumentParser
import FileAccess
import Foundation
import Pipeline
import Schedulers

extension SchedulerKind: ExpressibleByArgument {}
extension StyleBlend: ExpressibleByArgument {}
extension ImageFit: ExpressibleByArgument {}
extension VAEDecoder: ExpressibleByArgument {}

/// A --style-image value: PATH or PATH:WEIGHT.
public struct StyleImageSpec: ExpressibleByArgument, Equatable, Sendable {
    public var path: String
    public var weight: Float

    /// The spec as it is written ("PATH:WEIGHT").
    public var argument: String { "\(path):\(weight)" }

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

    @Option(name: .customLong("style-blocks"),
            help: "Per-block style scales (times --style-strength) as diffusers' set_ip_adapter_scale dictionary, e.g. '{\"up\": {\"block_1\": [0, 1, 0]}}' for InstantStyle's style-only injection; blocks not named get 0.")
    public var styleBlocks: String?

    @Option(help: "Snap each --style-image to the model's style presets: the softmax mixture of the presets at this temperature (0: off; 0.05: nearly the nearest preset).")
    public var styleSnap: Float = 0

    @Option(help: "How several style images combine.")
    public var blend: StyleBlend = GenerationSettings.Defaults.blend

    @Option(help: "Negative prompt.")
    public var negative: String = ""

    @Option(help: "Denoising steps (1...1000; the model's scheduler may allow fewer; default 20, 4 with --fast).")
    public var steps: Int?

    @Option(help: "Sampler (default: the model folder's scheduler class where stylediff has it, e.g. pndm for SD 1.5, else ddim).")
    public var scheduler: SchedulerKind?

    @Flag(help: "Few-step preset: the LCM scheduler in 4 steps (--steps still applies): the default model's unet_lcm/, an LCM folder, or a LoRA such as LCM-LoRA; decoded with the folder's vae_tiny/ when it has one (--decoder full keeps the VAE).")
    public var fast = false

    /// The steps asked for, or the default (4 with --fast, else 20).
    public var resolvedSteps: Int { steps ?? (fast ? GenerationSettings.Defaults.fastSteps : GenerationSettings.Defaults.steps) }

    /// The scheduler asked for (LCM with --fast).
    public var resolvedScheduler: SchedulerKind? { fast ? .lcm : scheduler }

    @Option(help: "Image width in pixels: a multiple of the model's size step (64 for Stable Diffusion; see `stylediff info`). Default: the model's size.")
    public var width: Int?

    @Option(help: "Image height in pixels (as --width).")
    public var height: Int?

    @Option(name: .customLong("clip-skip"), help: "Stop the text encoder this many layers early, as AUTOMATIC1111's Clip skip: 1 uses the last layer, 2 the one before (for anime fine-tunes of SD 1.x).")
    public var clipSkip: Int?

    @Option(help: "Decoder of the final latents: full (the VAE) or tiny (the model folder's vae_tiny/, a diffusers AutoencoderTiny such as TAESD: several times faster, less exact). Default: tiny with --fast when the folder has vae_tiny/, else full.")
    public var decoder: VAEDecoder?

    /// The decoder asked for; without one, --fast takes the folder's vae_tiny/ when it has one
    /// (the few-step preset's speed), everything else the VAE. nil: the VAE.
    public var resolvedDecoder: VAEDecoder? {
        let chosen = decoder ?? (fast && FileAccess.isDirectory(common.directory + "/vae_tiny") ? .tiny : .full)
        return chosen == .full ? nil : chosen
    }

    @Option(help: "DDIM noise in [0, 1] (0 = deterministic).")
    public var eta: Float = GenerationSettings.Defaults.eta

    @Option(help: "Classifier-free guidance scale (0...100; default: the model's sampling_defaults.json value, else 5).")
    public var guidance: Float?

    @Option(help: "Seed; several images use seed, seed+1, ... (default: random, printed and stored).")
    public var seed: UInt64?

    @Option(help: "Number of images.")
    public var count: Int = 1

    @OptionGroup public var common: ModelOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output PNG; {seed} and {index} are replaced.")
    public var output: String = "stylediff-{seed}.png"

    @Flag(help: "Replace existing output files.")
    public var overwrite = false

    @Flag(help: "Print a JSON result on stdout.")
    public var json = false

    public init() {}

    public func validate() throws {
        if fast, let scheduler, scheduler != .lcm {
            throw ValidationError("--fast runs the lcm scheduler; drop --scheduler \(scheduler.rawValue) or --fast")
        }
        // The rules every entry point shares (GenerationSettings.problems); convert adds its input.
        if let first = settings(prompt: "", initImage: nil, strength: nil).problems().first { throw ValidationError(first) }
        guard (1...1000).contains(count) else { throw ValidationError("--count must be between 1 and 1000, got \(count)") }
        guard count == 1 || output.contains("{seed}") || output.contains("{index}") else {
            throw ValidationError("--count \(count) needs {seed} or {index} in --output, or every image would overwrite the last")
        }
        guard !output.isEmpty else { throw ValidationError("--output must not be empty") }
    }

    /// The output path for image `index` with `seed`.
    public func outputPath(index: Int, seed: UInt64) -> String {
        output.replacingOccurrences(of: "{seed}", with: "\(seed)").replacingOccurrences(of: "{index}", with: "\(index)")
    }

    /// The settings these options give (for generate: no init image).
    public func settings(prompt: String, initImage: String?, strength: Double?, fit: ImageFit? = nil) -> GenerationSettings {
        GenerationSettings(
            prompt: prompt, style: style, seed: seed, negativePrompt: negative, steps: resolvedSteps, scheduler: resolvedScheduler,
            guidanceScale: guidance, eta: eta, styleImages: styleImages.map(\.argument), styleStrength: styleStrength,
            styleSnap: styleSnap, blend: blend, stylePreset: stylePreset, initImage: initImage, strength: strength,
            fit: fit, width: width, height: height, clipSkip: clipSkip, styleBlocks: styleBlocks,
            decoder: resolvedDecoder)
    }

    /// Runs generate or convert: seeds, records, outputs, JSON result. Every output and every
    /// record is checked before the first image is computed.
    func execute(prompt: String, initImage: String?, strength: Double?, fit: ImageFit? = nil) throws {
        common.startWriting()
        let settings = settings(prompt: prompt, initImage: initImage, strength: strength, fit: fit)  // checked by validate()
        let seed = self.seed ?? UInt64(UInt32.random(in: 0...UInt32.max))
        let seeds = (0..<count).map { seed &+ UInt64($0) }
        let paths = seeds.enumerated().map { outputPath(index: $0.offset, seed: $0.element) }
        guard Set(paths).count == paths.count else { throw CLIError(.usage, "--output gives the same file name to several images") }
        for path in paths { try Runner.checkOutput(path, overwrite: overwrite) }
        let runner = try Runner(common, deferModels: true)  // builds only the UNet these requests run
        let records = try seeds.map { try runner.record(settings, seed: $0) }
        let requests = try records.map { try runner.prepare($0, invalid: .usage) }
        if self.seed == nil { note("seed \(seed)") }
        var results: [OutputResult] = []
        for (index, (record, request)) in zip(records, requests).enumerated() {
            let path = paths[index]
            let seconds = try runner.run(record, request, to: path, overwrite: overwrite, progress: Progress(label: path))
            results.append(OutputResult(file: path, seed: record.seed, seconds: seconds))
            if !json { print(path) }
        }
        if json { try printJSON(results) }
    }
}
