/* Energy-based model: p(x) ∝ exp(−E(x)), E an MLP [d] -> hidden... -> [1].
 *
 * Objectives (--objective):
 *   cd   maximum likelihood by contrastive divergence with persistent chains (Du & Mordatch
 *        2019, IGEBM; Nijkamp et al. 2019): loss mean E(x⁺) − mean E(x⁻) + α·(mean E(x⁺)²
 *        + mean E(x⁻)²), x⁺ the batch, x⁻ a window of B chains of a replay buffer (a
 *        buffer "chains" of the parameter block, so checkpoints keep it), each chain first
 *        restarted uniformly on the data's widened bounding box with probability --reinit,
 *        then moved by K Langevin steps x ← clamp(x − (η²/2)·∇E(x) + η·ξ) (langevin.c) and
 *        written back. The window starts at a uniformly drawn row and wraps around: the
 *        chains are exchangeable, so a window updates the same kind of chains that B
 *        indices drawn at random would, with two copies instead of a scatter.
 *        --langevin decoupled: IGEBM's/JEM's x ← x − λ·∇E + η·ξ with λ (--step-size) not
 *        η²/2: it samples a tempered density, exp(−E·2λ/η²), not exp(−E).
 *   dsm  denoising score matching at one σ: the score −∇ₓE(x + σz) regressed on −z/σ.
 *   ssm  sliced score matching: vᵀ∇ₓs v + ½(vᵀs)², s = −∇ₓE (a third derivative of the
 *        activations reaches the parameters).
 * Sampling: Langevin from uniform noise on the box (--sample-steps, --sample-noise), or the
 * buffer's chains as they are (--sampler buffer).
 * Likelihood (2-D): log Z of exp(−E) by quadrature on a grid over the box
 * (metrics/grid_logz.c), so the test NLL is E(x) + log Z. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/langevin.h"
#include "models/ode.h"
#include "models/model_impl.h"
#include "models/score_matching.h"
#include "metrics/grid_logz.h"

enum { EBM_CD = 0, EBM_DSM, EBM_SSM };

#define EBM_MAX_HIDDEN 8
/* |E| beyond this is a run whose energies are running away (the α term keeps a healthy
 * run's energies near 0). */
#define EBM_ENERGY_LIMIT 1e6
/* The auto noise scale η in units of the data's RMS standard deviation: 0.03 on moons
 * (sklearn's, noise 0.1: RMS std 0.71) and 0.1 on gauss8 (2.03) were the peers' choices. */
#define EBM_NOISE_PER_STD 0.045
/* The sampler's auto η over the training η: chains from uniform noise must cross the box,
 * and a step twice as long mixed in 5,000 steps where the training step had not in 10,000
 * (moons W2 0.172 against 0.180; 0.194 at the training step in 5,000 steps). */
#define EBM_SAMPLE_NOISE 1.4f

typedef struct ebm_state {
    dgm_mlp *net;
    int objective;
    float alpha, reinit, noise_opt, step_opt, grad_clip, margin, dsm_sigma_opt, sample_noise_opt;
    int64_t buffer_n, k_steps, sample_steps;
    bool decoupled, rademacher, sample_buffer;
    double scale; /* the data's RMS std (buffer "data_scale") */
    /* the last finite energies seen in training, for the divergence message */
    double last_pos, last_neg;
    int64_t last_step;
    bool has_last;
    dgm_grid_logz logz;
    bool logz_valid;
    int64_t grid_max;
} ebm_state;

