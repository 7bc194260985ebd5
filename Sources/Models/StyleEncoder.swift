// Port of tools/train_model.py StyleEncoder.embed: a 64x64 (config image_size) RGB reference image in [-1, 1]
// through 3x3 convolutions (stride 2 unless the config's `strides` says 1), each followed by
// GroupNorm (eps 1e-5) and SiLU, then the spatial mean and max concatenated and a linear layer:
// one style embedding per image. The embedding becomes style tokens through the IP-Adapter's
// image projection (StyleAdapter).

import Foundation
import Tensors

public struct StyleEncoder {
    public let configuration: StyleEncoderConfiguration
    let convolutions: [Conv2d]
    let norms: [GroupNorm]
    let poolProjection: Linear
    /// The reference image side the encoder reads (config `image_size`, default 64).
    public var imageSize: Int { configuration.referenceImageSize }

    public init(directory: String) throws {
        self = try Self.prepare(directory: directory).build()
    }

    /// The first half of `init(directory:)`: config.json read and bounded by the weights file
    /// (whose header is read and checked); `build`, to be called once, builds the layers and
    /// throws what the init would about the weights.
    public static func prepare(directory: String) throws -> (configuration: StyleEncoderConfiguration, build: () throws -> StyleEncoder) {
        let config = try StyleEncoderConfiguration.load(path: directory + "/config.json")
        let store = try WeightStore(path: directory + "/model.safetensors")
        let limits = ConfigurationLimits(config: directory + "/config.json", weights: store.file)
        try limits.count(config.channels.count, "channels (number of convolutions)")
        for c in config.channels { try limits.size(c, "channels") }
        for (field, value) in [("groups", config.groups), ("embed_dim", config.embedDim), ("tokens", config.tokens),
                               ("cross_attention_dim", config.crossAttentionDim)] {
            try limits.size(value, field)
        }
        return (config, { try StyleEncoder(configuration: config, store: store) })
    }

    private init(configuration config: StyleEncoderConfiguration, store: WeightStore) throws {
        configuration = config
        var convs: [Conv2d] = [], norms: [GroupNorm] = []
        var cin = 3
        for (i, (c, stride)) in zip(config.channels, config.convolutionStrides).enumerated() {
            convs.append(try Conv2d(store, "convs.\(3 * i)", inChannels: cin, outChannels: c, kernel: 3, stride: stride, padding: 1))
            norms.append(try GroupNorm(store, "convs.\(3 * i + 1)", groups: config.groups, channels: c, epsilon: 1e-5))
            cin = c
        }
        convolutions = convs
        self.norms = norms
        poolProjection = try Linear(store, "pool_proj", inFeatures: 2 * cin, outFeatures: config.embedDim)
        try store.finish()
    }

    /// images [N, 64, 64, 3] in [-1, 1] -> style embeddings [N, embed_dim].
    public func embed(_ images: Tensor) throws -> Tensor {
        guard images.rank == 4, images.shape[1] == imageSize, images.shape[2] == imageSize, images.shape[3] == 3 else {
            throw ModelError.invalidInput("style encoder input \(images.shape) must be [N, \(imageSize), \(imageSize), 3]")
        }
        var h = images
        for (conv, norm) in zip(convolutions, norms) { h = try norm(conv(h), silu: true) }
        let (n, positions, c) = (h.shape[0], h.shape[1] * h.shape[2], h.shape[3])
        var pooled = Tensor(zeros: [n, 2 * c])
        let src = h.pointer, dst = pooled.mutablePointer()
        for b in 0..<n {
            for ch in 0..<c {
                var sum: Float = 0, largest = -Float.infinity
                for p in 0..<positions {
                    let v = src[(b * positions + p) * c + ch]
                    sum += v
                    largest = max(largest, v)
                }
                dst[b * 2 * c + ch] = sum / Float(positions)
                dst[b * 2 * c + c + ch] = largest
            }
        }
        return try poolProjection(pooled)
    }
}
