// Packed single-precision GEMM (BLIS loop order: NC columns, KC depth, MC rows, then NR x MR
// micro-tiles), one micro-kernel per instruction set: AVX-512 12x32, AVX2+FMA 6x16, portable 4x16.
//
// Every element of C is one fused multiply-add chain in k order, started from beta * C (or 0):
//   acc = beta == 0 ? 0 : beta * c;  for p in 0..<k: acc = fma(alpha * a[i][p], b[p][j], acc)
// Vector lanes run over j, so each lane is that scalar chain; blocking over k keeps the running
// value in C (fp32, the register's precision). Hence the bits of an element do not depend on the
// variant, on the tile or call it falls in, or on how callers split C among threads.
// `ck_sgemm_chain` is that chain as a plain loop: tests compare the fast kernels with it bit for bit.
#include "CKernels.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#pragma clang fp contract(off)

#ifndef KC
#define KC 256
#endif
#ifndef NC
#define NC 2048
#endif
#define TILE_MAX 384  // the largest MR x NR (AVX-512's 12 x 32)

// Element (i, p) of op(A) and (p, j) of op(B), as stored row-major.
#define A_AT(i, p) (transA ? a[(p) * lda + (i)] : a[(i) * lda + (p)])
#define B_AT(p, j) (transB ? b[(j) * ldb + (p)] : b[(p) * ldb + (j)])

void ck_sgemm_chain(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA,
                    const float *b, int64_t ldb, int transB, float *c, int64_t ldc, float alpha, float beta) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float acc = beta == 0.0f ? 0.0f : (beta == 1.0f ? c[i * ldc + j] : beta * c[i * ldc + j]);
            for (int64_t p = 0; p < k; p++) {
                float av = alpha == 1.0f ? A_AT(i, p) : alpha * A_AT(i, p);
                acc = fmaf(av, B_AT(p, j), acc);
            }
            c[i * ldc + j] = acc;
        }
}

// MARK: packing (shared by the variants; the layout depends only on MR / NR)

// op(A)[i0 ..< i0 + mc, p0 ..< p0 + kc] * alpha into panels of MR rows: dst[(panel * kc + p) * MR + r],
// rows past mc zero.
static void pack_a(int64_t mr, int64_t mc, int64_t kc, int64_t i0, int64_t p0, const float *a, int64_t lda,
                   int transA, float alpha, float *dst) {
    for (int64_t ip = 0; ip < mc; ip += mr) {
        int64_t rows = mc - ip < mr ? mc - ip : mr;
        float *d = dst + ip * kc;
        if (!transA) {
            int64_t r = 0;
#if defined(__x86_64__)
            // 4 x 4 blocks through SSE registers, as in pack_b.
            __m128 scale = _mm_set1_ps(alpha);
            for (; r + 4 <= rows; r += 4) {
                const float *s0 = a + (i0 + ip + r) * lda + p0;
                int64_t p = 0;
                for (; p + 4 <= kc; p += 4) {
                    __m128 r0 = _mm_loadu_ps(s0 + p), r1 = _mm_loadu_ps(s0 + lda + p);
                    __m128 r2 = _mm_loadu_ps(s0 + 2 * lda + p), r3 = _mm_loadu_ps(s0 + 3 * lda + p);
                    if (alpha != 1.0f) {
                        r0 = _mm_mul_ps(scale, r0); r1 = _mm_mul_ps(scale, r1);
                        r2 = _mm_mul_ps(scale, r2); r3 = _mm_mul_ps(scale, r3);
                    }
                    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                    _mm_storeu_ps(d + p * mr + r, r0);
                    _mm_storeu_ps(d + (p + 1) * mr + r, r1);
                    _mm_storeu_ps(d + (p + 2) * mr + r, r2);
                    _mm_storeu_ps(d + (p + 3) * mr + r, r3);
                }
                for (; p < kc; p++)
                    for (int64_t q = 0; q < 4; q++) d[p * mr + r + q] = alpha == 1.0f ? s0[q * lda + p] : alpha * s0[q * lda + p];
            }
#endif
            for (; r < rows; r++) {
                const float *src = a + (i0 + ip + r) * lda + p0;
                if (alpha == 1.0f)
                    for (int64_t p = 0; p < kc; p++) d[p * mr + r] = src[p];
                else
                    for (int64_t p = 0; p < kc; p++) d[p * mr + r] = alpha * src[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const float *src = a + (p0 + p) * lda + i0 + ip;
                for (int64_t r = 0; r < rows; r++) d[p * mr + r] = alpha == 1.0f ? src[r] : alpha * src[r];
            }
        }
        for (int64_t r = rows; r < mr; r++)
            for (int64_t p = 0; p < kc; p++) d[p * mr + r] = 0.0f;
    }
}

// op(B)[p0 ..< p0 + kc, j0 ..< j0 + nc] into panels of NR columns: dst[(panel * kc + p) * NR + c],
// columns past nc zero.
static void pack_b(int64_t nr, int64_t nc, int64_t kc, int64_t p0, int64_t j0, const float *b, int64_t ldb,
                   int transB, float *dst) {
    for (int64_t jp = 0; jp < nc; jp += nr) {
        int64_t cols = nc - jp < nr ? nc - jp : nr;
        float *d = dst + jp * kc;
        if (transB) {
            int64_t col = 0;
#if defined(__x86_64__)
            // 4 x 4 blocks through SSE registers: rows of B^T in, rows of the panel out.
            for (; col + 4 <= cols; col += 4) {
                const float *s0 = b + (j0 + jp + col) * ldb + p0;
                int64_t p = 0;
                for (; p + 4 <= kc; p += 4) {
                    if ((p & 15) == 0)  // the next four rows, one line each (short rows: no stream to detect)
                        for (int q = 4; q < 8; q++) _mm_prefetch((const char *)(s0 + q * ldb + p), _MM_HINT_T0);
                    __m128 r0 = _mm_loadu_ps(s0 + p), r1 = _mm_loadu_ps(s0 + ldb + p);
                    __m128 r2 = _mm_loadu_ps(s0 + 2 * ldb + p), r3 = _mm_loadu_ps(s0 + 3 * ldb + p);
                    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                    _mm_storeu_ps(d + p * nr + col, r0);
                    _mm_storeu_ps(d + (p + 1) * nr + col, r1);
                    _mm_storeu_ps(d + (p + 2) * nr + col, r2);
                    _mm_storeu_ps(d + (p + 3) * nr + col, r3);
                }
                for (; p < kc; p++)
                    for (int64_t q = 0; q < 4; q++) d[p * nr + col + q] = s0[q * ldb + p];
            }
#endif
            for (; col < cols; col++) {
                const float *src = b + (j0 + jp + col) * ldb + p0;
                for (int64_t p = 0; p < kc; p++) d[p * nr + col] = src[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++) memcpy(d + p * nr, b + (p0 + p) * ldb + j0 + jp, (size_t)cols * sizeof(float));
        }
        if (cols < nr)
            for (int64_t p = 0; p < kc; p++)
                for (int64_t col = cols; col < nr; col++) d[p * nr + col] = 0.0f;
    }
}

// MARK: micro-kernels
// kernel(kc, ap, ars, bp, bs, c, ldc, init, beta): an MR x NR tile of C. A is a packed panel
// (ars 0: element (r, p) at ap[p * MR + r]) or read in place (ars = row stride: ap[r * ars + p]);
// B rows are bs floats apart. init 0: start from C (a later k block), 1: from 0 (beta 0),
// 2: from beta * C.

// The accumulator loop over p, with A packed or in place (two copies so the packed one keeps
// constant offsets); LOAD_B(p) loads row p of B into b0 (b1), FMA(r, av) updates row r.
#define A_LOOP(MR, LOAD_B, FMA) A_LOOP_ROWS(MR, MR, LOAD_B, FMA)
// The same over the first ROWS rows of panels packed STRIDE rows wide (edge kernels).
#define A_LOOP_ROWS(ROWS, STRIDE, LOAD_B, FMA)                                                 \
    if (ars == 0) {                                                                            \
        for (int64_t p = 0; p < kc; p++) {                                                     \
            LOAD_B(p)                                                                          \
            _Pragma("clang loop unroll(full)") for (int r = 0; r < ROWS; r++) FMA(r, ap[p * STRIDE + r]) \
        }                                                                                      \
    } else {                                                                                   \
        for (int64_t p = 0; p < kc; p++) {                                                     \
            LOAD_B(p)                                                                          \
            _Pragma("clang loop unroll(full)") for (int r = 0; r < ROWS; r++) FMA(r, ap[r * ars + p]) \
        }                                                                                      \
    }

#if defined(__x86_64__) && defined(__clang__)
// The x86 kernels prefetch B ahead in k: on the Emerald Rapids kind the first load of B in the
// inner loop took a quarter of the kernel's samples in perf (prepacked weights streamed from
// L3), and 16 rows ahead made a 4-step default-model image at 1 thread 6-17% faster (8 rows: 6%;
// 32: as 16). On Zen 5 (session 29), where SD's deep weights stream from memory, the AVX-512
// float kernels prefetch 48 rows ahead (6 KB in a 32-column panel): SD 1.5's fp32 UNet at 16x16
// paired 0.933 / 0.965 at 1 / 2 threads, at 64x64 0.997; 96 rows read as 48. The AVX2 kernel
// keeps 16 (no AVX2 machine to measure). Prefetches change no bits.
#define MR512 12
#define NR512 32
__attribute__((target("avx512f,fma"))) static void kernel_avx512(int64_t kc, const float *ap, int64_t ars,
                                                                const float *bp, int64_t bs, float *c, int64_t ldc,
                                                                int init, float beta) {
    __m512 acc[MR512][2];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR512; r++) {
        if (init == 1) {
            acc[r][0] = _mm512_setzero_ps();
            acc[r][1] = _mm512_setzero_ps();
        } else {
            acc[r][0] = _mm512_loadu_ps(c + r * ldc);
            acc[r][1] = _mm512_loadu_ps(c + r * ldc + 16);
            if (init == 2) {
                acc[r][0] = _mm512_mul_ps(acc[r][0], _mm512_set1_ps(beta));
                acc[r][1] = _mm512_mul_ps(acc[r][1], _mm512_set1_ps(beta));
            }
        }
    }
    __m512 b0, b1;
#define LOAD_B512(p)                                                                           \
    _mm_prefetch((const char *)(bp + ((p) + 48) * bs), _MM_HINT_T0);                            \
    _mm_prefetch((const char *)(bp + ((p) + 48) * bs + 16), _MM_HINT_T0);                       \
    b0 = _mm512_loadu_ps(bp + (p) * bs); b1 = _mm512_loadu_ps(bp + (p) * bs + 16);
#define FMA512(r, a)                                                                           \
    {                                                                                          \
        __m512 av = _mm512_set1_ps(a);                                                         \
        acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);                                        \
        acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);                                        \
    }
    A_LOOP(MR512, LOAD_B512, FMA512)