static const dgm_model_option options[] = {
    {"hidden", "128,128,128", "hidden widths of the energy network"},
    {"activation", "silu", "the network's activation: " DGM_MODEL_ACTIVATIONS},
    {"objective", "cd", "cd (contrastive divergence, maximum likelihood), dsm (denoising score "
                        "matching) or ssm (sliced score matching)"},
    {"alpha", "0.1", "cd: weight of the energy regularizer α·(E(x+)² + E(x-)²)"},
    {"buffer", "10000", "cd: replay buffer size (persistent chains)"},
    {"reinit", "0.05", "cd: share of the chains restarted uniformly on the box at each use"},
    {"langevin-steps", "20", "cd: Langevin steps per training step (K)"},
    {"noise", "auto", "Langevin noise scale η (steps of η²/2); auto: 0.045 × the data's RMS std"},
    {"langevin", "true", "true (x -= η²/2·∇E, + η·ξ) or decoupled (x -= step-size·∇E, + η·ξ: "
                         "samples a tempered density, as IGEBM/JEM)"},
    {"step-size", "0", "decoupled Langevin's step λ"},
    {"grad-clip", "0", "clip each value of ∇E in a Langevin step to ±this (0: off)"},
    {"box-margin", "0.25", "chains start in and stay in the data's bounding box widened by "
                           "this fraction per side"},
    {"dsm-sigma", "auto", "dsm: the noise σ; auto: 0.1 × the data's RMS std"},
    {"projection", "rademacher", "ssm: rademacher or gaussian projections"},
    {"sampler", "uniform", "uniform (Langevin from uniform noise on the box) or buffer (cd's chains)"},
    {"sample-steps", "5000", "Langevin steps of the uniform sampler"},
    {"sample-noise", "auto", "the sampler's η; auto: 1.4 × the training η (steps twice as long)"},
    {NULL, NULL, NULL},
};
static const dgm_opt_type option_types[] = {
    DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_FLOAT, DGM_OPT_INT,   DGM_OPT_FLOAT,
    DGM_OPT_INT,    DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_FLOAT, DGM_OPT_FLOAT, DGM_OPT_FLOAT,
    DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_INT,   DGM_OPT_STRING};

static dgm_status bad(dgm_model *m, const char *what)
{
    return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "ebm option %s", what);
}

/* "auto" -> 0 (resolved from the data); a positive number; else -1. */
static float auto_or_positive(const char *text)
{
    if (!strcmp(text, "auto")) return 0.0f;
    char *end = NULL;
    const double v = strtod(text, &end);
    return end != text && !*end && v > 0.0 && isfinite(v) ? (float)v : -1.0f;
}

