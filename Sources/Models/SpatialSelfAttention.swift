// The VAE mid-block attention: diffusers Attention built with _from_deprecated_attn_block
// (group_norm, biased q/k/v, residual connection, rescale_output_factor) over H*W tokens.

import Tensors

public struct SpatialSelfAttention {
    let norm: GroupNorm
    let attention: Attention
    let rescaleOutputFactor: Float

    public init(_ store: WeightStore, _ prefix: String, channels: Int, headDimension: Int, groups: Int, epsilon: Float,
                rescaleOutputFactor: Float = 1) throws {
        guard headDimension > 0, channels % headDimension == 0 else {
            throw ModelError.invalidConfiguration(file: store.file.path, reason: "\(prefix): \(channels) channels, head dimension \(headDimension)")
        }
        norm = try GroupNorm(store, prefix + ".group_norm", groups: groups, channels: channels, epsilon: epsilon)
        attention = try Attention(store, prefix, queryDimension: channels, contextDimension: nil,
                                  heads: channels / headDimension, headDimension: headDimension, bias: true)
        self.rescaleOutputFactor = rescaleOutputFactor
    }

    /// x [N, H, W, C] -> [N, H, W, C]
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let out = try attention(norm(x).reshaped([n, h * w, c]), adding: x.reshaped([n, h * w, c])).reshaped([n, h, w, c])
        return rescaleOutputFactor == 1 ? out : out * (1 / rescaleOutputFactor)
    }
}
