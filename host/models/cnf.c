/* Continuous normalizing flow (Chen et al. 2018; FFJORD, Grathwohl et al. 2019): data x at
 * t = 0 flows by dz/dt = f(z, t) to z(T) ~ N(0, I), and by the instantaneous change of
 * variables
 *     log p(x) = log N(z(T); 0, I) + ∫_0^T tr(∂f/∂z) dt,
 * integrated together with the state (ode.c). f is FFJORD's ODEnet of ConcatSquash layers
 * (time_net.c). The end time T = sqrt_end_time² is learned (FFJORD's train_T): the ODE is
 * solved in s = t/T over [0, 1], dz/ds = T·f(z, T·s), so the gradient reaches T through
 * both the field's scale and its time input. The trace is exact (one autograd pass per
 * dimension) up to 16 dimensions, else Hutchinson's estimate with Rademacher probes.
 *
 * Training goes through the solver's steps (discretize-then-optimize: the tape records
 * every stage and the divergence's own graphs), with a fixed-step solver or the adaptive
 * Dormand–Prince one; the NFE goes to metrics.jsonl. Optional RNODE regularizers (Finlay et
 * al. 2020): λ_K·∫‖f‖² and λ_J·∫‖∂f/∂z‖_F², integrated with the state, keep the dynamics
 * simple and the adaptive solver's steps few.
 *
 * A coarse training discretization can learn dynamics that only that discretization
 * likes, and then report an NLL below the data's entropy. So: the NLL of `dgm eval` and
 * sampling always use the adaptive solver at --eval-rtol/--eval-atol, never the training
 * one; and at every metrics line a fixed-step training solver is checked against one of
 * twice the steps on 256 training rows ("step_gap" in metrics.jsonl): beyond 0.01 nats
 * dgm train warns and, with --refine (the default), doubles the training steps (up to 64;
 * kept in the buffer solver_steps, so a resumed run goes on with them).
 *
 * Defaults on 2-D data: rtqichen/ffjord's train_toy.py — ConcatSquash 64-64-64 tanh, T =
 * 0.5 learned, exact divergence, Adam 1e-3 with weight decay 1e-5, batch 100, 4,000
 * steps — through RK4 in 8 steps. Parameters: net.layers.<i>.{_layer,_hyper_gate,
 * _hyper_bias}.*, sqrt_end_time [1]; buffer solver_steps [1]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_impl.h"
#include "models/ode.h"
#include "models/time_net.h"

#define CNF_MAX_HIDDEN 8
#define CHECK_ROWS 256
#define CHECK_GAP 0.01
#define MAX_REFINED_STEPS 64
#define EXACT_MAX_DIM 16

typedef struct cnf_state {
    dgm_time_net net;
    int end_time_index;     /* sqrt_end_time (a parameter, or a buffer when T is fixed) */
    int steps_index;        /* buffer solver_steps */
    dgm_ode_config train;   /* the training solver (steps: the buffer's) */
    double eval_rtol, eval_atol;
    int probes;             /* 0: the exact divergence */
    float kinetic, jacobian; /* RNODE's λ_K, λ_J */
    bool refine;
    dgm_tensor *check;      /* up to CHECK_ROWS training rows, persistent (NULL before prepare) */
    int64_t last_nfe;       /* the last training step's evaluations of f */
    int64_t last_sample_nfe;
} cnf_state;

