/* Score SDE (Song et al. 2021): the data diffused by a VP, sub-VP or VE SDE in continuous
 * time (sde.h), a time-conditioned network (time_net.c: the MLP of [x, embedding(t)]) that
 * predicts the noise of x_t = mean(t)·x_0 + std(t)·z (score = −ε̂/std) or the score itself,
 * trained by denoising score matching ½·λ(t)/std²·|std·s(x_t, t) + z|² with t ~ U(eps, 1):
 * λ = std² (the default: DDPM's simple loss in continuous time) or the likelihood
 * weighting λ = g² (Song et al. 2021b), whose t is importance-sampled from q ∝ g²/std².
 *
 * Sampling (sde.h, pc_sampler.c, ode.c) from a moving average of the weights: the
 * predictor–corrector sampler of the reverse SDE (reverse diffusion + one Langevin corrector
 * step at snr 0.16, N = 1000, from t = 1 to 1e-3, the last step without noise), or the
 * probability-flow ODE by any of ode.c's solvers (adaptive Dormand–Prince by default).
 *
 * Likelihood: the probability-flow ODE from t = 1e-5 to 1 with the divergence (ode.c's
 * change of variables, always the adaptive solver): exact up to 16 values, Hutchinson
 * above. Images (values in [0, 1], modelled in [−1, 1]) are dequantized first, (255·x +
 * u)/256 with u ~ U(0, 1), so "nll" is a bound on the discrete pixels' nats and "bpd" the
 * same in bits per dimension. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/ema_weights.h"
#include "models/model_impl.h"
#include "models/ode.h"
#include "models/score_matching.h"
#include "models/sde.h"
#include "models/time_net.h"

typedef struct sde_state {
    dgm_time_net net;
    dgm_sde sde;
    double sigma_max_opt;
    bool noise_pred, fourier, likelihood, importance, image, ode_sampler, denoise, ema_started;
    float ema;
    double train_eps, sample_eps, nll_eps, snr, rtol, atol;
    int corrector_steps, probes, solver;
    dgm_sde_predictor predictor;
    int64_t sample_steps, last_nfe;
    dgm_sde_importance is;
    float *host; /* [5·cap]: t draws and the mean, std, time-input and weight columns */
    int64_t host_cap;
} sde_state;

