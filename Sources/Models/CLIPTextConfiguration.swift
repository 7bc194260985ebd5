// config.json of transformers' CLIPTextModel (models/clip/configuration_clip.py). The fields
// that shape the computation are read by their transformers names; hidden_act must be
// quick_gelu or gelu. Other transformers bookkeeping fields (dtype, architectures, ...) do not
// change the maths and are not read.

import Foundation

public struct CLIPTextConfiguration: Decodable, Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 77
    public var hiddenAct = "quick_gelu"
    public var layerNormEps: Float = 1e-5
    public var padTokenId = 1
    public var bosTokenId = 49406
    public var eosTokenId = 49407

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case padTokenId = "pad_token_id", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        let d = CLIPTextConfiguration()
        vocabSize = try value(.vocabSize, d.vocabSize)
        hiddenSize = try value(.hiddenSize, d.hiddenSize)
        intermediateSize = try value(.intermediateSize, d.intermediateSize)
        numHiddenLayers = try value(.numHiddenLayers, d.numHiddenLayers)
        numAttentionHeads = try value(.numAttentionHeads, d.numAttentionHeads)
        maxPositionEmbeddings = try value(.maxPositionEmbeddings, d.maxPositionEmbeddings)
        hiddenAct = try value(.hiddenAct, d.hiddenAct)
        layerNormEps = try value(.layerNormEps, d.layerNormEps)
        padTokenId = try value(.padTokenId, d.padTokenId)
        bosTokenId = try value(.bosTokenId, d.bosTokenId)
        eosTokenId = try value(.eosTokenId, d.eosTokenId)
    }

    /// Every count and width against the weight file (ConfigurationLimits).
    func checkLimits(_ l: ConfigurationLimits) throws {
        for (field, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                               ("num_attention_heads", numAttentionHeads), ("max_position_embeddings", maxPositionEmbeddings)] {
            try l.size(value, field)
        }
        try l.count(numHiddenLayers, "num_hidden_layers", minimum: 0)
        try l.finite(layerNormEps, "layer_norm_eps")
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelError.invalidConfiguration(file: l.file, reason: "hidden_size \(hiddenSize) not divisible by \(numAttentionHeads) heads")
        }
    }

    public static func load(path: String) throws -> CLIPTextConfiguration {
        let file = try ConfigurationFile(path: path)
        let config = try file.decode(CLIPTextConfiguration.self)
        guard ["quick_gelu", "gelu"].contains(config.hiddenAct) else {
            throw ModelError.unsupportedConfiguration(file: path, field: "hidden_act", value: "\"\(config.hiddenAct)\"")
        }
        guard config.hiddenSize > 0, config.numAttentionHeads > 0, config.hiddenSize % config.numAttentionHeads == 0 else {
            throw ModelError.invalidConfiguration(file: path, reason: "hidden_size \(config.hiddenSize) not divisible by \(config.numAttentionHeads) heads")
        }
        return config
    }
}
