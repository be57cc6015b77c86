/* dsyevd (divide and conquer: the fastest of LAPACK's symmetric solvers when vectors are
 * wanted) behind a row-major interface. A symmetric matrix reads the same in either
 * order, so the row-major input goes to Fortran as it is; only the eigenvectors come back
 * as columns. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "metrics/sym_eig.h"

/* LAPACK's Fortran entry. The trailing lengths are the hidden CHARACTER arguments that
 * gfortran passes (as size_t since gfortran 8); declaring them keeps the call exact. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
                    const int *lda, double *w, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

dgm_status dgm_sym_eig(dgm_ctx *ctx, int n, const double *a, double *w, double *vectors)
{
    if (n < 1 || !a || !w)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "symmetric eigensolver: needs n >= 1 (%d), a and w", n);
    const size_t nn = (size_t)n * (size_t)n;
    double *m = malloc(nn * sizeof *m);
    if (!m) return dgm_set_error(ctx, DGM_STATUS_OOM, "symmetric eigensolver: out of memory (n = %d)", n);
    memcpy(m, a, nn * sizeof *m);
    /* Row-major upper triangle = column-major lower triangle. */
    const char jobz = vectors ? 'V' : 'N', uplo = 'L';
    int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
    double work_query = 0.0;
    dsyevd_(&jobz, &uplo, &n, m, &n, w, &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1);
    double *work = NULL;
    int *iwork = NULL;
    if (info == 0) {
        lwork = work_query < (double)INT_MAX ? (int)work_query : INT_MAX;
        liwork = iwork_query;
        work = malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *work);
        iwork = malloc((size_t)(liwork > 1 ? liwork : 1) * sizeof *iwork);
        if (!work || !iwork) {
            free(work);
            free(iwork);
            free(m);
            return dgm_set_error(ctx, DGM_STATUS_OOM, "symmetric eigensolver: out of memory (n = %d)", n);
        }
        dsyevd_(&jobz, &uplo, &n, m, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    }
    free(work);
    free(iwork);
    if (info != 0) {
        free(m);
        return dgm_set_error(ctx, DGM_STATUS_BACKEND_ERROR,
                             "symmetric eigensolver: LAPACK dsyevd failed (info %d, n = %d)%s",
                             info, n, info > 0 ? ": it did not converge" : "");
    }
    if (vectors) /* column-major eigenvectors -> row-major columns */
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) vectors[(size_t)i * n + k] = m[(size_t)k * n + i];
    free(m);
    return DGM_STATUS_OK;
}

dgm_status dgm_sym_sqrt(dgm_ctx *ctx, int n, const double *a, double *out, int *clamped)
{
    if (!out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "symmetric square root: out is NULL");
    const size_t nn = (size_t)n * (size_t)(n > 0 ? n : 0);
    double *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
    double *v = malloc((nn ? nn : 1) * sizeof *v);
    double *vs = malloc((nn ? nn : 1) * sizeof *vs);
    dgm_status st = w && v && vs ? dgm_sym_eig(ctx, n, a, w, v)
                                 : dgm_set_error(ctx, DGM_STATUS_OOM,
                                                 "symmetric square root: out of memory (n = %d)", n);
    if (st == DGM_STATUS_OK) {
        int negative = 0;
        for (int k = 0; k < n; k++) {
            if (w[k] < 0.0) negative++;
            w[k] = w[k] > 0.0 ? sqrt(w[k]) : 0.0;
        }
        if (clamped) *clamped = negative;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) vs[(size_t)i * n + k] = v[(size_t)i * n + k] * w[k];
        /* out = (V·diag(√λ))·Vᵀ */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, vs, n, v, n, 0.0,
                    out, n);
    }
    free(w);
    free(v);
    free(vs);
    return st;
}
