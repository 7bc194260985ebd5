// 2-D convolution on NHWC feature maps as im2col + GEMM (groups = 1, square kernels).
//
// Weights are packed once from PyTorch's [Cout, Cin, kh, kw] to [Cout, kh, kw, Cin] so that
// each im2col row is kh*kw contiguous runs of Cin input channels. 1x1 stride-1 convolutions
// skip im2col. Output rows are processed in blocks so im2col memory stays bounded for large
// images; GEMM rows do not depend on the block, so blocking changes no result.

import CKernels

/// How `conv2d` computes a 3x3 stride-1 padding-1 convolution: by shape (`automatic`, what
/// models use), or one way for comparing them (`stylediff-bench conv`).
public enum ConvolutionAlgorithm: Sendable {
    case automatic, im2col, winograd
}

extension Tensor {
    /// Repacks a PyTorch convolution weight [Cout, Cin, kh, kw] to [Cout, kh, kw, Cin]: the same
    /// values as `permuted([0, 2, 3, 1])`, as one [Cin, kh kw] -> [kh kw, Cin] transpose per
    /// output channel, written row by row with pointer steps (3.4x faster than the indexed loop
    /// it replaced on a 128x128x3x3 weight; the generic `permuted` was 10% of a one-image
    /// command), and no copy at all for 1x1 kernels.
    public static func packConvolutionWeight(_ weight: Tensor) throws -> Tensor {
        guard weight.rank == 4 else {
            throw TensorError.invalidShape("convolution weight must be [Cout, Cin, kh, kw], got \(weight.shape)")
        }
        let (cout, cin, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let taps = kh * kw
        if taps == 1 { return try weight.reshaped([cout, kh, kw, cin]) }
        var out = Tensor(uninitialized: [cout, kh, kw, cin])
        let src = weight.pointer, dst = out.mutablePointer()
        Parallelism.forEachRange(cout, minimumPerTask: 16) { range in
            for o in range {
                let s = src + o * cin * taps, d = dst + o * cin * taps
                for t in 0..<taps {  // one output row of Cin values, read at stride kh kw
                    var from = s + t, to = d + t * cin
                    for _ in 0..<cin {
                        to.pointee = from.pointee
                        to += 1
                        from += taps
                    }
                }
            }
        }
        return out
    }

    /// Convolution of [N, H, W, Cin] with a packed weight [Cout, kh, kw, Cin] and bias [Cout]
    /// -> [N, Ho, Wo, Cout], Ho = (H + 2 padding - kh) / stride + 1 (torch `nn.Conv2d`).
    public func conv2d(packedWeight weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) throws -> Tensor {
        try conv2d(packedWeight: weight, bias: bias, stride: stride,
                   padding: (top: padding, left: padding, bottom: padding, right: padding))
    }

    /// The same with separate zero padding per side (diffusers' VAE downsampler pads only
    /// bottom and right: `F.pad(x, (0, 1, 0, 1))` before a stride-2 convolution).
    public func conv2d(
        packedWeight weight: Tensor, bias: Tensor?, stride: Int,
        padding: (top: Int, left: Int, bottom: Int, right: Int)
    ) throws -> Tensor {
        guard weight.rank == 4, weight.shape[1] == weight.shape[2] else {
            throw TensorError.shapeMismatch("conv2d: packed weight \(weight.shape) must be [Cout, kh, kw, Cin]")
        }
        let matrix = try PackedMatrix(weight.reshaped([weight.shape[0], weight.count / max(weight.shape[0], 1)]), halfMinimumCount: .max)
        return try conv2d(weight: matrix, kernel: weight.shape[1], bias: bias, stride: stride, padding: padding)
    }

    /// Convolution with the weight [Cout, kh, kw, Cin] prepacked as a matrix [Cout, kh kw Cin]
    /// (see `PackedMatrix`): the same bytes as the unpacked weight. `winograd`: the layer's
    /// transformed filters when it keeps them (else transformed per Winograd call). `residual`
    /// (the output's shape): the result is conv + residual, the bytes of a separate add, made
    /// where each output value is written. `relu`: then ReLU, the bytes of `relu()` after (made
    /// as each tile is written on the Winograd path, a separate pass on the GEMM path).
    public func conv2d(
        weight: PackedMatrix, kernel: Int, bias: Tensor?, stride: Int,
        padding: (top: Int, left: Int, bottom: Int, right: Int),
        winograd: WinogradFilters? = nil, algorithm: ConvolutionAlgorithm = .automatic,
        adding residual: Tensor? = nil, relu: Bool = false
    ) throws -> Tensor {
        guard rank == 4, kernel >= 1, weight.columns == kernel * kernel * shape[3] else {
            throw TensorError.shapeMismatch("conv2d: input \(shape) [N, H, W, C], weight [\(weight.rows), \(weight.columns)] for a \(kernel)x\(kernel) kernel")
        }
        guard stride >= 1, padding.top >= 0, padding.left >= 0, padding.bottom >= 0, padding.right >= 0 else {
            throw TensorError.invalidArgument("conv2d: stride \(stride), padding \(padding)")
        }
        let (n, h, w, cin) = (shape[0], shape[1], shape[2], shape[3])
        let cout = weight.rows
        if let bias, bias.shape != [cout] {
            throw TensorError.shapeMismatch("conv2d: bias \(bias.shape) for \(cout) output channels")
        }
        let paddedH = h + padding.top + padding.bottom, paddedW = w + padding.left + padding.right
        let ho = (paddedH - kernel) / stride + 1
        let wo = (paddedW - kernel) / stride + 1
        guard paddedH >= kernel, paddedW >= kernel, ho > 0, wo > 0 else {
            throw TensorError.invalidShape("conv2d: input \(shape) too small for kernel \(kernel), padding \(padding)")
        }
        if let residual, residual.shape != [n, ho, wo, cout] {
            throw TensorError.shapeMismatch("conv2d: residual \(residual.shape) for output \([n, ho, wo, cout])")
        }
        if let winograd, winograd.outChannels != cout || winograd.inChannels != cin || kernel != 3 {
            throw TensorError.shapeMismatch("conv2d: Winograd filters [16, \(winograd.outChannels), \(winograd.inChannels)] for a [\(cout), \(kernel), \(kernel), \(cin)] weight")
        }
        let useWinograd: Bool
        switch algorithm {
        case .automatic:
            useWinograd = Self.winogradApplies(kernel: kernel, stride: stride, padding: padding, outputPixels: ho * wo, cin: cin,
                                               cout: cout, filtersKept: winograd != nil)
        case .im2col:
            useWinograd = false
        case .winograd:
            guard kernel == 3, stride == 1, padding == (1, 1, 1, 1), cin % 8 == 0, cout % 8 == 0 else {
                throw TensorError.invalidArgument("conv2d: Winograd needs a 3x3 stride-1 padding-1 kernel and channels in multiples of 8, got \(kernel)x\(kernel) stride \(stride) padding \(padding), \(cin) -> \(cout)")
            }
            useWinograd = true
        }
        if useWinograd {
            if let winograd { return winogradConv3x3(filters: winograd, bias: bias, residual: residual, relu: relu) }
            return try winogradConv3x3(weight: weight, bias: bias, residual: residual, relu: relu)
        }
        if kernel == 3 && stride == 1 && padding == (1, 1, 1, 1) && cout <= 4 {
            let out = narrowConv3x3(weight: weight, bias: bias, residual: residual)
            return relu ? out.relu() : out
        }
        let k = kernel * kernel * cin
        let rows = n * ho * wo
        var out = Tensor(uninitialized: [n, ho, wo, cout])
        let dst = out.mutablePointer()
        // Bias rows and the residual go in inside the GEMM, per cache block of C (GEMM.multiply).
        let b = bias?.pointer, r = residual?.pointer
        if kernel == 1 && stride == 1 && paddedH == h && paddedW == w {
            GEMM.multiply(m: rows, a: pointer, lda: cin, packed: weight, c: dst, ldc: cout, bias: b, residual: r)
            return relu ? out.relu() : out
        }
        // Rows per block: im2col of at most ~8M floats (32 MB), shape-determined.
        let block = max(1, min(rows, 8_388_608 / max(k, 1)))
        let columns = TensorStorage(count: min(rows, block) * k, zeroed: false)
        let col = columns.pointer, src = pointer
        var start = 0
        while start < rows {
            let count = min(block, rows - start)
            Profiler.measure("im2col") {
            Parallelism.forEachRange(count, minimumPerTask: 16) { range in
                for local in range {
                    let r = start + local
                    let b = r / (ho * wo), oy = (r / wo) % ho, ox = r % wo
                    var d = col + local * k
                    for ky in 0..<kernel {
                        let iy = oy * stride - padding.top + ky
                        for kx in 0..<kernel {
                            let ix = ox * stride - padding.left + kx
                            if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                d.update(from: src + ((b * h + iy) * w + ix) * cin, count: cin)
                            } else {
                                d.update(repeating: 0, count: cin)
                            }
                            d += cin
                        }
                    }
                }
            }
            }
            GEMM.multiply(m: count, a: col, lda: k, packed: weight, c: dst + start * cout, ldc: cout, bias: b,
                          residual: r.map { $0 + start * cout })
            start += count
        }
        return relu ? out.relu() : out
    }

