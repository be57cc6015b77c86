/* The adaptive Dormand–Prince 5(4) solver (Dormand & Prince 1980; Hairer, Nørsett & Wanner,
 * "Solving ODEs I", II.4–II.5): seven stages, the fifth-order solution taken (local
 * extrapolation), the embedded fourth-order one only for the error estimate, and the last
 * stage reused as the next step's first (FSAL), so an accepted step costs six evaluations.
 * The step size follows scipy's RK45 (solve_ivp): the initial step from Hairer's
 * heuristic, then h·min(10, max(0.2, 0.9·err^(−1/5))) after each step, never growing
 * right after a rejection. The error norm is the RMS over every value of the batch of
 * err/(atol + rtol·max(|x|, |x_new|)): the batch is one system with one step size. */
#include <math.h>
#include <stdlib.h>

#include "models/model_impl.h"
#include "models/ode.h"

#define STAGES 7

static const double c[STAGES] = {0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0};
static const double a[STAGES][STAGES - 1] = {
    {0},
    {1.0 / 5.0},
    {3.0 / 40.0, 9.0 / 40.0},
    {44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0},
    {19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0},
    {9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0},
    {35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0},
};
/* The fifth-order weights minus the fourth-order ones (the error estimate's). */
static const double e[STAGES] = {71.0 / 57600.0,     0.0,           -71.0 / 16695.0, 71.0 / 1920.0,
                                 -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0};

typedef struct solver {
    dgm_ctx *ctx;
    dgm_velocity_fn v;
    void *user;
    double rtol, atol;
    size_t count;
    float *hy, *hn, *he; /* host copies: x, the candidate, the error */
    int64_t nfe;
    bool taped; /* the steps stay on the tape (training through the solver): no step ends */
} solver;

/* y + h·Σ w_i·k_i over the nonzero weights (step tensors). */
static dgm_status combine(dgm_ctx *ctx, dgm_tensor *y, double h, const double *w, dgm_tensor *const *k, int n,
                          dgm_tensor **out)
{
    dgm_tensor *acc = y;
    for (int i = 0; i < n; i++) {
        if (w[i] == 0.0) continue;
        dgm_tensor *s = NULL;
        DGM_TRY(dgm_scale(ctx, k[i], (float)(h * w[i]), 0.0f, &s));
        DGM_TRY(acc ? dgm_add(ctx, acc, s, &acc) : (acc = s, DGM_STATUS_OK));
    }
    *out = acc;
    return DGM_STATUS_OK;
}

static dgm_status eval(solver *s, dgm_tensor *x, double t, dgm_tensor **out)
{
    s->nfe++;
    return s->v(s->user, x, (float)t, out);
}

/* RMS of a/(atol + rtol·max(|y|, |b|)) over every value (b NULL: |y| alone). */
static double scaled_rms(const solver *s, const float *av, const float *y, const float *b)
{
    double sum = 0.0;
    for (size_t i = 0; i < s->count; i++) {
        double mag = fabs((double)y[i]);
        if (b && fabs((double)b[i]) > mag) mag = fabs((double)b[i]);
        const double r = (double)av[i] / (s->atol + s->rtol * mag);
        sum += r * r;
    }
    return sqrt(sum / (double)s->count);
}

/* Hairer's initial step (scipy's select_initial_step, order 4): from f0 = v(x, t0), one
 * Euler probe of size h0 = 0.01·|x|/|f0| and the change of v over it. */
static dgm_status initial_step(solver *s, dgm_tensor *x, dgm_tensor *f0, double t0, double dir, double span,
                               double *h)
{
    dgm_ctx *ctx = s->ctx;
    DGM_TRY(dgm_tensor_to_host(ctx, x, s->hy));
    DGM_TRY(dgm_tensor_to_host(ctx, f0, s->he));
    const double d0 = scaled_rms(s, s->hy, s->hy, NULL), d1 = scaled_rms(s, s->he, s->hy, NULL);
    double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
    if (h0 > span) h0 = span;
    dgm_tensor *y1 = NULL, *f1 = NULL, *df = NULL;
    const double one = 1.0;
    DGM_TRY(combine(ctx, x, dir * h0, &one, &f0, 1, &y1));
    DGM_TRY(eval(s, y1, t0 + dir * h0, &f1));
    DGM_TRY(dgm_sub(ctx, f1, f0, &df));
    DGM_TRY(dgm_tensor_to_host(ctx, df, s->he));
    const double d2 = scaled_rms(s, s->he, s->hy, NULL) / h0;
    const double big = d1 > d2 ? d1 : d2;
    const double h1 = big <= 1e-15 ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / big, 1.0 / 5.0);
    *h = fmin(100.0 * h0, h1);
    return DGM_STATUS_OK;
}

/* One attempt of size h from (x, t) with k[0] = v(x, t): the candidate *xn, its error
 * norm, and k[6] = v(xn, t + h) (the next first stage when accepted). */
static dgm_status attempt(solver *s, dgm_tensor *x, double t, double h, dgm_tensor **k, dgm_tensor **xn,
                          double *err)
{
    dgm_ctx *ctx = s->ctx;
    for (int i = 1; i < STAGES; i++) {
        dgm_tensor *y = NULL;
        DGM_TRY(combine(ctx, x, h, a[i], k, i, &y));
        if (i == STAGES - 1) *xn = y;
        DGM_TRY(eval(s, y, t + c[i] * h, &k[i]));
    }
    dgm_tensor *er = NULL;
    DGM_TRY(combine(ctx, NULL, h, e, k, STAGES, &er));
    DGM_TRY(dgm_tensor_to_host(ctx, x, s->hy));
    DGM_TRY(dgm_tensor_to_host(ctx, *xn, s->hn));
    DGM_TRY(dgm_tensor_to_host(ctx, er, s->he));
    *err = scaled_rms(s, s->he, s->hy, s->hn);
    return DGM_STATUS_OK;
}