static const dgm_model_option options[] = {
    {"sde", "vp", "the forward SDE: vp, subvp or ve"},
    {"beta-min", "0.1", "β(0) of vp and subvp"},
    {"beta-max", "20", "β(1) of vp and subvp"},
    {"sigma-min", "0.01", "σ(0) of ve"},
    {"sigma-max", "auto", "σ(1) of ve; auto: the largest distance between two of 2,000 data rows"},
    {"predict", "noise", "what the network outputs: noise (score = −ε̂/std(t)) or score"},
    {"embedding", "sinusoidal", "time input: sinusoidal (of 999·t, ddpm's) or fourier (Gaussian "
                                "random features of t, scale --fourier-scale)"},
    {"embedding-dim", "32", "width of the time embedding (even)"},
    {"fourier-scale", "16", "standard deviation of the Fourier features' frequencies"},
    {"hidden", "auto", "hidden widths of the network; auto: 128,128,128, on images 1024,1024,1024"},
    {"activation", "silu", "the network's activation: " DGM_MODEL_ACTIVATIONS},
    {"weighting", "sigma2", "λ(t) of the denoising loss: sigma2 (std(t)²) or likelihood (g(t)²)"},
    {"importance", "true", "with --weighting likelihood: draw t ∝ g²/std² (else uniform, weighted)"},
    {"train-eps", "1e-5", "t is drawn from [train-eps, 1]"},
    {"ema", "0.999", "decay of the weights' moving average used for sampling and evaluation (0: off)"},
    {"sampler", "pc", "pc (predictor–corrector on the reverse SDE) or ode (the probability-flow ODE)"},
    {"predictor", "reverse-diffusion", "pc's predictor: reverse-diffusion, euler-maruyama or none"},
    {"corrector", "langevin", "pc's corrector: langevin or none"},
    {"snr", "0.16", "the Langevin corrector's signal-to-noise ratio"},
    {"corrector-steps", "1", "Langevin steps per time"},
    {"sample-steps", "1000", "N: pc's times, and the steps of a fixed-step ODE solver"},
    {"solver", "dopri5", "the ode sampler's solver: dopri5 (adaptive), euler, heun or rk4"},
    {"rtol", "1e-5", "relative tolerance of the adaptive solver (ode sampling and the NLL)"},
    {"atol", "1e-5", "absolute tolerance of the adaptive solver"},
    {"sample-eps", "1e-3", "the samplers stop at t = sample-eps"},
    {"denoise", "true", "pc's last predictor step adds no noise"},
    {"nll-eps", "1e-5", "the likelihood's ODE starts at t = nll-eps"},
    {"divergence", "auto", "the NLL's divergence: exact (a pass per dimension), hutchinson, or "
                           "auto (exact up to 16 values)"},
    {"probes", "1", "Rademacher probes of the Hutchinson estimator"},
    DGM_TIME_NET_OPTIONS,
    {NULL, NULL, NULL},
};
static const dgm_opt_type option_types[] = {
    DGM_OPT_STRING, DGM_OPT_FLOAT,  DGM_OPT_FLOAT,  DGM_OPT_FLOAT,  DGM_OPT_STRING, DGM_OPT_STRING,
    DGM_OPT_STRING, DGM_OPT_INT,    DGM_OPT_FLOAT,  DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_STRING,
    DGM_OPT_BOOL,   DGM_OPT_FLOAT,  DGM_OPT_FLOAT,  DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_STRING,
    DGM_OPT_FLOAT,  DGM_OPT_INT,    DGM_OPT_INT,    DGM_OPT_STRING, DGM_OPT_FLOAT,  DGM_OPT_FLOAT,
    DGM_OPT_FLOAT,  DGM_OPT_BOOL,   DGM_OPT_FLOAT,  DGM_OPT_STRING, DGM_OPT_INT,
    DGM_TIME_NET_OPTION_TYPES};

static dgm_status bad(dgm_model *m, const char *what)
{
    return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "sde option %s", what);
}

static bool in(double v, double lo, double hi) { return v > lo && v < hi; }

/* The SDE and the time input. */
static dgm_status build_sde(dgm_model *m, sde_state *s)
{
    const int kind = dgm_sde_kind_parse(dgm_config_string(m, "sde"));
    if (kind < 0) return bad(m, "--sde: vp, subvp or ve");
    s->sde.kind = (dgm_sde_kind)kind;
    s->sde.beta_min = dgm_config_float(m, "beta-min");
    s->sde.beta_max = dgm_config_float(m, "beta-max");
    if (!in(s->sde.beta_min, 0.0, 1e4) || !in(s->sde.beta_max, s->sde.beta_min, 1e4))
        return bad(m, "--beta-min/--beta-max: 0 < beta-min < beta-max < 1e4");
    s->sde.sigma_min = dgm_config_float(m, "sigma-min");
    if (!in(s->sde.sigma_min, 0.0, 1e6)) return bad(m, "--sigma-min: in (0, 1e6)");
    const char *smax = dgm_config_string(m, "sigma-max");
    if (strcmp(smax, "auto")) {
        char *end = NULL;
        s->sigma_max_opt = strtod(smax, &end);
        if (end == smax || *end || !in(s->sigma_max_opt, s->sde.sigma_min, 1e6))
            return bad(m, "--sigma-max: auto or a number above --sigma-min");
    }
    s->sde.sigma_max = s->sigma_max_opt > 0.0 ? s->sigma_max_opt : 1.0;
    const char *pred = dgm_config_string(m, "predict");
    if (strcmp(pred, "noise") && strcmp(pred, "score")) return bad(m, "--predict: noise or score");
    s->noise_pred = !strcmp(pred, "noise");
    const char *emb = dgm_config_string(m, "embedding");
    if (strcmp(emb, "sinusoidal") && strcmp(emb, "fourier")) return bad(m, "--embedding: sinusoidal or fourier");
    s->fourier = !strcmp(emb, "fourier");
    const char *w = dgm_config_string(m, "weighting");
    if (strcmp(w, "sigma2") && strcmp(w, "likelihood")) return bad(m, "--weighting: sigma2 or likelihood");
    s->likelihood = !strcmp(w, "likelihood");
    s->importance = dgm_config_bool(m, "importance");
    s->train_eps = dgm_config_float(m, "train-eps");
    s->sample_eps = dgm_config_float(m, "sample-eps");
    s->nll_eps = dgm_config_float(m, "nll-eps");
    if (!in(s->train_eps, 0.0, 0.5) || !in(s->sample_eps, 0.0, 0.5) || !in(s->nll_eps, 0.0, 0.5))
        return bad(m, "--train-eps/--sample-eps/--nll-eps: in (0, 0.5)");
    s->ema = (float)dgm_config_float(m, "ema");
    if (!(s->ema >= 0.0f && s->ema < 1.0f)) return bad(m, "--ema: in [0, 1)");
    return DGM_STATUS_OK;
}

