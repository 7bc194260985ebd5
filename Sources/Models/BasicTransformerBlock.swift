// diffusers BasicTransformerBlock (models/attention.py), norm_type "layer_norm", GEGLU
// feed-forward: x += attn1(norm1(x)); x += attn2(norm2(x), context); x += ff(norm3(x)).

import Tensors

public struct BasicTransformerBlock {
    let norm1: LayerNorm, attn1: Attention
    let norm2: LayerNorm, attn2: Attention
    let norm3: LayerNorm, feedForwardIn: Linear, feedForwardOut: Linear
    let onlyCrossAttention: Bool
    /// The block's weight prefix (e.g. "down_blocks.0.attentions.0.transformer_blocks.0") and
    /// width: where the IP-Adapter's projections for this block go (StyleAdapter.attach).
    let prefix: String
    let dimension: Int
    /// The adapter whose key/value projections attn2 applies to style tokens, when one is loaded.
    let styleAdapter: StyleAdapter?

    public init(
        _ store: WeightStore, _ prefix: String, dimension: Int, heads: Int, headDimension: Int,
        crossAttentionDimension: Int, onlyCrossAttention: Bool, styleAdapter: StyleAdapter? = nil
    ) throws {
        self.prefix = prefix
        self.dimension = dimension
        self.styleAdapter = styleAdapter
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

    /// x [B, L, C] -> [B, L, C]. attn2 is text attention plus, with style tokens and an
    /// adapter, the block's style scale x attention over the style tokens (IPAdapterAttnProcessor2_0;
    /// skipped at scale 0, as there).
    public func callAsFunction(_ x: Tensor, context: CrossAttentionContext) throws -> Tensor {
        // Each residual is added inside the output projection (the bytes of h + f(h)).
        var h = try attn1(norm1(x), context: onlyCrossAttention ? context.text : nil, adding: x)
        let n2 = try norm2(h)
        // The text's (and style tokens') keys and values, made at the context's first evaluation.
        guard let toKV = attn2.keyValue else { throw ModelError.invalidInput("attn2 of \(prefix) has no key/value projection") }
        let keysValues = try context.projected(.text, by: toKV)
        let scale = context.styleScale(forBlock: prefix)
        if context.style != nil, scale != 0, let (styleKey, styleValue) = styleAdapter?.projections(for: prefix) {
            let extra = (try context.projected(.style, by: styleKey), try context.projected(.style, by: styleValue), scale)
            h = try attn2(n2, keysValues: keysValues, extra: extra, adding: h)
        } else {
            h = try attn2(n2, keysValues: keysValues, adding: h)
        }
        return try feedForwardOut(feedForwardIn(norm3(h)).geglu(), adding: h)
    }
}
