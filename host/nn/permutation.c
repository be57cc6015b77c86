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

/* The squeeze's order: column (c·4 + di·2 + dj, i, j) of [4C, H/2, W/2] takes column
 * (c, 2i + di, 2j + dj) of [C, H, W] (PyTorch's pixel_unshuffle). */
static void squeeze_order(int64_t c, int64_t h, int64_t w, int64_t *order)
{
    int64_t k = 0;
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t d = 0; d < 4; d++)
            for (int64_t i = 0; i < h / 2; i++)
                for (int64_t j = 0; j < w / 2; j++) order[k++] = (ch * h + 2 * i + d / 2) * w + 2 * j + d % 2;
}

typedef struct order_spec {
    uint64_t seed;
    bool reverse;
    int64_t squeeze[3]; /* [C, H, W] of a squeeze, or zeros */
} order_spec;

/* The [d, d] matrix of an order: a squeeze, the reversal d-1 .. 0, or a shuffle drawn from
 * seed. */
static dgm_status order_matrix_of(dgm_ctx *ctx, int64_t d, const order_spec *spec, dgm_tensor **out)
{
    const int64_t shape[2] = {d, d};
    float *m = calloc((size_t)(d * d), sizeof *m);
    int64_t *order = malloc((size_t)d * sizeof *order);
    dgm_status st = m && order ? DGM_STATUS_OK : dgm_set_error(ctx, DGM_STATUS_OOM, "permutation: out of host memory");
    if (st == DGM_STATUS_OK) {
        if (spec->squeeze[0])
            squeeze_order(spec->squeeze[0], spec->squeeze[1], spec->squeeze[2], order);
        else if (spec->reverse)
            for (int64_t i = 0; i < d; i++) order[i] = d - 1 - i;
        else
            dgm_nn_shuffle(d, spec->seed, order);
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
    const order_spec spec = {.seed = seed};
    return order_matrix_of(ctx, d, &spec, out);
}

static dgm_status create(dgm_ctx *ctx, int64_t dim, const order_spec *spec, dgm_permutation **out)
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
    const dgm_status st = order_matrix_of(ctx, dim, spec, &p->matrix);
    if (st != DGM_STATUS_OK) {
        free(p);
        return st;
    }
    *out = p;
    return DGM_STATUS_OK;
}

dgm_status dgm_permutation_create(dgm_ctx *ctx, int64_t dim, uint64_t seed, dgm_permutation **out)
{
    const order_spec spec = {.seed = seed};
    return create(ctx, dim, &spec, out);
}

dgm_status dgm_permutation_create_reverse(dgm_ctx *ctx, int64_t dim, dgm_permutation **out)
{
    const order_spec spec = {.reverse = true};
    return create(ctx, dim, &spec, out);
}

dgm_status dgm_permutation_create_squeeze(dgm_ctx *ctx, int64_t channels, int64_t height, int64_t width,
                                          dgm_permutation **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (channels < 1 || height < 2 || width < 2 || height % 2 || width % 2) {
        if (out) *out = NULL;
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_permutation_create_squeeze: [%lld, %lld, %lld] images (the sides must be even)",
                             (long long)channels, (long long)height, (long long)width);
    }
    const order_spec spec = {.squeeze = {channels, height, width}};
    return create(ctx, channels * height * width, &spec, out);
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
