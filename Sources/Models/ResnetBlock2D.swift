// diffusers ResnetBlock2D (models/resnet.py) with time_embedding_norm "default", SiLU,
// pre-norm: out = (shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + proj(silu(temb)))))) / scale.

import Tensors

public struct ResnetBlock2D {
    let norm1: GroupNorm, conv1: Conv2d
    /// The block's weight prefix, when it has a time_emb_proj [out, T] (UNet resnets): the UNet
    /// makes every resnet's projection in one product (`TimeConditioning`).
    let timeProjectionPrefix: String?
    let outChannels: Int
    let norm2: GroupNorm, conv2: Conv2d
    let shortcut: Conv2d?
    let outputScaleFactor: Float

    public init(
        _ store: WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, timeEmbeddingChannels: Int?,
        groups: Int, epsilon: Float, outputScaleFactor: Float = 1
    ) throws {
        norm1 = try GroupNorm(store, prefix + ".norm1", groups: groups, channels: inChannels, epsilon: epsilon)
        conv1 = try Conv2d(store, prefix + ".conv1", inChannels: inChannels, outChannels: outChannels, kernel: 3)
        timeProjectionPrefix = timeEmbeddingChannels == nil ? nil : prefix
        self.outChannels = outChannels
        norm2 = try GroupNorm(store, prefix + ".norm2", groups: groups, channels: outChannels, epsilon: epsilon)
        conv2 = try Conv2d(store, prefix + ".conv2", inChannels: outChannels, outChannels: outChannels, kernel: 3)
        shortcut = inChannels == outChannels ? nil
            : try Conv2d(store, prefix + ".conv_shortcut", inChannels: inChannels, outChannels: outChannels, kernel: 1)
        self.outputScaleFactor = outputScaleFactor
    }

    /// x [N, H, W, Cin] -> [N, H, W, Cout]; `time` holds proj(silu(temb)) [N, Cout] for a block
    /// with a time projection.
    public func callAsFunction(_ x: Tensor, time: TimeConditioning?) throws -> Tensor {
        var h = try conv1(norm1(x, silu: true))
        if let prefix = timeProjectionPrefix, let time {
            h = try h.addingChannelVector(time.projection(forResnet: prefix))
        }
        // shortcut(x) + conv2(...), added where conv2 writes its values (the same bytes).
        let out = try conv2(norm2(h, silu: true), adding: shortcut.map { try $0(x) } ?? x)
        return outputScaleFactor == 1 ? out : out * (1 / outputScaleFactor)
    }
}
