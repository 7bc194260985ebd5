// `stylediff batch FILE`: a JSON Lines prompt file, one image per line:
//   {"name": "folder-papirus", "prompt": "folder icon", "style": "papirus", "seed": 1,
//    "negative": "", "steps": 20, "scheduler": "ddim", "guidance": 5, "eta": 0,
//    "style_images": ["refs/a.png:1"], "style_strength": 1, "style_snap": 0, "blend": "linear", "style_preset": true,
//    "init_image": "in.png", "strength": 0.6}
// Left out, "guidance" and "style_strength" come from the model (SamplingDefaults). Only "prompt"
// (or a style) is required; unknown fields, duplicate names and settings the CLI would reject
// are errors for the whole file, reported together before anything is generated; relative paths are relative to FILE's folder; blank
// lines and lines starting with # are skipped. Outputs go to --out-dir as NAME.png (default:
// line number and seed); existing outputs are skipped, so an interrupted batch resumes, and
// nothing is overwritten without --overwrite.

import ArgumentParser
import FileAccess
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

    /// The fields a line may have; any other is an error (a misspelt setting is never ignored).
    static let knownFields: Set<String> = [
        "name", "prompt", "style", "seed", "negative", "steps", "scheduler", "guidance", "eta", "style_images",
        "style_strength", "style_snap", "blend", "style_preset", "init_image", "strength",
    ]

    /// Largest prompt file read (16 MiB).
    static let maximumFileBytes = 16 << 20

    /// Parses every line before anything runs: (line number, line). All malformed lines are
    /// reported together (exit 65).
    public static func parse(file: String) throws -> [(Int, BatchLine)] {
        let bytes: [UInt8]
        do { bytes = try FileAccess.read(file, limit: maximumFileBytes) } catch { throw CLIError(error) }
        var lines: [(Int, BatchLine)] = []
        var problems: [String] = []
        for (i, raw) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty || text.hasPrefix("#") { continue }
            let where_ = "\(file):\(i + 1)"
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                problems.append("\(where_): not a JSON object")
                continue
            }
            if let unknown = object.keys.sorted().first(where: { !knownFields.contains($0) }) {
                problems.append("\(where_): unknown field '\(unknown)'")
                continue
            }
            let line: BatchLine
            do {
                line = try JSONDecoder().decode(BatchLine.self, from: Data(text.utf8))
            } catch DecodingError.typeMismatch(_, let context) {
                problems.append("\(where_): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
                continue
            } catch {
                problems.append("\(where_): not a valid prompt line")
                continue
            }
            guard line.prompt != nil || line.style != nil || line.style_images != nil else {
                problems.append("\(where_): needs a prompt, a style or style_images")
                continue
            }
            if let n = line.name, n.isEmpty || n.contains("/") || n == "." || n == ".." || n.hasPrefix(".") {
                problems.append("\(where_): name must be a plain file name")
                continue
            }
            lines.append((i + 1, line))
        }
        guard problems.isEmpty else { throw CLIError(.dataError, problems.joined(separator: "\n")) }
        return lines
    }

    /// One line as a record (seed and output name do not depend on any other line).
    func record(_ number: Int, _ line: BatchLine, runner: Runner) throws -> (record: GenerationRecord, name: String) {
        let base = FileAccess.parentDirectory(of: file)
        func resolve(_ p: String) -> String { p.hasPrefix("/") || base.isEmpty ? p : base + "/" + p }
        let seed = line.seed ?? UInt64(number)
        let styleFiles = try (line.style_images ?? []).map { spec -> InputFile in
            guard let s = StyleImageSpec(argument: spec) else { throw CLIError(.dataError, "bad style image '\(spec)' (PATH or PATH:WEIGHT)") }
            let path = resolve(s.path)
            return InputFile(path: path, weight: s.weight, sha256: try Runner.readImage(path).1)
        }
        let initFile = try line.init_image.map { p -> InputFile in
            InputFile(path: resolve(p), weight: nil, sha256: try Runner.readImage(resolve(p)).1)
        }
        let composed = composePrompt(line.prompt ?? "", style: line.style)
        let record = GenerationRecord(
            mode: (initFile == nil ? GenerationMode.generate : .convert).rawValue, prompt: composed, negativePrompt: line.negative ?? "",
            style: line.style,
            stylePreset: runner.stylePreset(prompt: composed, hasStyleImages: !styleFiles.isEmpty, enabled: line.style_preset ?? true),
            styleImages: styleFiles, blend: line.blend ?? "linear",
            styleStrength: runner.samplingDefaults.styleStrength(line.style_strength, hasStyleImages: !styleFiles.isEmpty),
            styleSnap: (line.style_snap ?? 0) != 0 ? line.style_snap : nil,
            guidanceScale: runner.samplingDefaults.guidance(line.guidance), steps: line.steps ?? 20,
            scheduler: line.scheduler ?? "ddim", eta: line.eta ?? 0, seed: seed, initImage: initFile,
            strength: initFile == nil ? (line.strength == nil ? nil : line.strength) : (line.strength ?? 0.6),
            modelHash: runner.modelHash, size: runner.pipeline.imageSize)
        return (record, line.name ?? "line\(number)-seed\(seed)")
    }

    public func run() throws {
        try reportingErrors {
            Interruption.install()
            Parallelism.setThreadCount(threads ?? 0)
            let lines = try Batch.parse(file: file)
            let runner = try Runner(modelDirectory: ModelLocator.resolve(model))
            // Every line is checked with the CLI's rules (and against the model and its input
            // files) before the first image is generated; all bad lines are reported at once.
            var jobs: [(record: GenerationRecord, request: GenerationRequest, path: String)] = []
            var problems: [String] = []
            var names: [String: Int] = [:]
            for (number, line) in lines {
                do {
                    if line.strength != nil && line.init_image == nil { throw CLIError(.dataError, "strength applies to init_image only") }
                    let (record, name) = try record(number, line, runner: runner)
                    if let first = names[name] { throw CLIError(.dataError, "output name '\(name)' is also line \(first)'s") }
                    names[name] = number
                    let request = try runner.prepare(record, invalid: .dataError)
                    jobs.append((record, request, outDir + "/" + name + ".png"))
                } catch {
                    problems.append("\(file):\(number): \(CLIError(error).message)")
                }
            }
            guard problems.isEmpty else { throw CLIError(.dataError, problems.joined(separator: "\n")) }
            do {
                try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            } catch {
                throw CLIError(.cannotCreate, "\(outDir): cannot create the output folder")
            }
            let stale = FileAccess.removeStaleTemporaryFiles(in: outDir)
            if !stale.isEmpty { note("removed \(stale.count) temporary file(s) an interrupted run left in \(outDir)") }
            var results: [[String: String]] = []
            for job in jobs {
                if FileAccess.exists(job.path) && !overwrite {
                    results.append(["file": job.path, "status": "skipped"])
                    continue
                }
                let seconds = try runner.run(job.record, job.request, to: job.path, overwrite: overwrite, progress: Progress(label: job.path))
                results.append(["file": job.path, "status": "written", "seconds": String(format: "%.3f", seconds)])
                if !json { print(job.path) }
                    }
            if json { try printJSON(results) }
        }
    }
}