/* Moves the state to the accepted candidate: in place (persistent x and k1, the step
 * ended after each attempt) or, on the tape, by taking the candidate's tensors. */
static dgm_status accept(solver *s, dgm_tensor **x, dgm_tensor **k1, dgm_tensor *xn, dgm_tensor *kn)
{
    if (s->taped) {
        *x = xn;
        *k1 = kn;
        return DGM_STATUS_OK;
    }
    DGM_TRY(dgm_tensor_copy(s->ctx, *x, xn));
    return dgm_tensor_copy(s->ctx, *k1, kn);
}

static dgm_status end_attempt(solver *s) { return s->taped ? DGM_STATUS_OK : dgm_ctx_step_end(s->ctx); }

static dgm_status run(solver *s, dgm_tensor **x, dgm_tensor **k1, double t0, double t1, int64_t max_nfe)
{
    dgm_ctx *ctx = s->ctx;
    const double dir = t1 > t0 ? 1.0 : -1.0, span = fabs(t1 - t0);
    dgm_tensor *f0 = NULL;
    DGM_TRY(eval(s, *x, t0, &f0));
    if (s->taped) *k1 = f0;
    else DGM_TRY(dgm_tensor_copy(ctx, *k1, f0));
    double h = 0.0, t = t0;
    DGM_TRY(initial_step(s, *x, f0, t0, dir, span, &h));
    DGM_TRY(end_attempt(s));
    bool rejected = false;
    while (dir * (t1 - t) > 0.0) {
        if (s->nfe >= max_nfe)
            return dgm_set_error(ctx, DGM_STATUS_NOT_FINITE,
                                 "dopri5: %lld evaluations without reaching t = %g from %g (at t = %g, step %g): "
                                 "the field is stiff or not finite; a looser --rtol/--atol or a fixed-step solver",
                                 (long long)s->nfe, t1, t0, t, h);
        const double left = fabs(t1 - t);
        const bool last = h >= left;
        const double hs = last ? left : h;
        dgm_tensor *k[STAGES] = {*k1}, *xn = NULL;
        double err = 0.0;
        dgm_status st = attempt(s, *x, t, dir * hs, k, &xn, &err);
        const bool ok = st == DGM_STATUS_OK && isfinite(err) && err <= 1.0;
        if (ok) st = accept(s, x, k1, xn, k[STAGES - 1]);
        const dgm_status end = end_attempt(s);
        DGM_TRY(st);
        DGM_TRY(end);
        double factor = !isfinite(err) ? 0.2 : err == 0.0 ? 10.0 : 0.9 * pow(err, -1.0 / 5.0);
        factor = fmin(10.0, fmax(0.2, factor));
        if (ok) {
            t = last ? t1 : t + dir * hs;
            if (rejected && factor > 1.0) factor = 1.0;
            rejected = false;
        } else {
            rejected = true;
        }
        h = hs * factor;
        if (h < 1e-12 * fmax(1.0, fabs(t)))
            return dgm_set_error(ctx, DGM_STATUS_NOT_FINITE,
                                 "dopri5: the step fell to %g at t = %g (the field is not finite or too stiff)",
                                 h, t);
    }
    return DGM_STATUS_OK;
}

/* The solve, x persistent and updated in place (xp NULL), or on the tape (*xp: the end
 * state, a step tensor). */
static dgm_status solve(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user, dgm_tensor *x,
                        double t0, double t1, dgm_tensor **xp, int64_t *nfe)
{
    if (!(cfg->rtol > 0.0) || !(cfg->atol > 0.0))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dopri5: rtol %g and atol %g must be positive",
                             cfg->rtol, cfg->atol);
    if (xp) *xp = x;
    if (t0 == t1) return DGM_STATUS_OK;
    solver s = {ctx, v, user, cfg->rtol, cfg->atol, (size_t)x->numel, NULL, NULL, NULL, 0, xp != NULL};
    s.hy = malloc(3 * s.count * sizeof *s.hy);
    if (!s.hy) return dgm_set_error(ctx, DGM_STATUS_OOM, "dopri5: out of host memory");
    s.hn = s.hy + s.count;
    s.he = s.hn + s.count;
    dgm_tensor *k1 = NULL, *state = x;
    const int64_t shape[2] = {dgm_tensor_dim(x, 0), dgm_tensor_dim(x, 1)};
    dgm_status st = s.taped ? DGM_STATUS_OK : dgm_tensor_create(ctx, 2, shape, &k1);
    if (st == DGM_STATUS_OK) st = run(&s, &state, &k1, t0, t1, cfg->max_nfe > 0 ? cfg->max_nfe : 1000000);
    if (nfe) *nfe = s.nfe;
    if (!s.taped) dgm_tensor_free(k1);
    else if (st == DGM_STATUS_OK) *xp = state;
    free(s.hy);
    return st;
}

dgm_status dgm_ode_dopri5(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user,
                          dgm_tensor *x, double t0, double t1, int64_t *nfe)
{
    return solve(ctx, cfg, v, user, x, t0, t1, NULL, nfe);
}

dgm_status dgm_ode_dopri5_taped(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user,
                                dgm_tensor *x, double t0, double t1, dgm_tensor **out, int64_t *nfe)
{
    return solve(ctx, cfg, v, user, x, t0, t1, out, nfe);
}
