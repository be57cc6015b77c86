/* CPU row and column kernels: logsumexp, maxout, batch norm. */
#include <math.h>

#include "cpu/cpu_internal.h"

dgm_status dgm_cpu_logsumexp_rows(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *x,
                                  float *y)
{
    DGM_CPU_FP_SCOPE(ctx);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float mx = -INFINITY;
        for (int64_t c = 0; c < cols; c++) mx = fmaxf(mx, xr[c]);
        if (isinf(mx)) { /* all -inf (or a +inf): the answer is mx itself */
            y[r] = mx;
            continue;
        }
        double s = 0.0;
        for (int64_t c = 0; c < cols; c++) s += exp((double)(xr[c] - mx));
        y[r] = mx + (float)log(s);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_logsumexp_rows_backward(dgm_ctx *ctx, int64_t rows, int64_t cols,
                                           const float *x, const float *y, const float *dy,
                                           float beta, float *dx)
{
    DGM_CPU_FP_SCOPE(ctx);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            const int64_t i = r * cols + c;
            dx[i] = dgm_axpby(beta, dx[i], dy[r] * expf(x[i] - y[r]));
        }
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_maxout(dgm_ctx *ctx, int64_t rows, int64_t cols, int k, const float *x,
                          float *y, int32_t *argmax)
{
    DGM_CPU_FP_SCOPE(ctx);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            const float *g = x + r * cols * k + j * k;
            int32_t best = 0;
            for (int32_t t = 1; t < k; t++)
                if (g[t] > g[best]) best = t;
            y[r * cols + j] = g[best];
            argmax[r * cols + j] = best;
        }
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_maxout_backward(dgm_ctx *ctx, int64_t rows, int64_t cols, int k,
                                   const int32_t *argmax, const float *dy, float beta,
                                   float *dx)
{
    DGM_CPU_FP_SCOPE(ctx);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            const int64_t o = r * cols + j;
            float *g = dx + r * cols * k + j * k;
            for (int32_t t = 0; t < k; t++)
                g[t] = dgm_axpby(beta, g[t], t == argmax[o] ? dy[o] : 0.0f);
        }
    return DGM_STATUS_OK;
}

/* Batch norm walks the rows of a block of BN_BLOCK columns at a time: contiguous loads
 * that vectorize, with per-column double sums (a column-at-a-time walk strides by `cols`).
 * The blocks are independent; inputs large enough spread them over the threads (64
 * columns a block: 400 features split 4 + 3 between two). */
#define BN_BLOCK 64

static inline int64_t bn_blocks(int64_t cols) { return (cols + BN_BLOCK - 1) / BN_BLOCK; }

static inline int bn_parallel(int64_t rows, int64_t cols)
{
    return bn_blocks(cols) > 1 && (size_t)(rows * cols) >= dgm_cpu_parallel_min();
}

/* Columns [c0, c0 + w) of dgm_cpu_batchnorm_forward. */
DGM_CPU_CLONES static void bn_forward_block(int training, int64_t rows, int64_t cols,
                                            int64_t c0, int64_t w, float eps, float momentum,
                                            const float *x, const float *gamma,
                                            const float *beta, float *running_mean,
                                            float *running_var, float *y, float *save_mean,
                                            float *save_invstd)
{
    float mean[BN_BLOCK], invstd[BN_BLOCK], g[BN_BLOCK], b[BN_BLOCK];
    if (training) {
        double s[BN_BLOCK] = {0}, ss[BN_BLOCK] = {0}, m[BN_BLOCK];
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * cols + c0;
            for (int64_t j = 0; j < w; j++) s[j] += xr[j];
        }
        for (int64_t j = 0; j < w; j++) m[j] = s[j] / (double)rows;
        for (int64_t r = 0; r < rows; r++) { /* two passes: the variance about the mean */
            const float *xr = x + r * cols + c0;
            for (int64_t j = 0; j < w; j++) {
                const double d = xr[j] - m[j];
                ss[j] += d * d;
            }
        }
        for (int64_t j = 0; j < w; j++) {
            const int64_t c = c0 + j;
            mean[j] = (float)m[j];
            invstd[j] = (float)(1.0 / sqrt(ss[j] / (double)rows + (double)eps));
            if (running_mean)
                running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean[j];
            if (running_var)
                running_var[c] = (1.0f - momentum) * running_var[c] +
                                 momentum * (float)(ss[j] / (double)(rows - 1));
        }
    } else {
        for (int64_t j = 0; j < w; j++) {
            mean[j] = running_mean[c0 + j];
            invstd[j] = 1.0f / sqrtf(running_var[c0 + j] + eps);
        }
    }
    for (int64_t j = 0; j < w; j++) {
        save_mean[c0 + j] = mean[j];
        save_invstd[c0 + j] = invstd[j];
        g[j] = gamma ? gamma[c0 + j] : 1.0f;
        b[j] = beta ? beta[c0 + j] : 0.0f;
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols + c0;
        float *yr = y + r * cols + c0;
        for (int64_t j = 0; j < w; j++) yr[j] = dgm_batchnorm_apply(xr[j], mean[j], invstd[j], g[j], b[j]);
    }
}

