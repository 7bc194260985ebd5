// What a UNet's resnets read of the timestep: each one's time_emb_proj(silu(time embedding)).
// `UNet2DConditionModel.timeConditionings` makes those of a request's steps together: the
// embedding MLP and every resnet's projection as one product each, so their weights are read
// once per request instead of once per resnet and step.

import Tensors

public struct TimeConditioning {
    /// Batch items (rows of each projection).
    public let batch: Int
    /// By resnet prefix ("down_blocks.0.resnets.1"): [batch, out channels].
    let projections: [String: Tensor]

    /// The projection a resnet adds to its first convolution's output.
    func projection(forResnet prefix: String) throws -> Tensor {
        guard let p = projections[prefix] else {
            throw ModelError.invalidInput("the time conditioning has no projection for \(prefix)")
        }
        return p
    }
}
