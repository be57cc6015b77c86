/* Shared entry checks of the op wrappers. */
#include "ops/ops_common.h"

dgm_status dgm_op_begin(dgm_ctx *ctx, const char *op, dgm_tensor **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    ctx->op = op;
    return DGM_STATUS_OK;
}

dgm_status dgm_grad_target_zeroed(dgm_ctx *ctx, dgm_tensor *t, float **grad)
{
    float beta = 0.0f;
    DGM_TRY(dgm_grad_target(ctx, t, grad, &beta));
    if (*grad && beta == 0.0f) DGM_TRY(ctx->be->fill(ctx, *grad, (size_t)t->numel, 0.0f));
    return DGM_STATUS_OK;
}
