/* Fixed-step ODE solvers over a persistent state, and the change of variables (ode.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_impl.h"
#include "models/ode.h"
#include "models/score_matching.h"

static const char *const solver_names[] = {"euler", "heun", "rk4", "dopri5"};

int dgm_ode_solver_parse(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, solver_names[i])) return i;
    return -1;
}

const char *dgm_ode_solver_name(dgm_ode_solver solver)
{
    return solver >= DGM_ODE_EULER && solver <= DGM_ODE_DOPRI5 ? solver_names[solver] : "?";
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

/* Fixed steps; x persistent and updated in place, each step ended (xp NULL), or on the tape
 * (*xp: the end state). */
static dgm_status integrate_fixed(dgm_ctx *ctx, dgm_ode_solver solver, dgm_velocity_fn v, void *user,
                                  dgm_tensor *x, double t0, double t1, int64_t steps, dgm_tensor **xp)
{
    const double h = (t1 - t0) / (double)steps;
    dgm_tensor *state = x;
    for (int64_t i = 0; i < steps; i++) {
        const float t = (float)(t0 + h * (double)i);
        dgm_tensor *dx = NULL, *next = NULL;
        dgm_status st = direction(ctx, solver, v, user, state, t, (float)h, &dx);
        if (st == DGM_STATUS_OK) st = axpy(ctx, state, (float)h, dx, &next);
        if (xp) {
            DGM_TRY(st);
            state = next;
            continue;
        }
        if (st == DGM_STATUS_OK) st = dgm_tensor_copy(ctx, x, next);
        const dgm_status end = dgm_ctx_step_end(ctx);
        DGM_TRY(st);
        DGM_TRY(end);
    }
    if (xp) *xp = state;
    return DGM_STATUS_OK;
}

int64_t dgm_ode_fixed_nfe(dgm_ode_solver solver, int64_t steps)
{
    return steps * (solver == DGM_ODE_RK4 ? 4 : solver == DGM_ODE_HEUN ? 2 : 1);
}

static dgm_status solve(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user, dgm_tensor *x,
                        double t0, double t1, dgm_tensor **xp, int64_t *nfe)
{
    if (nfe) *nfe = 0;
    if (cfg->solver == DGM_ODE_DOPRI5)
        return xp ? dgm_ode_dopri5_taped(ctx, cfg, v, user, x, t0, t1, xp, nfe)
                  : dgm_ode_dopri5(ctx, cfg, v, user, x, t0, t1, nfe);
    if (cfg->solver < DGM_ODE_EULER || cfg->solver > DGM_ODE_DOPRI5 || cfg->steps < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "ode: unknown solver %d or %lld steps",
                             (int)cfg->solver, (long long)cfg->steps);
    DGM_TRY(integrate_fixed(ctx, cfg->solver, v, user, x, t0, t1, cfg->steps, xp));
    if (nfe) *nfe = dgm_ode_fixed_nfe(cfg->solver, cfg->steps);
    return DGM_STATUS_OK;
}

dgm_status dgm_ode_solve(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user,
                         dgm_tensor *x, double t0, double t1, int64_t *nfe)
{
    return solve(ctx, cfg, v, user, x, t0, t1, NULL, nfe);
}

dgm_status dgm_ode_solve_taped(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user,
                               dgm_tensor *x, double t0, double t1, dgm_tensor **out, int64_t *nfe)
{
    return solve(ctx, cfg, v, user, x, t0, t1, out, nfe);
}

dgm_status dgm_ode_integrate(dgm_ctx *ctx, dgm_ode_solver solver, dgm_velocity_fn v, void *user,
                             dgm_tensor *x, float t0, float t1, int64_t steps)
{
    const dgm_ode_config cfg = {.solver = solver, .steps = steps};
    return dgm_ode_solve(ctx, &cfg, v, user, x, t0, t1, NULL);
}

typedef struct augmented {
    dgm_velocity_fn v;
    void *user;
    dgm_ctx *ctx;
    int64_t d;
    int probes;
    dgm_tensor *eps; /* [probes·n, d] Rademacher, persistent (Hutchinson) */
    bool taped;      /* training: x stays on the tape and the divergence is differentiable */
    bool regularize; /* two more columns: ‖v‖² and ‖∂v/∂x‖_F² (RNODE) */
} augmented;

