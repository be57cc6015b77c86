/* Ops made of other ops: batch normalization of NCHW images, the row softmax, one-hot
 * class rows, and the per-channel pieces that the recorded backward passes of the image ops share. Their
 * gradients, first and second order, come from the ops they are made of. */
#include <stdlib.h>

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

/* relu(1 - (label - k)^2) over k = 0..classes-1: 1 where the integer label equals k, else 0
 * (a differing integer is at least 1 away); four elementwise passes, on either backend. */
dgm_status dgm_one_hot(dgm_ctx *ctx, dgm_tensor *labels, int64_t classes, dgm_tensor **out)
{
    const char *op = "one_hot";
    DGM_TRY(dgm_op_begin(ctx, op, out));
    DGM_TRY(dgm_check_tensor(ctx, labels, op, "labels"));
    char s[96];
    if (labels->ndim != 2 || labels->shape[1] != 1)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "%s: labels %s are not a column [B, 1]",
                             op, dgm_shape_str(labels, s, sizeof s));
    if (classes < 1 || classes > (1 << 24)) /* indices stay exact in float */
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: %lld classes (1 to 2^24)", op,
                             (long long)classes);
    float *k = malloc((size_t)classes * sizeof *k);
    if (!k) return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory", op);
    for (int64_t i = 0; i < classes; i++) k[i] = (float)i;
    const int64_t row[2] = {1, classes};
    dgm_tensor *t = NULL;
    const dgm_status st = dgm_tensor_from_host(ctx, 2, row, k, &t);
    free(k);
    DGM_TRY(st);
    const int64_t full[2] = {labels->shape[0], classes};
    dgm_tensor *wide = NULL;
    DGM_TRY(dgm_broadcast_to(ctx, labels, 2, full, &wide));
    DGM_TRY(dgm_sub(ctx, wide, t, &t));
    DGM_TRY(dgm_square(ctx, t, &t));
    DGM_TRY(dgm_scale(ctx, t, -1.0f, 1.0f, &t));
    return dgm_relu(ctx, t, out);
}
