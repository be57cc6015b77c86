/* ActNorm (Glow): a per-column affine map y = (x + bias)·exp(logs), initialized from the
 * data so that a first batch comes out standardized (see dgm/flow.h). */
#include <stdio.h>
#include <stdlib.h>

#include "dgm/flow.h"
#include "nn/nn_internal.h"

struct dgm_actnorm {
    dgm_params *params; /* borrowed */
    int bias_index, logs_index;
    int64_t dim;
};

dgm_status dgm_actnorm_create(dgm_params *p, const char *prefix, int64_t dim, dgm_actnorm **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (!out || !prefix || dim < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_actnorm_create: prefix and out must not be NULL, dim >= 1");
    *out = NULL;
    dgm_actnorm *a = calloc(1, sizeof *a);
    if (!a) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_actnorm_create: out of host memory");
    a->params = p;
    a->dim = dim;
    const int64_t shape[1] = {dim};
    const dgm_init zeros = {DGM_INIT_ZEROS, 0.0f, 0.0f};
    char name[DGM_NN_NAME_MAX];
    snprintf(name, sizeof name, "%s.bias", prefix);
    a->bias_index = dgm_params_count(p);
    dgm_status st = dgm_params_add(p, name, 1, shape, zeros);
    if (st == DGM_STATUS_OK) {
        snprintf(name, sizeof name, "%s.logs", prefix);
        a->logs_index = dgm_params_count(p);
        st = dgm_params_add(p, name, 1, shape, zeros);
    }
    if (st != DGM_STATUS_OK) {
        free(a);
        return st;
    }
    *out = a;
    return DGM_STATUS_OK;
}

void dgm_actnorm_free(dgm_actnorm *a) { free(a); }

static dgm_status check_input(dgm_ctx *ctx, const dgm_actnorm *a, dgm_tensor *x, const char *fn)
{
    return dgm_nn_check_flow_input(ctx, a, a ? a->params : NULL, a ? a->dim : 0, x, fn);
}

static dgm_status init_data(dgm_ctx *ctx, const dgm_actnorm *a, dgm_tensor *x)
{
    dgm_tensor *mean = NULL, *d = NULL, *var = NULL, *logs = NULL;
    DGM_TRY(dgm_mean(ctx, x, DGM_AXIS_COLS, &mean));
    DGM_TRY(dgm_sub(ctx, x, mean, &d));
    DGM_TRY(dgm_square(ctx, d, &d));
    DGM_TRY(dgm_mean(ctx, d, DGM_AXIS_COLS, &var));
    DGM_TRY(dgm_sqrt(ctx, var, &var));
    DGM_TRY(dgm_scale(ctx, var, 1.0f, 1e-6f, &var));
    DGM_TRY(dgm_log(ctx, var, &logs));
    DGM_TRY(dgm_scale(ctx, logs, -1.0f, 0.0f, &logs));
    DGM_TRY(dgm_scale(ctx, mean, -1.0f, 0.0f, &mean));
    DGM_TRY(dgm_tensor_copy(ctx, dgm_params_at(a->params, a->bias_index), mean));
    return dgm_tensor_copy(ctx, dgm_params_at(a->params, a->logs_index), logs);
}

dgm_status dgm_actnorm_init_data(dgm_ctx *ctx, const dgm_actnorm *a, dgm_tensor *x)
{
    DGM_TRY(check_input(ctx, a, x, "dgm_actnorm_init_data"));
    if (dgm_tensor_dim(x, 0) < 2)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_actnorm_init_data: needs a batch of at least 2 rows");
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    dgm_status st = init_data(ctx, a, x);
    dgm_ctx_set_grad_enabled(ctx, grad);
    return st;
}

dgm_status dgm_actnorm_forward(dgm_ctx *ctx, const dgm_actnorm *a, dgm_tensor *x, dgm_tensor **y,
                               dgm_tensor **logdet)
{
    DGM_TRY(check_input(ctx, a, x, "dgm_actnorm_forward"));
    dgm_tensor *bias = dgm_params_at(a->params, a->bias_index);
    dgm_tensor *logs = dgm_params_at(a->params, a->logs_index), *e = NULL, *ld = NULL;
    DGM_TRY(dgm_add(ctx, x, bias, y));
    DGM_TRY(dgm_exp(ctx, logs, &e));
    DGM_TRY(dgm_mul(ctx, *y, e, y));
    DGM_TRY(dgm_sum(ctx, logs, DGM_AXIS_ALL, &ld)); /* [1]: the same for every row */
    const int64_t shape[2] = {dgm_tensor_dim(x, 0), 1};
    return dgm_broadcast_to(ctx, ld, 2, shape, logdet);
}

dgm_status dgm_actnorm_inverse(dgm_ctx *ctx, const dgm_actnorm *a, dgm_tensor *y, dgm_tensor **x)
{
    DGM_TRY(check_input(ctx, a, y, "dgm_actnorm_inverse"));
    dgm_tensor *bias = dgm_params_at(a->params, a->bias_index);
    dgm_tensor *logs = dgm_params_at(a->params, a->logs_index), *e = NULL;
    DGM_TRY(dgm_scale(ctx, logs, -1.0f, 0.0f, &e));
    DGM_TRY(dgm_exp(ctx, e, &e));
    DGM_TRY(dgm_mul(ctx, y, e, x));
    return dgm_sub(ctx, *x, bias, x);
}
