/* Exponential moving average of a parameter block's trainable values (the "EMA model"
 * of diffusion and GAN training): ema = decay·ema + (1 - decay)·w after each update, one
 * kernel over the block. The average starts as a copy of the values at creation; swapping
 * exchanges it with the block's trainable values (evaluate with the average, swap back). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optim/optim_internal.h"

struct dgm_ema {
    dgm_ctx *ctx;
    dgm_params *params; /* borrowed */
    int64_t offset, count; /* the trainable floats it averages */
    float decay;
    float *data; /* count floats of device memory; NULL when that is 0 */
};

dgm_status dgm_ema_create(dgm_params *p, float decay, dgm_ema **out)
{
    return dgm_ema_create_range(p, 0, dgm_params_numel(p), decay, out);
}

dgm_status dgm_ema_create_range(dgm_params *p, int64_t offset, int64_t count, float decay,
                                dgm_ema **out)
{
    static const char fn[] = "dgm_ema_create";
    if (out) *out = NULL;
    dgm_ctx *ctx = NULL;
    DGM_TRY(dgm_optim_check_params(p, fn, &ctx));
    DGM_TRY(dgm_optim_check_range(ctx, p, offset, count, fn));
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (!(decay >= 0.0f && decay <= 1.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: decay %g is not in [0, 1]", fn, (double)decay);
    dgm_ema *e = calloc(1, sizeof *e);
    if (!e) return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory", fn);
    e->ctx = ctx;
    e->params = p;
    e->offset = offset;
    e->count = count;
    e->decay = decay;
    const size_t n = (size_t)count;
    if (n > 0) {
        void *buf = NULL;
        dgm_status st = ctx->be->alloc(ctx, n * sizeof(float), &buf);
        if (st == DGM_STATUS_OK) {
            e->data = buf;
            st = ctx->be->copy(ctx, e->data, dgm_params_values(p) + offset, n * sizeof(float),
                               DGM_COPY_DEVICE_TO_DEVICE);
        }
        if (st != DGM_STATUS_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", dgm_last_error(ctx));
            dgm_ema_free(e);
            return dgm_set_error(ctx, st, "%s: cannot make the average (%zu floats): %s", fn, n,
                                 why);
        }
    }
    *out = e;
    return DGM_STATUS_OK;
}

void dgm_ema_free(dgm_ema *e)
{
    if (!e) return;
    if (e->data) e->ctx->be->free(e->ctx, e->data);
    free(e);
}

dgm_status dgm_ema_update(dgm_ema *e)
{
    static const char fn[] = "dgm_ema_update";
    if (!e) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_check_ctx(e->ctx));
    if (!e->data) return DGM_STATUS_OK;
    DGM_OPTIM_NEED(e->ctx, ema_update, fn);
    return e->ctx->be->ema_update(e->ctx, (size_t)e->count, e->data,
                                  dgm_params_values(e->params) + e->offset, e->decay);
}

float *dgm_ema_data(dgm_ema *e) { return e ? e->data : NULL; }

dgm_status dgm_ema_swap(dgm_ema *e)
{
    static const char fn[] = "dgm_ema_swap";
    if (!e) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_check_ctx(e->ctx));
    if (!e->data) return DGM_STATUS_OK;
    DGM_OPTIM_NEED(e->ctx, swap, fn);
    return e->ctx->be->swap(e->ctx, (size_t)e->count, dgm_params_values(e->params) + e->offset,
                            e->data);
}
