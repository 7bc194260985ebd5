// Loading the components of the two folder layouts (ModelLayout). Both end in the same
// pipeline; what differs is the tokenizer, whether there is a style encoder and IP-Adapter, and
// which files must be there.

import FileAccess
import Foundation
import Models
import Schedulers
import Tensors
import TextTokenizer

extension StyleDiffusionPipeline {
    /// The loaded components of a folder, before the checks they share.
    struct Components {
        var layout: ModelLayout
        var tokenizer: any PromptTokenizing
        var textEncoder: CLIPTextModel
        var styleImageEncoder: Deferred<StyleImageEncoder>?
        var styleEmbeddingDimension: Int?
        var ipAdapterFile: String?
        var stylePresets: StylePresets?
        var unet: DeferredUNet
        var vae: Deferred<AutoencoderKL>
        var vaeConfiguration: AutoencoderKLConfiguration
        /// The default layout's optional unet_lcm/: a latent-consistency-distilled UNet for LCM steps.
        var consistencyUNet: DeferredUNet? = nil
        /// The optional vae_tiny/ of either layout (loaded by init).
        var tinyVAE: AutoencoderTiny? = nil
    }

    /// The default model's layout: every folder of `componentFolders` must be there.
    /// `deferModels`: build unet/, unet_lcm/, the style encoder and the VAE on first use (see
    /// StyleDiffusionPipeline.init).
    static func loadDefaultLayout(_ directory: String, loras: [LoRA], precision: WeightPrecision, deferModels: Bool) throws -> Components {
        for part in componentFolders where !FileAccess.isDirectory(directory + "/" + part) {
            throw PipelineError.missingComponent("\(directory)/\(part) is missing")
        }
        let styleEncoder = try StyleEncoder.prepare(directory: directory + "/style_encoder")
        let embedDim = styleEncoder.configuration.embedDim
        let presets = directory + "/style_encoder/presets.safetensors"
        let tokenizer = try PromptTokenizer(directory: directory + "/tokenizer")
        for (name, id) in [("pad_id", tokenizer.padID), ("eos_id", tokenizer.endID)] where id < 0 || Int(id) >= tokenizer.vocabularySize {
            throw PipelineError.invalidModel("\(directory)/tokenizer/tokenizer_config.json: \(name) \(id) is outside the vocabulary 0..<\(tokenizer.vocabularySize)")
        }
        let unet = DeferredUNet(try UNet2DConditionModel.prepare(
            directory: directory + "/unet", styleAdapter: directory + "/ip_adapter/ip_adapter.safetensors",
            styleEmbeddingDimension: embedDim, loras: loras, precision: precision))
        let consistencyUNet = try prepareConsistencyUNet(directory, styleEmbeddingDimension: embedDim,
                                                         loras: loras, precision: precision).map(DeferredUNet.init)
        let styleImageEncoder = Deferred(build: { StyleImageEncoder.stylediff(try styleEncoder.build()) })
        let vae = try AutoencoderKL.prepare(directory: directory + "/vae")
        let vaeSlot = Deferred(build: vae.build)
        if !deferModels {
            _ = try unet.model()
            _ = try consistencyUNet?.model()
            _ = try styleImageEncoder.model()
            _ = try vaeSlot.model()
        }
        return Components(
            layout: .stylediff, tokenizer: tokenizer,
            textEncoder: try CLIPTextModel(directory: directory + "/text_encoder", loras: loras, component: .textEncoder, precision: precision),
            styleImageEncoder: styleImageEncoder, styleEmbeddingDimension: embedDim, ipAdapterFile: nil,
            stylePresets: FileAccess.exists(presets) ? try StylePresets(path: presets, embedDim: embedDim) : nil,
            unet: unet, vae: vaeSlot, vaeConfiguration: vae.configuration, consistencyUNet: consistencyUNet)
    }

    /// unet_lcm/ of the default layout when present: the UNet distilled for LCM steps (with a
    /// guidance embedding), sharing the folder's IP-Adapter file; it must have the main UNet's
    /// latent channels and sample size (checked by the pipeline).
    static func prepareConsistencyUNet(_ directory: String, styleEmbeddingDimension: Int, loras: [LoRA],
                                       precision: WeightPrecision) throws -> UNet2DConditionModel.Prepared? {
        let folder = directory + "/unet_lcm"
        guard FileAccess.isDirectory(folder) else { return nil }
        let unet = try UNet2DConditionModel.prepare(directory: folder, styleAdapter: directory + "/ip_adapter/ip_adapter.safetensors",
                                                    styleEmbeddingDimension: styleEmbeddingDimension, loras: loras, precision: precision)
        guard unet.configuration.timeCondProjDim != nil else {
            throw PipelineError.invalidModel("\(folder)/config.json: an LCM UNet needs time_cond_proj_dim (its guidance embedding)")
        }
        return unet
    }

    /// vae_tiny/ of either layout when present: a diffusers AutoencoderTiny (TAESD's design; for a
    /// Stable Diffusion 1.x/2.x folder, madebyollin/taesd) whose decoder a request may choose
    /// (`GenerationRequest.decoder`); the pipeline checks that it fits the VAE's latents.
    static func loadTinyVAE(_ directory: String) throws -> AutoencoderTiny? {
        let folder = directory + "/vae_tiny"
        guard FileAccess.isDirectory(folder) else { return nil }
        return try AutoencoderTiny(directory: folder)
    }

