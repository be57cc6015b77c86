/* Reductions: sum and mean over all, rows or columns; logsumexp per row.
 * Backward of a sum broadcasts dy back over the reduced axis (scaled by 1/n for a mean);
 * of logsumexp it is dy·softmax(x). */
#include "ops/ops_common.h"

static const int bcast_of_axis[] = {DGM_BCAST_SCALAR, DGM_BCAST_COL, DGM_BCAST_ROW};

static dgm_status sum_backward(dgm_ctx *ctx, dgm_node *n)
{
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, n->in[0], &g, &beta));
    if (!g) return DGM_STATUS_OK;
    dgm_tensor *x = n->in[0];
    return ctx->be->broadcast(ctx, bcast_of_axis[n->i[0]], dgm_rows(x), dgm_cols(x), n->f[0],
                              n->out->grad, beta, g);
}

/* Recorded: dx = alpha·dy broadcast back over the reduced axis. */
static dgm_status sum_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *g = NULL;
    if (!dgm_autograd_wants(ctx, x)) return DGM_STATUS_OK;
    DGM_TRY(dgm_broadcast_op(ctx, gy, bcast_of_axis[n->i[0]], x->ndim, x->shape, n->f[0], &g));
    return dgm_autograd_accumulate(ctx, x, g);
}

static dgm_status reduce(dgm_ctx *ctx, dgm_op op, dgm_tensor *x, dgm_axis axis, dgm_tensor **out)
{
    const char *name = dgm_op_name(op);
    DGM_TRY(dgm_op_begin(ctx, name, out));
    DGM_TRY(dgm_check_tensor(ctx, x, name, "x"));
    if ((unsigned)axis > DGM_AXIS_COLS)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: unknown axis %d", name, (int)axis);
    const int64_t rows = dgm_rows(x), cols = dgm_cols(x);
    int64_t shape[2] = {1, 1};
    int ndim = 2;
    int64_t count = x->numel;
    if (axis == DGM_AXIS_ALL) ndim = 1;
    else if (axis == DGM_AXIS_ROWS) { shape[0] = rows; count = cols; }
    else { shape[1] = cols; count = rows; }
    const float alpha = op == DGM_OP_MEAN ? 1.0f / (float)count : 1.0f;
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, ndim, shape, &y));
    DGM_TRY(ctx->be->reduce_sum(ctx, axis, rows, cols, alpha, x->data, 0.0f, y->data));
    if (dgm_tape_needed(ctx, &x, 1)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, op, sum_backward, sum_graph_backward, y, &x, 1, &n));
        n->i[0] = axis;
        n->f[0] = alpha;
    }
    *out = y;
    return DGM_STATUS_OK;
}

dgm_status dgm_sum(dgm_ctx *ctx, dgm_tensor *x, dgm_axis axis, dgm_tensor **out)
{
    return reduce(ctx, DGM_OP_SUM, x, axis, out);
}

dgm_status dgm_mean(dgm_ctx *ctx, dgm_tensor *x, dgm_axis axis, dgm_tensor **out)
{
    return reduce(ctx, DGM_OP_MEAN, x, axis, out);
}

static dgm_status logsumexp_backward(dgm_ctx *ctx, dgm_node *n)
{
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, n->in[0], &g, &beta));
    if (!g) return DGM_STATUS_OK;
    dgm_tensor *x = n->in[0];
    return ctx->be->logsumexp_rows_backward(ctx, dgm_rows(x), dgm_cols(x), x->data,
                                            n->out->data, n->out->grad, beta, g);
}

/* Recorded: dx = exp(x - y)·dy with y and dy [R, 1] broadcast across the columns. */
static dgm_status logsumexp_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *t = NULL;
    if (!dgm_autograd_wants(ctx, x)) return DGM_STATUS_OK;
    DGM_TRY(dgm_sub(ctx, x, n->out, &t));
    DGM_TRY(dgm_exp(ctx, t, &t));
    DGM_TRY(dgm_mul(ctx, t, gy, &t));
    return dgm_autograd_accumulate(ctx, x, t);
}

dgm_status dgm_logsumexp_rows(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "logsumexp", out));
    DGM_TRY(dgm_check_tensor(ctx, x, "logsumexp", "x"));
    const int64_t shape[2] = {dgm_rows(x), 1};
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, 2, shape, &y));
    DGM_TRY(ctx->be->logsumexp_rows(ctx, dgm_rows(x), dgm_cols(x), x->data, y->data));
    if (dgm_tape_needed(ctx, &x, 1))
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_LOGSUMEXP, logsumexp_backward,
                                logsumexp_graph_backward, y, &x, 1, NULL));
    *out = y;
    return DGM_STATUS_OK;
}
