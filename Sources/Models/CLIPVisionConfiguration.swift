// config.json of transformers' CLIPVisionModelWithProjection (models/clip/configuration_clip.py
// CLIPVisionConfig), the image encoder of the public IP-Adapter: the fields that shape the
// computation by their transformers names; hidden_act quick_gelu or gelu; transformers'
// bookkeeping fields skipped (CLIPTextConfiguration.transformersBookkeeping); anything else an
// error.

import Foundation

public struct CLIPVisionConfiguration: Decodable, Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var projectionDim = 512
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var numChannels = 3
    public var imageSize = 224
    public var patchSize = 32
    public var hiddenAct = "quick_gelu"
    public var layerNormEps: Float = 1e-5

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", projectionDim = "projection_dim"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads", numChannels = "num_channels"
        case imageSize = "image_size", patchSize = "patch_size", hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        let d = CLIPVisionConfiguration()
        hiddenSize = try value(.hiddenSize, d.hiddenSize)
        intermediateSize = try value(.intermediateSize, d.intermediateSize)
        projectionDim = try value(.projectionDim, d.projectionDim)
        numHiddenLayers = try value(.numHiddenLayers, d.numHiddenLayers)
        numAttentionHeads = try value(.numAttentionHeads, d.numAttentionHeads)
        numChannels = try value(.numChannels, d.numChannels)
        imageSize = try value(.imageSize, d.imageSize)
        patchSize = try value(.patchSize, d.patchSize)
        hiddenAct = try value(.hiddenAct, d.hiddenAct)
        layerNormEps = try value(.layerNormEps, d.layerNormEps)
    }

    /// Every count and width against the weight file (ConfigurationLimits).
    public func checkLimits(_ l: ConfigurationLimits) throws {
        for (field, value) in [("hidden_size", hiddenSize), ("intermediate_size", intermediateSize), ("projection_dim", projectionDim),
                               ("num_attention_heads", numAttentionHeads), ("image_size", imageSize), ("patch_size", patchSize)] {
            try l.size(value, field)
        }
        try l.count(numHiddenLayers, "num_hidden_layers", minimum: 0)
        try l.finite(layerNormEps, "layer_norm_eps")
        guard numChannels == 3 else {
            throw ModelError.unsupportedConfiguration(file: l.file, field: "num_channels", value: "\(numChannels) (RGB images have 3)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelError.invalidConfiguration(file: l.file, reason: "hidden_size \(hiddenSize) not divisible by \(numAttentionHeads) heads")
        }
        guard imageSize % patchSize == 0 else {
            throw ModelError.invalidConfiguration(file: l.file, reason: "image_size \(imageSize) not divisible by patch_size \(patchSize)")
        }
    }

    public static func load(path: String) throws -> CLIPVisionConfiguration {
        let file = try ConfigurationFile(path: path)
        try file.checkUntypedFields(typed: Set(CodingKeys.allCases.map(\.rawValue)), ignored: CLIPTextConfiguration.transformersBookkeeping)
        let config = try file.decode(CLIPVisionConfiguration.self)
        guard ["quick_gelu", "gelu"].contains(config.hiddenAct) else {
            throw ModelError.unsupportedConfiguration(file: path, field: "hidden_act", value: "\"\(config.hiddenAct)\"")
        }
        return config
    }
}