static dgm_status build_sampler(dgm_model *m, sde_state *s)
{
    const char *smp = dgm_config_string(m, "sampler");
    if (strcmp(smp, "pc") && strcmp(smp, "ode")) return bad(m, "--sampler: pc or ode");
    s->ode_sampler = !strcmp(smp, "ode");
    const int p = dgm_sde_predictor_parse(dgm_config_string(m, "predictor"));
    if (p < 0) return bad(m, "--predictor: reverse-diffusion, euler-maruyama or none");
    s->predictor = (dgm_sde_predictor)p;
    const char *cor = dgm_config_string(m, "corrector");
    if (strcmp(cor, "langevin") && strcmp(cor, "none")) return bad(m, "--corrector: langevin or none");
    const int64_t csteps = dgm_config_int(m, "corrector-steps");
    if (csteps < 0 || csteps > 1000) return bad(m, "--corrector-steps: 0 to 1000");
    s->corrector_steps = strcmp(cor, "none") ? (int)csteps : 0;
    if (s->predictor == DGM_PREDICTOR_NONE && !s->corrector_steps)
        return bad(m, "--predictor none needs the Langevin corrector");
    s->snr = dgm_config_float(m, "snr");
    if (!in(s->snr, 0.0, 100.0)) return bad(m, "--snr: in (0, 100)");
    s->sample_steps = dgm_config_int(m, "sample-steps");
    if (s->sample_steps < 1 || s->sample_steps > 1000000) return bad(m, "--sample-steps: 1 to 1000000");
    if (!s->ode_sampler && !dgm_sde_pc_steps_valid(&s->sde, s->predictor, s->sample_steps))
        return bad(m, "--sample-steps: the reverse-diffusion predictor on vp needs more than --beta-max steps "
                      "(its β_i reach β_max/N), or --predictor euler-maruyama");
    s->solver = dgm_ode_solver_parse(dgm_config_string(m, "solver"));
    if (s->solver < 0) return bad(m, "--solver: dopri5, euler, heun or rk4");
    s->rtol = dgm_config_float(m, "rtol");
    s->atol = dgm_config_float(m, "atol");
    if (!in(s->rtol, 0.0, 1.0) || !in(s->atol, 0.0, 1.0)) return bad(m, "--rtol/--atol: in (0, 1)");
    s->denoise = dgm_config_bool(m, "denoise");
    const char *div = dgm_config_string(m, "divergence");
    const int64_t probes = dgm_config_int(m, "probes");
    if (probes < 1 || probes > 1000) return bad(m, "--probes: 1 to 1000");
    if (!strcmp(div, "exact")) s->probes = 0;
    else if (!strcmp(div, "hutchinson")) s->probes = (int)probes;
    else if (!strcmp(div, "auto")) s->probes = m->dim <= 16 ? 0 : (int)probes;
    else return bad(m, "--divergence: exact, hutchinson or auto");
    return DGM_STATUS_OK;
}

