// Fast kernels against their plain reference twins on random shapes, odd sizes included.
// Tolerance: max |fast - reference| <= 1e-5 x max(1, max |reference|) unless stated.

import CKernels
import Foundation
import Testing
import TestSupport
@testable import Tensors

@Suite struct KernelTests {
    static let tolerance: Float = 1e-5

    @Test(arguments: [
        (1, 1, 1), (3, 7, 5), (17, 33, 65), (64, 48, 200), (257, 130, 31), (5, 300, 1000),
    ])
    func gemmMatchesReference(m: Int, n: Int, k: Int) throws {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = randomTensor([m * k], seed: 1), b = randomTensor([k * n], seed: 2)
            let c0 = randomTensor([m * n], seed: 3)
            var fast = c0, slow = c0
            let lda = ta ? m : k, ldb = tb ? k : n
            GEMM.multiply(m: m, n: n, k: k, a: a.pointer, lda: lda, transposeA: ta, b: b.pointer, ldb: ldb,
                          transposeB: tb, c: fast.mutablePointer(), ldc: n, alpha: 0.5, beta: 0.25)
            GEMM.reference(m: m, n: n, k: k, a: a.pointer, lda: lda, transposeA: ta, b: b.pointer, ldb: ldb,
                           transposeB: tb, c: slow.mutablePointer(), ldc: n, alpha: 0.5, beta: 0.25)
            let err = try relativeError(fast, slow)
            #expect(err <= 1e-5 * Float(k).squareRoot(), "gemm \(m)x\(n)x\(k) ta=\(ta) tb=\(tb): max error \(err)")
        }
    }

    /// The packed kernel is its fused multiply-add chain bit for bit, on every instruction-set
    /// variant this CPU has, at every thread count: shapes cross the micro-tile (12 x 32, 6 x 16,
    /// 4 x 16), row-block (192 rows), depth-block (256) and column-block (2048) edges, and leave
    /// last panels that the few-row kernels (AVX-512 4 and 8 rows, AVX2 2 and 4) fill exactly or
    /// through a tile, at 32 and 16 (narrow) columns.
    @Test(arguments: [
        (1, 1, 1), (3, 7, 5), (13, 33, 65), (25, 70, 300), (257, 130, 31), (5, 300, 1000), (197, 2050, 260),
        (16, 64, 40), (20, 48, 70), (8, 16, 9), (28, 96, 300), (2, 32, 7),
    ])
    func gemmIsItsChainBitForBitOnEveryVariant(m: Int, n: Int, k: Int) throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        defer { Parallelism.setThreadCount(0) }
        let big = m * n * k > 10_000_000
        for (ta, tb) in big ? [(false, true)] : [(false, false), (false, true), (true, false), (true, true)] {
            for (alpha, beta): (Float, Float) in [(1, 0), (1, 1), (0.5, 0.25)] {
                let a = randomTensor([m * k], seed: 1), b = randomTensor([k * n], seed: 2)
                let c0 = randomTensor([m * n], seed: 3)
                let lda = ta ? m : k, ldb = tb ? k : n
                var chain = c0
                GEMM.chain(m: m, n: n, k: k, a: a.pointer, lda: lda, transposeA: ta, b: b.pointer, ldb: ldb,
                           transposeB: tb, c: chain.mutablePointer(), ldc: n, alpha: alpha, beta: beta)
                for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 {
                    for threads in big ? [2] : [1, 3] {
                        Parallelism.setThreadCount(threads)
                        var fast = c0
                        GEMM.multiply(m: m, n: n, k: k, a: a.pointer, lda: lda, transposeA: ta, b: b.pointer, ldb: ldb,
                                      transposeB: tb, c: fast.mutablePointer(), ldc: n, alpha: alpha, beta: beta)
                        #expect(bytes(fast) == bytes(chain),
                                "gemm \(m)x\(n)x\(k) ta=\(ta) tb=\(tb) alpha=\(alpha) beta=\(beta) path \(path), \(threads) threads")
                    }
                }
            }
        }
    }

    @Test(arguments: [
        // [N, H, W, Cin], Cout, kernel, stride, padding
        ([1, 7, 5, 3], 4, 3, 1, 1), ([1, 7, 5, 3], 5, 3, 2, 1), ([2, 8, 8, 6], 7, 1, 1, 0),
        ([1, 9, 6, 5], 3, 3, 1, 0), ([2, 5, 5, 17], 9, 3, 2, 1), ([1, 16, 16, 32], 64, 3, 1, 1),
        ([1, 4, 4, 2], 3, 1, 2, 0),
    ])
    func convolutionMatchesReference(shape: [Int], cout: Int, kernel: Int, stride: Int, padding: Int) throws {
        let x = randomTensor(shape, seed: 10)
        let w = randomTensor([cout, shape[3], kernel, kernel], seed: 11)
        let b = randomTensor([cout], seed: 12)
        let fast = try x.conv2d(packedWeight: try Tensor.packConvolutionWeight(w), bias: b, stride: stride, padding: padding)
        let slow = Reference.conv2d(x, weight: w, bias: b, stride: stride, padding: padding)
        #expect(fast.shape == slow.shape)
        let err = try relativeError(fast, slow)
        #expect(err <= Self.tolerance * 10, "conv \(shape) -> \(cout), k\(kernel) s\(stride) p\(padding): max error \(err)")
    }

    /// 3x3 convolutions with 1-4 outputs run straight from the map (`ck_conv3x3_narrow`): the
    /// bytes of im2col + GEMM, taken from a wider layer whose first outputs are these (a GEMM's
    /// columns do not depend on each other), with and without bias and residual, odd sizes and
    /// batches, float / half / int8 weights, every kernel variant, 1-3 threads.
    @Test(arguments: [([1, 7, 5, 8], 3), ([2, 64, 64, 32], 3), ([1, 9, 70, 20], 1), ([3, 5, 17, 12], 4), ([1, 1, 1, 5], 2),
                      ([1, 2, 130, 3], 3)])
    func narrowConvolutionIsTheGEMMChain(shape: [Int], cout: Int) throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        defer { Parallelism.setThreadCount(0) }
        let (n, h, w, cin) = (shape[0], shape[1], shape[2], shape[3])
        let extra = 6, wide = cout + extra
        let x = randomTensor(shape, seed: 61)
        let weightWide = randomTensor([wide, 9 * cin], seed: 62, range: -0.3...0.3)
        let biasWide = randomTensor([wide], seed: 63)
        let residualWide = randomTensor([n, h, w, wide], seed: 64)
        func firstRows(_ t: Tensor, _ rows: Int) throws -> Tensor {
            try Tensor(shape: [rows, t.shape[1]], values: Array(UnsafeBufferPointer(start: t.pointer, count: rows * t.shape[1])))
        }
        func firstChannels(_ t: Tensor, _ c: Int) throws -> Tensor {
            let last = t.shape[t.rank - 1], count = t.count / last
            return try Tensor(shape: Array(t.shape.dropLast()) + [c], values: (0..<count).flatMap { i in (0..<c).map { t.pointer[i * last + $0] } })
        }
        let bias = try Tensor(shape: [cout], values: Array(UnsafeBufferPointer(start: biasWide.pointer, count: cout)))
        let residual = try firstChannels(residualWide, cout)
        let halves = weightWide.mapElements { Float(Float16($0)) }
        for (values, precision, halfMinimum) in [(weightWide, WeightPrecision.stored, Int.max), (halves, .stored, 0), (weightWide, .int8, Int.max)] {
            let matrixWide = try PackedMatrix(values, precision: precision, halfMinimumCount: halfMinimum)
            let matrix = try PackedMatrix(try firstRows(values, cout), precision: precision, halfMinimumCount: halfMinimum)
            #expect(matrix.format == matrixWide.format)
            for (b, r) in [(biasWide, residualWide), (nil, nil)] as [(Tensor?, Tensor?)] {
                let expected = try firstChannels(try x.conv2d(weight: matrixWide, kernel: 3, bias: b, stride: 1, padding: (1, 1, 1, 1),
                                                              algorithm: .im2col, adding: r), cout)
                for path: Int32 in [1, 2, 3] {
                    guard ck_force_path(path) >= 0 else { continue }
                    for threads in [1, 2, 3] {
                        Parallelism.setThreadCount(threads)
                        let got = try x.conv2d(weight: matrix, kernel: 3, bias: b == nil ? nil : bias, stride: 1, padding: (1, 1, 1, 1),
                                               adding: r == nil ? nil : residual)
                        #expect(got.shape == expected.shape)
                        #expect(bytes(got) == bytes(expected), "\(matrix.format), bias \(b != nil), variant \(path), \(threads) threads")
                    }
                }
            }
        }
    }

    @Test func asymmetricPaddingMatchesExplicitlyPaddedInput() throws {
        // diffusers' VAE downsampler: pad bottom and right by one, then stride-2 conv.
        let x = randomTensor([2, 6, 7, 3], seed: 13)
        let w = randomTensor([4, 3, 3, 3], seed: 14), b = randomTensor([4], seed: 15)
        var padded = Tensor(zeros: [2, 7, 8, 3])
        let p = padded.mutablePointer()
        for n in 0..<2 { for y in 0..<6 { for xx in 0..<7 { for c in 0..<3 {
            p[((n * 7 + y) * 8 + xx) * 3 + c] = x.pointer[((n * 6 + y) * 7 + xx) * 3 + c]
        } } } }
        let fast = try x.conv2d(packedWeight: try Tensor.packConvolutionWeight(w), bias: b, stride: 2,
                                padding: (top: 0, left: 0, bottom: 1, right: 1))
        let slow = Reference.conv2d(padded, weight: w, bias: b, stride: 2, padding: 0)
        #expect(fast.shape == [2, 3, 3, 4])
        #expect(try relativeError(fast, slow) <= Self.tolerance * 10)
    }

    /// The load-time repack equals the generic permutation value for value (3x3, 1x1 kept
    /// without a copy, non-square, one input channel), and multi-threaded equals one thread.
    @Test func convolutionWeightRepackIsThePermutation() throws {
        for shape in [[40, 24, 3, 3], [7, 5, 1, 1], [3, 6, 2, 3], [17, 1, 3, 3], [0, 4, 3, 3]] {
            let w = randomTensor(shape, seed: UInt64(shape.reduce(0, +)))
            let expected = try w.permuted([0, 2, 3, 1])
            for threads in [1, 3] {
                Parallelism.setThreadCount(threads)
                let packed = try Tensor.packConvolutionWeight(w)
                #expect(packed.shape == expected.shape && bytes(packed) == bytes(expected), "\(shape), \(threads) threads")
            }
        }
        Parallelism.setThreadCount(0)
        #expect(throws: TensorError.self) { try Tensor.packConvolutionWeight(randomTensor([2, 3, 3], seed: 1)) }
    }

    @Test func convolutionRejectsBadInput() throws {
        let x = randomTensor([1, 4, 4, 3], seed: 1)
        let w = try Tensor.packConvolutionWeight(randomTensor([2, 5, 3, 3], seed: 2))
        #expect(throws: TensorError.self) { try x.conv2d(packedWeight: w, bias: nil) }
        let w2 = try Tensor.packConvolutionWeight(randomTensor([2, 3, 3, 3], seed: 2))
        #expect(throws: TensorError.self) { try x.conv2d(packedWeight: w2, bias: randomTensor([3], seed: 1)) }
        #expect(throws: TensorError.self) { try x.conv2d(packedWeight: w2, bias: nil, stride: 0) }
        let tiny = randomTensor([1, 1, 1, 3], seed: 1)
        #expect(throws: TensorError.self) { try tiny.conv2d(packedWeight: w2, bias: nil, padding: 0) }
    }

    @Test(arguments: [([1, 7, 5, 3], 1), ([2, 4, 4, 8], 4), ([1, 3, 3, 12], 3), ([2, 16, 16, 64], 32), ([3, 10, 6], 2)])
    func groupNormMatchesReference(shape: [Int], groups: Int) throws {
        let x = randomTensor(shape, seed: 20, range: -3...5)
        let c = shape.last!
        let g = randomTensor([c], seed: 21), b = randomTensor([c], seed: 22)
        let fast = try x.groupNorm(groups: groups, weight: g, bias: b, epsilon: 1e-6)
        let slow = Reference.groupNorm(x, groups: groups, weight: g, bias: b, epsilon: 1e-6)
        let err = try relativeError(fast, slow)
        #expect(err <= Self.tolerance, "groupNorm \(shape) g\(groups): max error \(err)")
        let fused = try x.groupNorm(groups: groups, weight: g, bias: b, epsilon: 1e-6, silu: true)
        let err2 = try relativeError(fused, Reference.silu(slow))
        #expect(err2 <= Self.tolerance, "groupNorm+silu: max error \(err2)")
    }

    @Test func emptyTensorsAreHandled() throws {
        let empty = Tensor(zeros: [0, 4, 4, 8])
        #expect(try empty.groupNorm(groups: 2, weight: nil, bias: nil, epsilon: 1e-5).shape == [0, 4, 4, 8])
        #expect(try empty.conv2d(packedWeight: Tensor.packConvolutionWeight(randomTensor([3, 8, 1, 1], seed: 1)), bias: nil).shape == [0, 4, 4, 3])
    }

    @Test func groupNormRejectsIndivisibleChannels() {
        let x = randomTensor([1, 3, 7, 5], seed: 1)
        #expect(throws: TensorError.invalidArgument("groupNorm: 5 channels not divisible by 2 groups")) {
            try x.groupNorm(groups: 2, weight: nil, bias: nil, epsilon: 1e-5)
        }
    }

    @Test(arguments: [[1, 1], [3, 7], [2, 5, 33], [4, 77, 128]])
    func layerNormAndSoftmaxMatchReference(shape: [Int]) throws {
        let x = randomTensor(shape, seed: 30, range: -4...4)
        let c = shape.last!
        let g = randomTensor([c], seed: 31), b = randomTensor([c], seed: 32)
        let ln = try x.layerNorm(weight: g, bias: b, epsilon: 1e-5)
        #expect(try relativeError(ln, Reference.layerNorm(x, weight: g, bias: b, epsilon: 1e-5)) <= Self.tolerance)
        let sm = try x.softmax()
        #expect(try relativeError(sm, Reference.softmax(x)) <= Self.tolerance)
    }

    /// (1, 1100, 77) takes 256-row blocks (from 1,024 queries) with a partial last block; the cases
    /// with 1,024 keys and more run the online softmax (chunks of 512 keys, blocks of 128 queries,
    /// partial ones included; a head size over 256, (1, 40, 1030, 300, 1), takes v^T in two row
    /// blocks); rowBlock 37 below is the two-pass kernel.
    @Test(arguments: [(1, 5, 3, 8, 1), (2, 7, 13, 12, 3), (2, 130, 77, 64, 8), (1, 64, 64, 40, 5), (1, 1100, 77, 16, 2),
                      (1, 1030, 1030, 8, 1), (2, 300, 1100, 80, 2), (1, 130, 2049, 40, 1), (1, 40, 1030, 300, 1)])
    func attentionMatchesReference(batch: Int, lq: Int, lk: Int, width: Int, heads: Int) throws {
        let q = randomTensor([batch, lq, width], seed: 40, range: -2...2)
        let k = randomTensor([batch, lk, width], seed: 41, range: -2...2)
        let v = randomTensor([batch, lk, width], seed: 42)
        let fast = try Tensor.attention(query: q, key: k, value: v, heads: heads)
        let slow = Reference.attention(query: q, key: k, value: v, heads: heads)
        let err = try relativeError(fast, slow)
        #expect(err <= Self.tolerance, "attention b\(batch) lq\(lq) lk\(lk) w\(width) h\(heads): max error \(err)")
        // Any row block gives the same rows to within rounding.
        let other = try Tensor.attention(query: q, key: k, value: v, heads: heads, rowBlock: 37)
        #expect(try relativeError(other, fast) <= Self.tolerance)
    }

    @Test(arguments: [(1, 5, 5, 8, 1), (2, 77, 77, 64, 4), (2, 70, 70, 12, 3), (1, 1030, 1030, 8, 2)])
    func causalAttentionMatchesReference(batch: Int, lq: Int, lk: Int, width: Int, heads: Int) throws {
        let q = randomTensor([batch, lq, width], seed: 43, range: -2...2)
        let k = randomTensor([batch, lk, width], seed: 44, range: -2...2)
        let v = randomTensor([batch, lk, width], seed: 45)
        let fast = try Tensor.attention(query: q, key: k, value: v, heads: heads, causal: true)
        let slow = Reference.attention(query: q, key: k, value: v, heads: heads, causal: true)
        #expect(try relativeError(fast, slow) <= Self.tolerance)
        // The first query sees only the first key: its output is v[0].
        #expect(abs(fast.pointer[0] - v.pointer[0]) <= 1e-6)
    }

    @Test func gatherRowsLooksUpAndChecksIds() throws {
        let table = randomTensor([5, 3], seed: 46)
        let rows = try table.gatherRows([4, 0, 4])
        #expect(rows.shape == [3, 3])
        #expect(Array(rows.scalars[0..<3]) == Array(table.scalars[12..<15]))
        #expect(throws: TensorError.self) { try table.gatherRows([5]) }
        #expect(throws: TensorError.self) { try table.gatherRows([-1]) }
    }

    /// Projections side by side (one fused GEMM's output: q, k, v for self-attention, k, v for
    /// cross-attention) give the bytes of separate tensors, on the two-pass kernel and the
    /// online one (1,030 keys), with a partial query block.
    @Test(arguments: [(2, 70, 12, 3), (1, 1030, 16, 2)])
    func fusedProjectionsAreTheSeparateBytes(batch: Int, length: Int, width: Int, heads: Int) throws {
        let qkv = randomTensor([batch, length, 3 * width], seed: 47, range: -2...2)
        func part(_ t: Tensor, _ i: Int, of n: Int) -> Tensor {
            let (b, l) = (t.shape[0], t.shape[1])
            var out = Tensor(zeros: [b, l, width])
            for r in 0..<(b * l) { for c in 0..<width { out.mutablePointer()[r * width + c] = t.pointer[r * n * width + i * width + c] } }
            return out
        }
        let (q, k, v) = (part(qkv, 0, of: 3), part(qkv, 1, of: 3), part(qkv, 2, of: 3))
        let separate = try Tensor.attention(query: q, key: k, value: v, heads: heads)
        #expect(bytes(try Tensor.attention(packedQKV: qkv, heads: heads)) == bytes(separate))
        let kv = try Tensor.concatenateLastAxis([k, v])
        let query = randomTensor([batch, 5, width], seed: 48)
        #expect(bytes(try Tensor.attention(query: query, packedKeyValue: kv, heads: heads))
                == bytes(try Tensor.attention(query: query, key: k, value: v, heads: heads)))
        #expect(throws: TensorError.self) { try Tensor.attention(packedQKV: randomTensor([1, 4, 10], seed: 1), heads: 1) }
        #expect(throws: TensorError.self) { try Tensor.attention(query: query, packedKeyValue: q, heads: heads) }
    }

    @Test func attentionRejectsBadHeads() {
        let q = randomTensor([1, 4, 10], seed: 1)
        #expect(throws: TensorError.self) { try Tensor.attention(query: q, key: q, value: q, heads: 3) }
    }

    @Test func linearMatchesReference() throws {
        let x = randomTensor([2, 9, 37], seed: 50), w = randomTensor([23, 37], seed: 51), b = randomTensor([23], seed: 52)
        let y = try x.linear(weight: w, bias: b)
        #expect(y.shape == [2, 9, 23])
        #expect(try relativeError(y, Reference.linear(x, weight: w, bias: b)) <= Self.tolerance)
        #expect(throws: TensorError.self) { try x.linear(weight: randomTensor([3, 36], seed: 1)) }
    }

    @Test func batchedMatmulMatchesReference() throws {
        let a = randomTensor([3, 5, 7], seed: 60), b = randomTensor([3, 7, 4], seed: 61)
        let c = try a.batchedMatmul(b)
        #expect(try c.maxAbsoluteDifference(Reference.batchedMatmul(a, b)) < 1e-5)
        let bt = try b.permuted([0, 2, 1])
        let c2 = try a.batchedMatmul(bt, transposeOther: true)
        #expect(try c2.maxAbsoluteDifference(c) <= 1e-6)
    }

    @Test func activations() throws {
        let x = try Tensor(shape: [6], values: [-3, -1, -0.5, 0, 0.7, 2.5])
        #expect(try x.silu().maxAbsoluteDifference(Reference.silu(x)) < 1e-6)
        #expect(try x.gelu().maxAbsoluteDifference(Reference.gelu(x)) < 1e-6)
        #expect(try x.quickGELU().maxAbsoluteDifference(Reference.quickGELU(x)) < 1e-6)
        let h = randomTensor([2, 3, 10], seed: 70)
        #expect(try h.geglu().maxAbsoluteDifference(Reference.geglu(h)) <= 1e-6)
        #expect(throws: TensorError.self) { try randomTensor([2, 3], seed: 1).geglu() }
    }

    @Test func shapeOperations() throws {
        let a = randomTensor([2, 3, 4, 5], seed: 80), b = randomTensor([2, 3, 4, 2], seed: 81)
        let c = try Tensor.concatenateLastAxis([a, b])
        #expect(c.shape == [2, 3, 4, 7])
        let back = try c.splitLastAxis([5, 2])
        #expect(back[0].shape == a.shape && bytes(back[0]) == bytes(a))
        #expect(bytes(back[1]) == bytes(b))
        #expect(throws: TensorError.self) { try Tensor.concatenateLastAxis([a, randomTensor([2, 3, 5, 1], seed: 1)]) }
        let up = try a.upsampleNearest2x()
        #expect(up.shape == [2, 6, 8, 5])
        for y in 0..<6 { for x in 0..<8 { for ch in 0..<5 {
            #expect(up.pointer[((1 * 6 + y) * 8 + x) * 5 + ch] == a.pointer[((1 * 3 + y / 2) * 4 + x / 2) * 5 + ch])
        } } }
        let p = try a.permuted([0, 3, 1, 2])
        #expect(p.shape == [2, 5, 3, 4])
        #expect(p.pointer[((1 * 5 + 2) * 3 + 1) * 4 + 3] == a.pointer[((1 * 3 + 1) * 4 + 3) * 5 + 2])
        #expect(bytes(try p.permuted([0, 2, 3, 1])) == bytes(a))
        let stacked = try Tensor.concatenateFirstAxis([a, a])
        #expect(stacked.shape == [4, 3, 4, 5])
        #expect(bytes(try stacked.slicingFirstAxis(2..<4)) == bytes(a))
        #expect(throws: TensorError.self) { try a.reshaped([7, -1]) }
        #expect(try a.reshaped([6, -1]).shape == [6, 20])
    }

    @Test func channelVectorBroadcast() throws {
        let x = randomTensor([2, 3, 3, 4], seed: 90), v = randomTensor([2, 4], seed: 91)
        let y = try x.addingChannelVector(v)
        for b in 0..<2 { for p in 0..<9 { for ch in 0..<4 {
            #expect(y.pointer[(b * 9 + p) * 4 + ch] == x.pointer[(b * 9 + p) * 4 + ch] + v.pointer[b * 4 + ch])
        } } }
        #expect(throws: TensorError.self) { try x.addingChannelVector(randomTensor([3, 4], seed: 1)) }
    }

    @Test func copyOnWriteKeepsValues() throws {
        let a = randomTensor([4], seed: 1)
        var b = a
        b.mutablePointer()[0] = 42
        #expect(a.scalars[0] != 42 && b.scalars[0] == 42)
        #expect(throws: TensorError.self) { try Tensor(shape: [2, 2], values: [1, 2, 3]) }
    }
}
