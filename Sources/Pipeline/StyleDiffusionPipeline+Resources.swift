// The files of a default-layout model folder beyond its components (as Apple's
// StableDiffusionPipeline+Resources.swift keeps a folder's layout in one place): styles.json,
// sampling_defaults.json and the model hash that output metadata and replay use.

import FileAccess
import Foundation

extension StyleDiffusionPipeline {
    /// The component folders a default-layout model must have.
    static let componentFolders = ["tokenizer", "text_encoder", "style_encoder", "unet", "vae", "scheduler", "ip_adapter"]

    /// styles.json: a JSON array of style names; none when the file is absent. A file that
    /// cannot be read is FileAccessError; a malformed one PipelineError.invalidModel (never an
    /// empty list).
    public static func styles(in directory: String) throws -> [String] {
        let path = directory + "/styles.json"
        guard FileAccess.exists(path) else { return [] }
        let bytes = try FileAccess.read(path, limit: 1 << 20)
        guard let styles = try? JSONDecoder().decode([String].self, from: Data(bytes)) else {
            throw PipelineError.invalidModel("\(path): must be a JSON array of style names")
        }
        return styles
    }

    /// SHA-256 over the files that define a model (weights, SentencePiece model, JSON; sorted
    /// paths, then each file's hash). Each must be a regular file or a link to one (a JSON
    /// linked to /dev/zero is FileAccessError.notRegularFile, not an endless read), config-like
    /// files at most 64 MiB.
    public static func modelHash(of directory: String) throws -> String {
        guard let files = FileManager.default.enumerator(atPath: directory)?.compactMap({ $0 as? String })
            .filter({ $0.hasSuffix(".safetensors") || $0.hasSuffix(".model") || $0.hasSuffix(".json") }).sorted() else {
            throw PipelineError.missingComponent("cannot list \(directory)")
        }
        var digest = SHA256Digest()
        for f in files {
            let path = directory + "/" + f
            if FileAccess.isDirectory(path) { continue }
            let size = try FileAccess.regularFileSize(path)
            let limit = f.hasSuffix(".safetensors") ? Int.max : 64 << 20
            guard size <= limit else { throw FileAccessError.tooLarge(path: path, size: size, limit: limit) }
            digest.update(Array(f.utf8))
            digest.update(Array(try SHA256Digest.hex(file: path).utf8))
        }
        return digest.finalize()
    }
}
