/* Helpers shared by the distances between sample sets: checks, generator, sorting. */
#include "metrics/metrics_internal.h"

#include <math.h>
#include <stdlib.h>

#include "core/internal.h"

static dgm_status check_points(dgm_ctx *ctx, const char *fn, const float *x, int64_t n,
                               int dim, const char *name)
{
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++)
            if (!isfinite(x[i * dim + c]))
                return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                     "%s: %s row %lld is not finite (coordinate %d is %g)", fn,
                                     name, (long long)i, c, (double)x[i * dim + c]);
    return DGM_STATUS_OK;
}

dgm_status dgm_metrics_check_sets(dgm_ctx *ctx, const char *fn, const float *a, int64_t na,
                                  const float *b, int64_t nb, int dim, const void *out,
                                  int64_t min_n, bool same_n)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (same_n && (!a || !b || !out || na < min_n || dim < 1))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: needs a, b and out, n >= %lld (%lld), dim >= 1 (%d)", fn,
                             (long long)min_n, (long long)na, dim);
    if (!same_n && (!a || !b || !out || na < min_n || nb < min_n || dim < 1))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: needs a, b and out, na >= %lld (%lld), nb >= %lld (%lld), "
                             "dim >= 1 (%d)",
                             fn, (long long)min_n, (long long)na, (long long)min_n,
                             (long long)nb, dim);
    DGM_TRY(check_points(ctx, fn, a, na, dim, "a"));
    return check_points(ctx, fn, b, nb, dim, "b");
}

uint64_t dgm_metrics_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: the top 53 bits, plus one, so log() never sees 0. */
static double uniform_open0(uint64_t *state)
{
    return ((double)(dgm_metrics_splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
}

double dgm_metrics_normal(uint64_t *state)
{
    const double u1 = uniform_open0(state), u2 = uniform_open0(state);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int cmp_double(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

void dgm_metrics_sort(double *x, int64_t n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_double);
}
