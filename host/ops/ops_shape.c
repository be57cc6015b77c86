/* Column concat and slice, and reshape. Backward copies (accumulating) the matching
 * columns of dy back into each input's gradient; recorded, concat's is two slices and
 * slice's a concat with zero columns. */
#include "ops/ops_common.h"

static dgm_status concat_backward(dgm_ctx *ctx, dgm_node *n)
{
    const int64_t rows = dgm_rows(n->out), cols = dgm_cols(n->out);
    int64_t offset = 0;
    for (int i = 0; i < 2; i++) {
        dgm_tensor *t = n->in[i];
        float *g = NULL, beta = 0;
        DGM_TRY(dgm_grad_target(ctx, t, &g, &beta));
        if (g)
            DGM_TRY(ctx->be->copy_cols(ctx, rows, dgm_cols(t), n->out->grad + offset, cols, beta,
                                       g, dgm_cols(t)));
        offset += dgm_cols(t);
    }
    return DGM_STATUS_OK;
}

static dgm_status concat_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    const int64_t ca = dgm_cols(n->in[0]);
    for (int i = 0; i < 2; i++) {
        dgm_tensor *t = n->in[i], *g = NULL;
        if (!dgm_autograd_wants(ctx, t)) continue;
        DGM_TRY(dgm_slice_cols(ctx, gy, i ? ca : 0, dgm_cols(t), &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, t, g));
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_concat_cols(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "concat", out));
    DGM_TRY(dgm_check_tensor(ctx, a, "concat", "a"));
    DGM_TRY(dgm_check_tensor(ctx, b, "concat", "b"));
    const int64_t rows = dgm_rows(a), ca = dgm_cols(a), cb = dgm_cols(b);
    if (dgm_rows(b) != rows) {
        char sa[96], sb[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "concat: a %s and b %s have different numbers of rows",
                             dgm_shape_str(a, sa, sizeof sa), dgm_shape_str(b, sb, sizeof sb));
    }
    const int64_t shape[2] = {rows, ca + cb};
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, 2, shape, &y));
    DGM_TRY(ctx->be->copy_cols(ctx, rows, ca, a->data, ca, 0.0f, y->data, ca + cb));
    DGM_TRY(ctx->be->copy_cols(ctx, rows, cb, b->data, cb, 0.0f, y->data + ca, ca + cb));
    dgm_tensor *in[2] = {a, b};
    if (dgm_tape_needed(ctx, in, 2))
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_CONCAT, concat_backward, concat_graph_backward, y,
                                in, 2, NULL));
    *out = y;
    return DGM_STATUS_OK;
}

static dgm_status slice_backward(dgm_ctx *ctx, dgm_node *n)
{
    dgm_tensor *x = n->in[0];
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, x, &g, &beta));
    if (!g) return DGM_STATUS_OK;
    const int64_t rows = dgm_rows(x), cols = dgm_cols(x), start = n->i[0], count = n->i[1];
    /* Columns outside the slice get zero gradient: with beta 0 they must be written. */
    if (beta == 0.0f) DGM_TRY(ctx->be->fill(ctx, g, (size_t)x->numel, 0.0f));
    return ctx->be->copy_cols(ctx, rows, count, n->out->grad, count, 1.0f, g + start, cols);
}

/* [rows, cols] of zeros, a constant. */
static dgm_status zeros(dgm_ctx *ctx, int64_t rows, int64_t cols, dgm_tensor **out)
{
    const int64_t shape[2] = {rows, cols};
    DGM_TRY(dgm_tensor_alloc_step(ctx, 2, shape, out));
    return ctx->be->fill(ctx, (*out)->data, (size_t)(rows * cols), 0.0f);
}

static dgm_status slice_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *g = gy, *z = NULL;
    if (!dgm_autograd_wants(ctx, x)) return DGM_STATUS_OK;
    const int64_t rows = dgm_rows(x), start = n->i[0], rest = dgm_cols(x) - start - n->i[1];
    if (start > 0) {
        DGM_TRY(zeros(ctx, rows, start, &z));
        DGM_TRY(dgm_concat_cols(ctx, z, g, &g));
    }
    if (rest > 0) {
        DGM_TRY(zeros(ctx, rows, rest, &z));
        DGM_TRY(dgm_concat_cols(ctx, g, z, &g));
    }
    return dgm_autograd_accumulate(ctx, x, g);
}

dgm_status dgm_slice_cols(dgm_ctx *ctx, dgm_tensor *x, int64_t start, int64_t count,
                          dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "slice", out));
    DGM_TRY(dgm_check_tensor(ctx, x, "slice", "x"));
    const int64_t rows = dgm_rows(x), cols = dgm_cols(x);
    if (start < 0 || count < 1 || start > cols || count > cols - start) {
        char s[96];
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "slice: %lld columns from %lld are not inside x %s", (long long)count,
                             (long long)start, dgm_shape_str(x, s, sizeof s));
    }
    const int64_t shape[2] = {rows, count};
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, 2, shape, &y));
    DGM_TRY(ctx->be->copy_cols(ctx, rows, count, x->data + start, cols, 0.0f, y->data, count));
    if (dgm_tape_needed(ctx, &x, 1)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_SLICE, slice_backward, slice_graph_backward, y, &x,
                                1, &n));
        n->i[0] = start;
        n->i[1] = count;
    }
    *out = y;
    return DGM_STATUS_OK;
}

/* ---- reshape: a view of the same data; the gradient is dy with x's shape ---- */

static dgm_status reshape_backward(dgm_ctx *ctx, dgm_node *n)
{
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, n->in[0], &g, &beta));
    if (!g) return DGM_STATUS_OK;
    return ctx->be->broadcast(ctx, DGM_BCAST_FULL, 1, n->out->numel, 1.0f, n->out->grad, beta, g);
}

static dgm_status reshape_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    return dgm_autograd_accumulate(ctx, n->in[0], gy); /* reshapes to x's shape */
}

dgm_status dgm_reshape(dgm_ctx *ctx, dgm_tensor *t, int ndim, const int64_t *shape,
                       dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "dgm_reshape", out));
    DGM_TRY(dgm_check_tensor(ctx, t, "dgm_reshape", "t"));
    dgm_tensor *r = NULL;
    DGM_TRY(dgm_tensor_wrap_step(ctx, ndim, shape, t->data, &r));
    if (r->numel != t->numel) {
        char a[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "dgm_reshape: %s has %lld elements, the new shape %lld",
                             dgm_shape_str(t, a, sizeof a), (long long)t->numel,
                             (long long)r->numel);
    }
    if (dgm_tape_needed(ctx, &t, 1))
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_RESHAPE, reshape_backward, reshape_graph_backward, r,
                                &t, 1, NULL));
    *out = r;
    return DGM_STATUS_OK;
}
