/* Invertible linear layer with Glow's LU parametrization, W = P·L·U (see dgm/flow.h):
 * log|det W| = Σ log_s costs nothing, and the gradient reaches L, U and log_s through the
 * recorded products that assemble W. The fixed matrices (P, the triangular masks, the
 * identity) are persistent tensors made once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dgm/flow.h"
#include "nn/nn_internal.h"

struct dgm_invlinear {
    dgm_params *params; /* borrowed */
    int lower_index, upper_index, log_s_index;
    int64_t dim;
    dgm_tensor *perm, *mask_lower, *mask_upper, *eye; /* [D, D], persistent */
};

void dgm_invlinear_free(dgm_invlinear *l)
{
    if (!l) return;
    dgm_tensor_free(l->perm);
    dgm_tensor_free(l->mask_lower);
    dgm_tensor_free(l->mask_upper);
    dgm_tensor_free(l->eye);
    free(l);
}

/* The fixed matrices: P (dgm_nn_permutation_matrix: the same P for a seed everywhere), the
 * strict triangles and the identity, made on the host. */
static dgm_status make_constants(dgm_ctx *ctx, dgm_invlinear *l, uint64_t seed)
{
    const int64_t d = l->dim, shape[2] = {d, d};
    DGM_TRY(dgm_nn_permutation_matrix(ctx, d, seed, &l->perm));
    float *m = calloc((size_t)(d * d), sizeof *m);
    dgm_status st = m ? DGM_STATUS_OK : dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_invlinear_create: out of host memory");
    dgm_tensor **dst[3] = {&l->mask_lower, &l->mask_upper, &l->eye};
    for (int k = 0; k < 3 && st == DGM_STATUS_OK; k++) {
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j < d; j++)
                m[i * d + j] = k == 0 ? (float)(j < i) : k == 1 ? (float)(j > i) : (float)(i == j);
        st = dgm_tensor_create(ctx, 2, shape, dst[k]);
        if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, *dst[k], m);
    }
    free(m);
    return st;
}

dgm_status dgm_invlinear_create(dgm_params *p, const char *prefix, int64_t dim, uint64_t perm_seed,
                                dgm_invlinear **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (!out || !prefix || dim < 1 || dim > 4096)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_invlinear_create: prefix and out must not be NULL, dim in [1, 4096]");
    *out = NULL;
    dgm_invlinear *l = calloc(1, sizeof *l);
    if (!l) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_invlinear_create: out of host memory");
    l->params = p;
    l->dim = dim;
    const int64_t square[2] = {dim, dim}, row[1] = {dim};
    const dgm_init zeros = {DGM_INIT_ZEROS, 0.0f, 0.0f};
    const char *names[3] = {"lower", "upper", "log_s"};
    int *index[3] = {&l->lower_index, &l->upper_index, &l->log_s_index};
    dgm_status st = make_constants(ctx, l, perm_seed);
    for (int k = 0; k < 3 && st == DGM_STATUS_OK; k++) {
        char name[DGM_NN_NAME_MAX];
        snprintf(name, sizeof name, "%s.%s", prefix, names[k]);
        *index[k] = dgm_params_count(p);
        st = dgm_params_add(p, name, k < 2 ? 2 : 1, k < 2 ? square : row, zeros);
    }
    if (st != DGM_STATUS_OK) {
        dgm_invlinear_free(l);
        return st;
    }
    *out = l;
    return DGM_STATUS_OK;
}

static dgm_status check_input(dgm_ctx *ctx, const dgm_invlinear *l, dgm_tensor *x, const char *fn)
{
    return dgm_nn_check_flow_input(ctx, l, l ? l->params : NULL, l ? l->dim : 0, x, fn);
}

/* W = P·(lower⊙mask_l + I)·(upper⊙mask_u + I⊙exp(log_s)), on the tape. */
static dgm_status weight(dgm_ctx *ctx, const dgm_invlinear *l, dgm_tensor **w)
{
    dgm_tensor *lo = NULL, *up = NULL, *diag = NULL, *pl = NULL;
    DGM_TRY(dgm_mul(ctx, dgm_params_at(l->params, l->lower_index), l->mask_lower, &lo));
    DGM_TRY(dgm_add(ctx, lo, l->eye, &lo));
    DGM_TRY(dgm_exp(ctx, dgm_params_at(l->params, l->log_s_index), &diag));
    DGM_TRY(dgm_mul(ctx, l->eye, diag, &diag)); /* column j of I times exp(log_s_j) */
    DGM_TRY(dgm_mul(ctx, dgm_params_at(l->params, l->upper_index), l->mask_upper, &up));
    DGM_TRY(dgm_add(ctx, up, diag, &up));
    DGM_TRY(dgm_matmul(ctx, l->perm, false, lo, false, NULL, DGM_ACT_NONE, 0.0f, &pl));
    return dgm_matmul(ctx, pl, false, up, false, NULL, DGM_ACT_NONE, 0.0f, w);
}

