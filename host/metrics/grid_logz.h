/* The log normalizer of an unnormalized 2-D density by quadrature on a grid, refined until
 * it settles: what makes an energy-based model's likelihood comparable with a flow's. */
#ifndef DGM_METRICS_GRID_LOGZ_H
#define DGM_METRICS_GRID_LOGZ_H

#include <stdint.h>

#include "dgm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* log q(p) of n points p (host [n, 2]) into out (host [n]), q unnormalized. */
typedef dgm_status (*dgm_log_q_fn)(void *user, const float *points, int64_t n, double *out);

typedef struct dgm_grid_logz {
    double logz;     /* log ∫_box q */
    double change;   /* |log Z(G) − log Z(G/2)|: below tol when converged */
    int64_t grid;    /* G: the last grid was G × G cells */
} dgm_grid_logz;

/* log ∫ q over the box [lo[0], hi[0]] × [lo[1], hi[1]] by the midpoint rule on G × G cells
 * (a logsumexp in double), G = g0, 2·g0, ... until two successive values differ by less
 * than tol nats, or the next G would exceed g_max (then out->change >= tol: the caller
 * reports it). INVALID_ARGUMENT for an empty box or g0 < 2; NOT_FINITE when log q is NaN
 * or +inf somewhere, or the integral is 0. */
dgm_status dgm_grid_log_partition(dgm_ctx *ctx, dgm_log_q_fn log_q, void *user, const double *lo,
                                  const double *hi, double tol, int64_t g0, int64_t g_max,
                                  dgm_grid_logz *out);

#ifdef __cplusplus
}
#endif

#endif
