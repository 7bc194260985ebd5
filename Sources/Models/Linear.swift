// torch nn.Linear: weight [out, in] (prepacked for GEMM at the store's precision), optional bias [out].

import Tensors

public struct Linear {
    public let weight: PackedMatrix
    public let bias: Tensor?

    public init(_ store: WeightStore, _ prefix: String, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = try store.packed(try store.tensor(prefix + ".weight", shape: [outFeatures, inFeatures]))
        store.release(prefix + ".weight")
        self.bias = bias ? try store.tensor(prefix + ".bias", shape: [outFeatures]) : nil
    }

    /// [..., in] -> [..., out]
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.linear(packed: weight, bias: bias) }
}
