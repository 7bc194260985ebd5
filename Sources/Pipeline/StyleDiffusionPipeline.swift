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
import FileAccess
import TextTokenizer

public final class StyleDiffusionPipeline: @unchecked Sendable {
    public let directory: String
    /// Which kind of folder it is (ModelLayout).
    public let layout: ModelLayout
    /// SentencePiece (default layout) or CLIP BPE (Stable Diffusion folders).
    public let tokenizer: any PromptTokenizing
    public let textEncoder: CLIPTextModel
    /// The style image encoder of the default layout; nil for Stable Diffusion folders (built
    /// on first use with `deferModels`; its weight errors are thrown then).
    public var styleEncoder: StyleEncoder? {
        get throws {
            guard case .stylediff(let encoder) = try styleImageEncoder else { return nil }
            return encoder
        }
    }
    /// What encodes style images: the default layout's style encoder, or the public
    /// IP-Adapter's CLIP image encoder loaded with a Stable Diffusion folder; nil: text only.
    public var styleImageEncoder: StyleImageEncoder? { get throws { try styleImageSlot?.model() } }
    /// The width of the style embeddings `styleImageEncoder` makes; nil without one.
    public let styleEmbeddingDimension: Int?
    private let styleImageSlot: Deferred<StyleImageEncoder>?
    /// The IP-Adapter weights file loaded with a Stable Diffusion folder (nil otherwise).
    public let ipAdapterFile: String?
    /// unet/ (built on first use with `deferModels`; its weight errors are thrown then).
    public var unet: UNet2DConditionModel { get throws { try unetSlot.model() } }
    /// unet/'s config.json.
    public var unetConfiguration: UNet2DConditionConfiguration { unetSlot.configuration }
    /// The default layout's unet_lcm/ (distilled for LCM steps), used instead of `unet` when a
    /// request asks for the LCM scheduler; nil when the folder has none.
    public var consistencyUNet: UNet2DConditionModel? { get throws { try consistencySlot?.model() } }
    /// unet_lcm/'s config.json; nil when the folder has none.
    public var consistencyUNetConfiguration: UNet2DConditionConfiguration? { consistencySlot?.configuration }
    private let unetSlot: DeferredUNet
    private let consistencySlot: DeferredUNet?
    /// vae/ (built on first use with `deferModels`; its weight errors are thrown then).
    public var vae: AutoencoderKL { get throws { try vaeSlot.model() } }
    /// vae/'s config.json.
    public let vaeConfiguration: AutoencoderKLConfiguration
    private let vaeSlot: Deferred<AutoencoderKL>
    /// The folder's vae_tiny/ (AutoencoderTiny's decoder), used when a request asks for
    /// `decoder: .tiny`; nil when the folder has none.
    public let tinyVAE: AutoencoderTiny?
    public let schedulerConfiguration: SchedulerConfiguration
    /// The scheduler a generation uses unless it names one: the folder's scheduler class when
    /// stylediff implements it (PNDM for SD 1.5, DDIM for SD 2.1), else DDIM.
    public let defaultScheduler: SchedulerKind
    /// The `_class_name` of scheduler_config.json (nil when it has none).
    public let schedulerClass: String?
    /// Named style embeddings (style_encoder/presets.safetensors), when the model ships them.
    public let stylePresets: StylePresets?
    /// The style names of styles.json (empty without the file).
    public let styles: [String]
    /// The model's recommended guidance and reference style strength (sampling_defaults.json;
    /// without it diffusers' defaults: 7.5 for Stable Diffusion folders, 5 for the default layout).
    public let samplingDefaults: SamplingDefaults
    /// How the UNet(s) and text encoder hold their GEMM weights.
    public let weightPrecision: WeightPrecision

