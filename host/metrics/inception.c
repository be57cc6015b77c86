/* The Inception-style score of class probabilities: exp of the mean KL divergence between
 * each row and the mean row, in double, over one split. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "dgm/metrics.h"

/* A row must be a distribution: the score's logs assume it (the tolerance admits float
 * softmax output). */
static dgm_status check_row(dgm_ctx *ctx, const float *p, int64_t row, int classes)
{
    double sum = 0.0;
    for (int k = 0; k < classes; k++) {
        if (!(p[k] >= 0.0f) || !isfinite(p[k]))
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "dgm_inception_score_probs: row %lld, class %d is %g (not a "
                                 "probability)",
                                 (long long)row, k, (double)p[k]);
        sum += p[k];
    }
    if (fabs(sum - 1.0) > 1e-3)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_inception_score_probs: row %lld sums to %.6g, not 1",
                             (long long)row, sum);
    return DGM_STATUS_OK;
}

dgm_status dgm_inception_score_probs(dgm_ctx *ctx, const float *probs, int64_t n, int classes,
                                     double *out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!probs || !out || n < 1 || classes < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_inception_score_probs: needs probs and out, n >= 1 (%lld) "
                             "and classes >= 1 (%d)",
                             (long long)n, classes);
    double *marginal = calloc((size_t)classes, sizeof *marginal);
    if (!marginal)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_inception_score_probs: out of memory");
    for (int64_t i = 0; i < n; i++) {
        const float *p = probs + i * classes;
        dgm_status st = check_row(ctx, p, i, classes);
        if (st != DGM_STATUS_OK) {
            free(marginal);
            return st;
        }
        for (int k = 0; k < classes; k++) marginal[k] += p[k];
    }
    double *log_marginal = marginal; /* in place: the logs once, not once per row */
    for (int k = 0; k < classes; k++) log_marginal[k] = log(marginal[k] / (double)n);
    double kl_sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *p = probs + i * classes;
        for (int k = 0; k < classes; k++)
            if (p[k] > 0.0f) /* 0·log 0 = 0; p > 0 implies marginal > 0 */
                kl_sum += p[k] * (log((double)p[k]) - log_marginal[k]);
    }
    free(marginal);
    *out = exp(kl_sum / (double)n);
    return DGM_STATUS_OK;
}

dgm_status dgm_inception_score(dgm_ctx *ctx, dgm_classifier *clf, const float *imgs, int64_t n,
                               double *out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!clf || dgm_classifier_ctx(clf) != ctx || !imgs || !out || n < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_inception_score: needs a classifier of this context, images "
                             "with n >= 1 (%lld) and out",
                             (long long)n);
    const int k = dgm_classifier_classes(clf);
    float *probs = malloc((size_t)n * (size_t)k * sizeof *probs);
    if (!probs)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_inception_score: out of memory for %lld rows",
                             (long long)n);
    dgm_status st = dgm_classifier_probs(clf, imgs, n, probs);
    if (st == DGM_STATUS_OK) st = dgm_inception_score_probs(ctx, probs, n, k, out);
    free(probs);
    return st;
}
