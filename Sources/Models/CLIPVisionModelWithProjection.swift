// Port of transformers' CLIPVisionModelWithProjection (models/clip/modeling_clip.py), the image
// encoder of the public IP-Adapter: non-overlapping patches through the patch embedding
// (a stride-P P x P convolution without bias, computed as one GEMM), a class token, position
// embeddings, pre_layrnorm, the CLIP encoder (bidirectional), post_layernorm of the class
// token, visual_projection -> image_embeds [N, projection_dim]. Weights by transformers'
// names, with or without the "vision_model." prefix and the position_ids buffer older
// checkpoints carry (h94/IP-Adapter's image encoder). Input: normalised pixels [N, S, S, 3] at
// the config's image_size (CLIPImagePreprocessor).

import Foundation
import Tensors

public struct CLIPVisionModelWithProjection {
    public let configuration: CLIPVisionConfiguration
    let patchWeight: Tensor         // [D, 3 * P * P], columns in (channel, row, column) order
    let classEmbedding: Tensor      // [D]
    let positionEmbedding: Tensor   // [patches + 1, D]
    let preNorm: LayerNorm
    let encoder: CLIPEncoder
    let postNorm: LayerNorm
    let projection: Linear

    public init(configuration c: CLIPVisionConfiguration, store: WeightStore) throws {
        try c.checkLimits(ConfigurationLimits(config: store.file.path, weights: store.file))
        configuration = c
        let p = store.contains("vision_model.embeddings.class_embedding") ? "vision_model." : ""
        let d = c.hiddenSize, patch = c.patchSize, patches = (c.imageSize / patch) * (c.imageSize / patch)
        patchWeight = try store.tensor(p + "embeddings.patch_embedding.weight", shape: [d, 3, patch, patch]).reshaped([d, 3 * patch * patch])
        classEmbedding = try store.tensor(p + "embeddings.class_embedding", shape: [d])
        positionEmbedding = try store.tensor(p + "embeddings.position_embedding.weight", shape: [patches + 1, d])
        try store.checkPositionIDs(p + "embeddings.", count: patches + 1)
        preNorm = try LayerNorm(store, p + "pre_layrnorm", dimension: d, epsilon: c.layerNormEps)
        encoder = try CLIPEncoder(store, p + "encoder.", count: c.numHiddenLayers, width: d, intermediate: c.intermediateSize,
                                  heads: c.numAttentionHeads, activation: c.hiddenAct, epsilon: c.layerNormEps)
        postNorm = try LayerNorm(store, p + "post_layernorm", dimension: d, epsilon: c.layerNormEps)
        projection = try Linear(store, "visual_projection", inFeatures: d, outFeatures: c.projectionDim, bias: false)
    }

    /// pixels [N, S, S, 3] (S = image_size) -> image_embeds [N, projection_dim].
    public func callAsFunction(_ pixels: Tensor) throws -> Tensor {
        let c = configuration, s = c.imageSize, patch = c.patchSize, side = s / patch, d = c.hiddenSize
        guard pixels.rank == 4, pixels.shape[1] == s, pixels.shape[2] == s, pixels.shape[3] == 3 else {
            throw ModelError.invalidInput("image encoder input \(pixels.shape) must be [N, \(s), \(s), 3]")
        }
        let n = pixels.shape[0], width = 3 * patch * patch
        // Patches as rows [N * side * side, 3 * P * P] in the weight's (channel, row, column) order.
        var rows = Tensor(zeros: [n * side * side, width])
        let src = pixels.pointer, dst = rows.mutablePointer()
        for b in 0..<n {
            for py in 0..<side {
                for px in 0..<side {
                    let row = ((b * side + py) * side + px) * width
                    for ch in 0..<3 {
                        for ky in 0..<patch {
                            for kx in 0..<patch {
                                dst[row + (ch * patch + ky) * patch + kx] = src[((b * s + py * patch + ky) * s + px * patch + kx) * 3 + ch]
                            }
                        }
                    }
                }
            }
        }
        let embedded = try rows.linear(weight: patchWeight).reshaped([n, side * side, d])
        var sequences: [Tensor] = []
        for b in 0..<n {
            let tokens = try Tensor.concatenateFirstAxis([classEmbedding.reshaped([1, d]),
                                                          embedded.slicingFirstAxis(b..<b + 1).reshaped([side * side, d])])
            sequences.append(try (tokens + positionEmbedding).reshaped([1, side * side + 1, d]))
        }
        let hidden = try encoder(preNorm(Tensor.concatenateFirstAxis(sequences)), causal: false)
        var pooled: [Tensor] = []
        for b in 0..<n { pooled.append(try hidden.slicingFirstAxis(b..<b + 1).reshaped([side * side + 1, d]).slicingFirstAxis(0..<1)) }
        return try projection(postNorm(Tensor.concatenateFirstAxis(pooled)))
    }
}

extension CLIPVisionConfiguration: ComponentConfiguration {}
extension CLIPVisionModelWithProjection: ComponentModel {}