    /// Loads a model folder of either layout (ModelLayout): a diffusers StableDiffusionPipeline
    /// folder (model_index.json) or the default model's layout. A missing part is
    /// PipelineError.missingComponent or ModelError.missingFile, an unreadable file
    /// FileAccessError, a malformed one ModelError, SchedulerError, TokenizerError or
    /// PipelineError.invalidModel (an unsupported pipeline class too).
    ///
    /// `ipAdapter`: for a Stable Diffusion folder, the public IP-Adapter (IPAdapterFolder: a
    /// folder with image_encoder/ and one ip-adapter*.safetensors, or that file) for style images.
    /// `loras`: LoRA files fused into the UNet and text encoder weights at load, in order.
    /// `weights`: how the UNet(s) and text encoder hold their GEMM weights (f16: rounded to
    /// halves; int8: quantized per output channel; both at load; the VAE and the image/style
    /// encoders stay as stored).
    /// `deferModels`: the default layout's unet/, unet_lcm/ and style encoder, and either
    /// layout's VAE, are checked up to their weights now (configs, and the weight files'
    /// headers against them) and built when a request first runs them (a one-image command
    /// builds only what it needs: `--fast` neither unet/ nor, decoding with vae_tiny/, the VAE);
    /// errors in their weights are then thrown by that request.
    public init(directory: String, ipAdapter: String? = nil, loras: [LoRA] = [], weights: WeightPrecision = .stored,
                deferModels: Bool = false) throws {
        let isDiffusers = FileAccess.exists(directory + "/model_index.json")
        if ipAdapter != nil && !isDiffusers {
            throw PipelineError.invalidRequest("--ip-adapter applies to Stable Diffusion folders; \(directory) has its own style adapter")
        }
        let parts = isDiffusers ? try Self.loadDiffusersFolder(directory, ipAdapter: ipAdapter, loras: loras, precision: weights,
                                                               deferModels: deferModels)
            : try Self.loadDefaultLayout(directory, loras: loras, precision: weights, deferModels: deferModels)
        self.directory = directory
        weightPrecision = weights
        layout = parts.layout
        tokenizer = parts.tokenizer
        textEncoder = parts.textEncoder
        styleImageSlot = parts.styleImageEncoder
        styleEmbeddingDimension = parts.styleEmbeddingDimension
        ipAdapterFile = parts.ipAdapterFile
        stylePresets = parts.stylePresets
        unetSlot = parts.unet
        consistencySlot = parts.consistencyUNet
        let unet = parts.unet.configuration
        vaeSlot = parts.vae
        vaeConfiguration = parts.vaeConfiguration
        let vae = parts.vaeConfiguration
        tinyVAE = try Self.loadTinyVAE(directory)
        let schedulerPath = directory + "/scheduler/scheduler_config.json"
        schedulerConfiguration = try SchedulerConfiguration.load(path: schedulerPath)
        schedulerClass = try Self.className(of: schedulerPath)
        defaultScheduler = parts.layout == .stylediff ? GenerationDefaults.scheduler
            : schedulerClass.flatMap(SchedulerKind.init(diffusersClass:)) ?? GenerationDefaults.scheduler
        let unetConfig = directory + "/unet/config.json"
        guard let size = unet.sampleSize, size > 0, size % unet.downsamplingFactor == 0 else {
            throw PipelineError.invalidModel("\(unetConfig) needs a sample_size divisible by the UNet's downsampling \(unet.downsamplingFactor)")
        }
        let (side, overflow) = size.multipliedReportingOverflow(by: vae.downsamplingFactor)
        guard !overflow, side <= Self.maximumImageSide else {
            throw PipelineError.invalidModel("\(unetConfig): sample_size \(size) x VAE factor \(vae.downsamplingFactor) "
                + "is over the \(Self.maximumImageSide) px image limit")
        }
        latentSize = size
        let text = textEncoder.configuration
        guard text.maxPositionEmbeddings >= tokenizer.maxLength else {
            let field = parts.layout == .stylediff ? "max_length" : "model_max_length"
            throw PipelineError.invalidModel("\(directory)/tokenizer/tokenizer_config.json: \(field) \(tokenizer.maxLength) exceeds "
                + "the text encoder's max_position_embeddings \(text.maxPositionEmbeddings)")
        }
        guard text.vocabSize >= tokenizer.vocabularySize else {
            throw PipelineError.invalidModel("\(directory)/tokenizer: \(tokenizer.vocabularySize) tokens do not fit the text encoder's vocab_size \(text.vocabSize)")
        }
        let crossDims = try unet.crossAttentionDim.expanded(unet.blockOutChannels.count, field: "cross_attention_dim", file: unetConfig)
        guard crossDims.allSatisfy({ $0 == text.hiddenSize }) else {
            throw PipelineError.invalidModel("\(unetConfig): cross_attention_dim \(crossDims) does not fit the text encoder's hidden_size \(text.hiddenSize)")
        }
        if let lcm = parts.consistencyUNet?.configuration, lcm.inChannels != unet.inChannels
            || lcm.sampleSize != unet.sampleSize || lcm.downsamplingFactor != unet.downsamplingFactor
            || lcm.crossAttentionDim != unet.crossAttentionDim {
            throw PipelineError.invalidModel("\(directory)/unet_lcm/config.json does not match \(unetConfig) (channels, sample size, "
                + "blocks or cross-attention width)")
        }
        if let tiny = tinyVAE, tiny.configuration.latentChannels != vae.latentChannels
            || tiny.upsamplingFactor != vae.downsamplingFactor || tiny.configuration.outChannels != vae.outChannels {
            throw PipelineError.invalidModel("\(directory)/vae_tiny/config.json: latent_channels \(tiny.configuration.latentChannels), "
                + "upsampling x\(tiny.upsamplingFactor) and out_channels \(tiny.configuration.outChannels) must match the VAE's "
                + "\(vae.latentChannels), x\(vae.downsamplingFactor) and \(vae.outChannels)")
        }
        guard unet.inChannels == vae.latentChannels else {
            throw PipelineError.invalidModel("\(unetConfig): in_channels \(unet.inChannels) does not fit the VAE's "
                + "latent_channels \(vae.latentChannels)")
        }
        styles = try Self.styles(in: directory)
        samplingDefaults = try SamplingDefaults.load(modelDirectory: directory, fallback: parts.layout == .stylediff ? .init() : .stableDiffusion)
    }

