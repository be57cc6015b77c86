/* Fixed column permutation (see dgm/flow.h): applied as a product with the permutation
 * matrix, a persistent [D, D] constant, so it runs on either backend, records on the tape
 * like any matmul (differentiable to any order) and needs no op of its own. Its cost is a
 * D×D GEMM per direction (a gather would move D floats a row instead). */
#include <stdlib.h>

#include "dgm/flow.h"
#include "nn/nn_internal.h"

struct dgm_permutation {
    dgm_ctx *ctx;
    int64_t dim;
    dgm_tensor *matrix; /* P [D, D], P[i][order[i]] = 1: y = x·Pᵀ, x = y·P */
};

void dgm_nn_shuffle(int64_t n, uint64_t seed, int64_t *order)
{
    for (int64_t i = 0; i < n; i++) order[i] = i;
    uint64_t z = seed;
    for (int64_t i = n - 1; i > 0; i--) {
        z += 0x9e3779b97f4a7c15ULL; /* splitmix64 */
        uint64_t r = z;
        r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ULL;
        r = (r ^ (r >> 27)) * 0x94d049bb133111ebULL;
        r ^= r >> 31;
        const int64_t j = (int64_t)(r % (uint64_t)(i + 1));
        const int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* The [d, d] matrix of `order` (reverse: d-1 .. 0; else a shuffle drawn from seed). */
static dgm_status order_matrix(dgm_ctx *ctx, int64_t d, uint64_t seed, bool reverse, dgm_tensor **out)
{
    const int64_t shape[2] = {d, d};
    float *m = calloc((size_t)(d * d), sizeof *m);
    int64_t *order = malloc((size_t)d * sizeof *order);
    dgm_status st = m && order ? DGM_STATUS_OK : dgm_set_error(ctx, DGM_STATUS_OOM, "permutation: out of host memory");
    if (st == DGM_STATUS_OK) {
        if (reverse)
            for (int64_t i = 0; i < d; i++) order[i] = d - 1 - i;
        else
            dgm_nn_shuffle(d, seed, order);
        for (int64_t i = 0; i < d; i++) m[i * d + order[i]] = 1.0f;
        st = dgm_tensor_create(ctx, 2, shape, out);
    }
    if (st == DGM_STATUS_OK) {
        st = dgm_tensor_copy_from_host(ctx, *out, m);
        if (st != DGM_STATUS_OK) {
            dgm_tensor_free(*out);
            *out = NULL;
        }
    }
    free(m);
    free(order);
    return st;
}

dgm_status dgm_nn_permutation_matrix(dgm_ctx *ctx, int64_t d, uint64_t seed, dgm_tensor **out)
{
    return order_matrix(ctx, d, seed, false, out);
}

static dgm_status create(dgm_ctx *ctx, int64_t dim, uint64_t seed, bool reverse, dgm_permutation **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (out) *out = NULL;
    if (!out || dim < 1 || dim > 4096)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_permutation_create: out must not be NULL, dim %lld in [1, 4096]",
                             (long long)dim);
    dgm_permutation *p = calloc(1, sizeof *p);
    if (!p) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_permutation_create: out of host memory");
    p->ctx = ctx;
    p->dim = dim;
    const dgm_status st = order_matrix(ctx, dim, seed, reverse, &p->matrix);
    if (st != DGM_STATUS_OK) {
        free(p);
        return st;
    }
    *out = p;
    return DGM_STATUS_OK;
}

dgm_status dgm_permutation_create(dgm_ctx *ctx, int64_t dim, uint64_t seed, dgm_permutation **out)
{
    return create(ctx, dim, seed, false, out);
}

dgm_status dgm_permutation_create_reverse(dgm_ctx *ctx, int64_t dim, dgm_permutation **out)
{
    return create(ctx, dim, 0, true, out);
}

void dgm_permutation_free(dgm_permutation *p)
{
    if (!p) return;
    dgm_tensor_free(p->matrix);
    free(p);
}

static dgm_status check_input(dgm_ctx *ctx, const dgm_permutation *p, dgm_tensor *x, const char *fn)
{
    if (!p) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: the layer is NULL", fn);
    if (p->ctx != ctx)
        return dgm_set_error(ctx, DGM_STATUS_WRONG_DEVICE, "%s: the layer belongs to another context", fn);
    DGM_TRY(dgm_check_tensor(ctx, x, fn, "x"));
    if (dgm_tensor_ndim(x) != 2 || dgm_tensor_dim(x, 1) != p->dim)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "%s: x must be [B, %lld]", fn,
                             (long long)p->dim);
    return DGM_STATUS_OK;
}

dgm_status dgm_permutation_forward(dgm_ctx *ctx, const dgm_permutation *p, dgm_tensor *x,
                                   dgm_tensor **y)
{
    DGM_TRY(check_input(ctx, p, x, "dgm_permutation_forward"));
    return dgm_matmul(ctx, x, false, p->matrix, true, NULL, DGM_ACT_NONE, 0.0f, y);
}

dgm_status dgm_permutation_inverse(dgm_ctx *ctx, const dgm_permutation *p, dgm_tensor *y,
                                   dgm_tensor **x)
{
    DGM_TRY(check_input(ctx, p, y, "dgm_permutation_inverse"));
    return dgm_matmul(ctx, y, false, p->matrix, false, NULL, DGM_ACT_NONE, 0.0f, x);
}
