// torch nn.Linear: weight [out, in], optional bias [out].

import Tensors

public struct Linear {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ store: WeightStore, _ prefix: String, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = try store.tensor(prefix + ".weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try store.tensor(prefix + ".bias", shape: [outFeatures]) : nil
    }

    /// [..., in] -> [..., out]
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.linear(weight: weight, bias: bias) }
}
