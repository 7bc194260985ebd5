// The text- and image-style-conditioned sampler (txt2img and img2img), following diffusers'
// StableDiffusionPipeline / StableDiffusionImg2ImgPipeline with an IP-Adapter:
//
//   text:   cond = text_encoder(prompt), uncond = text_encoder(negative prompt, "" by default)
//   style:  e = blend(style_encoder(reference images), each snapped to the presets when
//           styleSnap > 0: StylePresets.snap), else the requested style preset's
//           stored embedding, else zero; cond style tokens = image_proj(e), uncond = image_proj(0)
//   noise:  one TorchGenerator(seed) for everything, as a diffusers pipeline with
//           generator=torch.Generator("cpu").manual_seed(seed): img2img first draws the VAE
//           latent sample, then the noise; txt2img draws the initial latents
//   loop:   eps_u, eps_c = unet([x, x], t, [uncond, cond]) with style attention scaled by
//           styleStrength (1 when neither images nor a preset); eps = eps_u + g (eps_c - eps_u);
//           x = scheduler.step(eps, x)
//   decode: vae.decode(x / scaling_factor + shift_factor), then round(clamp(y/2 + 1/2) * 255)
//
// Weights are mapped once at load and reused for every request of the process.

import Foundation
import Models
import PNGIO
import Schedulers
import Tensors
import TextTokenizer

public final class StyleDiffusionPipeline: @unchecked Sendable {
    public let directory: String
    public let tokenizer: PromptTokenizer
    public let textEncoder: CLIPTextModel
    public let styleEncoder: StyleEncoder
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    public let schedulerConfiguration: SchedulerConfiguration
    /// Named style embeddings (style_encoder/presets.safetensors), when the model ships them.
    public let stylePresets: StylePresets?
    /// The style names of styles.json (empty without the file).
    public let styles: [String]
    /// The model's recommended guidance and reference style strength (sampling_defaults.json).
    public let samplingDefaults: SamplingDefaults