static dgm_status build(dgm_model *m)
{
    ebm_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    m->state = s;
    int64_t widths[EBM_MAX_HIDDEN + 2];
    const int nh = dgm_model_parse_widths(dgm_config_string(m, "hidden"), widths + 1, EBM_MAX_HIDDEN);
    if (nh < 1) return bad(m, "--hidden: 1 to 8 widths, e.g. 128,128,128");
    const int act = dgm_model_parse_activation(dgm_config_string(m, "activation"));
    if (act < 0) return bad(m, "--activation: expected " DGM_MODEL_ACTIVATIONS);
    const char *obj = dgm_config_string(m, "objective");
    s->objective = !strcmp(obj, "cd") ? EBM_CD : !strcmp(obj, "dsm") ? EBM_DSM : !strcmp(obj, "ssm") ? EBM_SSM : -1;
    if (s->objective < 0) return bad(m, "--objective: cd, dsm or ssm");
    s->alpha = (float)dgm_config_float(m, "alpha");
    if (!(s->alpha >= 0.0f && s->alpha <= 1e3f)) return bad(m, "--alpha: 0 to 1000");
    s->buffer_n = dgm_config_int(m, "buffer");
    if (s->buffer_n < 1 || s->buffer_n > 10000000) return bad(m, "--buffer: 1 to 10000000 chains");
    s->reinit = (float)dgm_config_float(m, "reinit");
    if (!(s->reinit >= 0.0f && s->reinit <= 1.0f)) return bad(m, "--reinit: in [0, 1]");
    s->k_steps = dgm_config_int(m, "langevin-steps");
    if (s->k_steps < 1 || s->k_steps > 10000) return bad(m, "--langevin-steps: 1 to 10000");
    s->noise_opt = auto_or_positive(dgm_config_string(m, "noise"));
    if (s->noise_opt < 0.0f) return bad(m, "--noise: auto or a positive number");
    const char *lv = dgm_config_string(m, "langevin");
    if (strcmp(lv, "true") && strcmp(lv, "decoupled")) return bad(m, "--langevin: true or decoupled");
    s->decoupled = !strcmp(lv, "decoupled");
    s->step_opt = (float)dgm_config_float(m, "step-size");
    if (s->decoupled ? !(s->step_opt > 0.0f && isfinite(s->step_opt)) : s->step_opt != 0.0f)
        return bad(m, "--step-size: a positive number with --langevin decoupled (and only there)");
    s->grad_clip = (float)dgm_config_float(m, "grad-clip");
    if (!(s->grad_clip >= 0.0f && isfinite(s->grad_clip))) return bad(m, "--grad-clip: 0 (off) or positive");
    s->margin = (float)dgm_config_float(m, "box-margin");
    if (!(s->margin >= 0.0f && s->margin <= 10.0f)) return bad(m, "--box-margin: 0 to 10");
    s->dsm_sigma_opt = auto_or_positive(dgm_config_string(m, "dsm-sigma"));
    if (s->dsm_sigma_opt < 0.0f) return bad(m, "--dsm-sigma: auto or a positive number");
    const char *proj = dgm_config_string(m, "projection");
    if (strcmp(proj, "rademacher") && strcmp(proj, "gaussian")) return bad(m, "--projection: rademacher or gaussian");
    s->rademacher = !strcmp(proj, "rademacher");
    const char *sampler = dgm_config_string(m, "sampler");
    if (strcmp(sampler, "uniform") && strcmp(sampler, "buffer")) return bad(m, "--sampler: uniform or buffer");
    s->sample_buffer = !strcmp(sampler, "buffer");
    if (s->sample_buffer && s->objective != EBM_CD) return bad(m, "--sampler buffer: only with --objective cd (the others keep no chains)");
    s->sample_steps = dgm_config_int(m, "sample-steps");
    if (s->sample_steps < 1 || s->sample_steps > 1000000) return bad(m, "--sample-steps: 1 to 1000000");
    s->sample_noise_opt = auto_or_positive(dgm_config_string(m, "sample-noise"));
    if (s->sample_noise_opt < 0.0f) return bad(m, "--sample-noise: auto or a positive number");
    s->grid_max = 2048;

    widths[0] = m->dim;
    widths[nh + 1] = 1;
    dgm_mlp_config cfg = dgm_mlp_config_default();
    cfg.activation = (dgm_activation)act;
    DGM_TRY(dgm_mlp_create(m->params, "net", nh + 2, widths, &cfg, &s->net));
    const int64_t box_shape[2] = {2, m->dim}, one[1] = {1};
    DGM_TRY(dgm_params_add_buffer(m->params, "box", 2, box_shape, (dgm_init){DGM_INIT_ZEROS, 0.0f, 0.0f}));
    DGM_TRY(dgm_params_add_buffer(m->params, "data_scale", 1, one, (dgm_init){DGM_INIT_ZEROS, 0.0f, 0.0f}));
    if (s->objective == EBM_CD) {
        const int64_t chains[2] = {s->buffer_n, m->dim};
        DGM_TRY(dgm_params_add_buffer(m->params, "chains", 2, chains, (dgm_init){DGM_INIT_ZEROS, 0.0f, 0.0f}));
    }
    return DGM_STATUS_OK;
}

static dgm_tensor *param(dgm_model *m, const char *name) { return dgm_params_get(m->params, name); }

/* The host copy of data_scale (after a load or prepare). */
static dgm_status read_scale(dgm_model *m)
{
    ebm_state *s = m->state;
    float v = 0.0f;
    DGM_TRY(dgm_tensor_to_host(m->ctx, param(m, "data_scale"), &v));
    s->scale = v > 0.0f ? v : 1.0;
    s->logz_valid = false;
    return DGM_STATUS_OK;
}

static dgm_status ready(dgm_model *m) { return read_scale(m); }

static float noise_scale(const ebm_state *s)
{
    return s->noise_opt > 0.0f ? s->noise_opt : (float)(EBM_NOISE_PER_STD * s->scale);
}

