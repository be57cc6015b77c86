/* The exact 1- and 2-Wasserstein distances between two equal-size point sets with uniform
 * weights: the optimal matching (metrics/assignment.c) of the Euclidean distances (W1) or
 * of their squares (W2). Both share the costs, the solve and the matched mean. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/internal.h"
#include "dgm/metrics.h"
#include "metrics/assignment.h"
#include "metrics/metrics_internal.h"

/* shift = mean(a) - mean(b). */
static void mean_difference(const float *a, const float *b, int64_t n, int dim, double *shift)
{
    for (int c = 0; c < dim; c++) shift[c] = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++)
            shift[c] += (double)a[i * dim + c] - (double)b[i * dim + c];
    for (int c = 0; c < dim; c++) shift[c] /= (double)n;
}

/* cost[i][j] = |a_i - b_j - shift|^p. For p = 2 and shift = mean(a) - mean(b) these
 * differ from |a_i - b_j|^2 by -2 shift.a_i + 2 shift.b_j + |shift|^2, constants per row
 * and column that every matching pays alike, so the optimal matching is the same; but
 * sets far apart start the solver's nearest-neighbour matching far from the optimum and
 * make it about ten times slower. For p = 1 no such identity holds: shift is 0. */
static void costs(const float *a, const float *b, int64_t n, int dim, const double *shift,
                  int p, double *cost)
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
            cost[i * n + j] = p == 2 ? d2 : sqrt(d2);
        }
    }
}

/* (1/n) sum_i |a_i - b_sigma(i)|^p from the points themselves, not the costs, so that a
 * set matched with a permutation of itself gives exactly 0. */
static double mean_matched(const float *a, const float *b, int64_t n, int dim,
                           const int64_t *sigma, int p)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double d2 = dgm_metrics_sq_dist(a + i * dim, b + sigma[i] * dim, dim);
        sum += p == 2 ? d2 : sqrt(d2);
    }
    return sum / (double)n;
}

/* W_p for p = 1 or 2, reported under the name fn. */
static dgm_status exact_wasserstein(dgm_ctx *ctx, const char *fn, const float *a,
                                    const float *b, int64_t n, int dim, int p, double *out)
{
    DGM_TRY(dgm_metrics_check_sets(ctx, fn, a, n, b, n, dim, out, 1, true));
    dgm_status st = DGM_STATUS_OK;
    const uint64_t nn = (uint64_t)n * (uint64_t)n;
    const bool fits = (uint64_t)n <= UINT32_MAX && nn <= SIZE_MAX / sizeof(double);
    double *cost = fits ? malloc((size_t)nn * sizeof *cost) : NULL;
    double *shift = malloc((size_t)dim * sizeof *shift);
    int64_t *sigma = malloc((size_t)n * sizeof *sigma);
    if (!cost || !shift || !sigma) {
        st = dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of memory for the %lld x %lld costs",
                           fn, (long long)n, (long long)n);
    } else {
        if (p == 2)
            mean_difference(a, b, n, dim, shift);
        else
            for (int c = 0; c < dim; c++) shift[c] = 0.0;
        costs(a, b, n, dim, shift, p, cost);
        double total;
        st = dgm_assignment_solve(ctx, n, cost, sigma, &total);
        if (st == DGM_STATUS_OK) {
            const double m = mean_matched(a, b, n, dim, sigma, p);
            *out = p == 2 ? sqrt(m) : m;
        }
    }
    free(cost);
    free(shift);
    free(sigma);
    return st;
}

dgm_status dgm_wasserstein2(dgm_ctx *ctx, const float *a, const float *b, int64_t n, int dim,
                            double *out)
{
    return exact_wasserstein(ctx, "dgm_wasserstein2", a, b, n, dim, 2, out);
}

dgm_status dgm_wasserstein1(dgm_ctx *ctx, const float *a, const float *b, int64_t n, int dim,
                            double *out)
{
    return exact_wasserstein(ctx, "dgm_wasserstein1", a, b, n, dim, 1, out);
}