/* Adds r to *acc (NULL: takes it). */
static dgm_status accumulate(dgm_ctx *ctx, dgm_tensor **acc, dgm_tensor *r)
{
    if (!*acc) {
        *acc = r;
        return DGM_STATUS_OK;
    }
    return dgm_add(ctx, *acc, r, acc);
}

/* ‖g‖² of each row into *frob (regularizing only). */
static dgm_status add_squares(const augmented *a, dgm_tensor *g, dgm_tensor **frob)
{
    if (!a->regularize) return DGM_STATUS_OK;
    dgm_tensor *sq = NULL;
    DGM_TRY(dgm_square(a->ctx, g, &sq));
    DGM_TRY(dgm_sum(a->ctx, sq, DGM_AXIS_ROWS, &sq));
    return accumulate(a->ctx, frob, sq);
}

/* div v of each row [n, 1], exact: each ∂v_i/∂x_i read from one autograd pass of Σ_rows v_i
 * (its gradient is row i of each sample's Jacobian: their squares sum to ‖∂v/∂x‖_F²). */
static dgm_status exact_divergence(const augmented *a, dgm_tensor *x, dgm_tensor *v, dgm_tensor **div,
                                   dgm_tensor **frob)
{
    dgm_ctx *ctx = a->ctx;
    for (int64_t i = 0; i < a->d; i++) {
        dgm_tensor *vi = NULL, *s = NULL, *g = NULL, *gi = NULL;
        DGM_TRY(dgm_slice_cols(ctx, v, i, 1, &vi));
        DGM_TRY(dgm_sum(ctx, vi, DGM_AXIS_ALL, &s));
        DGM_TRY(dgm_autograd(ctx, s, NULL, 1, &x, a->taped, &g));
        DGM_TRY(dgm_slice_cols(ctx, g, i, 1, &gi));
        DGM_TRY(accumulate(ctx, div, gi));
        DGM_TRY(add_squares(a, g, frob));
    }
    return DGM_STATUS_OK;
}

/* The Hutchinson estimate: per probe ε, εᵀ∇ₓ(Σ_rows vᵀε) row by row, averaged (and ‖εᵀ∂v/∂x‖²,
 * the Frobenius norm's estimate). */
static dgm_status hutchinson_divergence(const augmented *a, dgm_tensor *x, dgm_tensor *v, dgm_tensor **div,
                                        dgm_tensor **frob)
{
    dgm_ctx *ctx = a->ctx;
    const int64_t n = dgm_tensor_dim(x, 0), shape[2] = {n, a->d};
    for (int p = 0; p < a->probes; p++) {
        dgm_tensor *e = NULL, *ve = NULL, *s = NULL, *g = NULL, *ge = NULL, *r = NULL;
        DGM_TRY(dgm_tensor_alloc_step(ctx, 2, shape, &e));
        DGM_TRY(ctx->be->copy_cols(ctx, n, a->d, (const float *)a->eps->data + (size_t)(p * n * a->d), a->d, 0.0f,
                                   e->data, a->d));
        DGM_TRY(dgm_mul(ctx, v, e, &ve));
        DGM_TRY(dgm_sum(ctx, ve, DGM_AXIS_ALL, &s));
        DGM_TRY(dgm_autograd(ctx, s, NULL, 1, &x, a->taped, &g));
        DGM_TRY(dgm_mul(ctx, g, e, &ge));
        DGM_TRY(dgm_sum(ctx, ge, DGM_AXIS_ROWS, &r));
        DGM_TRY(accumulate(ctx, div, r));
        DGM_TRY(add_squares(a, g, frob));
    }
    const float w = 1.0f / (float)a->probes;
    if (*frob) DGM_TRY(dgm_scale(ctx, *frob, w, 0.0f, frob));
    return dgm_scale(ctx, *div, w, 0.0f, div);
}

