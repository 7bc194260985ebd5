// diffusers Transformer2DModel (models/transformers/transformer_2d.py) for continuous
// input: GroupNorm(eps 1e-6), proj_in (1x1 conv or linear: the same map in NHWC), transformer
// blocks over the H*W tokens, proj_out, plus the residual.

import Tensors

public struct Transformer2DModel {
    let norm: GroupNorm
    let projectionIn: Linear
    let blocks: [BasicTransformerBlock]
    let projectionOut: Linear

    public init(
        _ store: WeightStore, _ prefix: String, channels: Int, heads: Int, headDimension: Int, layers: Int,
        crossAttentionDimension: Int, groups: Int, linearProjection: Bool, onlyCrossAttention: Bool,
        styleAdapter: StyleAdapter? = nil
    ) throws {
        let inner = heads * headDimension
        norm = try GroupNorm(store, prefix + ".norm", groups: groups, channels: channels, epsilon: 1e-6)
        projectionIn = try Transformer2DModel.projection(store, prefix + ".proj_in", channels, inner, linearProjection)
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(store, prefix + ".transformer_blocks.\($0)", dimension: inner, heads: heads,
                                      headDimension: headDimension, crossAttentionDimension: crossAttentionDimension,
                                      onlyCrossAttention: onlyCrossAttention, styleAdapter: styleAdapter)
        }
        projectionOut = try Transformer2DModel.projection(store, prefix + ".proj_out", inner, channels, linearProjection)
    }

    /// (prefix, width) of each transformer block, in order.
    var crossAttentionLayers: [(prefix: String, channels: Int)] { blocks.map { ($0.prefix, $0.dimension) } }

    /// A 1x1 convolution [out, in, 1, 1] or a linear layer [out, in], loaded as a linear map.
    static func projection(_ store: WeightStore, _ name: String, _ inputs: Int, _ outputs: Int, _ linear: Bool) throws -> Linear {
        if linear { return try Linear(store, name, inFeatures: inputs, outFeatures: outputs) }
        let packed = try store.packedMatrix([name + ".weight"], shapes: [[outputs, inputs, 1, 1]])
        return Linear(weight: packed, bias: try store.tensor(name + ".bias", shape: [outputs]))
    }

    /// x [N, H, W, C] -> [N, H, W, C]
    public func callAsFunction(_ x: Tensor, context: CrossAttentionContext) throws -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var tokens = try projectionIn(norm(x).reshaped([n, h * w, c]))
        for block in blocks { tokens = try block(tokens, context: context) }
        return try projectionOut(tokens, adding: x.reshaped([n, h * w, c])).reshaped([n, h, w, c])
    }
}

extension Linear {
    init(weight: PackedMatrix, bias: Tensor?) {
        self.weight = weight
        self.bias = bias
    }
}