    /// A diffusers StableDiffusionPipeline folder (model_index.json checked by ModelIndex):
    /// tokenizer/ (vocab.json, merges.txt, tokenizer_config.json's model_max_length,
    /// special_tokens_map.json's pad token), text_encoder/, unet/, vae/, scheduler/; each
    /// component's weights in fp32 or fp16, plain or as the fp16 variant (ModelFolder).
    static func loadDiffusersFolder(_ directory: String, ipAdapter: String?, loras: [LoRA], precision: WeightPrecision,
                                    deferModels: Bool) throws -> Components {
        let index = try ModelIndex(directory: directory)
        let tokenizerFolder = directory + "/tokenizer"
        for file in ["vocab.json", "merges.txt"] where !FileAccess.exists(tokenizerFolder + "/" + file) {
            throw PipelineError.invalidModel("\(tokenizerFolder)/\(file) is missing: the CLIP tokenizer of a "
                + "\(index.pipelineClass) folder needs vocab.json and merges.txt")
        }
        let textEncoder = try CLIPTextModel(directory: directory + "/text_encoder", loras: loras, component: .textEncoder, precision: precision)
        let maxLength = try modelMaxLength(tokenizerFolder) ?? textEncoder.configuration.maxPositionEmbeddings
        var imageEncoder: StyleImageEncoder?
        var unet: UNet2DConditionModel
        var adapterFile: String?
        if let ipAdapter {
            let (weights, encoderFolder) = try ipAdapterFiles(ipAdapter)
            let model = try CLIPVisionModelWithProjection(directory: encoderFolder)
            // diffusers' load_ip_adapter uses the folder's feature extractor, else CLIPImageProcessor at the encoder's size.
            let processorConfig = directory + "/feature_extractor/preprocessor_config.json"
            let preprocess = FileAccess.exists(processorConfig) ? try CLIPImagePreprocessor(path: processorConfig)
                : CLIPImagePreprocessor(imageSize: model.configuration.imageSize)
            if let crop = preprocess.crop, crop != (model.configuration.imageSize, model.configuration.imageSize) {
                throw PipelineError.invalidModel("\(processorConfig): crop_size \(crop.width)x\(crop.height) does not fit the image encoder's "
                    + "image_size \(model.configuration.imageSize) (\(encoderFolder)/config.json)")
            }
            imageEncoder = .clip(model, preprocess)
            do {
                unet = try UNet2DConditionModel(directory: directory + "/unet", styleAdapter: weights,
                                                styleEmbeddingDimension: model.configuration.projectionDim, loras: loras, precision: precision)
            } catch let e as ModelError where "\(e)".contains(weights) {
                throw PipelineError.invalidModel("\(weights) does not fit \(directory)/unet and the image encoder's projection_dim "
                    + "\(model.configuration.projectionDim): \(e)")
            }
            adapterFile = weights
        } else {
            unet = try UNet2DConditionModel(directory: directory + "/unet", loras: loras, precision: precision)
        }
        let vae = try AutoencoderKL.prepare(directory: directory + "/vae")
        let vaeSlot = Deferred(build: vae.build)
        if !deferModels { _ = try vaeSlot.model() }
        return Components(
            layout: .diffusers(pipelineClass: index.pipelineClass, ignored: index.ignored),
            tokenizer: try CLIPTokenizer(directory: tokenizerFolder, maxLength: maxLength), textEncoder: textEncoder,
            styleImageEncoder: imageEncoder.map { Deferred(loaded: $0) }, styleEmbeddingDimension: imageEncoder?.embeddingDimension,
            ipAdapterFile: adapterFile, stylePresets: nil, unet: DeferredUNet(loaded: unet), vae: vaeSlot, vaeConfiguration: vae.configuration)
    }

    /// The files that define an IP-Adapter (what its hash covers): the adapter weights, and the
    /// image encoder's config.json and weights.
    public static func ipAdapterDefiningFiles(_ path: String) throws -> [String] {
        let (weights, encoder) = try ipAdapterFiles(path)
        let (config, encoderWeights) = try ModelFolder.files(encoder)
        return [weights, config, encoderWeights]
    }

    /// The public IP-Adapter's files (h94/IP-Adapter's layout): `path` is a folder holding
    /// image_encoder/ (CLIPVisionModelWithProjection) and exactly one ip-adapter*.safetensors,
    /// or one such file with image_encoder/ beside it.
    public static func ipAdapterFiles(_ path: String) throws -> (weights: String, imageEncoder: String) {
        var weights = path
        if FileAccess.isDirectory(path) {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
                .filter { $0.hasPrefix("ip-adapter") && $0.hasSuffix(".safetensors") }.sorted()
            guard names.count == 1 else {
                throw PipelineError.missingComponent(names.isEmpty ? "\(path) holds no ip-adapter*.safetensors"
                    : "\(path) holds several IP-Adapters (\(names.joined(separator: ", "))): name one file with --ip-adapter")
            }
            weights = path + "/" + names[0]
        } else if !FileAccess.exists(path) {
            throw PipelineError.missingComponent("IP-Adapter \(path) does not exist")
        }
        let encoder = FileAccess.parentDirectory(of: weights) + "/image_encoder"
        guard FileAccess.isDirectory(encoder) else {
            throw PipelineError.missingComponent("\(encoder) is missing: the IP-Adapter's CLIP image encoder goes beside \(weights)")
        }
        return (weights, encoder)
    }

    /// tokenizer_config.json's model_max_length (nil without the file or the field).
    static func modelMaxLength(_ folder: String) throws -> Int? {
        let path = folder + "/tokenizer_config.json"
        guard FileAccess.exists(path) else { return nil }
        let file: JSONConfigFile
        do { file = try JSONConfigFile(path: path) } catch let e as ConfigurationError { throw PipelineError.invalidModel("\(e)") }
        guard let value = file.fields["model_max_length"] else { return nil }
        guard let number = JSONConfigFile.number(value), let length = Int(exactly: number), (3...4096).contains(length) else {
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