    /// Largest image side a model may generate (2048 px: 4 MP, a stated memory budget).
    public static let maximumImageSide = 2048

    /// The latent side length: the UNet's sample_size from its config.json.
    public let latentSize: Int

    /// The image side length the model generates by default (latent size x VAE factor).
    public var imageSize: Int { latentSize * vaeConfiguration.downsamplingFactor }

    /// Image widths and heights must be multiples of this: the VAE factor x the UNet's
    /// downsampling (64 for Stable Diffusion).
    public var sizeMultiple: Int { vaeConfiguration.downsamplingFactor * unetConfiguration.downsamplingFactor }

    /// The image width and height of a request (the model's size where it names none), checked:
    /// multiples of `sizeMultiple`, at most `maximumImageSide`.
    public func imageSize(of request: GenerationRequest) throws -> (width: Int, height: Int) {
        let width = request.width ?? imageSize, height = request.height ?? imageSize
        for (name, value) in [("width", width), ("height", height)] {
            guard value > 0, value % sizeMultiple == 0, value <= Self.maximumImageSide else {
                throw PipelineError.invalidRequest("\(name) \(value) must be a multiple of \(sizeMultiple) (VAE factor "
                    + "\(vaeConfiguration.downsamplingFactor) x UNet downsampling \(unetConfiguration.downsamplingFactor), \(directory)/unet/config.json and "
                    + "vae/config.json) between \(sizeMultiple) and \(Self.maximumImageSide)")
            }
        }
        return (width, height)
    }

    /// Text embeddings [1, L, D] of a prompt (`clipSkip`: CLIPTextModel's, A1111's count); the
    /// last `promptEncodings.capacity` prompts are kept, so a repeated prompt is not encoded again.
    public func encodePrompt(_ prompt: String, clipSkip: Int = 1) throws -> Tensor {
        try promptEncodings.encoding(prompt, clipSkip: clipSkip) { try textEncoder([tokenizer.ids(prompt)], clipSkip: clipSkip) }
    }

    /// Recent prompt encodings (a few hundred KB each for SD's 77 x 768).
    let promptEncodings = PromptEncodingCache(capacity: 8)

