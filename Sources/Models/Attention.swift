// diffusers Attention (models/attention_processor.py) as AttnProcessor2_0 runs it for token
// input: q = to_q(x), k = to_k(context), v = to_v(context), multi-head softmax(q k^T / sqrt(d)) v,
// then to_out.0. Dropout is inference-only identity.

import Tensors

public struct Attention {
    let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    public let heads: Int

    public init(
        _ store: WeightStore, _ prefix: String, queryDimension: Int, contextDimension: Int?,
        heads: Int, headDimension: Int, bias: Bool = false, outputBias: Bool = true
    ) throws {
        let inner = heads * headDimension
        let context = contextDimension ?? queryDimension
        toQ = try Linear(store, prefix + ".to_q", inFeatures: queryDimension, outFeatures: inner, bias: bias)
        toK = try Linear(store, prefix + ".to_k", inFeatures: context, outFeatures: inner, bias: bias)
        toV = try Linear(store, prefix + ".to_v", inFeatures: context, outFeatures: inner, bias: bias)
        toOut = try Linear(store, prefix + ".to_out.0", inFeatures: inner, outFeatures: queryDimension, bias: outputBias)
        self.heads = heads
    }

    /// x [B, L, C], context [B, Lc, Cc] (nil: self-attention) -> [B, L, C]. `extra` adds
    /// scale x attention of the same queries over other keys and values (IP-Adapter's
    /// decoupled cross-attention) before the output projection.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, extra: (key: Tensor, value: Tensor, scale: Float)? = nil) throws -> Tensor {
        let source = context ?? x
        let q = try toQ(x), k = try toK(source), v = try toV(source)
        var h = try Tensor.attention(query: q, key: k, value: v, heads: heads)
        if let extra {
            let e = try Tensor.attention(query: q, key: extra.key, value: extra.value, heads: heads)
            h = try h.scaledSum(1, e, extra.scale)
        }
        return try toOut(h)
    }
}
