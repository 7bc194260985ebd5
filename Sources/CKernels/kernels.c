// Vectorised elementwise kernels: softmax and SiLU with an FMA form of Cephes exp, erf and the exact-GELU
// GEGLU, group-norm statistics (see CKernels.h). Written as plain loops that clang vectorises; compiled
// once per instruction set (SSE2 baseline, AVX2, AVX-512F) and chosen at run time. FP contraction
// is off so every variant rounds identically, and reductions use a fixed lane structure, so the
// output bits do not depend on which variant runs.
#include "CKernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#pragma clang fp contract(off)

#define LANES 16
// Rows a layer norm sums side by side: each row's sums stay one chain in channel order (the
// same bits as a row at a time), but LN_ROWS independent chains hide the add latency.
#define LN_ROWS 8
// Rows a softmax finishes side by side (their serial lane sums hide each other's add latency).
#define SM_ROWS 4

// expf by Cephes's range reduction and polynomial (as avx_mathfun.h's exp256_ps): x = n ln2 + r,
// exp(r) by a degree-5 polynomial, with fused multiply-adds and round-to-nearest: 21 operations
// per lane (Cephes's floor-based form took 33), within 8e-8 relative of exp on [-87, 88] (tested).
// Below ln(FLT_MIN) (-87.34) it is 0; above 88.38 huge or infinite (SiLU and softmax need no more).
// fmaf and rintf round exactly as the vector instructions do, so every variant gives the same
// bits (the portable one through libm on CPUs without FMA).
static inline float fast_exp(float x) {
    const float hi = 88.3762626647949f, lo = -87.3365447f;
    float xc = x > hi ? hi : x;
    xc = xc < lo ? lo : xc;
    float n = __builtin_rintf(xc * 1.44269504088896341f);
    float r = __builtin_fmaf(n, -0.693359375f, xc);
    r = __builtin_fmaf(n, 2.12194440e-4f, r);
    float z = r * r;
    float y = 1.9875691500E-4f;
    y = __builtin_fmaf(y, r, 1.3981999507E-3f);
    y = __builtin_fmaf(y, r, 8.3334519073E-3f);
    y = __builtin_fmaf(y, r, 4.1665795894E-2f);
    y = __builtin_fmaf(y, r, 1.6666665459E-1f);
    y = __builtin_fmaf(y, r, 5.0000001201E-1f);
    y = __builtin_fmaf(y, z, r);
    y = y + 1.0f;
    union { int32_t i; float f; } p;
    p.i = ((int32_t)n + 127) << 23;                  // 2^n
    float e = y * p.f;
    return x < lo ? 0.0f : e;                        // exp(-inf) and deep underflow are 0
}

// erf as Eigen's generic_fast_erf_float (the XLA/TensorFlow rational fit): x clamped to [-4, 4],
// erf(x) = x p(x^2) / q(x^2); within 4e-7 absolute (tested).
static inline float rational_erf(float a) {
    float x = a > 4.0f ? 4.0f : a;
    x = x < -4.0f ? -4.0f : x;
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p = x * p;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return p / q;
}

static inline float exact_gelu(float g) { return 0.5f * g * (1.0f + rational_erf(g * 0.70710678118654752f)); }

#define SOFTMAX_LANES(NAME, ATTR)                                                              \
    /* One row: m = max(m0, max of the row), the row replaced by exp(x - m), its LANES lane    \
       partial sums in part; returns m. */                                                     \
    ATTR static inline __attribute__((always_inline)) float NAME(float *row, int64_t n, float m0, float *part) { \
        int64_t full = n - n % LANES;                                                          \
        float top[LANES];                                                                      \
        for (int k = 0; k < LANES; k++) top[k] = -INFINITY;                                    \
        for (int64_t j = 0; j < full; j += LANES)                                              \
            for (int k = 0; k < LANES; k++) top[k] = row[j + k] > top[k] ? row[j + k] : top[k]; \
        for (int64_t j = full; j < n; j++) top[0] = row[j] > top[0] ? row[j] : top[0];         \
        float m = m0;                                                                          \
        for (int k = 0; k < LANES; k++) m = top[k] > m ? top[k] : m;                           \
        for (int k = 0; k < LANES; k++) part[k] = 0;                                           \
        for (int64_t j = 0; j < full; j += LANES)                                              \
            for (int k = 0; k < LANES; k++) {                                                  \
                float e = fast_exp(row[j + k] - m);                                            \
                row[j + k] = e;                                                                \
                part[k] += e;                                                                  \
            }                                                                                  \
        for (int64_t j = full; j < n; j++) {                                                   \
            float e = fast_exp(row[j] - m);                                                    \
            row[j] = e;                                                                        \
            part[j - full] += e;                                                               \
        }                                                                                      \
        return m;                                                                              \
    }

