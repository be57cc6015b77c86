/* Draws from the context's generator. cuRAND's normal generator wants an even count, so
 * odd requests draw one extra value into scratch; the context counts every value drawn
 * (its offset), for checkpoints. Core, so parameter initialization needs no op. */
#include "core/internal.h"

dgm_status dgm_rng_draw(dgm_ctx *ctx, bool normal, float *dst, size_t n)
{
    if (n == 0) return DGM_STATUS_OK;
    if (!normal) {
        DGM_TRY(ctx->be->rng_uniform(ctx, dst, n));
        ctx->rng_offset += n;
        return DGM_STATUS_OK;
    }
    if (n % 2 == 0) {
        DGM_TRY(ctx->be->rng_normal(ctx, dst, n));
    } else {
        float *tmp = NULL;
        DGM_TRY(dgm_scratch(ctx, (n + 1) * sizeof(float), (void **)&tmp));
        DGM_TRY(ctx->be->rng_normal(ctx, tmp, n + 1));
        DGM_TRY(ctx->be->copy(ctx, dst, tmp, n * sizeof(float), DGM_COPY_DEVICE_TO_DEVICE));
        n++;
    }
    ctx->rng_offset += n;
    return DGM_STATUS_OK;
}

