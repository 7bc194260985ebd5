// Which OpenBLAS kernel runs GEMM: results are identical at any thread count but differ between
// kernels (golden hashes keep one table per core), so commands report it.

import COpenBLAS

public enum BLASCore {
    /// OpenBLAS's name of the kernel it chose for this CPU (e.g. "Haswell", "Zen", "Cooperlake").
    public static var name: String { String(cString: openblas_get_corename()) }
}
