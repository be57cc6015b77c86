/* Private to host/nn/: the checks the layers share. */
#ifndef DGM_NN_INTERNAL_H
#define DGM_NN_INTERNAL_H

#include "core/internal.h"
#include "dgm/nn.h"
#include "ops/ops_common.h"

/* Longest parameter name a dgm_params block takes, NUL included (params.c). */
#define DGM_NN_NAME_MAX 128

/* STATE_ERROR naming fn when p is NULL or not yet allocated. */
static inline dgm_status dgm_nn_check_allocated(dgm_ctx *ctx, dgm_params *p, const char *fn)
{
    if (!p || !dgm_params_values(p))
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR,
                             "%s: the parameters are not allocated (call dgm_params_alloc first)",
                             fn);
    if (dgm_params_ctx(p) != ctx)
        return dgm_set_error(ctx, DGM_STATUS_WRONG_DEVICE,
                             "%s: the layer's parameters belong to another context", fn);
    return DGM_STATUS_OK;
}

/* A flow layer's input check: the layer exists (`layer` non-NULL), its block is allocated
 * on ctx, and x is a valid [B, dim] tensor. */
static inline dgm_status dgm_nn_check_flow_input(dgm_ctx *ctx, const void *layer, dgm_params *p,
                                                 int64_t dim, dgm_tensor *x, const char *fn)
{
    if (!layer) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: the layer is NULL", fn);
    DGM_TRY(dgm_nn_check_allocated(ctx, p, fn));
    DGM_TRY(dgm_check_tensor(ctx, x, fn, "x"));
    if (dgm_tensor_ndim(x) != 2 || dgm_tensor_dim(x, 1) != dim)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "%s: x must be [B, %lld]", fn,
                             (long long)dim);
    return DGM_STATUS_OK;
}

/* order = a shuffle of 0..n-1: Fisher-Yates driven by splitmix64 from seed (the same on
 * every machine). */
void dgm_nn_shuffle(int64_t n, uint64_t seed, int64_t *order);

/* *out = a persistent [d, d] permutation matrix P, P[i][order[i]] = 1, order a shuffle of
 * 0..d-1 (Fisher-Yates driven by splitmix64 from seed: the same on every machine), so x·Pᵀ
 * takes column order[i] of x to column i. */
dgm_status dgm_nn_permutation_matrix(dgm_ctx *ctx, int64_t d, uint64_t seed, dgm_tensor **out);

#endif
