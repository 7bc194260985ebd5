// Port of diffusers UNet2DConditionModel.forward (models/unets/unet_2d_condition.py) for the
// configurations UNet2DConditionConfiguration accepts. Tensors are NHWC; the latent's height
// and width must be divisible by 2^(number of blocks - 1) (no odd-size upsampling).

import Foundation
import SafeTensors
import Tensors

public struct UNet2DConditionModel {
    public let configuration: UNet2DConditionConfiguration
    let convIn: Conv2d
    let timeLinear1: Linear, timeLinear2: Linear
    /// time_embedding.cond_proj (no bias) when the config has time_cond_proj_dim.
    let timeConditionProjection: Linear?
    /// Every resnet's time_emb_proj stacked into one layer (outputs in `timeProjectionResnets`
    /// order), so an evaluation's projections are one product; nil without resnets.
    let timeProjection: Linear?
    /// The resnets `timeProjection` serves, by prefix, with their output widths.
    let timeProjectionResnets: [(prefix: String, width: Int)]
    let downBlocks: [DownBlock]
    let midBlock: MidBlock?
    let upBlocks: [UpBlock]
    let normOut: GroupNorm
    let convOut: Conv2d

    /// Loads config.json and the safetensors weights of a diffusers `unet` folder, and
    /// optionally an IP-Adapter file for style tokens (see StyleAdapter) and LoRA updates fused
    /// into the weights (see LoRA), with GEMM weights held at `precision` (the IP-Adapter's as stored).
    public init(directory: String, styleAdapter: String? = nil, styleEmbeddingDimension: Int = 256, loras: [LoRA] = [],
                precision: WeightPrecision = .stored) throws {
        self = try Self.prepare(directory: directory, styleAdapter: styleAdapter, styleEmbeddingDimension: styleEmbeddingDimension,
                                loras: loras, precision: precision).load()
    }

    /// A UNet folder read up to its weights: config.json checked (and against the weight file's
    /// header), the LoRA keys matched, the IP-Adapter loaded; `load` then builds the model
    /// (reads, repacks and checks every weight: the costly half), once.
    public struct Prepared {
        public let configuration: UNet2DConditionConfiguration
        /// Whether the model will have a style adapter.
        public let hasStyleAdapter: Bool
        let store: WeightStore
        let adapter: StyleAdapter?

        /// Builds the model; call it once (it consumes the weight store's record of used tensors).
        public func load() throws -> UNet2DConditionModel {
            let model = try UNet2DConditionModel(configuration: configuration, store: store, styleAdapter: adapter)
            try store.finish()
            return model
        }
    }

    /// The first half of `init(directory:...)` (see `Prepared`), so a caller can build the
    /// model later (StyleDiffusionPipeline's `deferModels`).
    public static func prepare(directory: String, styleAdapter: String? = nil, styleEmbeddingDimension: Int = 256, loras: [LoRA] = [],
                               precision: WeightPrecision = .stored) throws -> Prepared {
        let (configuration, store) = try ModelFolder.component(directory, UNet2DConditionConfiguration.self)
        try configuration.checkLimits(ConfigurationLimits(config: store.file.path, weights: store.file))
        try configuration.validate(file: store.file.path)
        store.precision = precision
        for lora in loras { try lora.attach(to: store, component: .unet) }
        let adapter = try styleAdapter.map { try StyleAdapter(path: $0, unet: configuration, embeddingDimension: styleEmbeddingDimension) }
        return Prepared(configuration: configuration, hasStyleAdapter: adapter != nil, store: store, adapter: adapter)
    }

    /// How much smaller the innermost feature map is than the sample (2^(blocks - 1)): latent
    /// sides must be multiples of it.
    public var downsamplingFactor: Int { configuration.downsamplingFactor }

    /// The loaded IP-Adapter, if any.
    public let styleAdapter: StyleAdapter?
    /// The mapped weights (tensors read in place point into it).
    let weights: SafetensorsFile

    /// Lets the weights' mapped pages leave resident memory until the next call (during the
    /// VAE decode; the tensors copied into other layouts at load are not affected).
    public func releaseResidentWeights() { weights.releaseAllPages() }

