/* Random draws through the backend's cuRAND Philox4_32_10 generator (dgm_rng_draw in
 * host/core/rng_draw.c keeps the context's offset). */
#include "ops/ops_common.h"

static dgm_status draw(dgm_ctx *ctx, dgm_op op, bool normal, int ndim, const int64_t *shape,
                       float scale, float shift, dgm_tensor **out)
{
    const char *name = dgm_op_name(op);
    DGM_TRY(dgm_op_begin(ctx, name, out));
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, ndim, shape, &y));
    DGM_TRY(dgm_rng_draw(ctx, normal, y->data, (size_t)y->numel));
    if (scale != 1.0f || shift != 0.0f)
        DGM_TRY(ctx->be->unary(ctx, DGM_UNARY_AFFINE, scale, shift, (size_t)y->numel, y->data,
                               y->data));
    *out = y;
    return DGM_STATUS_OK;
}

dgm_status dgm_rand_normal(dgm_ctx *ctx, int ndim, const int64_t *shape, float mean, float std,
                           dgm_tensor **out)
{
    return draw(ctx, DGM_OP_RAND_NORMAL, true, ndim, shape, std, mean, out);
}

dgm_status dgm_rand_uniform(dgm_ctx *ctx, int ndim, const int64_t *shape, float low, float high,
                            dgm_tensor **out)
{
    return draw(ctx, DGM_OP_RAND_UNIFORM, false, ndim, shape, high - low, low, out);
}

dgm_status dgm_bernoulli(dgm_ctx *ctx, dgm_tensor *probs, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "bernoulli", out));
    DGM_TRY(dgm_check_tensor(ctx, probs, "bernoulli", "probs"));
    dgm_tensor *u = NULL;
    DGM_TRY(draw(ctx, DGM_OP_RAND_UNIFORM, false, probs->ndim, probs->shape, 1.0f, 0.0f, &u));
    /* u in (0, 1]: P(u < p) = p; the comparison records no gradient. */
    return dgm_binary_op(ctx, DGM_OP_BERNOULLI, DGM_BINARY_LESS, u, probs, out);
}
