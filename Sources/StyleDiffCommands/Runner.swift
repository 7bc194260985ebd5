// Runs generation records against a loaded pipeline and writes PNGs with their metadata,
// atomically, never replacing a file without --overwrite.

import Foundation
import PNGIO
import Pipeline
import Schedulers
import Tensors

public struct Runner {
    public let pipeline: StyleDiffusionPipeline
    public let modelHash: String
    public let styles: [String]
    /// The model's recommended guidance and reference style strength (sampling_defaults.json).
    public let samplingDefaults: SamplingDefaults

    /// Loads the model folder; errors carry exit codes.
    public init(modelDirectory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError(.noInput, "model folder \(modelDirectory) does not exist (use --model or STYLEDIFF_MODEL)")
        }
        do {
            pipeline = try StyleDiffusionPipeline(directory: modelDirectory)
        } catch let e as PipelineError {
            throw CLIError(.noInput, "\(e)")
        } catch {
            throw CLIError(.dataError, "cannot load the model in \(modelDirectory): \(error)")
        }
        modelHash = try Runner.hashModel(modelDirectory)
        styles = Runner.readStyles(modelDirectory)
        samplingDefaults = try SamplingDefaults.load(modelDirectory: modelDirectory)
    }

    /// SHA-256 over the weight files of the model (sorted paths, then each file's hash).
    static func hashModel(_ directory: String) throws -> String {
        let fm = FileManager.default
        guard let files = fm.enumerator(atPath: directory)?.compactMap({ $0 as? String })
            .filter({ $0.hasSuffix(".safetensors") || $0.hasSuffix(".model") || $0.hasSuffix(".json") }).sorted() else {
            throw CLIError(.noInput, "cannot list \(directory)")
        }
        var digest = SHA256Digest()
        for f in files {
            digest.update(Array(f.utf8))
            digest.update(Array(try SHA256Digest.hex(file: directory + "/" + f).utf8))
        }
        return digest.finalize()
    }

    /// styles.json of the model: a JSON array of style names.
    static func readStyles(_ directory: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: directory + "/styles.json"),
              let styles = try? JSONDecoder().decode([String].self, from: data) else { return [] }
        return styles
    }

    /// The style preset a generation uses: the style its prompt names ("..., NAME style", as
    /// --style composes it) when the model has a preset of that name, there are no style
    /// images (they take precedence) and presets are not turned off.
    public func stylePreset(prompt: String, hasStyleImages: Bool, enabled: Bool) -> String? {
        guard enabled, !hasStyleImages, let presets = pipeline.stylePresets else { return nil }
        return styleNamed(in: prompt, among: presets.names)
    }

    public func checkStyle(_ style: String?) throws {
        guard let style else { return }
        guard styles.contains(style) else {
            let known = styles.isEmpty ? "this model lists no styles" : "known styles: " + styles.joined(separator: ", ")
            throw CLIError(.dataError, "unknown style '\(style)'; \(known)")
        }
    }

    /// Reads an input image (style reference or img2img source).
    public static func readImage(_ path: String) throws -> (RGBImage, String) {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError(.noInput, "\(path): no such file") }
        do {
            let image = try PNGCodec.read(path: path).image
            return (image, try SHA256Digest.hex(file: path))
        } catch let e as PNGError {
            throw CLIError(.noInput, "\(e)")
        }
    }

    /// The request a record describes; input files must still hash the same.
    public func request(for record: GenerationRecord) throws -> GenerationRequest {
        var r = GenerationRequest(prompt: record.prompt)
        r.negativePrompt = record.negativePrompt
        r.styleImages = try record.styleImages.map { file in
            let (image, hash) = try Runner.readImage(file.path)
            guard hash == file.sha256 else { throw CLIError(.dataError, "\(file.path) changed since the image was made (hash differs)") }
            return StyleReference(image: image, weight: file.weight ?? 1)
        }
        r.blend = StyleBlend(rawValue: record.blend) ?? .linear
        r.stylePreset = record.stylePreset
        r.styleStrength = record.styleStrength
        r.styleSnap = record.styleSnap ?? 0
        r.guidanceScale = record.guidanceScale
        r.steps = record.steps
        guard let kind = SchedulerKind(rawValue: record.scheduler) else { throw CLIError(.dataError, "unknown scheduler '\(record.scheduler)'") }
        r.scheduler = kind
        r.eta = record.eta
        r.seed = record.seed
        if let initFile = record.initImage {
            let (image, hash) = try Runner.readImage(initFile.path)
            guard hash == initFile.sha256 else { throw CLIError(.dataError, "\(initFile.path) changed since the image was made (hash differs)") }
            r.initImage = image
            r.strength = record.strength ?? 0.6
        }
        return r
    }

    /// Generates `record` into `path`. Fails before computing if the file exists and
    /// `overwrite` is false; writes atomically, so a failure leaves no file.
    public func run(_ record: GenerationRecord, to path: String, overwrite: Bool, progress: Progress?) throws -> Double {
        if !overwrite && FileManager.default.fileExists(atPath: path) {
            throw CLIError(.cannotCreate, "\(path) exists (use --overwrite to replace it)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIError(.cannotCreate, "\(path): folder \(directory) does not exist")
            }
        }
        guard FileManager.default.isWritableFile(atPath: directory.isEmpty ? "." : directory) else {
            throw CLIError(.cannotCreate, "\(path): folder is not writable")
        }
        let start = Date()
        let request = try self.request(for: record)
        let image: RGBImage
        do {
            image = try pipeline.generate(request) { step, total in progress?.update(step: step, total: total) ?? true }
        } catch PipelineError.cancelled {
            throw CLIError(.cancelled, "cancelled")
        } catch let e as CLIError {
            throw e
        } catch {
            throw CLIError(.software, "\(error)")
        }
        progress?.finish()
        let texts = [try PNGTextChunk(keyword: "parameters", text: record.parametersText),
                     try PNGTextChunk(keyword: "stylediff", text: try record.json())]
        do {
            try PNGCodec.write(image, to: path, texts: texts)
        } catch {
            throw CLIError(.cannotCreate, "\(error)")
        }
        return Date().timeIntervalSince(start)
    }
}
