// Port of transformers' CLIPTextModel (models/clip/modeling_clip.py): token + position
// embeddings, pre-norm transformer layers with causal self-attention and an MLP
// (quick_gelu or gelu), final layer norm. Returns last_hidden_state, what Stable Diffusion
// pipelines feed the UNet. Weights load by transformers' names, with or without the
// "text_model." prefix (older checkpoints carry it). No attention mask: padding positions
// attend causally, as in diffusers' pipelines.

import Foundation
import Tensors

public struct CLIPTextModel {
    public let configuration: CLIPTextConfiguration
    let tokenEmbedding: Tensor      // [V, D]
    let positionEmbedding: Tensor   // [P, D]
    let layers: [Layer]
    let finalNorm: LayerNorm

    struct Layer {
        let norm1: LayerNorm, q: Linear, k: Linear, v: Linear, out: Linear
        let norm2: LayerNorm, fc1: Linear, fc2: Linear
    }


    public init(configuration c: CLIPTextConfiguration, store: WeightStore) throws {
        try c.checkLimits(ConfigurationLimits(config: store.file.path, weights: store.file))
        configuration = c
        let p = store.contains("text_model.embeddings.token_embedding.weight") ? "text_model." : ""
        let d = c.hiddenSize
        tokenEmbedding = try store.tensor(p + "embeddings.token_embedding.weight", shape: [c.vocabSize, d])
        positionEmbedding = try store.tensor(p + "embeddings.position_embedding.weight", shape: [c.maxPositionEmbeddings, d])
        layers = try (0..<c.numHiddenLayers).map { i in
            let l = p + "encoder.layers.\(i)."
            return Layer(
                norm1: try LayerNorm(store, l + "layer_norm1", dimension: d, epsilon: c.layerNormEps),
                q: try Linear(store, l + "self_attn.q_proj", inFeatures: d, outFeatures: d),
                k: try Linear(store, l + "self_attn.k_proj", inFeatures: d, outFeatures: d),
                v: try Linear(store, l + "self_attn.v_proj", inFeatures: d, outFeatures: d),
                out: try Linear(store, l + "self_attn.out_proj", inFeatures: d, outFeatures: d),
                norm2: try LayerNorm(store, l + "layer_norm2", dimension: d, epsilon: c.layerNormEps),
                fc1: try Linear(store, l + "mlp.fc1", inFeatures: d, outFeatures: c.intermediateSize),
                fc2: try Linear(store, l + "mlp.fc2", inFeatures: c.intermediateSize, outFeatures: d))
        }
        finalNorm = try LayerNorm(store, p + "final_layer_norm", dimension: d, epsilon: c.layerNormEps)
    }

    /// ids: one row of equal length (<= max_position_embeddings) per batch item -> [B, L, D].
    /// `clipSkip` counts as AUTOMATIC1111's "Clip skip": 1 uses every layer; N > 1 stops N - 1
    /// layers before the last and applies the final layer norm to that output (diffusers'
    /// clip_skip = N - 1).
    public func callAsFunction(_ ids: [[Int32]], clipSkip: Int = 1) throws -> Tensor {
        guard (1...max(1, layers.count)).contains(clipSkip) else {
            throw ModelError.invalidInput("clip skip \(clipSkip) must be between 1 and the text encoder's \(layers.count) layers")
        }
        guard let length = ids.first?.count, length > 0, ids.allSatisfy({ $0.count == length }) else {
            throw ModelError.invalidInput("text encoder needs equal-length, non-empty id rows")
        }
        guard length <= configuration.maxPositionEmbeddings else {
            throw ModelError.invalidInput("\(length) tokens exceed max_position_embeddings \(configuration.maxPositionEmbeddings)")
        }
        let d = configuration.hiddenSize
        let positions = try positionEmbedding.slicingFirstAxis(0..<length)
        var rows: [Tensor] = []
        for row in ids {
            let tokens = try tokenEmbedding.gatherRows(row)
            rows.append(try (tokens + positions).reshaped([1, length, d]))
        }
        var h = try Tensor.concatenateFirstAxis(rows)
        for layer in layers.dropLast(clipSkip - 1) {
            let n = try layer.norm1(h)
            let attended = try Tensor.attention(query: layer.q(n), key: layer.k(n), value: layer.v(n),
                                                heads: configuration.numAttentionHeads, causal: true)
            try h.add(layer.out(attended))
            let m = try layer.fc1(layer.norm2(h))
            try h.add(layer.fc2(configuration.hiddenAct == "gelu" ? m.gelu() : m.quickGELU()))
        }
        return try finalNorm(h)
    }
}