static const dgm_model_option options[] = {
    {"hidden", "64,64,64", "hidden widths of the ConcatSquash network"},
    {"activation", "tanh", "its activation: " DGM_MODEL_ACTIVATIONS},
    {"time", "0.5", "the integration time T (its start when learned)"},
    {"train-time", "true", "learn T (as sqrt_end_time², FFJORD's train_T)"},
    {"divergence", "auto", "the trace: exact (a pass per dimension), hutchinson (Rademacher "
                           "probes), or auto (exact up to 16 dimensions)"},
    {"probes", "1", "Rademacher probes of the Hutchinson estimator"},
    {"solver", "rk4", "training solver: rk4, heun, euler (fixed steps) or dopri5 (adaptive)"},
    {"solver-steps", "8", "steps of a fixed-step training solver"},
    {"rtol", "1e-5", "relative tolerance of dopri5 in training"},
    {"atol", "1e-5", "absolute tolerance of dopri5 in training"},
    {"kinetic", "0", "λ_K of RNODE's kinetic-energy regularizer ∫‖f‖² (0: off)"},
    {"jacobian", "0", "λ_J of RNODE's Jacobian regularizer ∫‖∂f/∂z‖²_F (0: off)"},
    {"refine", "true", "double a fixed-step training solver's steps when it and twice its "
                       "steps disagree by more than 0.01 nats (checked at each metrics line)"},
    {"eval-rtol", "1e-5", "relative tolerance of the adaptive solver of the NLL and sampling"},
    {"eval-atol", "1e-5", "its absolute tolerance"},
    {NULL, NULL, NULL},
};
static const dgm_opt_type option_types[] = {
    DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_FLOAT, DGM_OPT_BOOL,  DGM_OPT_STRING,
    DGM_OPT_INT,    DGM_OPT_STRING, DGM_OPT_INT,   DGM_OPT_FLOAT, DGM_OPT_FLOAT,
    DGM_OPT_FLOAT,  DGM_OPT_FLOAT,  DGM_OPT_BOOL,  DGM_OPT_FLOAT, DGM_OPT_FLOAT};

static dgm_status bad(dgm_model *m, const char *what)
{
    return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "cnf option %s", what);
}

static bool tolerance_ok(double v) { return v >= 1e-12 && v <= 1.0; }

static dgm_status build(dgm_model *m)
{
    cnf_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    m->state = s;
    int64_t hidden[CNF_MAX_HIDDEN];
    const int nh = dgm_model_parse_widths(dgm_config_string(m, "hidden"), hidden, CNF_MAX_HIDDEN);
    if (nh < 1) return bad(m, "--hidden: 1 to 8 widths from 1 to 65536 (e.g. 64,64,64)");
    const int act = dgm_model_parse_activation(dgm_config_string(m, "activation"));
    if (act < 0) return bad(m, "--activation: expected " DGM_MODEL_ACTIVATIONS);
    const double time = dgm_config_float(m, "time");
    if (!(time > 0.0 && time <= 1e3)) return bad(m, "--time: in (0, 1000]");
    const char *div = dgm_config_string(m, "divergence");
    if (strcmp(div, "auto") && strcmp(div, "exact") && strcmp(div, "hutchinson"))
        return bad(m, "--divergence: expected exact, hutchinson or auto");
    const int64_t probes = dgm_config_int(m, "probes");
    if (probes < 1 || probes > 64) return bad(m, "--probes: 1 to 64");
    const bool exact = !strcmp(div, "exact") || (!strcmp(div, "auto") && m->dim <= EXACT_MAX_DIM);
    s->probes = exact ? 0 : (int)probes;
    const int solver = dgm_ode_solver_parse(dgm_config_string(m, "solver"));
    if (solver < 0) return bad(m, "--solver: expected rk4, heun, euler or dopri5");
    const int64_t steps = dgm_config_int(m, "solver-steps");
    if (steps < 1 || steps > 10000) return bad(m, "--solver-steps: 1 to 10000");
    s->train = (dgm_ode_config){.solver = (dgm_ode_solver)solver, .steps = steps,
                                .rtol = dgm_config_float(m, "rtol"), .atol = dgm_config_float(m, "atol"),
                                .max_nfe = 100000};
    s->eval_rtol = dgm_config_float(m, "eval-rtol");
    s->eval_atol = dgm_config_float(m, "eval-atol");
    if (!tolerance_ok(s->train.rtol) || !tolerance_ok(s->train.atol) || !tolerance_ok(s->eval_rtol) ||
        !tolerance_ok(s->eval_atol))
        return bad(m, "--rtol, --atol, --eval-rtol, --eval-atol: 1e-12 to 1");
    s->kinetic = (float)dgm_config_float(m, "kinetic");
    s->jacobian = (float)dgm_config_float(m, "jacobian");
    if (!(s->kinetic >= 0.0f && s->kinetic < 1e6f) || !(s->jacobian >= 0.0f && s->jacobian < 1e6f))
        return bad(m, "--kinetic, --jacobian: 0 or more");
    s->refine = dgm_config_bool(m, "refine");
    DGM_TRY(dgm_time_net_create_concatsquash(m->params, "net", m->dim, nh, hidden, (dgm_activation)act, &s->net));
    const int64_t one = 1;
    const float root = (float)sqrt(time);
    const dgm_init init = {DGM_INIT_UNIFORM, root, root};
    s->end_time_index = dgm_params_count(m->params);
    DGM_TRY(dgm_config_bool(m, "train-time") ? dgm_params_add(m->params, "sqrt_end_time", 1, &one, init)
                                             : dgm_params_add_buffer(m->params, "sqrt_end_time", 1, &one, init));
    s->steps_index = dgm_params_count(m->params);
    return dgm_params_add_buffer(m->params, "solver_steps", 1, &one,
                                 (dgm_init){DGM_INIT_UNIFORM, (float)steps, (float)steps});
}