#pragma clang loop unroll(full)
    for (int r = 0; r < MR512; r++) {
        _mm512_storeu_ps(c + r * ldc, acc[r][0]);
        _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
    }
}

// 12 x 16, for strips of at most 16 columns (attention's PV products at head sizes 40 and 80).
__attribute__((target("avx512f,fma"))) static void kernel_avx512_narrow(int64_t kc, const float *ap, int64_t ars,
                                                                       const float *bp, int64_t bs, float *c,
                                                                       int64_t ldc, int init, float beta) {
    __m512 acc[MR512];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR512; r++) {
        acc[r] = init == 1 ? _mm512_setzero_ps() : _mm512_loadu_ps(c + r * ldc);
        if (init == 2) acc[r] = _mm512_mul_ps(acc[r], _mm512_set1_ps(beta));
    }
    __m512 b0;
#define LOAD_B512N(p) _mm_prefetch((const char *)(bp + ((p) + 48) * bs), _MM_HINT_T0); b0 = _mm512_loadu_ps(bp + (p) * bs);
#define FMA512N(r, a) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a), b0, acc[r]);
    A_LOOP(MR512, LOAD_B512N, FMA512N)
#pragma clang loop unroll(full)
    for (int r = 0; r < MR512; r++) _mm512_storeu_ps(c + r * ldc, acc[r]);
}

// Edge tiles straight into C: a last partial panel of A (M = 16 leaves 4 rows of 12: the
// 12-row kernel on a padded tile did 3x the work) runs 4 or 8 rows, and C is read and written
// through lane masks for `cols` columns (attention's PV products at head size 40 leave an
// 8-column strip in every row block) with only its first `rows` rows stored, instead of a copy
// through a padded tile. A is packed in its 12-row layout (ap[p * 12 + r], rows past the block
// zero) or, for a full 12-row tile, read in place. Each element is the same fused multiply-add
// chain as in the 12-row kernel, so the bits do not change. VECS 2: 32 columns, 1: 16.
#define EDGE_LOAD_B(p)                                                                         \
    _Pragma("clang loop unroll(full)") for (int v = 0; v < vecs; v++) {                        \
        _mm_prefetch((const char *)(bp + ((p) + 48) * bs + 16 * v), _MM_HINT_T0);              \
        bv[v] = _mm512_loadu_ps(bp + (p) * bs + 16 * v);                                       \
    }
#define EDGE_FMA(r, a)                                                                         \
    {                                                                                          \
        __m512 av = _mm512_set1_ps(a);                                                         \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < vecs; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]); \
    }
// The body of a masked tile (the edge kernels and the narrowed ones below): C's first `rows` rows
// and `cols` columns through lane masks, row p of B loaded into bv by LOAD(p).
#define AVX512_MASKED_TILE(ROWS, VECS, LOAD)                                                   \
        __mmask16 mk[VECS];                                                                    \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < VECS; v++) {                    \
            int64_t left = cols - 16 * v;                                                      \
            mk[v] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1); \
        }                                                                                      \
        __m512 acc[ROWS][VECS];                                                                \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < ROWS; r++)                      \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < VECS; v++) {                \
                acc[r][v] = init == 1 || r >= rows ? _mm512_setzero_ps()                       \
                                                   : _mm512_maskz_loadu_ps(mk[v], c + r * ldc + 16 * v); \
                if (init == 2) acc[r][v] = _mm512_mul_ps(acc[r][v], _mm512_set1_ps(beta));     \
            }                                                                                  \
        const int vecs = VECS;                                                                 \
        __m512 bv[VECS];                                                                       \
        A_LOOP_ROWS(ROWS, MR512, LOAD, EDGE_FMA)                                               \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < ROWS; r++)                      \
            if (r < rows)                                                                      \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < VECS; v++) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, mk[v], acc[r][v]);
#define AVX512_EDGE_KERNEL(NAME, ROWS, VECS)                                                    \
    __attribute__((target("avx512f,fma"))) static void NAME(int64_t kc, const float *ap, int64_t ars, \
                                                            const float *bp, int64_t bs, float *c, \
                                                            int64_t ldc, int init, float beta,  \
                                                            int64_t rows, int64_t cols) {       \
        AVX512_MASKED_TILE(ROWS, VECS, EDGE_LOAD_B)                                            \
    }
AVX512_EDGE_KERNEL(edge_avx512_rows4, 4, 2)
AVX512_EDGE_KERNEL(edge_avx512_rows8, 8, 2)
AVX512_EDGE_KERNEL(edge_avx512_rows12, 12, 2)
AVX512_EDGE_KERNEL(edge_avx512_narrow_rows4, 4, 1)
AVX512_EDGE_KERNEL(edge_avx512_narrow_rows8, 8, 1)
AVX512_EDGE_KERNEL(edge_avx512_narrow_rows12, 12, 1)

#define MR256 6
#define NR256 16
// ROWS x 16 over panels packed MR256 rows wide: the 6-row kernel, and 2- and 4-row ones for a
// last partial panel (M = 16 leaves 4 rows of 6; same chains, same bits).
#define LOAD_B256(p)                                                                           \
    _mm_prefetch((const char *)(bp + ((p) + 16) * bs), _MM_HINT_T0);                           \
    b0 = _mm256_loadu_ps(bp + (p) * bs); b1 = _mm256_loadu_ps(bp + (p) * bs + 8);
#define FMA256(r, a)                                                                           \
    {                                                                                          \
        __m256 av = _mm256_set1_ps(a);                                                         \
        acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);                                        \
        acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);                                        \
    }
#define AVX2_KERNEL(NAME, ROWS)                                                                 \
    __attribute__((target("avx2,fma"))) static void NAME(int64_t kc, const float *ap, int64_t ars, const float *bp, \
                                                         int64_t bs, float *c, int64_t ldc, int init, float beta) { \
        __m256 acc[ROWS][2];                                                                   \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < ROWS; r++)                      \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < 2; v++) {                   \
                acc[r][v] = init == 1 ? _mm256_setzero_ps() : _mm256_loadu_ps(c + r * ldc + 8 * v); \
                if (init == 2) acc[r][v] = _mm256_mul_ps(acc[r][v], _mm256_set1_ps(beta));     \
            }                                                                                  \
        __m256 b0, b1;                                                                         \
        A_LOOP_ROWS(ROWS, MR256, LOAD_B256, FMA256)                                            \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < ROWS; r++)                      \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < 2; v++) _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]); \
    }
AVX2_KERNEL(kernel_avx2, MR256)
AVX2_KERNEL(kernel_avx2_rows2, 2)
AVX2_KERNEL(kernel_avx2_rows4, 4)
#endif

