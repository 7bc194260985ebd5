// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C.
//
// The fast path calls OpenBLAS `cblas_sgemm` single-threaded from this project's own threads on
// disjoint row (or column) blocks of C. The blocks are a function of the shape alone, never of
// the thread count: OpenBLAS kernels round an element differently depending on where it sits in
// a call (Haswell's sgemm near the ends of its M range, SkylakeX's small-matrix path for small
// calls), so only a thread-independent partition gives the same bytes at any thread count by
// construction. `reference` is the plain triple loop used to check it.

import COpenBLAS

public enum GEMM {
    /// C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n], row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        guard m > 0, n > 0 else { return }
        Profiler.measure("gemm") {
            let plan = partition(m: m, n: n, k: k)
            let threads = min(Parallelism.threadCount, plan.parts)
            // Thread t runs parts [parts * t / threads, parts * (t + 1) / threads), one call each.
            Parallelism.concurrentPerform(threads) { t in
                for part in (plan.parts * t / threads)..<(plan.parts * (t + 1) / threads) {
                    let lo = plan.bounds(part), hi = plan.bounds(part + 1)
                    guard lo < hi else { continue }
                    if plan.splitsRows {
                        let aOffset = transposeA ? lo : lo * lda
                        single(m: hi - lo, n: n, k: k, a: a + aOffset, lda: lda, transposeA: transposeA,
                               b: b, ldb: ldb, transposeB: transposeB,
                               c: c + lo * ldc, ldc: ldc, alpha: alpha, beta: beta)
                    } else {
                        let bOffset = transposeB ? lo * ldb : lo
                        single(m: m, n: hi - lo, k: k, a: a, lda: lda, transposeA: transposeA,
                               b: b + bOffset, ldb: ldb, transposeB: transposeB,
                               c: c + lo, ldc: ldc, alpha: alpha, beta: beta)
                    }
                }
            }
        }
    }

    /// How a GEMM of this shape is cut into single-threaded calls: a function of (m, n, k) only.
    struct Partition {
        /// Split along M (rows of C) when true, else along N.
        var splitsRows: Bool
        /// Number of calls: 1, 2, 4 or 8 (powers of two balance over 2, 4, 8 threads).
        var parts: Int
        /// The extent being split (m or n).
        var extent: Int

        /// Start of part `i` (0...parts), aligned to 16.
        func bounds(_ i: Int) -> Int {
            let units = (extent + 15) / 16
            return min(extent, units * i / parts * 16)
        }
    }

    /// Parts of at least 4 MFLOP (small calls lose more to packing than threads win) and at
    /// least 16 rows or columns, at most 8. Splitting rows repacks B in every call, splitting
    /// columns repacks A, so the side whose repacked operand is smaller is split.
    static func partition(m: Int, n: Int, k: Int) -> Partition {
        let splitsRows = n < m
        let extent = splitsRows ? m : n
        let flops = 2 * m * n * max(k, 1)
        var parts = 1
        while parts < 8, flops / (2 * parts) >= 4_000_000, extent / (2 * parts) >= 16 { parts *= 2 }
        return Partition(splitsRows: splitsRows, parts: parts, extent: extent)
    }

    /// One single-threaded OpenBLAS call on the calling thread.
    @inline(__always)
    static func single(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float
    ) {
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : c[i * ldc + j] * beta } }
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
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