static dgm_langevin langevin_config(dgm_model *m, float noise)
{
    ebm_state *s = m->state;
    const float step = s->decoupled ? s->step_opt : 0.5f * noise * noise;
    return (dgm_langevin){step, noise, s->grad_clip, param(m, "box")};
}

/* A fresh model: the box and scale from the data, every chain uniform on the box. */
static dgm_status prepare(dgm_model *m, const dgm_dataset *data, bool init_params)
{
    ebm_state *s = m->state;
    if (!init_params) return DGM_STATUS_OK;
    dgm_ctx *ctx = m->ctx;
    float *box = malloc((size_t)(2 * m->dim) * sizeof *box);
    if (!box) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    dgm_status st = dgm_data_box(ctx, data, s->margin, box, box + m->dim);
    for (int64_t j = 0; st == DGM_STATUS_OK && j < m->dim; j++)
        if (!(box[m->dim + j] > box[j]))
            st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                               "ebm: the data's column %lld is constant (%g): the chains' box is empty",
                               (long long)j, box[j]);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, param(m, "box"), box);
    free(box);
    DGM_TRY(st);
    const float scale = (float)dgm_data_rms_std(data);
    DGM_TRY(dgm_tensor_copy_from_host(ctx, param(m, "data_scale"), &scale));
    DGM_TRY(read_scale(m));
    if (s->objective != EBM_CD) return DGM_STATUS_OK;
    dgm_tensor *u = NULL;
    DGM_TRY(dgm_box_uniform(ctx, param(m, "box"), s->buffer_n, &u));
    DGM_TRY(dgm_tensor_copy(ctx, param(m, "chains"), u));
    return dgm_ctx_step_end(ctx);
}

/* E(x) [B, 1]. */
static dgm_status energy(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    ebm_state *s = m->state;
    return dgm_mlp_forward(m->ctx, s->net, x, true, out);
}

/* −∇ₓE(x) at a copy of x marked for its gradient (not differentiable further). */
static dgm_status score_of(void *user, dgm_tensor *x, int level, dgm_tensor **out)
{
    (void)level;
    dgm_model *m = user;
    dgm_ctx *ctx = m->ctx;
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, true);
    dgm_tensor *xg = NULL, *e = NULL;
    const int64_t shape[2] = {dgm_tensor_dim(x, 0), dgm_tensor_dim(x, 1)};
    dgm_status st = dgm_tensor_new(ctx, 2, shape, &xg);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy(ctx, xg, x);
    if (st == DGM_STATUS_OK) st = dgm_tensor_set_requires_grad(xg, true);
    if (st == DGM_STATUS_OK) st = energy(m, xg, &e);
    if (st == DGM_STATUS_OK) st = dgm_energy_score(ctx, e, xg, false, out);
    dgm_ctx_set_grad_enabled(ctx, grad);
    return st;
}

/* Copies rows [start, start + n) of the buffer (wrapping) to or from x [n, d]. */
static dgm_status window_copy(dgm_model *m, dgm_tensor *x, int64_t start, bool to_buffer)
{
    ebm_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const int64_t n = dgm_tensor_dim(x, 0), d = m->dim;
    float *buf = dgm_tensor_data(param(m, "chains")), *xs = dgm_tensor_data(x);
    const int64_t first = s->buffer_n - start < n ? s->buffer_n - start : n;
    const size_t row = (size_t)d * sizeof(float);
    if (to_buffer) {
        DGM_TRY(ctx->be->copy(ctx, buf + start * d, xs, (size_t)first * row, DGM_COPY_DEVICE_TO_DEVICE));
        if (first < n) DGM_TRY(ctx->be->copy(ctx, buf, xs + first * d, (size_t)(n - first) * row, DGM_COPY_DEVICE_TO_DEVICE));
    } else {
        DGM_TRY(ctx->be->copy(ctx, xs, buf + start * d, (size_t)first * row, DGM_COPY_DEVICE_TO_DEVICE));
        if (first < n) DGM_TRY(ctx->be->copy(ctx, xs + first * d, buf, (size_t)(n - first) * row, DGM_COPY_DEVICE_TO_DEVICE));
    }
    return DGM_STATUS_OK;
}

