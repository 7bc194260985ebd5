// Runs generation records against a loaded pipeline and writes PNGs with their metadata,
// atomically, never replacing a file without --overwrite.
//
// Every generation, from the CLI, a batch line or replayed metadata, is first written down as a
// GenerationRecord and then run from that record (`prepare`, then `run`): the record is what
// the PNG stores, so replay takes the identical path and gives identical bytes.

import FileAccess
import Models
import Foundation
import PNGIO
import Pipeline
import Schedulers
import Tensors

public struct Runner: Sendable {
    public let pipeline: StyleDiffusionPipeline
    public let modelHash: String
    /// The IP-Adapter loaded with a Stable Diffusion folder: the path given and the hash of
    /// its weights and image encoder (recorded by generations that use style images).
    public let ipAdapter: InputFile?
    /// The LoRA files fused into the model, in order: path, scale (as weight) and file hash
    /// (recorded by every generation).
    public let loras: [InputFile]
    /// How the model holds its weights (recorded when not as stored).
    public var weights: WeightPrecision { pipeline.weightPrecision }
    public var styles: [String] { pipeline.styles }
    /// The model's recommended guidance and reference style strength (sampling_defaults.json).
    public var samplingDefaults: SamplingDefaults { pipeline.samplingDefaults }

    /// Loads the model folder (StyleDiffusionPipeline and its resources); errors carry exit
    /// codes (66 missing or unreadable, 65 malformed). `deferModels` (one-request commands):
    /// the UNets are built when first run (StyleDiffusionPipeline.init).
    public init(modelDirectory: String, ipAdapter: String? = nil, loras: [LoRASpec] = [], weights: WeightPrecision = .stored,
                deferModels: Bool = false) throws {
        guard FileAccess.isDirectory(modelDirectory) else {
            throw CLIError(.noInput, "model folder \(modelDirectory) does not exist (use --model or STYLEDIFF_MODEL)")
        }
        do {
            let loaded = try loras.map { try LoRA(path: $0.path, scale: $0.scale) }
            pipeline = try StyleDiffusionPipeline(directory: modelDirectory, ipAdapter: ipAdapter, loras: loaded, weights: weights,
                                                  deferModels: deferModels)
            self.loras = try loras.map { InputFile(path: $0.path, weight: $0.scale, sha256: try HashCache.sha256(file: $0.path)) }
            modelHash = try Runner.modelHash(of: modelDirectory)
            if let ipAdapter {
                let digest = SHA256Digest()
                for f in try StyleDiffusionPipeline.ipAdapterDefiningFiles(ipAdapter) {
                    digest.update(Array(try HashCache.sha256(file: f).utf8))
                }
                self.ipAdapter = InputFile(path: ipAdapter, weight: nil, sha256: digest.finalize())
            } else {
                self.ipAdapter = nil
            }
        } catch {
            throw CLIError(error)
        }
    }

    /// The model the shared options name (--model, --ip-adapter, --lora, --weights).
    public init(_ options: ModelOptions, deferModels: Bool = false) throws {
        try self.init(modelDirectory: options.directory, ipAdapter: options.ipAdapter, loras: try options.loras(), weights: options.precision,
                      deferModels: deferModels)
    }

    /// SHA-256 over a model's defining files (StyleDiffusionPipeline.definingFiles): each relative
    /// path, then that file's hash (HashCache: large files are hashed once per change), in sorted order.
    public static func modelHash(of directory: String) throws -> String {
        let digest = SHA256Digest()
        let files = try StyleDiffusionPipeline.definingFiles(of: directory)
        for (f, hash) in zip(files, try HashCache.sha256(files: files.map { directory + "/" + $0 })) {
            digest.update(Array(f.utf8))
            digest.update(Array(hash.utf8))
        }
        return digest.finalize()
    }

    /// The style preset a generation uses: the style its prompt names ("..., NAME style", as
    /// --style composes it) when the model has a preset of that name, there are no style
    /// images (they take precedence) and presets are not turned off.
    public func stylePreset(prompt: String, hasStyleImages: Bool, enabled: Bool) -> String? {
        guard enabled, !hasStyleImages, let presets = pipeline.stylePresets else { return nil }
        return styleNamed(in: prompt, among: presets.names)
    }

    /// What is wrong with asking this model for `style` (nil when it knows it, or none is asked).
    func styleProblem(_ style: String?) -> String? {
        guard let style, !styles.contains(style) else { return nil }
        return "unknown style '\(style)'; " + (styles.isEmpty ? "this model lists no styles" : "known styles: " + styles.joined(separator: ", "))
    }

    /// Reads an input image (style reference or img2img source; links are followed, devices,
    /// FIFOs and folders refused): the image and its SHA-256.
    public static func readImage(_ path: String) throws -> (RGBImage, String) {
        do {
            let image = try PNGCodec.read(path: path).image
            return (image, try SHA256Digest.hex(file: path))
        } catch {
            throw CLIError(error)  // missing or unreadable 66, not a valid PNG 65
        }
    }

