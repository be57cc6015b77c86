/* Ops made of other ops: group normalization, batch normalization of NCHW images and the
 * row softmax. Their gradients, first and second order, come from the ops they are made
 * of. */
#include "ops/ops_common.h"

/* x viewed as [N, C·plane] times (or plus) a per-channel vector v [C] repeated over each
 * plane. */
static dgm_status channel_affine(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *v, bool add,
                                 int64_t c, int64_t plane, dgm_tensor **out)
{
    const int64_t col[2] = {c, 1}, full[2] = {c, plane}, row[2] = {1, c * plane};
    dgm_tensor *t = NULL;
    DGM_TRY(dgm_reshape(ctx, v, 2, col, &t));
    DGM_TRY(dgm_broadcast_to(ctx, t, 2, full, &t));
    DGM_TRY(dgm_reshape(ctx, t, 2, row, &t));
    return add ? dgm_add(ctx, x, t, out) : dgm_mul(ctx, x, t, out);
}

static dgm_status check_channels(dgm_ctx *ctx, const char *op, dgm_tensor *t, const char *arg,
                                 int64_t c)
{
    if (!t) return DGM_STATUS_OK;
    DGM_TRY(dgm_check_tensor(ctx, t, op, arg));
    if (t->numel == c) return DGM_STATUS_OK;
    char s[96];
    return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "%s: %s %s does not match %lld channels",
                         op, arg, dgm_shape_str(t, s, sizeof s), (long long)c);
}

dgm_status dgm_group_norm(dgm_ctx *ctx, dgm_tensor *x, int groups, dgm_tensor *weight,
                          dgm_tensor *bias, float eps, dgm_tensor **out)
{
    const char *op = "group_norm";
    DGM_TRY(dgm_op_begin(ctx, op, out));
    DGM_TRY(dgm_check_tensor(ctx, x, op, "x"));
    char s[96];
    if (x->ndim < 2)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "%s: x %s has no channel axis", op,
                             dgm_shape_str(x, s, sizeof s));
    const int64_t n = x->shape[0], c = x->shape[1], plane = x->numel / (n * c);
    if (groups < 1 || c % groups != 0)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %lld channels of x %s are not %d equal groups", op,
                             (long long)c, dgm_shape_str(x, s, sizeof s), groups);
    if (!(eps > 0.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: eps %g must be > 0", op,
                             (double)eps);
    DGM_TRY(check_channels(ctx, op, weight, "weight", c));
    DGM_TRY(check_channels(ctx, op, bias, "bias", c));
    const int64_t grouped[2] = {n * groups, x->numel / (n * groups)}, flat[2] = {n, c * plane};
    dgm_tensor *xr = NULL, *mean = NULL, *xc = NULL, *var = NULL, *y = NULL;
    DGM_TRY(dgm_reshape(ctx, x, 2, grouped, &xr));
    DGM_TRY(dgm_mean(ctx, xr, DGM_AXIS_ROWS, &mean));
    DGM_TRY(dgm_sub(ctx, xr, mean, &xc));
    DGM_TRY(dgm_square(ctx, xc, &var));
    DGM_TRY(dgm_mean(ctx, var, DGM_AXIS_ROWS, &var)); /* biased, as PyTorch normalizes */
    DGM_TRY(dgm_scale(ctx, var, 1.0f, eps, &var));
    DGM_TRY(dgm_sqrt(ctx, var, &var));
    DGM_TRY(dgm_div(ctx, xc, var, &y));
    DGM_TRY(dgm_reshape(ctx, y, 2, flat, &y));
    if (weight) DGM_TRY(channel_affine(ctx, y, weight, false, c, plane, &y));
    if (bias) DGM_TRY(channel_affine(ctx, y, bias, true, c, plane, &y));
    return dgm_reshape(ctx, y, x->ndim, x->shape, out);
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
