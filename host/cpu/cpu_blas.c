/* Matrix products and sums through OpenBLAS. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "cpu/cpu_internal.h"

dgm_status dgm_cpu_gemm(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc)
{
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED,
                             "cpu gemm: dimensions beyond the 32-bit BLAS interface");
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
 * against. */
DGM_CPU_CLONES dgm_status dgm_cpu_reduce_sum(dgm_ctx *ctx, int axis, int64_t rows, int64_t cols, float alpha,
                              const float *x, float beta, float *y)
{
    if (axis < 0 || axis > 2)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cpu reduce_sum: unknown axis %d",
                             axis);
    if (axis == 0) { /* all */
        double s = 0.0;
        const int64_t n = rows * cols;
        for (int64_t i = 0; i < n; i++) s += x[i];
        y[0] = dgm_axpby(beta, y[0], alpha * (float)s);
    } else if (axis == 1) { /* each row */
        for (int64_t r = 0; r < rows; r++) {
            double s = 0.0;
            for (int64_t c = 0; c < cols; c++) s += x[r * cols + c];
            y[r] = dgm_axpby(beta, y[r], alpha * (float)s);
        }
    } else { /* each column, in blocks of columns so the sweep over rows is contiguous */
        enum { BLOCK = 256 };
        double acc[BLOCK];
        for (int64_t c0 = 0; c0 < cols; c0 += BLOCK) {
            const int64_t w = cols - c0 < BLOCK ? cols - c0 : BLOCK;
            for (int64_t c = 0; c < w; c++) acc[c] = 0.0;
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < w; c++) acc[c] += x[r * cols + c0 + c];
            for (int64_t c = 0; c < w; c++)
                y[c0 + c] = dgm_axpby(beta, y[c0 + c], alpha * (float)acc[c]);
        }
    }
    return DGM_STATUS_OK;
}
