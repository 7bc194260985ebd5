// Vectorised C kernels for the elementwise work the Swift compiler does not vectorise well
// (exp in softmax, erf in GELU). Each has a plain Swift twin in Tensors/Reference.swift that tests compare with.
#ifndef CKERNELS_H
#define CKERNELS_H
#include <stdint.h>

/// In-place softmax of `rows` rows of `n` floats, row stride `stride`. exp is the Cephes
/// polynomial (as in avx_mathfun's exp256_ps) in fused multiply-adds (about 1 ulp; kernels.c's
/// fast_exp); -inf entries give exactly 0.
/// Results are the same bits on every x86-64 path (SSE2, AVX2, AVX-512): no fused multiply-add
/// contraction, and the row sum is accumulated in 16 fixed interleaved partial sums added in a
/// fixed order, whatever the vector width.
void ck_softmax_rows(float *x, int64_t rows, int64_t n, int64_t stride);

/// One chunk of an online softmax (flash attention): per row r, m = max(runMax[r], max of the
/// row), the row becomes exp(x - m), rescale[r] = exp(runMax[r] - m) (0 while runMax[r] is -inf),
/// runSum[r] = runSum[r] * rescale[r] + the row's sum, runMax[r] = m. Fixed-lane sums as
/// ck_softmax_rows, with its exp; the same bits on every variant. Attention runs the transposed
/// form, ck_online_softmax_panels; this row form is its reference in tests.
void ck_online_softmax_rows(float *x, int64_t rows, int64_t n, int64_t stride, float *runMax, float *runSum,
                            float *rescale);

/// ck_online_softmax_rows on a chunk held transposed, as GEMM panels (ck_pack_panels' layout):
/// the score of query q against key p at s[q / CK_PANEL * CK_PANEL * keys + p * CK_PANEL +
/// q % CK_PANEL], keys by queries (queries rounded up to 16 are computed: lanes past `queries`
/// must hold finite values and are then ignored; runMax, runSum and rescale hold that many).
/// The same bits as ck_online_softmax_rows on the untransposed chunk, on every variant.
void ck_online_softmax_panels(float *s, int64_t queries, int64_t keys, float *runMax, float *runSum, float *rescale);

/// The floats of half or int8 panels that ck_sgemm_panels widens at a time for products of many
/// row blocks (1M); a positive `floats` sets it (tests make it small to reach several spans of
/// depth on small products). Returns the previous value. Only speed depends on it.
int64_t ck_widened_span_floats(int64_t floats);

/// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols.
void ck_transpose(const float *src, int64_t rows, int64_t cols, int64_t lds, float *dst, int64_t ldd);

/// x[i * ldx + j] *= scale[j] for i < rows, j < cols.
void ck_scale_columns(float *x, int64_t rows, int64_t cols, int64_t ldx, const float *scale);

/// dst[j * ldd + i] = src[i * lds + j] * (1 / sums[j]) for i < rows, j < cols: attention's
/// transposed output, normalised (a reciprocal, then a multiply, as a row-wise pass would).
void ck_transpose_divided(const float *src, int64_t rows, int64_t cols, int64_t lds, const float *sums, float *dst,
                          int64_t ldd);

/// exp of `n` floats (the same polynomial as ck_softmax_rows), for tests.
void ck_exp(const float *x, float *y, int64_t n);

/// SiLU x / (1 + exp(-x)) of `n` floats with the softmax's exp; `x` and `y` are the same or disjoint
/// (vectorised either way).
void ck_silu(const float *x, float *y, int64_t n);

/// Group norm's affine step on `rows` positions of `c` channels: y = x * scale + shift per
/// channel (a multiply, then an add), then SiLU in place when `silu` is set (ck_silu's bits).
void ck_group_norm_apply(const float *x, float *y, int64_t rows, int64_t c, const float *scale, const float *shift,
                         int silu);
/// Winograd F(2x2, 3x3) input transform of tiles [t0, t1) of an NHWC map [N, h, w, c] (see kernels.c).
void ck_winograd_input(const float *src, int64_t h, int64_t w, int64_t c, int64_t tilesY, int64_t tilesX, int64_t t0,
                       int64_t t1, const float *zero, float *v, int64_t stride);
/// Winograd F(2x2, 3x3) output transform (+ bias) of tiles [t0, t1) into an NHWC map [N, h, w, c];
/// with `residual` (a map like dst, or NULL) each value then gains the residual's: (y + bias) + r;
/// with `relu` nonzero each value is then max(v, 0) (v > 0 ? v : 0, the bits of a separate ReLU).
void ck_winograd_output(const float *m, int64_t stride, int64_t h, int64_t w, int64_t c, int64_t tilesY, int64_t tilesX,
                        int64_t t0, int64_t t1, const float *bias, const float *residual, int relu, float *dst);