    public init(configuration c: UNet2DConditionConfiguration, store: WeightStore, styleAdapter: StyleAdapter? = nil) throws {
        self.styleAdapter = styleAdapter
        weights = store.file
        try c.checkLimits(ConfigurationLimits(config: store.file.path, weights: store.file))
        try c.validate(file: store.file.path)
        configuration = c
        let file = store.file.path
        let n = c.blockOutChannels.count
        let channels = c.blockOutChannels
        let heads = try c.attentionHeadDim.expanded(n, field: "attention_head_dim", file: file)
        let layers = try c.layersPerBlock.expanded(n, field: "layers_per_block", file: file)
        let crossDims = try c.crossAttentionDim.expanded(n, field: "cross_attention_dim", file: file)
        let transformerLayers = try c.transformerLayersPerBlock.expanded(n, field: "transformer_layers_per_block", file: file)
        let onlyCross = try c.onlyCrossAttention.expanded(n, field: "only_cross_attention", file: file)
        let timeChannels = c.timeEmbeddingDim ?? channels[0] * 4

        convIn = try Conv2d(store, "conv_in", inChannels: c.inChannels, outChannels: channels[0], kernel: c.convInKernel)
        timeLinear1 = try Linear(store, "time_embedding.linear_1", inFeatures: channels[0], outFeatures: timeChannels)
        timeLinear2 = try Linear(store, "time_embedding.linear_2", inFeatures: timeChannels, outFeatures: timeChannels)
        timeConditionProjection = try c.timeCondProjDim.map {
            try Linear(store, "time_embedding.cond_proj", inFeatures: $0, outFeatures: channels[0], bias: false)
        }

        func settings(_ i: Int, _ isCrossAttention: Bool) -> CrossAttentionSettings? {
            isCrossAttention ? CrossAttentionSettings(heads: heads[i], transformerLayers: transformerLayers[i],
                                                      crossAttentionDimension: crossDims[i], linearProjection: c.useLinearProjection,
                                                      onlyCrossAttention: onlyCross[i], styleAdapter: styleAdapter) : nil
        }
        var down: [DownBlock] = []
        var output = channels[0]
        for i in 0..<n {
            let input = output
            output = channels[i]
            down.append(try DownBlock(store, "down_blocks.\(i)", inChannels: input, outChannels: output, layers: layers[i],
                                      timeEmbeddingChannels: timeChannels, groups: c.normNumGroups, epsilon: c.normEps,
                                      outputScaleFactor: c.resnetOutScaleFactor,
                                      crossAttention: settings(i, c.downBlockTypes[i] == "CrossAttnDownBlock2D"),
                                      addDownsample: i < n - 1, downsamplePadding: c.downsamplePadding))
        }
        downBlocks = down
        midBlock = c.midBlockType == nil ? nil : try MidBlock(
            store, "mid_block", channels: channels[n - 1], timeEmbeddingChannels: timeChannels, groups: c.normNumGroups,
            epsilon: c.normEps, outputScaleFactor: c.midBlockScaleFactor, crossAttention: settings(n - 1, true), selfAttention: false)

        var up: [UpBlock] = []
        let reversedChannels = Array(channels.reversed())
        output = reversedChannels[0]
        for i in 0..<n {
            let previous = output
            output = reversedChannels[i]
            let input = reversedChannels[min(i + 1, n - 1)]
            let r = n - 1 - i  // the matching down block's index for per-block lists
            up.append(try UpBlock(store, "up_blocks.\(i)", inChannels: input, outChannels: output, previousOutputChannels: previous,
                                  layers: layers[r] + 1, timeEmbeddingChannels: timeChannels, groups: c.normNumGroups,
                                  epsilon: c.normEps, outputScaleFactor: c.resnetOutScaleFactor,
                                  crossAttention: settings(r, c.upBlockTypes[i] == "CrossAttnUpBlock2D"), addUpsample: i < n - 1))
        }
        upBlocks = up
        timeProjectionResnets = (down.flatMap(\.resnets) + (midBlock?.resnets ?? []) + up.flatMap(\.resnets)).compactMap { r in
            r.timeProjectionPrefix.map { ($0, r.outChannels) }
        }
        timeProjection = timeProjectionResnets.isEmpty ? nil : try Linear(
            store, stacking: timeProjectionResnets.map { $0.prefix + ".time_emb_proj" }, inFeatures: timeChannels,
            outFeatures: timeProjectionResnets.map(\.width), bias: true)
        normOut = try GroupNorm(store, "conv_norm_out", groups: c.normNumGroups, channels: channels[0], epsilon: c.normEps)
        convOut = try Conv2d(store, "conv_out", inChannels: channels[0], outChannels: c.outChannels, kernel: c.convOutKernel)
        try styleAdapter?.attach(crossAttentionLayers)
    }

    /// The cross-attention transformer blocks as built, in diffusers' attn_processors order
    /// (down blocks, up blocks, then the mid block: the order the modules are registered in),
    /// which is the order of an IP-Adapter file's ip_adapter.{1 + 2n} keys.
    public var crossAttentionLayers: [(prefix: String, channels: Int)] {
        downBlocks.flatMap(\.crossAttentionLayers) + upBlocks.flatMap(\.crossAttentionLayers) + (midBlock?.crossAttentionLayers ?? [])
    }

    /// The noise prediction. sample [N, H, W, in_channels], one timestep per batch item,
    /// context [N, L, cross_attention_dim] -> [N, H, W, out_channels].
    public func callAsFunction(_ sample: Tensor, timesteps: [Float], context: Tensor) throws -> Tensor {
        try callAsFunction(sample, timesteps: timesteps, conditioning: CrossAttentionContext(text: context))
    }

