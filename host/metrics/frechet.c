/* The Fréchet distance between the Gaussians fitted to two feature sets (FID's formula):
 * moments in double, the matrix square roots through the symmetric eigensolver. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/internal.h"
#include "dgm/metrics.h"
#include "metrics/sym_eig.h"

dgm_status dgm_feature_moments(dgm_ctx *ctx, const float *feats, int64_t n, int dim,
                               double *mean, double *cov)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!feats || !mean || !cov || n < 2 || dim < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_feature_moments: needs feats, mean and cov, n >= 2 (%lld) and "
                             "dim >= 1 (%d)",
                             (long long)n, dim);
    if (n > INT_MAX || (uint64_t)n > SIZE_MAX / sizeof(double) / (uint64_t)dim)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_feature_moments: %lld x %d is too large",
                             (long long)n, dim);
    double *centred = malloc((size_t)n * (size_t)dim * sizeof *centred);
    if (!centred)
        return dgm_set_error(ctx, DGM_STATUS_OOM,
                             "dgm_feature_moments: out of memory for %lld x %d doubles",
                             (long long)n, dim);
    for (int c = 0; c < dim; c++) mean[c] = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++) {
            const float v = feats[i * dim + c];
            if (!isfinite(v)) {
                free(centred);
                return dgm_set_error(ctx, DGM_STATUS_NOT_FINITE,
                                     "dgm_feature_moments: row %lld is not finite (feature %d "
                                     "is %g)",
                                     (long long)i, c, (double)v);
            }
            mean[c] += v;
        }
    for (int c = 0; c < dim; c++) mean[c] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++) centred[i * dim + c] = (double)feats[i * dim + c] - mean[c];
    /* Centring first: Σ x xᵀ/n − μμᵀ would cancel catastrophically for features far from 0. */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, (int)n, 1.0 / (double)(n - 1),
                centred, dim, 0.0, cov, dim);
    for (int r = 0; r < dim; r++)
        for (int c = 0; c < r; c++) cov[r * dim + c] = cov[c * dim + r];
    free(centred);
    return DGM_STATUS_OK;
}

/* count matrices of dim x dim doubles fit in size_t. */
static bool matrices_fit(int dim, size_t count)
{
    return (size_t)dim <= SIZE_MAX / sizeof(double) / count / (size_t)dim;
}

static dgm_status check_finite(dgm_ctx *ctx, const double *x, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(x[i]))
            return dgm_set_error(ctx, DGM_STATUS_NOT_FINITE,
                                 "dgm_frechet_distance_moments: %s element %zu is %g", name, i, x[i]);
    return DGM_STATUS_OK;
}

/* The upper triangle mirrored into a full symmetric copy. */
static void symmetric_copy(const double *a, int n, double *out)
{
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) out[r * n + c] = c >= r ? a[r * n + c] : a[c * n + r];
}

