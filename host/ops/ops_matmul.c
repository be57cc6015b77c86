/* out = act(op(a)·op(b) + bias).
 * Forward: z = the bias in every row, one GEMM accumulated onto it (the pre-activation),
 * then act.
 * Backward: dz = act'(z)·dy; d op(a) = dz·op(b)^T, d op(b) = op(a)^T·dz, dbias = column
 * sums of dz; each GEMM accumulates straight into the gradient (beta 0 or 1). */
#include "ops/ops_common.h"

static dgm_status matmul_backward(dgm_ctx *ctx, dgm_node *n)
{
    dgm_tensor *a = n->in[0], *b = n->in[1], *bias = n->in[2], *y = n->out;
    const bool ta = n->i[0], tb = n->i[1];
    const int act = (int)n->i[2];
    const int64_t m = dgm_rows(y), nn = dgm_cols(y), k = n->i[3];
    const float *z = n->saved[0] ? (const float *)n->saved[0] : y->data;
    const int64_t lda = dgm_cols(a), ldb = dgm_cols(b);
    const dgm_backend *be = ctx->be;

    const float *dz = y->grad;
    if (act != DGM_ACT_NONE) {
        float *tmp = NULL;
        DGM_TRY(dgm_scratch(ctx, (size_t)y->numel * sizeof(float), (void **)&tmp));
        DGM_TRY(be->unary_backward(ctx, act, n->f[0], 0.0f, (size_t)y->numel, z, y->data,
                                   y->grad, 0.0f, tmp));
        dz = tmp;
    }
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, bias, &g, &beta));
    if (g) DGM_TRY(be->reduce_sum(ctx, DGM_AXIS_COLS, m, nn, 1.0f, dz, beta, g));

    DGM_TRY(dgm_grad_target(ctx, a, &g, &beta));
    if (g) {
        if (!ta) /* dA[M,K] = dZ[M,N]·op(B)^T */
            DGM_TRY(be->gemm(ctx, 0, !tb, m, k, nn, 1.0f, dz, nn, b->data, ldb, beta, g, lda));
        else /* A is [K,M]: dA = op(B)·dZ^T */
            DGM_TRY(be->gemm(ctx, tb, 1, k, m, nn, 1.0f, b->data, ldb, dz, nn, beta, g, lda));
    }
    DGM_TRY(dgm_grad_target(ctx, b, &g, &beta));
    if (g) {
        if (!tb) /* dB[K,N] = op(A)^T·dZ */
            DGM_TRY(be->gemm(ctx, !ta, 0, k, nn, m, 1.0f, a->data, lda, dz, nn, beta, g, ldb));
        else /* B is [N,K]: dB = dZ^T·op(A) */
            DGM_TRY(be->gemm(ctx, 1, ta, nn, k, m, 1.0f, dz, nn, a->data, lda, beta, g, ldb));
    }
    return DGM_STATUS_OK;
}

static dgm_status matmul_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy);

/* The pre-activation z of a fused matmul as a tensor (its saved data) on the tape, as the
 * output of the same product without activation, so that gradients through act'(z) reach
 * a, b and bias when differentiated again. */
static dgm_status preactivation(dgm_ctx *ctx, dgm_node *n, dgm_tensor **z)
{
    dgm_tensor *y = n->out;
    DGM_TRY(dgm_tensor_wrap_step(ctx, y->ndim, y->shape, n->saved[0], z));
    dgm_tensor *in[3] = {n->in[0], n->in[1], n->in[2]};
    if (!dgm_tape_needed(ctx, in, 3)) return DGM_STATUS_OK;
    dgm_node *zn = NULL;
    DGM_TRY(dgm_tape_record(ctx, DGM_OP_MATMUL, matmul_backward, matmul_graph_backward, *z, in,
                            3, &zn));
    zn->i[0] = n->i[0];
    zn->i[1] = n->i[1];
    zn->i[2] = DGM_ACT_NONE;
    zn->i[3] = n->i[3];
    return DGM_STATUS_OK;
}

/* Recorded: dz = act'(z)·dy (an activation_grad op), then the same products as above as
 * dgm_matmul calls and the bias gradient as a column sum. */
