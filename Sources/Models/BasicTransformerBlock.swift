// diffusers BasicTransformerBlock (models/attention.py), norm_type "layer_norm", GEGLU
// feed-forward: x += attn1(norm1(x)); x += attn2(norm2(x), context); x += ff(norm3(x)).

import Tensors

public struct BasicTransformerBlock {
    let norm1: LayerNorm, attn1: Attention
    let norm2: LayerNorm, attn2: Attention
    let norm3: LayerNorm, feedForwardIn: Linear, feedForwardOut: Linear
    let onlyCrossAttention: Bool

    public init(
        _ store: WeightStore, _ prefix: String, dimension: Int, heads: Int, headDimension: Int,
        crossAttentionDimension: Int, onlyCrossAttention: Bool
    ) throws {
        norm1 = try LayerNorm(store, prefix + ".norm1", dimension: dimension, epsilon: 1e-5)
        attn1 = try Attention(store, prefix + ".attn1", queryDimension: dimension,
                              contextDimension: onlyCrossAttention ? crossAttentionDimension : nil,
                              heads: heads, headDimension: headDimension)
        norm2 = try LayerNorm(store, prefix + ".norm2", dimension: dimension, epsilon: 1e-5)
        attn2 = try Attention(store, prefix + ".attn2", queryDimension: dimension, contextDimension: crossAttentionDimension,
                              heads: heads, headDimension: headDimension)
        norm3 = try LayerNorm(store, prefix + ".norm3", dimension: dimension, epsilon: 1e-5)
        let inner = 4 * dimension
        feedForwardIn = try Linear(store, prefix + ".ff.net.0.proj", inFeatures: dimension, outFeatures: 2 * inner)
        feedForwardOut = try Linear(store, prefix + ".ff.net.2", inFeatures: inner, outFeatures: dimension)
        self.onlyCrossAttention = onlyCrossAttention
    }

    /// x [B, L, C], context [B, Lc, Cc] -> [B, L, C]
    public func callAsFunction(_ x: Tensor, context: Tensor) throws -> Tensor {
        var h = x
        try h.add(attn1(norm1(h), context: onlyCrossAttention ? context : nil))
        try h.add(attn2(norm2(h), context: context))
        try h.add(feedForwardOut(feedForwardIn(norm3(h)).geglu()))
        return h
    }
}
