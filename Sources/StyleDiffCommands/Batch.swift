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
// nothing is overwritten without --overwrite. A manifest (manifest.jsonl, or
// manifest-I-of-N.jsonl for a shard: BatchShard) lists line, file, seed, sha256 and status of
// every output, rewritten atomically after each. Exit 75 (retryable: rerun to resume) for an
// output that could not be written or SIGTERM; 65/66 for bad input.

import ArgumentParser
import FileAccess
import Foundation
import Pipeline
import Schedulers
import Tensors

/// One line of a prompt file: an optional output name and the generation settings (the
/// other fields; GenerationSettings' JSON encoding).
struct BatchLine: Decodable, Equatable {
    var name: String?
    var settings: GenerationSettings

    enum CodingKeys: String, CodingKey { case name }

    init(from decoder: Decoder) throws {
        name = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .name)
        settings = try GenerationSettings(from: decoder)
    }
}

public struct Batch: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Run a JSON Lines prompt file (resumable).")

    @Argument(help: "The prompt file (JSON Lines, see Prompts/).")
    public var file: String

    @Option(help: "Output folder (created if missing).")
    public var outDir: String = "out"

    @OptionGroup public var common: ModelOptions

    @Flag(help: "Regenerate and replace existing outputs.")
    public var overwrite = false

    @Flag(help: "Print a JSON result on stdout.")
    public var json = false

    @Option(help: "Run shard I of N (0 <= I < N): the file's prompt lines I, I+N, I+2N, ...; names and seeds do not change.")
    public var shard: String?

    @Option(help: "Shard count, the index from $JOB_COMPLETION_INDEX (Kubernetes Indexed Job). Without --shard/--shards, $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT shard a Slurm job array.")
    public var shards: Int?

    public init() {}

    public func validate() throws {
        if let shard, BatchShard(argument: shard) == nil { throw ValidationError("--shard must be I/N with 0 <= I < N, got '\(shard)'") }
        if let shards { guard (1...1_000_000).contains(shards) else { throw ValidationError("--shards must be at least 1") } }
    }

    /// The fields a line may have; any other is an error (a misspelt setting is never ignored).
    static let knownFields = GenerationSettings.fieldNames.union(["name"])

    /// Largest prompt file read (16 MiB).
    static let maximumFileBytes = 16 << 20

    /// Parses every line before anything runs: (line number, line). All malformed lines are
    /// reported together (exit 65).
    static func parse(file: String) throws -> [(Int, BatchLine)] {
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
            } catch DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context) {
                let field = context.codingPath.map(\.stringValue).joined(separator: ".")
                problems.append("\(where_): field '\(field)' has the wrong type or an unknown value")
                continue
            } catch {
                problems.append("\(where_): not a valid prompt line")
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

    /// Replaces the manifest atomically (one JSON object per line, keys sorted).
    static func writeManifest(_ entries: [ManifestEntry], to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var text = ""
        for e in entries { text += String(decoding: try encoder.encode(e), as: UTF8.self) + "\n" }
        do {
            try Interruption.holdingSignals { try FileAccess.publish(Array(text.utf8), to: path, replace: true) }
        } catch {
            throw CLIError(.tryAgain, "\(path): cannot write the manifest: \(CLIError(error).message)")
        }
    }

    public func run() throws {
        try reportingErrors {
            common.startWriting()
            Interruption.setTerminationStatus(CLIError.Kind.tryAgain.rawValue)
            let shard = try BatchShard.resolve(shard: shard, shards: shards, environment: ProcessInfo.processInfo.environment)
            let lines = try Batch.parse(file: file)
            let runner = try Runner(common)
            let base = FileAccess.parentDirectory(of: file)
            func resolve(_ p: String) -> String { p.hasPrefix("/") || base.isEmpty ? p : base + "/" + p }
            // Every line is checked with the CLI's rules (and against the model and its input
            // files) before the first image is generated; all bad lines are reported at once.
            var jobs: [(line: Int, record: GenerationRecord, request: GenerationRequest, path: String)] = []
            var problems: [String] = []
            var names: [String: Int] = [:]
            for (position, (number, line)) in lines.enumerated() {
                do {
                    if let problem = line.settings.problems().first { throw CLIError(.dataError, problem) }
                    let seed = line.settings.seed ?? UInt64(number)
                    let name = line.name ?? "line\(number)-seed\(seed)"
                    let record = try runner.record(line.settings, seed: seed, resolve: resolve)
                    if let first = names[name] { throw CLIError(.dataError, "output name '\(name)' is also line \(first)'s") }
                    names[name] = number
                    let request = try runner.prepare(record, invalid: .dataError)
                    if shard?.takes(position) ?? true { jobs.append((number, record, request, outDir + "/" + name + ".png")) }
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
            var results: [OutputResult] = []
            var manifest: [ManifestEntry] = []
            let manifestPath = outDir + "/" + BatchShard.manifestName(shard)
            for job in jobs {
                var status = "written"
                if FileAccess.exists(job.path) && !overwrite {
                    results.append(OutputResult(file: job.path, status: "skipped", seed: job.record.seed))
                    status = "skipped"
                } else {
                    let seconds: Double
                    do {
                        seconds = try runner.run(job.record, job.request, to: job.path, overwrite: overwrite, progress: Progress(label: job.path))
                    } catch let e as CLIError where e.kind == .cannotCreate && FileAccess.exists(job.path) == false {
                        throw CLIError(.tryAgain, e.message + " (retryable: rerun the batch to resume)")
                    }
                    results.append(OutputResult(file: job.path, seed: job.record.seed, seconds: seconds))
                    if !json { print(job.path) }
                }
                let hash: String
                do { hash = try SHA256Digest.hex(file: job.path) } catch { throw CLIError(.tryAgain, "\(job.path): \(CLIError(error).message)") }
                manifest.append(ManifestEntry(line: job.line, file: FileAccess.lastComponent(of: job.path), seed: job.record.seed,
                                              sha256: hash, status: status))
                try Batch.writeManifest(manifest, to: manifestPath)
            }
            if jobs.isEmpty { try Batch.writeManifest([], to: manifestPath) }
            if json { try printJSON(results) }
        }
    }
}