    /// The complete record of `settings` for `seed`: defaults filled in (GenerationSettings.Defaults,
    /// the model's SamplingDefaults, scheduler and size), the prompt composed with the style, the style preset
    /// chosen, input files read and hashed (`resolve` maps their paths, e.g. relative to a batch
    /// file). The settings must have passed `problems()`.
    public func record(_ settings: GenerationSettings, seed: UInt64, resolve: (String) -> String = { $0 }) throws -> GenerationRecord {
        if let problem = styleProblem(settings.style) { throw CLIError(.dataError, problem) }
        guard let specs = settings.styleImageSpecs else { throw CLIError(.usage, "style images must be PATH or PATH:WEIGHT") }
        let styleFiles = try specs.map { spec -> InputFile in
            let path = resolve(spec.path)
            return InputFile(path: path, weight: spec.weight, sha256: try Runner.readImage(path).1)
        }
        let initFile = try settings.initImage.map { p -> InputFile in
            InputFile(path: resolve(p), weight: nil, sha256: try Runner.readImage(resolve(p)).1)
        }
        let composed = composePrompt(settings.prompt ?? "", style: settings.style)
        let hasStyleImages = !styleFiles.isEmpty
        typealias D = GenerationSettings.Defaults
        return GenerationRecord(
            mode: initFile == nil ? .generate : .convert, prompt: composed, negativePrompt: settings.negativePrompt ?? "",
            style: settings.style,
            stylePreset: stylePreset(prompt: composed, hasStyleImages: hasStyleImages, enabled: settings.stylePreset ?? true),
            styleImages: styleFiles, blend: settings.blend ?? D.blend,
            styleStrength: samplingDefaults.styleStrength(settings.styleStrength, hasStyleImages: hasStyleImages),
            styleSnap: (settings.styleSnap ?? 0) > 0 ? settings.styleSnap : nil,
            guidanceScale: samplingDefaults.guidance(settings.guidanceScale), steps: settings.steps ?? D.steps,
            scheduler: settings.scheduler ?? pipeline.defaultScheduler, eta: settings.eta ?? D.eta, seed: seed, initImage: initFile,
            strength: initFile == nil ? nil : (settings.strength ?? D.strength), fit: initFile == nil ? nil : (settings.fit ?? D.initImageFit),
            clipSkip: (settings.clipSkip ?? D.clipSkip) > 1 ? settings.clipSkip : nil, modelHash: modelHash,
            width: settings.width ?? pipeline.imageSize, height: settings.height ?? pipeline.imageSize,
            styleBlocks: hasStyleImages ? settings.styleBlocks : nil, ipAdapter: hasStyleImages ? ipAdapter : nil,
            loras: loras.isEmpty ? nil : loras, weights: weights == .stored ? nil : weights,
            decoder: settings.decoder == .tiny ? .tiny : nil)
    }

