/* Mode coverage of samples of a Gaussian mixture (VEEGAN, Srivastava et al. 2017; PacGAN,
 * Lin et al. 2018): modes captured, the share of high-quality samples (within 3 std of
 * the nearest centre) and the reverse KL from the modes' histogram to the uniform one. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "dgm/metrics.h"

dgm_status dgm_mode_coverage_compute(dgm_ctx *ctx, const float *samples, int64_t n, int dim,
                                     const double *centres, int k, double std,
                                     dgm_mode_coverage *out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!samples || !centres || !out || n < 1 || k < 1 || dim < 1 || !(std > 0.0))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_mode_coverage_compute: needs samples, centres and out, "
                             "n >= 1 (%lld), k >= 1 (%d), dim >= 1 (%d), std > 0 (%g)",
                             (long long)n, k, dim, std);
    int64_t *hits = calloc((size_t)k, sizeof *hits);
    if (!hits)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_mode_coverage_compute: out of memory");
    const double radius2 = 9.0 * std * std;
    int64_t good = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *x = samples + i * dim;
        int best = 0;
        double best_d2 = INFINITY;
        for (int j = 0; j < k; j++) {
            double d2 = 0.0;
            for (int c = 0; c < dim; c++) {
                const double d = (double)x[c] - centres[j * dim + c];
                d2 += d * d;
            }
            if (d2 < best_d2) {
                best_d2 = d2;
                best = j;
            }
        }
        if (best_d2 <= radius2) {
            hits[best]++;
            good++;
        }
    }
    out->total_modes = k;
    out->modes = 0;
    out->reverse_kl = good ? 0.0 : NAN;
    for (int j = 0; j < k; j++) {
        if (!hits[j]) continue;
        out->modes++;
        const double h = (double)hits[j] / (double)good;
        out->reverse_kl += h * log(h * k);
    }
    out->high_quality = (double)good / (double)n;
    free(hits);
    return DGM_STATUS_OK;
}
