// 3x3 stride-1 padding-1 convolution by Winograd F(2x2, 3x3) (Lavin & Gray 2015): each 2x2
// output tile costs 16 channel dot products instead of 36, as 16 GEMMs of
// [tiles, Cin] x [Cin, Cout] between the transformed input tiles V = B^T d B and the
// transformed filters U = G g G^T, then Y = A^T M A. About 2.25x fewer multiplies than
// im2col + GEMM, for extra transform passes (C kernels, one per instruction set).
// `Tensor.winogradApplies` chooses by shape alone (`stylediff-bench conv` has the evidence):
// layers that keep their transformed filters (`Conv2d`: up to 1M floats, e.g. 256 -> 256, and
// up to 20M after a call with few tiles) from 16x8 outputs (from 8x8 with 320 channels or
// more), others (filters made per call from the packed weight, in groups of output channels
// above 32 MB) from 16x16. Up to 256 channels a conv runs as one parallel loop in
// which each thread transforms, multiplies and transforms back its own tiles (the default
// model's maps are too small for 18 separate loops); wider ones as three passes over all tiles.
//
// Results differ from im2col's in the last bits (another summation order), within 1e-4
// relative (WinogradTests); they do not depend on the thread count or the loop form: transforms
// are per tile or per filter, GEMM rows never depend on how a GEMM is split, and the tile
// blocks are a function of the shape.

import CKernels
import Synchronization

/// The transformed filters U = G g G^T of a 3x3 convolution, [16, Cout, Cin] (16/9 of the
/// weight's floats), each position's [Cout, Cin] held as prepacked GEMM panels (`PackedMatrix`'s
/// layout), so no product repacks them: the default UNet's fused loop packed U again in every
/// call (pack_b was 7% of a batch-1 image). A layer may make them once (`Conv2d` does for small
/// filters, where the per-call transform was 7% of the default model's decode); otherwise each
/// Winograd call makes them. The same values either way.
public struct WinogradFilters: @unchecked Sendable {
    /// 16 positions of `panelCount` floats each.
    let panels: TensorStorage
    let panelCount: Int
    public let outChannels: Int
    public let inChannels: Int

    /// From a layer's prepacked weight matrix [Cout, 3 3 Cin] (halves and int8 widened as the GEMM
    /// widens them): straight from its panels, the bits of `init(packedWeight:)` on it unpacked.
    public init(weight: PackedMatrix) throws {
        let cin = weight.columns / 9
        guard weight.columns == 9 * cin, cin % 8 == 0 else {
            throw TensorError.shapeMismatch("Winograd filters: packed weight [\(weight.rows), \(weight.columns)] must be [Cout, 9 Cin] with Cin a multiple of 8")
        }
        outChannels = weight.rows
        inChannels = cin
        panelCount = Int(ck_panels_count(Int64(outChannels), Int64(inChannels)))
        panels = TensorStorage(count: 16 * panelCount, zeroed: false)
        Tensor.winogradFilters(weight, panels: 0..<(panelCount / (Int(CK_PANEL) * cin)), into: panels.pointer, positionStride: panelCount)
    }

    /// From a packed weight [Cout, 3, 3, Cin] whose Cin is a multiple of 8.
    public init(packedWeight weight: Tensor) throws {
        guard weight.rank == 4, weight.shape[1] == 3, weight.shape[2] == 3, weight.shape[3] % 8 == 0 else {
            throw TensorError.shapeMismatch("Winograd filters: packed weight \(weight.shape) must be [Cout, 3, 3, Cin] with Cin a multiple of 8")
        }
        outChannels = weight.shape[0]
        inChannels = weight.shape[3]
        panelCount = Int(ck_panels_count(Int64(outChannels), Int64(inChannels)))
        // Zeroed when the last panel has padding rows (outputs past Cout), as ck_pack_panels pads.
        panels = TensorStorage(count: 16 * panelCount, zeroed: outChannels % Int(CK_PANEL) != 0)
        Tensor.winogradFilters(weight, panels: panels.pointer, panelCount: panelCount)
    }