    /// The same with style tokens [N, T, cross_attention_dim] for the loaded style adapter, and
    /// for a UNet with time_cond_proj_dim an optional timestep condition [N, time_cond_proj_dim]
    /// (diffusers' timestep_cond; without it the projection is skipped, as in diffusers).
    public func callAsFunction(_ sample: Tensor, timesteps: [Float], conditioning: CrossAttentionContext,
                               timestepCondition: Tensor? = nil) throws -> Tensor {
        guard let time = try timeConditionings([timesteps], timestepCondition: timestepCondition).first else {
            throw ModelError.invalidInput("UNet: no time conditioning was made")
        }
        return try callAsFunction(sample, time: time, conditioning: conditioning)
    }

    /// The time conditioning of evaluations at `timesteps[i]` (one timestep per batch item, the
    /// same batch in each), made together: the embedding MLP and every resnet's projection are
    /// one product each over all rows, and rows are independent in a product, so each
    /// evaluation's values are those it would have alone. `timestepCondition` [N,
    /// time_cond_proj_dim] applies to every evaluation.
    public func timeConditionings(_ timesteps: [[Float]], timestepCondition: Tensor? = nil) throws -> [TimeConditioning] {
        let c = configuration
        guard let n = timesteps.first?.count, n > 0, timesteps.allSatisfy({ $0.count == n }) else {
            throw ModelError.invalidInput("UNet: time conditioning needs one or more timesteps per evaluation, the same number in each")
        }
        let tProj = try Tensor.timestepEmbedding(timesteps: timesteps.flatMap { $0 }, dimension: c.blockOutChannels[0],
                                                 flipSinToCos: c.flipSinToCos, downscaleFrequencyShift: Float(c.freqShift))
        var timeInput = tProj
        if let condition = timestepCondition {
            guard let projection = timeConditionProjection, let width = c.timeCondProjDim else {
                throw ModelError.invalidInput("a timestep condition was given but this UNet has no time_cond_proj_dim")
            }
            guard condition.shape == [n, width] else {
                throw ModelError.invalidInput("timestep condition \(condition.shape) must be [\(n), \(width)]")
            }
            let rows = timesteps.count == 1 ? condition : try Tensor.concatenateFirstAxis(Array(repeating: condition, count: timesteps.count))
            timeInput = try tProj + projection(rows)
        }
        let emb = try timeLinear2(timeLinear1(timeInput).silu())
        guard let timeProjection else { return timesteps.map { _ in TimeConditioning(batch: n, projections: [:]) } }
        let all = try timeProjection(emb.silu())  // [steps * n, sum of widths]
        let total = all.shape[1], source = all.pointer
        return timesteps.indices.map { step in
            var projections: [String: Tensor] = [:]
            var offset = 0
            for (prefix, width) in timeProjectionResnets {
                let start = offset
                projections[prefix] = Tensor(shape: [n, width]) { dst in
                    for i in 0..<n { (dst + i * width).update(from: source + (step * n + i) * total + start, count: width) }
                }
                offset += width
            }
            return TimeConditioning(batch: n, projections: projections)
        }
    }

    /// The noise prediction with the time conditioning made beforehand (`timeConditionings`).
    public func callAsFunction(_ sample: Tensor, time: TimeConditioning, conditioning: CrossAttentionContext) throws -> Tensor {
        let context = conditioning.text
        let c = configuration
        let scale = 1 << (c.blockOutChannels.count - 1)
        guard sample.rank == 4, sample.shape[3] == c.inChannels, sample.shape[1] % scale == 0, sample.shape[2] % scale == 0 else {
            throw ModelError.invalidInput("UNet sample \(sample.shape) must be [N, H, W, \(c.inChannels)] with H and W divisible by \(scale)")
        }
        guard time.batch == sample.shape[0], context.rank == 3, context.shape[0] == sample.shape[0] else {
            throw ModelError.invalidInput("UNet: \(time.batch) timesteps and context \(context.shape) for batch \(sample.shape[0])")
        }
        if let style = conditioning.style {
            guard styleAdapter != nil else { throw ModelError.invalidInput("style tokens given but no style adapter is loaded") }
            guard style.rank == 3, style.shape[0] == sample.shape[0], style.shape[2] == context.shape[2] else {
                throw ModelError.invalidInput("style tokens \(style.shape) do not fit batch \(sample.shape[0]) and width \(context.shape[2])")
            }
        }
        var h = try convIn(c.centerInputSample ? sample.mapElements { 2 * $0 - 1 } : sample)
        var skips: [Tensor] = [h]
        for block in downBlocks {
            let (out, states) = try block(h, time: time, context: conditioning)
            h = out
            skips += states
        }
        if let midBlock { h = try midBlock(h, time: time, context: conditioning) }
        for block in upBlocks {
            let used = Array(skips.suffix(block.skipCount))
            skips.removeLast(block.skipCount)
            h = try block(h, skips: used, time: time, context: conditioning)
        }
        return try convOut(normOut(h, silu: true))
    }
}
