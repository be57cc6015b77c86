/* The score of an isotropic Gaussian mixture with equal weights (see fisher.h). */
#include <math.h>

#include "core/internal.h"
#include "metrics/fisher.h"

dgm_status dgm_mixture_score(dgm_ctx *ctx, int k, int dim, const double *centres, double var,
                             const double *x, double *score)
{
    if (k < 1 || dim < 1 || !(var > 0.0) || !centres || !x || !score)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "mixture score: k %d, dim %d and var %g must be positive", k, dim, var);
    /* the largest exponent first, so that the weights cannot all underflow to 0 */
    double top = -INFINITY;
    for (int j = 0; j < k; j++) {
        double d2 = 0.0;
        for (int i = 0; i < dim; i++) d2 += (x[i] - centres[j * dim + i]) * (x[i] - centres[j * dim + i]);
        if (-d2 / (2.0 * var) > top) top = -d2 / (2.0 * var);
    }
    if (!isfinite(top))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "mixture score: a value is not finite");
    double total = 0.0;
    for (int i = 0; i < dim; i++) score[i] = 0.0;
    for (int j = 0; j < k; j++) {
        double d2 = 0.0;
        for (int i = 0; i < dim; i++) d2 += (x[i] - centres[j * dim + i]) * (x[i] - centres[j * dim + i]);
        const double w = exp(-d2 / (2.0 * var) - top);
        total += w;
        for (int i = 0; i < dim; i++) score[i] += w * (centres[j * dim + i] - x[i]) / var;
    }
    for (int i = 0; i < dim; i++) score[i] /= total;
    return DGM_STATUS_OK;
}