/// Winograd F(2x2, 3x3) filters of w [cout, 3, 3, cin] for output panels [p0, p1), straight into
/// the 16 positions' GEMM panels (panels + e * panelCount, ck_pack_panels' layout; padding
/// columns of a last partial panel are left as they are).
void ck_winograd_filters(const float *w, int64_t cout, int64_t cin, float *panels, int64_t panelCount, int64_t p0,
                         int64_t p1);

/// The same filters from a prepacked convolution weight W [cout, 9 cin] (`panels` in `format`,
/// k order (kh, kw, cin)), output panel p (CK_PANEL output channels) into u + e * ldu for the 16
/// positions e: cin k-rows of CK_PANEL floats each, ck_pack_panels' layout (padding columns get
/// the transform of W's zero padding, 0). Halves and int8 are widened as the GEMM widens them,
/// so these are the bits of ck_winograd_filters on W unpacked; vectorised across the panel.
void ck_winograd_filters_panel(const void *panels, int format, int64_t cin, int64_t p, float *u, int64_t ldu);

/// erf of `n` floats: Eigen's rational fit (clamped to [-4, 4]), within 4e-7 absolute (tested).
void ck_erf(const float *x, float *y, int64_t n);

/// GEGLU of `rows` rows of 2d floats [hidden, gate] into rows of d: hidden * gelu(gate), with the
/// exact (erf) GELU that torch uses by default.
void ck_geglu_rows(const float *x, float *y, int64_t rows, int64_t d);

/// Layer norm of `rows` rows of `c` floats (torch nn.LayerNorm over the last axis) into y:
/// per row, mean and variance summed in double in channel order (one chain each, rows side by
/// side), rstd = (float)(1 / sqrt(var + eps)), y = (x - (float)mean) * rstd * gamma + beta in
/// float (gamma 1 and beta 0 when NULL). The same bits on every variant and for any grouping of rows.
void ck_layer_norm_rows(const float *x, float *y, int64_t rows, int64_t c, const float *gamma, const float *beta, float eps);

/// Group-norm statistics of one sample x [positions, c] (channels last) for groups g0..<g1 of
/// `per` channels: mean[g - g0] and rstd[g - g0] = 1 / sqrt(var + eps), accumulated in double per
/// channel over positions (vectorised across channels), then per group in channel order, so a
/// group's result does not depend on which groups share the call. `scratch` holds
/// 2 (g1 - g0) per doubles.
void ck_group_stats(const float *x, int64_t positions, int64_t c, int64_t per, int64_t g0, int64_t g1,
                    float eps, double *scratch, float *mean, float *rstd);

/// C[m, n] = beta * C + op(A) * alpha * op(B), row-major (op transposes when trans* is nonzero), as
/// packed blocks and one micro-kernel per variant. Each element is a single fused multiply-add chain
/// in k order started from beta * C (beta 0: from 0, C not read), so its bits do not depend on the
/// variant, the tiling or how C is split among calls. Returns 0, or 1 when the packing buffers could
/// not be allocated and the unpacked chain ran instead (same bits, slower).
int ck_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA, const float *b, int64_t ldb,
             int transB, float *c, int64_t ldc, float alpha, float beta);

/// ck_sgemm with an epilogue: when `bias` (n values) is given, every row of C starts as the bias
/// (beta is then 1); when `residual` (m x n, row stride ldr) is given, it is added after the
/// product. The bytes of copying the bias into C, ck_sgemm with beta 1, and adding the residual,
/// done per block of C while it is in cache.
int ck_sgemm_fused(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA, const float *b,
                   int64_t ldb, int transB, float *c, int64_t ldc, float alpha, float beta, const float *bias,
                   const float *residual, int64_t ldr);

/// The chain ck_sgemm computes, as a plain loop: tests compare ck_sgemm with it bit for bit.
void ck_sgemm_chain(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA, const float *b,
                    int64_t ldb, int transB, float *c, int64_t ldc, float alpha, float beta);

/// Floats of scratch ck_conv3x3_narrow needs for maps `w` wide with `cin` channels.
int64_t ck_conv3x3_narrow_scratch(int64_t w, int64_t cin);

/// A 3x3 stride-1 padding-1 convolution with 1-4 output channels, output rows [r0, r1) of one
/// image: x [h, w, cin], wt [cout, 9 cin] floats ((ky, kx, c) order), bias (cout values) and
/// residual (like y) optional, y [h, w, cout]. Each output value is the chain im2col + ck_sgemm
/// compute for it (from the bias, one fma per (ky, kx, c), padding read as 0, then + residual):
/// the same bits, on every variant. Returns 0, or 1 for arguments out of range (y untouched).
int ck_conv3x3_narrow(const float *x, int64_t h, int64_t w, int64_t cin, const float *wt, int64_t cout, const float *bias,
                      const float *residual, int64_t r0, int64_t r1, float *scratch, float *y);

