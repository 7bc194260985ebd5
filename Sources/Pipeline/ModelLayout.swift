// The two kinds of model folder stylediff runs, told apart by what is in them: a diffusers
// pipeline folder has model_index.json (Stable Diffusion 1.x / 2.x, a fine-tune of them, a
// Hugging Face cache snapshot whose files are links); the default model's layout has not.

import FileAccess
import Foundation

public enum ModelLayout: Equatable, Sendable {
    /// The default model's layout: SentencePiece tokenizer, style encoder and IP-Adapter (see
    /// Weights/default/README.md and StyleDiffusionPipeline+Resources.swift).
    case stylediff
    /// A diffusers StableDiffusionPipeline folder: its pipeline class, and the components its
    /// model_index.json names that stylediff does not use (safety_checker, feature_extractor,
    /// image_encoder).
    case diffusers(pipelineClass: String, ignored: [String])
}

/// model_index.json of a diffusers pipeline folder, checked against what stylediff runs.
struct ModelIndex {
    /// Pipeline classes whose folders hold exactly the components stylediff runs.
    static let supportedPipelines: Set<String> = [
        "StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline",
        "LatentConsistencyModelPipeline", "LatentConsistencyModelImg2ImgPipeline",
    ]
    /// Components stylediff loads, with the classes it accepts for them (nil: any scheduler
    /// class; its config gives the noise schedule).
    static let components: [(name: String, classes: Set<String>?)] = [
        ("tokenizer", ["CLIPTokenizer", "CLIPTokenizerFast"]), ("text_encoder", ["CLIPTextModel"]),
        ("unet", ["UNet2DConditionModel"]), ("vae", ["AutoencoderKL"]), ("scheduler", nil),
    ]
    /// Components a StableDiffusionPipeline folder may name that do not change the image.
    static let ignorable: Set<String> = ["safety_checker", "feature_extractor", "image_encoder"]
    /// Settings of the diffusers pipeline object that are not components.
    static let settings: Set<String> = ["requires_safety_checker"]

    let pipelineClass: String
    /// Ignorable components the file names (non-null), sorted.
    let ignored: [String]

    /// Reads and checks `directory`/model_index.json: an unsupported pipeline class (SDXL, SD3,
    /// Flux, inpainting, ...) or component class is PipelineError.invalidModel naming it.
    init(directory: String) throws {
        let path = directory + "/model_index.json"
        let file: JSONConfigFile
        do {
            file = try JSONConfigFile(path: path)
        } catch let e as ConfigurationError {
            throw PipelineError.invalidModel("\(e)")
        }
        guard let name = file.fields["_class_name"] as? String else {
            throw PipelineError.invalidModel("\(path): no _class_name (not a diffusers pipeline folder)")
        }
        guard Self.supportedPipelines.contains(name) else {
            throw PipelineError.invalidModel("\(path): pipeline class \(name) is not supported; stylediff runs "
                + "StableDiffusionPipeline folders (Stable Diffusion 1.x and 2.x and their fine-tunes)")
        }
        func className(_ component: String) throws -> String? {
            guard let entry = file.fields[component] else { return nil }
            guard let pair = entry as? [Any], pair.count == 2 else {
                throw PipelineError.invalidModel("\(path): '\(component)' must be [library, class], got \(file.render(entry))")
            }
            if pair[1] is NSNull { return nil }
            guard let cls = pair[1] as? String else {
                throw PipelineError.invalidModel("\(path): '\(component)' must name a class, got \(file.render(pair[1]))")
            }
            return cls
        }
        for (component, classes) in Self.components {
            guard let cls = try className(component) else {
                throw PipelineError.invalidModel("\(path): \(name) needs a '\(component)' component")
            }
            if let classes, !classes.contains(cls) {
                throw PipelineError.invalidModel("\(path): \(component) class \(cls) is not supported (expected "
                    + classes.sorted().joined(separator: " or ") + ")")
            }
        }
        var ignored: [String] = []
        for key in file.fields.keys.sorted() where !key.hasPrefix("_") && !Self.settings.contains(key)
            && !Self.components.contains(where: { $0.name == key }) {
            guard Self.ignorable.contains(key) else {
                throw PipelineError.invalidModel("\(path): component '\(key)' is not part of a \(name) stylediff can run")
            }
            if try className(key) != nil { ignored.append(key) }
        }
        pipelineClass = name
        self.ignored = ignored
    }
}