#define MRBASE 4
#define NRBASE 16
static void kernel_base(int64_t kc, const float *ap, int64_t ars, const float *bp, int64_t bs, float *c, int64_t ldc,
                        int init, float beta) {
    float acc[MRBASE][NRBASE];
    for (int r = 0; r < MRBASE; r++)
        for (int j = 0; j < NRBASE; j++)
            acc[r][j] = init == 1 ? 0.0f : (init == 2 ? beta * c[r * ldc + j] : c[r * ldc + j]);
#define LOAD_BBASE(p) const float *brow = bp + (p) * bs;
#define FMABASE(r, a)                                                                          \
    {                                                                                          \
        float av = a;                                                                          \
        for (int j = 0; j < NRBASE; j++) acc[r][j] = fmaf(av, brow[j], acc[r][j]);             \
    }
    A_LOOP(MRBASE, LOAD_BBASE, FMABASE)
    for (int r = 0; r < MRBASE; r++)
        for (int j = 0; j < NRBASE; j++) c[r * ldc + j] = acc[r][j];
}

// MARK: driver

typedef void (*kernel_fn)(int64_t, const float *, int64_t, const float *, int64_t, float *, int64_t, int, float);
// An edge kernel: the same with the tile's rows and columns (at most its MR and NR) last.
typedef void (*edge_fn)(int64_t, const float *, int64_t, const float *, int64_t, float *, int64_t, int, float,
                        int64_t, int64_t);

// Per-thread packing buffers, grown on demand and freed when the thread exits.
typedef struct {
    float *a, *b;
    size_t capA, capB;
} buffers_t;  // b also holds a widened half panel in ck_sgemm_panels
static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;
static void buffers_free(void *p) {
    buffers_t *t = p;
    free(t->a);
    free(t->b);
    free(t);
}
static void buffers_init(void) { pthread_key_create(&buffers_key, buffers_free); }

static float *grow(float **p, size_t *cap, size_t count) {
    if (*cap >= count) return *p;
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    float *q = aligned_alloc(64, bytes);
    if (!q) return NULL;
    free(*p);
    *p = q;
    *cap = bytes / sizeof(float);
    return q;
}

static buffers_t *buffers(void) {
    pthread_once(&buffers_once, buffers_init);
    buffers_t *t = pthread_getspecific(buffers_key);
    if (!t) {
        t = calloc(1, sizeof(buffers_t));
        if (!t || pthread_setspecific(buffers_key, t) != 0) {
            free(t);
            return NULL;
        }
    }
    return t;
}

#if defined(__x86_64__) && defined(__clang__)
static int has_fma(void) {
    static volatile int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("fma") ? 1 : 0;
    }
    return known;
}
#endif

// The variant's kernels: MR x NR, a narrower 16-column one (NULL when NR is 16), for a last
// partial panel of at most fewRows[i] rows a kernel of that many rows (AVX2), and edge kernels
// for partial tiles (AVX-512); where a variant has neither, its MR-row kernel runs on a padded
// tile. With MC.
typedef struct {
    kernel_fn kernel, narrow, few[2];
    int64_t fewRows[2];  // rows of the few-row kernels / edge slots 0 and 1 (ascending; 0: none)
    int64_t mr, nr, mc;
    edge_fn edge[2][3];  // for fewRows[0], fewRows[1] and MR rows; [1]: narrow (NULL: none)
} variant_t;

static variant_t variant(void) {
    variant_t v = {kernel_base, NULL, {NULL, NULL}, {0, 0}, MRBASE, NRBASE, 32 * MRBASE, {{NULL}}};
#if defined(__x86_64__) && defined(__clang__)
    switch (ck_force_path(0)) {
    case 3:
        return (variant_t){kernel_avx512, kernel_avx512_narrow, {NULL, NULL}, {4, 8}, MR512, NR512, 16 * MR512,
                           {{edge_avx512_rows4, edge_avx512_rows8, edge_avx512_rows12},
                            {edge_avx512_narrow_rows4, edge_avx512_narrow_rows8, edge_avx512_narrow_rows12}}};
    case 2:
        if (has_fma())
            return (variant_t){kernel_avx2, NULL, {kernel_avx2_rows2, kernel_avx2_rows4}, {2, 4}, MR256, NR256,
                               24 * MR256, {{NULL}}};
        break;
    default: break;
    }
#endif
    return v;
}

// A block for column_strip: packed panels (ap, MR rows each), or rows read in place from `direct`
// (row stride lda) with only the last partial panel packed, at ap.
typedef struct {
    const float *ap, *direct;
    int64_t lda;
} a_block_t;

#if defined(__x86_64__) && defined(__clang__)
// Narrowed panels (halves or int8) of one row block on AVX-512: tiles read the panel as stored
// (CK_PANEL values per panel row) and widen each row of B in registers as the widening pass
// does (halves exactly; int8 as q x its column's scale, the same product), so every element
// is the chain it is on a widened float panel, without that pass through L1 and its store of
// 2-4x the bytes. One row block (the default UNet's batch-1 products, SD's 4x4 and 2x2 levels
// at a 16x16 latent) reuses a widened k block for at most 16 tiles, so the pass was 10-30% of
// such products (`stylediff-bench gemm --halves`, 1 thread: 8 x 1280 x 11520 104-111 -> 146-151
// GFLOPS, 32 x 1280 x 11520 186-188 -> 223-226); with more row blocks a widened block serves
// them all and this is no faster (8192 x 2560 x 320 226-239 against 225-227). They prefetch B 128
// rows ahead (8 KB of halves; past the k block that is the panel's next one, still in L2 when
// its turn comes): SD 1.5's F16 UNet at 16x16, whose 2x2 and 4x4 levels stream their weights from
// memory, paired 0.89 / 0.93 at 1 / 2 threads against 16 rows (with the float kernels at 48;
// 48 and 192 rows for halves read between);
// `gemm --halves` 8 x 1280 x 11520 at 1 thread 142-146 -> 184-213 GFLOPS. Lane masks and A as
// in the edge kernels; VECS 2: 32 columns, 1: 16.
#define NARROWED_LOAD_B(p)                                                                     \
    _mm_prefetch((const char *)b + ((p) + 128) * bs * (isInt8 ? 1 : 2), _MM_HINT_T0);           \
    _Pragma("clang loop unroll(full)") for (int v = 0; v < vecs; v++) {                        \
        if (isInt8)                                                                            \
            bv[v] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(                     \
                                      _mm_loadu_si128((const __m128i *)((const int8_t *)b + (p) * bs + 16 * v)))), \
                                  sc[v]);                                                      \
        else                                                                                   \
            bv[v] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)b + (p) * bs + 16 * v))); \
    }
#define AVX512_NARROWED_KERNEL(NAME, ROWS, VECS, INT8)                                          \
    __attribute__((target("avx512f,fma"))) static void NAME(int64_t kc, const float *ap, int64_t ars, \
                                                            const void *b, const float *scales, \
                                                            int64_t bs, float *c, int64_t ldc, int init, \
                                                            float beta, int64_t rows, int64_t cols) { \
        const int isInt8 = INT8;                                                               \
        __m512 sc[VECS];                                                                       \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < VECS; v++)                      \
            sc[v] = isInt8 ? _mm512_loadu_ps(scales + 16 * v) : _mm512_setzero_ps();           \
        AVX512_MASKED_TILE(ROWS, VECS, NARROWED_LOAD_B)                                        \
    }
