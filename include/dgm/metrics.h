/* dgm metrics: numbers that judge samples, independent of any model family. */
#ifndef DGM_METRICS_H
#define DGM_METRICS_H

#include "dgm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mode coverage of samples from a Gaussian mixture with equal weights and a common std
 * (the 2-D benchmarks of VEEGAN and PacGAN: ring8, grid25). Each sample is assigned to its
 * nearest centre; it is of high quality when within 3 std of it (Euclidean distance). */
typedef struct dgm_mode_coverage {
    int modes;           /* modes captured: with at least one high-quality sample */
    int total_modes;     /* centres */
    double high_quality; /* share of the samples that are of high quality, in [0, 1] */
    double reverse_kl;   /* KL(h ‖ uniform) in nats, h the histogram of the high-quality
                            samples over the modes (0 when all are equally hit; log K when
                            all fall in one mode); NaN without high-quality samples */
} dgm_mode_coverage;

/* samples: n points of dimension dim (row-major, host memory); centres: k points of the
 * same dimension (host, double). INVALID_ARGUMENT for n < 1, k < 1, dim < 1, std <= 0 or
 * NULL pointers. Pure host computation; thread-safe. */
DGM_API dgm_status dgm_mode_coverage_compute(dgm_ctx *ctx, const float *samples, int64_t n,
                                             int dim, const double *centres, int k, double std,
                                             dgm_mode_coverage *out);

/* The exact 2-Wasserstein distance between two sets of n points of dimension dim with
 * uniform weights: *out = sqrt((1/n) sum_i |a_i - b_sigma(i)|^2), sigma the optimal
 * matching (an exact assignment, not an entropic or sliced approximation; squared
 * Euclidean distances in double). a, b: n x dim (row-major, host memory). Time O(n^2 dim)
 * for the costs plus the assignment, worst case O(n^3) (2-D samples, one core: n = 512 in
 * about 15 ms, n = 2000 in about 1 s); memory 8 n^2 bytes. INVALID_ARGUMENT for n < 1,
 * dim < 1, NULL pointers or a non-finite coordinate (the message names the set and row);
 * OOM when the costs cannot be allocated. Pure host computation; thread-safe. */
DGM_API dgm_status dgm_wasserstein2(dgm_ctx *ctx, const float *a, const float *b, int64_t n,
                                    int dim, double *out);

#ifdef __cplusplus
}
#endif
#endif
