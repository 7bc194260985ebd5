// torch nn.Conv2d (groups = 1) on NHWC input; the weight is packed once at load (as halves when
// stored as halves: see `PackedMatrix`).

import Synchronization
import Tensors

public struct Conv2d {
    public let weight: PackedMatrix  // [Cout, kh kw Cin]
    /// Winograd filters [16, Cout, Cin] of 3x3 layers whose filters are small (at most
    /// `winogradCacheFloats`): transformed at the first call that takes Winograd, then kept
    /// (layers a run never uses, such as the VAE encoder of a text-to-image command, cost
    /// nothing). Larger ones transform per call.
    let winograd: WinogradFilterCache?
    public static let winogradCacheFloats = 1 << 20
    public let kernel: Int
    public let bias: Tensor?
    public let stride: Int
    public let padding: (top: Int, left: Int, bottom: Int, right: Int)

    public init(
        _ store: WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, kernel: Int,
        stride: Int = 1, padding: Int? = nil, bias: Bool = true
    ) throws {
        weight = try store.packedMatrix([prefix + ".weight"], shapes: [[outChannels, inChannels, kernel, kernel]])
        self.kernel = kernel
        self.bias = bias ? try store.tensor(prefix + ".bias", shape: [outChannels]) : nil
        self.stride = stride
        let p = padding ?? (kernel - 1) / 2
        self.padding = (p, p, p, p)
        winograd = kernel == 3 && stride == 1 && p == 1 && Tensor.winogradChannelsApply(cin: inChannels, cout: outChannels)
            && 16 * inChannels * outChannels <= Self.winogradCacheFloats ? WinogradFilterCache() : nil
    }

    private init(weight: PackedMatrix, winograd: WinogradFilterCache?, kernel: Int, bias: Tensor?, stride: Int,
                 padding: (Int, Int, Int, Int)) {
        self.weight = weight
        self.winograd = winograd
        self.kernel = kernel
        self.bias = bias
        self.stride = stride
        self.padding = padding
    }

    /// The same convolution with explicit per-side padding.
    public func withPadding(top: Int, left: Int, bottom: Int, right: Int) -> Conv2d {
        Conv2d(weight: weight, winograd: top == 1 && left == 1 && bottom == 1 && right == 1 ? winograd : nil,
               kernel: kernel, bias: bias, stride: stride, padding: (top, left, bottom, right))
    }

    /// [N, H, W, Cin] -> [N, Ho, Wo, Cout]; with `residual` [N, Ho, Wo, Cout], the output plus it
    /// (the bytes of a separate add, made as each output value is written); with `relu`, then
    /// ReLU (the bytes of `relu()` after; fused on the Winograd path).
    public func callAsFunction(_ x: Tensor, adding residual: Tensor? = nil, relu: Bool = false) throws -> Tensor {
        guard let winograd, x.rank == 4,
              Tensor.winogradApplies(kernel: kernel, stride: stride, padding: padding, outputPixels: x.shape[1] * x.shape[2],
                                     cin: x.shape[3], cout: weight.rows, filtersKept: true) else {
            return try x.conv2d(weight: weight, kernel: kernel, bias: bias, stride: stride, padding: padding, adding: residual,
                                relu: relu)
        }
        let filters = try winograd.filters { try WinogradFilters(weight: weight) }
        return try x.conv2d(weight: weight, kernel: kernel, bias: bias, stride: stride, padding: padding, winograd: filters,
                            adding: residual, relu: relu)
    }
}

/// A layer's Winograd filters, made by the first call that needs them (under a lock: the
/// server runs requests side by side) and shared by later calls and copies of the layer.
final class WinogradFilterCache: Sendable {
    private let state = Mutex<WinogradFilters?>(nil)

    func filters(_ make: () throws -> WinogradFilters) throws -> WinogradFilters {
        try state.withLock { kept in
            if let kept { return kept }
            let made = try make()
            kept = made
            return made
        }
    }
}
