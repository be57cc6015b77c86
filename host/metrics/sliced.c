/* The sliced 2-Wasserstein distance (Rabin et al. 2011; Bonneel et al. 2015): the mean over
 * random unit directions of the squared 1-D 2-Wasserstein distance between the projected
 * sets, which on a line is the matching of the sorted values (of their quantile
 * functions for sets of different sizes). */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "dgm/metrics.h"
#include "metrics/metrics_internal.h"

/* A uniform direction on the sphere: a normalised standard normal vector. */
static void random_direction(uint64_t *state, int dim, double *u)
{
    double norm2 = 0.0;
    do {
        norm2 = 0.0;
        for (int c = 0; c < dim; c++) {
            u[c] = dgm_metrics_normal(state);
            norm2 += u[c] * u[c];
        }
    } while (!(norm2 > 1e-300));
    const double inv = 1.0 / sqrt(norm2);
    for (int c = 0; c < dim; c++) u[c] *= inv;
}

static void project_sorted(const float *x, int64_t n, int dim, const double *u, double *out)
{
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int c = 0; c < dim; c++) s += (double)x[i * dim + c] * u[c];
        out[i] = s;
    }
    dgm_metrics_sort(out, n);
}

/* The integral over t in (0, 1) of (F^-1(t) - G^-1(t))^2 for the empirical quantile
 * functions of sorted x (n values) and y (m values): steps at k/n and k/m, walked in
 * merged order. For n = m it is the mean squared difference of the sorted values. */
static double quantile_sq_distance(const double *x, int64_t n, const double *y, int64_t m)
{
    if (n == m) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += (x[i] - y[i]) * (x[i] - y[i]);
        return s / (double)n;
    }
    double s = 0.0, t = 0.0;
    int64_t i = 0, j = 0;
    while (i < n && j < m) {
        /* next breakpoints (i+1)/n and (j+1)/m compared exactly in integers */
        const int64_t ti = (i + 1) * m, tj = (j + 1) * n;
        const double next = (double)(ti < tj ? ti : tj) / ((double)n * (double)m);
        const double d = x[i] - y[j];
        s += (next - t) * d * d;
        t = next;
        if (ti <= tj) i++;
        if (tj <= ti) j++;
    }
    return s;
}

dgm_status dgm_sliced_wasserstein2(dgm_ctx *ctx, const float *a, int64_t na, const float *b,
                                   int64_t nb, int dim, int directions, uint64_t seed,
                                   double *out)
{
    static const char fn[] = "dgm_sliced_wasserstein2";
    DGM_TRY(dgm_metrics_check_sets(ctx, fn, a, na, b, nb, dim, out, 1, false));
    if (directions < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: directions >= 1 (%d)", fn,
                             directions);
    dgm_status st = DGM_STATUS_OK;
    double *u = malloc((size_t)dim * sizeof *u);
    double *pa = malloc((size_t)na * sizeof *pa);
    double *pb = malloc((size_t)nb * sizeof *pb);
    if (!u || !pa || !pb) {
        st = dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of memory for %lld + %lld projections",
                           fn, (long long)na, (long long)nb);
    } else {
        uint64_t state = seed;
        double sum = 0.0;
        for (int l = 0; l < directions; l++) {
            random_direction(&state, dim, u);
            project_sorted(a, na, dim, u, pa);
            project_sorted(b, nb, dim, u, pb);
            sum += quantile_sq_distance(pa, na, pb, nb);
        }
        *out = sqrt(sum / directions);
    }
    free(u);
    free(pa);
    free(pb);
    return st;
}