    /// Loads a model folder in the default model's layout (see Weights/default/README.md and
    /// StyleDiffusionPipeline+Resources.swift). A missing part is PipelineError.missingComponent,
    /// an unreadable file FileAccessError, a malformed one ModelError, SchedulerError,
    /// TokenizerError or PipelineError.invalidModel.
    public init(directory: String) throws {
        let fm = FileManager.default
        for part in Self.componentFolders {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: directory + "/" + part, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw PipelineError.missingComponent("\(directory)/\(part) is missing")
            }
        }
        self.directory = directory
        tokenizer = try PromptTokenizer(directory: directory + "/tokenizer")
        textEncoder = try CLIPTextModel(directory: directory + "/text_encoder")
        styleEncoder = try StyleEncoder(directory: directory + "/style_encoder")
        let presets = directory + "/style_encoder/presets.safetensors"
        stylePresets = fm.fileExists(atPath: presets) ? try StylePresets(path: presets, embedDim: styleEncoder.configuration.embedDim) : nil
        unet = try UNet2DConditionModel(directory: directory + "/unet", styleAdapter: directory + "/ip_adapter/ip_adapter.safetensors",
                                        styleEmbeddingDimension: styleEncoder.configuration.embedDim)
        vae = try AutoencoderKL(directory: directory + "/vae")
        schedulerConfiguration = try SchedulerConfiguration.load(path: directory + "/scheduler/scheduler_config.json")
        guard let size = unet.configuration.sampleSize, size > 0, size % (1 << (unet.configuration.blockOutChannels.count - 1)) == 0 else {
            throw PipelineError.invalidModel("\(directory)/unet/config.json needs a sample_size divisible by the UNet's downsampling")
        }
        let (side, overflow) = size.multipliedReportingOverflow(by: vae.downsamplingFactor)
        guard !overflow, side <= Self.maximumImageSide else {
            throw PipelineError.invalidModel("\(directory)/unet/config.json: sample_size \(size) x VAE factor \(vae.downsamplingFactor) "
                + "is over the \(Self.maximumImageSide) px image limit")
        }
        latentSize = size
        let text = textEncoder.configuration, vocabulary = tokenizer.model.vocabularySize
        guard text.maxPositionEmbeddings >= tokenizer.maxLength else {
            throw PipelineError.invalidModel("\(directory)/tokenizer/tokenizer_config.json: max_length \(tokenizer.maxLength) exceeds "
                + "the text encoder's max_position_embeddings \(text.maxPositionEmbeddings)")
        }
        guard text.vocabSize >= vocabulary else {
            throw PipelineError.invalidModel("\(directory)/tokenizer: \(vocabulary) pieces do not fit the text encoder's vocab_size \(text.vocabSize)")
        }
        for (name, id) in [("pad_id", tokenizer.padID), ("eos_id", tokenizer.endID)] where id < 0 || Int(id) >= vocabulary {
            throw PipelineError.invalidModel("\(directory)/tokenizer/tokenizer_config.json: \(name) \(id) is outside the vocabulary 0..<\(vocabulary)")
        }
        styles = try Self.styles(in: directory)
        samplingDefaults = try SamplingDefaults.load(modelDirectory: directory)
    }

    /// Largest image side a model may generate (2048 px: 4 MP, a stated memory budget).
    public static let maximumImageSide = 2048

    /// The latent side length: the UNet's sample_size from its config.json.
    public let latentSize: Int

    /// The image side length the model generates (latent size x VAE factor).
    public var imageSize: Int { latentSize * vae.downsamplingFactor }

    /// Text embeddings [1, L, D] of a prompt.
    public func encodePrompt(_ prompt: String) throws -> Tensor {
        try textEncoder([tokenizer.ids(prompt)])
    }

    /// The style embedding [1, E] of weighted reference images (zero when there are none), each
    /// image's embedding snapped to the style presets first when `snap` > 0 (GenerationRequest.styleSnap).
    public func styleEmbedding(_ references: [StyleReference], blend: StyleBlend, snap: Float = 0) throws -> Tensor {
        let width = styleEncoder.configuration.embedDim
        guard !references.isEmpty else { return Tensor(zeros: [1, width]) }
        guard references.allSatisfy({ $0.weight >= 0 && $0.weight.isFinite }), references.contains(where: { $0.weight > 0 }) else {
            throw PipelineError.invalidRequest("style image weights must be >= 0 and not all 0")
        }
        guard snap >= 0, snap.isFinite else { throw PipelineError.invalidRequest("style snap \(snap) must be >= 0") }
        var presets: StylePresets?
        if snap > 0 {
            guard let stylePresets else {
                throw PipelineError.invalidRequest("style snap asked for, but \(directory)/style_encoder has no presets.safetensors")
            }
            presets = stylePresets
        }
        let size = styleEncoder.imageSize
        let embeddings = try references.map {
            let e = try styleEncoder.embed(ImageResampler.tensor(ImageResampler.resize($0.image, width: size, height: size))).scalars
            return try presets?.snap(e, temperature: snap) ?? e
        }
        let total = references.reduce(Float(0)) { $0 + $1.weight }
        var mixed = [Float](repeating: 0, count: width)
        switch blend {
        case .linear:
            for (e, r) in zip(embeddings, references) { for i in 0..<width { mixed[i] += r.weight / total * e[i] } }
        case .slerp:
            guard references.count == 2 else { throw PipelineError.invalidRequest("slerp blends exactly two style images, got \(references.count)") }
            mixed = Self.slerp(embeddings[0], embeddings[1], t: references[1].weight / total)
        }
        return try Tensor(shape: [1, width], values: mixed)
    }

    /// The style embedding [1, E] of a request: its style images, else its style preset, else zero.
    public func styleEmbedding(for request: GenerationRequest) throws -> Tensor {
        guard request.styleImages.isEmpty, let name = request.stylePreset else {
            return try styleEmbedding(request.styleImages, blend: request.blend, snap: request.styleSnap)
        }
        guard let stylePresets else {
            throw PipelineError.invalidRequest("style preset '\(name)' asked for, but \(directory)/style_encoder has no presets.safetensors")
        }
        do {
            return try stylePresets.embedding(name)
        } catch let e as ModelError {
            throw PipelineError.invalidRequest("\(e)")
        }
    }

    /// Spherical interpolation of two vectors (norms interpolated linearly); falls back to
    /// linear interpolation for (anti)parallel vectors.
    static func slerp(_ a: [Float], _ b: [Float], t: Float) -> [Float] {
        let na = sqrt(a.reduce(0) { $0 + Double($1) * Double($1) }), nb = sqrt(b.reduce(0) { $0 + Double($1) * Double($1) })
        guard na > 0, nb > 0 else { return zip(a, b).map { (1 - t) * $0 + t * $1 } }
        let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / (na * nb)
        let omega = acos(min(1, max(-1, dot)))
        guard sin(omega) > 1e-6 else { return zip(a, b).map { (1 - t) * $0 + t * $1 } }
        let td = Double(t)
        let wa = sin((1 - td) * omega) / sin(omega), wb = sin(td * omega) / sin(omega)
        let norm = (1 - td) * na + td * nb
        return zip(a, b).map { Float((wa * Double($0) / na + wb * Double($1) / nb) * norm) }
    }

    /// Runs a request; `progress(step, total)` is called after each denoising step and may
    /// return false to cancel (PipelineError.cancelled).
    public func generate(_ request: GenerationRequest, progress: (Int, Int) -> Bool = { _, _ in true }) throws -> RGBImage {
        let latents = try denoise(request, progress: progress)
        try latents.requireFinite("the final latents")
        return try decode(latents)
    }

    /// The final latents [1, latentSize, latentSize, C] of a request (before decoding).
    public func denoise(_ request: GenerationRequest, progress: (Int, Int) -> Bool = { _, _ in true }) throws -> Tensor {
        guard request.guidanceScale >= 0, request.guidanceScale.isFinite else {
            throw PipelineError.invalidRequest("guidance scale \(request.guidanceScale) must be >= 0")
        }
        guard request.styleStrength >= 0, request.styleStrength.isFinite else {
            throw PipelineError.invalidRequest("style strength \(request.styleStrength) must be >= 0")
        }
        try request.validate()
        let scheduler = try request.scheduler.make(schedulerConfiguration, steps: request.steps, eta: request.eta)
        let cond = try encodePrompt(request.prompt), uncond = try encodePrompt(request.negativePrompt)
        let text = try Tensor.concatenateFirstAxis([uncond, cond])
        guard let adapter = unet.styleAdapter else { throw PipelineError.missingComponent("no style adapter") }
        let styleCond = try adapter.tokens(styleEmbedding(for: request))
        let styleUncond = try adapter.tokens(Tensor(zeros: [1, styleEncoder.configuration.embedDim]))
        let conditioning = CrossAttentionContext(text: text, style: try Tensor.concatenateFirstAxis([styleUncond, styleCond]),
                                                 styleScale: request.styleImages.isEmpty && request.stylePreset == nil ? 1 : request.styleStrength)
        var generator = TorchGenerator(seed: request.seed)
        let channels = vae.configuration.latentChannels
        var x: Tensor
        var start = 0
        if let image = request.initImage {
            start = try scheduler.startIndex(strength: request.strength)
            let resized = try ImageResampler.resize(image, width: imageSize, height: imageSize)
            let distribution = try vae.encode(ImageResampler.tensor(resized))
            let s = distribution.mean.shape
            let sampled = try distribution.sample(noise: generator.randnChannelsLast(batch: 1, channels: s[3], height: s[1], width: s[2]))
            let clean = try scaleLatents(sampled)
            let noise = try generator.randnChannelsLast(batch: 1, channels: channels, height: latentSize, width: latentSize)
            x = try scheduler.addNoise(clean, noise: noise, stepIndex: start)
        } else {
            x = try generator.randnChannelsLast(batch: 1, channels: channels, height: latentSize, width: latentSize) * scheduler.initialNoiseSigma
        }
        var state = SchedulerState()
        let total = scheduler.timesteps.count - start
        for (i, index) in (start..<scheduler.timesteps.count).enumerated() {
            let t = scheduler.timesteps[index]
            let input = try scheduler.scaleModelInput(x, stepIndex: index)
            let eps = try unet(Tensor.concatenateFirstAxis([input, input]), timesteps: [t, t], conditioning: conditioning)
            let epsU = try eps.slicingFirstAxis(0..<1), epsC = try eps.slicingFirstAxis(1..<2)
            let g = request.guidanceScale
            let guided = try epsU.scaledSum(1, try epsC - epsU, g)
            x = try scheduler.step(modelOutput: guided, stepIndex: index, sample: x, state: &state, generator: &generator)
            guard progress(i + 1, total) else { throw PipelineError.cancelled }
        }
        return x
    }

    /// latents -> image.
    public func decode(_ latents: Tensor) throws -> RGBImage {
        let c = vae.configuration
        let unscaled = latents.mapElements { $0 / c.scalingFactor + (c.shiftFactor ?? 0) }
        return try ImageResampler.image(vae.decode(unscaled))
    }

    /// (latent - shift) * scaling_factor, as diffusers scales encoded latents.
    func scaleLatents(_ latents: Tensor) throws -> Tensor {
        let c = vae.configuration
        return latents.mapElements { ($0 - (c.shiftFactor ?? 0)) * c.scalingFactor }
    }
}

extension Tensor {
    /// Throws PipelineError.nonFinite, naming `what` and the first bad element, when the tensor
    /// holds NaN or infinity (extreme settings or non-finite weights), before it becomes pixels.
    func requireFinite(_ what: String) throws {
        let p = pointer
        for i in 0..<count where !p[i].isFinite {
            throw PipelineError.nonFinite("\(what) hold \(p[i]) at element \(i) of \(shape) (an extreme guidance, "
                + "style strength or noise schedule, or non-finite model weights)")
        }
    }
}
