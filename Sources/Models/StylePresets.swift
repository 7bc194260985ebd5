// Named style embeddings shipped with a model (style_encoder/presets.safetensors): one tensor
// per style name, shape [embed_dim], the mean style-encoder embedding of the style's training
// drawings (tools/train_model.py presets), so a named style can condition the style attention
// without a reference image. Not a diffusers component: the file is ours.

import Foundation
import SafeTensors
import Tensors

public struct StylePresets: Sendable {
    /// Style name -> embedding [embed_dim].
    public let embeddings: [String: [Float]]
    public let path: String

    /// The names, sorted.
    public var names: [String] { embeddings.keys.sorted() }

    /// Loads every tensor of `path`; each must be a finite vector of `embedDim` values.
    public init(path: String, embedDim: Int) throws {
        let file = try SafetensorsFile(path: path)
        var embeddings: [String: [Float]] = [:]
        for name in file.names {
            guard let entry = file.entries[name], entry.shape == [embedDim] else {
                throw ModelError.tensorShapeMismatch(file: path, tensor: name, expected: [embedDim], actual: file.entries[name]?.shape ?? [])
            }
            let values = try file.tensor(name).scalars
            guard values.allSatisfy(\.isFinite) else {
                throw ModelError.invalidConfiguration(file: path, reason: "style preset '\(name)' has non-finite values")
            }
            embeddings[name] = values
        }
        guard !embeddings.isEmpty else { throw ModelError.invalidConfiguration(file: path, reason: "no style presets in the file") }
        self.embeddings = embeddings
        self.path = path
    }

    /// The embedding [1, embed_dim] of `name`; unknown names fail listing the known ones.
    public func embedding(_ name: String) throws -> Tensor {
        guard let values = embeddings[name] else {
            throw ModelError.invalidInput("no style preset '\(name)' in \(path); known: \(names.joined(separator: ", "))")
        }
        return try Tensor(shape: [1, values.count], values: values)
    }

    /// What `--style-snap` does to one reference's embedding [embed_dim]: the softmax mixture of
    /// the presets (names in sorted order) with logits -|e - p_k|^2 / (temperature * s), s the mean
    /// squared distance between two presets, so the temperature is in units of the presets' own
    /// spacing (0.05: nearly the nearest preset; large: their mean). Sums in Double.
    public func snap(_ embedding: [Float], temperature: Float) throws -> [Float] {
        let list = names.compactMap { embeddings[$0] }
        guard let width = list.first?.count, embedding.count == width else {
            throw ModelError.invalidInput("style embedding has \(embedding.count) values, the presets of \(path) \(list.first?.count ?? 0)")
        }
        guard temperature > 0, temperature.isFinite else { throw ModelError.invalidInput("style snap temperature \(temperature) must be > 0") }
        func distance(_ a: [Float], _ b: [Float]) -> Double {
            var sum = 0.0
            for i in 0..<width { let d = Double(a[i]) - Double(b[i]); sum += d * d }
            return sum
        }
        guard list.count > 1 else { return list[0] }
        var spacing = 0.0
        for k in list.indices { for l in list.indices where l != k { spacing += distance(list[k], list[l]) } }
        spacing /= Double(list.count * (list.count - 1))
        let logits = list.map { -distance(embedding, $0) / (Double(temperature) * spacing) }
        let top = logits.max() ?? 0
        let weights = logits.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        var mixed = [Double](repeating: 0, count: width)
        for (w, p) in zip(weights, list) { for i in 0..<width { mixed[i] += w / total * Double(p[i]) } }
        return mixed.map { Float($0) }
    }
}