/// Columns per prepacked panel (the widest micro-kernel's NR).
#define CK_PANEL 32

/// Floats (or halves) that W [n, k] takes as prepacked panels: n rounded up to CK_PANEL, times k.
int64_t ck_panels_count(int64_t n, int64_t k);

/// ck_pack_panels for rows of W `ldw` floats apart (a block of a head's queries inside [L, heads x D]).
void ck_pack_panels_strided(int64_t n, int64_t k, const float *w, int64_t ldw, float *dst);

/// Packs W [n, k] (row-major; the B^T of C = A W^T, as torch Linear weights are) into panels of
/// CK_PANEL rows of W, k-major within a panel, zero-padded: dst[ck_panels_count(n, k)].
void ck_pack_panels(int64_t n, int64_t k, const float *w, float *dst);

/// The same as IEEE halves (round to nearest even); exact when ck_all_halves(w) holds.
void ck_pack_panels_half(int64_t n, int64_t k, const float *w, uint16_t *dst);

/// 1 when every value is exactly a half (an fp16 round trip gives the same bits), else 0.
int ck_all_halves(const float *x, int64_t count);

/// The index of the first value that rounds to no finite half (NaN, infinite, or |x| >= 65520),
/// else count.
int64_t ck_first_not_half_finite(const float *x, int64_t count);

/// Panel storage formats: 32-bit floats, IEEE halves, or int8 with one float scale per row of W.
#define CK_PANELS_FLOAT 0
#define CK_PANELS_HALF 1
#define CK_PANELS_INT8 2

/// Bytes that W [n, k] takes as prepacked panels in `format`; an int8 panel is CK_PANEL float
/// scales followed by its k x CK_PANEL int8 values, k-major (CK_PANEL x (4 + k) bytes).
int64_t ck_panels_bytes(int64_t n, int64_t k, int format);

/// Packs W [n, k] as int8 panels, per row of W symmetric: scale = max|w| / 127, q = w / scale
/// rounded to nearest even (|q| <= 127; an all-zero row has scale 0). Returns 0, or 1 when W
/// holds a non-finite value (dst is then incomplete).
int ck_pack_panels_int8(int64_t n, int64_t k, const float *w, void *dst);

/// One row of IEEE halves (little-endian, any alignment) laid out [cin, taps], widened exactly
/// into dst [taps, cin]: dst[t cin + c] = src[c taps + t] (taps 1: ck_widen_halves; taps kh kw:
/// a row of a convolution weight [Cout, Cin, kh, kw] in Tensor.packConvolutionWeight's order).
/// `scratch` holds cin x taps halves (unused for taps 1).
void ck_widen_halves_taps_last(int64_t cin, int64_t taps, const void *src, uint16_t *scratch, float *dst);

/// IEEE halves (little-endian, any alignment) widened to floats, exactly (F16C where the CPU has it).
void ck_widen_halves(const void *src, float *dst, int64_t count);

/// W [n, k] back from its panels in `format` (int8: q x scale, as the GEMM widens them).
void ck_unpack_panels(int64_t n, int64_t k, const void *panels, int format, float *w);

/// C[m, n] = beta * C + op(A) * alpha * W^T for the columns j0 ..< j0 + n of prepacked W (j0 a
/// multiple of CK_PANEL; halves and int8 widened per panel as used, `format` CK_PANELS_*): the
/// same chain as ck_sgemm, so the same bits as ck_sgemm on the unpacked W. Returns 0; 1 when
/// buffers could not be allocated, 2 for a misaligned j0 (C then holds beta * C only).
int ck_sgemm_panels(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA, const void *panels,
                    int format, int64_t j0, float *c, int64_t ldc, float alpha, float beta);

/// ck_sgemm_panels with ck_sgemm_fused's epilogue (`bias` holds this call's n columns).
int ck_sgemm_panels_fused(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA, const void *panels,
                          int format, int64_t j0, float *c, int64_t ldc, float alpha, float beta, const float *bias,
                          const float *residual, int64_t ldr);

/// The variant in use: 1 portable (SSE2), 2 AVX2, 3 AVX-512: the widest this CPU has, or a narrower
/// one named by the environment variable STYLEDIFF_KERNELS (`avx2`, `portable`). With `path` 1...3 it switches to that
/// variant (for tests comparing them) and returns the previous one, or -1 when the CPU lacks it;
/// any other value only reports.
int ck_force_path(int path);

/// A spin-wait hint to the CPU (x86 PAUSE, Arm YIELD) for the worker pool's short spins.
static inline void ck_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
