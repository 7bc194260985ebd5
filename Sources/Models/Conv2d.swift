// torch nn.Conv2d (groups = 1) on NHWC input; the weight is packed once at load.

import Tensors

public struct Conv2d {
    public let packedWeight: Tensor  // [Cout, kh, kw, Cin]
    public let bias: Tensor?
    public let stride: Int
    public let padding: (top: Int, left: Int, bottom: Int, right: Int)

    public init(
        _ store: WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, kernel: Int,
        stride: Int = 1, padding: Int? = nil, bias: Bool = true
    ) throws {
        let w = try store.tensor(prefix + ".weight", shape: [outChannels, inChannels, kernel, kernel])
        packedWeight = try Tensor.packConvolutionWeight(w)
        store.release(prefix + ".weight")
        self.bias = bias ? try store.tensor(prefix + ".bias", shape: [outChannels]) : nil
        self.stride = stride
        let p = padding ?? (kernel - 1) / 2
        self.padding = (p, p, p, p)
    }

    private init(packedWeight: Tensor, bias: Tensor?, stride: Int, padding: (Int, Int, Int, Int)) {
        self.packedWeight = packedWeight
        self.bias = bias
        self.stride = stride
        self.padding = padding
    }

    /// The same convolution with explicit per-side padding.
    public func withPadding(top: Int, left: Int, bottom: Int, right: Int) -> Conv2d {
        Conv2d(packedWeight: packedWeight, bias: bias, stride: stride, padding: (top, left, bottom, right))
    }

    /// [N, H, W, Cin] -> [N, Ho, Wo, Cout]
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.conv2d(packedWeight: packedWeight, bias: bias, stride: stride, padding: padding)
    }
}