/* B chains from the buffer, some restarted, moved by K Langevin steps and written back. */
static dgm_status negatives(dgm_model *m, int64_t rows, dgm_tensor **out)
{
    ebm_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    if (rows > s->buffer_n)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "ebm: batch %lld exceeds the buffer's %lld chains",
                             (long long)rows, (long long)s->buffer_n);
    const int64_t one[2] = {1, 1}, shape[2] = {rows, m->dim}, col[2] = {rows, 1};
    dgm_tensor *u = NULL, *x = NULL, *p = NULL, *mask = NULL, *fresh = NULL, *diff = NULL;
    float uh = 0.0f;
    DGM_TRY(dgm_rand_uniform(ctx, 2, one, 0.0f, 1.0f, &u));
    DGM_TRY(dgm_tensor_to_host(ctx, u, &uh));
    int64_t start = (int64_t)(uh * (float)s->buffer_n);
    start = start < 0 ? 0 : start >= s->buffer_n ? s->buffer_n - 1 : start;
    DGM_TRY(dgm_tensor_new(ctx, 2, shape, &x));
    DGM_TRY(window_copy(m, x, start, false));
    if (s->reinit > 0.0f) { /* x + mask·(fresh − x) */
        DGM_TRY(dgm_tensor_new(ctx, 2, col, &p));
        DGM_TRY(dgm_tensor_fill(ctx, p, s->reinit));
        DGM_TRY(dgm_bernoulli(ctx, p, &mask));
        DGM_TRY(dgm_box_uniform(ctx, param(m, "box"), rows, &fresh));
        DGM_TRY(dgm_sub(ctx, fresh, x, &diff));
        DGM_TRY(dgm_mul(ctx, diff, mask, &diff));
        DGM_TRY(dgm_add(ctx, x, diff, &x));
    }
    const dgm_langevin cfg = langevin_config(m, noise_scale(s));
    for (int64_t k = 0; k < s->k_steps; k++) {
        dgm_tensor *sc = NULL;
        DGM_TRY(score_of(m, x, -1, &sc));
        DGM_TRY(dgm_langevin_step(ctx, &cfg, x, sc, &x));
    }
    DGM_TRY(window_copy(m, x, start, true));
    *out = x;
    return DGM_STATUS_OK;
}

static dgm_status mean_of(dgm_ctx *ctx, dgm_tensor *x, bool square, dgm_tensor **out)
{
    dgm_tensor *v = x;
    if (square) DGM_TRY(dgm_square(ctx, x, &v));
    return dgm_mean(ctx, v, DGM_AXIS_ALL, out);
}

/* Stops a run whose energies left the finite range, naming the last finite ones. */
static dgm_status check_energies(dgm_model *m, dgm_tensor *pos, dgm_tensor *neg, int64_t step)
{
    ebm_state *s = m->state;
    float v[2] = {0.0f, 0.0f};
    DGM_TRY(dgm_tensor_to_host(m->ctx, pos, v));
    DGM_TRY(dgm_tensor_to_host(m->ctx, neg, v + 1));
    if (isfinite(v[0]) && isfinite(v[1]) && fabsf(v[0]) < EBM_ENERGY_LIMIT && fabsf(v[1]) < EBM_ENERGY_LIMIT) {
        s->last_pos = v[0];
        s->last_neg = v[1];
        s->last_step = step;
        s->has_last = true;
        return DGM_STATUS_OK;
    }
    char last[160] = "none in this process";
    if (s->has_last)
        snprintf(last, sizeof last, "%.4g on the data, %.4g on the chains at step %lld", s->last_pos,
                 s->last_neg, (long long)s->last_step);
    return dgm_set_error(m->ctx, DGM_STATUS_NOT_FINITE,
                         "the ebm's energies diverged (mean %.4g on the data, %.4g on the chains; "
                         "last finite: %s; try a lower --lr, a larger --alpha or --grad-clip)",
                         v[0], v[1], last);
}

