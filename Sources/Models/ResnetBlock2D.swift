// diffusers ResnetBlock2D (models/resnet.py) with time_embedding_norm "default", SiLU,
// pre-norm: out = (shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + proj(silu(temb)))))) / scale.

import Tensors

public struct ResnetBlock2D {
    let norm1: GroupNorm, conv1: Conv2d
    let timeEmbeddingProjection: Linear?
    let norm2: GroupNorm, conv2: Conv2d
    let shortcut: Conv2d?
    let outputScaleFactor: Float

    public init(
        _ store: WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, timeEmbeddingChannels: Int?,
        groups: Int, epsilon: Float, outputScaleFactor: Float = 1
    ) throws {
        norm1 = try GroupNorm(store, prefix + ".norm1", groups: groups, channels: inChannels, epsilon: epsilon)
        conv1 = try Conv2d(store, prefix + ".conv1", inChannels: inChannels, outChannels: outChannels, kernel: 3)
        timeEmbeddingProjection = try timeEmbeddingChannels.map {
            try Linear(store, prefix + ".time_emb_proj", inFeatures: $0, outFeatures: outChannels)
        }
        norm2 = try GroupNorm(store, prefix + ".norm2", groups: groups, channels: outChannels, epsilon: epsilon)
        conv2 = try Conv2d(store, prefix + ".conv2", inChannels: outChannels, outChannels: outChannels, kernel: 3)
        shortcut = inChannels == outChannels ? nil
            : try Conv2d(store, prefix + ".conv_shortcut", inChannels: inChannels, outChannels: outChannels, kernel: 1)
        self.outputScaleFactor = outputScaleFactor
    }

    /// x [N, H, W, Cin], temb [N, T] (already the UNet's embedding) -> [N, H, W, Cout]
    public func callAsFunction(_ x: Tensor, timeEmbedding: Tensor?) throws -> Tensor {
        var h = try conv1(norm1(x, silu: true))
        if let projection = timeEmbeddingProjection, let timeEmbedding {
            h = try h.addingChannelVector(projection(timeEmbedding.silu()))
        }
        // shortcut(x) + conv2(...), added where conv2 writes its values (the same bytes).
        let out = try conv2(norm2(h, silu: true), adding: shortcut.map { try $0(x) } ?? x)
        return outputScaleFactor == 1 ? out : out * (1 / outputScaleFactor)
    }
}
