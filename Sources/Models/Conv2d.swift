// torch nn.Conv2d (groups = 1) on NHWC input; the weight is packed once at load (as halves when
// stored as halves: see `PackedMatrix`).

import Tensors

public struct Conv2d {
    public let weight: PackedMatrix  // [Cout, kh kw Cin]
    public let kernel: Int
    public let bias: Tensor?
    public let stride: Int
    public let padding: (top: Int, left: Int, bottom: Int, right: Int)

    public init(
        _ store: WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, kernel: Int,
        stride: Int = 1, padding: Int? = nil, bias: Bool = true
    ) throws {
        let w = try store.tensor(prefix + ".weight", shape: [outChannels, inChannels, kernel, kernel])
        let packed = try Tensor.packConvolutionWeight(w)
        weight = try store.packed(try packed.reshaped([outChannels, kernel * kernel * inChannels]))
        self.kernel = kernel
        store.release(prefix + ".weight")
        self.bias = bias ? try store.tensor(prefix + ".bias", shape: [outChannels]) : nil
        self.stride = stride
        let p = padding ?? (kernel - 1) / 2
        self.padding = (p, p, p, p)
    }

    private init(weight: PackedMatrix, kernel: Int, bias: Tensor?, stride: Int, padding: (Int, Int, Int, Int)) {
        self.weight = weight
        self.kernel = kernel
        self.bias = bias
        self.stride = stride
        self.padding = padding
    }

    /// The same convolution with explicit per-side padding.
    public func withPadding(top: Int, left: Int, bottom: Int, right: Int) -> Conv2d {
        Conv2d(weight: weight, kernel: kernel, bias: bias, stride: stride, padding: (top, left, bottom, right))
    }

    /// [N, H, W, Cin] -> [N, Ho, Wo, Cout]
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.conv2d(weight: weight, kernel: kernel, bias: bias, stride: stride, padding: padding)
    }
}