static dgm_status cd_loss(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    ebm_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *neg = NULL, *ep = NULL, *en = NULL, *mp = NULL, *mn = NULL, *qp = NULL, *qn = NULL, *reg = NULL;
    DGM_TRY(negatives(m, dgm_tensor_dim(batch, 0), &neg));
    DGM_TRY(energy(m, batch, &ep));
    DGM_TRY(energy(m, neg, &en));
    DGM_TRY(mean_of(ctx, ep, false, &mp));
    DGM_TRY(mean_of(ctx, en, false, &mn));
    DGM_TRY(check_energies(m, mp, mn, step));
    DGM_TRY(mean_of(ctx, ep, true, &qp));
    DGM_TRY(mean_of(ctx, en, true, &qn));
    DGM_TRY(dgm_add(ctx, qp, qn, &reg));
    DGM_TRY(dgm_scale(ctx, reg, s->alpha, 0.0f, &reg));
    DGM_TRY(dgm_sub(ctx, mp, mn, loss));
    return dgm_add(ctx, *loss, reg, loss);
}

static float dsm_sigma(const ebm_state *s)
{
    return s->dsm_sigma_opt > 0.0f ? s->dsm_sigma_opt : (float)(0.1 * s->scale);
}

/* dsm and ssm: a loss of the score −∇ₓE, kept differentiable. */
static dgm_status score_loss(dgm_model *m, dgm_tensor *batch, dgm_tensor **loss)
{
    ebm_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const int64_t shape[2] = {dgm_tensor_dim(batch, 0), m->dim};
    dgm_tensor *x = NULL, *z = NULL, *e = NULL, *sc = NULL, *v = NULL;
    DGM_TRY(dgm_tensor_new(ctx, 2, shape, &x));
    if (s->objective == EBM_DSM) {
        const float sigma = dsm_sigma(s);
        DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, &z));
        DGM_TRY(dgm_scale(ctx, z, sigma, 0.0f, &x));
        DGM_TRY(dgm_add(ctx, batch, x, &x));
        DGM_TRY(dgm_tensor_set_requires_grad(x, true));
        DGM_TRY(energy(m, x, &e));
        DGM_TRY(dgm_energy_score(ctx, e, x, true, &sc));
        DGM_TRY(dgm_scale(ctx, sc, sigma, 0.0f, &sc));
        return dgm_dsm_loss(ctx, sc, z, loss);
    }
    DGM_TRY(dgm_tensor_copy(ctx, x, batch));
    DGM_TRY(dgm_tensor_set_requires_grad(x, true));
    DGM_TRY(energy(m, x, &e));
    DGM_TRY(dgm_energy_score(ctx, e, x, true, &sc));
    DGM_TRY(dgm_ssm_projections(ctx, shape[0], m->dim, s->rademacher, &v));
    return dgm_ssm_loss(ctx, x, sc, v, loss);
}

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    ebm_state *s = m->state;
    s->logz_valid = false;
    if (s->objective == EBM_CD) return cd_loss(m, batch, step, loss);
    return score_loss(m, batch, loss);
}

/* log q = −E of host points, for the grid. */
static dgm_status log_q_points(void *user, const float *pts, int64_t n, double *out)
{
    dgm_model *m = user;
    dgm_ctx *ctx = m->ctx;
    const int64_t shape[2] = {n, 2};
    dgm_tensor *x = NULL, *e = NULL;
    float *host = malloc((size_t)n * sizeof *host);
    if (!host) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    dgm_status st = dgm_tensor_from_host(ctx, 2, shape, pts, &x);
    if (st == DGM_STATUS_OK) st = energy(m, x, &e);
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(ctx, e, host);
    for (int64_t i = 0; st == DGM_STATUS_OK && i < n; i++) out[i] = -(double)host[i];
    dgm_ctx_set_grad_enabled(ctx, grad);
    free(host);
    const dgm_status end = dgm_ctx_step_end(ctx);
    return st != DGM_STATUS_OK ? st : end;
}