/* The training steps from the buffer (a checkpoint's refined count). */
static dgm_status ready(dgm_model *m)
{
    cnf_state *s = m->state;
    float steps = 0.0f;
    DGM_TRY(dgm_tensor_to_host(m->ctx, dgm_params_at(m->params, s->steps_index), &steps));
    if (!(steps >= 1.0f && steps <= 10000.0f))
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "cnf: solver_steps is %g (1 to 10000)", (double)steps);
    s->train.steps = (int64_t)steps;
    return DGM_STATUS_OK;
}

/* dz/ds = T·f(z, T·s). */
static dgm_status velocity(void *user, dgm_tensor *x, float t, dgm_tensor **v)
{
    dgm_model *m = user;
    cnf_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *end = NULL, *tc = NULL, *f = NULL;
    DGM_TRY(dgm_square(ctx, dgm_params_at(m->params, s->end_time_index), &end));
    DGM_TRY(dgm_column_of(ctx, dgm_tensor_dim(x, 0), t, &tc));
    DGM_TRY(dgm_mul(ctx, tc, end, &tc));
    DGM_TRY(dgm_time_net_forward(ctx, &s->net, x, tc, &f));
    return dgm_mul(ctx, f, end, v);
}

static dgm_ode_density density_config(const cnf_state *s, dgm_ode_config ode)
{
    return (dgm_ode_density){.ode = ode, .t_data = 0.0, .t_prior = 1.0, .prior_std = 1.0, .probes = s->probes};
}

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    (void)step;
    cnf_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const bool regularize = s->kinetic > 0.0f || s->jacobian > 0.0f;
    const dgm_ode_density cfg = density_config(s, s->train);
    dgm_tensor *logp = NULL, *reg = NULL, *r = NULL;
    DGM_TRY(dgm_ode_log_density_taped(ctx, &cfg, velocity, m, batch, &logp, regularize ? &reg : NULL, &s->last_nfe));
    DGM_TRY(dgm_mean(ctx, logp, DGM_AXIS_ALL, loss));
    DGM_TRY(dgm_scale(ctx, *loss, -1.0f, 0.0f, loss));
    const float lambda[2] = {s->kinetic, s->jacobian};
    for (int i = 0; regularize && i < 2; i++) {
        if (lambda[i] == 0.0f) continue;
        DGM_TRY(dgm_slice_cols(ctx, reg, i, 1, &r));
        DGM_TRY(dgm_mean(ctx, r, DGM_AXIS_ALL, &r));
        DGM_TRY(dgm_scale(ctx, r, lambda[i], 0.0f, &r));
        DGM_TRY(dgm_add(ctx, *loss, r, loss));
    }
    return DGM_STATUS_OK;
}

/* The rows' log-densities by `ode` (host [n]), x's rows copied (the solve moves them). */
static dgm_status log_density_by(dgm_model *m, dgm_tensor *x, dgm_ode_config ode, double *logp, int64_t *nfe)
{
    cnf_state *s = m->state;
    dgm_tensor *state = NULL;
    DGM_TRY(dgm_persist(m->ctx, x, &state));
    const dgm_ode_density cfg = density_config(s, ode);
    const dgm_status st = dgm_ode_log_density(m->ctx, &cfg, velocity, m, state, logp, nfe);
    dgm_tensor_free(state);
    return st;
}

