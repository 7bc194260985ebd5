// Port of the decoder of diffusers AutoencoderTiny (models/autoencoders/autoencoder_tiny.py,
// vae.py DecoderTiny, unet_2d_blocks.py AutoencoderTinyBlock): TAESD's design, plain 3x3
// convolutions and ReLUs, several times cheaper than an AutoencoderKL decoder. The encoder is not
// ported (its tensors are accepted and skipped); images are NHWC in [-1, 1].

import Foundation
import Tensors

public struct AutoencoderTiny {
    public let configuration: AutoencoderTinyConfiguration
    let convIn: Conv2d
    /// Per level: its blocks, then the convolution after the level's upsampling (the last
    /// level's is the output convolution, with a bias).
    let levels: [(blocks: [Block], conv: Conv2d)]

    /// AutoencoderTinyBlock with equal widths: ReLU(conv(ReLU(conv(ReLU(conv(x))))) + x).
    struct Block {
        let conv0, conv1, conv2: Conv2d

        init(_ store: WeightStore, _ prefix: String, channels: Int) throws {
            conv0 = try Conv2d(store, prefix + ".conv.0", inChannels: channels, outChannels: channels, kernel: 3)
            conv1 = try Conv2d(store, prefix + ".conv.2", inChannels: channels, outChannels: channels, kernel: 3)
            conv2 = try Conv2d(store, prefix + ".conv.4", inChannels: channels, outChannels: channels, kernel: 3)
        }

        /// The ReLUs and the skip add go into the convolutions (the same bytes as separate passes).
        func callAsFunction(_ x: Tensor) throws -> Tensor {
            try conv2(try conv1(try conv0(x, relu: true), relu: true), adding: x, relu: true)
        }
    }

    public init(configuration c: AutoencoderTinyConfiguration, store: WeightStore) throws {
        try c.checkLimits(ConfigurationLimits(config: store.file.path, weights: store.file))
        configuration = c
        let width = c.decoderBlockOutChannels[0], n = c.decoderBlockOutChannels.count
        convIn = try Conv2d(store, "decoder.layers.0", inChannels: c.latentChannels, outChannels: width, kernel: 3)
        var index = 2  // 1 is the activation after conv_in
        var levels: [(blocks: [Block], conv: Conv2d)] = []
        for i in 0..<n {
            let last = i == n - 1
            var blocks: [Block] = []
            for _ in 0..<c.numDecoderBlocks[i] {
                blocks.append(try Block(store, "decoder.layers.\(index)", channels: width))
                index += 1
            }
            if !last { index += 1 }  // the Upsample module
            let conv = try Conv2d(store, "decoder.layers.\(index)", inChannels: width, outChannels: last ? c.outChannels : width,
                                  kernel: 3, bias: last)
            index += 1
            levels.append((blocks, conv))
        }
        self.levels = levels
        store.ignore(prefix: "encoder.")
    }

    /// Upsampling factor between latent and image.
    public var upsamplingFactor: Int { 1 << (configuration.decoderBlockOutChannels.count - 1) }

    /// latent [N, h, w, latent_channels] (unscaled: the pipeline divides by scaling_factor)
    /// -> image [N, h*f, w*f, out_channels]: tanh(x / 3) * 3, the layers, then * 2 - 1.
    public func decode(_ latent: Tensor) throws -> Tensor {
        guard latent.rank == 4, latent.shape[3] == configuration.latentChannels else {
            throw ModelError.invalidInput("tiny VAE latent \(latent.shape) must be [N, h, w, \(configuration.latentChannels)]")
        }
        var h = try convIn(latent.mapElements { tanhf($0 / 3) * 3 }, relu: true)
        for (i, level) in levels.enumerated() {
            for block in level.blocks { h = try block(h) }
            if i < levels.count - 1 { h = try h.upsampleNearest2x() }
            h = try level.conv(h)
        }
        return h.mapElements { $0 * 2 - 1 }
    }
}

extension AutoencoderTiny: ComponentModel {}
extension AutoencoderTinyConfiguration: ComponentConfiguration {}