/* [v, div v (, ‖v‖², ‖∂v/∂x‖_F²)] of x at t. */
static dgm_status augmented_columns(const augmented *a, dgm_tensor *x, float t, dgm_tensor **out)
{
    dgm_ctx *ctx = a->ctx;
    dgm_tensor *v = NULL, *div = NULL, *frob = NULL, *kin = NULL;
    DGM_TRY(a->v(a->user, x, t, &v));
    DGM_TRY(a->probes > 0 ? hutchinson_divergence(a, x, v, &div, &frob) : exact_divergence(a, x, v, &div, &frob));
    if (!a->taped) dgm_ctx_set_grad_enabled(ctx, false);
    DGM_TRY(dgm_concat_cols(ctx, v, div, out));
    if (!a->regularize) return DGM_STATUS_OK;
    DGM_TRY(dgm_square(ctx, v, &kin));
    DGM_TRY(dgm_sum(ctx, kin, DGM_AXIS_ROWS, &kin));
    DGM_TRY(dgm_concat_cols(ctx, *out, kin, out));
    return dgm_concat_cols(ctx, *out, frob, out);
}

/* The augmented field over the state [x, L (, K, J)]. Evaluation: x copied off the tape and
 * marked for its gradient, the tape used for the divergence only. Training: x a slice of
 * the state on the tape, the divergence recorded for the parameters' backward. */
static dgm_status augmented_velocity(void *user, dgm_tensor *state, float t, dgm_tensor **out)
{
    augmented *a = user;
    dgm_ctx *ctx = a->ctx;
    if (a->taped) {
        dgm_tensor *x = NULL;
        DGM_TRY(dgm_slice_cols(ctx, state, 0, a->d, &x));
        return augmented_columns(a, x, t, out);
    }
    const int64_t n = dgm_tensor_dim(state, 0), shape[2] = {n, a->d}, width = dgm_tensor_dim(state, 1);
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, true);
    dgm_tensor *x = NULL;
    dgm_status st = dgm_tensor_alloc_step(ctx, 2, shape, &x);
    if (st == DGM_STATUS_OK) st = ctx->be->copy_cols(ctx, n, a->d, state->data, width, 0.0f, x->data, a->d);
    if (st == DGM_STATUS_OK) st = dgm_tensor_set_requires_grad(x, true);
    if (st == DGM_STATUS_OK) st = augmented_columns(a, x, t, out);
    dgm_ctx_set_grad_enabled(ctx, grad);
    return st;
}

/* log N(x; 0, std²·I) + L of each row of the final state [x, L, ...] (host, width w). */
static void prior_plus_trace(const float *host, int64_t n, int64_t d, int64_t w, double std, double *logp)
{
    const double log_norm = -0.5 * (double)d * (1.8378770664093454836 + 2.0 * log(std));
    for (int64_t r = 0; r < n; r++) {
        double sq = 0.0;
        for (int64_t k = 0; k < d; k++) sq += (double)host[r * w + k] * host[r * w + k];
        logp[r] = log_norm - 0.5 * sq / (std * std) + (double)host[r * w + d];
    }
}

static dgm_status check_density(dgm_ctx *ctx, const dgm_ode_density *cfg)
{
    if (cfg->probes < 0 || !(cfg->prior_std > 0.0))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "ode log density: probes %d, prior std %g",
                             cfg->probes, cfg->prior_std);
    return DGM_STATUS_OK;
}

/* The Hutchinson probes of one solve, persistent (none for the exact divergence). */
static dgm_status draw_probes(dgm_ctx *ctx, augmented *a, int64_t n)
{
    if (a->probes == 0) return DGM_STATUS_OK;
    dgm_tensor *e = NULL;
    DGM_TRY(dgm_ssm_projections(ctx, a->probes * n, a->d, true, &e));
    return dgm_persist(ctx, e, &a->eps);
}

