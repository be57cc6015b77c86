/* Layers with their own kernels: maxout, batch norm, dropout. */
#include <stdlib.h>

#include "ops/ops_common.h"

/* ---- maxout: y = max over groups of k columns; dx gets dy at each group's argmax ---- */

static dgm_status maxout_backward(dgm_ctx *ctx, dgm_node *n)
{
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, n->in[0], &g, &beta));
    if (!g) return DGM_STATUS_OK;
    return ctx->be->maxout_backward(ctx, dgm_rows(n->out), dgm_cols(n->out), (int)n->i[0],
                                    n->saved[0], n->out->grad, beta, g);
}

/* Recorded: dx = (dy·E)⊙M with E [C, C·k] the 0/1 matrix that repeats each column k
 * times and M = scatter(ones) the one-hot mask of the maxima (constants: the argmax is
 * piecewise constant in x), so the gradient is differentiable in dy. Without recording,
 * the scatter kernel. */
static dgm_status maxout_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *g = NULL;
    if (!dgm_autograd_wants(ctx, x)) return DGM_STATUS_OK;
    const int64_t rows = dgm_rows(gy), cols = dgm_cols(gy), k = n->i[0];
    const int64_t xshape[2] = {rows, cols * k};
    if (!dgm_tape_needed(ctx, &gy, 1)) {
        DGM_TRY(dgm_tensor_alloc_step(ctx, 2, xshape, &g));
        DGM_TRY(ctx->be->maxout_backward(ctx, rows, cols, (int)k, n->saved[0], gy->data, 0.0f,
                                         g->data));
        return dgm_autograd_accumulate(ctx, x, g);
    }
    dgm_tensor *ones = NULL, *mask = NULL, *e = NULL, *rep = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, gy->ndim, gy->shape, &ones));
    DGM_TRY(ctx->be->fill(ctx, ones->data, (size_t)ones->numel, 1.0f));
    DGM_TRY(dgm_tensor_alloc_step(ctx, 2, xshape, &mask));
    DGM_TRY(ctx->be->maxout_backward(ctx, rows, cols, (int)k, n->saved[0], ones->data, 0.0f,
                                     mask->data));
    /* E: row j holds ones in columns j·k .. j·k+k-1 (made on the host: C·C·k floats). */
    const int64_t eshape[2] = {cols, cols * k};
    float *host = calloc((size_t)(cols * cols * k), sizeof(float));
    if (!host)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "maxout: out of host memory for [%lld, %lld]",
                             (long long)cols, (long long)(cols * k));
    for (int64_t j = 0; j < cols; j++)
        for (int64_t i = 0; i < k; i++) host[j * cols * k + j * k + i] = 1.0f;
    dgm_status st = dgm_tensor_alloc_step(ctx, 2, eshape, &e);
    if (st == DGM_STATUS_OK)
        st = ctx->be->copy(ctx, e->data, host, (size_t)e->numel * sizeof(float),
                           DGM_COPY_HOST_TO_DEVICE);
    free(host);
    DGM_TRY(st);
    DGM_TRY(dgm_matmul(ctx, gy, false, e, false, NULL, DGM_ACT_NONE, 0.0f, &rep));
    DGM_TRY(dgm_mul(ctx, rep, mask, &g));
    return dgm_autograd_accumulate(ctx, x, g);
}

dgm_status dgm_maxout(dgm_ctx *ctx, dgm_tensor *x, int k, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "maxout", out));
    DGM_TRY(dgm_check_tensor(ctx, x, "maxout", "x"));
    if (k < 1 || dgm_cols(x) % k != 0) {
        char s[96];
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "maxout: %lld columns of x %s are not groups of k = %d",
                             (long long)dgm_cols(x), dgm_shape_str(x, s, sizeof s), k);
    }
    const int64_t shape[2] = {dgm_rows(x), dgm_cols(x) / k};
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, 2, shape, &y));
    int32_t *arg = NULL;
    DGM_TRY(dgm_scratch(ctx, (size_t)y->numel * sizeof(int32_t), (void **)&arg));
    DGM_TRY(ctx->be->maxout(ctx, shape[0], shape[1], k, x->data, y->data, arg));
    if (dgm_tape_needed(ctx, &x, 1)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_MAXOUT, maxout_backward, maxout_graph_backward, y,
                                &x, 1, &n));
        n->i[0] = k;
        n->saved[0] = arg;
    }
    *out = y;
    return DGM_STATUS_OK;
}

