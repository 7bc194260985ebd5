// Loading the components of the two folder layouts (ModelLayout). Both end in the same
// pipeline; what differs is the tokenizer, whether there is a style encoder and IP-Adapter, and
// which files must be there.

import FileAccess
import Foundation
import Models
import Schedulers
import TextTokenizer

extension StyleDiffusionPipeline {
    /// The loaded components of a folder, before the checks they share.
    struct Components {
        var layout: ModelLayout
        var tokenizer: any PromptTokenizing
        var textEncoder: CLIPTextModel
        var styleEncoder: StyleEncoder?
        var stylePresets: StylePresets?
        var unet: UNet2DConditionModel
        var vae: AutoencoderKL
    }

    /// The default model's layout: every folder of `componentFolders` must be there.
    static func loadDefaultLayout(_ directory: String) throws -> Components {
        for part in componentFolders where !FileAccess.isDirectory(directory + "/" + part) {
            throw PipelineError.missingComponent("\(directory)/\(part) is missing")
        }
        let styleEncoder = try StyleEncoder(directory: directory + "/style_encoder")
        let presets = directory + "/style_encoder/presets.safetensors"
        let tokenizer = try PromptTokenizer(directory: directory + "/tokenizer")
        for (name, id) in [("pad_id", tokenizer.padID), ("eos_id", tokenizer.endID)] where id < 0 || Int(id) >= tokenizer.vocabularySize {
            throw PipelineError.invalidModel("\(directory)/tokenizer/tokenizer_config.json: \(name) \(id) is outside the vocabulary 0..<\(tokenizer.vocabularySize)")
        }
        return Components(
            layout: .stylediff, tokenizer: tokenizer,
            textEncoder: try CLIPTextModel(directory: directory + "/text_encoder"), styleEncoder: styleEncoder,
            stylePresets: FileAccess.exists(presets) ? try StylePresets(path: presets, embedDim: styleEncoder.configuration.embedDim) : nil,
            unet: try UNet2DConditionModel(directory: directory + "/unet", styleAdapter: directory + "/ip_adapter/ip_adapter.safetensors",
                                           styleEmbeddingDimension: styleEncoder.configuration.embedDim),
            vae: try AutoencoderKL(directory: directory + "/vae"))
    }

    /// A diffusers StableDiffusionPipeline folder (model_index.json checked by ModelIndex):
    /// tokenizer/ (vocab.json, merges.txt, tokenizer_config.json's model_max_length,
    /// special_tokens_map.json's pad token), text_encoder/, unet/, vae/, scheduler/; each
    /// component's weights in fp32 or fp16, plain or as the fp16 variant (ModelFolder).
    static func loadDiffusersFolder(_ directory: String) throws -> Components {
        let index = try ModelIndex(directory: directory)
        let tokenizerFolder = directory + "/tokenizer"
        for file in ["vocab.json", "merges.txt"] where !FileAccess.exists(tokenizerFolder + "/" + file) {
            throw PipelineError.invalidModel("\(tokenizerFolder)/\(file) is missing: the CLIP tokenizer of a "
                + "\(index.pipelineClass) folder needs vocab.json and merges.txt")
        }
        let textEncoder = try CLIPTextModel(directory: directory + "/text_encoder")
        let maxLength = try modelMaxLength(tokenizerFolder) ?? textEncoder.configuration.maxPositionEmbeddings
        return Components(
            layout: .diffusers(pipelineClass: index.pipelineClass, ignored: index.ignored),
            tokenizer: try CLIPTokenizer(directory: tokenizerFolder, maxLength: maxLength), textEncoder: textEncoder,
            styleEncoder: nil, stylePresets: nil, unet: try UNet2DConditionModel(directory: directory + "/unet"),
            vae: try AutoencoderKL(directory: directory + "/vae"))
    }

    /// tokenizer_config.json's model_max_length (nil without the file or the field).
    static func modelMaxLength(_ folder: String) throws -> Int? {
        let path = folder + "/tokenizer_config.json"
        guard FileAccess.exists(path) else { return nil }
        let file: JSONConfigFile
        do { file = try JSONConfigFile(path: path) } catch let e as ConfigurationError { throw PipelineError.invalidModel("\(e)") }
        guard let value = file.fields["model_max_length"] else { return nil }
        guard let number = value as? NSNumber, let length = Int(exactly: number.doubleValue), (3...4096).contains(length) else {
            throw PipelineError.invalidModel("\(path): model_max_length \(file.render(value)) must be a whole number of ids, 3...4096")
        }
        return length
    }

    /// The `_class_name` of a diffusers config file, if it has one.
    static func className(of path: String) throws -> String? {
        do { return try JSONConfigFile(path: path).fields["_class_name"] as? String } catch let e as ConfigurationError {
            throw PipelineError.invalidModel("\(e)")
        }
    }
}