// The six tiles of one format: 4, 8 and 12 rows, 32 and 16 columns.
#define AVX512_NARROWED_KERNELS(FORMAT, INT8)                                                   \
    AVX512_NARROWED_KERNEL(FORMAT##_avx512_rows4, 4, 2, INT8)                                   \
    AVX512_NARROWED_KERNEL(FORMAT##_avx512_rows8, 8, 2, INT8)                                   \
    AVX512_NARROWED_KERNEL(FORMAT##_avx512_rows12, 12, 2, INT8)                                 \
    AVX512_NARROWED_KERNEL(FORMAT##_avx512_narrow_rows4, 4, 1, INT8)                            \
    AVX512_NARROWED_KERNEL(FORMAT##_avx512_narrow_rows8, 8, 1, INT8)                            \
    AVX512_NARROWED_KERNEL(FORMAT##_avx512_narrow_rows12, 12, 1, INT8)
AVX512_NARROWED_KERNELS(half, 0)
AVX512_NARROWED_KERNELS(int8, 1)

typedef void (*narrowed_fn)(int64_t, const float *, int64_t, const void *, const float *, int64_t, float *, int64_t,
                            int, float, int64_t, int64_t);

// One narrowed panel's k block (kc rows of CK_PANEL halves or int8 values at b; int8: with the
// panel's column scales) for `cols` of its columns over the mc rows of an A block: column_strip
// for narrowed panels.
static void narrowed_strip_avx512(int int8, int64_t mc, int64_t kc, a_block_t a, const void *b, const float *scales,
                                  float *c, int64_t ldc, int64_t cols, int init, float beta) {
    static const narrowed_fn fns[2][2][3] = {
        {{half_avx512_rows4, half_avx512_rows8, half_avx512_rows12},
         {half_avx512_narrow_rows4, half_avx512_narrow_rows8, half_avx512_narrow_rows12}},
        {{int8_avx512_rows4, int8_avx512_rows8, int8_avx512_rows12},
         {int8_avx512_narrow_rows4, int8_avx512_narrow_rows8, int8_avx512_narrow_rows12}}};
    const narrowed_fn *row = fns[int8 ? 1 : 0][cols <= 16 ? 1 : 0];
    for (int64_t ir = 0; ir < mc; ir += MR512) {
        int64_t rows = mc - ir < MR512 ? mc - ir : MR512;
        const float *apanel = a.direct ? (rows == MR512 ? a.direct + ir * a.lda : a.ap) : a.ap + ir * kc;
        int64_t ars = a.direct && rows == MR512 ? a.lda : 0;
        row[rows > 8 ? 2 : rows > 4 ? 1 : 0](kc, apanel, ars, b, scales, CK_PANEL, c + ir * ldc, ldc, init, beta, rows, cols);
    }
}
#endif

// One strip of at most NR columns over the MC rows of an A block: micro-tiles, edges through `tile`.
static inline void column_strip(const variant_t *v, int64_t mc, int64_t kc, a_block_t a, const float *bpanel,
                                int64_t bs, float *c, int64_t ldc, int64_t cols, int init, float beta, float *tile) {
    kernel_fn kernel = v->kernel;
    const edge_fn *edge = v->edge[0];
    int64_t mr = v->mr, nr = v->nr;
    if (v->narrow && cols <= 16) {
        kernel = v->narrow;
        edge = v->edge[1];
        nr = 16;
    }
    for (int64_t ir = 0; ir < mc; ir += mr) {
        int64_t rows = mc - ir < mr ? mc - ir : mr;
        float *cc = c + ir * ldc;
        const float *apanel = a.direct ? (rows == mr ? a.direct + ir * a.lda : a.ap) : a.ap + ir * kc;
        int64_t ars = a.direct && rows == mr ? a.lda : 0;
        if (rows == mr && cols == nr) {
            kernel(kc, apanel, ars, bpanel, bs, cc, ldc, init, beta);
            continue;
        }
        int slot = rows > v->fewRows[1] ? 2 : rows > v->fewRows[0] ? 1 : 0;
        if (edge[slot]) {
            edge[slot](kc, apanel, ars, bpanel, bs, cc, ldc, init, beta, rows, cols);
            continue;
        }
        int few = slot < 2 && v->few[slot] && nr == v->nr;
        kernel_fn k = few ? v->few[slot] : kernel;
        int64_t kr = few ? v->fewRows[slot] : mr;  // rows the kernel computes
        if (rows == kr && cols == nr) {
            k(kc, apanel, ars, bpanel, bs, cc, ldc, init, beta);
        } else {
            if (init != 1)
                for (int64_t r = 0; r < rows; r++) memcpy(tile + r * nr, cc + r * ldc, (size_t)cols * sizeof(float));
            k(kc, apanel, ars, bpanel, bs, tile, nr, init, beta);
            for (int64_t r = 0; r < rows; r++) memcpy(cc + r * ldc, tile + r * nr, (size_t)cols * sizeof(float));
        }
    }
}

// Packs the A block for rows ic ..< ic + mc, depth pc ..< pc + kc. In place (direct) when A is
// not transposed and unscaled and either C is narrow (at most 64 columns: the block is reused by
// at most a few strips, so packing would cost more than it saves) or the call has at most 256
// rows (packing is then a large share of the work: the default UNet's batch-1 products, the
// 16x16 SD ones per thread); then only the partial panel. Taller products keep packing (at a
// 64x64 SD latent reading A in place was 3-10% slower).
static a_block_t a_block(int64_t mr, int64_t mc, int64_t kc, int64_t ic, int64_t pc, const float *a, int64_t lda,
                         int transA, float alpha, int64_t m, int64_t n, float *ap) {
    if (!transA && alpha == 1.0f && (n <= 64 || m <= 256)) {
        int64_t full = mc / mr * mr;
        if (full < mc) pack_a(mr, mc - full, kc, ic + full, pc, a, lda, 0, 1.0f, ap);
        return (a_block_t){ap, a + ic * lda + pc, lda};
    }
    pack_a(mr, mc, kc, ic, pc, a, lda, transA, alpha, ap);
    return (a_block_t){ap, NULL, 0};
}

// The epilogue of a fused product on rows x cols of C (row stride ldc): `bias` (cols values) copied
// into every row before the product's first k block (which then starts its chains from C, beta 1),
// `residual` (row stride ldr) added after its last. Done per MC x CK_PANEL block of C right before
// / after its micro-tiles, while it sits in L1: the bytes of a bias copy over all of C before the
// product and one add after, without C's round trips to memory (the 8192 x 2560 GEGLU product
// of a 64x64 SD latent: 84 MB written, read back and written again per k block).
static inline void put_bias(float *c, int64_t ldc, int64_t rows, int64_t cols, const float *bias) {
    for (int64_t r = 0; r < rows; r++) memcpy(c + r * ldc, bias, (size_t)cols * sizeof(float));
}
static inline void add_residual(float *c, int64_t ldc, int64_t rows, int64_t cols, const float *residual, int64_t ldr) {
    for (int64_t r = 0; r < rows; r++) {
        float *d = c + r * ldc;
        const float *e = residual + r * ldr;
        for (int64_t j = 0; j < cols; j++) d[j] += e[j];
    }
}

// The same two steps per instruction set (plain copies and adds: the same bits on each), chosen
// with the GEMM variant: the baseline build's 16-byte moves cost a 20-step default-model image
// 1-2% against the AVX-512 ones.
typedef void (*bias_fn)(float *, int64_t, int64_t, int64_t, const float *);
typedef void (*residual_fn)(float *, int64_t, int64_t, int64_t, const float *, int64_t);
typedef struct {
    bias_fn bias;
    residual_fn residual;
} epilogue_t;
#define EPILOGUE(SUFFIX, ATTR)                                                                                   \
    ATTR static void put_bias_##SUFFIX(float *restrict c, int64_t ldc, int64_t rows, int64_t cols,               \
                                       const float *restrict bias) {                                             \
        if (cols == CK_PANEL) {                                                                                  \
            for (int64_t r = 0; r < rows; r++)                                                                   \
                for (int j = 0; j < CK_PANEL; j++) c[r * ldc + j] = bias[j];                                     \
            return;                                                                                              \
        }                                                                                                        \
        put_bias(c, ldc, rows, cols, bias);                                                                      \
    }                                                                                                            \
    ATTR static void add_residual_##SUFFIX(float *restrict c, int64_t ldc, int64_t rows, int64_t cols,           \
                                           const float *restrict e,                                              \
                                           int64_t ldr) {                                                        \
        if (cols == CK_PANEL) {                                                                                  \
            for (int64_t r = 0; r < rows; r++)                                                                   \
                for (int j = 0; j < CK_PANEL; j++) c[r * ldc + j] += e[r * ldr + j];                             \
            return;                                                                                              \
        }                                                                                                        \
        add_residual(c, ldc, rows, cols, e, ldr);                                                                \
    }
EPILOGUE(base, )
#if defined(__x86_64__) && defined(__clang__)
EPILOGUE(avx2, __attribute__((target("avx2"))))
EPILOGUE(avx512, __attribute__((target("avx512f"))))
#endif
static epilogue_t epilogue(void) {
#if defined(__x86_64__) && defined(__clang__)
    switch (ck_force_path(0)) {
    case 3: return (epilogue_t){put_bias_avx512, add_residual_avx512};
    case 2: return (epilogue_t){put_bias_avx2, add_residual_avx2};
    default: break;
    }
#endif
    return (epilogue_t){put_bias_base, add_residual_base};
}

// C without a product (k = 0, or the unpacked fallbacks' start): bias, or beta * C.
static void start_chains(float *c, int64_t ldc, int64_t m, int64_t n, float beta, const float *bias) {
    if (bias) { put_bias(c, ldc, m, n, bias); return; }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : (beta == 1.0f ? c[i * ldc + j] : beta * c[i * ldc + j]);
}

int ck_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA, const float *b, int64_t ldb,
             int transB, float *c, int64_t ldc, float alpha, float beta) {
    return ck_sgemm_fused(m, n, k, a, lda, transA, b, ldb, transB, c, ldc, alpha, beta, NULL, NULL, 0);
}

int ck_sgemm_fused(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA, const float *b,
                   int64_t ldb, int transB, float *c, int64_t ldc, float alpha, float beta, const float *bias,
                   const float *residual, int64_t ldr) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0) {
        start_chains(c, ldc, m, n, beta, bias);
        if (residual) add_residual(c, ldc, m, n, residual, ldr);
        return 0;
    }
    variant_t v = variant();
    epilogue_t ep = epilogue();
    int64_t mr = v.mr, nr = v.nr, mcMax = v.mc;
    int64_t kcMax = k < KC ? k : KC;
    int64_t ncMax = n < NC ? n : NC;
    int64_t mcFill = (m < mcMax ? m : mcMax);
    buffers_t *t = buffers();
    float *ap = t ? grow(&t->a, &t->capA, (size_t)((mcFill + mr - 1) / mr * mr * kcMax)) : NULL;
    float *bp = t ? grow(&t->b, &t->capB, (size_t)((ncMax + nr - 1) / nr * nr * kcMax)) : NULL;
    if (!ap || !bp) {  // out of memory for the packing buffers: the same chain, unpacked
        if (bias) put_bias(c, ldc, m, n, bias);
        ck_sgemm_chain(m, n, k, a, lda, transA, b, ldb, transB, c, ldc, alpha, bias ? 1.0f : beta);
        if (residual) add_residual(c, ldc, m, n, residual, ldr);
        return 1;
    }
    float tile[TILE_MAX] __attribute__((aligned(64)));
    memset(tile, 0, sizeof tile);
    if (bias) beta = 1.0f;
    for (int64_t jc = 0; jc < n; jc += NC) {
        int64_t nc = n - jc < NC ? n - jc : NC;
        for (int64_t pc = 0; pc < k; pc += KC) {
            int64_t kc = k - pc < KC ? k - pc : KC;
            int init = pc > 0 || bias ? 0 : (beta == 0.0f ? 1 : (beta == 1.0f ? 0 : 2));
            int last = pc + kc == k;
            pack_b(nr, nc, kc, pc, jc, b, ldb, transB, bp);
            for (int64_t ic = 0; ic < m; ic += mcMax) {
                int64_t mc = m - ic < mcMax ? m - ic : mcMax;
                a_block_t ablock = a_block(mr, mc, kc, ic, pc, a, lda, transA, alpha, m, n, ap);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int64_t cols = nc - jr < nr ? nc - jr : nr;
                    float *cc = c + ic * ldc + jc + jr;
                    if (bias && pc == 0) ep.bias(cc, ldc, mc, cols, bias + jc + jr);
                    column_strip(&v, mc, kc, ablock, bp + jr * kc, nr, cc, ldc, cols, init, beta, tile);
                    if (residual && last) ep.residual(cc, ldc, mc, cols, residual + ic * ldr + jc + jr, ldr);
                }
            }
        }
    }
    return 0;
}