DGM_CPU_CLONES dgm_status dgm_cpu_batchnorm_forward(dgm_ctx *ctx, int training, int64_t rows,
                                                    int64_t cols, float eps, float momentum,
                                                    const float *x, const float *gamma,
                                                    const float *beta, float *running_mean,
                                                    float *running_var, float *y,
                                                    float *save_mean, float *save_invstd)
{
    DGM_CPU_FP_SCOPE(ctx);
    const int64_t nb = bn_blocks(cols);
    DGM_CPU_PARALLEL_FOR(bn_parallel(rows, cols), b, nb, {
        const int64_t c0 = b * BN_BLOCK, w = cols - c0 < BN_BLOCK ? cols - c0 : BN_BLOCK;
        bn_forward_block(training, rows, cols, c0, w, eps, momentum, x, gamma, beta,
                         running_mean, running_var, y, save_mean, save_invstd);
    });
    return DGM_STATUS_OK;
}

/* Columns [c0, c0 + w) of dgm_cpu_batchnorm_backward. */
DGM_CPU_CLONES static void bn_backward_block(int64_t rows, int64_t cols, int64_t c0,
                                             int64_t w, float n, const float *x,
                                             const float *gamma, const float *save_mean,
                                             const float *save_invstd, const float *dy,
                                             float beta_dx, float *dx, float *dgamma,
                                             float *dbeta)
{
    const float *mean = save_mean + c0, *invstd = save_invstd + c0;
    double sdy[BN_BLOCK] = {0}, sdyx[BN_BLOCK] = {0};
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols + c0, *dyr = dy + r * cols + c0;
        for (int64_t j = 0; j < w; j++) {
            sdy[j] += dyr[j];
            sdyx[j] += dyr[j] * (xr[j] - mean[j]) * invstd[j];
        }
    }
    for (int64_t j = 0; j < w; j++) {
        if (dgamma) dgamma[c0 + j] += (float)sdyx[j];
        if (dbeta) dbeta[c0 + j] += (float)sdy[j];
    }
    if (!dx) return;
    float g[BN_BLOCK], fsdy[BN_BLOCK], fsdyx[BN_BLOCK];
    for (int64_t j = 0; j < w; j++) {
        g[j] = gamma ? gamma[c0 + j] : 1.0f;
        fsdy[j] = (float)sdy[j];
        fsdyx[j] = (float)sdyx[j];
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols + c0, *dyr = dy + r * cols + c0;
        float *dxr = dx + r * cols + c0;
        for (int64_t j = 0; j < w; j++) {
            const float xhat = (xr[j] - mean[j]) * invstd[j];
            dxr[j] = dgm_axpby(beta_dx, dxr[j],
                               dgm_batchnorm_dx(dyr[j], xhat, g[j], invstd[j], fsdy[j], fsdyx[j], n));
        }
    }
}

DGM_CPU_CLONES dgm_status dgm_cpu_batchnorm_backward(dgm_ctx *ctx, int training, int64_t rows,
                                                     int64_t cols, const float *x,
                                                     const float *gamma, const float *save_mean,
                                                     const float *save_invstd, const float *dy,
                                                     float beta_dx, float *dx, float *dgamma,
                                                     float *dbeta)
{
    DGM_CPU_FP_SCOPE(ctx);
    const float n = training ? (float)rows : 0.0f;
    const int64_t nb = bn_blocks(cols);
    DGM_CPU_PARALLEL_FOR(bn_parallel(rows, cols), b, nb, {
        const int64_t c0 = b * BN_BLOCK, w = cols - c0 < BN_BLOCK ? cols - c0 : BN_BLOCK;
        bn_backward_block(rows, cols, c0, w, n, x, gamma, save_mean, save_invstd, dy, beta_dx,
                          dx, dgamma, dbeta);
    });
    return DGM_STATUS_OK;
}
