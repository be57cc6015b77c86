/* The context's workspace: one device buffer that ops use within a call (a convolution's
 * column buffer) and give back when they return. Kept between calls and steps, grown when
 * a call needs more: the step arena would keep every call's buffer until the step ends. */
#include "core/internal.h"

dgm_status dgm_workspace(dgm_ctx *ctx, size_t bytes, void **ptr)
{
    if (bytes <= ctx->workspace_bytes && ctx->workspace) {
        *ptr = ctx->workspace;
        return DGM_STATUS_OK;
    }
    if (ctx->workspace) {
        /* The CUDA backend's free waits for the device, so queued work has finished
         * reading the old buffer. */
        ctx->be->free(ctx, ctx->workspace);
        ctx->workspace = NULL;
        ctx->workspace_bytes = 0;
    }
    void *p = NULL;
    dgm_status st = ctx->be->alloc(ctx, bytes, &p);
    if (st != DGM_STATUS_OK) return st;
    ctx->workspace = p;
    ctx->workspace_bytes = bytes;
    *ptr = p;
    return DGM_STATUS_OK;
}

void dgm_workspace_release(dgm_ctx *ctx)
{
    if (ctx->workspace) ctx->be->free(ctx, ctx->workspace);
    ctx->workspace = NULL;
    ctx->workspace_bytes = 0;
}
