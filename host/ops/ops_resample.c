/* Resampling ops on NCHW planes: nearest upsampling by f, average pooling over f×f
 * blocks (stride f), bilinear ×2 upsampling (PyTorch's align_corners=False). Each is
 * linear; its gradient is its adjoint, which is itself one of these maps (nearest <->
 * sum pooling, bilinear up <-> bilinear down), so the recorded backward is one more
 * resample op. */
#include "ops/ops_common.h"

static const dgm_op op_of_kind[] = {DGM_OP_UPSAMPLE_NEAREST, DGM_OP_AVG_POOL,
                                    DGM_OP_UPSAMPLE_BILINEAR, DGM_OP_UPSAMPLE_BILINEAR_GRAD};
static const int adjoint_of[] = {DGM_RESAMPLE_POOL_SUM, DGM_RESAMPLE_NEAREST_UP,
                                 DGM_RESAMPLE_BILINEAR_DOWN, DGM_RESAMPLE_BILINEAR_UP};

static bool upsamples(int kind)
{
    return kind == DGM_RESAMPLE_NEAREST_UP || kind == DGM_RESAMPLE_BILINEAR_UP;
}

/* y = alpha·resample(kind, x) with x [n, c, H, W]; h, w the low resolution. */
static dgm_status resample_op(dgm_ctx *ctx, int kind, int64_t f, float alpha, dgm_tensor *x,
                              dgm_tensor **out);

static dgm_status resample_backward(dgm_ctx *ctx, dgm_node *n)
{
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, n->in[0], &g, &beta));
    if (!g) return DGM_STATUS_OK;
    const int kind = (int)n->i[0];
    const dgm_tensor *x = n->in[0];
    const int64_t f = n->i[1], planes = x->shape[0] * x->shape[1];
    const int64_t h = upsamples(kind) ? x->shape[2] : x->shape[2] / f;
    const int64_t w = upsamples(kind) ? x->shape[3] : x->shape[3] / f;
    return ctx->be->resample2d(ctx, adjoint_of[kind], planes, h, w, f, n->f[0], n->out->grad,
                               beta, g);
}

static dgm_status resample_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *g = NULL;
    if (!dgm_autograd_wants(ctx, x)) return DGM_STATUS_OK;
    DGM_TRY(resample_op(ctx, adjoint_of[n->i[0]], n->i[1], n->f[0], gy, &g));
    return dgm_autograd_accumulate(ctx, x, g);
}

static dgm_status resample_op(dgm_ctx *ctx, int kind, int64_t f, float alpha, dgm_tensor *x,
                              dgm_tensor **out)
{
    const bool up = upsamples(kind);
    const int64_t planes = x->shape[0] * x->shape[1];
    const int64_t h = up ? x->shape[2] : x->shape[2] / f, w = up ? x->shape[3] : x->shape[3] / f;
    const int64_t shape[4] = {x->shape[0], x->shape[1], up ? h * f : h, up ? w * f : w};
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, 4, shape, &y));
    DGM_TRY(ctx->be->resample2d(ctx, kind, planes, h, w, f, alpha, x->data, 0.0f, y->data));
    if (dgm_tape_needed(ctx, &x, 1)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, op_of_kind[kind], resample_backward, resample_graph_backward,
                                y, &x, 1, &n));
        n->i[0] = kind;
        n->i[1] = f;
        n->f[0] = alpha;
    }
    *out = y;
    return DGM_STATUS_OK;
}

static dgm_status check_planes(dgm_ctx *ctx, const char *op, dgm_tensor *x, int64_t f,
                               bool divisible)
{
    DGM_TRY(dgm_check_tensor(ctx, x, op, "x"));
    char s[96];
    if (x->ndim != 4)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "%s: x %s is not 4-D (N, C, H, W)",
                             op, dgm_shape_str(x, s, sizeof s));
    if (f < 1 || f > 64)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: factor %lld is not in 1..64",
                             op, (long long)f);
    if (divisible && (x->shape[2] % f != 0 || x->shape[3] % f != 0))
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "%s: the planes of x %s are not whole %lldx%lld blocks", op,
                             dgm_shape_str(x, s, sizeof s), (long long)f, (long long)f);
    return DGM_STATUS_OK;
}

dgm_status dgm_upsample_nearest2d(dgm_ctx *ctx, dgm_tensor *x, int factor, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "upsample_nearest", out));
    DGM_TRY(check_planes(ctx, "upsample_nearest", x, factor, false));
    return resample_op(ctx, DGM_RESAMPLE_NEAREST_UP, factor, 1.0f, x, out);
}

dgm_status dgm_avg_pool2d(dgm_ctx *ctx, dgm_tensor *x, int kernel, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "avg_pool", out));
    DGM_TRY(check_planes(ctx, "avg_pool", x, kernel, true));
    return resample_op(ctx, DGM_RESAMPLE_POOL_SUM, kernel, 1.0f / (float)(kernel * kernel), x,
                       out);
}

dgm_status dgm_upsample_bilinear2x(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "upsample_bilinear", out));
    DGM_TRY(check_planes(ctx, "upsample_bilinear", x, 2, false));
    return resample_op(ctx, DGM_RESAMPLE_BILINEAR_UP, 2, 1.0f, x, out);
}