static dgm_status build(dgm_model *m)
{
    sde_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    m->state = s;
    s->image = m->sample_ndim >= 2;
    DGM_TRY(build_sde(m, s));
    DGM_TRY(build_sampler(m, s));
    const char *ht = dgm_config_string(m, "hidden");
    if (!strcmp(ht, "auto")) ht = s->image ? "1024,1024,1024" : "128,128,128";
    int64_t hidden[DGM_TIME_NET_MAX_HIDDEN];
    const int nh = dgm_model_parse_widths(ht, hidden, DGM_TIME_NET_MAX_HIDDEN);
    if (nh < 1) return bad(m, "--hidden: auto, or 1 to 8 widths, e.g. 128,128,128");
    const int act = dgm_model_parse_activation(dgm_config_string(m, "activation"));
    if (act < 0) return bad(m, "--activation: expected " DGM_MODEL_ACTIVATIONS);
    const int64_t emb = dgm_config_int(m, "embedding-dim");
    if (emb < 2 || emb > 4096 || emb % 2) return bad(m, "--embedding-dim: even, 2 to 4096");
    const double scale = dgm_config_float(m, "fourier-scale");
    if (!in(scale, 0.0, 1e4)) return bad(m, "--fourier-scale: in (0, 1e4)");
    if (s->likelihood && s->importance && !dgm_sde_importance_init(&s->sde, s->train_eps, &s->is))
        return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    if (s->fourier)
        DGM_TRY(dgm_time_net_create_fourier(m, "net", (int)emb, scale, 0, nh, hidden,
                                            (dgm_activation)act, &s->net));
    else
        DGM_TRY(dgm_time_net_create(m, "net", (int)emb, nh, hidden, (dgm_activation)act, &s->net));
    if (s->ema > 0.0f) DGM_TRY(dgm_ema_weights_declare(m->params));
    const int64_t one[1] = {1};
    return dgm_params_add_buffer(m->params, "sigma_max", 1, one, (dgm_init){DGM_INIT_ZEROS, 0.0f, 0.0f});
}

static dgm_tensor *param(dgm_model *m, const char *name) { return dgm_params_get(m->params, name); }

/* The EMA starts at the initial weights, once; VE's σ_max from the buffer (set by prepare
 * or a checkpoint; a model never prepared keeps the option's value or 1). */
static dgm_status ready(dgm_model *m)
{
    sde_state *s = m->state;
    float smax = 0.0f;
    DGM_TRY(dgm_tensor_to_host(m->ctx, param(m, "sigma_max"), &smax));
    if (smax > 0.0f) s->sde.sigma_max = smax;
    if (s->ema <= 0.0f || s->ema_started) return DGM_STATUS_OK;
    s->ema_started = true;
    return dgm_ema_weights_reset(m->params);
}

static dgm_status prepare(dgm_model *m, const dgm_dataset *data, bool init_params)
{
    sde_state *s = m->state;
    if (!init_params || s->sde.kind != DGM_SDE_VE) return DGM_STATUS_OK;
    /* images are modelled in [−1, 1]: their distances double */
    const double smax = s->sigma_max_opt > 0.0 ? s->sigma_max_opt
                                               : dgm_data_max_distance(data, 2000) * (s->image ? 2.0 : 1.0);
    if (!(smax > s->sde.sigma_min))
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "sde: σ_max %g (the data's largest distance) is not above --sigma-min %g", smax,
                             s->sde.sigma_min);
    s->sde.sigma_max = smax;
    const float v = (float)smax;
    return dgm_tensor_copy_from_host(m->ctx, param(m, "sigma_max"), &v);
}

static dgm_status after_step(dgm_model *m, int64_t step)
{
    sde_state *s = m->state;
    return s->ema > 0.0f ? dgm_ema_weights_update(m->params, dgm_ema_weights_decay(s->ema, step))
                         : DGM_STATUS_OK;
}

