/* Random draws through the backend's cuRAND Philox4_32_10 generator. cuRAND's normal
 * generator wants an even count, so odd requests draw one extra value into scratch;
 * the context counts every value drawn (its offset), for checkpoints. */
#include "ops/ops_common.h"

dgm_status dgm_rng_draw(dgm_ctx *ctx, bool normal, float *dst, size_t n)
{
    if (n == 0) return DGM_STATUS_OK;
    if (!normal) {
        DGM_TRY(ctx->be->rng_uniform(ctx, dst, n));
        ctx->rng_offset += n;
        return DGM_STATUS_OK;
    }
    if (n % 2 == 0) {
        DGM_TRY(ctx->be->rng_normal(ctx, dst, n));
    } else {
        float *tmp = NULL;
        DGM_TRY(dgm_scratch(ctx, (n + 1) * sizeof(float), (void **)&tmp));
        DGM_TRY(ctx->be->rng_normal(ctx, tmp, n + 1));
        DGM_TRY(ctx->be->copy(ctx, dst, tmp, n * sizeof(float), DGM_COPY_DEVICE_TO_DEVICE));
        n++;
    }
    ctx->rng_offset += n;
    return DGM_STATUS_OK;
}

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
