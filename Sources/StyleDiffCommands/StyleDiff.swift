// The stylediff command line: generate, convert (img2img), batch, replay, styles, info.

import ArgumentParser
import FileAccess
import Foundation
import Pipeline
import Tensors

public struct StyleDiff: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "stylediff",
        abstract: "Text- and image-style-prompted image generation and style conversion on the CPU.",
        discussion: """
            Every output PNG stores its parameters (a "parameters" text chunk and a "stylediff" JSON \
            chunk); `stylediff replay` regenerates the identical file from them. The model comes from \
            --model, else $STYLEDIFF_MODEL, else the package's Weights/default.
            """,
        subcommands: [Generate.self, Convert.self, Batch.self, Replay.self, Styles.self, Info.self])

    public init() {}
}

/// Runs `body`, turning errors into one stderr line and the matching exit code.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        let e = CLIError(error)
        printError(e.message)
        throw ExitCode(e.kind.rawValue)
    }
}

/// Prompt text: the prompt, then ", NAME style" when a style is named.
func composePrompt(_ prompt: String, style: String?) -> String {
    [prompt.trimmingCharacters(in: .whitespaces), style.map { "\($0) style" } ?? ""].filter { !$0.isEmpty }.joined(separator: ", ")
}

/// The inverse of composePrompt: the style a prompt names as "..., NAME style" or "NAME style"
/// (case-insensitive) when NAME is one of `names`; nil otherwise.
func styleNamed(in prompt: String, among names: [String]) -> String? {
    let trimmed = prompt.trimmingCharacters(in: .whitespaces)
    let start = trimmed.lastIndex(of: ",").map { trimmed.index(after: $0) } ?? trimmed.startIndex
    let tail = trimmed[start...].trimmingCharacters(in: .whitespaces).lowercased()
    guard tail.hasSuffix(" style") else { return nil }
    let name = tail.dropLast(" style".count).trimmingCharacters(in: .whitespaces)
    return names.first { $0.lowercased() == name }
}

/// Shared by generate and convert: seeds, records, outputs, JSON result. Every output is
/// checked before the first image is computed.
func execute(_ options: GenerationOptions, prompt: String, mode: GenerationMode, initImage: String?, strength: Double?) throws {
    Interruption.install()
    Parallelism.setThreadCount(options.threads ?? 0)
    let styleFiles = try options.styleImages.map { spec -> InputFile in
        let (_, hash) = try Runner.readImage(spec.path)
        return InputFile(path: spec.path, weight: spec.weight, sha256: hash)
    }
    let initFile = try initImage.map { path -> InputFile in
        let (_, hash) = try Runner.readImage(path)
        return InputFile(path: path, weight: nil, sha256: hash)
    }
    let seed = options.seed ?? UInt64(UInt32.random(in: 0...UInt32.max))
    let seeds = (0..<options.count).map { seed &+ UInt64($0) }
    let paths = seeds.enumerated().map { options.outputPath(index: $0.offset, seed: $0.element) }
    guard Set(paths).count == paths.count else { throw CLIError(.usage, "--output gives the same file name to several images") }
    for path in paths { try Runner.checkOutput(path, overwrite: options.overwrite) }
    let runner = try Runner(modelDirectory: ModelLocator.resolve(options.model))
    try runner.checkStyle(options.style)
    let composed = composePrompt(prompt, style: options.style)
    let records = seeds.map { s in
        GenerationRecord(
            mode: mode.rawValue, prompt: composed, negativePrompt: options.negative, style: options.style,
            stylePreset: runner.stylePreset(prompt: composed, hasStyleImages: !styleFiles.isEmpty, enabled: options.stylePreset),
            styleImages: styleFiles, blend: options.blend.rawValue,
            styleStrength: runner.samplingDefaults.styleStrength(options.styleStrength, hasStyleImages: !styleFiles.isEmpty),
            styleSnap: options.styleSnap > 0 ? options.styleSnap : nil,
            guidanceScale: runner.samplingDefaults.guidance(options.guidance), steps: options.steps, scheduler: options.scheduler.rawValue, eta: options.eta,
            seed: s, initImage: initFile, strength: strength, modelHash: runner.modelHash, size: runner.pipeline.imageSize)
    }
    let requests = try records.map { try runner.prepare($0, invalid: .usage) }
    if options.seed == nil { note("seed \(seed)") }
    var results: [[String: String]] = []
    for (index, (record, request)) in zip(records, requests).enumerated() {
        let path = paths[index]
        let seconds = try runner.run(record, request, to: path, overwrite: options.overwrite, progress: Progress(label: path))
        results.append(["file": path, "seed": "\(record.seed)", "seconds": String(format: "%.3f", seconds)])
        if !options.json { print(path) }
    }
    if options.json { try printJSON(results) }
}

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

public struct Generate: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Generate images from a text prompt and style images.")

    @Argument(help: "What to draw, e.g. \"folder icon\".")
    public var prompt: String

    @OptionGroup public var options: GenerationOptions

    public init() {}

    public func run() throws {
        try reportingErrors { try execute(options, prompt: prompt, mode: .generate, initImage: nil, strength: nil) }
    }
}

public struct Convert: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Convert an image into another style (img2img).")

    @Argument(help: "The image to convert (PNG; resized to the model's resolution with an antialiased bilinear filter).")
    public var input: String

    @Option(help: "What the image shows, e.g. \"folder icon\" (optional).")
    public var prompt: String = ""

    @Option(help: "How much of the schedule to run, in (0, 1]: higher changes more.")
    public var strength: Double = 0.6

    @OptionGroup public var options: GenerationOptions

    public init() {}

    public func validate() throws {
        guard strength > 0, strength <= 1 else { throw ValidationError("--strength must be in (0, 1], got \(strength)") }
        guard Int(Double(options.steps) * strength) >= 1 else {
            throw ValidationError("--strength \(strength) keeps no step of \(options.steps); raise --strength or --steps")
        }
        guard options.style != nil || !options.styleImages.isEmpty || !prompt.isEmpty else {
            throw ValidationError("convert needs a target: --style, --style-image or --prompt")
        }
    }

    public func run() throws {
        try reportingErrors { try execute(options, prompt: prompt, mode: .convert, initImage: input, strength: strength) }
    }
}

public struct Styles: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "List the styles the model knows.")

    @Option(help: "Model folder.")
    public var model: String?

    public init() {}

    public func run() throws {
        try reportingErrors {
            let directory = ModelLocator.resolve(model)
            guard FileAccess.isDirectory(directory) else { throw CLIError(.noInput, "model folder \(directory) does not exist") }
            let styles = try Runner.readStyles(directory)
            if styles.isEmpty { note("the model in \(directory) lists no styles (no styles.json)") }
            for s in styles { print(s) }
        }
    }
}
