// config.json of transformers' CLIPTextModel (models/clip/configuration_clip.py). The fields
// that shape the computation are read by their transformers names; hidden_act must be
// quick_gelu or gelu. transformers' bookkeeping fields (dtype, architectures, generation
// settings, ...) do not change the maths and are skipped; any other field is an error.

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

    enum CodingKeys: String, CodingKey, CaseIterable {
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
    public func checkLimits(_ l: ConfigurationLimits) throws {
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

    /// transformers' PretrainedConfig fields that do not change CLIPTextModel's forward pass
    /// (bookkeeping, dropout, training and generation settings older versions write out).
    static let transformersBookkeeping: Set<String> = [
        "architectures", "attention_dropout", "dropout", "dtype", "torch_dtype", "initializer_factor", "initializer_range",
        "model_type", "projection_dim", "transformers_version", "return_dict", "output_hidden_states", "output_attentions",
        "torchscript", "use_bfloat16", "tf_legacy_loss", "pruned_heads", "tie_word_embeddings", "chunk_size_feed_forward",
        "is_encoder_decoder", "is_decoder", "cross_attention_hidden_size", "add_cross_attention", "tie_encoder_decoder",
        "id2label", "label2id", "problem_type", "finetuning_task", "tokenizer_class", "prefix", "task_specific_params",
        "sep_token_id", "decoder_start_token_id", "max_length", "min_length", "do_sample", "early_stopping", "num_beams",
        "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
        "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences",
        "output_scores", "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
        "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "_name_or_path", "use_cache",
    ]

    public static func load(path: String) throws -> CLIPTextConfiguration {
        let file = try ConfigurationFile(path: path)
        try file.checkUntypedFields(typed: Set(CodingKeys.allCases.map(\.rawValue)), ignored: transformersBookkeeping)
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