    /// A 3x3 stride-1 padding-1 convolution with 1-4 output channels (a decoder's RGB output, a
    /// UNet's latent output) straight from the map (`ck_conv3x3_narrow`): im2col + GEMM's bytes,
    /// without the GEMM's 32-wide weight panel for 3 columns and the 9x-wide im2col copy. The
    /// tiny decoder's 32 -> 3 output at 64x64, 2 threads: 0.5 ms as im2col + GEMM, 0.1 ms here
    /// (`fewstep --profile`); the 512 px VAE's 128 -> 3 output 0.25 s -> 18 ms.
    func narrowConv3x3(weight: PackedMatrix, bias: Tensor?, residual: Tensor?) -> Tensor {
        let (n, h, w, cin) = (shape[0], shape[1], shape[2], shape[3])
        let cout = weight.rows
        let wt = weight.unpacked()  // [cout, 9 cin]: halves and int8 widened as the GEMM widens them
        var out = Tensor(uninitialized: [n, h, w, cout])
        let (src, dst, wp, bp, rp) = (pointer, out.mutablePointer(), wt.pointer, bias?.pointer, residual?.pointer)
        let scratchCount = Int(ck_conv3x3_narrow_scratch(Int64(w), Int64(cin)))
        Profiler.measure("conv (few outputs)") {
            Parallelism.forEachRange(n * h, minimumPerTask: max(1, 4096 / max(w * cin, 1))) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
                defer { scratch.deallocate() }
                var row = range.lowerBound
                while row < range.upperBound {
                    let (b, r0) = (row / h, row % h)
                    let r1 = min(h, r0 + range.upperBound - row)
                    let image = b * h * w
                    let residualRows: UnsafePointer<Float>? = rp.map { $0 + image * cout }
                    // Arguments in range by construction (1-4 outputs, rows inside the image): returns 0.
                    _ = ck_conv3x3_narrow(src + image * cin, Int64(h), Int64(w), Int64(cin), wp, Int64(cout), bp, residualRows,
                                          Int64(r0), Int64(r1), scratch, dst + image * cout)
                    row += r1 - r0
                }
            }
        }
        return out
    }
}