    /// The style embedding [1, E] of weighted reference images (zero when there are none), each
    /// image's embedding snapped to the style presets first when `snap` > 0 (GenerationRequest.styleSnap).
    public func styleEmbedding(_ references: [StyleReference], blend: StyleBlend, snap: Float = 0) throws -> Tensor {
        let width = try requireStyleSupport()
        guard !references.isEmpty else { return Tensor(zeros: [1, width]) }
        let encoder = try requireStyleEncoder()
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
        let embeddings = try references.map {
            let e = try encoder.embed($0.image).scalars
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

    /// The style embedding width, or PipelineError.invalidRequest for a folder without a style
    /// encoder and IP-Adapter (the encoder is not built).
    func requireStyleSupport() throws -> Int {
        guard let styleEmbeddingDimension, unetSlot.hasStyleAdapter else {
            throw PipelineError.invalidRequest("style images need a style encoder and IP-Adapter; \(directory) has none "
                + "(give a Stable Diffusion folder the public IP-Adapter with --ip-adapter)")
        }
        return styleEmbeddingDimension
    }

    /// The style image encoder (built on first use with `deferModels`), or requireStyleSupport's error.
    func requireStyleEncoder() throws -> StyleImageEncoder {
        _ = try requireStyleSupport()
        guard let encoder = try styleImageSlot?.model() else { throw PipelineError.invalidRequest("\(directory) has no style encoder") }
        return encoder
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
        try generate(request, observe: { progress($0.step, $0.total) })
    }

    /// Runs a request; `observe` sees each denoising step with its latents and may return false
    /// to cancel (PipelineError.cancelled).
    public func generate(_ request: GenerationRequest, observe: (DenoisingStep) -> Bool) throws -> RGBImage {
        // Buffers cached for reuse between evaluations leave memory when the image is done, and
        // the UNet's before the decode (whose maps have other sizes).
        defer { LargeBlockCache.shared.releaseAll() }
        let latents = try denoise(request, observe: observe)
        try latents.requireFinite("the final latents")
        try model(for: request).releaseResidentWeights()  // the decode's peak need not hold the UNet's mapped weights
        LargeBlockCache.shared.releaseAll()
        return try decode(latents, decoder: request.decoder)
    }

    /// The final latents [1, height / f, width / f, C] of a request (before decoding; f the VAE factor).
    public func denoise(_ request: GenerationRequest, progress: (Int, Int) -> Bool = { _, _ in true }) throws -> Tensor {
        try denoise(request, observe: { progress($0.step, $0.total) })
    }

    /// The final latents, with `observe` called after each denoising step (false cancels).
    public func denoise(_ request: GenerationRequest, observe: (DenoisingStep) -> Bool) throws -> Tensor {
        guard request.guidanceScale >= 0, request.guidanceScale.isFinite else {
            throw PipelineError.invalidRequest("guidance scale \(request.guidanceScale) must be >= 0")
        }
        guard request.styleStrength >= 0, request.styleStrength.isFinite else {
            throw PipelineError.invalidRequest("style strength \(request.styleStrength) must be >= 0")
        }
        try request.validate()
        if let problem = decoderProblem(request.decoder) { throw PipelineError.invalidRequest(problem) }
        let (width, height) = try imageSize(of: request)
        let scheduler = try request.scheduler.make(schedulerConfiguration, steps: request.steps, eta: request.eta,
                                                   strength: request.initImage == nil ? 1 : request.strength)
        let layers = textEncoder.configuration.numHiddenLayers
        guard (1...max(1, layers)).contains(request.clipSkip) else {
            throw PipelineError.invalidRequest("clip skip \(request.clipSkip) must be between 1 and the text encoder's \(layers) layers")
        }
        // Classifier-free guidance runs the UNet on the negative prompt too, except with a
        // guidance-embedded (LCM-distilled) UNet, which takes the scale as an input, and at
        // guidance 1, where the guided output is the conditional one (diffusers skips it there too).
        let unet = try model(for: request)
        let guidanceWidth = unet.configuration.timeCondProjDim
        let guided = guidanceWidth == nil && request.guidanceScale != 1
        let cond = try encodePrompt(request.prompt, clipSkip: request.clipSkip)
        let uncond = guided ? try encodePrompt(request.negativePrompt, clipSkip: request.clipSkip) : nil
        textEncoder.releaseResidentWeights()  // idle until the next request: out of resident memory
        let text = try uncond.map { try Tensor.concatenateFirstAxis([$0, cond]) } ?? cond
        // [1, time_cond_proj_dim]: w = guidance - 1, as diffusers' LCM pipelines embed it.
        let timestepCondition = try guidanceWidth.map { try Tensor.guidanceScaleEmbedding([request.guidanceScale - 1], dimension: $0) }
        var conditioning = CrossAttentionContext(text: text)
        let hasStyle = !request.styleImages.isEmpty || request.stylePreset != nil
        if hasStyle { _ = try requireStyleSupport() }
        if request.styleBlockScales != nil && request.styleImages.isEmpty {
            throw PipelineError.invalidRequest("style block scales apply to style images; none given")
        }
        // The default layout always conditions on style tokens (zero without a style); the
        // public IP-Adapter only when there are style images, as diffusers without ip_adapter_image.
        if let adapter = unet.styleAdapter, let width = styleEmbeddingDimension, hasStyle || layout == .stylediff {
            let styleCond = try adapter.tokens(styleEmbedding(for: request))
            // The unconditional pass sees zero style tokens (only when there is one).
            let style = guided ? try Tensor.concatenateFirstAxis([adapter.tokens(Tensor(zeros: [1, width])), styleCond])
                : styleCond
            conditioning = CrossAttentionContext(text: text, style: style,
                                                 styleScale: hasStyle ? request.styleStrength : 1,
                                                 layerScales: try request.styleBlockScales?.layerScales(for: unet))
        }
        var generator = TorchGenerator(seed: request.seed)
        let channels = vaeConfiguration.latentChannels
        let f = vaeConfiguration.downsamplingFactor
        var x: Tensor
        var start = 0
        if let image = request.initImage {
            start = try scheduler.startIndex(strength: request.strength)
            let fitted = try ImageResampler.fit(image, width: width, height: height, mode: request.initImageFit)
            let distribution = try vae.encode(ImageResampler.tensor(fitted))
            let s = distribution.mean.shape
            let sampled = try distribution.sample(noise: generator.randnChannelsLast(batch: 1, channels: s[3], height: s[1], width: s[2]))
            let clean = try scaleLatents(sampled)
            let noise = try generator.randnChannelsLast(batch: 1, channels: channels, height: height / f, width: width / f)
            x = try scheduler.addNoise(clean, noise: noise, stepIndex: start)
        } else {
            x = try generator.randnChannelsLast(batch: 1, channels: channels, height: height / f, width: width / f) * scheduler.initialNoiseSigma
        }
        var state = SchedulerState()
        let total = scheduler.timesteps.count - start
        // The steps' time conditioning, made `chunk` steps at a time (one product each instead
        // of one per resnet and step; the same values).
        let chunk = 32
        var times: [TimeConditioning] = []
        for (i, index) in (start..<scheduler.timesteps.count).enumerated() {
            if i % chunk == 0 {
                let upcoming = scheduler.timesteps[index..<min(index + chunk, scheduler.timesteps.count)]
                times = try unet.timeConditionings(upcoming.map { guided ? [$0, $0] : [$0] }, timestepCondition: timestepCondition)
            }
            let input = try scheduler.scaleModelInput(x, stepIndex: index)
            let output: Tensor
            if guided {
                let eps = try unet(Tensor.concatenateFirstAxis([input, input]), time: times[i % chunk], conditioning: conditioning)
                let epsU = try eps.slicingFirstAxis(0..<1), epsC = try eps.slicingFirstAxis(1..<2)
                output = try epsU.scaledSum(1, try epsC - epsU, request.guidanceScale)
            } else {
                output = try unet(input, time: times[i % chunk], conditioning: conditioning)
            }
            x = try scheduler.step(modelOutput: output, stepIndex: index, sample: x, state: &state, generator: &generator)
            guard observe(DenoisingStep(step: i + 1, total: total, latents: x)) else { throw PipelineError.cancelled }
        }
        return x
    }

    /// The UNet a request runs: unet_lcm/ for the LCM scheduler when the folder has it, else unet/.
    public func model(for request: GenerationRequest) throws -> UNet2DConditionModel {
        try (request.scheduler == .lcm ? consistencySlot ?? unetSlot : unetSlot).model()
    }

    /// Why this model cannot decode with `decoder` (the tiny one without vae_tiny/); nil when it can.
    public func decoderProblem(_ decoder: VAEDecoder) -> String? {
        decoder == .tiny && tinyVAE == nil ? "the tiny decoder needs a vae_tiny/ folder (a diffusers AutoencoderTiny) in \(directory)" : nil
    }

    /// latents -> image, with the VAE's decoder or vae_tiny/'s (each dividing by its own
    /// scaling_factor and adding its shift_factor, as diffusers' pipelines do).
    public func decode(_ latents: Tensor, decoder: VAEDecoder = .full) throws -> RGBImage {
        switch decoder {
        case .full:
            let c = vaeConfiguration
            let unscaled = latents.mapElements { $0 / c.scalingFactor + (c.shiftFactor ?? 0) }
            return try ImageResampler.image(vae.decode(unscaled))
        case .tiny:
            guard let tinyVAE else { throw PipelineError.invalidRequest(decoderProblem(.tiny) ?? "no vae_tiny/") }
            let c = tinyVAE.configuration
            let unscaled = latents.mapElements { $0 / c.scalingFactor + c.shiftFactor }
            return try ImageResampler.image(tinyVAE.decode(unscaled))
        }
    }

    /// (latent - shift) * scaling_factor, as diffusers scales encoded latents.
    func scaleLatents(_ latents: Tensor) throws -> Tensor {
        let c = vaeConfiguration
        return latents.mapElements { ($0 - (c.shiftFactor ?? 0)) * c.scalingFactor }
    }
}

/// One finished denoising step: `step` of `total` (1-based) and the latents after it
/// [1, height / f, width / f, C], scaled as the UNet sees them.
public struct DenoisingStep {
    public let step: Int
    public let total: Int
    public let latents: Tensor
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
