/* Products with a side of at most DGM_CPU_SMALL_DIM: the 2-D families' layers on 1-3
 * input columns, their 1-2 outputs and those layers' gradients. OpenBLAS packs and blocks
 * for large products and ran these at 7-16 GFLOP/s (a 512x1x64 product 9.5 us, a
 * 2x64x512 weight gradient 8.4 us: docs/benchmark-notes.md); the loops here stream each
 * operand once, vectorized along whichever index is contiguous.
 *
 * Three forms, by which index runs along memory:
 *   rows:    C[i, :] += A(i,p)·B(p, :) for each p, along j (B's rows contiguous);
 *   dots:    C[i, j] = A(i, :)·B(:, j), along p (A's rows and B's columns contiguous);
 *   columns: C[:, j] = sum over p of A(:, p)·B(p, j), along i (A stored transposed),
 *            into a contiguous buffer, then written to C's column.
 * Every form adds its terms in a fixed order, so results do not depend on the threads.
 *
 * Which products come here depends on OpenBLAS's kernels. Against its Haswell/Zen kernels
 * (AVX2) every form won (1.1-4x, an AMD machine). Against its AVX-512 kernels (SkylakeX,
 * on a Sapphire Rapids Xeon: bench_small_gemm, 2026-12-07) only the short inner dimension
 * did (k <= 4: 1.2-3x): OpenBLAS ran the training steps' long ones (a 512x2x64 forward, a
 * 2x64x512 weight gradient) in 0.16-0.41 of these loops' time, but a sampler's 20000x2x64
 * product in 1.6x. So with AVX-512 kernels a product with k > 4 comes here only when A is
 * large (m·k above 2^17 values). */
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "cpu/cpu_internal.h"

/* B transposed into a stack buffer for the rows form: k·n floats at most. */
#define SMALL_B_MAX 4096
/* Rows of the columns form's buffer a pass. */
#define SMALL_COL_ROWS 256

typedef struct operand {
    const float *p;
    int64_t si, sp; /* A(i,p) = p[i·si + p·sp], or B(p,j) = p[p·si + j·sp] */
} operand;

/* C[i, :] = beta·C[i, :] (beta 0: C not read), for rows [i0, i1). */
static inline void scale_rows(int64_t i0, int64_t i1, int64_t n, float beta, float *c, int64_t ldc)
{
    for (int64_t i = i0; i < i1; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            memset(ci, 0, (size_t)n * sizeof *ci);
        else if (beta != 1.0f)
            for (int64_t j = 0; j < n; j++) ci[j] *= beta;
    }
}

/* Row i of the rows form for a short inner dimension K (a constant in each instance, so
 * the terms of an element stay in a register): C[i, j] = beta·C[i, j] + sum over p < K of
 * s[p]·B[p, j], one write of C's row. */
#define ROW_SHORT_K(K)                                                                        \
    static inline void row_k##K(int64_t n, const float *s, const float *b, int64_t ldb,      \
                                float beta, float *restrict ci)                               \
    {                                                                                         \
        for (int64_t j = 0; j < n; j++) {                                                     \
            float v = 0.0f;                                                                   \
            for (int p = 0; p < K; p++) v += s[p] * b[p * ldb + j];                           \
            ci[j] = beta == 0.0f ? v : beta * ci[j] + v;                                      \
        }                                                                                     \
    }
ROW_SHORT_K(1)
ROW_SHORT_K(2)
ROW_SHORT_K(3)
ROW_SHORT_K(4)
#undef ROW_SHORT_K

/* The rows form; b's rows are contiguous (b[p·ldb + j]). */
DGM_CPU_CLONES static void rows_form(int64_t m, int64_t n, int64_t k, float alpha, operand a,
                                     const float *b, int64_t ldb, float beta, float *c,
                                     int64_t ldc)
{
    const int parallel = (size_t)(m * n * k) >= 64 * dgm_cpu_parallel_min() && m > 1;
    DGM_CPU_PARALLEL_FOR(parallel, i, m, {
        float *restrict ci = c + i * ldc;
        if (k <= 4) {
            float s[4];
            for (int64_t p = 0; p < k; p++) s[p] = alpha * a.p[i * a.si + p * a.sp];
            switch (k) {
            case 1: row_k1(n, s, b, ldb, beta, ci); break;
            case 2: row_k2(n, s, b, ldb, beta, ci); break;
            case 3: row_k3(n, s, b, ldb, beta, ci); break;
            default: row_k4(n, s, b, ldb, beta, ci); break;
            }
            continue;
        }
        scale_rows(i, i + 1, n, beta, c, ldc);
        for (int64_t p = 0; p < k; p++) {
            const float s = alpha * a.p[i * a.si + p * a.sp];
            const float *restrict bp = b + p * ldb;
            for (int64_t j = 0; j < n; j++) ci[j] += s * bp[j];
        }
    });
}

