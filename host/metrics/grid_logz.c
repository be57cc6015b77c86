/* Grid quadrature of a 2-D log normalizer (see grid_logz.h). */
#include <math.h>
#include <stdlib.h>

#include "metrics/grid_logz.h"
#include "core/internal.h"

/* Points per call of log_q. */
#define GRID_CHUNK 65536

static dgm_status grid_value(dgm_ctx *ctx, dgm_log_q_fn log_q, void *user, const double *lo,
                             const double *hi, int64_t g, float *pts, double *vals, double *logz)
{
    const double hx = (hi[0] - lo[0]) / (double)g, hy = (hi[1] - lo[1]) / (double)g;
    const int64_t total = g * g;
    double m = -INFINITY, s = 0.0; /* running logsumexp: m the max so far, s Σ exp(v − m) */
    for (int64_t start = 0; start < total; start += GRID_CHUNK) {
        const int64_t n = total - start < GRID_CHUNK ? total - start : GRID_CHUNK;
        for (int64_t k = 0; k < n; k++) {
            const int64_t i = (start + k) / g, j = (start + k) % g;
            pts[2 * k] = (float)(lo[0] + ((double)j + 0.5) * hx);
            pts[2 * k + 1] = (float)(lo[1] + ((double)i + 0.5) * hy);
        }
        DGM_TRY(log_q(user, pts, n, vals));
        for (int64_t k = 0; k < n; k++) {
            const double v = vals[k];
            if (isnan(v) || v == INFINITY)
                return dgm_set_error(ctx, DGM_STATUS_NOT_FINITE,
                                     "log density is %g at (%g, %g): the density cannot be normalized",
                                     v, pts[2 * k], pts[2 * k + 1]);
            if (v == -INFINITY) continue;
            if (v > m) {
                s = s * exp(m - v) + 1.0;
                m = v;
            } else {
                s += exp(v - m);
            }
        }
    }
    if (!(s > 0.0))
        return dgm_set_error(ctx, DGM_STATUS_NOT_FINITE, "the density is 0 on the whole grid");
    *logz = m + log(s) + log(hx * hy);
    return DGM_STATUS_OK;
}

dgm_status dgm_grid_log_partition(dgm_ctx *ctx, dgm_log_q_fn log_q, void *user, const double *lo,
                                  const double *hi, double tol, int64_t g0, int64_t g_max,
                                  dgm_grid_logz *out)
{
    if (!(hi[0] > lo[0]) || !(hi[1] > lo[1]) || g0 < 2 || g_max < g0)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "grid normalization: an empty box or grid ([%g, %g] x [%g, %g], G %lld)",
                             lo[0], hi[0], lo[1], hi[1], (long long)g0);
    float *pts = malloc(2 * GRID_CHUNK * sizeof *pts);
    double *vals = malloc(GRID_CHUNK * sizeof *vals);
    dgm_status st = pts && vals ? DGM_STATUS_OK : dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    double prev = 0.0, cur = 0.0;
    int64_t g = g0;
    if (st == DGM_STATUS_OK) st = grid_value(ctx, log_q, user, lo, hi, g, pts, vals, &prev);
    out->change = INFINITY;
    while (st == DGM_STATUS_OK && 2 * g <= g_max) {
        g *= 2;
        st = grid_value(ctx, log_q, user, lo, hi, g, pts, vals, &cur);
        if (st != DGM_STATUS_OK) break;
        out->change = fabs(cur - prev);
        prev = cur;
        if (out->change < tol) break;
    }
    free(pts);
    free(vals);
    out->logz = prev;
    out->grid = g;
    return st;
}
