// The same chain of operations gives the same bytes at 1, 2 and 4 threads and across runs.

import CKernels
import Testing
import TestSupport
@testable import Tensors

@Suite(.serialized) struct DeterminismTests {
    /// conv 3x3 -> group norm + SiLU -> strided conv -> group norm + SiLU -> attention over
    /// positions -> linear, at sizes that make GEMM split its work across threads.
    func chain() throws -> Tensor {
        let x = randomTensor([2, 16, 16, 64], seed: 1)
        let w1 = try Tensor.packConvolutionWeight(randomTensor([96, 64, 3, 3], seed: 2, range: -0.1...0.1))
        var h = try x.conv2d(packedWeight: w1, bias: randomTensor([96], seed: 3), stride: 1, padding: 1)
        h = try h.groupNorm(groups: 32, weight: randomTensor([96], seed: 4), bias: randomTensor([96], seed: 5), epsilon: 1e-5, silu: true)
        let w2 = try Tensor.packConvolutionWeight(randomTensor([128, 96, 3, 3], seed: 6, range: -0.1...0.1))
        h = try h.conv2d(packedWeight: w2, bias: nil, stride: 2, padding: 1)
        // [2, 8, 8, 128]: under group norm's one-thread size, as the first one is over it.
        h = try h.groupNorm(groups: 32, weight: nil, bias: randomTensor([128], seed: 11), epsilon: 1e-5, silu: true)
        let tokens = try h.reshaped([2, 64, 128])
        let q = try tokens.linear(weight: randomTensor([128, 128], seed: 7, range: -0.1...0.1))
        let kv = try tokens.linear(weight: randomTensor([256, 128], seed: 8, range: -0.1...0.1))
        let parts = try kv.splitLastAxis([128, 128])
        let a = try Tensor.attention(query: q, key: parts[0], value: parts[1], heads: 4)
        return try a.layerNorm(weight: nil, bias: nil, epsilon: 1e-5).linear(weight: randomTensor([320, 128], seed: 9), bias: randomTensor([320], seed: 10))
    }

    @Test func sameBytesAtEveryThreadCount() throws {
        defer { Parallelism.setThreadCount(0) }
        Parallelism.setThreadCount(1)
        let reference = bytes(try chain())
        #expect(bytes(try chain()) == reference, "two runs at 1 thread differ")
        for threads in [2, 3, 4] {
            Parallelism.setThreadCount(threads)
            #expect(bytes(try chain()) == reference, "\(threads) threads differ from 1 thread")
        }
    }

    /// GEMM splits C by the thread count, yet every element is the same fused multiply-add
    /// chain wherever it falls, so every thread count gives the same bytes.
    @Test(arguments: [(256, 320, 2880), (512, 64, 77), (8, 1280, 1152), (300, 17, 999), (48, 2000, 640), (33, 65, 4000)])
    func gemmIsBitIdenticalAtEveryThreadCount(m: Int, n: Int, k: Int) {
        defer { Parallelism.setThreadCount(0) }
        let a = randomTensor([m * k], seed: 1), b = randomTensor([k * n], seed: 2)
        var results: [[UInt32]] = []
        for threads in [1, 2, 3, 4, 8] {
            Parallelism.setThreadCount(threads)
            var c = Tensor(zeros: [m * n])
            GEMM.multiply(m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, c: c.mutablePointer(), ldc: n)
            results.append(bytes(c))
        }
        for (i, r) in results.enumerated().dropFirst() {
            #expect(r == results[0], "gemm \(m)x\(n)x\(k) differs at \([1, 2, 3, 4, 8][i]) threads")
        }
    }

    @Test func gemmPartitionCoversTheSplitAxisOnce() {
        for (m, n, k) in [(256, 320, 2880), (512, 64, 77), (8, 1280, 1152), (3, 3, 3), (1000, 1000, 1000), (17, 4096, 4096)] {
            for threads in [1, 2, 3, 8] {
                for prepackedB in [false, true] {
                let p = GEMM.partition(m: m, n: n, k: k, threads: threads, prepackedB: prepackedB)
                #expect(p.parts >= 1 && p.parts <= threads)
                #expect(p.extent == (p.splitsRows ? m : n))
                #expect(p.bounds(0) == 0 && p.bounds(p.parts) == p.extent)
                for i in 0..<p.parts { #expect(p.bounds(i) <= p.bounds(i + 1) && p.bounds(i) % p.unit == 0) }
                #expect(p.splitsRows == (n < m || (prepackedB && m >= 24 && (n <= 2 * m || n * k <= 262_144))))
                }
            }
        }
        #expect(GEMM.partition(m: 3, n: 3, k: 3, threads: 4).parts == 1)
        #expect(GEMM.partition(m: 1000, n: 1000, k: 1000, threads: 8).parts == 8)
    }

    /// Attention over 1,024 keys and more (online softmax) gives the same bytes at every thread
    /// count and on every kernel variant.
    @Test func onlineAttentionIsBitIdenticalAtEveryThreadCountAndVariant() throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        defer { Parallelism.setThreadCount(0) }
        let q = randomTensor([2, 260, 80], seed: 11, range: -2...2), k = randomTensor([2, 1100, 80], seed: 12, range: -2...2)
        let v = randomTensor([2, 1100, 80], seed: 13)
        Parallelism.setThreadCount(1)
        let reference = bytes(try Tensor.attention(query: q, key: k, value: v, heads: 2))
        for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 {
            for threads in [1, 2, 3] {
                Parallelism.setThreadCount(threads)
                #expect(bytes(try Tensor.attention(query: q, key: k, value: v, heads: 2)) == reference, "path \(path), \(threads) threads")
            }
        }
    }

    /// The whole chain (convolutions, norms, attention, linears) gives the same bytes on every
    /// instruction-set variant of the C kernels this CPU has.
    @Test func sameBytesOnEveryKernelVariant() throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        let reference = bytes(try chain())
        for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 {
            #expect(bytes(try chain()) == reference, "kernel variant \(path) differs")
        }
    }
}