// MARK: prepacked panels (weights packed once at load, optionally as halves)

int64_t ck_panels_count(int64_t n, int64_t k) { return (n + CK_PANEL - 1) / CK_PANEL * CK_PANEL * k; }

int64_t ck_panels_bytes(int64_t n, int64_t k, int format) {
    if (format == CK_PANELS_INT8) return (n + CK_PANEL - 1) / CK_PANEL * CK_PANEL * (int64_t)(sizeof(float) + k);
    return ck_panels_count(n, k) * (format == CK_PANELS_HALF ? 2 : 4);
}

// Bytes from one int8 panel to the next: CK_PANEL float scales, then k x CK_PANEL values.
static int64_t int8_panel_stride(int64_t k) { return CK_PANEL * ((int64_t)sizeof(float) + k); }

// Row pc of the narrowed panel holding column `col` (CK_PANEL halves or int8 values a row); for
// int8 panels *scales is set to the panel's CK_PANEL column scales (stored before its rows).
static const unsigned char *narrowed_row(const void *panels, int format, int64_t k, int64_t col, int64_t pc,
                                         const unsigned char **scales) {
    if (format == CK_PANELS_INT8) {
        const unsigned char *panel = (const unsigned char *)panels + col / CK_PANEL * int8_panel_stride(k);
        if (scales) *scales = panel;
        return panel + CK_PANEL * sizeof(float) + pc * CK_PANEL;
    }
    return (const unsigned char *)((const uint16_t *)panels + col / CK_PANEL * CK_PANEL * k + pc * CK_PANEL);
}

int ck_pack_panels_int8(int64_t n, int64_t k, const float *w, void *dst) {
    for (int64_t jp = 0; jp < n; jp += CK_PANEL) {
        unsigned char *panel = (unsigned char *)dst + jp / CK_PANEL * int8_panel_stride(k);
        float scales[CK_PANEL];
        int8_t *q = (int8_t *)(panel + sizeof scales);
        for (int64_t col = 0; col < CK_PANEL; col++) {
            float top = 0.0f;
            if (jp + col < n)
                for (int64_t p = 0; p < k; p++) {
                    float v = fabsf(w[(jp + col) * k + p]);
                    if (!isfinite(v)) return 1;
                    top = v > top ? v : top;
                }
            scales[col] = top / 127.0f;
            for (int64_t p = 0; p < k; p++) {
                float r = scales[col] > 0.0f && jp + col < n ? nearbyintf(w[(jp + col) * k + p] / scales[col]) : 0.0f;
                r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
                q[p * CK_PANEL + col] = (int8_t)r;
            }
        }
        memcpy(panel, scales, sizeof scales);
    }
    return 0;
}

void ck_pack_panels(int64_t n, int64_t k, const float *w, float *dst) { ck_pack_panels_strided(n, k, w, k, dst); }

// Panels of W [n, k] (row stride ldw). Depth blocks of 64 rows keep the panel rows being written in L1.
static void pack_panels(int64_t n, int64_t k, const float *w, int64_t ldw, float *dst) {
    for (int64_t jp = 0; jp < n; jp += CK_PANEL) {
        int64_t cols = n - jp < CK_PANEL ? n - jp : CK_PANEL;
        for (int64_t p0 = 0; p0 < k; p0 += 64) {
            int64_t kb = k - p0 < 64 ? k - p0 : 64;
            float block[64 * CK_PANEL] __attribute__((aligned(64)));
            pack_b(CK_PANEL, cols, kb, p0, jp, w, ldw, 1, block);
            memcpy(dst + jp * k + p0 * CK_PANEL, block, (size_t)(kb * CK_PANEL) * sizeof(float));
        }
    }
}

void ck_pack_panels_strided(int64_t n, int64_t k, const float *w, int64_t ldw, float *dst) {
    pack_panels(n, k, w, ldw, dst);
}

static void narrow_base(const float *src, uint16_t *dst, int64_t count) {
    for (int64_t i = 0; i < count; i++) {
        _Float16 h = (_Float16)src[i];
        memcpy(dst + i, &h, sizeof h);
    }
}
static int halves_base(const float *x, int64_t count) {
    for (int64_t i = 0; i < count; i++) {
        _Float16 h = (_Float16)x[i];
        float back = (float)h;
        if (memcmp(&back, x + i, sizeof back) != 0) return 0;
    }
    return 1;
}
#if defined(__x86_64__) && defined(__clang__)
static int has_f16c(void);
__attribute__((target("avx2,f16c"))) static void narrow_f16c(const float *src, uint16_t *dst, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    narrow_base(src + i, dst + i, count - i);
}
__attribute__((target("avx2,f16c"))) static int halves_f16c(const float *x, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 back = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
        __m256i same = _mm256_cmpeq_epi32(_mm256_castps_si256(v), _mm256_castps_si256(back));
        if (_mm256_movemask_epi8(same) != -1) return 0;
    }
    return halves_base(x + i, count - i);
}
#endif

void ck_pack_panels_half(int64_t n, int64_t k, const float *w, uint16_t *dst) {
    // Float panels one at a time, then narrowed (round to nearest even).
    float *panel = aligned_alloc(64, (size_t)(CK_PANEL * (k > 0 ? k : 1)) * sizeof(float));
    for (int64_t jp = 0; jp < n; jp += CK_PANEL) {
        int64_t cols = n - jp < CK_PANEL ? n - jp : CK_PANEL;
        if (panel) {
            for (int64_t p0 = 0; p0 < k; p0 += 64) {
                int64_t kb = k - p0 < 64 ? k - p0 : 64;
                float block[64 * CK_PANEL] __attribute__((aligned(64)));
                pack_b(CK_PANEL, cols, kb, p0, jp, w, k, 1, block);
                memcpy(panel + p0 * CK_PANEL, block, (size_t)(kb * CK_PANEL) * sizeof(float));
            }
#if defined(__x86_64__) && defined(__clang__)
            if (has_f16c()) { narrow_f16c(panel, dst + jp * k, k * CK_PANEL); continue; }
#endif
            narrow_base(panel, dst + jp * k, k * CK_PANEL);
        } else {  // no scratch: element by element
            for (int64_t p = 0; p < k; p++)
                for (int64_t col = 0; col < CK_PANEL; col++) {
                    _Float16 h = col < cols ? (_Float16)w[(jp + col) * k + p] : (_Float16)0.0f;
                    memcpy(dst + jp * k + p * CK_PANEL + col, &h, sizeof h);
                }
        }
    }
    free(panel);
}

void ck_widen_halves_taps_last(int64_t cin, int64_t taps, const void *src, uint16_t *scratch, float *dst) {
    if (taps == 1) {
        ck_widen_halves(src, dst, cin);
        return;
    }
    const unsigned char *s = (const unsigned char *)src;
    for (int64_t c = 0; c < cin; c++)
        for (int64_t t = 0; t < taps; t++) memcpy(scratch + t * cin + c, s + 2 * (c * taps + t), sizeof(uint16_t));
    ck_widen_halves(scratch, dst, cin * taps);
}

