// config.json of diffusers UNet2DConditionModel (models/unets/unet_2d_condition.py), by
// diffusers' own field names and defaults. Supported: positional time embedding, SiLU,
// CrossAttnDownBlock2D / DownBlock2D, CrossAttnUpBlock2D / UpBlock2D, UNetMidBlock2DCrossAttn
// or no mid block, int-or-list per-block fields, a guidance (w) embedding added to the time
// embedding (time_cond_proj_dim, as LCM-distilled UNets have). Not supported (an error when set): class and
// addition embeddings, encoder_hid_dim projections, scale-shift time norm, dual cross-attention,
// num_attention_heads (diffusers itself rejects it).

import Foundation

public struct UNet2DConditionConfiguration: Decodable, Equatable {
    public var inChannels = 4
    public var outChannels = 4
    public var centerInputSample = false
    public var flipSinToCos = true
    public var freqShift = 0
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    public var onlyCrossAttention: OneOrMany<Bool> = .one(false)
    public var blockOutChannels = [320, 640, 1280, 1280]
    public var layersPerBlock: OneOrMany<Int> = .one(2)
    public var downsamplePadding = 1
    public var midBlockScaleFactor: Float = 1
    public var normNumGroups = 32
    public var normEps: Float = 1e-5
    public var crossAttentionDim: OneOrMany<Int> = .one(1280)
    public var transformerLayersPerBlock: OneOrMany<Int> = .one(1)
    public var attentionHeadDim: OneOrMany<Int> = .one(8)
    public var useLinearProjection = false
    public var resnetOutScaleFactor: Float = 1
    public var timeEmbeddingDim: Int?
    /// The width of an extra timestep condition (LCM's guidance-scale embedding), projected
    /// without bias and added to the sinusoidal timestep embedding; nil: none.
    public var timeCondProjDim: Int?
    public var convInKernel = 3
    public var convOutKernel = 3
    /// The latent side length the model was trained at (diffusers' nominal sample_size).
    public var sampleSize: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inChannels = "in_channels", outChannels = "out_channels", centerInputSample = "center_input_sample"
        case flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift", downBlockTypes = "down_block_types"
        case midBlockType = "mid_block_type", upBlockTypes = "up_block_types", onlyCrossAttention = "only_cross_attention"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case downsamplePadding = "downsample_padding", midBlockScaleFactor = "mid_block_scale_factor"
        case normNumGroups = "norm_num_groups", normEps = "norm_eps", crossAttentionDim = "cross_attention_dim"
        case transformerLayersPerBlock = "transformer_layers_per_block", attentionHeadDim = "attention_head_dim"
        case useLinearProjection = "use_linear_projection", resnetOutScaleFactor = "resnet_out_scale_factor"
        case timeEmbeddingDim = "time_embedding_dim", convInKernel = "conv_in_kernel", convOutKernel = "conv_out_kernel"
        case sampleSize = "sample_size", timeCondProjDim = "time_cond_proj_dim"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        let d = UNet2DConditionConfiguration()
        inChannels = try value(.inChannels, d.inChannels)
        outChannels = try value(.outChannels, d.outChannels)
        centerInputSample = try value(.centerInputSample, d.centerInputSample)
        flipSinToCos = try value(.flipSinToCos, d.flipSinToCos)
        freqShift = try value(.freqShift, d.freqShift)
        downBlockTypes = try value(.downBlockTypes, d.downBlockTypes)
        midBlockType = c.contains(.midBlockType) ? try c.decodeIfPresent(String.self, forKey: .midBlockType) : d.midBlockType
        upBlockTypes = try value(.upBlockTypes, d.upBlockTypes)
        onlyCrossAttention = try value(.onlyCrossAttention, d.onlyCrossAttention)
        blockOutChannels = try value(.blockOutChannels, d.blockOutChannels)
        layersPerBlock = try value(.layersPerBlock, d.layersPerBlock)
        downsamplePadding = try value(.downsamplePadding, d.downsamplePadding)
        midBlockScaleFactor = try value(.midBlockScaleFactor, d.midBlockScaleFactor)
        normNumGroups = try value(.normNumGroups, d.normNumGroups)
        normEps = try value(.normEps, d.normEps)
        crossAttentionDim = try value(.crossAttentionDim, d.crossAttentionDim)
        transformerLayersPerBlock = try value(.transformerLayersPerBlock, d.transformerLayersPerBlock)
        attentionHeadDim = try value(.attentionHeadDim, d.attentionHeadDim)
        useLinearProjection = try value(.useLinearProjection, d.useLinearProjection)
        resnetOutScaleFactor = try value(.resnetOutScaleFactor, d.resnetOutScaleFactor)
        timeEmbeddingDim = try c.decodeIfPresent(Int.self, forKey: .timeEmbeddingDim)
        convInKernel = try value(.convInKernel, d.convInKernel)
        convOutKernel = try value(.convOutKernel, d.convOutKernel)
        sampleSize = try c.decodeIfPresent(Int.self, forKey: .sampleSize)
        timeCondProjDim = try c.decodeIfPresent(Int.self, forKey: .timeCondProjDim)
    }

    /// Reads and checks a config.json.
    public static func load(path: String) throws -> UNet2DConditionConfiguration {
        let file = try ConfigurationFile(path: path)
        try file.checkUntypedFields(
            typed: Set(CodingKeys.allCases.map(\.rawValue)),
            implemented: [
                "act_fn": "silu", "resnet_time_scale_shift": "default", "time_embedding_type": "positional",
                "attention_type": "default", "dual_cross_attention": false, "resnet_skip_time_act": false,
                "class_embeddings_concat": false, "num_attention_heads": NSNull(), "class_embed_type": NSNull(),
                "addition_embed_type": NSNull(), "num_class_embeds": NSNull(), "encoder_hid_dim": NSNull(),
                "encoder_hid_dim_type": NSNull(), "timestep_post_act": NSNull(),
                "time_embedding_act_fn": NSNull(), "cross_attention_norm": NSNull(),
                "projection_class_embeddings_input_dim": NSNull(), "addition_time_embed_dim": NSNull(),
                "reverse_transformer_layers_per_block": NSNull(),
            ],
            // No effect on inference in fp32: dropout, fp16 upcasting, the nominal sample size,
            // options of block types stylediff rejects anyway.
            ignored: ["dropout", "upcast_attention", "addition_embed_type_num_heads",
                      "mid_block_only_cross_attention"])
        let config = try file.decode(UNet2DConditionConfiguration.self)
        try config.validate(file: path)
        return config
    }

    /// Every count and width against the weight file (ConfigurationLimits), before `validate`
    /// or a model uses them.
    public func checkLimits(_ l: ConfigurationLimits) throws {
        let n = blockOutChannels.count
        try l.blocks(blockOutChannels, "block_out_channels")
        for (field, value) in [("in_channels", inChannels), ("out_channels", outChannels), ("norm_num_groups", normNumGroups),
                               ("conv_in_kernel", convInKernel), ("conv_out_kernel", convOutKernel)] {
            try l.size(value, field)
        }
        if let timeEmbeddingDim { try l.size(timeEmbeddingDim, "time_embedding_dim") }
        if let timeCondProjDim { try l.size(timeCondProjDim, "time_cond_proj_dim") }
        for v in try layersPerBlock.expanded(n, field: "layers_per_block", file: l.file) { try l.count(v, "layers_per_block") }
        for v in try transformerLayersPerBlock.expanded(n, field: "transformer_layers_per_block", file: l.file) {
            try l.count(v, "transformer_layers_per_block")
        }
        for v in try crossAttentionDim.expanded(n, field: "cross_attention_dim", file: l.file) { try l.size(v, "cross_attention_dim") }
        for v in try attentionHeadDim.expanded(n, field: "attention_head_dim", file: l.file) { try l.size(v, "attention_head_dim") }
        guard (0...1).contains(downsamplePadding) else {
            throw ModelError.unsupportedConfiguration(file: l.file, field: "downsample_padding", value: "\(downsamplePadding)")
        }
        guard (-1_000_000...1_000_000).contains(freqShift) else {
            throw ModelError.invalidConfiguration(file: l.file, reason: "'freq_shift' = \(freqShift) is out of range")
        }
        if let sampleSize {
            guard (1...UNet2DConditionConfiguration.maximumSampleSize).contains(sampleSize) else {
                throw ModelError.invalidConfiguration(
                    file: l.file, reason: "'sample_size' = \(sampleSize) must be between 1 and \(UNet2DConditionConfiguration.maximumSampleSize)")
            }
        }
        try l.finite(normEps, "norm_eps")
        try l.finite(midBlockScaleFactor, "mid_block_scale_factor")
        try l.finite(resnetOutScaleFactor, "resnet_out_scale_factor")
    }

    /// Largest latent side a config may name (1024: 8192 px with an 8x VAE); the pipeline
    /// applies the tighter image-size limit.
    public static let maximumSampleSize = 1024

    /// How much smaller the innermost feature map is than the sample (2^(blocks - 1)).
    public var downsamplingFactor: Int { 1 << (blockOutChannels.count - 1) }

    func validate(file: String) throws {
        let n = blockOutChannels.count
        guard n > 0, downBlockTypes.count == n, upBlockTypes.count == n else {
            throw ModelError.invalidConfiguration(file: file, reason: "block_out_channels, down_block_types and up_block_types need equal lengths")
        }
        for t in downBlockTypes where !["CrossAttnDownBlock2D", "DownBlock2D"].contains(t) {
            throw ModelError.unsupportedConfiguration(file: file, field: "down_block_types", value: "\"\(t)\"")
        }
        for t in upBlockTypes where !["CrossAttnUpBlock2D", "UpBlock2D"].contains(t) {
            throw ModelError.unsupportedConfiguration(file: file, field: "up_block_types", value: "\"\(t)\"")
        }
        if let m = midBlockType, m != "UNetMidBlock2DCrossAttn" {
            throw ModelError.unsupportedConfiguration(file: file, field: "mid_block_type", value: "\"\(m)\"")
        }
        for k in [convInKernel, convOutKernel] where k < 1 || k % 2 == 0 {
            throw ModelError.unsupportedConfiguration(file: file, field: "conv_in_kernel/conv_out_kernel", value: "\(k)")
        }
        let heads = try attentionHeadDim.expanded(n, field: "attention_head_dim", file: file)
        for (channels, h) in zip(blockOutChannels, heads) where h <= 0 || channels % h != 0 {
            throw ModelError.invalidConfiguration(file: file, reason: "\(channels) channels cannot be split into \(h) attention heads")
        }
        for c in blockOutChannels where normNumGroups <= 0 || c % normNumGroups != 0 {
            throw ModelError.invalidConfiguration(file: file, reason: "\(c) channels not divisible by norm_num_groups \(normNumGroups)")
        }
        _ = try layersPerBlock.expanded(n, field: "layers_per_block", file: file)
        _ = try crossAttentionDim.expanded(n, field: "cross_attention_dim", file: file)
        _ = try transformerLayersPerBlock.expanded(n, field: "transformer_layers_per_block", file: file)
        _ = try onlyCrossAttention.expanded(n, field: "only_cross_attention", file: file)
    }
}
