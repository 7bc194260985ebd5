// Locating the files of a diffusers model folder.

import Foundation

enum ModelFolder {
    /// `config.json` and the weights file of a diffusers component folder: the first of
    /// diffusion_pytorch_model.safetensors, diffusion_pytorch_model.fp16.safetensors,
    /// model.safetensors that exists.
    static func files(_ directory: String) throws -> (config: String, weights: String) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError.missingFile(path: directory)
        }
        let config = directory + "/config.json"
        guard fm.fileExists(atPath: config) else { throw ModelError.missingFile(path: config) }
        for name in ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors", "model.safetensors"] {
            let path = directory + "/" + name
            if fm.fileExists(atPath: path) { return (config, path) }
        }
        throw ModelError.missingFile(path: directory + "/diffusion_pytorch_model.safetensors")
    }
}
