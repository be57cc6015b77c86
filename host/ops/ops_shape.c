/* Column concat and slice. Backward copies (accumulating) the matching columns of dy
 * back into each input's gradient. */
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
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_CONCAT, concat_backward, y, in, 2, NULL));
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
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_SLICE, slice_backward, y, &x, 1, &n));
        n->i[0] = start;
        n->i[1] = count;
    }
    *out = y;
    return DGM_STATUS_OK;
}