dgm_status dgm_ode_log_density(dgm_ctx *ctx, const dgm_ode_density *cfg, dgm_velocity_fn v, void *user,
                               dgm_tensor *x, double *logp, int64_t *nfe)
{
    DGM_TRY(check_density(ctx, cfg));
    const int64_t n = dgm_tensor_dim(x, 0), d = dgm_tensor_dim(x, 1), shape[2] = {n, d + 1};
    augmented a = {v, user, ctx, d, cfg->probes, NULL, false, false};
    DGM_TRY(draw_probes(ctx, &a, n));
    dgm_tensor *state = NULL;
    dgm_status st = dgm_tensor_create(ctx, 2, shape, &state);
    float *host = malloc((size_t)(n * (d + 1)) * sizeof *host);
    if (st == DGM_STATUS_OK && !host) st = dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    if (st == DGM_STATUS_OK) st = ctx->be->fill(ctx, state->data, (size_t)(n * (d + 1)), 0.0f);
    if (st == DGM_STATUS_OK) st = ctx->be->copy_cols(ctx, n, d, x->data, d, 0.0f, state->data, d + 1);
    if (st == DGM_STATUS_OK) st = dgm_ode_solve(ctx, &cfg->ode, augmented_velocity, &a, state, cfg->t_data, cfg->t_prior, nfe);
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(ctx, state, host);
    if (st == DGM_STATUS_OK) st = ctx->be->copy_cols(ctx, n, d, state->data, d + 1, 0.0f, x->data, d);
    if (st == DGM_STATUS_OK) prior_plus_trace(host, n, d, d + 1, cfg->prior_std, logp);
    free(host);
    dgm_tensor_free(state);
    dgm_tensor_free(a.eps);
    return st;
}

dgm_status dgm_ode_log_density_taped(dgm_ctx *ctx, const dgm_ode_density *cfg, dgm_velocity_fn v, void *user,
                                     dgm_tensor *x, dgm_tensor **logp, dgm_tensor **reg, int64_t *nfe)
{
    DGM_TRY(check_density(ctx, cfg));
    if (!dgm_ctx_grad_enabled(ctx))
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR, "ode log density on the tape: grad mode is off");
    const int64_t n = dgm_tensor_dim(x, 0), d = dgm_tensor_dim(x, 1), extra = reg ? 3 : 1;
    const int64_t shape[2] = {n, extra};
    augmented a = {v, user, ctx, d, cfg->probes, NULL, true, reg != NULL};
    DGM_TRY(draw_probes(ctx, &a, n));
    dgm_tensor *zeros = NULL, *state = NULL, *end = NULL, *z = NULL, *l = NULL, *sq = NULL;
    dgm_status st = dgm_tensor_alloc_step(ctx, 2, shape, &zeros);
    if (st == DGM_STATUS_OK) st = ctx->be->fill(ctx, zeros->data, (size_t)(n * extra), 0.0f);
    if (st == DGM_STATUS_OK) st = dgm_concat_cols(ctx, x, zeros, &state);
    /* The start is a leaf the divergence differentiates through: it needs a gradient. */
    if (st == DGM_STATUS_OK && !dgm_tensor_requires_grad(state)) st = dgm_tensor_set_requires_grad(state, true);
    if (st == DGM_STATUS_OK)
        st = dgm_ode_solve_taped(ctx, &cfg->ode, augmented_velocity, &a, state, cfg->t_data, cfg->t_prior, &end, nfe);
    dgm_tensor_free(a.eps);
    DGM_TRY(st);
    /* log N(z; 0, std²·I) + L */
    const double std = cfg->prior_std;
    DGM_TRY(dgm_slice_cols(ctx, end, 0, d, &z));
    DGM_TRY(dgm_slice_cols(ctx, end, d, 1, &l));
    DGM_TRY(dgm_square(ctx, z, &sq));
    DGM_TRY(dgm_sum(ctx, sq, DGM_AXIS_ROWS, &sq));
    DGM_TRY(dgm_scale(ctx, sq, (float)(-0.5 / (std * std)), (float)(-0.5 * (double)d * (1.8378770664093454836 + 2.0 * log(std))), &sq));
    DGM_TRY(dgm_add(ctx, sq, l, logp));
    if (reg) DGM_TRY(dgm_slice_cols(ctx, end, d + 1, 2, reg));
    return DGM_STATUS_OK;
}