/* ---- batch norm (PyTorch BatchNorm1d over the rows) ---- */

static dgm_status batchnorm_backward(dgm_ctx *ctx, dgm_node *n)
{
    dgm_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    float *gx = NULL, *gw = NULL, *gb = NULL, bx = 0;
    DGM_TRY(dgm_grad_target(ctx, x, &gx, &bx));
    /* The backend accumulates dgamma/dbeta (+=). */
    DGM_TRY(dgm_grad_target_zeroed(ctx, w, &gw));
    DGM_TRY(dgm_grad_target_zeroed(ctx, b, &gb));
    return ctx->be->batchnorm_backward(ctx, (int)n->i[0], dgm_rows(x), dgm_cols(x), x->data,
                                       w ? w->data : NULL, n->saved[0], n->saved[1],
                                       n->out->grad, bx, gx, gw, gb);
}

/* The normalized input xhat [R, C] and invstd [1, C] as tensors: recomputed with recorded
 * ops from x in training (the batch statistics are functions of x), constants from the
 * saved running statistics in eval. */
static dgm_status batchnorm_xhat(dgm_ctx *ctx, dgm_node *n, dgm_tensor **xhat,
                                 dgm_tensor **invstd)
{
    dgm_tensor *x = n->in[0], *mean = NULL, *xc = NULL, *t = NULL;
    const int64_t cols = dgm_cols(x), shape[2] = {1, cols};
    if (n->i[0]) {
        DGM_TRY(dgm_mean(ctx, x, DGM_AXIS_COLS, &mean));
        DGM_TRY(dgm_sub(ctx, x, mean, &xc));
        DGM_TRY(dgm_square(ctx, xc, &t));
        DGM_TRY(dgm_mean(ctx, t, DGM_AXIS_COLS, &t)); /* biased variance, as the forward */
        DGM_TRY(dgm_scale(ctx, t, 1.0f, n->f[0], &t));
        DGM_TRY(dgm_log(ctx, t, &t));
        DGM_TRY(dgm_scale(ctx, t, -0.5f, 0.0f, &t));
        DGM_TRY(dgm_exp(ctx, t, invstd)); /* (var + eps)^-1/2 */
    } else {
        DGM_TRY(dgm_tensor_wrap_step(ctx, 2, shape, n->saved[0], &mean));
        DGM_TRY(dgm_tensor_wrap_step(ctx, 2, shape, n->saved[1], invstd));
        DGM_TRY(dgm_sub(ctx, x, mean, &xc));
    }
    return dgm_mul(ctx, xc, *invstd, xhat);
}

/* Recorded: dbeta = sum(dy), dgamma = sum(dy·xhat), and with dxhat = gamma·dy,
 * dx = invstd·(dxhat - mean(dxhat) - xhat·mean(dxhat·xhat)) in training (the batch
 * terms), invstd·dxhat in eval. */
static dgm_status batchnorm_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *g = NULL;
    const bool wx = dgm_autograd_wants(ctx, x), ww = dgm_autograd_wants(ctx, w);
    if (dgm_autograd_wants(ctx, b)) {
        DGM_TRY(dgm_sum(ctx, gy, DGM_AXIS_COLS, &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, b, g));
    }
    if (!wx && !ww) return DGM_STATUS_OK;
    dgm_tensor *xhat = NULL, *invstd = NULL, *t = NULL, *m = NULL;
    DGM_TRY(batchnorm_xhat(ctx, n, &xhat, &invstd));
    if (ww) {
        DGM_TRY(dgm_mul(ctx, gy, xhat, &t));
        DGM_TRY(dgm_sum(ctx, t, DGM_AXIS_COLS, &g));
        DGM_TRY(dgm_autograd_accumulate(ctx, w, g));
    }
    if (!wx) return DGM_STATUS_OK;
    dgm_tensor *dxhat = gy;
    if (w) DGM_TRY(dgm_mul(ctx, gy, w, &dxhat));
    if (n->i[0]) {
        DGM_TRY(dgm_mean(ctx, dxhat, DGM_AXIS_COLS, &m));
        DGM_TRY(dgm_sub(ctx, dxhat, m, &g));
        DGM_TRY(dgm_mul(ctx, dxhat, xhat, &t));
        DGM_TRY(dgm_mean(ctx, t, DGM_AXIS_COLS, &m));
        DGM_TRY(dgm_mul(ctx, xhat, m, &t));
        DGM_TRY(dgm_sub(ctx, g, t, &dxhat));
    }
    DGM_TRY(dgm_mul(ctx, dxhat, invstd, &g));
    return dgm_autograd_accumulate(ctx, x, g);
}

