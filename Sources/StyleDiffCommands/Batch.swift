// `stylediff batch FILE`: a JSON Lines prompt file, one image per line:
//   {"name": "folder-papirus", "prompt": "folder icon", "style": "papirus", "seed": 1,
//    "negative": "", "steps": 20, "scheduler": "ddim", "guidance": 5, "eta": 0,
//    "style_images": ["refs/a.png:1"], "style_strength": 1, "style_snap": 0, "blend": "linear", "style_preset": true,
//    "init_image": "in.png", "strength": 0.6}
// Left out, "guidance" and "style_strength" come from the model (SamplingDefaults). Only "prompt"
// (or a style) is required; relative paths are relative to FILE's folder; blank
// lines and lines starting with # are skipped. Outputs go to --out-dir as NAME.png (default:
// line number and seed); existing outputs are skipped, so an interrupted batch resumes, and
// nothing is overwritten without --overwrite.

import ArgumentParser
import Foundation
import Pipeline
import Schedulers
import Tensors

public struct BatchLine: Decodable, Equatable {
    public var name: String?
    public var prompt: String?
    public var style: String?
    public var seed: UInt64?
    public var negative: String?
    public var steps: Int?
    public var scheduler: String?
    public var guidance: Float?
    public var eta: Float?
    public var style_images: [String]?
    public var style_strength: Float?
    /// Snap each style image to the model's presets at this temperature (0 or absent: off).
    public var style_snap: Float?
    public var blend: String?
    /// false turns off the model's style preset for a style the prompt names (default true).
    public var style_preset: Bool?
    public var init_image: String?
    public var strength: Double?
}

public struct Batch: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Run a JSON Lines prompt file (resumable).")

    @Argument(help: "The prompt file (JSON Lines, see Prompts/).")
    public var file: String

    @Option(help: "Output folder (created if missing).")
    public var outDir: String = "out"

    @Option(help: "Model folder.")
    public var model: String?

    @Option(help: "Threads (default: all cores).")
    public var threads: Int?

    @Flag(help: "Regenerate and replace existing outputs.")
    public var overwrite = false

    @Flag(help: "Print a JSON result on stdout.")
    public var json = false

    public init() {}

    /// Parses and checks every line before anything runs: (line number, line).
    public static func parse(file: String) throws -> [(Int, BatchLine)] {
        guard let data = FileManager.default.contents(atPath: file) else { throw CLIError(.noInput, "\(file): no such file") }
        var lines: [(Int, BatchLine)] = []
        for (i, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = raw.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            let line: BatchLine
            do {
                line = try JSONDecoder().decode(BatchLine.self, from: Data(text.utf8))
            } catch {
                throw CLIError(.dataError, "\(file):\(i + 1): not a valid prompt line (\(error.localizedDescription))")
            }
            guard line.prompt != nil || line.style != nil || line.style_images != nil else {
                throw CLIError(.dataError, "\(file):\(i + 1): needs a prompt, a style or style_images")
            }
            if let s = line.steps, !(1...1000).contains(s) { throw CLIError(.dataError, "\(file):\(i + 1): steps must be 1...1000") }
            if let s = line.scheduler, SchedulerKind(rawValue: s) == nil {
                throw CLIError(.dataError, "\(file):\(i + 1): unknown scheduler '\(s)' (\(SchedulerKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if let b = line.blend, StyleBlend(rawValue: b) == nil { throw CLIError(.dataError, "\(file):\(i + 1): unknown blend '\(b)'") }
            if let s = line.strength, !(s > 0 && s <= 1) { throw CLIError(.dataError, "\(file):\(i + 1): strength must be in (0, 1]") }
            if let t = line.style_snap, !(t >= 0 && t.isFinite) || (t > 0 && (line.style_images ?? []).isEmpty) {
                throw CLIError(.dataError, "\(file):\(i + 1): style_snap must be >= 0 and needs style_images")
            }
            if let g = line.guidance, g < 0 { throw CLIError(.dataError, "\(file):\(i + 1): guidance must be >= 0") }
            if let n = line.name, n.isEmpty || n.contains("/") { throw CLIError(.dataError, "\(file):\(i + 1): name must be a plain file name") }
            lines.append((i + 1, line))
        }
        return lines
    }

    public func run() throws {
        try reportingErrors {
            Parallelism.setThreadCount(threads ?? 0)
            let lines = try Batch.parse(file: file)
            let base = (file as NSString).deletingLastPathComponent
            func resolve(_ p: String) -> String { p.hasPrefix("/") || base.isEmpty ? p : base + "/" + p }
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            let runner = try Runner(modelDirectory: ModelLocator.resolve(model))
            var results: [[String: String]] = []
            for (number, line) in lines {
                try runner.checkStyle(line.style)
                let seed = line.seed ?? UInt64(number)
                let path = outDir + "/" + (line.name ?? "line\(number)-seed\(seed)") + ".png"
                if FileManager.default.fileExists(atPath: path) && !overwrite {
                    results.append(["file": path, "status": "skipped"])
                    continue
                }
                let styleFiles = try (line.style_images ?? []).map { spec -> InputFile in
                    guard let s = StyleImageSpec(argument: spec) else { throw CLIError(.dataError, "\(file):\(number): bad style image '\(spec)'") }
                    let path = resolve(s.path)
                    return InputFile(path: path, weight: s.weight, sha256: try Runner.readImage(path).1)
                }
                let initFile = try line.init_image.map { p -> InputFile in
                    InputFile(path: resolve(p), weight: nil, sha256: try Runner.readImage(resolve(p)).1)
                }
                let composed = composePrompt(line.prompt ?? "", style: line.style)
                let record = GenerationRecord(
                    mode: initFile == nil ? "generate" : "convert", prompt: composed, negativePrompt: line.negative ?? "",
                    style: line.style,
                    stylePreset: runner.stylePreset(prompt: composed, hasStyleImages: !styleFiles.isEmpty, enabled: line.style_preset ?? true),
                    styleImages: styleFiles, blend: line.blend ?? "linear",
                    styleStrength: runner.samplingDefaults.styleStrength(line.style_strength, hasStyleImages: !styleFiles.isEmpty),
                    styleSnap: (line.style_snap ?? 0) != 0 ? line.style_snap : nil,
                    guidanceScale: runner.samplingDefaults.guidance(line.guidance), steps: line.steps ?? 20,
                    scheduler: line.scheduler ?? "ddim", eta: line.eta ?? 0, seed: seed, initImage: initFile,
                    strength: initFile == nil ? nil : (line.strength ?? 0.6), modelHash: runner.modelHash, size: runner.pipeline.imageSize)
                let seconds = try runner.run(record, to: path, overwrite: overwrite, progress: Progress(label: path))
                results.append(["file": path, "status": "written", "seconds": String(format: "%.3f", seconds)])
                if !json { print(path) }
            }
            if json { try printJSON(results) }
        }
    }
}
