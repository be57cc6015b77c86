/* Group normalization (PyTorch's group_norm) as one op: the backend's fused kernels forward
 * and backward (two passes where the same made of ops takes about ten, and one output
 * tensor in place of five), and a recorded backward made of ops for second order: with
 * x̂ and invstd recomputed from x, dβ = Σ dy, dγ = Σ dy·x̂, and per (image, group) with
 * g = γ·dy, dx = invstd·(g − mean(g) − x̂·mean(g·x̂)). */
#include "ops/ops_common.h"

static dgm_status group_norm_backward(dgm_ctx *ctx, dgm_node *n)
{
    dgm_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    float *gx = NULL, *gw = NULL, *gb = NULL, bx = 0;
    DGM_TRY(dgm_grad_target(ctx, x, &gx, &bx));
    /* The backend accumulates dgamma/dbeta (+=). */
    DGM_TRY(dgm_grad_target_zeroed(ctx, w, &gw));
    DGM_TRY(dgm_grad_target_zeroed(ctx, b, &gb));
    const int64_t batch = x->shape[0], c = x->shape[1], plane = x->numel / (batch * c);
    return ctx->be->group_norm_backward(ctx, batch, c, plane, n->i[0], x->data,
                                        w ? w->data : NULL, n->saved[0], n->saved[1],
                                        n->out->grad, bx, gx, gw, gb);
}

static dgm_status group_norm_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *g = NULL;
    const int64_t batch = x->shape[0], c = x->shape[1], plane = x->numel / (batch * c);
    const int64_t groups = n->i[0];
    const int64_t grouped[2] = {batch * groups, x->numel / (batch * groups)};
    const int64_t flat[2] = {batch, c * plane};
    if (dgm_autograd_wants(ctx, b)) {
        DGM_TRY(dgm_channel_sum_op(ctx, gy, batch, c, &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, b, g));
    }
    const bool wx = dgm_autograd_wants(ctx, x), ww = dgm_autograd_wants(ctx, w);
    if (!wx && !ww) return DGM_STATUS_OK;
    /* x̂ [N·G, L] and invstd [N·G, 1] from x, recorded: the statistics are functions of x. */
    dgm_tensor *xr = NULL, *mean = NULL, *xc = NULL, *sd = NULL, *xhat = NULL, *t = NULL;
    DGM_TRY(dgm_reshape(ctx, x, 2, grouped, &xr));
    DGM_TRY(dgm_mean(ctx, xr, DGM_AXIS_ROWS, &mean));
    DGM_TRY(dgm_sub(ctx, xr, mean, &xc));
    DGM_TRY(dgm_square(ctx, xc, &sd));
    DGM_TRY(dgm_mean(ctx, sd, DGM_AXIS_ROWS, &sd));
    DGM_TRY(dgm_scale(ctx, sd, 1.0f, n->f[0], &sd));
    DGM_TRY(dgm_sqrt(ctx, sd, &sd));
    DGM_TRY(dgm_div(ctx, xc, sd, &xhat));
    dgm_tensor *gyf = NULL, *xhf = NULL;
    DGM_TRY(dgm_reshape(ctx, gy, 2, flat, &gyf));
    DGM_TRY(dgm_reshape(ctx, xhat, 2, flat, &xhf));
    if (ww) {
        DGM_TRY(dgm_mul(ctx, gyf, xhf, &t));
        DGM_TRY(dgm_channel_sum_op(ctx, t, batch, c, &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, w, g));
    }
    if (!wx) return DGM_STATUS_OK;
    dgm_tensor *d = gyf, *m = NULL, *u = NULL;
    if (w) DGM_TRY(dgm_channel_affine_op(ctx, gyf, w, false, c, plane, &d));
    DGM_TRY(dgm_reshape(ctx, d, 2, grouped, &d));
    DGM_TRY(dgm_mean(ctx, d, DGM_AXIS_ROWS, &m));
    DGM_TRY(dgm_sub(ctx, d, m, &u));
    DGM_TRY(dgm_mul(ctx, d, xhat, &t));
    DGM_TRY(dgm_mean(ctx, t, DGM_AXIS_ROWS, &m));
    DGM_TRY(dgm_mul(ctx, xhat, m, &t));
    DGM_TRY(dgm_sub(ctx, u, t, &u));
    DGM_TRY(dgm_div(ctx, u, sd, &g));
    return dgm_autograd_accumulate(ctx, x, g);
}

static dgm_status check_channels(dgm_ctx *ctx, dgm_tensor *t, const char *arg, int64_t c)
{
    if (!t) return DGM_STATUS_OK;
    DGM_TRY(dgm_check_tensor(ctx, t, "group_norm", arg));
    if (t->numel == c) return DGM_STATUS_OK;
    char s[96];
    return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                         "group_norm: %s %s does not match %lld channels", arg,
                         dgm_shape_str(t, s, sizeof s), (long long)c);
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
    DGM_TRY(check_channels(ctx, weight, "weight", c));
    DGM_TRY(check_channels(ctx, bias, "bias", c));
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, x->ndim, x->shape, &y));
    float *stats = NULL;
    DGM_TRY(dgm_scratch(ctx, 2 * (size_t)(n * groups) * sizeof(float), (void **)&stats));
    DGM_TRY(ctx->be->group_norm_forward(ctx, n, c, plane, groups, eps, x->data,
                                        weight ? weight->data : NULL, bias ? bias->data : NULL,
                                        y->data, stats, stats + n * groups));
    dgm_tensor *in[3] = {x, weight, bias};
    if (dgm_tape_needed(ctx, in, 3)) {
        dgm_node *node = NULL;
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_GROUP_NORM, group_norm_backward,
                                group_norm_graph_backward, y, in, 3, &node));
        node->i[0] = groups;
        node->f[0] = eps;
        node->saved[0] = stats;
        node->saved[1] = stats + n * groups;
    }
    *out = y;
    return DGM_STATUS_OK;
}