int ck_all_halves(const float *x, int64_t count) {
#if defined(__x86_64__) && defined(__clang__)
    if (has_f16c()) return halves_f16c(x, count);
#endif
    return halves_base(x, count);
}

int64_t ck_first_not_half_finite(const float *x, int64_t count) {
    // Blocks of 64 without early exit vectorise; the block with a bad value is searched again.
    int64_t i = 0;
    for (; i + 64 <= count; i += 64) {
        int bad = 0;
        for (int64_t j = 0; j < 64; j++) bad |= !(fabsf(x[i + j]) < 65520.0f);
        if (bad) break;
    }
    for (; i < count; i++)
        if (!(fabsf(x[i]) < 65520.0f)) return i;
    return count;
}

// W[col, p] of int8 panels: q x scale (an exact int8 -> float, then one rounded product).
static float int8_value(const void *panels, int64_t k, int64_t col, int64_t p) {
    const unsigned char *scales = NULL;
    const int8_t *q = (const int8_t *)narrowed_row(panels, CK_PANELS_INT8, k, col, p, &scales);
    float scale;
    memcpy(&scale, scales + (col % CK_PANEL) * sizeof(float), sizeof scale);
    return (float)q[col % CK_PANEL] * scale;
}

// Rows of one int8 panel widened to floats: q x scale of its column (the same product on every variant).
static void widen_int8_base(const int8_t *q, const float *scales, float *dst, int64_t rows) {
    for (int64_t p = 0; p < rows; p++)
        for (int64_t col = 0; col < CK_PANEL; col++) dst[p * CK_PANEL + col] = (float)q[p * CK_PANEL + col] * scales[col];
}

// Rows [p0, p0 + kc) of one half panel widened to floats (exact).
static void widen_base(const uint16_t *src, float *dst, int64_t count) {
    for (int64_t i = 0; i < count; i++) {
        _Float16 h;
        memcpy(&h, src + i, sizeof h);
        dst[i] = (float)h;
    }
}
#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx512f"))) static void widen_avx512(const uint16_t *src, float *dst, int64_t count) {
    int64_t i = 0;
    for (; i + 16 <= count; i += 16) _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    widen_base(src + i, dst + i, count - i);
}
__attribute__((target("avx2,f16c"))) static void widen_f16c(const uint16_t *src, float *dst, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    widen_base(src + i, dst + i, count - i);
}
__attribute__((target("avx512f"))) static void widen_int8_avx512(const int8_t *q, const float *scales, float *dst, int64_t rows) {
    __m512 s0 = _mm512_loadu_ps(scales), s1 = _mm512_loadu_ps(scales + 16);
    for (int64_t p = 0; p < rows; p++) {
        __m512 v0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + p * CK_PANEL))));
        __m512 v1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + p * CK_PANEL + 16))));
        _mm512_storeu_ps(dst + p * CK_PANEL, _mm512_mul_ps(v0, s0));
        _mm512_storeu_ps(dst + p * CK_PANEL + 16, _mm512_mul_ps(v1, s1));
    }
}
__attribute__((target("avx2"))) static void widen_int8_avx2(const int8_t *q, const float *scales, float *dst, int64_t rows) {
    __m256 s[4];
    for (int i = 0; i < 4; i++) s[i] = _mm256_loadu_ps(scales + 8 * i);
    for (int64_t p = 0; p < rows; p++)
        for (int i = 0; i < 4; i++) {
            __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + p * CK_PANEL + 8 * i))));
            _mm256_storeu_ps(dst + p * CK_PANEL + 8 * i, _mm256_mul_ps(v, s[i]));
        }
}
static int has_f16c(void) {
    static volatile int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("f16c") ? 1 : 0;
    }
    return known;
}
#endif

void ck_widen_halves(const void *src, float *dst, int64_t count) {
#if defined(__x86_64__) && defined(__clang__)
    if (has_f16c()) { widen_f16c((const uint16_t *)src, dst, count); return; }
#endif
    widen_base((const uint16_t *)src, dst, count);
}

// Rows [pc, pc + kc) of the panel holding column `col` (a multiple of CK_PANEL), widened to floats.
static void widen_panel(const void *panels, int format, int64_t k, int64_t col, int64_t pc, int64_t kc,
                        void (*widen)(const uint16_t *, float *, int64_t),
                        void (*widen8)(const int8_t *, const float *, float *, int64_t), float *dst) {
    const unsigned char *stored = NULL;
    const unsigned char *rows = narrowed_row(panels, format, k, col, pc, &stored);
    if (format == CK_PANELS_INT8) {
        float scales[CK_PANEL];
        memcpy(scales, stored, sizeof scales);
        widen8((const int8_t *)rows, scales, dst, kc);
    } else {
        widen((const uint16_t *)rows, dst, kc * CK_PANEL);
    }
}

// Touches rows [pc, pc + kc) of the narrowed panel holding column `col` into the cache ahead of
// its widening (a product of one row block runs through 16 KB of halves per panel and k block, a
// new stream each time, which the hardware prefetcher picks up late).
static void prefetch_panel(const void *panels, int format, int64_t k, int64_t col, int64_t pc, int64_t kc) {
#if defined(__x86_64__)
    const unsigned char *start = narrowed_row(panels, format, k, col, pc, NULL);
    const unsigned char *end = start + kc * CK_PANEL * (format == CK_PANELS_INT8 ? 1 : 2);
    for (const unsigned char *p = start; p < end; p += 64) _mm_prefetch((const char *)p, _MM_HINT_T0);
#else
    (void)panels; (void)format; (void)k; (void)col; (void)pc; (void)kc;
#endif
}

static void widen_halves_u16(const uint16_t *src, float *dst, int64_t count) { ck_widen_halves(src, dst, count); }

void ck_unpack_panels(int64_t n, int64_t k, const void *panels, int format, float *w) {
    float row[CK_PANEL];  // one row of a narrowed panel, widened as the GEMM widens it (F16C for halves)
    for (int64_t jp = 0; jp < n; jp += CK_PANEL) {
        int64_t cols = n - jp < CK_PANEL ? n - jp : CK_PANEL;
        for (int64_t p = 0; p < k; p++) {
            const float *values = row;
            if (format == CK_PANELS_FLOAT) values = (const float *)panels + jp * k + p * CK_PANEL;
            else widen_panel(panels, format, k, jp, p, 1, widen_halves_u16, widen_int8_base, row);
            for (int64_t col = 0; col < cols; col++) w[(jp + col) * k + p] = values[col];
        }
    }
}

// 16 floats: one 512-bit, two 256-bit or four 128-bit registers, per the variant compiling it;
// loaded and stored at any alignment.
typedef float f32x16 __attribute__((vector_size(64)));
#define load16(p) ({ f32x16 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store16(p, v) do { f32x16 v_ = (v); memcpy((p), &v_, sizeof v_); } while (0)

// Winograd F(2x2, 3x3) filters U = G g G^T from a prepacked convolution weight, one panel of 32
// output channels at a time: the taps' rows of the panel are widened (as the GEMM widens them)
// CB input channels at a time and transformed across the panel's 32 columns, in
// ck_winograd_filters' arithmetic (the same bits: each value is the same expression).
enum { WF_CB = 16 };
static inline __attribute__((always_inline)) void winograd_filters_rows(const float g[9][WF_CB * CK_PANEL], int64_t cn, float *u, int64_t ldu) {
    const f32x16 half = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    for (int64_t i = 0; i < cn * CK_PANEL; i += 16) {
        f32x16 gg[3][4];
        for (int x = 0; x < 3; x++) {
            f32x16 g0 = load16(g[x] + i), g1 = load16(g[3 + x] + i), g2 = load16(g[6 + x] + i);
            gg[x][0] = g0;
            gg[x][1] = (g0 + g1 + g2) * half;
            gg[x][2] = (g0 - g1 + g2) * half;
            gg[x][3] = g2;
        }
        for (int r = 0; r < 4; r++) {
            f32x16 a0 = gg[0][r], a1 = gg[1][r], a2 = gg[2][r];
            store16(u + (r * 4) * ldu + i, a0);
            store16(u + (r * 4 + 1) * ldu + i, (a0 + a1 + a2) * half);
            store16(u + (r * 4 + 2) * ldu + i, (a0 - a1 + a2) * half);
            store16(u + (r * 4 + 3) * ldu + i, a2);
        }
    }
}
#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx512f,avx512dq,avx512vl,avx2"))) static void winograd_filters_rows_avx512(
    const float g[9][WF_CB * CK_PANEL], int64_t cn, float *u, int64_t ldu) {
    winograd_filters_rows(g, cn, u, ldu);
}
__attribute__((target("avx2"))) static void winograd_filters_rows_avx2(const float g[9][WF_CB * CK_PANEL], int64_t cn,
                                                                        float *u, int64_t ldu) {
    winograd_filters_rows(g, cn, u, ldu);
}
#endif

