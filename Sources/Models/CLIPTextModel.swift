// Port of transformers' CLIPTextModel (models/clip/modeling_clip.py): token + position
// embeddings, pre-norm transformer layers with causal self-attention and an MLP
// (quick_gelu or gelu), final layer norm. Returns last_hidden_state, what Stable Diffusion
// pipelines feed the UNet. Weights load by transformers' names, with or without the
// "text_model." prefix and the position_ids buffer (older checkpoints carry both, e.g.
// stable-diffusion-v1-5's text_encoder). No attention mask: padding positions
// attend causally, as in diffusers' pipelines.

import Foundation
import SafeTensors
import Tensors

public struct CLIPTextModel {
    public let configuration: CLIPTextConfiguration
    let tokenEmbedding: Tensor      // [V, D]
    let positionEmbedding: Tensor   // [P, D]
    let encoder: CLIPEncoder
    let finalNorm: LayerNorm
    /// The mapped weights (tensors read in place point into it).
    let weights: SafetensorsFile

    public init(configuration c: CLIPTextConfiguration, store: WeightStore) throws {
        try c.checkLimits(ConfigurationLimits(config: store.file.path, weights: store.file))
        configuration = c
        weights = store.file
        let p = store.contains("text_model.embeddings.token_embedding.weight") ? "text_model." : ""
        let d = c.hiddenSize
        tokenEmbedding = try store.tensor(p + "embeddings.token_embedding.weight", shape: [c.vocabSize, d])
        positionEmbedding = try store.tensor(p + "embeddings.position_embedding.weight", shape: [c.maxPositionEmbeddings, d])
        try store.checkPositionIDs(p + "embeddings.", count: c.maxPositionEmbeddings)
        encoder = try CLIPEncoder(store, p + "encoder.", count: c.numHiddenLayers, width: d, intermediate: c.intermediateSize,
                                  heads: c.numAttentionHeads, activation: c.hiddenAct, epsilon: c.layerNormEps)
        finalNorm = try LayerNorm(store, p + "final_layer_norm", dimension: d, epsilon: c.layerNormEps)
    }

    /// Lets the weights' mapped pages leave resident memory until the next call (Stable
    /// Diffusion's 0.5 GB text encoder is idle while the UNet runs).
    public func releaseResidentWeights() { weights.releaseAllPages() }

    /// ids: one row of equal length (<= max_position_embeddings) per batch item -> [B, L, D].
    /// `clipSkip` counts as AUTOMATIC1111's "Clip skip": 1 uses every layer; N > 1 stops N - 1
    /// layers before the last and applies the final layer norm to that output (diffusers'
    /// clip_skip = N - 1).
    public func callAsFunction(_ ids: [[Int32]], clipSkip: Int = 1) throws -> Tensor {
        let layers = encoder.layers.count
        guard (1...max(1, layers)).contains(clipSkip) else {
            throw ModelError.invalidInput("clip skip \(clipSkip) must be between 1 and the text encoder's \(layers) layers")
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
        let h = try encoder(Tensor.concatenateFirstAxis(rows), causal: true, count: layers - (clipSkip - 1))
        return try finalNorm(h)
    }
}
