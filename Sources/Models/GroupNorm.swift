// torch nn.GroupNorm (affine) over channels-last feature maps or token sequences.

import Tensors

public struct GroupNorm {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let epsilon: Float

    public init(_ store: WeightStore, _ prefix: String, groups: Int, channels: Int, epsilon: Float) throws {
        guard groups > 0, channels % groups == 0 else {
            throw ModelError.invalidConfiguration(file: store.file.path, reason: "\(prefix): \(channels) channels not divisible by \(groups) groups")
        }
        weight = try store.tensor(prefix + ".weight", shape: [channels])
        bias = try store.tensor(prefix + ".bias", shape: [channels])
        self.groups = groups
        self.epsilon = epsilon
    }

    /// Normalises [N, ..., C]; with `silu` the activation is fused.
    public func callAsFunction(_ x: Tensor, silu: Bool = false) throws -> Tensor {
        try x.groupNorm(groups: groups, weight: weight, bias: bias, epsilon: epsilon, silu: silu)
    }
}
