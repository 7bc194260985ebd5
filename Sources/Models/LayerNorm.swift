// torch nn.LayerNorm (elementwise affine) over the last axis.

import Tensors

public struct LayerNorm {
    public let weight: Tensor
    public let bias: Tensor
    public let epsilon: Float

    public init(_ store: WeightStore, _ prefix: String, dimension: Int, epsilon: Float) throws {
        weight = try store.tensor(prefix + ".weight", shape: [dimension])
        bias = try store.tensor(prefix + ".bias", shape: [dimension])
        self.epsilon = epsilon
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.layerNorm(weight: weight, bias: bias, epsilon: epsilon) }
}
