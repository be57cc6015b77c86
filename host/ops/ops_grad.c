/* Derivative ops: what the backward of an op computes, as ops with their own backward, so
 * that a gradient can be differentiated again (dgm_autograd with create_graph).
 *
 *   activation_grad   out = f'(x)·g        d/dg = f'(x)·dout,  d/dx = f''(x)·g·dout
 *   activation_grad2  out = f''(x)·g·dy    d/dx = f'''(x)·g·dy·dout, d/dg, d/ddy alike
 *                                          (dgm_backward only: no fourth derivatives)
 *   broadcast         out = alpha·bcast(x) d/dx = alpha·(dout summed over the copies)
 *
 * y = f(x) is kept as data: the formulas of f' and f'' use it (tanh' = 1 - y²); it is a
 * function of x, so f'' is the total derivative and y needs no gradient of its own. */
#include "ops/ops_common.h"

static const int axis_of_bcast[] = {-1, DGM_AXIS_COLS, DGM_AXIS_ROWS, DGM_AXIS_ALL};

/* ---- activation_grad2: out = f''(x)·g·dy ----
 * Its backward (what dgm_backward runs through a loss of a Hessian, e.g. sliced score
 * matching of an energy): d/dg = f''(x)·dy·dout, d/ddy = f''(x)·g·dout, d/dx =
 * f'''(x)·g·dy·dout. No recorded backward: fourth derivatives are not implemented. */

static dgm_status unary_grad2_backward(dgm_ctx *ctx, dgm_node *n)
{
    dgm_tensor *x = n->in[0], *g = n->in[1], *dy = n->in[2], *out = n->out;
    const int kind = (int)n->i[0];
    const float *y = n->saved[0];
    const size_t count = (size_t)out->numel;
    float *t = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, g, &t, &beta));
    if (t) DGM_TRY(ctx->be->unary_backward2(ctx, kind, n->f[0], n->f[1], count, x->data, y, dy->data, out->grad, beta, t));
    DGM_TRY(dgm_grad_target(ctx, dy, &t, &beta));
    if (t) DGM_TRY(ctx->be->unary_backward2(ctx, kind, n->f[0], n->f[1], count, x->data, y, g->data, out->grad, beta, t));
    DGM_TRY(dgm_grad_target(ctx, x, &t, &beta));
    if (!t) return DGM_STATUS_OK;
    float *gdy = NULL;
    DGM_TRY(dgm_scratch(ctx, count * sizeof *gdy, (void **)&gdy));
    DGM_TRY(ctx->be->binary(ctx, DGM_BINARY_MUL, dgm_rows(out), dgm_cols(out), g->data, DGM_BCAST_FULL, dy->data,
                            DGM_BCAST_FULL, gdy));
    return ctx->be->unary_backward3(ctx, kind, n->f[0], n->f[1], count, x->data, y, gdy, out->grad, beta, t);
}

static dgm_status unary_grad2_op(dgm_ctx *ctx, dgm_node *src, dgm_tensor *dy, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "activation_grad2", out));
    dgm_tensor *x = src->in[0], *g = src->in[1];
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, x->ndim, x->shape, &y));
    DGM_TRY(ctx->be->unary_backward2(ctx, (int)src->i[0], src->f[0], src->f[1],
                                     (size_t)x->numel, x->data, src->saved[0], g->data,
                                     dy->data, 0.0f, y->data));
    dgm_tensor *in[3] = {x, g, dy};
    if (dgm_tape_needed(ctx, in, 3)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_ACTIVATION_GRAD2, unary_grad2_backward, NULL, y, in, 3, &n));
        n->i[0] = src->i[0];
        n->f[0] = src->f[0];
        n->f[1] = src->f[1];
        n->saved[0] = src->saved[0]; /* f(x), which the derivatives' formulas read */
    }
    *out = y;
    return DGM_STATUS_OK;
}

/* ---- activation_grad: out = f'(x)·g ---- */

static dgm_status unary_grad_backward(dgm_ctx *ctx, dgm_node *n)
{
    dgm_tensor *x = n->in[0], *g = n->in[1], *out = n->out;
    const int kind = (int)n->i[0];
    const float *y = n->saved[0];
    float *t = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, g, &t, &beta));
    if (t)
        DGM_TRY(ctx->be->unary_backward(ctx, kind, n->f[0], n->f[1], (size_t)out->numel,
                                        x->data, y, out->grad, beta, t));
    if (!dgm_unary_has_curvature(kind)) return DGM_STATUS_OK;
    DGM_TRY(dgm_grad_target(ctx, x, &t, &beta));
    if (t)
        DGM_TRY(ctx->be->unary_backward2(ctx, kind, n->f[0], n->f[1], (size_t)out->numel,
                                         x->data, y, g->data, out->grad, beta, t));
    return DGM_STATUS_OK;
}

