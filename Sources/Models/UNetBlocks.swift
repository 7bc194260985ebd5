// The UNet and VAE blocks of diffusers (models/unets/unet_2d_blocks.py): one down block type
// covering CrossAttnDownBlock2D / DownBlock2D / DownEncoderBlock2D, one up block type covering
// CrossAttnUpBlock2D / UpBlock2D / UpDecoderBlock2D, and the two mid blocks.

import Tensors

/// Cross-attention settings of a block (nil for blocks without attention).
public struct CrossAttentionSettings {
    public var heads: Int
    public var transformerLayers: Int
    public var crossAttentionDimension: Int
    public var linearProjection: Bool
    public var onlyCrossAttention: Bool
    public var styleAdapter: StyleAdapter? = nil

    /// The block's `count` Transformer2DModels, prefix.attentions.0 ... count-1.
    func transformers(_ store: WeightStore, _ prefix: String, channels: Int, count: Int, groups: Int) throws -> [Transformer2DModel] {
        try (0..<count).map {
            try Transformer2DModel(store, prefix + ".attentions.\($0)", channels: channels, heads: heads,
                                   headDimension: channels / heads, layers: transformerLayers,
                                   crossAttentionDimension: crossAttentionDimension, groups: groups,
                                   linearProjection: linearProjection, onlyCrossAttention: onlyCrossAttention,
                                   styleAdapter: styleAdapter)
        }
    }
}

public struct DownBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2DModel]
    let downsampler: Conv2d?

    /// `downsamplePadding` 0 means diffusers' asymmetric (0, 1, 0, 1) pad before the stride-2 conv.
    public init(
        _ store: WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, layers: Int,
        timeEmbeddingChannels: Int?, groups: Int, epsilon: Float, outputScaleFactor: Float,
        crossAttention: CrossAttentionSettings?, addDownsample: Bool, downsamplePadding: Int
    ) throws {
        resnets = try (0..<layers).map {
            try ResnetBlock2D(store, prefix + ".resnets.\($0)", inChannels: $0 == 0 ? inChannels : outChannels,
                              outChannels: outChannels, timeEmbeddingChannels: timeEmbeddingChannels,
                              groups: groups, epsilon: epsilon, outputScaleFactor: outputScaleFactor)
        }
        attentions = try crossAttention?.transformers(store, prefix, channels: outChannels, count: layers, groups: groups) ?? []
        if addDownsample {
            let conv = try Conv2d(store, prefix + ".downsamplers.0.conv", inChannels: outChannels, outChannels: outChannels,
                                  kernel: 3, stride: 2, padding: downsamplePadding)
            downsampler = downsamplePadding == 0 ? conv.withPadding(top: 0, left: 0, bottom: 1, right: 1) : conv
        } else {
            downsampler = nil
        }
    }

    /// The block's cross-attention transformer blocks, in diffusers' processor order.
    var crossAttentionLayers: [(prefix: String, channels: Int)] { attentions.flatMap(\.crossAttentionLayers) }

    /// Returns the block output and the skip states (one per resnet, plus the downsampled one).
    public func callAsFunction(_ x: Tensor, time: TimeConditioning?, context: CrossAttentionContext?) throws -> (Tensor, [Tensor]) {
        var h = x
        var skips: [Tensor] = []
        for (i, resnet) in resnets.enumerated() {
            h = try resnet(h, time: time)
            if i < attentions.count, let context { h = try attentions[i](h, context: context) }
            skips.append(h)
        }
        if let downsampler {
            h = try downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

public struct UpBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2DModel]
    let upsampler: Conv2d?
    /// Channels of the skip state each resnet concatenates (empty for the VAE decoder).
    let skipChannels: [Int]

    /// UNet up block when `previousOutputChannels` is given (with skip connections), VAE
    /// decoder block otherwise.
    /// The block's cross-attention transformer blocks, in diffusers' processor order.
    var crossAttentionLayers: [(prefix: String, channels: Int)] { attentions.flatMap(\.crossAttentionLayers) }

    public init(
        _ store: WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, previousOutputChannels: Int?,
        layers: Int, timeEmbeddingChannels: Int?, groups: Int, epsilon: Float, outputScaleFactor: Float,
        crossAttention: CrossAttentionSettings?, addUpsample: Bool
    ) throws {
        var resnets: [ResnetBlock2D] = []
        var skips: [Int] = []
        for i in 0..<layers {
            var resnetIn: Int
            if let previous = previousOutputChannels {
                let skip = i == layers - 1 ? inChannels : outChannels
                resnetIn = (i == 0 ? previous : outChannels) + skip
                skips.append(skip)
            } else {
                resnetIn = i == 0 ? inChannels : outChannels
            }
            resnets.append(try ResnetBlock2D(store, prefix + ".resnets.\(i)", inChannels: resnetIn, outChannels: outChannels,
                                             timeEmbeddingChannels: timeEmbeddingChannels, groups: groups, epsilon: epsilon,
                                             outputScaleFactor: outputScaleFactor))
        }
        self.resnets = resnets
        skipChannels = skips
        attentions = try crossAttention?.transformers(store, prefix, channels: outChannels, count: layers, groups: groups) ?? []
        upsampler = addUpsample
            ? try Conv2d(store, prefix + ".upsamplers.0.conv", inChannels: outChannels, outChannels: outChannels, kernel: 3)
            : nil
    }

    /// Number of skip states the block consumes.
    public var skipCount: Int { skipChannels.count }

    /// `skips` in the order the down path produced them; the last is used first.
    public func callAsFunction(_ x: Tensor, skips: [Tensor], time: TimeConditioning?, context: CrossAttentionContext?) throws -> Tensor {
        var h = x
        var remaining = skips
        for (i, resnet) in resnets.enumerated() {
            if !skipChannels.isEmpty, let skip = remaining.popLast() {
                h = try Tensor.concatenateLastAxis([h, skip])
            }
            h = try resnet(h, time: time)
            if i < attentions.count, let context { h = try attentions[i](h, context: context) }
        }
        if let upsampler { h = try upsampler(h.upsampleNearest2x()) }
        return h
    }
}

