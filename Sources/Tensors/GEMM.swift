// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C.
//
// The fast path is this project's packed kernel (CKernels `ck_sgemm`: one micro-kernel per
// instruction set). It computes every element of C as one fused multiply-add chain in k order,
// started from beta * C, with alpha folded into A, so an element's bits depend on neither the
// instruction set, nor the tile it falls in, nor how C is split among threads: the split below
// may follow the thread count, and the bytes stay the same on every x86-64 CPU (AVX-512, AVX2)
// and at any thread count. `chain` is that computation as a plain loop (bit-exact twin);
// `reference` is the Double triple loop both are checked against.

import CKernels

public enum GEMM {
    /// C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n], row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored. With `bias` [n] every row
    /// of C starts as the bias (beta is then 1); `residual` [m, n] (row stride ldc) is added after:
    /// the bytes of a bias copy before and an add after, made per cache block inside the kernel
    /// (`ck_sgemm_fused`).
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0,
        bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil
    ) {
        forEachPart(m: m, n: n, k: k) { rows, columns in
            let aOffset = transposeA ? rows.lowerBound : rows.lowerBound * lda
            let bOffset = transposeB ? columns.lowerBound * ldb : columns.lowerBound
            let cOffset = rows.lowerBound * ldc + columns.lowerBound
            _ = ck_sgemm_fused(Int64(rows.count), Int64(columns.count), Int64(k), a + aOffset, Int64(lda), transposeA ? 1 : 0,
                               b + bOffset, Int64(ldb), transposeB ? 1 : 0, c + cOffset, Int64(ldc), alpha, beta,
                               bias.map { $0 + columns.lowerBound }, residual.map { $0 + cOffset }, Int64(ldc))
        }
    }

    /// Runs `body(rows, columns)` for each part of C [m, n] that `partition` gives, one task
    /// each (timed as "gemm"); column parts start on whole prepacked panels.
    static func forEachPart(m: Int, n: Int, k: Int, prepackedB: Bool = false, _ body: (Range<Int>, Range<Int>) -> Void) {
        guard m > 0, n > 0 else { return }
        Profiler.measure(Profiler.byShape ? "gemm \(m)x\(n)x\(k)\(prepackedB ? " p" : "")" : "gemm") {
            let plan = partition(m: m, n: n, k: k, threads: Parallelism.threadCount, prepackedB: prepackedB)
            Parallelism.concurrentPerform(plan.parts) { part in
                let lo = plan.bounds(part), hi = plan.bounds(part + 1)
                guard lo < hi else { return }
                if plan.splitsRows { body(lo..<hi, 0..<n) } else { body(0..<m, lo..<hi) }
            }
        }
    }

    /// How a GEMM is cut among threads: one part per thread (fewer for small products). Only
    /// speed depends on it, never the bytes.
    struct Partition {
        /// Split along M (rows of C) when true, else along N.
        let splitsRows: Bool
        let parts: Int
        /// The extent being split (m or n).
        let extent: Int
        /// Rows or columns per unit: parts start on multiples of it (whole micro-tiles; for
        /// columns also whole prepacked panels, which `ck_sgemm_panels` requires).
        let unit: Int

        /// Start of part `i` (0...parts).
        func bounds(_ i: Int) -> Int {
            let units = (extent + unit - 1) / unit
            return min(extent, units * i / parts * unit)
        }
    }

    /// Parts of at least 0.5 MFLOP and one unit each (a few microseconds of work: the default
    /// UNet's 64x128x128 and 256x64x64 products at batch 1 are split; 2 MFLOP left them on one
    /// thread, 5% of a 2-thread LCM image's GEMM time). A late worker costs little: the
    /// calling thread claims any part not yet taken. Splitting rows repacks B in every part,
    /// splitting columns repacks A, so the longer side is split. With B prepacked (weights)
    /// rows repack nothing but every thread reads all of B: A of two micro-tiles or more is split
    /// by rows also when B is at most twice as wide as A is tall, or small (at most 256k values:
    /// it stays in cache); each thread then writes whole rows of C, which the next op reads by
    /// rows. A 2-thread LCM image and 20 DDIM steps 3.5-5% faster (the default UNet's 64x128x128
    /// at batch 1), `stylediff-bench gemm`'s prepacked 256x320x2880 at 2 threads 69 -> 74%.
    /// Short products on large weights keep the column split, each thread streaming half of
    /// them (SD 1.5's 16x16 UNet at 2 threads, whose 4x4 level is 32 x 1280 x 11520, was 12%
    /// slower with every prepacked product split by rows).
    static func partition(m: Int, n: Int, k: Int, threads: Int, prepackedB: Bool = false) -> Partition {
        let splitsRows = n < m || (prepackedB && m >= 24 && (n <= 2 * m || n * k <= 262_144))
        let extent = splitsRows ? m : n
        let unit = splitsRows ? 12 : Int(CK_PANEL)
        let flops = 2 * m * n * max(k, 1)
        let parts = max(1, min(threads, flops / 500_000, (extent + unit - 1) / unit))
        return Partition(splitsRows: splitsRows, parts: parts, extent: extent, unit: unit)
    }

    /// `multiply` on the calling thread alone, for kernels that run their own parallel loop.
    @inline(__always)
    static func single(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float
    ) {
        guard m > 0, n > 0 else { return }
        _ = ck_sgemm(Int64(m), Int64(n), Int64(k), a, Int64(lda), transposeA ? 1 : 0, b, Int64(ldb), transposeB ? 1 : 0,
                     c, Int64(ldc), alpha, beta)
    }

    /// The fused multiply-add chain `multiply` computes, as a plain loop: equal to it bit for bit.
    public static func chain(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        ck_sgemm_chain(Int64(m), Int64(n), Int64(k), a, Int64(lda), transposeA ? 1 : 0, b, Int64(ldb), transposeB ? 1 : 0,
                       c, Int64(ldc), alpha, beta)
    }

    /// Plain triple loop with Double accumulation: the reference for `multiply`.
    public static func reference(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * sum + old)
            }
        }
    }
}