static dgm_status unary_grad_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *g = n->in[1];
    const int kind = (int)n->i[0];
    if (dgm_autograd_wants(ctx, g)) {
        dgm_tensor *dg = NULL;
        DGM_TRY(dgm_unary_grad_op(ctx, kind, n->f[0], n->f[1], x, n->saved[0], gy, &dg));
        DGM_TRY(dgm_autograd_accumulate(ctx, g, dg));
    }
    if (dgm_unary_has_curvature(kind) && dgm_autograd_wants(ctx, x)) {
        dgm_tensor *dx = NULL;
        DGM_TRY(unary_grad2_op(ctx, n, gy, &dx));
        DGM_TRY(dgm_autograd_accumulate(ctx, x, dx));
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_unary_grad_op(dgm_ctx *ctx, int kind, float pa, float pb, dgm_tensor *x,
                             const float *y, dgm_tensor *g, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "activation_grad", out));
    DGM_TRY(dgm_check_tensor(ctx, x, "activation_grad", "x"));
    DGM_TRY(dgm_check_tensor(ctx, g, "activation_grad", "g"));
    if (x->numel != g->numel) {
        char a[96], b[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "activation_grad: x %s and g %s differ in size",
                             dgm_shape_str(x, a, sizeof a), dgm_shape_str(g, b, sizeof b));
    }
    dgm_tensor *r = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, x->ndim, x->shape, &r));
    DGM_TRY(ctx->be->unary_backward(ctx, kind, pa, pb, (size_t)x->numel, x->data, y, g->data,
                                    0.0f, r->data));
    dgm_tensor *in[2] = {x, g};
    if (dgm_tape_needed(ctx, in, 2)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_ACTIVATION_GRAD, unary_grad_backward,
                                unary_grad_graph_backward, r, in, 2, &n));
        n->i[0] = kind;
        n->f[0] = pa;
        n->f[1] = pb;
        n->saved[0] = (void *)y;
    }
    *out = r;
    return DGM_STATUS_OK;
}

/* ---- broadcast: out = alpha·x repeated over the rows, the columns or everything ---- */

static dgm_status broadcast_backward(dgm_ctx *ctx, dgm_node *n)
{
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, n->in[0], &g, &beta));
    if (!g) return DGM_STATUS_OK;
    const int mode = (int)n->i[0];
    const int64_t rows = dgm_rows(n->out), cols = dgm_cols(n->out);
    if (mode == DGM_BCAST_FULL)
        return ctx->be->broadcast(ctx, DGM_BCAST_FULL, 1, n->out->numel, n->f[0], n->out->grad,
                                  beta, g);
    return ctx->be->reduce_sum(ctx, axis_of_bcast[mode], rows, cols, n->f[0], n->out->grad,
                               beta, g);
}

static dgm_status broadcast_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *g = gy;
    const int mode = (int)n->i[0];
    if (mode != DGM_BCAST_FULL) DGM_TRY(dgm_sum(ctx, gy, (dgm_axis)axis_of_bcast[mode], &g));
    if (n->f[0] != 1.0f) DGM_TRY(dgm_scale(ctx, g, n->f[0], 0.0f, &g));
    return dgm_autograd_accumulate(ctx, x, g);
}

dgm_status dgm_broadcast_op(dgm_ctx *ctx, dgm_tensor *x, int mode, int ndim,
                            const int64_t *shape, float alpha, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "broadcast", out));
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, ndim, shape, &y));
    DGM_TRY(ctx->be->broadcast(ctx, mode, dgm_rows(y), dgm_cols(y), alpha, x->data, 0.0f,
                               y->data));
    if (dgm_tape_needed(ctx, &x, 1)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_BROADCAST, broadcast_backward,
                                broadcast_graph_backward, y, &x, 1, &n));
        n->i[0] = mode;
        n->f[0] = alpha;
    }
    *out = y;
    return DGM_STATUS_OK;
}

dgm_status dgm_broadcast_to(dgm_ctx *ctx, dgm_tensor *x, int ndim, const int64_t *shape,
                            dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "broadcast", out));
    DGM_TRY(dgm_check_tensor(ctx, x, "broadcast", "x"));
    if (ndim < 1 || ndim > DGM_MAX_DIMS || !shape)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "broadcast: the target shape needs 1..%d dims", DGM_MAX_DIMS);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "broadcast: dimension %d of the target is %lld", i,
                                 (long long)shape[i]);
        numel *= shape[i];
    }
    const int64_t cols = shape[ndim - 1], rows = numel / cols;
    int mode = -1;
    if (x->numel == numel && dgm_cols(x) == cols) mode = DGM_BCAST_FULL;
    else if (x->numel == 1) mode = DGM_BCAST_SCALAR;
    else if (x->numel == cols && dgm_rows(x) == 1) mode = DGM_BCAST_ROW;
    else if (dgm_cols(x) == 1 && dgm_rows(x) == rows) mode = DGM_BCAST_COL;
    if (mode < 0) {
        char a[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "broadcast: x %s is not a row [%lld], a column [%lld, 1], a scalar "
                             "or the target's shape", dgm_shape_str(x, a, sizeof a),
                             (long long)cols, (long long)rows);
    }
    return dgm_broadcast_op(ctx, x, mode, ndim, shape, 1.0f, out);
}
