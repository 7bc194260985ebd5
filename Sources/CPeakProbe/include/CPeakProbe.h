// Measures the machine's FP32 FMA peak: 12 independent AVX2 FMA chains per thread.
#ifndef CPEAKPROBE_H
#define CPEAKPROBE_H
#include <stdint.h>

/// Runs `iterations` rounds of 12 x 8-wide FMAs on the calling thread; returns a value that
/// depends on every chain so the work cannot be optimised away. Returns NaN without AVX2+FMA.
float peak_probe_run(int64_t iterations);
/// FLOPs done by one call with `iterations` rounds (12 chains x 8 lanes x 2 flops).
double peak_probe_flops(int64_t iterations);
/// 1 when the CPU supports AVX2 and FMA.
int peak_probe_supported(void);
/// The same with 16-wide AVX-512 FMAs (twice the flops per iteration); NaN without AVX-512F.
float peak_probe_run_avx512(int64_t iterations);
/// 1 when the CPU supports AVX-512F.
int peak_probe_avx512_supported(void);

#endif