#define DEFINE_KERNELS(SUFFIX, ATTR)                                                           \
    ATTR static void group_stats_##SUFFIX(const float *x, int64_t positions, int64_t c, int64_t per, \
                                          int64_t g0, int64_t g1, float eps, double *acc,       \
                                          float *mean, float *rstd) {                          \
        int64_t c0 = g0 * per, w = (g1 - g0) * per;                                            \
        double count = (double)positions * (double)per;                                        \
        for (int64_t j = 0; j < w; j++) acc[j] = 0;                                            \
        for (int64_t p = 0; p < positions; p++) {                                              \
            const float *row = x + p * c + c0;                                                 \
            for (int64_t j = 0; j < w; j++) acc[j] += (double)row[j];                          \
        }                                                                                      \
        for (int64_t g = 0; g < g1 - g0; g++) {                                                \
            double sum = 0;                                                                    \
            for (int64_t j = 0; j < per; j++) sum += acc[g * per + j];                         \
            double m = sum / count;                                                            \
            mean[g] = (float)m;                                                                \
            for (int64_t j = 0; j < per; j++) acc[w + g * per + j] = m;                        \
        }                                                                                      \
        for (int64_t j = 0; j < w; j++) acc[j] = 0;                                            \
        for (int64_t p = 0; p < positions; p++) {                                              \
            const float *row = x + p * c + c0;                                                 \
            for (int64_t j = 0; j < w; j++) {                                                  \
                double d = (double)row[j] - acc[w + j];                                        \
                acc[j] += d * d;                                                               \
            }                                                                                  \
        }                                                                                      \
        for (int64_t g = 0; g < g1 - g0; g++) {                                                \
            double sq = 0;                                                                     \
            for (int64_t j = 0; j < per; j++) sq += acc[g * per + j];                          \
            rstd[g] = (float)(1.0 / sqrt(sq / count + (double)eps));                           \
        }                                                                                      \
    }                                                                                          \
    ATTR static void silu_##SUFFIX(const float *x, float *y, int64_t n) {                      \
        _Pragma("clang loop vectorize(assume_safety)")                                        \
        for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + fast_exp(-x[i]));                \
    }                                                                                          \
    ATTR static void group_norm_apply_##SUFFIX(const float *x, float *y, int64_t rows, int64_t c, \
                                               const float *scale, const float *shift, int silu) { \
        for (int64_t r = 0; r < rows; r++) {                                                   \
            const float *s = x + r * c;                                                        \
            float *d = y + r * c;                                                              \
            for (int64_t j = 0; j < c; j++) d[j] = s[j] * scale[j] + shift[j];                 \
            if (silu) silu_##SUFFIX(d, d, c);                                                  \
        }                                                                                      \
    }                                                                                          \
    ATTR static void erf_##SUFFIX(const float *x, float *y, int64_t n) {                       \
        _Pragma("clang loop vectorize(assume_safety)")                                        \
        for (int64_t i = 0; i < n; i++) y[i] = rational_erf(x[i]);                             \
    }                                                                                          \
    ATTR static void geglu_##SUFFIX(const float *x, float *y, int64_t rows, int64_t d) {       \
        for (int64_t r = 0; r < rows; r++) {                                                   \
            const float *h = x + r * 2 * d, *g = h + d;                                        \
            float *o = y + r * d;                                                              \
            for (int64_t j = 0; j < d; j++) o[j] = h[j] * exact_gelu(g[j]);                    \
        }                                                                                      \
    }                                                                                          \
    ATTR static void exp_##SUFFIX(const float *x, float *y, int64_t n) {                       \
        _Pragma("clang loop vectorize(assume_safety)")                                        \
        for (int64_t i = 0; i < n; i++) y[i] = fast_exp(x[i]);                                 \
    }                                                                                          \
    SOFTMAX_LANES(softmax_lanes_##SUFFIX, ATTR)                                                \
    ATTR static void online_softmax_##SUFFIX(float *x, int64_t rows, int64_t n, int64_t stride,  \
                                             float *runMax, float *runSum, float *rescale) {  \
        for (int64_t r = 0; r < rows; r++) {                                                   \
            float part[LANES];                                                                 \
            float m = softmax_lanes_##SUFFIX(x + r * stride, n, runMax[r], part);              \
            float sum = 0;                                                                     \
            for (int k = 0; k < LANES; k++) sum += part[k];                                    \
            float a = runMax[r] == -INFINITY ? 0.0f : fast_exp(runMax[r] - m);                 \
            rescale[r] = a;                                                                    \
            runSum[r] = runSum[r] * a + sum;                                                   \
            runMax[r] = m;                                                                     \
        }                                                                                      \
    }                                                                                          \
    /* ck_online_softmax_panels: LANES queries at a time, their keys down the panel; the row  \
       kernel's chains per query (lane max, lane-indexed partial sums by key mod LANES, the    \
       partial sums added in lane order), so the same bits as ck_online_softmax_rows on the    \
       transposed chunk. */                                                                    \
    ATTR static void online_softmax_panels_##SUFFIX(float *s, int64_t queries, int64_t keys,   \
                                                    float *runMax, float *runSum, float *rescale) { \
        int64_t full = keys - keys % LANES;                                                    \
        for (int64_t q0 = 0; q0 < queries; q0 += LANES) {                                      \
            float *panel = s + q0 / CK_PANEL * CK_PANEL * keys + q0 % CK_PANEL;                \
            /* The max in 4 chains (keys mod 4; any order gives the same max), then the old one. */ \
            float top[4][LANES], m[LANES], part[LANES][LANES], sum[LANES];                     \
            for (int c = 0; c < 4; c++)                                                        \
                for (int l = 0; l < LANES; l++) top[c][l] = -INFINITY;                         \
            for (int64_t p = 0; p < keys; p++)                                                 \
                for (int l = 0; l < LANES; l++) {                                              \
                    float x = panel[p * CK_PANEL + l];                                         \
                    top[p % 4][l] = x > top[p % 4][l] ? x : top[p % 4][l];                     \
                }                                                                              \
            for (int l = 0; l < LANES; l++) {                                                  \
                float t = top[0][l];                                                           \
                for (int c = 1; c < 4; c++) t = top[c][l] > t ? top[c][l] : t;                 \
                m[l] = t > runMax[q0 + l] ? t : runMax[q0 + l];                                \
            }                                                                                  \
            for (int k = 0; k < LANES; k++)                                                    \
                for (int l = 0; l < LANES; l++) part[k][l] = 0;                                \
            for (int64_t p0 = 0; p0 < full; p0 += LANES)                                       \
                for (int k = 0; k < LANES; k++) {                                              \
                    float *row = panel + (p0 + k) * CK_PANEL;                                  \
                    for (int l = 0; l < LANES; l++) {                                          \
                        float e = fast_exp(row[l] - m[l]);                                     \
                        row[l] = e;                                                            \
                        part[k][l] += e;                                                       \
                    }                                                                          \
                }                                                                              \
            for (int64_t p = full; p < keys; p++) {                                            \
                float *row = panel + p * CK_PANEL;                                             \
                for (int l = 0; l < LANES; l++) {                                              \
                    float e = fast_exp(row[l] - m[l]);                                         \
                    row[l] = e;                                                                \
                    part[p - full][l] += e;                                                    \
                }                                                                              \
            }                                                                                  \
            for (int l = 0; l < LANES; l++) sum[l] = 0;                                        \
            for (int k = 0; k < LANES; k++)                                                    \
                for (int l = 0; l < LANES; l++) sum[l] += part[k][l];                          \
            for (int l = 0; l < LANES; l++) {                                                  \
                float old = runMax[q0 + l];                                                    \
                float a = old == -INFINITY ? 0.0f : fast_exp(old - m[l]);                      \
                rescale[q0 + l] = a;                                                           \
                runSum[q0 + l] = runSum[q0 + l] * a + sum[l];                                  \
                runMax[q0 + l] = m[l];                                                         \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    ATTR static void layer_norm_##SUFFIX(const float *x, float *y, int64_t rows, int64_t c,     \
                                         const float *gamma, const float *beta, float eps) {    \
        for (int64_t r0 = 0; r0 < rows; r0 += LN_ROWS) {                                       \
            int64_t nr = rows - r0 < LN_ROWS ? rows - r0 : LN_ROWS;                            \
            /* A partial last group reads its first row in the missing rows' places (discarded). */ \
            const float *row[LN_ROWS];                                                         \
            for (int i = 0; i < LN_ROWS; i++) row[i] = x + (r0 + (i < nr ? i : 0)) * c;       \
            double sum[LN_ROWS] = {0}, sq[LN_ROWS] = {0}, m[LN_ROWS];                           \
            float mf[LN_ROWS], rs[LN_ROWS];                                                    \
            for (int64_t j = 0; j < c; j++)                                                    \
                for (int i = 0; i < LN_ROWS; i++) sum[i] += (double)row[i][j];                 \
            for (int i = 0; i < LN_ROWS; i++) m[i] = sum[i] / (double)c;                       \
            for (int64_t j = 0; j < c; j++)                                                    \
                for (int i = 0; i < LN_ROWS; i++) {                                            \
                    double v = (double)row[i][j] - m[i];                                       \
                    sq[i] += v * v;                                                            \
                }                                                                              \
            for (int i = 0; i < nr; i++) {                                                     \
                rs[i] = (float)(1.0 / sqrt(sq[i] / (double)c + (double)eps));                  \
                mf[i] = (float)m[i];                                                           \
                const float *s = row[i];                                                       \
                float *d = y + (r0 + i) * c;                                                   \
                for (int64_t j = 0; j < c; j++)                                                \
                    d[j] = (s[j] - mf[i]) * rs[i] * (gamma ? gamma[j] : 1.0f) + (beta ? beta[j] : 0.0f); \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    /* Winograd F(2x2, 3x3) input transform V = B^T d B of tiles [t0, t1) (global tile index t =  \
       (b tilesY + ty) tilesX + tx; 4x4 patches from (2 ty - 1, 2 tx - 1), zeros outside); tile t  \
       goes to v + (t - t0) c, position e at + e stride. One pass per output row of B^T d, in the  \
       order of the Swift transform it replaced (same bits). */                               \
    ATTR static void winograd_input_##SUFFIX(const float *src, int64_t h, int64_t w, int64_t c,    \
                                             int64_t tilesY, int64_t tilesX, int64_t t0, int64_t t1, \
                                             const float *zero, float *v, int64_t stride) {    \
        for (int64_t t = t0; t < t1; t++) {                                                    \
            int64_t b = t / (tilesY * tilesX), ty = (t / tilesX) % tilesY, tx = t % tilesX;     \
            const float *d[16];                                                                \
            for (int i = 0; i < 4; i++) {                                                      \
                int64_t iy = 2 * ty - 1 + i;                                                   \
                for (int j = 0; j < 4; j++) {                                                  \
                    int64_t ix = 2 * tx - 1 + j;                                               \
                    d[i * 4 + j] = iy >= 0 && iy < h && ix >= 0 && ix < w ? src + ((b * h + iy) * w + ix) * c : zero; \
                }                                                                              \
            }                                                                                  \
            float *out = v + (t - t0) * c;                                                     \
            for (int i = 0; i < 4; i++) {                                                      \
                /* Row i of B^T d is d[p] + sign d[q] per column: d0 - d2, d1 + d2, d2 - d1, d1 - d3 \
                   (a + -1 b is exactly a - b, fused or not). */                              \
                static const int P[4] = {0, 1, 2, 1}, Q[4] = {2, 2, 1, 3};                     \
                static const float SIGN[4] = {-1.0f, 1.0f, -1.0f, -1.0f};                      \
                int p = P[i], q = Q[i];                                                        \
                float sign = SIGN[i];                                                          \
                const float *a0 = d[p * 4], *a1 = d[p * 4 + 1], *a2 = d[p * 4 + 2], *a3 = d[p * 4 + 3]; \
                const float *b0 = d[q * 4], *b1 = d[q * 4 + 1], *b2 = d[q * 4 + 2], *b3 = d[q * 4 + 3]; \
                float *o0 = out + (i * 4) * stride, *o1 = o0 + stride, *o2 = o1 + stride, *o3 = o2 + stride; \
                _Pragma("clang loop vectorize(assume_safety)")                                \
                for (int64_t k = 0; k < c; k++) {                                              \
                    float x0 = a0[k] + sign * b0[k], x1 = a1[k] + sign * b1[k];                \
                    float x2 = a2[k] + sign * b2[k], x3 = a3[k] + sign * b3[k];                \
                    o0[k] = x0 - x2;                                                           \
                    o1[k] = x1 + x2;                                                           \
                    o2[k] = x2 - x1;                                                           \
                    o3[k] = x1 - x3;                                                           \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    /* Winograd output transform Y = A^T M A (+ bias) of tiles [t0, t1): tile t's 16 positions at \
       m + (t - t0) c + e stride; its 2x2 outputs cropped at odd edges of the [N, h, w, c] map.   \
       The sums run in the Swift transform's order (same bits); then + residual, then ReLU   \
       (x > 0 ? x : 0, as Tensor.relu) when asked. */                                          \
    ATTR static void winograd_output_##SUFFIX(const float *m, int64_t stride, int64_t h, int64_t w, \
                                              int64_t c, int64_t tilesY, int64_t tilesX, int64_t t0, \
                                              int64_t t1, const float *bias,                   \
                                              const float *residual, int relu, float *dst) {   \
        for (int64_t t = t0; t < t1; t++) {                                                    \
            int64_t b = t / (tilesY * tilesX), ty = (t / tilesX) % tilesY, tx = t % tilesX;     \
            int64_t y0 = 2 * ty, x0 = 2 * tx;                                                  \
            int rows = h - y0 < 2 ? 1 : 2, columns = w - x0 < 2 ? 1 : 2;                      \
            const float *p = m + (t - t0) * c;                                                 \
            int64_t offset = ((b * h + y0) * w + x0) * c;                                      \
            float *o = dst + offset, *o1 = o + w * c;                                          \
            _Pragma("clang loop vectorize(assume_safety)")                                    \
            for (int64_t k = 0; k < c; k++) {                                                  \
                float bk = bias ? bias[k] : 0.0f, top[4], bottom[4];                           \
                for (int j = 0; j < 4; j++) {                                                  \
                    float m0 = p[j * stride + k], m1 = p[(4 + j) * stride + k];                \
                    float m2 = p[(8 + j) * stride + k], m3 = p[(12 + j) * stride + k];         \
                    top[j] = m0 + m1 + m2;                                                     \
                    bottom[j] = m1 - m2 - m3;                                                  \
                }                                                                              \
                o[k] = top[0] + top[1] + top[2] + bk;                                          \
                if (columns > 1) o[c + k] = top[1] - top[2] - top[3] + bk;                     \
                if (rows > 1) {                                                                \
                    o1[k] = bottom[0] + bottom[1] + bottom[2] + bk;                            \
                    if (columns > 1) o1[c + k] = bottom[1] - bottom[2] - bottom[3] + bk;       \
                }                                                                              \
            }                                                                                  \
            if (residual) { /* after the tile's values: their bits are those of a separate add */ \
                const float *r = residual + offset, *r1 = r + w * c;                           \
                int64_t span = columns * c;                                                    \
                for (int64_t k = 0; k < span; k++) o[k] += r[k];                               \
                if (rows > 1)                                                                  \
                    for (int64_t k = 0; k < span; k++) o1[k] += r1[k];                         \
            }                                                                                  \
            if (relu) {                                                                        \
                int64_t span = columns * c;                                                    \
                for (int64_t k = 0; k < span; k++) o[k] = o[k] > 0.0f ? o[k] : 0.0f;           \
                if (rows > 1)                                                                  \
                    for (int64_t k = 0; k < span; k++) o1[k] = o1[k] > 0.0f ? o1[k] : 0.0f;    \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    /* Rows in groups of SM_ROWS: each row's lane sums are one chain in lane order, as the     \
       online kernel's (runSum 0 * 0 + sum), but SM_ROWS rows' chains run side by side. */    \
    ATTR static void softmax_##SUFFIX(float *x, int64_t rows, int64_t n, int64_t stride) {     \
        float part[SM_ROWS][LANES], sum[SM_ROWS];                                              \
        for (int64_t r0 = 0; r0 < rows; r0 += SM_ROWS) {                                       \
            int nr = rows - r0 < SM_ROWS ? (int)(rows - r0) : SM_ROWS;                         \
            for (int i = 0; i < nr; i++) softmax_lanes_##SUFFIX(x + (r0 + i) * stride, n, -INFINITY, part[i]); \
            for (int i = 0; i < SM_ROWS; i++) sum[i] = 0;                                      \
            for (int k = 0; k < LANES; k++)                                                    \
                for (int i = 0; i < SM_ROWS; i++) sum[i] += i < nr ? part[i][k] : 0.0f;        \
            for (int i = 0; i < nr; i++) {                                                     \
                float inv = 1.0f / (0.0f * 0.0f + sum[i]);                                     \
                float *row = x + (r0 + i) * stride;                                            \
                for (int64_t j = 0; j < n; j++) row[j] *= inv;                                 \
            }                                                                                  \
        }                                                                                      \
    }

#if defined(__x86_64__) && defined(__clang__)
// fast_exp for arguments <= 0 (softmax's x - max) on AVX-512: 2^n by vscalefps instead of
// building it in the exponent bits (three integer operations and a multiply), and no clamp from
// above. For n in [-126, 0] both are y * 2^n rounded once, so the bits are fast_exp's (NaN in,
// NaN out, as there); the clamp's max takes x second so that a NaN passes through as in C.
__attribute__((target("avx512f"))) static inline __m512 exp_nonpositive_avx512(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.3365447f);
    __m512 xc = _mm512_max_ps(lo, x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), xc);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 z = _mm512_mul_ps(r, r);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, z, r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_US), y, n);  // x < lo: 0
}

// online_softmax_panels in AVX-512 intrinsics: the generic kernel's chains (the max in 4
// chains, the 16 partial sums by key mod 16 held in registers, added in order), exp as above.
__attribute__((target("avx512f"))) static void online_softmax_panels_avx512x(float *s, int64_t queries, int64_t keys,
                                                                           float *runMax, float *runSum,
                                                                           float *rescale) {
    int64_t full = keys - keys % LANES;
    for (int64_t q0 = 0; q0 < queries; q0 += LANES) {
        float *panel = s + q0 / CK_PANEL * CK_PANEL * keys + q0 % CK_PANEL;
        __m512 top[4];
        for (int c = 0; c < 4; c++) top[c] = _mm512_set1_ps(-INFINITY);
        int64_t p = 0;
        for (; p + 4 <= keys; p += 4)
            for (int c = 0; c < 4; c++) top[c] = _mm512_max_ps(_mm512_loadu_ps(panel + (p + c) * CK_PANEL), top[c]);
        for (; p < keys; p++) top[p % 4] = _mm512_max_ps(_mm512_loadu_ps(panel + p * CK_PANEL), top[p % 4]);
        __m512 t = top[0];
        for (int c = 1; c < 4; c++) t = _mm512_max_ps(top[c], t);
        __m512 old = _mm512_loadu_ps(runMax + q0);
        __m512 m = _mm512_max_ps(t, old);
        __m512 part[LANES];
        for (int k = 0; k < LANES; k++) part[k] = _mm512_setzero_ps();
        for (int64_t p0 = 0; p0 < full; p0 += LANES)
#pragma clang loop unroll(full)
            for (int k = 0; k < LANES; k++) {
                float *row = panel + (p0 + k) * CK_PANEL;
                __m512 e = exp_nonpositive_avx512(_mm512_sub_ps(_mm512_loadu_ps(row), m));
                _mm512_storeu_ps(row, e);
                part[k] = _mm512_add_ps(part[k], e);
            }
        for (int64_t q = full; q < keys; q++) {
            float *row = panel + q * CK_PANEL;
            __m512 e = exp_nonpositive_avx512(_mm512_sub_ps(_mm512_loadu_ps(row), m));
            _mm512_storeu_ps(row, e);
            part[q - full] = _mm512_add_ps(part[q - full], e);
        }
        __m512 sum = _mm512_setzero_ps();
        for (int k = 0; k < LANES; k++) sum = _mm512_add_ps(sum, part[k]);
        __mmask16 started = _mm512_cmp_ps_mask(old, _mm512_set1_ps(-INFINITY), _CMP_NEQ_UQ);
        __m512 a = _mm512_maskz_mov_ps(started, exp_nonpositive_avx512(_mm512_sub_ps(old, m)));
        _mm512_storeu_ps(rescale + q0, a);
        _mm512_storeu_ps(runSum + q0, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(runSum + q0), a), sum));
        _mm512_storeu_ps(runMax + q0, m);
    }
}
#endif

#if defined(__x86_64__) && defined(__clang__)
DEFINE_KERNELS(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
// The AVX2 variant needs FMA too: exp's fmaf must be an instruction there, not a libm call
// (without it softmax and SiLU ran 4x slower on that variant). FP contraction stays off, so
// nothing else fuses.
DEFINE_KERNELS(avx2, __attribute__((target("avx2,fma"))))
#endif
DEFINE_KERNELS(base, )

typedef enum { PATH_UNKNOWN, PATH_BASE, PATH_AVX2, PATH_AVX512 } path_t;
static volatile path_t chosen = PATH_UNKNOWN;

static path_t path(void) {
    path_t p = chosen;
    if (p != PATH_UNKNOWN) return p;
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        p = PATH_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        p = PATH_AVX2;
    else
        p = PATH_BASE;
    // STYLEDIFF_KERNELS=avx2 or portable asks for a narrower variant (same bits, for checking that).
    const char *asked = getenv("STYLEDIFF_KERNELS");
    if (asked && strcmp(asked, "portable") == 0) p = PATH_BASE;
    if (asked && strcmp(asked, "avx2") == 0 && p == PATH_AVX512) p = PATH_AVX2;
#else
    p = PATH_BASE;
#endif
    chosen = p;
    return p;
}

int ck_force_path(int p) {
    path_t old = path();
    if (p >= PATH_BASE && p <= PATH_AVX512) {
#if defined(__x86_64__) && defined(__clang__)
        if ((p == PATH_AVX512 && !(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                                   __builtin_cpu_supports("avx512vl"))) ||
            (p == PATH_AVX2 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))))
            return -1;
#else
        if (p != PATH_BASE) return -1;
#endif
        chosen = (path_t)p;
    }
    return (int)old;
}

// Calls NAME_avx512, NAME_avx2 or NAME_base with ARGS, by the variant in use.
#if defined(__x86_64__) && defined(__clang__)
#define DISPATCH(NAME, ARGS)                                                                   \
    switch (path()) {                                                                          \
    case PATH_AVX512: NAME##_avx512 ARGS; return;                                              \
    case PATH_AVX2: NAME##_avx2 ARGS; return;                                                  \
    default: NAME##_base ARGS; return;                                                         \
    }
#else
#define DISPATCH(NAME, ARGS) NAME##_base ARGS;
#endif

void ck_softmax_rows(float *x, int64_t rows, int64_t n, int64_t stride) { DISPATCH(softmax, (x, rows, n, stride)) }

void ck_layer_norm_rows(const float *x, float *y, int64_t rows, int64_t c, const float *gamma, const float *beta, float eps) {
    DISPATCH(layer_norm, (x, y, rows, c, gamma, beta, eps))
}

void ck_exp(const float *x, float *y, int64_t n) { DISPATCH(exp, (x, y, n)) }

void ck_online_softmax_rows(float *x, int64_t rows, int64_t n, int64_t stride, float *runMax, float *runSum,
                            float *rescale) {
    DISPATCH(online_softmax, (x, rows, n, stride, runMax, runSum, rescale))
}

void ck_online_softmax_panels(float *s, int64_t queries, int64_t keys, float *runMax, float *runSum, float *rescale) {
#if defined(__x86_64__) && defined(__clang__)
    if (path() == PATH_AVX512) {
        online_softmax_panels_avx512x(s, queries, keys, runMax, runSum, rescale);
        return;
    }
#endif
    DISPATCH(online_softmax_panels, (s, queries, keys, runMax, runSum, rescale))
}

void ck_transpose(const float *src, int64_t rows, int64_t cols, int64_t lds, float *dst, int64_t ldd) {
    enum { B = 16 };  // 16 source rows at a time: each destination row gets 16 consecutive floats
    for (int64_t i0 = 0; i0 < rows; i0 += B) {
        int64_t n = rows - i0 < B ? rows - i0 : B;
        for (int64_t j = 0; j < cols; j++) {
            float *d = dst + j * ldd + i0;
            const float *c = src + i0 * lds + j;
            for (int64_t i = 0; i < n; i++) d[i] = c[i * lds];
        }
    }
}

void ck_scale_columns(float *x, int64_t rows, int64_t cols, int64_t ldx, const float *scale) {
    for (int64_t i = 0; i < rows; i++) {
        float *row = x + i * ldx;
        for (int64_t j = 0; j < cols; j++) row[j] *= scale[j];
    }
}

void ck_transpose_divided(const float *src, int64_t rows, int64_t cols, int64_t lds, const float *sums, float *dst,
                          int64_t ldd) {
    float inv[64];
    for (int64_t j0 = 0; j0 < cols; j0 += 64) {
        int64_t n = cols - j0 < 64 ? cols - j0 : 64;
        for (int64_t j = 0; j < n; j++) inv[j] = 1.0f / sums[j0 + j];
        for (int64_t j = 0; j < n; j++) {
            float *d = dst + (j0 + j) * ldd;
            const float *c = src + j0 + j;
            for (int64_t i = 0; i < rows; i++) d[i] = c[i * lds] * inv[j];
        }
    }
}

void ck_erf(const float *x, float *y, int64_t n) { DISPATCH(erf, (x, y, n)) }

void ck_geglu_rows(const float *x, float *y, int64_t rows, int64_t d) { DISPATCH(geglu, (x, y, rows, d)) }

void ck_silu(const float *x, float *y, int64_t n) { DISPATCH(silu, (x, y, n)) }

void ck_group_norm_apply(const float *x, float *y, int64_t rows, int64_t c, const float *scale, const float *shift,
                         int silu) {
    DISPATCH(group_norm_apply, (x, y, rows, c, scale, shift, silu))
}

void ck_group_stats(const float *x, int64_t positions, int64_t c, int64_t per, int64_t g0, int64_t g1,
                    float eps, double *scratch, float *mean, float *rstd) {
    DISPATCH(group_stats, (x, positions, c, per, g0, g1, eps, scratch, mean, rstd))
}

void ck_winograd_input(const float *src, int64_t h, int64_t w, int64_t c, int64_t tilesY, int64_t tilesX, int64_t t0,
                       int64_t t1, const float *zero, float *v, int64_t stride) {
    DISPATCH(winograd_input, (src, h, w, c, tilesY, tilesX, t0, t1, zero, v, stride))
}

void ck_winograd_output(const float *m, int64_t stride, int64_t h, int64_t w, int64_t c, int64_t tilesY, int64_t tilesX,
                        int64_t t0, int64_t t1, const float *bias, const float *residual, int relu, float *dst) {
    DISPATCH(winograd_output, (m, stride, h, w, c, tilesY, tilesX, t0, t1, bias, residual, relu, dst))
}

// Winograd F(2x2, 3x3) filters U[e] = (G g G^T)[e] for the output channels of panels [p0, p1)
// (CK_PANEL channels each) of w [cout, 3, 3, cin], written into position e's GEMM panels at
// panels + e * panelCount (ck_pack_panels' layout: element (o, c) of U[e] at panel o / CK_PANEL,
// offset c * CK_PANEL + o % CK_PANEL). Per panel and block of 16 input channels, the 16 values of
// each filter are made with lanes over channels, then written as whole panel rows (the per-lane
// scatter this replaces ran at ~0.3 GB/s). G g: rows of g are ky; columns of G^T then give e = r * 4 + x.
void ck_winograd_filters(const float *w, int64_t cout, int64_t cin, float *panels, int64_t panelCount, int64_t p0,
                         int64_t p1) {
    enum { CB = 16 };
    float u[16][CK_PANEL][CB];
    for (int64_t p = p0; p < p1; p++) {
        int64_t o0 = p * CK_PANEL, cols = cout - o0 < CK_PANEL ? cout - o0 : CK_PANEL;
        for (int64_t c0 = 0; c0 < cin; c0 += CB) {
            int64_t cn = cin - c0 < CB ? cin - c0 : CB;
            for (int64_t ol = 0; ol < cols; ol++) {
                const float *g = w + (o0 + ol) * 9 * cin + c0;
                float gg[3][4][CB];
                for (int x = 0; x < 3; x++)
                    for (int64_t c = 0; c < cn; c++) {
                        float g0 = g[x * cin + c], g1 = g[(3 + x) * cin + c], g2 = g[(6 + x) * cin + c];
                        gg[x][0][c] = g0;
                        gg[x][1][c] = (g0 + g1 + g2) * 0.5f;
                        gg[x][2][c] = (g0 - g1 + g2) * 0.5f;
                        gg[x][3][c] = g2;
                    }
                for (int r = 0; r < 4; r++)
                    for (int64_t c = 0; c < cn; c++) {
                        float a0 = gg[0][r][c], a1 = gg[1][r][c], a2 = gg[2][r][c];
                        u[r * 4][ol][c] = a0;
                        u[r * 4 + 1][ol][c] = (a0 + a1 + a2) * 0.5f;
                        u[r * 4 + 2][ol][c] = (a0 - a1 + a2) * 0.5f;
                        u[r * 4 + 3][ol][c] = a2;
                    }
            }
            for (int e = 0; e < 16; e++) {
                float *dst = panels + e * panelCount + o0 * cin + c0 * CK_PANEL;
                for (int64_t c = 0; c < cn; c++)
                    for (int64_t ol = 0; ol < cols; ol++) dst[c * CK_PANEL + ol] = u[e][ol][c];
            }
        }
    }
}