/* The network's time input: 999·t for the sinusoidal embedding (ddpm's range), t for the
 * Fourier features. */
static double time_input(const sde_state *s, double t) { return s->fourier ? t : 999.0 * t; }

/* std·s(x, t) from the network's output: −ε̂, or std·output (cols: a std column, else the
 * scalar std). */
static dgm_status scaled_score(dgm_model *m, dgm_tensor *out, dgm_tensor *std_col, double std, dgm_tensor **res)
{
    const sde_state *s = m->state;
    if (s->noise_pred) return dgm_scale(m->ctx, out, -1.0f, 0.0f, res);
    return std_col ? dgm_mul(m->ctx, out, std_col, res) : dgm_scale(m->ctx, out, (float)std, 0.0f, res);
}

/* Per row a time t (uniform on [eps, 1], or from the importance sampler), x_t = mean·x +
 * std·z, the network's std·s(x_t, t) (*pred) and the rows' loss weight column (*w, NULL
 * when all are 1). The t draws stay in s->host. */
static dgm_status noise_and_predict(dgm_model *m, dgm_tensor *x, dgm_tensor **z, dgm_tensor **xt, dgm_tensor **pred,
                                    dgm_tensor **w)
{
    sde_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const int64_t rows = dgm_tensor_dim(x, 0), shape[2] = {rows, m->dim}, col[2] = {rows, 1};
    if (rows > s->host_cap) {
        float *p = realloc(s->host, (size_t)(5 * rows) * sizeof *p);
        if (!p) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
        s->host = p;
        s->host_cap = rows;
    }
    float *tv = s->host, *mv = tv + rows, *sv = mv + rows, *iv = sv + rows, *wv = iv + rows;
    dgm_tensor *u = NULL, *mean = NULL, *std = NULL, *tin = NULL, *net = NULL;
    DGM_TRY(dgm_rand_uniform(ctx, 2, col, 0.0f, 1.0f, &u));
    DGM_TRY(dgm_tensor_to_host(ctx, u, tv));
    const bool weighted = s->likelihood;
    for (int64_t r = 0; r < rows; r++) {
        const double t = s->is.n ? dgm_sde_importance_draw(&s->is, tv[r])
                                 : s->train_eps + (1.0 - s->train_eps) * (double)tv[r];
        double mc = 0.0, sd = 0.0;
        dgm_sde_marginal(&s->sde, t, &mc, &sd);
        tv[r] = (float)t;
        mv[r] = (float)mc;
        sv[r] = (float)sd;
        iv[r] = (float)time_input(s, t);
        /* √ of λ/std² (importance: the constant z/(1 − eps) that stands for it) */
        wv[r] = (float)sqrt(s->is.n ? s->is.z / (1.0 - s->train_eps) : dgm_sde_g2(&s->sde, t) / (sd * sd));
    }
    DGM_TRY(dgm_tensor_from_host(ctx, 2, col, mv, &mean));
    DGM_TRY(dgm_tensor_from_host(ctx, 2, col, sv, &std));
    DGM_TRY(dgm_tensor_from_host(ctx, 2, col, iv, &tin));
    *w = NULL;
    if (weighted) DGM_TRY(dgm_tensor_from_host(ctx, 2, col, wv, w));
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, z));
    dgm_tensor *sz = NULL;
    DGM_TRY(dgm_mul(ctx, x, mean, xt));
    DGM_TRY(dgm_mul(ctx, *z, std, &sz));
    DGM_TRY(dgm_add(ctx, *xt, sz, xt));
    DGM_TRY(dgm_time_net_forward(ctx, &s->net, *xt, tin, &net));
    return scaled_score(m, net, std, 0.0, pred);
}

/* Images are modelled in [−1, 1]. */
static dgm_status model_space(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    const sde_state *s = m->state;
    if (!s->image) {
        *out = x;
        return DGM_STATUS_OK;
    }
    return dgm_scale(m->ctx, x, 2.0f, -1.0f, out);
}

