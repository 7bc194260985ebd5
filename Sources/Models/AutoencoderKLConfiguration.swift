// config.json of diffusers AutoencoderKL (models/autoencoders/autoencoder_kl.py) by diffusers'
// field names and defaults. Supported: DownEncoderBlock2D / UpDecoderBlock2D, SiLU, optional
// mid-block attention, optional quant convs, scaling and shift factors. Not supported (an
// error when set): latents_mean / latents_std.

import Foundation

public struct AutoencoderKLConfiguration: Decodable, Equatable {
    public var inChannels = 3
    public var outChannels = 3
    public var downBlockTypes = ["DownEncoderBlock2D"]
    public var upBlockTypes = ["UpDecoderBlock2D"]
    public var blockOutChannels = [64]
    public var layersPerBlock = 1
    public var latentChannels = 4
    public var normNumGroups = 32
    public var scalingFactor: Float = 0.18215
    public var shiftFactor: Float?
    public var useQuantConv = true
    public var usePostQuantConv = true
    public var midBlockAddAttention = true

    /// Downsampling factor between image and latent (2^(blocks - 1); the block count is bounded
    /// when the file is loaded).
    public var downsamplingFactor: Int { 1 << max(0, blockOutChannels.count - 1) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inChannels = "in_channels", outChannels = "out_channels", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case latentChannels = "latent_channels", normNumGroups = "norm_num_groups", scalingFactor = "scaling_factor"
        case shiftFactor = "shift_factor", useQuantConv = "use_quant_conv", usePostQuantConv = "use_post_quant_conv"
        case midBlockAddAttention = "mid_block_add_attention"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        let d = AutoencoderKLConfiguration()
        inChannels = try value(.inChannels, d.inChannels)
        outChannels = try value(.outChannels, d.outChannels)
        downBlockTypes = try value(.downBlockTypes, d.downBlockTypes)
        upBlockTypes = try value(.upBlockTypes, d.upBlockTypes)
        blockOutChannels = try value(.blockOutChannels, d.blockOutChannels)
        layersPerBlock = try value(.layersPerBlock, d.layersPerBlock)
        latentChannels = try value(.latentChannels, d.latentChannels)
        normNumGroups = try value(.normNumGroups, d.normNumGroups)
        scalingFactor = try value(.scalingFactor, d.scalingFactor)
        shiftFactor = try c.decodeIfPresent(Float.self, forKey: .shiftFactor)
        useQuantConv = try value(.useQuantConv, d.useQuantConv)
        usePostQuantConv = try value(.usePostQuantConv, d.usePostQuantConv)
        midBlockAddAttention = try value(.midBlockAddAttention, d.midBlockAddAttention)
    }

    /// Every count and width against the weight file (ConfigurationLimits).
    public func checkLimits(_ l: ConfigurationLimits) throws {
        try l.blocks(blockOutChannels, "block_out_channels")
        for (field, value) in [("in_channels", inChannels), ("out_channels", outChannels), ("latent_channels", latentChannels),
                               ("norm_num_groups", normNumGroups)] {
            try l.size(value, field)
        }
        try l.count(layersPerBlock, "layers_per_block")
        try l.finite(scalingFactor, "scaling_factor")
        guard scalingFactor != 0 else { throw ModelError.invalidConfiguration(file: l.file, reason: "'scaling_factor' must not be 0") }
        if let shiftFactor { try l.finite(shiftFactor, "shift_factor") }
    }

    public static func load(path: String) throws -> AutoencoderKLConfiguration {
        let file = try ConfigurationFile(path: path)
        try file.checkUntypedFields(
            typed: Set(CodingKeys.allCases.map(\.rawValue)),
            implemented: ["act_fn": "silu", "latents_mean": NSNull(), "latents_std": NSNull()],
            ignored: ["sample_size", "force_upcast"])
        let config = try file.decode(AutoencoderKLConfiguration.self)
        let n = config.blockOutChannels.count
        guard n > 0, config.downBlockTypes.count == n, config.upBlockTypes.count == n else {
            throw ModelError.invalidConfiguration(file: path, reason: "block_out_channels, down_block_types and up_block_types need equal lengths")
        }
        for t in config.downBlockTypes where t != "DownEncoderBlock2D" {
            throw ModelError.unsupportedConfiguration(file: path, field: "down_block_types", value: "\"\(t)\"")
        }
        for t in config.upBlockTypes where t != "UpDecoderBlock2D" {
            throw ModelError.unsupportedConfiguration(file: path, field: "up_block_types", value: "\"\(t)\"")
        }
        for c in config.blockOutChannels where config.normNumGroups <= 0 || c % config.normNumGroups != 0 {
            throw ModelError.invalidConfiguration(file: path, reason: "\(c) channels not divisible by norm_num_groups \(config.normNumGroups)")
        }
        guard config.layersPerBlock >= 1, config.latentChannels >= 1 else {
            throw ModelError.invalidConfiguration(file: path, reason: "layers_per_block and latent_channels must be positive")
        }
        return config
    }
}
