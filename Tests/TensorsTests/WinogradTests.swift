// Winograd F(2x2, 3x3): the shapes it takes match the direct reference convolution (Double
// accumulation) within 1e-4 of the output scale, odd sizes and batches included, and give the
// same bytes at 1, 2 and 4 threads, in the three-pass and the fused loop; the shapes it leaves
// to im2col are the small ones.

import CKernels
import Synchronization
import Testing
import TestSupport
@testable import Tensors

@Suite(.serialized) struct WinogradTests {
    @Test(arguments: [([1, 32, 64, 128], 128, true), ([1, 45, 47, 128], 136, false)])
    func matchesTheReferenceConvolution(shape: [Int], cout: Int, withBias: Bool) throws {
        let x = randomTensor(shape, seed: 11)
        let weight = randomTensor([cout, shape[3], 3, 3], seed: 12, range: -0.05...0.05)
        let bias = withBias ? randomTensor([cout], seed: 13) : nil
        #expect(Tensor.winogradApplies(kernel: 3, stride: 1, padding: (1, 1, 1, 1), outputPixels: shape[1] * shape[2], cin: shape[3], cout: cout,
                                       filtersKept: false))
        let fast = try x.conv2d(packedWeight: Tensor.packConvolutionWeight(weight), bias: bias, stride: 1, padding: 1)
        let reference = Reference.conv2d(x, weight: weight, bias: bias, stride: 1, padding: 1)
        #expect(fast.shape == reference.shape)
        let scale = (0..<reference.count).reduce(Float(0)) { max($0, abs(reference.pointer[$1])) }
        let worst = (0..<reference.count).reduce(Float(0)) { max($0, abs(fast.pointer[$1] - reference.pointer[$1])) }
        #expect(worst <= 1e-4 * scale, "max error \(worst) against output scale \(scale)")
    }

    /// The transformed filters are G g G^T, element by element in the stated order of operations
    /// (a scalar replica here), in the GEMM panel layout, with a partial last panel (40 outputs)
    /// and input channels not a multiple of the kernel's 16-channel block (24); padding columns
    /// stay zero; the same bytes at 1 and 3 threads.
    @Test func filtersAreGgGtInPanelLayout() throws {
        let (cout, cin) = (40, 24), width = Int(CK_PANEL)
        let w = randomTensor([cout, 3, 3, cin], seed: 21)
        defer { Parallelism.setThreadCount(0) }
        Parallelism.setThreadCount(1)
        let filters = try WinogradFilters(packedWeight: w)
        Parallelism.setThreadCount(3)
        let again = try WinogradFilters(packedWeight: w)
        let count = 16 * filters.panelCount
        #expect(Array(UnsafeBufferPointer(start: filters.panels.pointer, count: count))
                == Array(UnsafeBufferPointer(start: again.panels.pointer, count: count)))
        let wp = w.pointer
        var mismatches = 0
        for o in 0..<((cout + width - 1) / width * width) {
            for c in 0..<cin {
                var u = [Float](repeating: 0, count: 16)
                if o < cout {
                    func g(_ ky: Int, _ kx: Int) -> Float { wp[((o * 3 + ky) * 3 + kx) * cin + c] }
                    var gg = [[Float]](repeating: [0, 0, 0, 0], count: 3)  // gg[x][r] = (G g)[r][x]
                    for x in 0..<3 {
                        let (g0, g1, g2) = (g(0, x), g(1, x), g(2, x))
                        gg[x] = [g0, (g0 + g1 + g2) * 0.5, (g0 - g1 + g2) * 0.5, g2]
                    }
                    for r in 0..<4 {
                        let (a0, a1, a2) = (gg[0][r], gg[1][r], gg[2][r])
                        u[r * 4] = a0
                        u[r * 4 + 1] = (a0 + a1 + a2) * 0.5
                        u[r * 4 + 2] = (a0 - a1 + a2) * 0.5
                        u[r * 4 + 3] = a2
                    }
                }
                for e in 0..<16 {
                    let got = filters.panels.pointer[e * filters.panelCount + (o / width) * width * cin + c * width + o % width]
                    if got.bitPattern != u[e].bitPattern { mismatches += 1 }
                }
            }
        }
        #expect(mismatches == 0)
    }

    /// Filters made straight from a layer's packed weight (float, half and int8 panels) are the
    /// bytes of the scalar transform on that weight unpacked, on every kernel variant and at 1
    /// and 3 threads: partial last panels (40, 72 outputs), input channels not a multiple of the
    /// kernel's 16-channel block (24, 40).
    @Test(arguments: [(40, 24), (72, 40), (64, 32)])
    func filtersFromPanelsAreTheUnpackedWeightsBytes(cout: Int, cin: Int) throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        defer { Parallelism.setThreadCount(0) }
        let w = randomTensor([cout, 9 * cin], seed: 51, range: -0.2...0.2)
        let matrices = [try PackedMatrix(w), try PackedMatrix(w.mapElements { Float(Float16($0)) }, halfMinimumCount: 0),
                        try PackedMatrix(w, precision: .int8)]
        #expect(matrices.map(\.format) == [.float, .half, .int8])
        for matrix in matrices {
            let reference = try WinogradFilters(packedWeight: matrix.unpacked().reshaped([cout, 3, 3, cin]))
            let count = 16 * reference.panelCount
            let expected = Array(UnsafeBufferPointer(start: reference.panels.pointer, count: count)).map(\.bitPattern)
            for path: Int32 in [1, 2, 3] {
                guard ck_force_path(path) >= 0 else { continue }
                for threads in [1, 3] {
                    Parallelism.setThreadCount(threads)
                    let filters = try WinogradFilters(weight: matrix)
                    #expect(filters.panelCount == reference.panelCount && filters.outChannels == cout && filters.inChannels == cin)
                    #expect(Array(UnsafeBufferPointer(start: filters.panels.pointer, count: count)).map(\.bitPattern) == expected,
                            "\(matrix.format), variant \(path), \(threads) threads")
                }
            }
        }
        #expect(throws: TensorError.self) { try WinogradFilters(weight: try PackedMatrix(randomTensor([8, 9 * 12], seed: 52))) }
    }

    /// Per-call filters made a group of output panels at a time (what layers over 8M filter
    /// floats do; here the group budget is made small): the bytes of filters made whole, with
    /// bias, residual and ReLU, a partial last panel, at 1 and 3 threads.
    @Test func filtersMadeInGroupsGiveTheWholeFiltersBytes() throws {
        let saved = Tensor.winogradGroupFloats.load(ordering: .relaxed)
        defer { Tensor.winogradGroupFloats.store(saved, ordering: .relaxed); Parallelism.setThreadCount(0) }
        let (cin, cout) = (64, 136)  // five panels, the last with 8 outputs
        let x = randomTensor([2, 17, 16, cin], seed: 71)
        let matrix = try PackedMatrix(try Tensor.packConvolutionWeight(randomTensor([cout, cin, 3, 3], seed: 72, range: -0.1...0.1))
            .reshaped([cout, 9 * cin]))
        let bias = randomTensor([cout], seed: 73), residual = randomTensor([2, 17, 16, cout], seed: 74)
        let whole = x.winogradConv3x3(filters: try WinogradFilters(weight: matrix), bias: bias, residual: residual, relu: true,
                                      fusedChannels: 0)
        for groupPanels in [1, 2, 4] {
            Tensor.winogradGroupFloats.store(16 * Int(CK_PANEL) * cin * groupPanels, ordering: .relaxed)
            for threads in [1, 3] {
                Parallelism.setThreadCount(threads)
                #expect(bytes(try x.winogradConv3x3(weight: matrix, bias: bias, residual: residual, relu: true)) == bytes(whole),
                        "groups of \(groupPanels) panels, \(threads) threads")
            }
        }
    }

    @Test func sameBytesAtEveryThreadCount() throws {
        defer { Parallelism.setThreadCount(0) }
        let x = randomTensor([2, 40, 40, 128], seed: 21)
        let weight = try Tensor.packConvolutionWeight(randomTensor([256, 128, 3, 3], seed: 22, range: -0.05...0.05))
        let bias = randomTensor([256], seed: 23)
        var results: [[UInt32]] = []
        for threads in [1, 2, 4] {
            Parallelism.setThreadCount(threads)
            results.append(bytes(try x.conv2d(packedWeight: weight, bias: bias, stride: 1, padding: 1)))
        }
        #expect(results[1] == results[0] && results[2] == results[0])
    }

    /// The fused per-thread loop (small channel counts) gives the three-pass loop's bytes, at
    /// 1, 2 and 3 threads and on every kernel variant (the transforms are C kernels), and matches
    /// the reference; kept filters equal per-call ones.
    @Test(arguments: [([1, 17, 19, 64], 48), ([2, 16, 16, 32], 32), ([1, 40, 36, 128], 256)])
    func fusedLoopGivesTheThreePassBytes(shape: [Int], cout: Int) throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        defer { Parallelism.setThreadCount(0) }
        let x = randomTensor(shape, seed: 31)
        let weight = randomTensor([cout, shape[3], 3, 3], seed: 32, range: -0.1...0.1)
        let packed = try Tensor.packConvolutionWeight(weight)
        let filters = try WinogradFilters(packedWeight: packed)
        let bias = randomTensor([cout], seed: 33)
        let threePass = x.winogradConv3x3(filters: filters, bias: bias, fusedChannels: 0)
        // A residual added as the output is written: the bytes of a separate add afterwards.
        let residual = randomTensor(Array(shape.dropLast()) + [cout], seed: 34)
        var separate = residual
        try separate.add(threePass)
        // ReLU as each tile is written (alone and after the residual): the bytes of relu() after.
        let reluAlone = threePass.relu(), reluAfterAdd = separate.relu()
        #expect(bytes(reluAlone) != bytes(threePass) && bytes(reluAfterAdd) != bytes(separate))  // negatives were there
        for path: Int32 in [1, 2, 3] {
            guard ck_force_path(path) >= 0 else { continue }
            for threads in [1, 2, 3] {
                Parallelism.setThreadCount(threads)
                #expect(bytes(x.winogradConv3x3(filters: filters, bias: bias)) == bytes(threePass), "variant \(path), \(threads) threads")
                #expect(bytes(x.winogradConv3x3(filters: filters, bias: bias, fusedChannels: 0)) == bytes(threePass), "variant \(path), \(threads) threads")
                #expect(bytes(x.winogradConv3x3(filters: filters, bias: bias, residual: residual)) == bytes(separate))
                #expect(bytes(x.winogradConv3x3(filters: filters, bias: bias, residual: residual, fusedChannels: 0)) == bytes(separate))
                #expect(bytes(x.winogradConv3x3(filters: filters, bias: bias, relu: true)) == bytes(reluAlone))
                #expect(bytes(x.winogradConv3x3(filters: filters, bias: bias, relu: true, fusedChannels: 0)) == bytes(reluAlone))
                #expect(bytes(x.winogradConv3x3(filters: filters, bias: bias, residual: residual, relu: true)) == bytes(reluAfterAdd))
                #expect(bytes(x.winogradConv3x3(filters: filters, bias: bias, residual: residual, relu: true, fusedChannels: 0))
                        == bytes(reluAfterAdd), "variant \(path), \(threads) threads")
            }
        }
        variant.restore()
        let matrix = try PackedMatrix(try packed.reshaped([cout, 9 * shape[3]]))
        let perCall = try x.conv2d(weight: matrix, kernel: 3, bias: bias, stride: 1, padding: (1, 1, 1, 1), algorithm: .winograd)
        #expect(bytes(perCall) == bytes(threePass))
        // conv2d's relu on both paths (fused on Winograd, a pass after the GEMM on im2col).
        let winogradReLU = try x.conv2d(weight: matrix, kernel: 3, bias: bias, stride: 1, padding: (1, 1, 1, 1),
                                        algorithm: .winograd, adding: residual, relu: true)
        #expect(bytes(winogradReLU) == bytes(reluAfterAdd))
        let im2col = try x.conv2d(weight: matrix, kernel: 3, bias: bias, stride: 1, padding: (1, 1, 1, 1), algorithm: .im2col,
                                  adding: residual)
        let im2colReLU = try x.conv2d(weight: matrix, kernel: 3, bias: bias, stride: 1, padding: (1, 1, 1, 1),
                                      algorithm: .im2col, adding: residual, relu: true)
        #expect(bytes(im2colReLU) == bytes(im2col.relu()))
        let reference = Reference.conv2d(x, weight: weight, bias: bias, stride: 1, padding: 1)
        let scale = (0..<reference.count).reduce(Float(0)) { max($0, abs(reference.pointer[$1])) }
        let worst = (0..<reference.count).reduce(Float(0)) { max($0, abs(threePass.pointer[$1] - reference.pointer[$1])) }
        #expect(worst <= 1e-4 * scale, "max error \(worst) against output scale \(scale)")
    }

    @Test func forcedWinogradRejectsShapesItCannotTake() throws {
        let x = randomTensor([1, 8, 8, 12], seed: 41)
        let matrix = try PackedMatrix(try Tensor.packConvolutionWeight(randomTensor([16, 12, 3, 3], seed: 42)).reshaped([16, 108]))
        #expect(throws: TensorError.self) {
            try x.conv2d(weight: matrix, kernel: 3, bias: nil, stride: 1, padding: (1, 1, 1, 1), algorithm: .winograd)
        }
        let filters = try WinogradFilters(packedWeight: Tensor.packConvolutionWeight(randomTensor([16, 16, 3, 3], seed: 43)))
        #expect(throws: TensorError.self) {
            try x.conv2d(weight: matrix, kernel: 3, bias: nil, stride: 1, padding: (1, 1, 1, 1), winograd: filters)
        }
    }

    @Test func smallMapsAndFewChannelsKeepIm2col() {
        let padding = (top: 1, left: 1, bottom: 1, right: 1)
        func applies(_ pixels: Int, _ cin: Int, _ cout: Int, kept: Bool, kernel: Int = 3, stride: Int = 1,
                     padding: (top: Int, left: Int, bottom: Int, right: Int) = padding) -> Bool {
            Tensor.winogradApplies(kernel: kernel, stride: stride, padding: padding, outputPixels: pixels, cin: cin, cout: cout, filtersKept: kept)
        }
        // Kept filters (small layers): from 16x8 outputs and 32 channels.
        #expect(applies(16 * 16, 32, 32, kept: true) && applies(16 * 8, 128, 128, kept: true) && applies(64 * 64, 64, 32, kept: true))
        #expect(!applies(8 * 8, 128, 128, kept: true), "8x8: a tie at 1 thread, slower at 2")
        // Kept filters of 320 channels or more (SD's, kept after calls with few tiles): from 8x8.
        #expect(applies(8 * 8, 640, 640, kept: true) && applies(8 * 8, 320, 640, kept: true) && applies(8 * 8, 1920, 640, kept: true))
        #expect(!applies(8 * 8, 256, 640, kept: true) && !applies(4 * 4, 1280, 1280, kept: true) && !applies(8 * 4, 640, 640, kept: true))
        #expect(!applies(16 * 16, 16, 32, kept: true) && !applies(16 * 16, 36, 32, kept: true))
        #expect(!applies(64 * 64, 320, 320, kept: true, stride: 2))
        #expect(!applies(64 * 64, 320, 320, kept: true, kernel: 1, padding: (0, 0, 0, 0)))
        // Filters transformed per call (large layers): from 16x16 outputs.
        #expect(applies(16 * 16, 1280, 1280, kept: false) && applies(16 * 16, 320, 320, kept: false) && applies(8 * 32, 2560, 1280, kept: false))
        #expect(!applies(16 * 8, 1280, 1280, kept: false) && !applies(8 * 8, 640, 640, kept: false),
                "the per-call filter transform costs more than it saves")
        #expect(applies(64 * 64, 320, 320, kept: false) && applies(32 * 32, 640, 640, kept: false) && applies(512 * 512, 128, 128, kept: false))
    }
}
