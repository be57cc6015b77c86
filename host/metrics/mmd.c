/* Kernel and distance statistics between two sample sets of any sizes: the unbiased MMD^2
 * with a Gaussian (RBF) kernel (Gretton et al., JMLR 2012, eq. 3), its bandwidth by the
 * median heuristic, and the energy distance (Szekely and Rizzo 2013). Plain O(n m dim)
 * double loops. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "dgm/metrics.h"
#include "metrics/metrics_internal.h"

/* The pooled points the median heuristic looks at: pairs among at most this many, so its
 * cost stays ~O(MEDIAN_POINTS^2) (~0.5 M distances) whatever the sizes. */
#define MEDIAN_POINTS 1000

/* The k-th of the pooled sample (a then b). */
static const float *pooled(const float *a, int64_t na, const float *b, int dim, int64_t k)
{
    return k < na ? a + k * dim : b + (k - na) * dim;
}

/* The median of the pairwise distances |z_i - z_j| (i < j) of the pooled sample, or of a
 * deterministic, evenly strided subset of MEDIAN_POINTS of it. 0 when all points agree. */
static dgm_status median_distance(dgm_ctx *ctx, const float *a, int64_t na, const float *b,
                                  int64_t nb, int dim, double *out)
{
    const int64_t total = na + nb, m = total < MEDIAN_POINTS ? total : MEDIAN_POINTS;
    const int64_t pairs = m * (m - 1) / 2;
    double *d = malloc((size_t)pairs * sizeof *d);
    int64_t *pick = malloc((size_t)m * sizeof *pick);
    if (!d || !pick) {
        free(d);
        free(pick);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_mmd2_rbf: out of memory for the median");
    }
    for (int64_t k = 0; k < m; k++) pick[k] = k * total / m;
    int64_t p = 0;
    for (int64_t i = 0; i < m; i++) {
        const float *zi = pooled(a, na, b, dim, pick[i]);
        for (int64_t j = i + 1; j < m; j++)
            d[p++] = sqrt(dgm_metrics_sq_dist(zi, pooled(a, na, b, dim, pick[j]), dim));
    }
    dgm_metrics_sort(d, pairs);
    *out = pairs % 2 ? d[pairs / 2] : 0.5 * (d[pairs / 2 - 1] + d[pairs / 2]);
    free(d);
    free(pick);
    return DGM_STATUS_OK;
}

/* sum over all i, j of exp(-g |x_i - y_j|^2). */
static double cross_kernel_sum(const float *x, int64_t nx, const float *y, int64_t ny, int dim,
                               double g)
{
    double s = 0.0;
    for (int64_t i = 0; i < nx; i++)
        for (int64_t j = 0; j < ny; j++)
            s += exp(-g * dgm_metrics_sq_dist(x + i * dim, y + j * dim, dim));
    return s;
}

/* sum over i != j of exp(-g |x_i - x_j|^2): twice the pairs i < j (the kernel is
 * symmetric), half the work. */
static double within_kernel_sum(const float *x, int64_t n, int dim, double g)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++)
            s += exp(-g * dgm_metrics_sq_dist(x + i * dim, x + j * dim, dim));
    return 2.0 * s;
}

dgm_status dgm_mmd2_rbf(dgm_ctx *ctx, const float *a, int64_t na, const float *b, int64_t nb,
                        int dim, double bandwidth, double *out, double *bandwidth_used)
{
    static const char fn[] = "dgm_mmd2_rbf";
    DGM_TRY(dgm_metrics_check_sets(ctx, fn, a, na, b, nb, dim, out, 2, false));
    if (isnan(bandwidth) || isinf(bandwidth))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: bandwidth is %g (> 0, or <= 0 for the median heuristic)", fn,
                             bandwidth);
    double sigma = bandwidth;
    if (!(sigma > 0.0)) {
        DGM_TRY(median_distance(ctx, a, na, b, nb, dim, &sigma));
        if (!(sigma > 0.0)) sigma = 1.0; /* most points coincide: any scale will do */
    }
    const double g = 1.0 / (2.0 * sigma * sigma);
    const double kaa = within_kernel_sum(a, na, dim, g) / ((double)na * (double)(na - 1));
    const double kbb = within_kernel_sum(b, nb, dim, g) / ((double)nb * (double)(nb - 1));
    const double kab = cross_kernel_sum(a, na, b, nb, dim, g) / ((double)na * (double)nb);
    *out = kaa + kbb - 2.0 * kab;
    if (bandwidth_used) *bandwidth_used = sigma;
    return DGM_STATUS_OK;
}

/* The mean of |x_i - y_j| over all nx * ny pairs (the diagonal's zeros included). */
static double mean_distance(const float *x, int64_t nx, const float *y, int64_t ny, int dim)
{
    double s = 0.0;
    for (int64_t i = 0; i < nx; i++)
        for (int64_t j = 0; j < ny; j++) s += sqrt(dgm_metrics_sq_dist(x + i * dim, y + j * dim, dim));
    return s / ((double)nx * (double)ny);
}

dgm_status dgm_energy_distance(dgm_ctx *ctx, const float *a, int64_t na, const float *b,
                               int64_t nb, int dim, double *out)
{
    DGM_TRY(dgm_metrics_check_sets(ctx, "dgm_energy_distance", a, na, b, nb, dim, out, 1, false));
    const double ab = mean_distance(a, na, b, nb, dim);
    const double aa = mean_distance(a, na, a, na, dim);
    const double bb = mean_distance(b, nb, b, nb, dim);
    /* >= 0 in exact arithmetic (the energy distance of the two empirical measures); tiny
     * negative values are rounding. */
    *out = 2.0 * ab - aa - bb;
    return DGM_STATUS_OK;
}
