/* CPU row and column kernels: logsumexp, maxout, batch norm. */
#include <math.h>

#include "cpu/cpu_internal.h"

dgm_status dgm_cpu_logsumexp_rows(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *x,
                                  float *y)
{
    (void)ctx;
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
    (void)ctx;
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
    (void)ctx;
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
    (void)ctx;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            const int64_t o = r * cols + j;
            float *g = dx + r * cols * k + j * k;
            for (int32_t t = 0; t < k; t++)
                g[t] = dgm_axpby(beta, g[t], t == argmax[o] ? dy[o] : 0.0f);
        }
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_batchnorm_forward(dgm_ctx *ctx, int training, int64_t rows, int64_t cols,
                                     float eps, float momentum, const float *x,
                                     const float *gamma, const float *beta,
                                     float *running_mean, float *running_var, float *y,
                                     float *save_mean, float *save_invstd)
{
    (void)ctx;
    for (int64_t c = 0; c < cols; c++) {
        float mean, invstd;
        if (training) {
            double s = 0.0, ss = 0.0;
            for (int64_t r = 0; r < rows; r++) s += x[r * cols + c];
            const double m = s / (double)rows;
            for (int64_t r = 0; r < rows; r++) {
                const double d = x[r * cols + c] - m;
                ss += d * d;
            }
            const double var = ss / (double)rows;
            mean = (float)m;
            invstd = (float)(1.0 / sqrt(var + (double)eps));
            if (running_mean)
                running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
            if (running_var)
                running_var[c] = (1.0f - momentum) * running_var[c] +
                                 momentum * (float)(ss / (double)(rows - 1));
        } else {
            mean = running_mean[c];
            invstd = 1.0f / sqrtf(running_var[c] + eps);
        }
        save_mean[c] = mean;
        save_invstd[c] = invstd;
        const float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        for (int64_t r = 0; r < rows; r++)
            y[r * cols + c] = dgm_batchnorm_apply(x[r * cols + c], mean, invstd, g, b);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_batchnorm_backward(dgm_ctx *ctx, int training, int64_t rows, int64_t cols,
                                      const float *x, const float *gamma,
                                      const float *save_mean, const float *save_invstd,
                                      const float *dy, float beta_dx, float *dx, float *dgamma,
                                      float *dbeta)
{
    (void)ctx;
    for (int64_t c = 0; c < cols; c++) {
        const float mean = save_mean[c], invstd = save_invstd[c];
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t r = 0; r < rows; r++) {
            const int64_t i = r * cols + c;
            sdy += dy[i];
            sdyx += dy[i] * (x[i] - mean) * invstd;
        }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dx) continue;
        const float g = gamma ? gamma[c] : 1.0f;
        const float n = training ? (float)rows : 0.0f;
        for (int64_t r = 0; r < rows; r++) {
            const int64_t i = r * cols + c;
            const float xhat = (x[i] - mean) * invstd;
            dx[i] = dgm_axpby(beta_dx, dx[i],
                              dgm_batchnorm_dx(dy[i], xhat, g, invstd, (float)sdy, (float)sdyx, n));
        }
    }
    return DGM_STATUS_OK;
}
