// Strict weight loading: every tensor a model asks for must exist with the expected shape,
// and every tensor in the file must be asked for. Violations name the tensor and shapes.

import SafeTensors
import Tensors

public final class WeightStore {
    public let file: SafetensorsFile
    private var used = Set<String>()

    public init(file: SafetensorsFile) { self.file = file }

    public convenience init(path: String) throws { self.init(file: try SafetensorsFile(path: path)) }

    /// The tensor `name` as Float32, which must have `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let entry = file.entries[name] else {
            throw ModelError.missingTensor(file: file.path, tensor: name, expectedShape: shape)
        }
        guard entry.shape == shape else {
            throw ModelError.tensorShapeMismatch(file: file.path, tensor: name, expected: shape, actual: entry.shape)
        }
        used.insert(name)
        return try file.tensor(name)
    }

    /// Drops the file pages of `name` from memory after the model copied it elsewhere.
    public func release(_ name: String) { file.releasePages(of: name) }

    /// Whether the file holds `name` (a model uses this only for optional parts).
    public func contains(_ name: String) -> Bool { file.entries[name] != nil }

    /// Fails if the file holds tensors the model did not use.
    public func finish() throws {
        let unexpected = file.entries.keys.filter { !used.contains($0) }.sorted()
        guard unexpected.isEmpty else { throw ModelError.unexpectedTensors(file: file.path, tensors: unexpected) }
    }
}