dgm_status dgm_invlinear_forward(dgm_ctx *ctx, const dgm_invlinear *l, dgm_tensor *x, dgm_tensor **y,
                                 dgm_tensor **logdet)
{
    DGM_TRY(check_input(ctx, l, x, "dgm_invlinear_forward"));
    dgm_tensor *w = NULL, *ld = NULL;
    DGM_TRY(weight(ctx, l, &w));
    DGM_TRY(dgm_matmul(ctx, x, false, w, true, NULL, DGM_ACT_NONE, 0.0f, y));
    DGM_TRY(dgm_sum(ctx, dgm_params_at(l->params, l->log_s_index), DGM_AXIS_ALL, &ld));
    const int64_t shape[2] = {dgm_tensor_dim(x, 0), 1};
    return dgm_broadcast_to(ctx, ld, 2, shape, logdet);
}

/* In place: a [d, d] (row-major, double) -> its inverse by Gauss-Jordan with partial
 * pivoting; false when singular to working precision. */
static bool invert(double *a, int64_t d)
{
    double *inv = calloc((size_t)(d * d), sizeof *inv);
    if (!inv) return false;
    for (int64_t i = 0; i < d; i++) inv[i * d + i] = 1.0;
    bool ok = true;
    for (int64_t c = 0; c < d && ok; c++) {
        int64_t piv = c;
        for (int64_t r = c + 1; r < d; r++)
            if (fabs(a[r * d + c]) > fabs(a[piv * d + c])) piv = r;
        if (!(fabs(a[piv * d + c]) > 1e-300)) {
            ok = false;
            break;
        }
        for (int64_t j = 0; j < d; j++) {
            double t = a[c * d + j];
            a[c * d + j] = a[piv * d + j];
            a[piv * d + j] = t;
            t = inv[c * d + j];
            inv[c * d + j] = inv[piv * d + j];
            inv[piv * d + j] = t;
        }
        const double p = a[c * d + c];
        for (int64_t j = 0; j < d; j++) a[c * d + j] /= p, inv[c * d + j] /= p;
        for (int64_t r = 0; r < d; r++) {
            if (r == c || a[r * d + c] == 0.0) continue;
            const double f = a[r * d + c];
            for (int64_t j = 0; j < d; j++) a[r * d + j] -= f * a[c * d + j], inv[r * d + j] -= f * inv[c * d + j];
        }
    }
    if (ok) memcpy(a, inv, (size_t)(d * d) * sizeof *a);
    free(inv);
    return ok;
}

dgm_status dgm_invlinear_inverse(dgm_ctx *ctx, const dgm_invlinear *l, dgm_tensor *y, dgm_tensor **x)
{
    DGM_TRY(check_input(ctx, l, y, "dgm_invlinear_inverse"));
    const int64_t d = l->dim, shape[2] = {d, d};
    dgm_tensor *w = NULL, *winv = NULL;
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false); /* W⁻¹ is computed off the tape */
    dgm_status st = weight(ctx, l, &w);
    dgm_ctx_set_grad_enabled(ctx, grad);
    DGM_TRY(st);
    float *wf = malloc((size_t)(d * d) * sizeof *wf);
    double *wd = malloc((size_t)(d * d) * sizeof *wd);
    st = wf && wd ? dgm_tensor_to_host(ctx, w, wf) : dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_invlinear_inverse: out of host memory");
    if (st == DGM_STATUS_OK) {
        for (int64_t i = 0; i < d * d; i++) wd[i] = wf[i];
        if (!invert(wd, d))
            st = dgm_set_error(ctx, DGM_STATUS_NOT_FINITE, "dgm_invlinear_inverse: W is singular");
    }
    if (st == DGM_STATUS_OK) {
        for (int64_t i = 0; i < d * d; i++) wf[i] = (float)wd[i];
        st = dgm_tensor_from_host(ctx, 2, shape, wf, &winv);
    }
    free(wf);
    free(wd);
    DGM_TRY(st);
    return dgm_matmul(ctx, y, false, winv, true, NULL, DGM_ACT_NONE, 0.0f, x);
}
