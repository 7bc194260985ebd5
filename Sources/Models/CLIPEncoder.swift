// Port of transformers' CLIPEncoder (models/clip/modeling_clip.py), shared by the text and
// vision towers: pre-norm layers of multi-head self-attention (causal for text) and an MLP
// (quick_gelu or gelu), each added to the residual stream.

import Foundation
import Tensors

struct CLIPEncoder {
    struct Layer {
        let norm1: LayerNorm, q: Linear, k: Linear, v: Linear, out: Linear
        let norm2: LayerNorm, fc1: Linear, fc2: Linear
    }

    let layers: [Layer]
    let heads: Int
    let gelu: Bool

    /// Loads `count` layers named `prefix`.layers.N (transformers' encoder.layers.N).
    init(_ store: WeightStore, _ prefix: String, count: Int, width d: Int, intermediate: Int, heads: Int, activation: String,
         epsilon: Float) throws {
        layers = try (0..<count).map { i in
            let l = prefix + "layers.\(i)."
            return Layer(
                norm1: try LayerNorm(store, l + "layer_norm1", dimension: d, epsilon: epsilon),
                q: try Linear(store, l + "self_attn.q_proj", inFeatures: d, outFeatures: d),
                k: try Linear(store, l + "self_attn.k_proj", inFeatures: d, outFeatures: d),
                v: try Linear(store, l + "self_attn.v_proj", inFeatures: d, outFeatures: d),
                out: try Linear(store, l + "self_attn.out_proj", inFeatures: d, outFeatures: d),
                norm2: try LayerNorm(store, l + "layer_norm2", dimension: d, epsilon: epsilon),
                fc1: try Linear(store, l + "mlp.fc1", inFeatures: d, outFeatures: intermediate),
                fc2: try Linear(store, l + "mlp.fc2", inFeatures: intermediate, outFeatures: d))
        }
        self.heads = heads
        gelu = activation == "gelu"
    }

    /// hidden [B, L, D] through the first `count` layers.
    func callAsFunction(_ hidden: Tensor, causal: Bool, count: Int? = nil) throws -> Tensor {
        var h = hidden
        for layer in layers.prefix(count ?? layers.count) {
            let n = try layer.norm1(h)
            let attended = try Tensor.attention(query: layer.q(n), key: layer.k(n), value: layer.v(n), heads: heads, causal: causal)
            try h.add(layer.out(attended))
            let m = try layer.fc1(layer.norm2(h))
            try h.add(layer.fc2(gelu ? m.gelu() : m.quickGELU()))
        }
        return h
    }
}
