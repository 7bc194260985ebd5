// The files of a default-layout model folder beyond its components (as Apple's
// StableDiffusionPipeline+Resources.swift keeps a folder's layout in one place): styles.json,
// sampling_defaults.json and the files whose hash identifies the model in output metadata.

import FileAccess
import Foundation
import Models

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

    /// The files that define a model and so make up its hash (weights, SentencePiece model,
    /// JSON; relative paths, sorted). Each must be a regular file or a link to one (a JSON linked
    /// to /dev/zero is FileAccessError.notRegularFile, not an endless read), config-like files at
    /// most 64 MiB. The CLI hashes them (SHA-256 of the sorted paths and each file's hash).
    public static func definingFiles(of directory: String) throws -> [String] {
        if FileAccess.exists(directory + "/model_index.json") { return try diffusersDefiningFiles(of: directory) }
        guard let files = FileManager.default.enumerator(atPath: directory)?.compactMap({ $0 as? String })
            .filter({ $0.hasSuffix(".safetensors") || $0.hasSuffix(".model") || $0.hasSuffix(".json") }).sorted() else {
            throw PipelineError.missingComponent("cannot list \(directory)")
        }
        return try files.filter { f in
            let path = directory + "/" + f
            if FileAccess.isDirectory(path) { return false }
            let size = try FileAccess.regularFileSize(path)
            let limit = f.hasSuffix(".safetensors") ? Int.max : 64 << 20
            guard size <= limit else { throw FileAccessError.tooLarge(path: path, size: size, limit: limit) }
            return true
        }
    }

    /// A Stable Diffusion folder's defining files: what stylediff reads of it (model_index.json,
    /// the tokenizer files, each component's config.json and the weight file ModelFolder picks,
    /// scheduler_config.json, sampling_defaults.json, vae_tiny/ when present), so the fp16 copies, safety checker and
    /// .ckpt files a hub download also holds neither change the hash nor cost time.
    static func diffusersDefiningFiles(of directory: String) throws -> [String] {
        var files = ["model_index.json", "scheduler/scheduler_config.json"]
        for name in ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"]
        where FileAccess.exists(directory + "/tokenizer/" + name) {
            files.append("tokenizer/" + name)
        }
        for component in ["text_encoder", "unet", "vae"] {
            let (config, weights) = try ModelFolder.files(directory + "/" + component)
            files += [config, weights].map { String($0.dropFirst(directory.count + 1)) }
        }
        if FileAccess.isDirectory(directory + "/vae_tiny") {  // the optional tiny decoder (loadTinyVAE)
            let (config, weights) = try ModelFolder.files(directory + "/vae_tiny")
            files += [config, weights].map { String($0.dropFirst(directory.count + 1)) }
        }
        if FileAccess.exists(directory + "/" + SamplingDefaults.fileName) { files.append(SamplingDefaults.fileName) }
        for f in files { _ = try FileAccess.regularFileSize(directory + "/" + f) }
        return files.sorted()
    }
}
