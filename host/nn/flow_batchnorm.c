/* Batch normalization as a flow layer (see dgm/flow.h): the statistics are ops on the tape,
 * so in training the gradient flows through the batch's mean and variance as PyTorch's
 * does; the running statistics are moved with grad mode off. */
#include <stdio.h>
#include <stdlib.h>

#include "dgm/flow.h"
#include "nn/nn_internal.h"

struct dgm_flow_batchnorm {
    dgm_params *params; /* borrowed */
    int64_t dim;
    float momentum, eps;
    int index; /* log_gamma, beta, running_mean, running_var */
};

dgm_status dgm_flow_batchnorm_create(dgm_params *p, const char *prefix, int64_t dim, float momentum, float eps,
                                     dgm_flow_batchnorm **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (!out || !prefix)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_flow_batchnorm_create: prefix and out must not be NULL");
    *out = NULL;
    if (dim < 1 || !(momentum >= 0.0f && momentum <= 1.0f) || !(eps > 0.0f && eps < 1.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_flow_batchnorm_create: dim %lld (>= 1), momentum %g ([0, 1]), eps %g ((0, 1))",
                             (long long)dim, (double)momentum, (double)eps);
    dgm_flow_batchnorm *b = calloc(1, sizeof *b);
    if (!b) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_flow_batchnorm_create: out of host memory");
    *b = (dgm_flow_batchnorm){p, dim, momentum, eps, dgm_params_count(p)};
    static const char *const names[4] = {"log_gamma", "beta", "running_mean", "running_var"};
    dgm_status st = DGM_STATUS_OK;
    for (int i = 0; i < 4 && st == DGM_STATUS_OK; i++) {
        char name[DGM_NN_NAME_MAX + 16];
        snprintf(name, sizeof name, "%s.%s", prefix, names[i]);
        const dgm_init init = {i == 3 ? DGM_INIT_ONES : DGM_INIT_ZEROS, 0.0f, 0.0f};
        st = i < 2 ? dgm_params_add(p, name, 1, &dim, init) : dgm_params_add_buffer(p, name, 1, &dim, init);
    }
    if (st != DGM_STATUS_OK) {
        free(b);
        return st;
    }
    *out = b;
    return DGM_STATUS_OK;
}

void dgm_flow_batchnorm_free(dgm_flow_batchnorm *b) { free(b); }

static dgm_tensor *at(const dgm_flow_batchnorm *b, int i) { return dgm_params_at(b->params, b->index + i); }

/* running ← (1 − momentum)·running + momentum·batch, batch [1, D]; nothing recorded. */
static dgm_status update_running(dgm_ctx *ctx, const dgm_flow_batchnorm *b, float momentum, dgm_tensor *running,
                                 dgm_tensor *batch)
{
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    dgm_tensor *r = NULL, *s = NULL;
    dgm_status st = dgm_scale(ctx, running, 1.0f - momentum, 0.0f, &r);
    if (st == DGM_STATUS_OK) st = dgm_reshape(ctx, batch, 1, &b->dim, &s);
    if (st == DGM_STATUS_OK) st = dgm_scale(ctx, s, momentum, 0.0f, &s);
    if (st == DGM_STATUS_OK) st = dgm_add(ctx, r, s, &r);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy(ctx, running, r);
    dgm_ctx_set_grad_enabled(ctx, grad);
    return st;
}

/* The batch's mean and biased variance [1, D] (recorded when grad mode is on). */
static dgm_status batch_moments(dgm_ctx *ctx, dgm_tensor *x, const char *fn, dgm_tensor **mean, dgm_tensor **var)
{
    if (dgm_tensor_dim(x, 0) < 2) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: needs 2 or more rows", fn);
    dgm_tensor *c = NULL;
    DGM_TRY(dgm_mean(ctx, x, DGM_AXIS_COLS, mean));
    DGM_TRY(dgm_sub(ctx, x, *mean, &c));
    DGM_TRY(dgm_square(ctx, c, &c));
    return dgm_mean(ctx, c, DGM_AXIS_COLS, var);
}

/* The statistics this pass uses: mean and var + eps. */
static dgm_status statistics(dgm_ctx *ctx, const dgm_flow_batchnorm *b, dgm_tensor *x, bool training,
                             dgm_tensor **mean, dgm_tensor **var_eps)
{
    if (!training) {
        *mean = at(b, 2);
        return dgm_scale(ctx, at(b, 3), 1.0f, b->eps, var_eps);
    }
    dgm_tensor *var = NULL;
    DGM_TRY(batch_moments(ctx, x, "dgm_flow_batchnorm_forward in training", mean, &var));
    if (b->momentum > 0.0f) {
        DGM_TRY(update_running(ctx, b, b->momentum, at(b, 2), *mean));
        DGM_TRY(update_running(ctx, b, b->momentum, at(b, 3), var));
    }
    return dgm_scale(ctx, var, 1.0f, b->eps, var_eps);
}

dgm_status dgm_flow_batchnorm_set_statistics(dgm_ctx *ctx, const dgm_flow_batchnorm *b, dgm_tensor *x)
{
    DGM_TRY(dgm_nn_check_flow_input(ctx, b, b ? b->params : NULL, b ? b->dim : 0, x, "dgm_flow_batchnorm_set_statistics"));
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    dgm_tensor *mean = NULL, *var = NULL;
    dgm_status st = batch_moments(ctx, x, "dgm_flow_batchnorm_set_statistics", &mean, &var);
    if (st == DGM_STATUS_OK) st = update_running(ctx, b, 1.0f, at(b, 2), mean);
    if (st == DGM_STATUS_OK) st = update_running(ctx, b, 1.0f, at(b, 3), var);
    dgm_ctx_set_grad_enabled(ctx, grad);
    return st;
}

dgm_status dgm_flow_batchnorm_forward(dgm_ctx *ctx, const dgm_flow_batchnorm *b, dgm_tensor *x, bool training,
                                      dgm_tensor **y, dgm_tensor **logdet)
{
    DGM_TRY(dgm_nn_check_flow_input(ctx, b, b ? b->params : NULL, b ? b->dim : 0, x, "dgm_flow_batchnorm_forward"));
    if (!y || !logdet)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_flow_batchnorm_forward: y and logdet must not be NULL");
    dgm_tensor *mean = NULL, *ve = NULL, *lv = NULL, *ls = NULL, *e = NULL, *c = NULL, *s = NULL;
    DGM_TRY(statistics(ctx, b, x, training, &mean, &ve));
    DGM_TRY(dgm_log(ctx, ve, &lv));
    DGM_TRY(dgm_scale(ctx, lv, -0.5f, 0.0f, &lv));
    DGM_TRY(dgm_add(ctx, at(b, 0), lv, &ls)); /* log_gamma − ½·log(var + eps), per column */
    DGM_TRY(dgm_exp(ctx, ls, &e));
    DGM_TRY(dgm_sub(ctx, x, mean, &c));
    DGM_TRY(dgm_mul(ctx, c, e, &c));
    DGM_TRY(dgm_add(ctx, c, at(b, 1), y));
    DGM_TRY(dgm_sum(ctx, ls, DGM_AXIS_ALL, &s));
    const int64_t shape[2] = {dgm_tensor_dim(x, 0), 1};
    DGM_TRY(dgm_reshape(ctx, s, 2, (const int64_t[2]){1, 1}, &s));
    return dgm_broadcast_to(ctx, s, 2, shape, logdet);
}

dgm_status dgm_flow_batchnorm_inverse(dgm_ctx *ctx, const dgm_flow_batchnorm *b, dgm_tensor *y, dgm_tensor **x)
{
    DGM_TRY(dgm_nn_check_flow_input(ctx, b, b ? b->params : NULL, b ? b->dim : 0, y, "dgm_flow_batchnorm_inverse"));
    if (!x) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_flow_batchnorm_inverse: x must not be NULL");
    dgm_tensor *ve = NULL, *lv = NULL, *ls = NULL, *e = NULL, *c = NULL;
    DGM_TRY(dgm_scale(ctx, at(b, 3), 1.0f, b->eps, &ve));
    DGM_TRY(dgm_log(ctx, ve, &lv));
    DGM_TRY(dgm_scale(ctx, lv, 0.5f, 0.0f, &lv));
    DGM_TRY(dgm_sub(ctx, lv, at(b, 0), &ls)); /* ½·log(var + eps) − log_gamma */
    DGM_TRY(dgm_exp(ctx, ls, &e));
    DGM_TRY(dgm_sub(ctx, y, at(b, 1), &c));
    DGM_TRY(dgm_mul(ctx, c, e, &c));
    return dgm_add(ctx, c, at(b, 2), x);
}
