/* Batched matrix ops over the leading dimension of 3-D tensors [B, R, C]: the product of
 * matching matrices and the transpose of each (the pieces of spatial self-attention and
 * of channel-last views of NCHW tensors). Both are linear in each input, and their
 * recorded backward is made of the same two ops. */
#include "ops/ops_common.h"

/* ---- transpose: y [B, C, R] = x [B, R, C] with each matrix transposed ---- */

static dgm_status transpose_backward(dgm_ctx *ctx, dgm_node *n)
{
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, n->in[0], &g, &beta));
    if (!g) return DGM_STATUS_OK;
    const dgm_tensor *y = n->out;
    /* y's gradient [B, C, R] transposed back. */
    return ctx->be->swap_axes(ctx, y->shape[0], y->shape[1], y->shape[2], 1, 1.0f, y->grad, beta,
                              g);
}

static dgm_status transpose_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *g = NULL;
    if (!dgm_autograd_wants(ctx, x)) return DGM_STATUS_OK;
    DGM_TRY(dgm_transpose(ctx, gy, &g));
    return dgm_autograd_accumulate(ctx, x, g);
}

dgm_status dgm_transpose(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "transpose", out));
    DGM_TRY(dgm_check_tensor(ctx, x, "transpose", "x"));
    const int64_t r = x->ndim >= 2 ? x->shape[x->ndim - 2] : 1, c = dgm_cols(x);
    const int64_t b = x->numel / (r * c), shape[3] = {b, c, r};
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, 3, shape, &y));
    DGM_TRY(ctx->be->swap_axes(ctx, b, r, c, 1, 1.0f, x->data, 0.0f, y->data));
    if (dgm_tape_needed(ctx, &x, 1))
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_TRANSPOSE, transpose_backward,
                                transpose_graph_backward, y, &x, 1, NULL));
    *out = y;
    return DGM_STATUS_OK;
}

/* ---- bmm: out[i] = op(a[i])·op(b[i]) ---- */

/* The matrices of t: [B, rows, cols] from its last two dims (a 2-D tensor is one). */
static void mats(const dgm_tensor *t, int64_t *b, int64_t *r, int64_t *c)
{
    *c = dgm_cols(t);
    *r = t->ndim >= 2 ? t->shape[t->ndim - 2] : 1;
    *b = t->numel / (*r * *c);
}

static dgm_status bmm_backward(dgm_ctx *ctx, dgm_node *n)
{
    dgm_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    const int ta = (int)n->i[0], tb = (int)n->i[1];
    int64_t batch, ar, ac, br, bc, m, nn;
    mats(a, &batch, &ar, &ac);
    mats(b, &batch, &br, &bc);
    mats(y, &batch, &m, &nn);
    const int64_t k = ta ? ar : ac;
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, a, &g, &beta));
    if (g) {
        if (!ta) /* dA = dY·op(B)^T */
            DGM_TRY(ctx->be->gemm_batched(ctx, 0, !tb, m, k, nn, 1.0f, y->grad, nn, m * nn,
                                          b->data, bc, br * bc, beta, g, ac, ar * ac, batch));
        else /* A is [K, M]: dA = op(B)·dY^T */
            DGM_TRY(ctx->be->gemm_batched(ctx, tb, 1, k, m, nn, 1.0f, b->data, bc, br * bc,
                                          y->grad, nn, m * nn, beta, g, ac, ar * ac, batch));
    }
    DGM_TRY(dgm_grad_target(ctx, b, &g, &beta));
    if (g) {
        if (!tb) /* dB = op(A)^T·dY */
            DGM_TRY(ctx->be->gemm_batched(ctx, !ta, 0, k, nn, m, 1.0f, a->data, ac, ar * ac,
                                          y->grad, nn, m * nn, beta, g, bc, br * bc, batch));
        else /* B is [N, K]: dB = dY^T·op(A) */
            DGM_TRY(ctx->be->gemm_batched(ctx, 1, ta, nn, k, m, 1.0f, y->grad, nn, m * nn,
                                          a->data, ac, ar * ac, beta, g, bc, br * bc, batch));
    }
    return DGM_STATUS_OK;
}

static dgm_status bmm_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *a = n->in[0], *b = n->in[1], *g = NULL;
    const bool ta = n->i[0], tb = n->i[1];
    if (dgm_autograd_wants(ctx, a)) {
        if (!ta) DGM_TRY(dgm_bmm(ctx, gy, false, b, !tb, &g));
        else DGM_TRY(dgm_bmm(ctx, b, tb, gy, true, &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, a, g));
    }
    if (dgm_autograd_wants(ctx, b)) {
        if (!tb) DGM_TRY(dgm_bmm(ctx, a, !ta, gy, false, &g));
        else DGM_TRY(dgm_bmm(ctx, gy, true, a, ta, &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, b, g));
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_bmm(dgm_ctx *ctx, dgm_tensor *a, bool transpose_a, dgm_tensor *b,
                   bool transpose_b, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "bmm", out));
    DGM_TRY(dgm_check_tensor(ctx, a, "bmm", "a"));
    DGM_TRY(dgm_check_tensor(ctx, b, "bmm", "b"));
    int64_t na, ar, ac, nb, br, bc;
    mats(a, &na, &ar, &ac);
    mats(b, &nb, &br, &bc);
    const int64_t m = transpose_a ? ac : ar, k = transpose_a ? ar : ac;
    const int64_t kb = transpose_b ? bc : br, n = transpose_b ? br : bc;
    if (na != nb || k != kb) {
        char sa[96], sb[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "bmm: a%s %s and b%s %s differ in batch (%lld, %lld) or inner "
                             "dimension (%lld, %lld)",
                             transpose_a ? "^T" : "", dgm_shape_str(a, sa, sizeof sa),
                             transpose_b ? "^T" : "", dgm_shape_str(b, sb, sizeof sb),
                             (long long)na, (long long)nb, (long long)k, (long long)kb);
    }
    const int64_t shape[3] = {na, m, n};
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, 3, shape, &y));
    DGM_TRY(ctx->be->gemm_batched(ctx, transpose_a, transpose_b, m, n, k, 1.0f, a->data, ac,
                                  ar * ac, b->data, bc, br * bc, 0.0f, y->data, n, m * n, na));
    dgm_tensor *in[2] = {a, b};
    if (dgm_tape_needed(ctx, in, 2)) {
        dgm_node *node = NULL;
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_BMM, bmm_backward, bmm_graph_backward, y, in, 2,
                                &node));
        node->i[0] = transpose_a;
        node->i[1] = transpose_b;
    }
    *out = y;
    return DGM_STATUS_OK;
}