static dgm_status dsm(dgm_model *m, dgm_tensor *batch, dgm_tensor **loss)
{
    dgm_tensor *x = NULL, *z = NULL, *xt = NULL, *pred = NULL, *w = NULL;
    DGM_TRY(model_space(m, batch, &x));
    DGM_TRY(noise_and_predict(m, x, &z, &xt, &pred, &w));
    if (w) {
        DGM_TRY(dgm_mul(m->ctx, pred, w, &pred));
        DGM_TRY(dgm_mul(m->ctx, z, w, &z));
    }
    return dgm_dsm_loss(m->ctx, pred, z, loss);
}

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    (void)step;
    return dsm(m, batch, loss);
}

/* s(x, t) of the (averaged) network. */
static dgm_status score_at(void *user, dgm_tensor *x, double t, dgm_tensor **out)
{
    dgm_model *m = user;
    sde_state *s = m->state;
    double mean = 0.0, std = 0.0;
    dgm_sde_marginal(&s->sde, t, &mean, &std);
    dgm_tensor *tin = NULL, *net = NULL;
    DGM_TRY(dgm_column_of(m->ctx, dgm_tensor_dim(x, 0), (float)time_input(s, t), &tin));
    DGM_TRY(dgm_time_net_forward(m->ctx, &s->net, x, tin, &net));
    return s->noise_pred ? dgm_scale(m->ctx, net, (float)(-1.0 / std), 0.0f, out) : (*out = net, DGM_STATUS_OK);
}

/* One run on a persistent state: a sampler, or the likelihood (logp [n] set). */
typedef struct sde_run {
    dgm_model *m;
    dgm_tensor *x;
    double *logp;
} sde_run;

static dgm_status run_sampler(void *user)
{
    sde_run *r = user;
    dgm_model *m = r->m;
    sde_state *s = m->state;
    if (!s->ode_sampler) {
        const dgm_pc_config cfg = {s->predictor, s->corrector_steps, s->snr, s->sample_steps, s->sample_eps,
                                   s->denoise};
        s->last_nfe = s->sample_steps * ((s->predictor != DGM_PREDICTOR_NONE ? 1 : 0) + s->corrector_steps);
        snprintf(m->note, sizeof m->note,
                 "sde sampling: pc, %s predictor and %d Langevin corrector step%s (snr %g), N = %lld: %lld network "
                 "evaluations",
                 dgm_config_string(m, "predictor"), s->corrector_steps, s->corrector_steps == 1 ? "" : "s", s->snr,
                 (long long)s->sample_steps, (long long)s->last_nfe);
        return dgm_sde_pc_sample(m->ctx, &s->sde, &cfg, score_at, m, r->x);
    }
    dgm_sde_flow flow = {m->ctx, &s->sde, score_at, m};
    const dgm_ode_config cfg = {.solver = (dgm_ode_solver)s->solver, .steps = s->sample_steps, .rtol = s->rtol,
                                .atol = s->atol};
    const dgm_status st = dgm_ode_solve(m->ctx, &cfg, dgm_sde_flow_velocity, &flow, r->x, 1.0, s->sample_eps,
                                        &s->last_nfe);
    snprintf(m->note, sizeof m->note, "sde sampling: the probability-flow ODE by %s%s: %lld network evaluations",
             dgm_ode_solver_name((dgm_ode_solver)s->solver), s->solver == DGM_ODE_DOPRI5 ? " (adaptive)" : "",
             (long long)s->last_nfe);
    return st;
}

