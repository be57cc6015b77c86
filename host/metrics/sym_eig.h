/* Symmetric eigendecomposition and PSD square roots in double, through LAPACK's dsyevd
 * (OpenBLAS exports it). Private to the metrics; the tests reach it. */
#ifndef DGM_METRICS_SYM_EIG_H
#define DGM_METRICS_SYM_EIG_H

#include <stdint.h>

#include "dgm/core.h"

/* Eigenvalues (ascending) of the symmetric n x n matrix a (row-major; only its upper
 * triangle is read) into w [n]; with vectors non-NULL, the orthonormal eigenvectors too:
 * eigenvector k is vectors[i·n + k], i = 0..n-1 (the columns, row-major). a is not
 * changed. BACKEND_ERROR naming LAPACK's info when dsyevd fails; OOM. */
dgm_status dgm_sym_eig(dgm_ctx *ctx, int n, const double *a, double *w, double *vectors);

/* The PSD square root of the symmetric n x n matrix a (row-major) into out (n x n, may
 * not alias a): V·diag(√max(λ, 0))·Vᵀ. Negative eigenvalues are clamped to 0 (a PSD
 * matrix has them only from rounding); *clamped, when not NULL, gets their number. */
dgm_status dgm_sym_sqrt(dgm_ctx *ctx, int n, const double *a, double *out, int *clamped);

#endif