static dgm_status matmul_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *a = n->in[0], *b = n->in[1], *bias = n->in[2], *g = NULL;
    const bool ta = n->i[0], tb = n->i[1];
    const int act = (int)n->i[2];
    const bool wa = dgm_autograd_wants(ctx, a), wb = dgm_autograd_wants(ctx, b);
    const bool wbias = dgm_autograd_wants(ctx, bias);
    if (!wa && !wb && !wbias) return DGM_STATUS_OK;
    dgm_tensor *dz = gy;
    if (act != DGM_ACT_NONE) {
        dgm_tensor *z = NULL;
        DGM_TRY(preactivation(ctx, n, &z));
        DGM_TRY(dgm_unary_grad_op(ctx, act, n->f[0], 0.0f, z, n->out->data, gy, &dz));
    }
    if (wbias) {
        DGM_TRY(dgm_sum(ctx, dz, DGM_AXIS_COLS, &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, bias, g));
    }
    if (wa) {
        if (!ta) /* dA = dZ·op(B)^T */
            DGM_TRY(dgm_matmul(ctx, dz, false, b, !tb, NULL, DGM_ACT_NONE, 0.0f, &g));
        else /* A is [K,M]: dA = op(B)·dZ^T */
            DGM_TRY(dgm_matmul(ctx, b, tb, dz, true, NULL, DGM_ACT_NONE, 0.0f, &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, a, g));
    }
    if (wb) {
        if (!tb) /* dB = op(A)^T·dZ */
            DGM_TRY(dgm_matmul(ctx, a, !ta, dz, false, NULL, DGM_ACT_NONE, 0.0f, &g));
        else /* B is [N,K]: dB = dZ^T·op(A) */
            DGM_TRY(dgm_matmul(ctx, dz, true, a, ta, NULL, DGM_ACT_NONE, 0.0f, &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, b, g));
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_matmul(dgm_ctx *ctx, dgm_tensor *a, bool transpose_a, dgm_tensor *b,
                      bool transpose_b, dgm_tensor *bias, dgm_activation act, float alpha,
                      dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "matmul", out));
    DGM_TRY(dgm_check_tensor(ctx, a, "matmul", "a"));
    DGM_TRY(dgm_check_tensor(ctx, b, "matmul", "b"));
    if (bias) DGM_TRY(dgm_check_tensor(ctx, bias, "matmul", "bias"));
    if ((unsigned)act >= DGM_ACT_COUNT)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "matmul: unknown activation %d",
                             (int)act);
    const int64_t m = transpose_a ? dgm_cols(a) : dgm_rows(a);
    const int64_t k = transpose_a ? dgm_rows(a) : dgm_cols(a);
    const int64_t kb = transpose_b ? dgm_cols(b) : dgm_rows(b);
    const int64_t n = transpose_b ? dgm_rows(b) : dgm_cols(b);
    char sa[96], sb[96], sc[96];
    if (k != kb)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "matmul: a%s %s and b%s %s: inner dimensions %lld and %lld differ",
                             transpose_a ? "^T" : "", dgm_shape_str(a, sa, sizeof sa),
                             transpose_b ? "^T" : "", dgm_shape_str(b, sb, sizeof sb),
                             (long long)k, (long long)kb);
    if (bias && bias->numel != n)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "matmul: bias %s does not match the %lld output columns of "
                             "a %s · b %s",
                             dgm_shape_str(bias, sc, sizeof sc), (long long)n,
                             dgm_shape_str(a, sa, sizeof sa), dgm_shape_str(b, sb, sizeof sb));
    const int64_t shape[2] = {m, n};
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, 2, shape, &y));
    dgm_tensor *in[3] = {a, b, bias};
    const bool record = dgm_tape_needed(ctx, in, 3);
    /* The backward of a nonlinear activation needs z; keep it apart from y then. */
    float *z = y->data;
    if (act != DGM_ACT_NONE && record)
        DGM_TRY(dgm_scratch(ctx, (size_t)(m * n) * sizeof(float), (void **)&z));
    const dgm_backend *be = ctx->be;
    /* With a bias, z starts as the bias in every row and the product accumulates onto it
     * (beta 1), as PyTorch's addmm does: one pass over z fewer than a product into zeros
     * and the bias added after. */
    if (bias)
        DGM_TRY(be->broadcast(ctx, DGM_BCAST_ROW, m, n, 1.0f, bias->data, 0.0f, z));
    DGM_TRY(be->gemm(ctx, transpose_a, transpose_b, m, n, k, 1.0f, a->data, dgm_cols(a),
                     b->data, dgm_cols(b), bias ? 1.0f : 0.0f, z, n));
    if (act != DGM_ACT_NONE)
        DGM_TRY(be->unary(ctx, (int)act, alpha, 0.0f, (size_t)(m * n), z, y->data));
    if (record) {
        dgm_node *node = NULL;
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_MATMUL, matmul_backward, matmul_graph_backward, y,
                                in, 3, &node));
        node->i[0] = transpose_a;
        node->i[1] = transpose_b;
        node->i[2] = act;
        node->i[3] = k;
        node->f[0] = alpha;
        node->saved[0] = act != DGM_ACT_NONE ? z : NULL;
    }
    *out = y;
    return DGM_STATUS_OK;
}