    /// The request a record describes, checked in full before anything is computed: the
    /// settings' ranges (GenerationLimits, the same check GenerationRequest.validate makes), the
    /// style, preset and scheduler against this model, and the input files, which must still
    /// hash the same. Invalid settings are errors of
    /// kind `invalid` (64 for command-line options, 65 for batch lines and stored metadata).
    public func prepare(_ record: GenerationRecord, invalid: CLIError.Kind) throws -> GenerationRequest {
        var problems: [String] = []
        guard (record.mode == .convert) == (record.initImage != nil) else {
            throw CLIError(invalid, "mode \(record.mode.rawValue) does not match its input image")
        }
        problems += GenerationLimits.problems(
            steps: record.steps, guidanceScale: record.guidanceScale, styleStrength: record.styleStrength, styleSnap: record.styleSnap,
            eta: record.eta, scheduler: record.scheduler, strength: record.mode == .convert ? (record.strength ?? GenerationSettings.Defaults.strength) : nil,
            styleWeights: record.styleImages.map { $0.weight ?? 1 }, blend: record.blend)
        if let problem = styleProblem(record.style) { problems.append(problem) }
        if let preset = record.stylePreset, !(pipeline.stylePresets?.names.contains(preset) ?? false) {
            problems.append("unknown style preset '\(preset)'")
        }
        let layers = pipeline.textEncoder.configuration.numHiddenLayers
        if let skip = record.clipSkip, !(1...max(1, layers)).contains(skip) {
            problems.append("clip skip \(skip) must be between 1 and the text encoder's \(layers) layers")
        }
        if !record.styleImages.isEmpty, pipeline.styleEmbeddingDimension == nil {
            problems.append("\(pipeline.directory) has no style encoder: style images need the default model's layout, "
                + "or a Stable Diffusion folder with --ip-adapter")
        }
        let wantedLoRAs = (record.loras ?? []).map { [$0.sha256, "\($0.weight ?? 1)"] }
        if wantedLoRAs != loras.map({ [$0.sha256, "\($0.weight ?? 1)"] }) {
            let names = { (files: [InputFile]) in files.isEmpty ? "none" : files.map { "\($0.path):\($0.weight ?? 1) (hash \($0.sha256.prefix(10)))" }.joined(separator: ", ") }
            problems.append("made with LoRA \(names(record.loras ?? [])), loaded: \(names(loras)); give the same --lora files and scales in order")
        }
        if (record.weights ?? .stored) != weights {
            problems.append("made with --weights \((record.weights ?? .stored).rawValue), loaded with \(weights.rawValue)")
        }
        if let problem = pipeline.decoderProblem(record.decoder ?? .full) { problems.append(problem) }
        if let wanted = record.ipAdapter, wanted.sha256 != ipAdapter?.sha256 {
            problems.append("made with the IP-Adapter \(wanted.path) (hash \(wanted.sha256.prefix(10))): load it with --ip-adapter")
        }
        var blocks: StyleBlockScales?
        if let text = record.styleBlocks {
            if record.styleImages.isEmpty { problems.append("style blocks apply to style images; none given") }
            do {
                blocks = try StyleBlockScales(json: text)
                _ = try blocks?.layerScales(for: try pipeline.unet)
            } catch {
                problems.append(CLIError(error).message)
            }
        }
        if problems.isEmpty {
            do {
                _ = try record.scheduler.make(pipeline.schedulerConfiguration, steps: record.steps, eta: record.eta,
                                              strength: record.mode == .convert ? (record.strength ?? GenerationSettings.Defaults.strength) : 1)
            } catch {
                problems.append("\(error)")
            }
        }
        guard problems.isEmpty else { throw CLIError(invalid, problems.joined(separator: "; ")) }

        var r = GenerationRequest(prompt: record.prompt)
        r.width = record.width
        r.height = record.height
        do {
            _ = try pipeline.imageSize(of: r)
        } catch {
            throw CLIError(.dataError, CLIError(error).message)  // a size this model cannot make: 65, naming its configs
        }
        r.clipSkip = record.clipSkip ?? GenerationSettings.Defaults.clipSkip
        r.decoder = record.decoder ?? .full
        r.styleBlockScales = blocks
        r.initImageFit = record.fit ?? .stretch
        r.negativePrompt = record.negativePrompt
        r.styleImages = try record.styleImages.map { file in
            let (image, hash) = try Runner.readImage(file.path)
            guard hash == file.sha256 else { throw CLIError(.dataError, "\(file.path) changed since the image was made (hash differs)") }
            return StyleReference(image: image, weight: file.weight ?? 1)
        }
        r.blend = record.blend
        r.stylePreset = record.stylePreset
        r.styleStrength = record.styleStrength
        r.styleSnap = record.styleSnap ?? 0
        r.guidanceScale = record.guidanceScale
        r.steps = record.steps
        r.scheduler = record.scheduler
        r.eta = record.eta
        r.seed = record.seed
        if let initFile = record.initImage {
            let (image, hash) = try Runner.readImage(initFile.path)
            guard hash == initFile.sha256 else { throw CLIError(.dataError, "\(initFile.path) changed since the image was made (hash differs)") }
            r.initImage = image
            r.strength = record.strength ?? GenerationSettings.Defaults.strength
        }
        return r
    }

    /// Checks that `path` can be written (its folder exists, and it is absent or, with
    /// `overwrite`, a regular file): exit 73 otherwise.
    public static func checkOutput(_ path: String, overwrite: Bool) throws {
        do { try FileAccess.checkOutput(path, replace: overwrite) } catch { throw CLIError(.cannotCreate, CLIError(error).message) }
    }

    /// Generates `record` (prepared as `request`) into `path`. Fails before computing if the
    /// file exists and `overwrite` is false; publishes atomically, never replacing a file that
    /// appeared meanwhile without `overwrite`, so a failure or interruption leaves no file.
    public func run(_ record: GenerationRecord, _ request: GenerationRequest, to path: String, overwrite: Bool, progress: Progress?) throws -> Double {
        try Runner.checkOutput(path, overwrite: overwrite)
        let start = Date()
        let bytes = try render(record, request) { step, total in progress?.update(step: step, total: total) ?? true }
        progress?.finish()
        do {
            try Interruption.holdingSignals { try FileAccess.publish(bytes, to: path, replace: overwrite) }
        } catch {
            throw CLIError(.cannotCreate, CLIError(error).message)
        }
        return Date().timeIntervalSince(start)
    }

    /// The PNG file of `record` (prepared as `request`) with its metadata, in memory: what
    /// `run` writes and the server returns. `progress(step, total)` may return false to cancel.
    public func render(_ record: GenerationRecord, _ request: GenerationRequest,
                       progress: (Int, Int) -> Bool = { _, _ in true }) throws -> [UInt8] {
        try render(record, request, observe: { progress($0.step, $0.total) })
    }

    /// `render` with each denoising step and its latents shown to `observe` (false cancels).
    public func render(_ record: GenerationRecord, _ request: GenerationRequest, observe: (DenoisingStep) -> Bool) throws -> [UInt8] {
        let image: RGBImage
        do {
            image = try pipeline.generate(request, observe: observe)
        } catch {
            throw CLIError(error)
        }
        let texts = [try PNGTextChunk(keyword: "parameters", text: record.parametersText),
                     try PNGTextChunk(keyword: "stylediff", text: try record.json())]
        do {
            return try PNGCodec.encode(image, texts: texts)
        } catch {
            throw CLIError(.software, CLIError(error).message)
        }
    }
}
