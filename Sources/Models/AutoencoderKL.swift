// Port of diffusers AutoencoderKL (models/autoencoders/autoencoder_kl.py, vae.py Encoder and
// Decoder) for the configurations AutoencoderKLConfiguration accepts. Images are NHWC in
// [-1, 1]. Scaling (and shifting) of latents is the pipeline's job, as in diffusers.

import Foundation
import Tensors

public struct AutoencoderKL {
    public let configuration: AutoencoderKLConfiguration
    let encoderConvIn: Conv2d
    let encoderBlocks: [DownBlock]
    let encoderMid: MidBlock
    let encoderNormOut: GroupNorm
    let encoderConvOut: Conv2d
    let quantConv: Conv2d?
    let postQuantConv: Conv2d?
    let decoderConvIn: Conv2d
    let decoderMid: MidBlock
    let decoderBlocks: [UpBlock]
    let decoderNormOut: GroupNorm
    let decoderConvOut: Conv2d

    /// The latent distribution: mean and log-variance (clamped to [-30, 20]), [N, h, w, latent].
    public struct LatentDistribution {
        public let mean: Tensor
        public let logVariance: Tensor

        /// mean + exp(logvar / 2) * noise, noise [N, h, w, latent] from the caller's generator.
        public func sample(noise: Tensor) throws -> Tensor {
            let std = logVariance.mapElements { expf(0.5 * $0) }
            return try mean + (std * noise)
        }
    }


    public init(configuration c: AutoencoderKLConfiguration, store: WeightStore) throws {
        try c.checkLimits(ConfigurationLimits(config: store.file.path, weights: store.file))
        configuration = c
        let ch = c.blockOutChannels, n = ch.count, eps: Float = 1e-6, groups = c.normNumGroups
        encoderConvIn = try Conv2d(store, "encoder.conv_in", inChannels: c.inChannels, outChannels: ch[0], kernel: 3)
        var down: [DownBlock] = []
        var output = ch[0]
        for i in 0..<n {
            let input = output
            output = ch[i]
            down.append(try DownBlock(store, "encoder.down_blocks.\(i)", inChannels: input, outChannels: output,
                                      layers: c.layersPerBlock, timeEmbeddingChannels: nil, groups: groups, epsilon: eps,
                                      outputScaleFactor: 1, crossAttention: nil, addDownsample: i < n - 1, downsamplePadding: 0))
        }
        encoderBlocks = down
        encoderMid = try MidBlock(store, "encoder.mid_block", channels: ch[n - 1], timeEmbeddingChannels: nil, groups: groups,
                                  epsilon: eps, outputScaleFactor: 1, crossAttention: nil, selfAttention: c.midBlockAddAttention)
        encoderNormOut = try GroupNorm(store, "encoder.conv_norm_out", groups: groups, channels: ch[n - 1], epsilon: eps)
        encoderConvOut = try Conv2d(store, "encoder.conv_out", inChannels: ch[n - 1], outChannels: 2 * c.latentChannels, kernel: 3)
        quantConv = c.useQuantConv
            ? try Conv2d(store, "quant_conv", inChannels: 2 * c.latentChannels, outChannels: 2 * c.latentChannels, kernel: 1) : nil
        postQuantConv = c.usePostQuantConv
            ? try Conv2d(store, "post_quant_conv", inChannels: c.latentChannels, outChannels: c.latentChannels, kernel: 1) : nil
        decoderConvIn = try Conv2d(store, "decoder.conv_in", inChannels: c.latentChannels, outChannels: ch[n - 1], kernel: 3)
        decoderMid = try MidBlock(store, "decoder.mid_block", channels: ch[n - 1], timeEmbeddingChannels: nil, groups: groups,
                                  epsilon: eps, outputScaleFactor: 1, crossAttention: nil, selfAttention: c.midBlockAddAttention)
        var up: [UpBlock] = []
        let reversed = Array(ch.reversed())
        output = reversed[0]
        for i in 0..<n {
            let previous = output
            output = reversed[i]
            up.append(try UpBlock(store, "decoder.up_blocks.\(i)", inChannels: previous, outChannels: output,
                                  previousOutputChannels: nil, layers: c.layersPerBlock + 1, timeEmbeddingChannels: nil,
                                  groups: groups, epsilon: eps, outputScaleFactor: 1, crossAttention: nil, addUpsample: i < n - 1))
        }
        decoderBlocks = up
        decoderNormOut = try GroupNorm(store, "decoder.conv_norm_out", groups: groups, channels: ch[0], epsilon: eps)
        decoderConvOut = try Conv2d(store, "decoder.conv_out", inChannels: ch[0], outChannels: c.outChannels, kernel: 3)
    }

    /// Downsampling factor between image and latent.
    public var downsamplingFactor: Int { configuration.downsamplingFactor }

    /// image [N, H, W, in_channels] in [-1, 1] -> latent distribution [N, H/f, W/f, latent_channels].
    public func encode(_ image: Tensor) throws -> LatentDistribution {
        let f = downsamplingFactor
        guard image.rank == 4, image.shape[3] == configuration.inChannels, image.shape[1] % f == 0, image.shape[2] % f == 0 else {
            throw ModelError.invalidInput("VAE input \(image.shape) must be [N, H, W, \(configuration.inChannels)] with H and W divisible by \(f)")
        }
        var h = try encoderConvIn(image)
        for block in encoderBlocks { h = try block(h, time: nil, context: nil).0 }
        h = try encoderMid(h, time: nil, context: nil)
        h = try encoderConvOut(encoderNormOut(h, silu: true))
        if let quantConv { h = try quantConv(h) }
        let parts = try h.splitLastAxis([configuration.latentChannels, configuration.latentChannels])
        return LatentDistribution(mean: parts[0], logVariance: parts[1].mapElements { min(max($0, -30), 20) })
    }

    /// latent [N, h, w, latent_channels] (unscaled) -> image [N, h*f, w*f, out_channels].
    public func decode(_ latent: Tensor) throws -> Tensor {
        guard latent.rank == 4, latent.shape[3] == configuration.latentChannels else {
            throw ModelError.invalidInput("VAE latent \(latent.shape) must be [N, h, w, \(configuration.latentChannels)]")
        }
        var h = latent
        if let postQuantConv { h = try postQuantConv(h) }
        h = try decoderConvIn(h)
        h = try decoderMid(h, time: nil, context: nil)
        for block in decoderBlocks { h = try block(h, skips: [], time: nil, context: nil) }
        return try decoderConvOut(decoderNormOut(h, silu: true))
    }
}
