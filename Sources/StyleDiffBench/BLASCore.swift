// The OpenBLAS kernel behind the benchmarks' reference column (OpenBLAS's own threaded sgemm on
// the same shapes); the engine's GEMM is its own packed kernel and does not use OpenBLAS.

import COpenBLAS

enum BLASCore {
    /// OpenBLAS's name of the kernel it chose for this CPU (e.g. "Haswell", "Zen", "Cooperlake").
    static var name: String { String(cString: openblas_get_corename()) }
}