/* log Z over the box, refined until it moves by < 0.005 nats; noted for the caller. */
static dgm_status log_partition(dgm_model *m, double *logz)
{
    ebm_state *s = m->state;
    if (m->dim != 2)
        return dgm_set_error(m->ctx, DGM_STATUS_UNSUPPORTED,
                             "ebm: the normalizing constant is computed on a grid in 2-D only (this model has %lld dimensions)",
                             (long long)m->dim);
    if (!s->logz_valid) {
        float box[4];
        DGM_TRY(dgm_tensor_to_host(m->ctx, param(m, "box"), box));
        const double lo[2] = {box[0], box[1]}, hi[2] = {box[2], box[3]};
        DGM_TRY(dgm_grid_log_partition(m->ctx, log_q_points, m, lo, hi, 0.005, 128, s->grid_max, &s->logz));
        s->logz_valid = true;
        snprintf(m->note, sizeof m->note,
                 "ebm: log Z = %.4f by the midpoint rule on a %lld x %lld grid over [%.4g, %.4g] x "
                 "[%.4g, %.4g] (the data's box widened by %g per side); halving the cells changed it by %.2g nats%s",
                 s->logz.logz, (long long)s->logz.grid, (long long)s->logz.grid, lo[0], hi[0], lo[1], hi[1],
                 s->margin, s->logz.change, s->logz.change < 0.005 ? "" : " (NOT below 0.005: the grid hit its cap)");
    }
    *logz = s->logz.logz;
    return DGM_STATUS_OK;
}

/* log_partition for a call that holds the step tensor *x: the grid ends steps, so x waits
 * in a persistent copy and comes back as a new step tensor. */
static dgm_status log_partition_keeping(dgm_model *m, dgm_tensor **x, double *logz)
{
    ebm_state *s = m->state;
    if (s->logz_valid) return (*logz = s->logz.logz, DGM_STATUS_OK);
    dgm_tensor *keep = NULL;
    DGM_TRY(dgm_persist(m->ctx, *x, &keep));
    dgm_status st = dgm_ctx_step_end(m->ctx);
    if (st == DGM_STATUS_OK) st = log_partition(m, logz);
    if (st == DGM_STATUS_OK) st = dgm_unpersist(m->ctx, keep, x);
    dgm_tensor_free(keep);
    return st;
}

/* log p(x) = −E(x) − log Z per row. */
static dgm_status log_density(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    double logz = 0.0;
    dgm_tensor *e = NULL;
    DGM_TRY(log_partition_keeping(m, &x, &logz));
    DGM_TRY(energy(m, x, &e));
    return dgm_scale(m->ctx, e, -1.0f, (float)-logz, out);
}

/* "nll": E(x) + log Z per row (2-D); "energy": E(x). */
static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    dgm_tensor *e = NULL, *t = NULL;
    double logz = 0.0;
    if (!strcmp(metric, "nll")) DGM_TRY(log_partition_keeping(m, &batch, &logz));
    DGM_TRY(energy(m, batch, &e));
    DGM_TRY(dgm_sum(m->ctx, e, DGM_AXIS_ALL, &t));
    DGM_TRY(dgm_read_scalar(m->ctx, t, sum));
    *sum += logz * (double)dgm_tensor_dim(batch, 0);
    return DGM_STATUS_OK;
}

static int64_t sampler_passes(const dgm_model *m)
{
    const ebm_state *s = m->state;
    return s->sample_buffer ? 1 : s->sample_steps;
}

