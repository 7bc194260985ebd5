// Which instruction-set variant of the C kernels (CKernels) runs on this CPU. Every variant gives
// the same bits; this is for reports (`stylediff info`, benchmarks).

import CKernels

public enum KernelVariant {
    /// "AVX-512", "AVX2" or "SSE2".
    public static var current: String {
        switch ck_force_path(0) {
        case 3: return "AVX-512"
        case 2: return "AVX2"
        default: return "SSE2"
        }
    }
}
