/* Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_ with norm_type 2):
 *   norm = sqrt(sum over every trainable gradient element of g²)   (summed in double)
 *   g *= min(1, max_norm / (norm + 1e-6))
 * Two backend calls, both queued on the device: the sum of squares into step memory (a
 * few KiB of the context's arena, released by dgm_ctx_step_end), then the scaling, which
 * reads the sum there; only reading the norm back waits. */
#include <math.h>
#include <stdio.h>

#include "optim/optim_internal.h"

/* Step memory: the sum (first 256 bytes, for alignment), then the backend's work. */
#define CLIP_HEAD_BYTES 256

dgm_status dgm_clip_grad_norm(dgm_params *p, float max_norm, float *norm_out)
{
    return dgm_clip_grad_norm_range(p, 0, dgm_params_numel(p), max_norm, norm_out);
}

dgm_status dgm_clip_grad_norm_range(dgm_params *p, int64_t offset, int64_t count, float max_norm,
                                    float *norm_out)
{
    static const char fn[] = "dgm_clip_grad_norm";
    dgm_ctx *ctx = NULL;
    DGM_TRY(dgm_optim_check_params(p, fn, &ctx));
    DGM_TRY(dgm_optim_check_range(ctx, p, offset, count, fn));
    /* +inf is allowed: the norm is measured and nothing is scaled. */
    if (!(max_norm > 0.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: max_norm %g is not > 0", fn, (double)max_norm);
    if (norm_out) *norm_out = 0.0f;
    const size_t n = (size_t)count;
    if (n == 0) return DGM_STATUS_OK;
    DGM_OPTIM_NEED(ctx, sum_squares, fn);
    DGM_OPTIM_NEED(ctx, clip_scale, fn);

    void *mem = NULL;
    dgm_status st = dgm_scratch(ctx, CLIP_HEAD_BYTES + DGM_SUM_SQUARES_WORK_BYTES, &mem);
    if (st != DGM_STATUS_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", dgm_last_error(ctx));
        return dgm_set_error(ctx, st, "%s: %s", fn, why);
    }
    float *sumsq = (float *)mem;
    void *work = (char *)mem + CLIP_HEAD_BYTES;
    float *g = dgm_params_grads(p) + offset;
    DGM_TRY(ctx->be->sum_squares(ctx, n, g, work, sumsq));
    DGM_TRY(ctx->be->clip_scale(ctx, n, g, sumsq, max_norm));
    if (norm_out) {
        float s = 0.0f;
        DGM_TRY(ctx->be->copy(ctx, &s, sumsq, sizeof s, DGM_COPY_DEVICE_TO_HOST));
        *norm_out = sqrtf(s);
    }
    return DGM_STATUS_OK;
}