static dgm_status run_density(void *user)
{
    sde_run *r = user;
    dgm_model *m = r->m;
    sde_state *s = m->state;
    dgm_sde_flow flow = {m->ctx, &s->sde, score_at, m};
    const dgm_ode_density cfg = {.ode = {.solver = DGM_ODE_DOPRI5, .rtol = s->rtol, .atol = s->atol},
                                 .t_data = s->nll_eps,
                                 .t_prior = 1.0,
                                 .prior_std = dgm_sde_prior_std(&s->sde),
                                 .probes = s->probes};
    int64_t nfe = 0;
    const dgm_status st = dgm_ode_log_density(m->ctx, &cfg, dgm_sde_flow_velocity, &flow, r->x, r->logp, &nfe);
    char div[64];
    if (s->probes) snprintf(div, sizeof div, "Hutchinson's estimate (%d probe%s)", s->probes, s->probes > 1 ? "s" : "");
    else snprintf(div, sizeof div, "the exact divergence");
    snprintf(m->note, sizeof m->note,
             "sde nll: the probability-flow ODE from t = %g by dopri5 (rtol %g, atol %g) with %s; %lld network "
             "evaluations for the last batch",
             s->nll_eps, s->rtol, s->atol, div, (long long)nfe);
    return st;
}

/* Σ −log p(x) over the rows (nats): of the data as given, or for images of the pixels
 * dequantized: v = (255·x + u)/256, modelled at y = 2v − 1, −log p(v) = −log p(y) − D·log 2,
 * and the discrete pixels' bound −log p(v) + D·log 256. */
static dgm_status nll_sum(dgm_model *m, dgm_tensor *batch, double *sum)
{
    sde_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const int64_t n = dgm_tensor_dim(batch, 0);
    dgm_tensor *x = batch;
    if (s->image) {
        dgm_tensor *u = NULL;
        const int64_t shape[2] = {n, m->dim};
        DGM_TRY(dgm_rand_uniform(ctx, 2, shape, 0.0f, 1.0f, &u));
        DGM_TRY(dgm_scale(ctx, batch, 255.0f, 0.0f, &x));
        DGM_TRY(dgm_add(ctx, x, u, &x));
        DGM_TRY(dgm_scale(ctx, x, 2.0f / 256.0f, -1.0f, &x));
    }
    double *logp = malloc((size_t)n * sizeof *logp);
    if (!logp) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    sde_run r = {m, NULL, logp};
    dgm_status st = dgm_persist(ctx, x, &r.x);
    if (st == DGM_STATUS_OK) st = dgm_ema_weights_call(m->params, s->ema > 0.0f, run_density, &r);
    const double shift = s->image ? (double)m->dim * (log(256.0) - log(2.0)) : 0.0;
    *sum = 0.0;
    for (int64_t i = 0; st == DGM_STATUS_OK && i < n; i++) *sum += shift - logp[i];
    free(logp);
    dgm_tensor_free(r.x);
    return st;
}

/* "loss": the training loss on held-out rows; "nll": nats per sample; "bpd": the same in
 * bits per dimension. */
static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    if (!strcmp(metric, "nll") || !strcmp(metric, "bpd")) {
        DGM_TRY(nll_sum(m, batch, sum));
        if (!strcmp(metric, "bpd")) *sum /= (double)m->dim * log(2.0);
        return DGM_STATUS_OK;
    }
    dgm_tensor *l = NULL;
    DGM_TRY(dsm(m, batch, &l));
    DGM_TRY(dgm_read_scalar(m->ctx, l, sum));
    *sum *= (double)dgm_tensor_dim(batch, 0);
    return DGM_STATUS_OK;
}

static int64_t sampler_passes(const dgm_model *m)
{
    const sde_state *s = m->state;
    if (s->ode_sampler && s->solver == DGM_ODE_DOPRI5) return s->last_nfe > 0 ? s->last_nfe : 200;
    if (s->ode_sampler)
        return dgm_ode_fixed_nfe(s->solver, s->sample_steps);
    return s->sample_steps * ((s->predictor != DGM_PREDICTOR_NONE ? 1 : 0) + s->corrector_steps);
}

