/* The moving average of a block's weights as its twin buffers (see ema_weights.h). */
#include <stdio.h>

#include "models/ema_weights.h"
#include "core/internal.h"

dgm_status dgm_ema_weights_declare(dgm_params *p)
{
    if (!p) return DGM_STATUS_INVALID_ARGUMENT;
    const int n = dgm_params_count(p);
    for (int i = 0; i < n; i++) {
        if (dgm_params_is_buffer(p, i))
            return dgm_set_error(dgm_params_ctx(p), DGM_STATUS_STATE_ERROR,
                                 "ema weights: declare them before any other buffer ('%s')",
                                 dgm_params_name(p, i));
        const dgm_tensor *t = dgm_params_at(p, i);
        int64_t shape[DGM_MAX_DIMS];
        const int nd = dgm_tensor_ndim(t);
        for (int d = 0; d < nd; d++) shape[d] = dgm_tensor_dim(t, d);
        char name[160];
        snprintf(name, sizeof name, "ema.%s", dgm_params_name(p, i));
        DGM_TRY(dgm_params_add_buffer(p, name, nd, shape, (dgm_init){DGM_INIT_ZEROS, 0.0f, 0.0f}));
    }
    return DGM_STATUS_OK;
}

/* The weights' and the twins' floats; STATE_ERROR unless the twins follow the weights
 * (declared first among the buffers, so they do; a family's other buffers come after). */
static dgm_status twin(dgm_params *p, float **w, float **ema, int64_t *n)
{
    if (!p) return DGM_STATUS_INVALID_ARGUMENT;
    *n = dgm_params_numel(p);
    *w = dgm_params_values(p);
    *ema = *w ? *w + *n : NULL;
    if (!*w || dgm_params_total_numel(p) < 2 * *n)
        return dgm_set_error(dgm_params_ctx(p), DGM_STATUS_STATE_ERROR,
                             "ema weights: the block is not allocated, or has no twins");
    return DGM_STATUS_OK;
}

dgm_status dgm_ema_weights_reset(dgm_params *p)
{
    float *w = NULL, *ema = NULL;
    int64_t n = 0;
    DGM_TRY(twin(p, &w, &ema, &n));
    dgm_ctx *ctx = dgm_params_ctx(p);
    return ctx->be->copy(ctx, ema, w, (size_t)n * sizeof(float), DGM_COPY_DEVICE_TO_DEVICE);
}

float dgm_ema_weights_decay(float decay, int64_t step)
{
    const float warm = (1.0f + (float)step) / (10.0f + (float)step);
    return warm < decay ? warm : decay;
}

dgm_status dgm_ema_weights_update(dgm_params *p, float decay)
{
    float *w = NULL, *ema = NULL;
    int64_t n = 0;
    DGM_TRY(twin(p, &w, &ema, &n));
    dgm_ctx *ctx = dgm_params_ctx(p);
    return ctx->be->ema_update(ctx, (size_t)n, ema, w, decay);
}

dgm_status dgm_ema_weights_call(dgm_params *p, bool use, dgm_status (*fn)(void *user), void *user)
{
    if (!use) return fn(user);
    DGM_TRY(dgm_ema_weights_swap(p));
    const dgm_status st = fn(user);
    const dgm_status back = dgm_ema_weights_swap(p);
    return st != DGM_STATUS_OK ? st : back;
}

dgm_status dgm_ema_weights_swap(dgm_params *p)
{
    float *w = NULL, *ema = NULL;
    int64_t n = 0;
    DGM_TRY(twin(p, &w, &ema, &n));
    dgm_ctx *ctx = dgm_params_ctx(p);
    const int64_t shape[1] = {n};
    dgm_tensor *tmp = NULL;
    const size_t bytes = (size_t)n * sizeof(float);
    DGM_TRY(dgm_tensor_alloc_step(ctx, 1, shape, &tmp));
    DGM_TRY(ctx->be->copy(ctx, tmp->data, w, bytes, DGM_COPY_DEVICE_TO_DEVICE));
    DGM_TRY(ctx->be->copy(ctx, w, ema, bytes, DGM_COPY_DEVICE_TO_DEVICE));
    return ctx->be->copy(ctx, ema, tmp->data, bytes, DGM_COPY_DEVICE_TO_DEVICE);
}
