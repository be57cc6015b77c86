/* Helpers shared by the distances between sample sets (host/metrics): argument checks
 * with the messages every metric gives, squared distances, and a seeded generator. */
#ifndef DGM_METRICS_INTERNAL_H
#define DGM_METRICS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "dgm/core.h"

/* Checks the context (dgm_check_ctx's status when it fails) and the arguments of a
 * two-set metric `fn`: a, b and out not NULL, na, nb >= min_n,
 * dim >= 1 (the message says "n >= 1 (...)" when na == nb is required, else names both
 * sizes), and every coordinate of both sets finite (the message names the set and row).
 * INVALID_ARGUMENT with a message naming fn on failure. */
dgm_status dgm_metrics_check_sets(dgm_ctx *ctx, const char *fn, const float *a, int64_t na,
                                  const float *b, int64_t nb, int dim, const void *out,
                                  int64_t min_n, bool same_n);

/* |x - y|^2 in double over dim coordinates. */
static inline double dgm_metrics_sq_dist(const float *x, const float *y, int dim)
{
    double s = 0.0;
    for (int c = 0; c < dim; c++) {
        const double d = (double)x[c] - (double)y[c];
        s += d * d;
    }
    return s;
}

/* splitmix64 (Steele, Lea and Flood 2014): a stream of 64-bit values from *state. Own
 * generator, not the context's cuRAND one: a metric's draws depend on its seed argument
 * alone, on any device. */
uint64_t dgm_metrics_splitmix64(uint64_t *state);
/* A standard normal draw (Box-Muller on two splitmix64 uniforms in (0, 1]). */
double dgm_metrics_normal(uint64_t *state);

/* Sorts n doubles ascending. */
void dgm_metrics_sort(double *x, int64_t n);

#endif
