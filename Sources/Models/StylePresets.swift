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
}
