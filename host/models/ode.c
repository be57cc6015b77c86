/* Fixed-step ODE solvers over a persistent state (see ode.h). */
#include <stdlib.h>
#include <string.h>

#include "models/model_impl.h"
#include "models/ode.h"

int dgm_ode_solver_parse(const char *name)
{
    static const char *const names[] = {"euler", "heun", "rk4"};
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

dgm_status dgm_column_of(dgm_ctx *ctx, int64_t n, float value, dgm_tensor **out)
{
    const int64_t shape[2] = {n, 1};
    DGM_TRY(dgm_tensor_alloc_step(ctx, 2, shape, out));
    return ctx->be->fill(ctx, (*out)->data, (size_t)n, value);
}

dgm_status dgm_persist(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out)
{
    const int64_t shape[2] = {dgm_tensor_dim(x, 0), dgm_tensor_dim(x, 1)};
    DGM_TRY(dgm_tensor_create(ctx, 2, shape, out));
    const dgm_status st = dgm_tensor_copy(ctx, *out, x);
    if (st != DGM_STATUS_OK) {
        dgm_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

dgm_status dgm_unpersist(dgm_ctx *ctx, dgm_tensor *p, dgm_tensor **out)
{
    const int64_t shape[2] = {dgm_tensor_dim(p, 0), dgm_tensor_dim(p, 1)};
    DGM_TRY(dgm_tensor_alloc_step(ctx, 2, shape, out));
    return dgm_tensor_copy(ctx, *out, p);
}

/* x + a·k (step tensors). */
static dgm_status axpy(dgm_ctx *ctx, dgm_tensor *x, float a, dgm_tensor *k, dgm_tensor **out)
{
    dgm_tensor *s = NULL;
    DGM_TRY(dgm_scale(ctx, k, a, 0.0f, &s));
    return dgm_add(ctx, x, s, out);
}

/* One step of size h from (x, t): the increment's direction into *dx (x_next = x + h·dx). */
static dgm_status direction(dgm_ctx *ctx, dgm_ode_solver solver, dgm_velocity_fn v, void *user,
                            dgm_tensor *x, float t, float h, dgm_tensor **dx)
{
    dgm_tensor *k1 = NULL, *k2 = NULL, *k3 = NULL, *k4 = NULL, *y = NULL, *sum = NULL;
    DGM_TRY(v(user, x, t, &k1));
    if (solver == DGM_ODE_EULER) {
        *dx = k1;
        return DGM_STATUS_OK;
    }
    if (solver == DGM_ODE_HEUN) { /* the trapezoid of the two ends */
        DGM_TRY(axpy(ctx, x, h, k1, &y));
        DGM_TRY(v(user, y, t + h, &k2));
        DGM_TRY(dgm_add(ctx, k1, k2, &sum));
        return dgm_scale(ctx, sum, 0.5f, 0.0f, dx);
    }
    DGM_TRY(axpy(ctx, x, 0.5f * h, k1, &y));
    DGM_TRY(v(user, y, t + 0.5f * h, &k2));
    DGM_TRY(axpy(ctx, x, 0.5f * h, k2, &y));
    DGM_TRY(v(user, y, t + 0.5f * h, &k3));
    DGM_TRY(axpy(ctx, x, h, k3, &y));
    DGM_TRY(v(user, y, t + h, &k4));
    DGM_TRY(axpy(ctx, k1, 2.0f, k2, &sum)); /* (k1 + 2k2 + 2k3 + k4)/6 */
    DGM_TRY(axpy(ctx, sum, 2.0f, k3, &sum));
    DGM_TRY(dgm_add(ctx, sum, k4, &sum));
    return dgm_scale(ctx, sum, 1.0f / 6.0f, 0.0f, dx);
}

typedef struct augmented {
    dgm_velocity_fn v;
    void *user;
    dgm_ctx *ctx;
    int64_t d;
} augmented;

/* [x, L] -> [v(x, t), div v(x, t)]: x copied off the tape, marked for its gradient, and
 * each ∂v_i/∂x_i read from one autograd pass of Σ_rows v_i. */
static dgm_status augmented_velocity(void *user, dgm_tensor *state, float t, dgm_tensor **out)
{
    augmented *a = user;
    dgm_ctx *ctx = a->ctx;
    const int64_t n = dgm_tensor_dim(state, 0), shape[2] = {n, a->d};
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, true);
    dgm_tensor *x = NULL, *v = NULL, *div = NULL;
    dgm_status st = dgm_tensor_alloc_step(ctx, 2, shape, &x);
    if (st == DGM_STATUS_OK)
        st = ctx->be->copy_cols(ctx, n, a->d, state->data, a->d + 1, 0.0f, x->data, a->d);
    if (st == DGM_STATUS_OK) st = dgm_tensor_set_requires_grad(x, true);
    if (st == DGM_STATUS_OK) st = a->v(a->user, x, t, &v);
    for (int64_t i = 0; st == DGM_STATUS_OK && i < a->d; i++) {
        dgm_tensor *vi = NULL, *s = NULL, *g = NULL, *gi = NULL;
        st = dgm_slice_cols(ctx, v, i, 1, &vi);
        if (st == DGM_STATUS_OK) st = dgm_sum(ctx, vi, DGM_AXIS_ALL, &s);
        if (st == DGM_STATUS_OK) st = dgm_autograd(ctx, s, NULL, 1, &x, false, &g);
        if (st == DGM_STATUS_OK) st = dgm_slice_cols(ctx, g, i, 1, &gi);
        if (st == DGM_STATUS_OK) st = div ? dgm_add(ctx, div, gi, &div) : (div = gi, DGM_STATUS_OK);
    }
    dgm_ctx_set_grad_enabled(ctx, false);
    if (st == DGM_STATUS_OK) st = dgm_concat_cols(ctx, v, div, out);
    dgm_ctx_set_grad_enabled(ctx, grad);
    return st;
}

dgm_status dgm_ode_log_density(dgm_ctx *ctx, dgm_ode_solver solver, dgm_velocity_fn v, void *user,
                               dgm_tensor *x, int64_t steps, double *logp)
{
    const int64_t n = dgm_tensor_dim(x, 0), d = dgm_tensor_dim(x, 1), shape[2] = {n, d + 1};
    dgm_tensor *state = NULL;
    DGM_TRY(dgm_tensor_create(ctx, 2, shape, &state));
    float *host = malloc((size_t)(n * (d + 1)) * sizeof *host);
    dgm_status st = host ? ctx->be->fill(ctx, state->data, (size_t)(n * (d + 1)), 0.0f)
                         : dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    if (st == DGM_STATUS_OK) st = ctx->be->copy_cols(ctx, n, d, x->data, d, 0.0f, state->data, d + 1);
    augmented a = {v, user, ctx, d};
    if (st == DGM_STATUS_OK) st = dgm_ode_integrate(ctx, solver, augmented_velocity, &a, state, 1.0f, 0.0f, steps);
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(ctx, state, host);
    if (st == DGM_STATUS_OK) st = ctx->be->copy_cols(ctx, n, d, state->data, d + 1, 0.0f, x->data, d);
    for (int64_t r = 0; st == DGM_STATUS_OK && r < n; r++) {
        double sq = 0.0;
        for (int64_t k = 0; k < d; k++) sq += (double)host[r * (d + 1) + k] * host[r * (d + 1) + k];
        logp[r] = -0.5 * sq - 0.5 * (double)d * 1.8378770664093454836 + (double)host[r * (d + 1) + d];
    }
    free(host);
    dgm_tensor_free(state);
    return st;
}

dgm_status dgm_ode_integrate(dgm_ctx *ctx, dgm_ode_solver solver, dgm_velocity_fn v, void *user,
                             dgm_tensor *x, float t0, float t1, int64_t steps)
{
    const double h = ((double)t1 - (double)t0) / (double)steps;
    for (int64_t i = 0; i < steps; i++) {
        const float t = (float)((double)t0 + h * (double)i);
        dgm_tensor *dx = NULL, *next = NULL;
        dgm_status st = direction(ctx, solver, v, user, x, t, (float)h, &dx);
        if (st == DGM_STATUS_OK) st = axpy(ctx, x, (float)h, dx, &next);
        if (st == DGM_STATUS_OK) st = dgm_tensor_copy(ctx, x, next);
        const dgm_status end = dgm_ctx_step_end(ctx);
        DGM_TRY(st);
        DGM_TRY(end);
    }
    return DGM_STATUS_OK;
}
