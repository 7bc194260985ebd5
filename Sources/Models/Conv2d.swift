// torch nn.Conv2d (groups = 1) on NHWC input; the weight is packed once at load (as halves when
// stored as halves: see `PackedMatrix`).

import Synchronization
import Tensors

public struct Conv2d {
    public let weight: PackedMatrix  // [Cout, kh kw Cin]
    /// Winograd filters [16, Cout, Cin] of 3x3 layers, transformed at the first call that takes
    /// Winograd with them and then kept (layers a run never uses, such as the VAE encoder of a
    /// text-to-image command, cost nothing): small filters (at most `winogradCacheFloats`)
    /// always; filters up to `winogradKeepFloats` once a call has fewer than
    /// `winogradKeepTiles` 2x2 output tiles, where transforming them per call cost about as much
    /// as the products (SD 1.5's 320-channel layers at a 16x16 latent, its 640-channel ones at
    /// 8x8: 128 and 32 tiles with guidance). Calls with more tiles transform per call, so a
    /// 512 px run keeps only its few-tile layers (SD 1.5's 640 -> 1280 one at 16x16: its F16
    /// UNet's peak at a 64x64 latent 2262 -> 2350 MB). The same values either way.
    let winograd: WinogradFilterCache?
    public static let winogradCacheFloats = 1 << 20
    /// Filters a layer may keep after a call with few tiles: 20M floats (80 MB; SD 1.5's
    /// 1920 -> 640 layer, not its 1280 -> 1280 ones). SD 1.5's F16 UNet at 16x16, 2 threads:
    /// 0.198 -> 0.183 s per evaluation (paired 0.917, six rounds), peak 1.80 -> 2.20 GB.
    public static let winogradKeepFloats = 20 << 20
    public static let winogradKeepTiles = 512
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
            && 16 * inChannels * outChannels <= Self.winogradKeepFloats ? WinogradFilterCache() : nil
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
        guard let winograd, x.rank == 4, keepsFilters(for: x),
              Tensor.winogradApplies(kernel: kernel, stride: stride, padding: padding, outputPixels: x.shape[1] * x.shape[2],
                                     cin: x.shape[3], cout: weight.rows, filtersKept: true) else {
            return try x.conv2d(weight: weight, kernel: kernel, bias: bias, stride: stride, padding: padding, adding: residual,
                                relu: relu)
        }
        let filters = try winograd.filters { try WinogradFilters(weight: weight) }
        return try x.conv2d(weight: weight, kernel: kernel, bias: bias, stride: stride, padding: padding, winograd: filters,
                            adding: residual, relu: relu)
    }

    /// Whether a call on `x` [N, H, W, Cin] runs with kept filters.
    func keepsFilters(for x: Tensor) -> Bool {
        Self.keepsWinogradFilters(inChannels: weight.columns / 9, outChannels: weight.rows,
                                  tiles: x.shape[0] * ((x.shape[1] + 1) / 2) * ((x.shape[2] + 1) / 2))
    }

    /// Whether a 3x3 layer's call of `tiles` 2x2 output tiles runs with kept filters: small
    /// ones always, larger ones (up to `winogradKeepFloats`) below `winogradKeepTiles` tiles.
    public static func keepsWinogradFilters(inChannels: Int, outChannels: Int, tiles: Int) -> Bool {
        let floats = 16 * inChannels * outChannels
        return floats <= winogradCacheFloats || (floats <= winogradKeepFloats && tiles < winogradKeepTiles)
    }
}

/// A layer's Winograd filters, made by the first call that needs them (under a lock: the
/// server runs requests side by side) and shared by later calls and copies of the layer.
final class WinogradFilterCache: Sendable {
    private let state = Mutex<WinogradFilters?>(nil)

    /// Whether a call has made and kept the filters.
    var isFilled: Bool { state.withLock { $0 != nil } }

    func filters(_ make: () throws -> WinogradFilters) throws -> WinogradFilters {
        try state.withLock { kept in
            if let kept { return kept }
            let made = try make()
            kept = made
            return made
        }
    }
}
