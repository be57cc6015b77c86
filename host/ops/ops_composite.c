/* Ops made of other ops: batch normalization of NCHW images and the row softmax, and the
 * per-channel pieces that the recorded backward passes of the image ops share. Their
 * gradients, first and second order, come from the ops they are made of. */
#include "ops/ops_common.h"

dgm_status dgm_channel_affine_op(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *v, bool add,
                                 int64_t c, int64_t plane, dgm_tensor **out)
{
    const int64_t col[2] = {c, 1}, full[2] = {c, plane}, row[2] = {1, c * plane};
    dgm_tensor *t = NULL;
    DGM_TRY(dgm_reshape(ctx, v, 2, col, &t));
    DGM_TRY(dgm_broadcast_to(ctx, t, 2, full, &t));
    DGM_TRY(dgm_reshape(ctx, t, 2, row, &t));
    return add ? dgm_add(ctx, x, t, out) : dgm_mul(ctx, x, t, out);
}

dgm_status dgm_channel_sum_op(dgm_ctx *ctx, dgm_tensor *y, int64_t n, int64_t c, dgm_tensor **out)
{
    const int64_t s2[2] = {n * c, y->numel / (n * c)}, s3[2] = {n, c};
    dgm_tensor *t = NULL;
    DGM_TRY(dgm_reshape(ctx, y, 2, s2, &t));
    DGM_TRY(dgm_sum(ctx, t, DGM_AXIS_ROWS, &t));
    DGM_TRY(dgm_reshape(ctx, t, 2, s3, &t));
    return dgm_sum(ctx, t, DGM_AXIS_COLS, out);
}

dgm_status dgm_batchnorm2d(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *weight, dgm_tensor *bias,
                           dgm_tensor *running_mean, dgm_tensor *running_var, bool training,
                           float momentum, float eps, dgm_tensor **out)
{
    const char *op = "batchnorm2d";
    DGM_TRY(dgm_op_begin(ctx, op, out));
    DGM_TRY(dgm_check_tensor(ctx, x, op, "x"));
    char s[96];
    if (x->ndim != 4)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "%s: x %s is not 4-D (N, C, H, W)",
                             op, dgm_shape_str(x, s, sizeof s));
    const int64_t n = x->shape[0], c = x->shape[1], plane = x->shape[2] * x->shape[3];
    const int64_t chw[3] = {n, c, plane}, rows[2] = {n * plane, c};
    /* channel-last rows [N·H·W, C], normalized per column by the 1-D op, and back */
    dgm_tensor *t = NULL;
    DGM_TRY(dgm_reshape(ctx, x, 3, chw, &t));
    DGM_TRY(dgm_transpose(ctx, t, &t));
    DGM_TRY(dgm_reshape(ctx, t, 2, rows, &t));
    DGM_TRY(dgm_batchnorm(ctx, t, weight, bias, running_mean, running_var, training, momentum,
                          eps, &t));
    const int64_t hwc[3] = {n, plane, c};
    DGM_TRY(dgm_reshape(ctx, t, 3, hwc, &t));
    DGM_TRY(dgm_transpose(ctx, t, &t));
    return dgm_reshape(ctx, t, 4, x->shape, out);
}

dgm_status dgm_softmax_rows(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "softmax", out));
    DGM_TRY(dgm_check_tensor(ctx, x, "softmax", "x"));
    dgm_tensor *lse = NULL, *t = NULL;
    DGM_TRY(dgm_logsumexp_rows(ctx, x, &lse));
    DGM_TRY(dgm_sub(ctx, x, lse, &t));
    DGM_TRY(dgm_exp(ctx, t, &t));
    return dgm_reshape(ctx, t, x->ndim, x->shape, out);
}