/* x·y over n in eight interleaved float lanes added pairwise at the end. */
static inline float dot8(const float *restrict x, const float *restrict y, int64_t n)
{
    float lane[8] = {0};
    int64_t p = 0;
    for (; p + 8 <= n; p += 8)
        for (int l = 0; l < 8; l++) lane[l] += x[p + l] * y[p + l];
    for (int l = 0; p + l < n; l++) lane[l] += x[p + l] * y[p + l];
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* The dots form: A's rows (a[i·lda + p]) and B's columns (b[j·ldb + p]) contiguous. */
DGM_CPU_CLONES static void dots_form(int64_t m, int64_t n, int64_t k, float alpha,
                                     const float *a, int64_t lda, const float *b, int64_t ldb,
                                     float beta, float *c, int64_t ldc)
{
    const int parallel = (size_t)(m * n * k) >= 64 * dgm_cpu_parallel_min() && m > 1;
    DGM_CPU_PARALLEL_FOR(parallel, i, m, {
        for (int64_t j = 0; j < n; j++) {
            const float v = alpha * dot8(a + i * lda, b + j * ldb, k);
            float *cij = c + i * ldc + j;
            *cij = beta == 0.0f ? v : beta * *cij + v;
        }
    });
}

/* The columns form: A stored transposed (A(i,p) = a[p·lda + i]), B(p,j) = b.p[...]. */
DGM_CPU_CLONES static void columns_form(int64_t m, int64_t n, int64_t k, float alpha,
                                        const float *a, int64_t lda, operand b, float beta,
                                        float *c, int64_t ldc)
{
    float acc[SMALL_COL_ROWS];
    for (int64_t i0 = 0; i0 < m; i0 += SMALL_COL_ROWS) {
        const int64_t w = m - i0 < SMALL_COL_ROWS ? m - i0 : SMALL_COL_ROWS;
        for (int64_t j = 0; j < n; j++) {
            for (int64_t i = 0; i < w; i++) acc[i] = 0.0f;
            for (int64_t p = 0; p < k; p++) {
                const float s = b.p[p * b.si + j * b.sp];
                const float *restrict ap = a + p * lda + i0;
                for (int64_t i = 0; i < w; i++) acc[i] += ap[i] * s;
            }
            for (int64_t i = 0; i < w; i++) {
                float *cij = c + (i0 + i) * ldc + j;
                *cij = beta == 0.0f ? alpha * acc[i] : beta * *cij + alpha * acc[i];
            }
        }
    }
}

char *openblas_get_corename(void); /* OpenBLAS: the kernels' core */

/* Whether OpenBLAS runs AVX-512 kernels (asked once; the answer never changes). */
static int blas_avx512(void)
{
    static atomic_int known = -1;
    int v = atomic_load_explicit(&known, memory_order_relaxed);
    if (v < 0) {
        const char *core = openblas_get_corename();
        v = core && (!strcasecmp(core, "SkylakeX") || !strcasecmp(core, "Cooperlake") ||
                     !strcasecmp(core, "SapphireRapids"));
        atomic_store_explicit(&known, v, memory_order_relaxed);
    }
    return v;
}

int dgm_cpu_small_gemm_defers(int64_t m, int64_t k)
{
    return k > DGM_CPU_SMALL_DIM && m * k <= ((int64_t)1 << 17) && blas_avx512();
}

int dgm_cpu_small_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc)
{
    if (m < 1 || n < 1 || k < 1) return 0;
    const int64_t small = DGM_CPU_SMALL_DIM;
    if (dgm_cpu_small_gemm_defers(m, k)) return 0;
    const operand A = {a, trans_a ? 1 : lda, trans_a ? lda : 1};
    const operand B = {b, trans_b ? 1 : ldb, trans_b ? ldb : 1};
    if (n <= small && !trans_a) {
        if (trans_b) { /* B's column j is b[j·ldb + p] */
            dots_form(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return 1;
        }
        if (k * n <= SMALL_B_MAX) { /* B [k,n] into columns: bt[j·k + p] = B(p,j) */
            float bt[SMALL_B_MAX];
            for (int64_t p = 0; p < k; p++)
                for (int64_t j = 0; j < n; j++) bt[j * k + p] = b[p * ldb + j];
            dots_form(m, n, k, alpha, a, lda, bt, k, beta, c, ldc);
            return 1;
        }
    }
    if (n <= small && trans_a) {
        columns_form(m, n, k, alpha, a, lda, B, beta, c, ldc);
        return 1;
    }
    if (k <= small || m <= small) {
        if (!trans_b) {
            rows_form(m, n, k, alpha, A, b, ldb, beta, c, ldc);
            return 1;
        }
        if (k * n <= SMALL_B_MAX) { /* B [n,k] into rows of k: bt[p·n + j] = B(p,j) */
            float bt[SMALL_B_MAX];
            for (int64_t p = 0; p < k; p++)
                for (int64_t j = 0; j < n; j++) bt[p * n + j] = b[j * ldb + p];
            rows_form(m, n, k, alpha, A, bt, n, beta, c, ldc);
            return 1;
        }
    }
    return 0;
}