static dgm_status sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    sde_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *x0 = NULL, *x = NULL;
    DGM_TRY(dgm_sde_prior_draw(ctx, &s->sde, n, m->dim, &x0));
    DGM_TRY(dgm_persist(ctx, x0, &x));
    sde_run r = {m, x, NULL};
    dgm_status st = dgm_ema_weights_call(m->params, s->ema > 0.0f, run_sampler, &r);
    if (st == DGM_STATUS_OK) st = dgm_unpersist(ctx, x, out);
    dgm_tensor_free(x);
    DGM_TRY(st);
    if (!s->image) return DGM_STATUS_OK;
    DGM_TRY(dgm_scale(ctx, *out, 0.5f, 0.5f, out)); /* back to [0, 1], clamped */
    return dgm_clamp_values(ctx, *out, 0.0f, 1.0f, out);
}

/* For the "fisher" metric (dgm_mixture_fisher), weighted as the default loss weights it:
 * E_t E_{x_t} std²·|s(x_t, t) − ∇log q_t(x_t)|², q_t the mixture with centres scaled by
 * mean(t) and std(t)² added to its variance. */
static dgm_status noised_output(void *user, dgm_tensor *x, dgm_tensor **xt, dgm_tensor **out, double *coef)
{
    dgm_model *m = user;
    sde_state *s = m->state;
    dgm_tensor *z = NULL, *w = NULL;
    DGM_TRY(noise_and_predict(m, x, &z, xt, out, &w));
    const int64_t rows = dgm_tensor_dim(x, 0);
    for (int64_t r = 0; r < rows; r++) {
        const double mean = s->host[rows + r], std = s->host[2 * rows + r];
        coef[4 * r] = mean;
        coef[4 * r + 1] = std * std;
        coef[4 * r + 2] = 1.0 / std; /* out is std·s */
        coef[4 * r + 3] = std * std;
    }
    return DGM_STATUS_OK;
}

static dgm_status evaluate_samples(dgm_model *m, const dgm_dataset *data, const char *metric, double *value)
{
    if (strcmp(metric, "fisher")) return dgm_model_sample_metric(m, data, metric, value);
    const sde_state *s = m->state;
    return dgm_model_fisher(m, data, noised_output, s->ema > 0.0f, value);
}

/* 2-D: the peer's setup (Song et al.'s: Adam 1e-3, batch 256, gradient-norm clip 1,
 * 60,000 steps); images: batch 128, 10,000 steps, Adam 5e-4 after a 500-step warm-up, as
 * ddpm's and ncsn's. */
static void train_defaults(const json_t *given, int sample_ndim, dgm_train_defaults *t)
{
    const bool image = sample_ndim >= 2;
    if (dgm_time_net_given_unet(given, sample_ndim)) dgm_time_net_unet_run(t);
    else dgm_model_steps_defaults(t, image ? 10000 : 60000, image ? 128 : 256, DGM_OPTIM_ADAM, image ? 5e-4f : 1e-3f,
                                  image ? 500 : 0, 500);
    t->clip = 1.0f;
}

static void destroy(dgm_model *m)
{
    sde_state *s = m->state;
    if (!s) return;
    dgm_time_net_free(&s->net);
    dgm_sde_importance_free(&s->is);
    free(s->host);
    free(s);
}

const dgm_model_ops dgm_sde_ops = {
    .kind = "sde",
    .summary = "score SDE (VP, sub-VP, VE): a time-conditioned network trained by denoising score "
               "matching in continuous time; predictor–corrector or probability-flow ODE sampling, "
               "the exact likelihood by the ODE",
    .options = options,
    .option_types = option_types,
    .metrics = "loss,nll,bpd,w2,modes,high_quality,reverse_kl,fisher",
    .sampling_options = " sampler predictor corrector snr corrector-steps sample-steps solver rtol atol "
                        "sample-eps denoise nll-eps divergence probes ",
    .default_metrics = "loss",
    .sample_metrics = "w2,modes,high_quality,reverse_kl,fisher",
    .evaluate_samples = evaluate_samples,
    .build = build,
    .ready = ready,
    .prepare = prepare,
    .after_step = after_step,
    .train_defaults = train_defaults,
    .legacy_options = dgm_time_net_legacy_options,
    .train_step = train_step,
    .sample = sample,
    .sampler_passes = sampler_passes,
    .evaluate_batch = evaluate_batch,
    .destroy = destroy,
};
