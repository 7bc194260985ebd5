// FMA peak probe: 12 independent FMA accumulator chains hide the FMA latency (4-5 cycles x
// 2 ports), so one core runs at its FP32 FMA throughput limit. The AVX2 (8-wide) loop runs
// everywhere; where AVX-512F exists a 16-wide loop runs too and the caller keeps the faster
// (on Zen 4 both give the same rate, on Intel server cores AVX-512 doubles it).
#include "CPeakProbe.h"
#include <immintrin.h>
#include <math.h>

int peak_probe_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

double peak_probe_flops(int64_t iterations) { return (double)iterations * 12.0 * 8.0 * 2.0; }

__attribute__((target("avx2,fma"))) static float run_avx2(int64_t iterations) {
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(0.0f), c1 = _mm256_set1_ps(0.1f), c2 = _mm256_set1_ps(0.2f),
           c3 = _mm256_set1_ps(0.3f), c4 = _mm256_set1_ps(0.4f), c5 = _mm256_set1_ps(0.5f),
           c6 = _mm256_set1_ps(0.6f), c7 = _mm256_set1_ps(0.7f), c8 = _mm256_set1_ps(0.8f),
           c9 = _mm256_set1_ps(0.9f), c10 = _mm256_set1_ps(1.0f), c11 = _mm256_set1_ps(1.1f);
    for (int64_t i = 0; i < iterations; ++i) {
        c0 = _mm256_fmadd_ps(c0, a, b); c1 = _mm256_fmadd_ps(c1, a, b);
        c2 = _mm256_fmadd_ps(c2, a, b); c3 = _mm256_fmadd_ps(c3, a, b);
        c4 = _mm256_fmadd_ps(c4, a, b); c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b); c7 = _mm256_fmadd_ps(c7, a, b);
        c8 = _mm256_fmadd_ps(c8, a, b); c9 = _mm256_fmadd_ps(c9, a, b);
        c10 = _mm256_fmadd_ps(c10, a, b); c11 = _mm256_fmadd_ps(c11, a, b);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

__attribute__((target("avx512f"))) static float run_avx512(int64_t iterations) {
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    __m512 c[12];
    for (int j = 0; j < 12; ++j) c[j] = _mm512_set1_ps(0.1f * (float)j);
    for (int64_t i = 0; i < iterations; ++i) {
        c[0] = _mm512_fmadd_ps(c[0], a, b); c[1] = _mm512_fmadd_ps(c[1], a, b);
        c[2] = _mm512_fmadd_ps(c[2], a, b); c[3] = _mm512_fmadd_ps(c[3], a, b);
        c[4] = _mm512_fmadd_ps(c[4], a, b); c[5] = _mm512_fmadd_ps(c[5], a, b);
        c[6] = _mm512_fmadd_ps(c[6], a, b); c[7] = _mm512_fmadd_ps(c[7], a, b);
        c[8] = _mm512_fmadd_ps(c[8], a, b); c[9] = _mm512_fmadd_ps(c[9], a, b);
        c[10] = _mm512_fmadd_ps(c[10], a, b); c[11] = _mm512_fmadd_ps(c[11], a, b);
    }
    __m512 s = c[0];
    for (int j = 1; j < 12; ++j) s = _mm512_add_ps(s, c[j]);
    return _mm512_reduce_add_ps(s);
}

int peak_probe_avx512_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

float peak_probe_run(int64_t iterations) {
    if (!peak_probe_supported()) return NAN;
    return run_avx2(iterations);
}

float peak_probe_run_avx512(int64_t iterations) {
    if (!peak_probe_avx512_supported()) return NAN;
    return run_avx512(iterations);
}
