// diffusers Attention (models/attention_processor.py) as AttnProcessor2_0 runs it for token
// input: q = to_q(x), k = to_k(context), v = to_v(context), multi-head softmax(q k^T / sqrt(d)) v,
// then to_out.0. Dropout is inference-only identity.

import Tensors

public struct Attention {
    /// Self-attention: [to_q; to_k; to_v] as one matrix in `projection` (`keyValue` nil);
    /// cross-attention: to_q in `projection` and [to_k; to_v] as one in `keyValue`. One GEMM
    /// makes what two or three made (its input read and packed once, a product large enough to
    /// split among threads): each output is the same fused multiply-add chain, so the bits do
    /// not change. (Two optionals rather than an enum with two payloads: Swift may keep a
    /// multi-payload enum's tag in a reference's spare bits, which LeakSanitizer then no
    /// longer recognises as a pointer and reports as a leak.)
    let projection: Linear
    /// [to_k; to_v] of a cross-attention layer (nil for self-attention).
    let keyValue: Linear?
    let toOut: Linear
    public let heads: Int

    public init(
        _ store: WeightStore, _ prefix: String, queryDimension: Int, contextDimension: Int?,
        heads: Int, headDimension: Int, bias: Bool = false, outputBias: Bool = true
    ) throws {
        let inner = heads * headDimension
        if let context = contextDimension {
            projection = try Linear(store, prefix + ".to_q", inFeatures: queryDimension, outFeatures: inner, bias: bias)
            keyValue = try Linear(store, stacking: [".to_k", ".to_v"].map { prefix + $0 }, inFeatures: context,
                                  outFeatures: [inner, inner], bias: bias)
        } else {
            projection = try Linear(store, stacking: [".to_q", ".to_k", ".to_v"].map { prefix + $0 },
                                    inFeatures: queryDimension, outFeatures: [inner, inner, inner], bias: bias)
            keyValue = nil
        }
        toOut = try Linear(store, prefix + ".to_out.0", inFeatures: inner, outFeatures: queryDimension, bias: outputBias)
        self.heads = heads
    }

    /// x [B, L, C], context [B, Lc, Cc] (nil: self-attention) -> [B, L, C]. `extra` adds
    /// scale x attention of the same queries over other keys and values (IP-Adapter's
    /// decoupled cross-attention) before the output projection.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, extra: (key: Tensor, value: Tensor, scale: Float)? = nil,
                               adding residual: Tensor? = nil) throws -> Tensor {
        guard let toKV = keyValue else {
            guard context == nil, extra == nil else {
                throw ModelError.invalidInput("attention: a self-attention layer was given a context or extra keys")
            }
            return try toOut(Tensor.attention(packedQKV: try projection(x), heads: heads), adding: residual)
        }
        return try callAsFunction(x, keysValues: toKV(context ?? x), extra: extra, adding: residual)
    }

    /// Cross-attention over keys and values [B, Lc, 2 inner] made beforehand by `keyValue` (a
    /// request's text tokens, the same for every step: `CrossAttentionContext.projected`).
    public func callAsFunction(_ x: Tensor, keysValues: Tensor, extra: (key: Tensor, value: Tensor, scale: Float)? = nil,
                               adding residual: Tensor? = nil) throws -> Tensor {
        guard keyValue != nil else {
            throw ModelError.invalidInput("attention: a self-attention layer was given keys and values")
        }
        let q = try projection(x)
        var h = try Tensor.attention(query: q, packedKeyValue: keysValues, heads: heads)
        if let extra {
            let e = try Tensor.attention(query: q, key: extra.key, value: extra.value, heads: heads)
            h = try h.scaledSum(1, e, extra.scale)
        }
        return try toOut(h, adding: residual)
    }
}
