/* The score of a Gaussian mixture, for Fisher divergences against models with a score
 * (DDPM's ε-network: s(x, t) = −ε̂(x, t)/√(1 − ᾱ_t)) on data whose score is known. */
#ifndef DGM_METRICS_FISHER_H
#define DGM_METRICS_FISHER_H

#include <stdint.h>

#include "dgm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ∇_x log p(x) at one point x (dim values), p = (1/k)·Σ_j N(x; c_j, var·I), centres c:
 * k × dim (row-major). Into score (dim values): Σ_j r_j·(c_j − x)/var with the
 * responsibilities r_j = softmax_j(−|x − c_j|²/(2·var)), computed stably (the largest
 * exponent subtracted), in double. INVALID_ARGUMENT for k < 1, dim < 1, var <= 0 or
 * non-finite input. Thread-safe. */
dgm_status dgm_mixture_score(dgm_ctx *ctx, int k, int dim, const double *centres, double var,
                             const double *x, double *score);

#ifdef __cplusplus
}
#endif

#endif