/// UNetMidBlock2DCrossAttn (UNet) or UNetMidBlock2D (VAE, optional self-attention).
public struct MidBlock {
    let resnets: [ResnetBlock2D]
    let crossAttentions: [Transformer2DModel]
    let selfAttention: SpatialSelfAttention?

    /// The block's cross-attention transformer blocks.
    var crossAttentionLayers: [(prefix: String, channels: Int)] { crossAttentions.flatMap(\.crossAttentionLayers) }

    public init(
        _ store: WeightStore, _ prefix: String, channels: Int, timeEmbeddingChannels: Int?, groups: Int,
        epsilon: Float, outputScaleFactor: Float, crossAttention: CrossAttentionSettings?, selfAttention: Bool
    ) throws {
        resnets = try (0..<2).map {
            try ResnetBlock2D(store, prefix + ".resnets.\($0)", inChannels: channels, outChannels: channels,
                              timeEmbeddingChannels: timeEmbeddingChannels, groups: groups, epsilon: epsilon,
                              outputScaleFactor: outputScaleFactor)
        }
        crossAttentions = try crossAttention.map { ca in
            [try Transformer2DModel(store, prefix + ".attentions.0", channels: channels, heads: ca.heads,
                                    headDimension: channels / ca.heads, layers: ca.transformerLayers,
                                    crossAttentionDimension: ca.crossAttentionDimension, groups: groups,
                                    linearProjection: ca.linearProjection, onlyCrossAttention: ca.onlyCrossAttention,
                                       styleAdapter: ca.styleAdapter)]
        } ?? []
        self.selfAttention = selfAttention
            ? try SpatialSelfAttention(store, prefix + ".attentions.0", channels: channels, headDimension: channels,
                                       groups: groups, epsilon: epsilon, rescaleOutputFactor: outputScaleFactor)
            : nil
    }

    public func callAsFunction(_ x: Tensor, time: TimeConditioning?, context: CrossAttentionContext?) throws -> Tensor {
        var h = try resnets[0](x, time: time)
        if let attention = crossAttentions.first, let context { h = try attention(h, context: context) }
        if let selfAttention { h = try selfAttention(h) }
        return try resnets[1](h, time: time)
    }
}
