/* The exact 2-Wasserstein distance between two equal-size point sets with uniform weights:
 * the optimal matching of their squared Euclidean distances (metrics/assignment.c). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/internal.h"
#include "dgm/metrics.h"
#include "metrics/assignment.h"

static dgm_status check_points(dgm_ctx *ctx, const float *x, int64_t n, int dim,
                               const char *name)
{
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++)
            if (!isfinite(x[i * dim + c]))
                return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                     "dgm_wasserstein2: %s row %lld is not finite "
                                     "(coordinate %d is %g)",
                                     name, (long long)i, c, (double)x[i * dim + c]);
    return DGM_STATUS_OK;
}

/* shift = mean(a) - mean(b). */
static void mean_difference(const float *a, const float *b, int64_t n, int dim, double *shift)
{
    for (int c = 0; c < dim; c++) shift[c] = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++)
            shift[c] += (double)a[i * dim + c] - (double)b[i * dim + c];
    for (int c = 0; c < dim; c++) shift[c] /= (double)n;
}

/* cost[i][j] = |a_i - b_j - shift|^2: the distances between the centred sets. They differ
 * from |a_i - b_j|^2 by -2 shift.a_i + 2 shift.b_j + |shift|^2, constants per row and
 * column that every matching pays alike, so the optimal matching is the same; but sets
 * far apart start the solver's nearest-neighbour matching far from the optimum and make
 * it about ten times slower. */
static void centred_costs(const float *a, const float *b, int64_t n, int dim,
                          const double *shift, double *cost)
{
    for (int64_t i = 0; i < n; i++) {
        const float *ai = a + i * dim;
        for (int64_t j = 0; j < n; j++) {
            const float *bj = b + j * dim;
            double d2 = 0.0;
            for (int c = 0; c < dim; c++) {
                const double d = ((double)ai[c] - (double)bj[c]) - shift[c];
                d2 += d * d;
            }
            cost[i * n + j] = d2;
        }
    }
}

/* (1/n) sum_i |a_i - b_sigma(i)|^2 from the points themselves, not the centred costs, so
 * that a set matched with a permutation of itself gives exactly 0. */
static double mean_matched_sq(const float *a, const float *b, int64_t n, int dim,
                              const int64_t *sigma)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++) {
            const double d = (double)a[i * dim + c] - (double)b[sigma[i] * dim + c];
            sum += d * d;
        }
    return sum / (double)n;
}

static dgm_status check_args(dgm_ctx *ctx, const float *a, const float *b, int64_t n, int dim,
                             const double *out)
{
    if (!a || !b || !out || n < 1 || dim < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_wasserstein2: needs a, b and out, n >= 1 (%lld), "
                             "dim >= 1 (%d)",
                             (long long)n, dim);
    DGM_TRY(check_points(ctx, a, n, dim, "a"));
    return check_points(ctx, b, n, dim, "b");
}

dgm_status dgm_wasserstein2(dgm_ctx *ctx, const float *a, const float *b, int64_t n, int dim,
                            double *out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    DGM_TRY(check_args(ctx, a, b, n, dim, out));
    const uint64_t nn = (uint64_t)n * (uint64_t)n;
    const bool fits = (uint64_t)n <= UINT32_MAX && nn <= SIZE_MAX / sizeof(double);
    double *cost = fits ? malloc((size_t)nn * sizeof *cost) : NULL;
    double *shift = malloc((size_t)dim * sizeof *shift);
    int64_t *sigma = malloc((size_t)n * sizeof *sigma);
    if (!cost || !shift || !sigma) {
        st = dgm_set_error(ctx, DGM_STATUS_OOM,
                           "dgm_wasserstein2: out of memory for the %lld x %lld costs",
                           (long long)n, (long long)n);
    } else {
        mean_difference(a, b, n, dim, shift);
        centred_costs(a, b, n, dim, shift, cost);
        double total;
        st = dgm_assignment_solve(ctx, n, cost, sigma, &total);
        if (st == DGM_STATUS_OK) *out = sqrt(mean_matched_sq(a, b, n, dim, sigma));
    }
    free(cost);
    free(shift);
    free(sigma);
    return st;
}