static dgm_status check_vector(dgm_ctx *ctx, dgm_tensor *t, int64_t cols, const char *arg,
                               const dgm_tensor *x)
{
    if (!t) return DGM_STATUS_OK;
    DGM_TRY(dgm_check_tensor(ctx, t, "batchnorm", arg));
    if (t->numel != cols) {
        char s[96], sx[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "batchnorm: %s %s does not match the %lld columns of x %s", arg,
                             dgm_shape_str(t, s, sizeof s), (long long)cols,
                             dgm_shape_str(x, sx, sizeof sx));
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_batchnorm(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *weight, dgm_tensor *bias,
                         dgm_tensor *running_mean, dgm_tensor *running_var, bool training,
                         float momentum, float eps, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "batchnorm", out));
    DGM_TRY(dgm_check_tensor(ctx, x, "batchnorm", "x"));
    const int64_t rows = dgm_rows(x), cols = dgm_cols(x);
    DGM_TRY(check_vector(ctx, weight, cols, "weight", x));
    DGM_TRY(check_vector(ctx, bias, cols, "bias", x));
    DGM_TRY(check_vector(ctx, running_mean, cols, "running_mean", x));
    DGM_TRY(check_vector(ctx, running_var, cols, "running_var", x));
    if (!(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "batchnorm: eps %g must be > 0 and momentum %g in [0, 1]",
                             (double)eps, (double)momentum);
    if (!training && (!running_mean || !running_var))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "batchnorm: eval mode needs running_mean and running_var");
    if (training && rows < 2)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "batchnorm: training needs more than one row per column (got %lld)",
                             (long long)rows);
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, x->ndim, x->shape, &y));
    float *stats = NULL;
    DGM_TRY(dgm_scratch(ctx, 2 * (size_t)cols * sizeof(float), (void **)&stats));
    DGM_TRY(ctx->be->batchnorm_forward(ctx, training, rows, cols, eps, momentum, x->data,
                                       weight ? weight->data : NULL, bias ? bias->data : NULL,
                                       running_mean ? running_mean->data : NULL,
                                       running_var ? running_var->data : NULL, y->data, stats,
                                       stats + cols));
    dgm_tensor *in[3] = {x, weight, bias};
    if (dgm_tape_needed(ctx, in, 3)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, DGM_OP_BATCHNORM, batchnorm_backward,
                                batchnorm_graph_backward, y, in, 3, &n));
        n->i[0] = training;
        n->f[0] = eps;
        n->saved[0] = stats;
        n->saved[1] = stats + cols;
    }
    *out = y;
    return DGM_STATUS_OK;
}

/* ---- dropout: y = x·mask, mask = (u > p)/(1-p) from uniform u ---- */

dgm_status dgm_dropout(dgm_ctx *ctx, dgm_tensor *x, float p, bool training, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "dropout", out));
    DGM_TRY(dgm_check_tensor(ctx, x, "dropout", "x"));
    if (!(p >= 0.0f && p < 1.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dropout: p = %g is not in [0, 1)", (double)p);
    if (!training || p == 0.0f) {
        *out = x;
        return DGM_STATUS_OK;
    }
    dgm_tensor *mask = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, x->ndim, x->shape, &mask));
    DGM_TRY(dgm_rng_draw(ctx, false, mask->data, (size_t)mask->numel));
    DGM_TRY(ctx->be->unary(ctx, DGM_UNARY_DROPOUT_MASK, p, 0.0f, (size_t)mask->numel,
                           mask->data, mask->data));
    return dgm_binary_op(ctx, DGM_OP_DROPOUT, DGM_BINARY_MUL, x, mask, out);
}