void ck_winograd_filters_panel(const void *panels, int format, int64_t cin, int64_t p, float *u, int64_t ldu) {
    void (*widen)(const uint16_t *, float *, int64_t) = widen_base;
    void (*widen8)(const int8_t *, const float *, float *, int64_t) = widen_int8_base;
    void (*rows)(const float[9][WF_CB * CK_PANEL], int64_t, float *, int64_t) = winograd_filters_rows;
#if defined(__x86_64__) && defined(__clang__)
    int path = ck_force_path(0);
    if (path == 3) { widen = widen_avx512; widen8 = widen_int8_avx512; rows = winograd_filters_rows_avx512; }
    else if (path == 2) { widen8 = widen_int8_avx2; rows = winograd_filters_rows_avx2; if (has_f16c()) widen = widen_f16c; }
#endif
    float g[9][WF_CB * CK_PANEL] __attribute__((aligned(64)));
    int64_t k = 9 * cin, col = p * CK_PANEL;
    for (int64_t c = 0; c < cin; c += WF_CB) {
        int64_t n = cin - c < WF_CB ? cin - c : WF_CB;
        for (int t = 0; t < 9; t++) {
            int64_t row = t * cin + c;
            if (format == CK_PANELS_FLOAT)
                memcpy(g[t], (const float *)panels + col * k + row * CK_PANEL, (size_t)(n * CK_PANEL) * sizeof(float));
            else
                widen_panel(panels, format, k, col, row, n, widen, widen8, g[t]);
        }
        rows(g, n, u + c * CK_PANEL, ldu);
    }
}

// 3x3 stride-1 padding-1 convolutions with 1-4 output channels (decoders' RGB outputs, a UNet's
// latent output), one output row at a time: the three input rows it reads are held transposed,
// [cin][x + 1] with zero borders, so 16 neighbouring outputs load as one vector per (tap,
// channel); each output value is the chain im2col + GEMM computes for it (from the bias, one fma
// per (ky, kx, c) in that order with padding read as 0, then + residual): the same bits.
enum { CN_CHUNK = 64 };  // outputs per pass: 4 vectors of 16
static int64_t conv_narrow_width(int64_t w) { return (w + CN_CHUNK - 1) / CN_CHUNK * CN_CHUNK + 16; }
int64_t ck_conv3x3_narrow_scratch(int64_t w, int64_t cin) { return 3 * cin * conv_narrow_width(w); }

static inline __attribute__((always_inline)) void conv_narrow_row(const float *rows[3], int64_t w, int64_t cin, int64_t wp, const float *wt, const int cout,
                                   const float *bias, const float *residual, float *y) {
    int64_t k = 9 * cin;
    for (int64_t x0 = 0; x0 < w; x0 += CN_CHUNK) {
        f32x16 acc[4][4];
        for (int o = 0; o < cout; o++)
            for (int v = 0; v < 4; v++) {
                float b = bias ? bias[o] : 0.0f;
                acc[o][v] = (f32x16){b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b};
            }
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                const float *src = rows[ky] + x0 + kx;
                const float *wk = wt + (ky * 3 + kx) * cin;
                for (int64_t c = 0; c < cin; c++, src += wp) {
                    f32x16 a[4];
                    for (int v = 0; v < 4; v++) a[v] = load16(src + 16 * v);
                    for (int o = 0; o < cout; o++) {
                        float s = wk[o * k + c];
                        f32x16 wv = (f32x16){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s};
                        for (int v = 0; v < 4; v++) acc[o][v] = __builtin_elementwise_fma(a[v], wv, acc[o][v]);
                    }
                }
            }
        int64_t n = w - x0 < CN_CHUNK ? w - x0 : CN_CHUNK;
        for (int64_t i = 0; i < n; i++)
            for (int o = 0; o < cout; o++) {
                float value = acc[o][i / 16][i % 16];
                if (residual) value += residual[(x0 + i) * cout + o];
                y[(x0 + i) * cout + o] = value;
            }
    }
}
static inline __attribute__((always_inline)) void conv_narrow_rows(const float *x, int64_t h, int64_t w, int64_t cin, const float *wt, const int cout,
                                    const float *bias, const float *residual, int64_t r0, int64_t r1, float *scratch,
                                    float *y) {
    int64_t wp = conv_narrow_width(w);
    int64_t held[3] = {-2, -2, -2};  // the input row each slot holds (-2: none yet)
    for (int64_t oy = r0; oy < r1; oy++) {
        const float *rows[3];
        for (int ky = 0; ky < 3; ky++) {
            int64_t iy = oy + ky - 1, slot = (iy + 3) % 3;
            float *t = scratch + slot * cin * wp;
            if (held[slot] != iy) {
                memset(t, 0, (size_t)(cin * wp) * sizeof(float));
                if (iy >= 0 && iy < h)
                    for (int64_t ix = 0; ix < w; ix++) {
                        const float *p = x + (iy * w + ix) * cin;
                        for (int64_t c = 0; c < cin; c++) t[c * wp + ix + 1] = p[c];
                    }
                held[slot] = iy;
            }
            rows[ky] = t;
        }
        conv_narrow_row(rows, w, cin, wp, wt, cout, bias, residual ? residual + oy * w * cout : NULL, y + oy * w * cout);
    }
}
#define CONV_NARROW(SUFFIX, ATTR)                                                                                  \
    ATTR static void conv_narrow_##SUFFIX(const float *x, int64_t h, int64_t w, int64_t cin, const float *wt,          \
                                          int64_t cout, const float *bias, const float *residual, int64_t r0,         \
                                          int64_t r1, float *scratch, float *y) {                                     \
        switch (cout) {                                                                                              \
        case 1: conv_narrow_rows(x, h, w, cin, wt, 1, bias, residual, r0, r1, scratch, y); break;                    \
        case 2: conv_narrow_rows(x, h, w, cin, wt, 2, bias, residual, r0, r1, scratch, y); break;                    \
        case 3: conv_narrow_rows(x, h, w, cin, wt, 3, bias, residual, r0, r1, scratch, y); break;                    \
        default: conv_narrow_rows(x, h, w, cin, wt, 4, bias, residual, r0, r1, scratch, y); break;                   \
        }                                                                                                            \
    }
