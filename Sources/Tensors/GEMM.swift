// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C.
//
// The fast path calls OpenBLAS `cblas_sgemm` single-threaded on disjoint column (or row)
// blocks of C from this project's own threads. In single-threaded OpenBLAS each element of
// C is accumulated over K in an order that depends only on K, not on which block of C the
// call covers, so the bytes are the same at any thread count (guarded by the determinism
// tests). `reference` is the plain triple loop used to check it.

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
            multiplyUnprofiled(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb,
                               transposeB: transposeB, c: c, ldc: ldc, alpha: alpha, beta: beta)
        }
    }

    static func multiplyUnprofiled(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float
    ) {
        let threads = Parallelism.threadCount
        let flops = 2 * m * n * max(k, 1)
        if threads == 1 || flops < 4_000_000 {
            single(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA,
                   b: b, ldb: ldb, transposeB: transposeB, c: c, ldc: ldc, alpha: alpha, beta: beta)
            return
        }
        // Split the wider of M and N into blocks aligned to 16 (the kernel's unroll).
        let splitColumns = n >= m || m < 32
        let extent = splitColumns ? n : m
        let blocks = max(1, min(threads, extent / 16))
        let unit = 16
        let units = (extent + unit - 1) / unit
        Parallelism.concurrentPerform(blocks) { t in
            let lo = min(extent, units * t / blocks * unit)
            let hi = min(extent, units * (t + 1) / blocks * unit)
            guard lo < hi else { return }
            if splitColumns {
                let bOffset = transposeB ? lo * ldb : lo
                single(m: m, n: hi - lo, k: k, a: a, lda: lda, transposeA: transposeA,
                       b: b + bOffset, ldb: ldb, transposeB: transposeB,
                       c: c + lo, ldc: ldc, alpha: alpha, beta: beta)
            } else {
                let aOffset = transposeA ? lo : lo * lda
                single(m: hi - lo, n: n, k: k, a: a + aOffset, lda: lda, transposeA: transposeA,
                       b: b, ldb: ldb, transposeB: transposeB,
                       c: c + lo * ldc, ldc: ldc, alpha: alpha, beta: beta)
            }
        }
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