static dgm_ode_config eval_solver(const cnf_state *s)
{
    return (dgm_ode_config){.solver = DGM_ODE_DOPRI5, .rtol = s->eval_rtol, .atol = s->eval_atol, .max_nfe = 100000};
}

/* "nll": nats per sample, by the adaptive solver at the evaluation tolerances. */
static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    (void)metric;
    cnf_state *s = m->state;
    const int64_t n = dgm_tensor_dim(batch, 0);
    double *logp = malloc((size_t)n * sizeof *logp);
    if (!logp) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    int64_t nfe = 0;
    const dgm_status st = log_density_by(m, batch, eval_solver(s), logp, &nfe);
    *sum = 0.0;
    for (int64_t i = 0; st == DGM_STATUS_OK && i < n; i++) *sum -= logp[i];
    free(logp);
    snprintf(m->note, sizeof m->note, "cnf nll: dopri5 (rtol %g, atol %g), %s divergence; %lld evaluations for the "
             "last batch", s->eval_rtol, s->eval_atol, s->probes ? "Hutchinson" : "exact", (long long)nfe);
    return st;
}

/* log p(x) per row [B, 1] by the adaptive solver (the exact density's picture). */
static dgm_status log_density(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    cnf_state *s = m->state;
    const int64_t n = dgm_tensor_dim(x, 0), shape[2] = {n, 1};
    double *logp = malloc((size_t)n * (sizeof *logp + sizeof(float)));
    if (!logp) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    float *host = (float *)(logp + n);
    dgm_status st = log_density_by(m, x, eval_solver(s), logp, NULL);
    for (int64_t i = 0; i < n; i++) host[i] = (float)logp[i];
    if (st == DGM_STATUS_OK) st = dgm_tensor_alloc_step(m->ctx, 2, shape, out);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(m->ctx, *out, host);
    free(logp);
    return st;
}

/* z ~ N(0, I) at s = 1 integrated back to the data at s = 0 by the adaptive solver. */
static dgm_status sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    cnf_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const int64_t shape[2] = {n, m->dim};
    dgm_tensor *z = NULL, *x = NULL;
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, &z));
    DGM_TRY(dgm_persist(ctx, z, &x));
    const dgm_ode_config cfg = eval_solver(s);
    dgm_status st = dgm_ode_solve(ctx, &cfg, velocity, m, x, 1.0, 0.0, &s->last_sample_nfe);
    if (st == DGM_STATUS_OK) st = dgm_unpersist(ctx, x, out);
    dgm_tensor_free(x);
    snprintf(m->note, sizeof m->note, "cnf sampling: dopri5 (rtol %g, atol %g), %lld evaluations of the network",
             s->eval_rtol, s->eval_atol, (long long)s->last_sample_nfe);
    return st;
}

static int64_t sampler_passes(const dgm_model *m)
{
    const cnf_state *s = m->state;
    return s->last_sample_nfe > 0 ? s->last_sample_nfe : 100;
}

/* The check rows: the training set's first CHECK_ROWS. */
static dgm_status prepare(dgm_model *m, const dgm_dataset *data, bool init_params)
{
    (void)init_params;
    cnf_state *s = m->state;
    int64_t n = dgm_dataset_count(data);
    if (n > CHECK_ROWS) n = CHECK_ROWS;
    const int64_t shape[2] = {n, m->dim};
    dgm_tensor_free(s->check);
    s->check = NULL;
    DGM_TRY(dgm_tensor_create(m->ctx, 2, shape, &s->check));
    return dgm_tensor_copy_from_host(m->ctx, s->check, dgm_dataset_data(data));
}

static double mean_nll(const double *logp, int64_t n)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum -= logp[i];
    return sum / (double)n;
}