    /// Position e's panels.
    func position(_ e: Int) -> UnsafeRawPointer { UnsafeRawPointer(panels.pointer + e * panelCount) }
}

/// Where a Winograd convolution's filters come from: made whole beforehand (kept by a layer, or
/// made for one call), or made for one call a group of output panels at a time.
enum WinogradFilterSource {
    case made(WinogradFilters)
    case perCall(PackedMatrix, groupPanels: Int)
}

extension Tensor {
    /// Whether a layer [Cout, 3, 3, Cin] can take the Winograd path at some size (stride 1, padding 1 is the caller's).
    public static func winogradChannelsApply(cin: Int, cout: Int) -> Bool {
        cin >= 32 && cout >= 32 && cin % 8 == 0 && cout % 8 == 0
    }

    /// Whether conv2d takes the Winograd path for this shape, measured with `stylediff-bench conv`:
    /// with the filters kept by the layer from 128 output pixels (16x8) and 32 channels, where it
    /// ran 1.4-3.2x faster than im2col at 1 thread, while at 8x8 it ties and at 4x4 it is 2x
    /// slower; with the filters transformed per call (large layers) from 256 output pixels per
    /// image (16x16): SD 1.5's 16x16 layers (320-2560 -> 320-1280 channels, half weights) ran
    /// 1.4-1.6x / 1.2-1.3x faster at 1 / 2 threads for one image and 1.7-2.0x / 1.6-1.8x for two
    /// (guidance), while at 16x8 one image ties at 1 thread and loses at 2 (0.81x) and 8x8 loses
    /// (0.55-0.75x; two images tie). Kept filters of 320 channels or more in and out (SD's, which
    /// `Conv2d` keeps after calls with few tiles) from 64 output pixels: at 8x8, 320-1920 -> 640
    /// channels with F16 weights ran 1.65-2.26x faster than im2col at 1 and 2 threads, one image
    /// or two (4x4: 0.83x).
    public static func winogradApplies(kernel: Int, stride: Int, padding: (top: Int, left: Int, bottom: Int, right: Int),
                                       outputPixels: Int, cin: Int, cout: Int, filtersKept: Bool) -> Bool {
        guard kernel == 3 && stride == 1 && padding == (1, 1, 1, 1) && winogradChannelsApply(cin: cin, cout: cout) else { return false }
        if filtersKept && cin >= 320 && cout >= 320 { return outputPixels >= 64 }
        return outputPixels >= (filtersKept ? 128 : 256)
    }

    /// [N, H, W, Cin] * filters U [16, Cout, Cin] (+ bias) -> [N, H, W, Cout], padding 1; then
    /// + residual and ReLU when asked, as each tile is written.
    func winogradConv3x3(filters: WinogradFilters, bias: Tensor?, residual: Tensor? = nil, relu: Bool = false,
                         fusedChannels: Int = 256) -> Tensor {
        winogradConv3x3(source: .made(filters), bias: bias, residual: residual, relu: relu, fusedChannels: fusedChannels)
    }

    /// The same with the filters made in this call from the layer's packed weight [Cout, 9 Cin]
    /// (Cin a multiple of 8): whole when they take at most `winogradGroupFloats`, else in equal
    /// groups of output panels under it (`WinogradFilterSource.perCall`). The same bytes either way.
    func winogradConv3x3(weight: PackedMatrix, bias: Tensor?, residual: Tensor? = nil, relu: Bool = false) throws -> Tensor {
        let cin = weight.columns / 9, panels = (weight.rows + Int(CK_PANEL) - 1) / Int(CK_PANEL)
        let most = max(1, Tensor.winogradGroupFloats.load(ordering: .relaxed) / (16 * Int(CK_PANEL) * max(cin, 1)))
        let groups = (panels + most - 1) / most, group = (panels + groups - 1) / groups  // equal groups
        if groups <= 1 { return winogradConv3x3(filters: try WinogradFilters(weight: weight), bias: bias, residual: residual, relu: relu) }
        return winogradConv3x3(source: .perCall(weight, groupPanels: group), bias: bias, residual: residual, relu: relu, fusedChannels: 0)
    }