static dgm_status sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    ebm_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const int64_t shape[2] = {n, m->dim};
    dgm_tensor *x0 = NULL, *x = NULL;
    if (s->sample_buffer) { /* the first n chains (cycling when n exceeds the buffer) */
        DGM_TRY(dgm_tensor_new(ctx, 2, shape, out));
        for (int64_t r = 0; r < n; r += s->buffer_n) {
            const int64_t rows = n - r < s->buffer_n ? n - r : s->buffer_n;
            DGM_TRY(ctx->be->copy(ctx, dgm_tensor_data(*out) + r * m->dim, dgm_tensor_data(param(m, "chains")),
                                  (size_t)(rows * m->dim) * sizeof(float), DGM_COPY_DEVICE_TO_DEVICE));
        }
        return DGM_STATUS_OK;
    }
    DGM_TRY(dgm_box_uniform(ctx, param(m, "box"), n, &x0));
    DGM_TRY(dgm_persist(ctx, x0, &x));
    const dgm_langevin cfg =
        langevin_config(m, s->sample_noise_opt > 0.0f ? s->sample_noise_opt : EBM_SAMPLE_NOISE * noise_scale(s));
    dgm_status st = dgm_langevin_run(ctx, &cfg, score_of, m, -1, x, s->sample_steps);
    if (st == DGM_STATUS_OK) st = dgm_unpersist(ctx, x, out);
    dgm_tensor_free(x);
    return st;
}

/* For the "fisher" metric (dgm_mixture_fisher): the score −∇E at the data themselves. */
static dgm_status noised_output(void *user, dgm_tensor *x, dgm_tensor **xt, dgm_tensor **out, double *coef)
{
    *xt = x;
    for (int64_t r = 0; r < dgm_tensor_dim(x, 0); r++) {
        coef[4 * r] = coef[4 * r + 2] = coef[4 * r + 3] = 1.0;
        coef[4 * r + 1] = 0.0;
    }
    return score_of(user, x, -1, out);
}

/* "fisher": E_data |−∇E(x) − ∇log p(x)|² over 2,000 rows of a mixture toy; the sample
 * metrics of every 2-D family otherwise. */
static dgm_status evaluate_samples(dgm_model *m, const dgm_dataset *data, const char *metric,
                                   double *value)
{
    if (strcmp(metric, "fisher")) return dgm_model_sample_metric(m, data, metric, value);
    dgm_mixture_toy toy;
    DGM_TRY(dgm_mixture_toy_of(m->ctx, data, m->dim, "ebm metric fisher", &toy));
    DGM_TRY(dgm_mixture_fisher(m->ctx, &toy, data, noised_output, m, value));
    return dgm_ctx_step_end(m->ctx);
}

/* The peers' setup: Adam 3e-4 with betas (0, 0.999) (IGEBM's β1 = 0), batch 256, 18,000
 * steps. */
static void train_defaults(const json_t *given, int sample_ndim, dgm_train_defaults *t)
{
    (void)given;
    (void)sample_ndim;
    dgm_model_steps_defaults(t, 18000, 256, DGM_OPTIM_ADAM, 3e-4f, 0, 500);
    t->optim.beta1 = 0.0f;
}

static dgm_status check_batch_size(dgm_model *m, int64_t batch)
{
    ebm_state *s = m->state;
    if (s->objective == EBM_CD && batch > s->buffer_n)
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "batch %lld: at most the buffer's %lld chains (--buffer)", (long long)batch,
                             (long long)s->buffer_n);
    return DGM_STATUS_OK;
}

static void destroy(dgm_model *m)
{
    ebm_state *s = m->state;
    if (!s) return;
    dgm_mlp_free(s->net);
    free(s);
}

const dgm_model_ops dgm_ebm_ops = {
    .kind = "ebm",
    .summary = "energy-based model: an MLP energy trained by contrastive divergence with a "
               "replay buffer of Langevin chains, or by denoising/sliced score matching; "
               "Langevin sampling; exact 2-D likelihood by grid normalization",
    .options = options,
    .option_types = option_types,
    .metrics = "nll,energy,w2,modes,high_quality,reverse_kl,fisher",
    .sampling_options = " sampler sample-steps sample-noise ",
    .default_metrics = "nll",
    .sample_metrics = "w2,modes,high_quality,reverse_kl,fisher",
    .evaluate_samples = evaluate_samples,
    .build = build,
    .ready = ready,
    .prepare = prepare,
    .train_defaults = train_defaults,
    .train_step = train_step,
    .sample = sample,
    .sampler_passes = sampler_passes,
    .evaluate_batch = evaluate_batch,
    .log_density = log_density,
    .check_batch_size = check_batch_size,
    .destroy = destroy,
};
