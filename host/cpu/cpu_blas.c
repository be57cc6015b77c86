/* Matrix products and sums through OpenBLAS. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "cpu/cpu_internal.h"

dgm_status dgm_cpu_gemm(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc)
{
    DGM_CPU_FP_SCOPE(ctx);
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED,
                             "cpu gemm: dimensions beyond the 32-bit BLAS interface");
    if (dgm_cpu_small_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
        return DGM_STATUS_OK;
    /* OpenBLAS's beta = 0 pass over C (sgemm_beta) ran at a third of memset's speed and
     * cost 3-30 us a call at the models' shapes (256x64: 19.2 us a product against 16.4
     * accumulated; 256x512, K = 2: 61 against 29 with C zeroed here). Zeroing C first and
     * accumulating gives the same values (C is not read for beta 0 either way). */
    if (beta == 0.0f) {
        if (ldc == n)
            memset(c, 0, (size_t)(m * n) * sizeof *c);
        else
            for (int64_t r = 0; r < m; r++) memset(c + r * ldc, 0, (size_t)n * sizeof *c);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
    return DGM_STATUS_OK;
}

/* Sums accumulate in double: the CPU backend is the reference the CUDA one is checked
 * against. Each output is summed by one thread in one order, so the result does not
 * depend on the thread count; large inputs spread rows (row sums) or blocks of columns
 * (column sums: a VAE's bias gradients, 128 x 784) over the threads. */
#define SUM_COL_BLOCK 64

DGM_CPU_CLONES static void sum_col_block(int64_t rows, int64_t cols, int64_t c0, float alpha,
                                         const float *x, float beta, float *y)
{
    const int64_t w = cols - c0 < SUM_COL_BLOCK ? cols - c0 : SUM_COL_BLOCK;
    double acc[SUM_COL_BLOCK] = {0};
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < w; c++) acc[c] += x[r * cols + c0 + c];
    for (int64_t c = 0; c < w; c++) y[c0 + c] = dgm_axpby(beta, y[c0 + c], alpha * (float)acc[c]);
}

DGM_CPU_CLONES dgm_status dgm_cpu_reduce_sum(dgm_ctx *ctx, int axis, int64_t rows, int64_t cols,
                                             float alpha, const float *x, float beta, float *y)
{
    DGM_CPU_FP_SCOPE(ctx);
    if (axis < 0 || axis > 2)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cpu reduce_sum: unknown axis %d",
                             axis);
    const int parallel = (size_t)(rows * cols) >= dgm_cpu_parallel_min();
    if (axis == 0) { /* all */
        y[0] = dgm_axpby(beta, y[0], alpha * (float)dgm_cpu_sum(x, rows * cols, 0));
    } else if (axis == 1) { /* each row */
        DGM_CPU_PARALLEL_FOR(parallel && rows > 1, r, rows,
                             y[r] = dgm_axpby(beta, y[r], alpha * (float)dgm_cpu_sum(x + r * cols, cols, 0)));
    } else { /* each column, in blocks of columns so the sweep over rows is contiguous */
        const int64_t blocks = (cols + SUM_COL_BLOCK - 1) / SUM_COL_BLOCK;
        DGM_CPU_PARALLEL_FOR(parallel && blocks > 1, b, blocks,
                             sum_col_block(rows, cols, b * SUM_COL_BLOCK, alpha, x, beta, y));
    }
    return DGM_STATUS_OK;
}