dgm_status dgm_frechet_distance_moments(dgm_ctx *ctx, int dim, const double *mean_a,
                                        const double *cov_a, const double *mean_b,
                                        const double *cov_b, double *out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!mean_a || !cov_a || !mean_b || !cov_b || !out || dim < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_frechet_distance_moments: needs both means and covariances, "
                             "out, and dim >= 1 (%d)",
                             dim);
    if (!matrices_fit(dim, 1))
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_frechet_distance_moments: dim %d is too large",
                             dim);
    const size_t nn = (size_t)dim * (size_t)dim;
    DGM_TRY(check_finite(ctx, mean_a, (size_t)dim, "mean_a"));
    DGM_TRY(check_finite(ctx, mean_b, (size_t)dim, "mean_b"));
    double *sa = malloc(nn * sizeof *sa), *b = malloc(nn * sizeof *b);
    double *t = malloc(nn * sizeof *t), *m = malloc(nn * sizeof *m);
    double *mu = malloc((size_t)dim * sizeof *mu);
    dgm_status st = DGM_STATUS_OK;
    if (!sa || !b || !t || !m || !mu) {
        st = dgm_set_error(ctx, DGM_STATUS_OOM,
                           "dgm_frechet_distance_moments: out of memory (dim %d)", dim);
        goto done;
    }
    symmetric_copy(cov_a, dim, m);
    symmetric_copy(cov_b, dim, b);
    if ((st = check_finite(ctx, m, nn, "cov_a")) != DGM_STATUS_OK ||
        (st = check_finite(ctx, b, nn, "cov_b")) != DGM_STATUS_OK)
        goto done;
    if ((st = dgm_sym_sqrt(ctx, dim, m, sa, NULL)) != DGM_STATUS_OK) goto done;
    /* Σa^½ Σb Σa^½ is symmetric PSD, so the trace of its square root is Σ √μ_i over its
     * eigenvalues: no second square root matrix (and no non-symmetric sqrtm as in
     * scipy's) is needed. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dim, dim, dim, 1.0, b, dim, sa, dim,
                0.0, t, dim);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dim, dim, dim, 1.0, sa, dim, t, dim,
                0.0, m, dim);
    for (int r = 0; r < dim; r++) /* rounding leaves it slightly asymmetric */
        for (int c = r + 1; c < dim; c++) m[r * dim + c] = 0.5 * (m[r * dim + c] + m[c * dim + r]);
    if ((st = dgm_sym_eig(ctx, dim, m, mu, NULL)) != DGM_STATUS_OK) goto done;
    double trace_sqrt = 0.0, trace = 0.0, d2 = 0.0;
    for (int k = 0; k < dim; k++) trace_sqrt += mu[k] > 0.0 ? sqrt(mu[k]) : 0.0;
    for (int k = 0; k < dim; k++) {
        const double d = mean_a[k] - mean_b[k];
        d2 += d * d;
        trace += cov_a[k * dim + k] + cov_b[k * dim + k];
    }
    const double fd = d2 + trace - 2.0 * trace_sqrt;
    *out = fd > 0.0 ? fd : 0.0; /* equal sets can round to -1e-13 */
done:
    free(sa);
    free(b);
    free(t);
    free(m);
    free(mu);
    return st;
}

dgm_status dgm_frechet_distance(dgm_ctx *ctx, const float *feats_a, int64_t na,
                                const float *feats_b, int64_t nb, int dim, double *out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!feats_a || !feats_b || !out || na < 2 || nb < 2 || dim < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_frechet_distance: needs both feature sets with at least 2 "
                             "rows (%lld, %lld), out, and dim >= 1 (%d)",
                             (long long)na, (long long)nb, dim);
    if (!matrices_fit(dim, 2))
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_frechet_distance: dim %d is too large", dim);
    const size_t nn = (size_t)dim * (size_t)dim;
    double *mean = malloc(2 * (size_t)dim * sizeof *mean), *cov = malloc(2 * nn * sizeof *cov);
    dgm_status st;
    if (!mean || !cov)
        st = dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_frechet_distance: out of memory (dim %d)", dim);
    else if ((st = dgm_feature_moments(ctx, feats_a, na, dim, mean, cov)) == DGM_STATUS_OK &&
             (st = dgm_feature_moments(ctx, feats_b, nb, dim, mean + dim, cov + nn)) == DGM_STATUS_OK)
        st = dgm_frechet_distance_moments(ctx, dim, mean, cov, mean + dim, cov + nn, out);
    free(mean);
    free(cov);
    return st;
}

dgm_status dgm_fid_images(dgm_ctx *ctx, dgm_classifier *clf, const float *imgs_a, int64_t na,
                          const float *imgs_b, int64_t nb, double *out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!clf || dgm_classifier_ctx(clf) != ctx || !imgs_a || !imgs_b || !out || na < 2 || nb < 2)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_fid_images: needs a classifier of this context, both image "
                             "sets with at least 2 rows (%lld, %lld) and out",
                             (long long)na, (long long)nb);
    const int64_t f = dgm_classifier_feature_dim(clf);
    float *fa = malloc((size_t)na * (size_t)f * sizeof *fa);
    float *fb = malloc((size_t)nb * (size_t)f * sizeof *fb);
    dgm_status st;
    if (!fa || !fb)
        st = dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_fid_images: out of memory for the features");
    else if ((st = dgm_classifier_features(clf, imgs_a, na, fa)) == DGM_STATUS_OK &&
             (st = dgm_classifier_features(clf, imgs_b, nb, fb)) == DGM_STATUS_OK)
        st = dgm_frechet_distance(ctx, fa, na, fb, nb, (int)f, out);
    free(fa);
    free(fb);
    return st;
}
