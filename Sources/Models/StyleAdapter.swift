// IP-Adapter weights in the file layout diffusers' load_ip_adapter reads: image_proj.proj
// (linear to tokens x width) and image_proj.norm (LayerNorm) turn a style embedding into style
// tokens; ip_adapter.{1 + 2n}.to_k_ip / to_v_ip are the extra key and value projections of the
// n-th cross-attention in diffusers' attn_processors order (down blocks, up blocks, mid block).
// Matches diffusers ImageProjection and IPAdapterAttnProcessor2_0 with one adapter.

import Foundation
import Tensors

public final class StyleAdapter {
    public let tokens: Int
    public let width: Int
    let projection: Linear
    let norm: LayerNorm
    private let store: WeightStore
    private var projections: [String: (key: Linear, value: Linear)] = [:]

    /// Reads the adapter's image projection for `unet`'s configuration. The UNet built with it
    /// attaches the per-block projections in its own order (`attach`), after which every
    /// tensor of the file must have been used.
    public init(path: String, unet configuration: UNet2DConditionConfiguration, embeddingDimension: Int) throws {
        store = try WeightStore(path: path)
        let file = store.file.path
        guard let proj = store.file.entries["image_proj.proj.weight"], proj.shape.count == 2 else {
            throw ModelError.missingTensor(file: file, tensor: "image_proj.proj.weight", expectedShape: [-1, embeddingDimension])
        }
        let limits = ConfigurationLimits(config: file, weights: store.file)
        let n = configuration.blockOutChannels.count
        try limits.count(n, "block_out_channels (number of blocks)")
        let crossDims = try configuration.crossAttentionDim.expanded(n, field: "cross_attention_dim", file: file)
        for d in crossDims { try limits.size(d, "cross_attention_dim") }
        guard Set(crossDims).count == 1, let width = crossDims.first, proj.shape[0] % width == 0 else {
            throw ModelError.invalidConfiguration(file: file, reason: "image_proj.proj.weight \(proj.shape) does not fit cross_attention_dim \(crossDims)")
        }
        self.width = width
        tokens = proj.shape[0] / width
        projection = try Linear(store, "image_proj.proj", inFeatures: embeddingDimension, outFeatures: tokens * width)
        norm = try LayerNorm(store, "image_proj.norm", dimension: width, epsilon: 1e-5)
    }

    /// Loads the key and value projections for the built UNet's cross-attention blocks
    /// (UNet2DConditionModel.crossAttentionLayers, in processor order: ip_adapter.{1 + 2n});
    /// every tensor of the file must then have been used.
    func attach(_ layers: [(prefix: String, channels: Int)]) throws {
        var loaded: [String: (key: Linear, value: Linear)] = [:]
        for (index, (prefix, channels)) in layers.enumerated() {
            let key = "ip_adapter.\(1 + 2 * index)"
            loaded[prefix] = (try Linear(store, key + ".to_k_ip", inFeatures: width, outFeatures: channels, bias: false),
                              try Linear(store, key + ".to_v_ip", inFeatures: width, outFeatures: channels, bias: false))
        }
        try store.finish()
        projections = loaded
    }

    /// The style projections of the transformer block at `prefix` (e.g.
    /// "down_blocks.0.attentions.0.transformer_blocks.0").
    func projections(for prefix: String) -> (key: Linear, value: Linear)? { projections[prefix] }

    /// Style embeddings [N, E] -> style tokens [N, tokens, width] (ImageProjection).
    public func tokens(_ embedding: Tensor) throws -> Tensor {
        let n = embedding.shape[0]
        return try norm(projection(embedding).reshaped([n, tokens, width]))
    }
}