/* The NFE, T, and a fixed-step solver's gap to twice its steps on the check rows. */
static dgm_status log_fields(dgm_model *m, int64_t step, char *buf, size_t len)
{
    cnf_state *s = m->state;
    float root = 0.0f;
    DGM_TRY(dgm_tensor_to_host(m->ctx, dgm_params_at(m->params, s->end_time_index), &root));
    const int used = snprintf(buf, len, "\"nfe\": %lld, \"end_time\": %.6g", (long long)s->last_nfe,
                              (double)root * (double)root);
    if (s->train.solver == DGM_ODE_DOPRI5 || !s->check || s->probes > 0 || used < 0 || (size_t)used >= len)
        return DGM_STATUS_OK;
    const int64_t n = dgm_tensor_dim(s->check, 0);
    double *logp = malloc(2 * (size_t)n * sizeof *logp);
    if (!logp) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    dgm_ode_config fine = s->train;
    fine.steps *= 2;
    dgm_status st = log_density_by(m, s->check, s->train, logp, NULL);
    if (st == DGM_STATUS_OK) st = log_density_by(m, s->check, fine, logp + n, NULL);
    const double gap = mean_nll(logp, n) - mean_nll(logp + n, n);
    free(logp);
    DGM_TRY(st);
    const int64_t steps = s->train.steps;
    snprintf(buf + used, len - (size_t)used, ", \"solver_steps\": %lld, \"step_gap\": %.6g", (long long)steps, gap);
    if (!(fabs(gap) > CHECK_GAP)) return DGM_STATUS_OK;
    const bool refine = s->refine && steps * 2 <= MAX_REFINED_STEPS;
    snprintf(m->warning, sizeof m->warning,
             "cnf at step %lld: the training solver (%s, %lld steps) and one of %lld steps disagree by %.3g nats "
             "on %lld training rows: the dynamics outgrow the discretization%s", (long long)step,
             dgm_ode_solver_name(s->train.solver), (long long)steps, (long long)(2 * steps), gap, (long long)n,
             refine ? "; training goes on with twice the steps" : " (--solver-steps more, or --solver dopri5)");
    if (!refine) return DGM_STATUS_OK;
    s->train.steps = 2 * steps;
    const float value = (float)s->train.steps;
    return dgm_tensor_copy_from_host(m->ctx, dgm_params_at(m->params, s->steps_index), &value);
}

/* ffjord's train_toy.py: Adam 1e-3 with weight decay 1e-5, batch 100, 4,000 steps (its
 * 10,000 by default; the budget), a metrics line (and solver check) every 100. */
static void train_defaults(const json_t *given, int sample_ndim, dgm_train_defaults *t)
{
    (void)given;
    (void)sample_ndim;
    dgm_model_steps_defaults(t, 4000, 100, DGM_OPTIM_ADAM, 1e-3f, 0, 100);
    t->optim.weight_decay = 1e-5f;
}

static dgm_status evaluate_samples(dgm_model *m, const dgm_dataset *data, const char *metric, double *value)
{
    return dgm_model_sample_metric(m, data, metric, value);
}

static void destroy(dgm_model *m)
{
    cnf_state *s = m->state;
    if (!s) return;
    dgm_time_net_free(&s->net);
    dgm_tensor_free(s->check);
    free(s);
}

const dgm_model_ops dgm_cnf_ops = {
    .kind = "cnf",
    .summary = "continuous normalizing flow (FFJORD): ConcatSquash dynamics trained through the ODE "
               "solver's steps, exact or Hutchinson trace, NLL and sampling by the adaptive solver",
    .options = options,
    .option_types = option_types,
    .metrics = "nll,w2,modes,high_quality,reverse_kl",
    .default_metrics = "nll",
    .sample_metrics = "w2,modes,high_quality,reverse_kl",
    .sampling_options = " eval-rtol eval-atol ",
    .build = build,
    .ready = ready,
    .prepare = prepare,
    .train_defaults = train_defaults,
    .train_step = train_step,
    .log_fields = log_fields,
    .sample = sample,
    .sampler_passes = sampler_passes,
    .evaluate_batch = evaluate_batch,
    .evaluate_samples = evaluate_samples,
    .log_density = log_density,
    .destroy = destroy,
};