#if defined(__x86_64__) && defined(__clang__)
CONV_NARROW(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
CONV_NARROW(avx2, __attribute__((target("avx2,fma"))))
#endif
CONV_NARROW(base, )

int ck_conv3x3_narrow(const float *x, int64_t h, int64_t w, int64_t cin, const float *wt, int64_t cout, const float *bias,
                      const float *residual, int64_t r0, int64_t r1, float *scratch, float *y) {
    if (cout < 1 || cout > 4 || h <= 0 || w <= 0 || cin <= 0 || r0 < 0 || r1 > h) return 1;
#if defined(__x86_64__) && defined(__clang__)
    int path = ck_force_path(0);
    if (path == 3) { conv_narrow_avx512(x, h, w, cin, wt, cout, bias, residual, r0, r1, scratch, y); return 0; }
    if (path == 2) { conv_narrow_avx2(x, h, w, cin, wt, cout, bias, residual, r0, r1, scratch, y); return 0; }
#endif
    conv_narrow_base(x, h, w, cin, wt, cout, bias, residual, r0, r1, scratch, y);
    return 0;
}

int ck_sgemm_panels(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA, const void *panels,
                    int format, int64_t j0, float *c, int64_t ldc, float alpha, float beta) {
    return ck_sgemm_panels_fused(m, n, k, a, lda, transA, panels, format, j0, c, ldc, alpha, beta, NULL, NULL, 0);
}

// Float panels: columns of C one row block covers before the next row block starts, so that its
// block of C (MC rows) stays in L2 across the k blocks: all n when that block fits in half of
// the L2 cache, else equal groups of whole panels that do (Zen 5, 1 MB of L2: 2048 x 5120 x 640
// and 512 x 10240 x 1280 went from 65% to 74% of peak at 1 thread, whose 192-row blocks of C
// had been 3.9 / 7.9 MB). Only the order of blocks changes: every element of C keeps its chain.
static int64_t l2_floats(void) {
    static volatile int64_t known = 0;
    if (known == 0) {
        long bytes = sysconf(_SC_LEVEL2_CACHE_SIZE);
        if (bytes < (256 << 10) || bytes > (64 << 20)) bytes = 1 << 20;  // unknown: 1 MB
        known = bytes / (int64_t)sizeof(float);
    }
    return known;
}
static int64_t panel_columns_group(int64_t n, int64_t mc) {
    int64_t most = l2_floats() / 2 / mc / CK_PANEL * CK_PANEL;
    if (most < CK_PANEL) most = CK_PANEL;
    if (n <= most) return n;
    int64_t groups = (n + most - 1) / most;
    int64_t per = (n + groups - 1) / groups;
    return (per + CK_PANEL - 1) / CK_PANEL * CK_PANEL;
}

// Narrowed panels with many row blocks: the depth widened at a time for `columns` columns,
// whole k blocks of at most 1M floats (4 MB; `ck_widened_span_floats`) of widened panels, at
// least one k block.
static volatile int64_t widened_floats = (int64_t)1 << 20;
int64_t ck_widened_span_floats(int64_t floats) {
    int64_t old = widened_floats;
    if (floats > 0) widened_floats = floats;
    return old;
}
static int64_t widened_span(int64_t columns, int64_t k) {
    int64_t span = widened_floats / columns / KC * KC;
    if (span < KC) span = KC;
    return span < k ? span : k;
}

int ck_sgemm_panels_fused(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int transA, const void *panels,
                          int format, int64_t j0, float *c, int64_t ldc, float alpha, float beta, const float *bias,
                          const float *residual, int64_t ldr) {
    int half = format == CK_PANELS_HALF, int8 = format == CK_PANELS_INT8, narrowed = half || int8;
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0 || j0 % CK_PANEL != 0) {
        start_chains(c, ldc, m, n, beta, bias);
        if (residual) add_residual(c, ldc, m, n, residual, ldr);
        return j0 % CK_PANEL != 0 ? 2 : 0;
    }
    variant_t v = variant();
    epilogue_t ep = epilogue();
    int64_t mr = v.mr, nr = v.nr, mcMax = v.mc;
    void (*widen)(const uint16_t *, float *, int64_t) = widen_base;
    void (*widen8)(const int8_t *, const float *, float *, int64_t) = widen_int8_base;
#if defined(__x86_64__) && defined(__clang__)
    int path = ck_force_path(0);
    if (path == 3) { widen = widen_avx512; widen8 = widen_int8_avx512; }
    else if (path == 2) { widen8 = widen_int8_avx2; if (has_f16c()) widen = widen_f16c; }
#endif
    int64_t kcMax = k < KC ? k : KC;
    int64_t mcFill = m < mcMax ? m : mcMax;
    buffers_t *t = buffers();
    float *ap = t ? grow(&t->a, &t->capA, (size_t)((mcFill + mr - 1) / mr * mr * kcMax)) : NULL;
    // Narrowed panels with several row blocks: a group of columns and a span of depth at a time
    // are widened into float panels, on which the float path then runs (its row blocks outer);
    // the chains continue in C from one span to the next (beta 1), the bias put in by the first
    // span and the residual added by the last. With many row blocks (4 or more) the groups are
    // the float path's and the spans up to 4 MB of widened panels, so a block of C stays in L2
    // across a span's k blocks: widening each k block for all columns and running every row
    // under it streamed all of C through memory once per k block (SD 1.5's F16 UNet at a 64x64
    // latent: its 8192 x 2560 GEGLU product's 84 MB, twice; 3.7% of the evaluation). With 2-3
    // row blocks that is still the order (one k block of all columns at a time): the long spans
    // cost its 16x16 latent 2% there. With one row block, each panel's k block is widened as
    // used, while it stays in L1, or on AVX-512 read as stored by the tiles (narrowed_strip_avx512).
    int direct = 0;
#if defined(__x86_64__) && defined(__clang__)
    direct = narrowed && path == 3 && m <= mcMax;
#endif
    int grouped = narrowed && m > mcMax, manyBlocks = m >= 4 * mcMax;
    int64_t columnsWide = !grouped ? CK_PANEL : manyBlocks ? panel_columns_group(n, mcMax) : n;
    int64_t panelColumns = (columnsWide + CK_PANEL - 1) / CK_PANEL * CK_PANEL;  // whole panels widened
    int64_t span = grouped && manyBlocks ? widened_span(panelColumns, k) : kcMax;
    float *wide = t && narrowed && !direct ? grow(&t->b, &t->capB, (size_t)(panelColumns * span)) : NULL;
    if (ap && wide && grouped) {
        int status = 0;
        for (int64_t jg = 0; jg < n; jg += columnsWide) {
            int64_t cols = n - jg < columnsWide ? n - jg : columnsWide;
            for (int64_t p0 = 0; p0 < k; p0 += span) {
                int64_t dk = k - p0 < span ? k - p0 : span;
                for (int64_t jr = 0; jr < cols; jr += CK_PANEL)
                    widen_panel(panels, format, k, j0 + jg + jr, p0, dk, widen, widen8, wide + jr * dk);
                int s = ck_sgemm_panels_fused(m, cols, dk, a + (transA ? p0 * lda : p0), lda, transA, wide, CK_PANELS_FLOAT,
                                              0, c + jg, ldc, alpha, p0 == 0 ? beta : 1.0f,
                                              bias && p0 == 0 ? bias + jg : NULL,
                                              residual && p0 + dk == k ? residual + jg : NULL, ldr);
                if (s > status) status = s;
            }
        }
        return status;
    }
    if (!ap || (narrowed && !direct && !wide)) {  // out of memory for the buffers: the same chain, element by element
        if (bias) put_bias(c, ldc, m, n, bias);
        float beta0 = bias ? 1.0f : beta;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                float acc = beta0 == 0.0f ? 0.0f : (beta0 == 1.0f ? c[i * ldc + j] : beta0 * c[i * ldc + j]);
                int64_t col = j0 + j, base = (col / CK_PANEL) * CK_PANEL * k + col % CK_PANEL;
                for (int64_t p = 0; p < k; p++) {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    if (alpha != 1.0f) av = alpha * av;
                    float wv;
                    if (int8) {
                        wv = int8_value(panels, k, col, p);
                    } else if (half) {
                        _Float16 h;
                        memcpy(&h, (const uint16_t *)panels + base + p * CK_PANEL, sizeof h);
                        wv = (float)h;
                    } else {
                        wv = ((const float *)panels)[base + p * CK_PANEL];
                    }
                    acc = fmaf(av, wv, acc);
                }
                c[i * ldc + j] = acc;
            }
        if (residual) add_residual(c, ldc, m, n, residual, ldr);
        return 1;
    }
    float tile[TILE_MAX] __attribute__((aligned(64)));
    memset(tile, 0, sizeof tile);
    if (bias) beta = 1.0f;
    // Float panels need no packing, so the row blocks are the outer loop (inside groups of
    // columns, `panel_columns_group`): a block of C stays in L2 across the k blocks (the k loop
    // outermost streamed all of C through memory once per k block). Narrowed panels get here
    // with one row block.
    int64_t columnGroup = narrowed ? n : panel_columns_group(n, mcMax);
    for (int64_t jg = 0; jg < n; jg += columnGroup) {
      int64_t jEnd = n - jg < columnGroup ? n : jg + columnGroup;
      for (int64_t ic = 0; ic < m; ic += mcMax) {
        int64_t mc = m - ic < mcMax ? m - ic : mcMax;
        for (int64_t pc = 0; pc < k; pc += KC) {
            int64_t kc = k - pc < KC ? k - pc : KC;
            int init = pc > 0 || bias ? 0 : (beta == 0.0f ? 1 : (beta == 1.0f ? 0 : 2));
            int last = pc + kc == k;
            a_block_t ablock = a_block(mr, mc, kc, ic, pc, a, lda, transA, alpha, m, n, ap);
            for (int64_t jr = jg; jr < jEnd; jr += CK_PANEL) {
                int64_t cols = n - jr < CK_PANEL ? n - jr : CK_PANEL;
                float *cc = c + ic * ldc + jr;
                if (bias && pc == 0) ep.bias(cc, ldc, mc, cols, bias + jr);
                if (direct) {
#if defined(__x86_64__) && defined(__clang__)
                    // The tiles prefetch their own rows far enough ahead; touching the next panel's
                    // k block as well (below) made SD's 16x16 UNet no faster at 2 threads and 3-6%
                    // slower at 1 (five interleaved rounds).
                    const unsigned char *scales = NULL;
                    const unsigned char *b = narrowed_row(panels, format, k, j0 + jr, pc, &scales);
                    narrowed_strip_avx512(int8, mc, kc, ablock, b, (const float *)scales, cc, ldc, cols, init, beta);
#endif
                } else {
                    const float *bpanel;
                    if (narrowed) {
                        if (jr + CK_PANEL < jEnd) prefetch_panel(panels, format, k, j0 + jr + CK_PANEL, pc, kc);
                        widen_panel(panels, format, k, j0 + jr, pc, kc, widen, widen8, wide);
                        bpanel = wide;
                    } else {
                        bpanel = (const float *)panels + ((j0 + jr) / CK_PANEL) * CK_PANEL * k + pc * CK_PANEL;
                    }
                    for (int64_t sub = 0; sub < cols; sub += nr)
                        column_strip(&v, mc, kc, ablock, bpanel + sub, CK_PANEL, cc + sub, ldc,
                                     cols - sub < nr ? cols - sub : nr, init, beta, tile);
                }
                if (residual && last) ep.residual(cc, ldc, mc, cols, residual + ic * ldr + jr, ldr);
            }
        }
      }
    }
    return 0;
}
