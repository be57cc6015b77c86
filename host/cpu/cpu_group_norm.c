/* Group normalization on the CPU: one (image, group) per iteration of the parallel loops,
 * its sums in double in one fixed order, so the results do not depend on the thread
 * count. The weight and bias gradients are summed per (image, channel) first, then over
 * the images in order. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu_internal.h"

DGM_CPU_CLONES dgm_status dgm_cpu_group_norm_forward(dgm_ctx *ctx, int64_t n, int64_t c,
                                                     int64_t plane, int64_t groups, float eps,
                                                     const float *x, const float *gamma,
                                                     const float *beta, float *y, float *mean,
                                                     float *invstd)
{
    DGM_CPU_FP_SCOPE(ctx);
    const int64_t cg = c / groups, len = cg * plane, rows = n * groups;
    DGM_CPU_PARALLEL_FOR((size_t)(n * c * plane) >= dgm_cpu_parallel_min() && rows > 1, r, rows, {
        const float *xr = x + r * len;
        const double m = dgm_cpu_sum(xr, len, 0) / (double)len;
        double ss = 0.0;
        for (int64_t i = 0; i < len; i++) ss += ((double)xr[i] - m) * ((double)xr[i] - m);
        const float is = (float)(1.0 / sqrt(ss / (double)len + (double)eps));
        mean[r] = (float)m;
        invstd[r] = is;
        const int64_t c0 = (r % groups) * cg;
        for (int64_t k = 0; k < cg; k++) {
            const float g = gamma ? gamma[c0 + k] : 1.0f, b = beta ? beta[c0 + k] : 0.0f;
            const float *xs = xr + k * plane;
            float *ys = y + r * len + k * plane;
            for (int64_t p = 0; p < plane; p++) ys[p] = dgm_batchnorm_apply(xs[p], (float)m, is, g, b);
        }
    });
    return DGM_STATUS_OK;
}

DGM_CPU_CLONES dgm_status dgm_cpu_group_norm_backward(dgm_ctx *ctx, int64_t n, int64_t c,
                                                      int64_t plane, int64_t groups,
                                                      const float *x, const float *gamma,
                                                      const float *mean, const float *invstd,
                                                      const float *dy, float beta_dx, float *dx,
                                                      float *dgamma, float *dbeta)
{
    DGM_CPU_FP_SCOPE(ctx);
    const int64_t cg = c / groups, len = cg * plane, rows = n * groups;
    double *part = NULL; /* [n, c] sums of dy·xhat, then [n, c] sums of dy */
    if (dgamma || dbeta) {
        part = malloc((size_t)(2 * n * c) * sizeof *part);
        if (!part) return dgm_set_error(ctx, DGM_STATUS_OOM, "cpu group_norm_backward: out of host memory");
    }
    DGM_CPU_PARALLEL_FOR((size_t)(n * c * plane) >= dgm_cpu_parallel_min() && rows > 1, r, rows, {
        const float *xr = x + r * len, *dr = dy + r * len;
        const float m = mean[r], is = invstd[r];
        const int64_t c0 = (r % groups) * cg, img = r / groups;
        double s1 = 0.0, s2 = 0.0;
        for (int64_t k = 0; k < cg; k++) {
            const float g = gamma ? gamma[c0 + k] : 1.0f;
            double a = 0.0, b = 0.0;
            for (int64_t p = 0; p < plane; p++) {
                const float xh = (xr[k * plane + p] - m) * is;
                a += (double)dr[k * plane + p] * xh;
                b += dr[k * plane + p];
            }
            s1 += g * b;
            s2 += g * a;
            if (part) {
                part[img * c + c0 + k] = a;
                part[n * c + img * c + c0 + k] = b;
            }
        }
        if (dx) {
            for (int64_t k = 0; k < cg; k++) {
                const float g = gamma ? gamma[c0 + k] : 1.0f;
                for (int64_t p = 0; p < plane; p++) {
                    const int64_t i = r * len + k * plane + p;
                    const float xh = (x[i] - m) * is;
                    dx[i] = dgm_axpby(beta_dx, dx[i], dgm_group_norm_dx(dy[i] * g, xh, is, (float)s1,
                                                                        (float)s2, (float)len));
                }
            }
        }
    });
    if (part) {
        for (int64_t ch = 0; ch < c; ch++) {
            double a = 0.0, b = 0.0;
            for (int64_t img = 0; img < n; img++) {
                a += part[img * c + ch];
                b += part[n * c + img * c + ch];
            }
            if (dgamma) dgamma[ch] += (float)a;
            if (dbeta) dbeta[ch] += (float)b;
        }
        free(part);
    }
    return DGM_STATUS_OK;
}
