/* Losses: an elementwise term (a binary kind of elementwise_math.h, so the stable forms
 * and their derivatives are written once) followed by the requested reduction. */
#include "ops/ops_common.h"

dgm_status dgm_reduce_loss(dgm_ctx *ctx, dgm_tensor *term, dgm_reduction reduction,
                           const char *op, dgm_tensor **out)
{
    switch (reduction) {
    case DGM_REDUCTION_NONE: *out = term; return DGM_STATUS_OK;
    case DGM_REDUCTION_PER_ROW: return dgm_sum(ctx, term, DGM_AXIS_ROWS, out);
    case DGM_REDUCTION_SUM: return dgm_sum(ctx, term, DGM_AXIS_ALL, out);
    case DGM_REDUCTION_MEAN: return dgm_mean(ctx, term, DGM_AXIS_ALL, out);
    default:
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: unknown reduction %d", op,
                             (int)reduction);
    }
}

static dgm_status loss2(dgm_ctx *ctx, dgm_op op, int kind, dgm_tensor *a, dgm_tensor *b,
                        dgm_reduction reduction, dgm_tensor **out)
{
    const char *name = dgm_op_name(op);
    DGM_TRY(dgm_op_begin(ctx, name, out));
    if ((unsigned)reduction > DGM_REDUCTION_MEAN)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: unknown reduction %d", name,
                             (int)reduction);
    dgm_tensor *term = NULL;
    DGM_TRY(dgm_binary_op(ctx, op, kind, a, b, &term));
    return dgm_reduce_loss(ctx, term, reduction, name, out);
}

dgm_status dgm_bce_with_logits(dgm_ctx *ctx, dgm_tensor *logits, dgm_tensor *target,
                               dgm_reduction reduction, dgm_tensor **out)
{
    return loss2(ctx, DGM_OP_BCE_WITH_LOGITS, DGM_BINARY_BCE_LOGITS, logits, target, reduction,
                 out);
}

dgm_status dgm_kl_normal(dgm_ctx *ctx, dgm_tensor *mu, dgm_tensor *logvar,
                         dgm_reduction reduction, dgm_tensor **out)
{
    return loss2(ctx, DGM_OP_KL_NORMAL, DGM_BINARY_KL_NORMAL, mu, logvar, reduction, out);
}

dgm_status dgm_mse(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_reduction reduction,
                   dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "mse", out));
    dgm_tensor *d = NULL, *sq = NULL;
    DGM_TRY(dgm_binary_op(ctx, DGM_OP_MSE, DGM_BINARY_SUB, a, b, &d));
    DGM_TRY(dgm_unary_op(ctx, DGM_OP_MSE, DGM_UNARY_SQUARE, 0.0f, 0.0f, d, &sq));
    return dgm_reduce_loss(ctx, sq, reduction, "mse", out);
}

dgm_status dgm_gaussian_log_density(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *mu,
                                    dgm_tensor *logvar, dgm_reduction reduction,
                                    dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "gaussian_log_density", out));
    dgm_tensor *d = NULL;
    DGM_TRY(dgm_binary_op(ctx, DGM_OP_GAUSSIAN_LOG_DENSITY, DGM_BINARY_SUB, x, mu, &d));
    return loss2(ctx, DGM_OP_GAUSSIAN_LOG_DENSITY, DGM_BINARY_GAUSS_LOGPDF, d, logvar,
                 reduction, out);
}
