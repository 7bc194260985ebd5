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

    /// Reads the adapter for `unet`'s configuration; every tensor must be used.
    public init(path: String, unet configuration: UNet2DConditionConfiguration, embeddingDimension: Int) throws {
        store = try WeightStore(path: path)
        let file = store.file.path
        guard let proj = store.file.entries["image_proj.proj.weight"], proj.shape.count == 2 else {
            throw ModelError.missingTensor(file: file, tensor: "image_proj.proj.weight", expectedShape: [-1, embeddingDimension])
        }
        // The UNet's layer counts and widths against this file too: each cross-attention layer
        // has two tensors here, and cross_attention_dim is a dimension of them.
        let limits = ConfigurationLimits(config: file, weights: store.file)
        let n = configuration.blockOutChannels.count
        try limits.count(n, "block_out_channels (number of blocks)")
        let crossDims = try configuration.crossAttentionDim.expanded(n, field: "cross_attention_dim", file: file)
        for d in crossDims { try limits.size(d, "cross_attention_dim") }
        for v in try configuration.layersPerBlock.expanded(n, field: "layers_per_block", file: file) { try limits.count(v, "layers_per_block") }
        for v in try configuration.transformerLayersPerBlock.expanded(n, field: "transformer_layers_per_block", file: file) {
            try limits.count(v, "transformer_layers_per_block")
        }
        guard Set(crossDims).count == 1, let width = crossDims.first, proj.shape[0] % width == 0 else {
            throw ModelError.invalidConfiguration(file: file, reason: "image_proj.proj.weight \(proj.shape) does not fit cross_attention_dim \(crossDims)")
        }
        self.width = width
        tokens = proj.shape[0] / width
        projection = try Linear(store, "image_proj.proj", inFeatures: embeddingDimension, outFeatures: tokens * width)
        norm = try LayerNorm(store, "image_proj.norm", dimension: width, epsilon: 1e-5)
        // Cross-attention layers in diffusers' processor order, with their query widths.
        let layers = try configuration.layersPerBlock.expanded(n, field: "layers_per_block", file: file)
        let depth = try configuration.transformerLayersPerBlock.expanded(n, field: "transformer_layers_per_block", file: file)
        var order: [(String, Int)] = []
        for i in 0..<n where configuration.downBlockTypes[i] == "CrossAttnDownBlock2D" {
            for j in 0..<layers[i] { for k in 0..<depth[i] { order.append(("down_blocks.\(i).attentions.\(j).transformer_blocks.\(k)", configuration.blockOutChannels[i])) } }
        }
        for i in 0..<n where configuration.upBlockTypes[i] == "CrossAttnUpBlock2D" {
            let r = n - 1 - i
            for j in 0..<(layers[r] + 1) { for k in 0..<depth[r] { order.append(("up_blocks.\(i).attentions.\(j).transformer_blocks.\(k)", configuration.blockOutChannels[r])) } }
        }
        if configuration.midBlockType != nil {
            for k in 0..<depth[n - 1] { order.append(("mid_block.attentions.0.transformer_blocks.\(k)", configuration.blockOutChannels[n - 1])) }
        }
        for (index, (prefix, channels)) in order.enumerated() {
            let key = "ip_adapter.\(1 + 2 * index)"
            projections[prefix] = (try Linear(store, key + ".to_k_ip", inFeatures: width, outFeatures: channels, bias: false),
                                   try Linear(store, key + ".to_v_ip", inFeatures: width, outFeatures: channels, bias: false))
        }
        try store.finish()
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

/// What a UNet's cross-attention reads: text tokens, optional style tokens and their weight.
public struct CrossAttentionContext {
    public var text: Tensor          // [N, L, C]
    public var style: Tensor?        // [N, T, C]
    public var styleScale: Float

    public init(text: Tensor, style: Tensor? = nil, styleScale: Float = 1) {
        self.text = text
        self.style = style
        self.styleScale = styleScale
    }
}