    /// Most floats of per-call filters made at a time (32 MB). Made whole, SD 1.5's 16x16-level
    /// filters are 52-210 MB, written to memory and read back in every call, and each size
    /// missed `LargeBlockCache` and mapped fresh pages; in groups of output channels of at most
    /// this, its F16 UNet at a 64x64 latent ran paired 0.922 at 2 threads (4 rounds; groups of
    /// 16M floats 0.937, 4M 0.946) against whole filters with non-temporal stores, fp32 0.934.
    /// In `stylediff-bench conv` alone, where whole filters reuse one cached block, the groups
    /// are slower (each re-reads the transformed input): the evidence is the whole network.
    /// Settable for tests (groups on small layers); it only changes speed.
    static let winogradGroupFloats = Atomic<Int>(8 << 20)

    private func winogradConv3x3(source: WinogradFilterSource, bias: Tensor?, residual: Tensor?, relu: Bool,
                                 fusedChannels: Int) -> Tensor {
        let (n, h, w, cin) = (shape[0], shape[1], shape[2], shape[3])
        let cout: Int
        let made: WinogradFilters?
        switch source {
        case .made(let filters): (cout, made) = (filters.outChannels, filters)
        case .perCall(let weight, _): (cout, made) = (weight.rows, nil)
        }
        let tilesY = (h + 1) / 2, tilesX = (w + 1) / 2
        let tiles = n * tilesY * tilesX
        var out = Tensor(uninitialized: [n, h, w, cout])
        let dst = out.mutablePointer(), src = pointer
        // Tiles per block: V and M of at most ~8M floats each (32 MB), shape-determined. Positions
        // lie `pad` floats more than a block apart: at power-of-two strides the 16 streams of a
        // transform fell into the same cache sets.
        let block = max(16, min(tiles, 8_388_608 / (16 * max(cin, cout))))
        let pad = 16
        // Small channel counts (the default model's decoders and UNet) take the fused loop below,
        // in sub-blocks of V and M of about 1 MB together: shape-determined, as every split here.
        let fused = made != nil && cin <= fusedChannels && cout <= fusedChannels
        // Above 256 channels in and out together, 4x that (SD's VAE at 256 channels: 128 tiles,
        // V and M ~4 MB; each position's filters, 256 KB there, then serve 128 tiles per read
        // instead of 32: such a layer at 128x128-256x256 ran 4-5% faster at 1 and 2 threads,
        // `stylediff-bench conv`).
        let subBlock = max(12, (cin + cout > 256 ? 65_536 : 16_384) / (cin + cout))
        // The fused loop's V and M are each task's own sub-block scratch (~1 MB), reused from
        // sub-block to sub-block while it stays in L2, instead of the whole block's (up to 32 MB
        // each); the three-pass loop's hold the whole block (the fused loop's: no rows).
        let rowsHeld = fused ? 0 : min(block, tiles)
        let vStride = rowsHeld * cin + pad, mStride = rowsHeld * cout + pad
        let v = TensorStorage(count: 16 * vStride, zeroed: false)
        let m = TensorStorage(count: 16 * mStride, zeroed: false)
        let zeros = [Float](repeating: 0, count: cin)
        let biasPointer = bias?.pointer, residualPointer = residual?.pointer
        zeros.withUnsafeBufferPointer { zeroRow in
            guard let zero = zeroRow.baseAddress else { return }
            // Tiles [lo, hi) of the block from `start`: V = B^T d B (channels innermost) into `vp`
            // (position e at e vs), and back Y = A^T M A (+ bias) from `mp`, cropped at odd edges.
            func inputTransform(_ start: Int, _ lo: Int, _ hi: Int, _ vp: UnsafeMutablePointer<Float>, _ vs: Int) {
                ck_winograd_input(src, Int64(h), Int64(w), Int64(cin), Int64(tilesY), Int64(tilesX),
                                  Int64(start + lo), Int64(start + hi), zero, vp, Int64(vs))
            }
            func outputTransform(_ start: Int, _ lo: Int, _ hi: Int, _ mp: UnsafeMutablePointer<Float>, _ ms: Int) {
                ck_winograd_output(mp, Int64(ms), Int64(h), Int64(w), Int64(cout), Int64(tilesY),
                                   Int64(tilesX), Int64(start + lo), Int64(start + hi), biasPointer, residualPointer, relu ? 1 : 0, dst)
            }
            var start = 0
            while start < tiles {
                let count = min(block, tiles - start)
                if fused, let filters = made {
                    // Each thread transforms its own tiles, multiplies their rows of V (the rows of
                    // a GEMM do not depend on how it is split) and transforms them back, in
                    // sub-blocks of `subBlock` tiles that stay in its L2: one parallel loop instead
                    // of 18, and no pass over all V or M. Threads take 32 tiles or more each, so
                    // a batch-1 16x16 map (64 tiles) splits too: with U prepacked each half no
                    // longer packs all of it (4-step image at 2 threads, quiet machine: denoising
                    // 0.028-0.029 -> 0.026-0.027 s; at 64 tiles per thread it ran slower split).
                    Profiler.measure("winograd (fused)") {
                        Parallelism.forEachRange(count, minimumPerTask: min(subBlock, 32)) { range in
                            let held = min(subBlock, range.count)
                            let vs = held * cin + pad, ms = held * cout + pad
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 16 * (vs + ms))
                            defer { scratch.deallocate() }
                            let vp = scratch, mp = scratch + 16 * vs
                            for lo in stride(from: range.lowerBound, to: range.upperBound, by: subBlock) {
                                let hi = min(range.upperBound, lo + subBlock)
                                inputTransform(start, lo, hi, vp, vs)
                                for e in 0..<16 {
                                    _ = ck_sgemm_panels(Int64(hi - lo), Int64(cout), Int64(cin), vp + e * vs, Int64(cin), 0,
                                                        filters.position(e), CK_PANELS_FLOAT, 0, mp + e * ms, Int64(cout), 1, 0)
                                }
                                outputTransform(start, lo, hi, mp, ms)
                            }
                        }
                    }
                } else {
                    let vp = v.pointer, mp = m.pointer
                    Profiler.measure("winograd input transform") {
                        Parallelism.forEachRange(count, minimumPerTask: 8) {
                            inputTransform(start, $0.lowerBound, $0.upperBound, vp + $0.lowerBound * cin, vStride)
                        }
                    }
                    // M[e] = V[e] U[e]^T: [count, Cin] x [Cin, Cout] for each of the 16 positions.
                    switch source {
                    case .made(let filters):
                        Self.winogradProducts(count: count, cin: cin, cout: cout, v: vp, vStride: vStride, filters: filters,
                                              m: mp, mStride: mStride)
                    case .perCall(let weight, let group):
                        // A group of output panels' filters at a time, multiplied for those columns of M.
                        let width = Int(CK_PANEL), panels = (cout + width - 1) / width
                        let stride = group * width * cin
                        let u = TensorStorage(count: 16 * stride, zeroed: false)
                        for p0 in Swift.stride(from: 0, to: panels, by: group) {
                            let p1 = min(p0 + group, panels), columns = min(cout, p1 * width) - p0 * width
                            Tensor.winogradFilters(weight, panels: p0..<p1, into: u.pointer, positionStride: stride)
                            for e in 0..<16 {
                                GEMM.multiply(m: count, a: vp + e * vStride, lda: cin, panels: UnsafeRawPointer(u.pointer + e * stride),
                                              format: CK_PANELS_FLOAT, n: columns, k: cin, c: mp + e * mStride + p0 * width, ldc: cout)
                            }
                        }
                    }
                    Profiler.measure("winograd output transform") {
                        Parallelism.forEachRange(count, minimumPerTask: 8) {
                            outputTransform(start, $0.lowerBound, $0.upperBound, mp + $0.lowerBound * cout, mStride)
                        }
                    }
                }
                start += count
            }
        }
        return out
    }

    /// M[e] = V[e] U[e]^T for the 16 positions: with a thread count that divides 16 (2, 4, ...),
    /// whole positions per thread in one parallel loop, each product on one thread; otherwise
    /// each product split among the threads in turn. The same bytes either way (a product's
    /// rows never depend on how it is split); at SD's 16x16 level (128 tiles, 320 channels:
    /// ~26 MFLOP a product) the 16 fork-joins cost more than the products' own imbalance.
    static func winogradProducts(count: Int, cin: Int, cout: Int, v: UnsafeMutablePointer<Float>, vStride: Int,
                                 filters: WinogradFilters, m: UnsafeMutablePointer<Float>, mStride: Int) {
        let threads = Parallelism.threadCount
        guard threads > 1, 16 % threads == 0 else {
            for e in 0..<16 {
                GEMM.multiply(m: count, a: v + e * vStride, lda: cin, panels: filters.position(e),
                              format: CK_PANELS_FLOAT, n: cout, k: cin, c: m + e * mStride, ldc: cout)
            }
            return
        }
        Profiler.measure(Profiler.byShape ? "gemm \(count)x\(cout)x\(cin) p, 16 at once" : "gemm") {
            Parallelism.forEachRange(16, minimumPerTask: 16 / threads) { positions in
                for e in positions {
                    _ = ck_sgemm_panels_fused(Int64(count), Int64(cout), Int64(cin), v + e * vStride, Int64(cin), 0,
                                              filters.position(e), CK_PANELS_FLOAT, 0, m + e * mStride, Int64(cout), 1, 0,
                                              nil, nil, Int64(cout))
                }
            }
        }
    }

    /// U for output panels `panels` (32 output channels each) of a packed weight [Cout, 9 Cin]
    /// into `dst` (position e at e positionStride, the first panel's at offset 0); threads take
    /// whole panels.
    static func winogradFilters(_ weight: PackedMatrix, panels: Range<Int>, into dst: UnsafeMutablePointer<Float>,
                                positionStride: Int) {
        let cin = weight.columns / 9, width = Int(CK_PANEL)
        let (raw, format) = (UnsafeRawPointer(weight.storage.raw), weight.format.code)
        Profiler.measure("winograd filter transform") {
            Parallelism.forEachRange(panels.count, minimumPerTask: 1) { range in
                for i in range {
                    ck_winograd_filters_panel(raw, format, Int64(cin), Int64(panels.lowerBound + i), dst + i * width * cin,
                                              Int64(positionStride))
                }
            }
        }
        withExtendedLifetime(weight) {}
    }

    /// U[e] = (G g G^T)[e] for each filter g = weight[o, :, :, c] (packed [Cout, 3, 3, Cin]),
    /// written straight into position e's GEMM panels at `panels + e * panelCount`
    /// (`ck_winograd_filters`), without a [16, Cout, Cin] copy beside them (26 MB at SD's 640
    /// channels); threads take whole panels.
    static func winogradFilters(_ weight: Tensor, panels: UnsafeMutablePointer<Float>, panelCount: Int) {
        let (cout, cin) = (weight.shape[0], weight.shape[3])
        let panelsPerPosition = (cout + Int(CK_PANEL) - 1) / Int(CK_PANEL)
        Profiler.measure("winograd filter transform") {
            Parallelism.forEachRange(panelsPerPosition, minimumPerTask: 1) { range in
                ck_winograd_filters(weight.pointer, Int64(cout), Int64(cin), panels, Int64(panelCount),
                                    Int64(range.lowerBound), Int64(range.upperBound))
            }
        }
    }
}
