// config.json of diffusers AutoencoderTiny (models/autoencoders/autoencoder_tiny.py, TAESD's
// design) by diffusers' field names and defaults, for its decoder: ReLU activations and nearest
// upsampling (the only values TAESD checkpoints use; others are errors), equal block widths (as
// DecoderTiny's blocks require). The encoder's fields are accepted and not used.

import Foundation

public struct AutoencoderTinyConfiguration: Decodable, Equatable {
    public var outChannels = 3
    public var decoderBlockOutChannels = [64, 64, 64, 64]
    public var numDecoderBlocks = [3, 3, 3, 1]
    public var upsamplingScalingFactor = 2
    public var latentChannels = 4
    public var scalingFactor: Float = 1.0
    public var shiftFactor: Float = 0.0
    /// diffusers' alias of decoder_block_out_channels (it writes both); when given, it must equal it.
    public var blockOutChannels: [Int]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case outChannels = "out_channels", decoderBlockOutChannels = "decoder_block_out_channels"
        case numDecoderBlocks = "num_decoder_blocks", upsamplingScalingFactor = "upsampling_scaling_factor"
        case latentChannels = "latent_channels", scalingFactor = "scaling_factor", shiftFactor = "shift_factor"
        case blockOutChannels = "block_out_channels"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        let d = AutoencoderTinyConfiguration()
        outChannels = try value(.outChannels, d.outChannels)
        decoderBlockOutChannels = try value(.decoderBlockOutChannels, d.decoderBlockOutChannels)
        numDecoderBlocks = try value(.numDecoderBlocks, d.numDecoderBlocks)
        upsamplingScalingFactor = try value(.upsamplingScalingFactor, d.upsamplingScalingFactor)
        latentChannels = try value(.latentChannels, d.latentChannels)
        scalingFactor = try value(.scalingFactor, d.scalingFactor)
        shiftFactor = try value(.shiftFactor, d.shiftFactor)
        blockOutChannels = try c.decodeIfPresent([Int].self, forKey: .blockOutChannels)
    }

    /// Every count and width against the weight file (ConfigurationLimits).
    public func checkLimits(_ l: ConfigurationLimits) throws {
        try l.blocks(decoderBlockOutChannels, "decoder_block_out_channels")
        for n in numDecoderBlocks { try l.count(n, "num_decoder_blocks", minimum: 0) }
        try l.size(outChannels, "out_channels")
        try l.size(latentChannels, "latent_channels")
        try l.finite(scalingFactor, "scaling_factor")
        try l.finite(shiftFactor, "shift_factor")
        guard scalingFactor != 0 else { throw ModelError.invalidConfiguration(file: l.file, reason: "'scaling_factor' must not be 0") }
    }

    public static func load(path: String) throws -> AutoencoderTinyConfiguration {
        let file = try ConfigurationFile(path: path)
        try file.checkUntypedFields(
            typed: Set(CodingKeys.allCases.map(\.rawValue)),
            implemented: ["act_fn": "relu", "upsample_fn": "nearest"],
            ignored: ["in_channels", "encoder_block_out_channels", "num_encoder_blocks", "latent_magnitude", "latent_shift",
                      "force_upcast", "sample_size"])
        let config = try file.decode(AutoencoderTinyConfiguration.self)
        let widths = config.decoderBlockOutChannels
        guard !widths.isEmpty, config.numDecoderBlocks.count == widths.count else {
            throw ModelError.invalidConfiguration(file: path, reason: "decoder_block_out_channels and num_decoder_blocks need equal, non-zero lengths")
        }
        if let alias = config.blockOutChannels, alias != widths {
            throw ModelError.invalidConfiguration(file: path, reason: "block_out_channels \(alias) must equal decoder_block_out_channels \(widths)")
        }
        guard widths.allSatisfy({ $0 == widths[0] }) else {
            throw ModelError.invalidConfiguration(file: path, reason: "decoder_block_out_channels \(widths) must all be equal (DecoderTiny's blocks keep their width)")
        }
        guard config.upsamplingScalingFactor == 2 else {
            throw ModelError.unsupportedConfiguration(file: path, field: "upsampling_scaling_factor", value: "\(config.upsamplingScalingFactor)")
        }
        guard config.numDecoderBlocks.allSatisfy({ $0 >= 0 }), config.latentChannels >= 1, config.outChannels >= 1 else {
            throw ModelError.invalidConfiguration(file: path, reason: "num_decoder_blocks must not be negative, latent_channels and out_channels must be positive")
        }
        return config
    }
}
