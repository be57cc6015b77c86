/* DDPM (Ho et al. 2020): a fixed forward process q(x_t | x_0) = N(√ᾱ_t·x_0, (1 − ᾱ_t)·I)
 * over t = 0 .. T−1 (β_t from the linear or the cosine schedule, α_t = 1 − β_t, ᾱ_t their
 * product), and a network ε_θ(x_t, t) trained on the simple loss E‖ε − ε_θ(√ᾱ_t·x_0 +
 * √(1 − ᾱ_t)·ε, t)‖², t uniform.
 *
 * The network: an MLP of [x, sinusoidal embedding of t] (time_net.c). With --ema d > 0
 * (default 0.999) a moving average of its weights (buffers ema.*, ema_weights.c) is what
 * samples. The schedule's tables are computed on the host in double when the model is
 * built. A training step draws t on the device (cuRAND, as every draw), reads the B draws
 * back to look the coefficients up, and uploads them as [B, 1] columns.
 *
 * Sampling from x_{T−1} ~ N(0, I) (the model warns when ᾱ_{T−1} > 1e-3: then x_{T−1} is far
 * from N(0, I) and samples come out shifted):
 *   ancestral: x_{t−1} = (x_t − β_t/√(1 − ᾱ_t)·ε̂)/√α_t + σ_t·z over all T steps, σ_t² = β_t
 *     (--variance beta) or the posterior's β̃_t = β_t·(1 − ᾱ_{t−1})/(1 − ᾱ_t) (posterior);
 *     with --clip-x0 the mean is the posterior mean at the predicted x̂_0 clipped to [−1, 1];
 *   ddim (Song et al. 2021): --sample-steps S timesteps i·⌊T/S⌋ (the paper's uniform skip),
 *     x_prev = √ᾱ_prev·x̂_0 + √(1 − ᾱ_prev − σ²)·ε̂ + σ·z with σ = η·√((1 − ᾱ_prev)/(1 − ᾱ_t))
 *     ·√(1 − ᾱ_t/ᾱ_prev) (η = --eta; 0: deterministic).
 * Images (samples of 2 or more dims, values in [0, 1]) are modelled in [−1, 1]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/ema_weights.h"
#include "models/model_impl.h"
#include "models/ode.h"
#include "models/time_net.h"
#include "models/score_matching.h"

typedef struct ddpm_state {
    int64_t T;
    double *beta, *alpha_bar; /* [T], host */
    dgm_time_net net;
    float ema;
    bool ema_started;
    bool image, clip, posterior, ddim;
    int64_t sample_steps;
    float eta;
    float *host_t; /* [batch] host scratch for the t draws */
    int64_t host_cap;
} ddpm_state;

static const dgm_model_option options[] = {
    {"timesteps", "1000", "diffusion steps T"},
    {"schedule", "linear", "β schedule: linear (1e-4 to 0.02) or cosine (Nichol & Dhariwal)"},
    {"hidden", "auto", "hidden widths of the noise network; auto: 128,128,128, on images "
                       "1024,1024,1024"},
    {"embedding", "128", "width of the sinusoidal time embedding"},
    {"activation", "gelu", "the network's activation: " DGM_MODEL_ACTIVATIONS},
    {"ema", "0.999", "decay of the weights' moving average used for sampling (0: off)"},
    {"sampler", "ancestral", "ancestral (all T steps) or ddim"},
    {"sample-steps", "50", "DDIM's steps"},
    {"eta", "0", "DDIM's η (0: deterministic, 1: ancestral-like)"},
    {"variance", "beta", "ancestral σ_t²: beta or posterior"},
    {"clip-x0", "auto", "clip the predicted x_0 to [-1, 1] when sampling: true, false, auto (images)"},
    DGM_TIME_NET_OPTIONS,
    {NULL, NULL, NULL},
};
static const dgm_opt_type option_types[] = {DGM_OPT_INT, DGM_OPT_STRING, DGM_OPT_STRING,
                                            DGM_OPT_INT, DGM_OPT_STRING, DGM_OPT_FLOAT,
                                            DGM_OPT_STRING, DGM_OPT_INT, DGM_OPT_FLOAT,
                                            DGM_OPT_STRING, DGM_OPT_STRING,
    DGM_TIME_NET_OPTION_TYPES};

static dgm_status bad(dgm_model *m, const char *what)
{
    return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "ddpm option %s", what);
}

/* β_t and ᾱ_t on the host, in double. Cosine: ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 +
 * s)·π/2), s = 0.008, β_t = 1 − ᾱ_t/ᾱ_{t−1} clipped to 0.999 (Nichol & Dhariwal 2021). */
static void make_schedule(ddpm_state *s, bool cosine)
{
    const int64_t T = s->T;
    double prod = 1.0;
    for (int64_t t = 0; t < T; t++) {
        if (cosine) {
            const double ss = 0.008, half_pi = 1.5707963267948966;
            const double f0 = cos(ss / (1.0 + ss) * half_pi);
            const double f = cos(((double)(t + 1) / (double)T + ss) / (1.0 + ss) * half_pi);
            const double ab = (f * f) / (f0 * f0);
            s->beta[t] = fmin(1.0 - ab / prod, 0.999);
        } else {
            s->beta[t] = T == 1 ? 1e-4 : 1e-4 + (0.02 - 1e-4) * (double)t / (double)(T - 1);
        }
        prod *= 1.0 - s->beta[t];
        s->alpha_bar[t] = prod;
    }
}

static dgm_status build(dgm_model *m)
{
    ddpm_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    m->state = s;
    s->T = dgm_config_int(m, "timesteps");
    if (s->T < 1 || s->T > 100000) return bad(m, "--timesteps: 1 to 100000");
    const char *sched = dgm_config_string(m, "schedule");
    if (strcmp(sched, "linear") && strcmp(sched, "cosine")) return bad(m, "--schedule: linear or cosine");
    s->image = m->sample_ndim >= 2;
    const char *ht = dgm_config_string(m, "hidden");
    if (!strcmp(ht, "auto")) ht = s->image ? "1024,1024,1024" : "128,128,128";
    int64_t hidden[DGM_TIME_NET_MAX_HIDDEN];
    const int nh = dgm_model_parse_widths(ht, hidden, DGM_TIME_NET_MAX_HIDDEN);
    if (nh < 1) return bad(m, "--hidden: auto, or 1 to 8 widths, e.g. 128,128,128");
    const int64_t emb = dgm_config_int(m, "embedding");
    if (emb < 2 || emb > 4096) return bad(m, "--embedding: 2 to 4096");
    const int act = dgm_model_parse_activation(dgm_config_string(m, "activation"));
    if (act < 0) return bad(m, "--activation: expected " DGM_MODEL_ACTIVATIONS);
    s->ema = (float)dgm_config_float(m, "ema");
    if (!(s->ema >= 0.0f && s->ema < 1.0f)) return bad(m, "--ema: in [0, 1)");
    const char *sampler = dgm_config_string(m, "sampler");
    if (strcmp(sampler, "ancestral") && strcmp(sampler, "ddim")) return bad(m, "--sampler: ancestral or ddim");
    s->ddim = !strcmp(sampler, "ddim");
    s->sample_steps = dgm_config_int(m, "sample-steps");
    if (s->sample_steps < 1 || (s->ddim && s->sample_steps > s->T))
        return bad(m, "--sample-steps: 1 to T (DDIM's steps)");
    s->eta = (float)dgm_config_float(m, "eta");
    if (!(s->eta >= 0.0f && s->eta <= 1.0f)) return bad(m, "--eta: in [0, 1]");
    const char *var = dgm_config_string(m, "variance");
    if (strcmp(var, "beta") && strcmp(var, "posterior")) return bad(m, "--variance: beta or posterior");
    s->posterior = !strcmp(var, "posterior");
    const char *clip = dgm_config_string(m, "clip-x0");
    if (strcmp(clip, "auto") && strcmp(clip, "true") && strcmp(clip, "false")) return bad(m, "--clip-x0: true, false or auto");
    s->clip = !strcmp(clip, "true") || (!strcmp(clip, "auto") && s->image);

    s->beta = malloc((size_t)s->T * sizeof *s->beta);
    s->alpha_bar = malloc((size_t)s->T * sizeof *s->alpha_bar);
    if (!s->beta || !s->alpha_bar) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    make_schedule(s, !strcmp(sched, "cosine"));
    if (s->alpha_bar[s->T - 1] > 1e-3)
        snprintf(m->warning, sizeof m->warning,
                 "ddpm: ᾱ at the last step is %.3g (> 1e-3): sampling starts from N(0, I) far "
                 "from the noised data, and samples come out shifted; use more --timesteps "
                 "or the cosine schedule", s->alpha_bar[s->T - 1]);
    DGM_TRY(dgm_time_net_create(m, "net", (int)emb, nh, hidden, (dgm_activation)act, &s->net));
    if (s->ema > 0.0f) DGM_TRY(dgm_ema_weights_declare(m->params));
    return DGM_STATUS_OK;
}

/* The average starts at the initial weights; ready runs again after a checkpoint's
 * tensors are loaded, which must keep the saved average. */
static dgm_status ready(dgm_model *m)
{
    ddpm_state *s = m->state;
    if (s->ema <= 0.0f || s->ema_started) return DGM_STATUS_OK;
    s->ema_started = true;
    return dgm_ema_weights_reset(m->params);
}

static dgm_status after_step(dgm_model *m, int64_t step)
{
    ddpm_state *s = m->state;
    return s->ema > 0.0f ? dgm_ema_weights_update(m->params, dgm_ema_weights_decay(s->ema, step))
                         : DGM_STATUS_OK;
}

/* Images to [−1, 1]. */
static dgm_status to_model_space(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    ddpm_state *s = m->state;
    if (!s->image) return (*out = x, DGM_STATUS_OK);
    return dgm_scale(m->ctx, x, 2.0f, -1.0f, out);
}

/* Per-row noise level: t uniform in 0 .. T−1 drawn on the device, the columns t, √ᾱ_t and
 * √(1 − ᾱ_t) uploaded. */
static dgm_status draw_t(dgm_model *m, int64_t rows, dgm_tensor **t, dgm_tensor **a, dgm_tensor **b)
{
    ddpm_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    if (rows > s->host_cap) {
        float *p = realloc(s->host_t, (size_t)(3 * rows) * sizeof *p);
        if (!p) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
        s->host_t = p;
        s->host_cap = rows;
    }
    const int64_t shape[2] = {rows, 1};
    dgm_tensor *u = NULL;
    DGM_TRY(dgm_rand_uniform(ctx, 2, shape, 0.0f, 1.0f, &u));
    float *ht = s->host_t, *ha = ht + rows, *hb = ha + rows;
    DGM_TRY(dgm_tensor_to_host(ctx, u, ht));
    for (int64_t i = 0; i < rows; i++) {
        int64_t k = (int64_t)(ht[i] * (float)s->T);
        k = k < 0 ? 0 : k >= s->T ? s->T - 1 : k;
        ht[i] = (float)k;
        ha[i] = (float)sqrt(s->alpha_bar[k]);
        hb[i] = (float)sqrt(1.0 - s->alpha_bar[k]);
    }
    DGM_TRY(dgm_tensor_from_host(ctx, 2, shape, ht, t));
    DGM_TRY(dgm_tensor_from_host(ctx, 2, shape, ha, a));
    return dgm_tensor_from_host(ctx, 2, shape, hb, b);
}

/* Each row of x0 noised at its own t (drawn by draw_t, whose host copy of t stays in
 * s->host_t): x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, and the network's ε̂(x_t, t). */
static dgm_status noise_and_predict(dgm_model *m, dgm_tensor *x0, dgm_tensor **eps, dgm_tensor **xt,
                                    dgm_tensor **pred)
{
    ddpm_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *t = NULL, *a = NULL, *b = NULL, *xa = NULL;
    const int64_t rows = dgm_tensor_dim(x0, 0), shape[2] = {rows, m->dim};
    DGM_TRY(draw_t(m, rows, &t, &a, &b));
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, eps));
    DGM_TRY(dgm_mul(ctx, x0, a, &xa));
    DGM_TRY(dgm_mul(ctx, *eps, b, xt));
    DGM_TRY(dgm_add(ctx, xa, *xt, xt));
    return dgm_time_net_forward(ctx, &s->net, *xt, t, pred);
}

/* The loss per row [B, 1] (sum of squares over columns) of a batch. */
static dgm_status noise_loss(dgm_model *m, dgm_tensor *batch, dgm_reduction red, dgm_tensor **out)
{
    dgm_tensor *x0 = NULL, *eps = NULL, *xt = NULL, *pred = NULL;
    DGM_TRY(to_model_space(m, batch, &x0));
    DGM_TRY(noise_and_predict(m, x0, &eps, &xt, &pred));
    return dgm_mse(m->ctx, pred, eps, red, out);
}

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    (void)step;
    return noise_loss(m, batch, DGM_REDUCTION_MEAN, loss);
}

/* "loss": the simple loss on held-out rows (mean squared error per value, one t and ε
 * per row). */
static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    (void)metric;
    dgm_tensor *l = NULL;
    DGM_TRY(noise_loss(m, batch, DGM_REDUCTION_SUM, &l));
    DGM_TRY(dgm_read_scalar(m->ctx, l, sum));
    *sum /= (double)m->dim;
    return DGM_STATUS_OK;
}

/* For the "fisher" metric (dgm_mixture_fisher): the network's score s_θ(x, t) =
 * −ε̂(x, t)/√(1 − ᾱ_t) against the noised data's q_t, weighted as the simple loss weights
 * it: E_t E_{x ~ q_t} (1 − ᾱ_t)·|s_θ(x, t) − ∇log q_t(x)|² = E |ε̂ − ε*|², ε* = −√(1 − ᾱ_t)·
 * ∇log q_t, t uniform, x = √ᾱ·x_0 + √(1 − ᾱ)·ε: q_t is the mixture with centres √ᾱ·c_j
 * and variance ᾱ·s² + 1 − ᾱ. */
static dgm_status noised_output(void *user, dgm_tensor *x, dgm_tensor **xt, dgm_tensor **out, double *coef)
{
    dgm_model *m = user;
    ddpm_state *s = m->state;
    dgm_tensor *eps = NULL;
    DGM_TRY(noise_and_predict(m, x, &eps, xt, out));
    for (int64_t r = 0; r < dgm_tensor_dim(x, 0); r++) {
        const double ab = s->alpha_bar[(int64_t)s->host_t[r]];
        coef[4 * r] = sqrt(ab);
        coef[4 * r + 1] = 1.0 - ab;
        coef[4 * r + 2] = -1.0 / sqrt(1.0 - ab);
        coef[4 * r + 3] = 1.0 - ab;
    }
    return DGM_STATUS_OK;
}

/* "w2": the exact 2-Wasserstein distance of 2,000 samples to 2,000 rows of the data;
 * "fisher": see noised_output (mixture toys only), with the weights that sample. */
static dgm_status evaluate_samples(dgm_model *m, const dgm_dataset *data, const char *metric,
                                   double *value)
{
    if (strcmp(metric, "fisher")) return dgm_model_w2(m, data, value);
    const ddpm_state *s = m->state;
    return dgm_model_fisher(m, data, noised_output, s->ema > 0.0f, value);
}

/* ε̂(x, t) for every row at step t. */
static dgm_status predict(dgm_model *m, dgm_tensor *x, int64_t t, dgm_tensor **eps)
{
    ddpm_state *s = m->state;
    dgm_tensor *tc = NULL;
    DGM_TRY(dgm_column_of(m->ctx, dgm_tensor_dim(x, 0), (float)t, &tc));
    return dgm_time_net_forward(m->ctx, &s->net, x, tc, eps);
}

/* a·x + b·y */
static dgm_status lin2(dgm_ctx *ctx, double a, dgm_tensor *x, double b, dgm_tensor *y, dgm_tensor **out)
{
    dgm_tensor *p = NULL, *q = NULL;
    DGM_TRY(dgm_scale(ctx, x, (float)a, 0.0f, &p));
    DGM_TRY(dgm_scale(ctx, y, (float)b, 0.0f, &q));
    return dgm_add(ctx, p, q, out);
}

/* x̂_0 = (x_t − √(1 − ᾱ)·ε̂)/√ᾱ, clipped to [−1, 1] with --clip-x0. */
static dgm_status predict_x0(dgm_model *m, dgm_tensor *x, dgm_tensor *eps, double ab, dgm_tensor **out)
{
    ddpm_state *s = m->state;
    DGM_TRY(lin2(m->ctx, 1.0 / sqrt(ab), x, -sqrt(1.0 - ab) / sqrt(ab), eps, out));
    if (!s->clip) return DGM_STATUS_OK;
    return dgm_clamp_values(m->ctx, *out, -1.0f, 1.0f, out);
}

/* One reverse step from x (step t) to *out (step prev; prev < 0: the end, no noise). */
static dgm_status reverse_step(dgm_model *m, dgm_tensor *x, int64_t t, int64_t prev, dgm_tensor **out)
{
    ddpm_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const double ab = s->alpha_bar[t], ab_prev = prev >= 0 ? s->alpha_bar[prev] : 1.0;
    dgm_tensor *eps = NULL, *x0 = NULL, *mean = NULL, *z = NULL;
    DGM_TRY(predict(m, x, t, &eps));
    double sigma = 0.0;
    if (s->ddim) {
        sigma = prev >= 0 ? s->eta * sqrt((1.0 - ab_prev) / (1.0 - ab)) * sqrt(1.0 - ab / ab_prev) : 0.0;
        DGM_TRY(predict_x0(m, x, eps, ab, &x0));
        /* A clipped x̂_0 needs the ε̂ that goes with it, ε̂ = (x − √ᾱ·x̂_0)/√(1 − ᾱ): with the
         * network's own ε̂, the early steps' clipped x̂_0 (±1 where ᾱ is near 0) are not
         * taken back out and become the samples (Fashion-MNIST sampled pure noise). */
        if (s->clip) DGM_TRY(lin2(ctx, 1.0 / sqrt(1.0 - ab), x, -sqrt(ab) / sqrt(1.0 - ab), x0, &eps));
        DGM_TRY(lin2(ctx, sqrt(ab_prev), x0, sqrt(fmax(1.0 - ab_prev - sigma * sigma, 0.0)), eps, &mean));
    } else {
        const double beta = s->beta[t], alpha = 1.0 - beta;
        if (prev >= 0) sigma = sqrt(s->posterior ? beta * (1.0 - ab_prev) / (1.0 - ab) : beta);
        if (s->clip) { /* the posterior mean at the clipped x̂_0 */
            DGM_TRY(predict_x0(m, x, eps, ab, &x0));
            DGM_TRY(lin2(ctx, sqrt(ab_prev) * beta / (1.0 - ab), x0,
                         sqrt(alpha) * (1.0 - ab_prev) / (1.0 - ab), x, &mean));
        } else {
            DGM_TRY(lin2(ctx, 1.0 / sqrt(alpha), x, -beta / (sqrt(1.0 - ab) * sqrt(alpha)), eps, &mean));
        }
    }
    if (sigma <= 0.0) return (*out = mean, DGM_STATUS_OK);
    const int64_t shape[2] = {dgm_tensor_dim(x, 0), m->dim};
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, (float)sigma, &z));
    return dgm_add(ctx, mean, z, out);
}

typedef struct chain {
    dgm_model *m;
    dgm_tensor *x;
} chain;

/* The reverse chain in a persistent tensor, one step per context step. */
static dgm_status run_chain(void *user)
{
    dgm_model *m = ((chain *)user)->m;
    dgm_tensor *x = ((chain *)user)->x;
    ddpm_state *s = m->state;
    const int64_t steps = s->ddim ? s->sample_steps : s->T;
    for (int64_t i = steps - 1; i >= 0; i--) {
        /* DDIM: the paper's uniform skip, timesteps i·⌊T/S⌋ for i = S−1 .. 0 (so it starts
         * below T − 1, where a cosine schedule's ᾱ is ~1e-7 and x̂_0 = (x − √(1−ᾱ)·ε̂)/√ᾱ
         * would blow the network's error up a thousandfold) */
        const int64_t skip = s->ddim ? s->T / steps : 1;
        const int64_t t = i * skip, prev = i == 0 ? -1 : (i - 1) * skip;
        dgm_tensor *next = NULL;
        dgm_status st = reverse_step(m, x, t, prev, &next);
        if (st == DGM_STATUS_OK) st = dgm_tensor_copy(m->ctx, x, next);
        const dgm_status end = dgm_ctx_step_end(m->ctx);
        DGM_TRY(st);
        DGM_TRY(end);
    }
    return DGM_STATUS_OK;
}

static int64_t sampler_passes(const dgm_model *m)
{
    const ddpm_state *s = m->state;
    return s->ddim ? s->sample_steps : s->T;
}

static dgm_status sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    ddpm_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const int64_t shape[2] = {n, m->dim};
    dgm_tensor *x0 = NULL, *x = NULL;
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, &x0));
    DGM_TRY(dgm_persist(ctx, x0, &x));
    chain c = {m, x};
    dgm_status st = dgm_ema_weights_call(m->params, s->ema > 0.0f, run_chain, &c);
    if (st == DGM_STATUS_OK) st = dgm_unpersist(ctx, x, out);
    dgm_tensor_free(x);
    DGM_TRY(st);
    if (!s->image) return DGM_STATUS_OK;
    return dgm_scale(ctx, *out, 0.5f, 0.5f, out); /* back to [0, 1] (clipped only with --clip-x0) */
}

/* 2-D peers' setup (AdamW 1e-3, batch 256, 30,000 steps); images with the UNet (the
 * default there): DGM_TIME_NET_UNET_RUN; images with --net mlp: batch 128, 10,000 steps,
 * Adam 5e-4 after a 500-step warm-up. */
static void train_defaults(const json_t *given, int sample_ndim, dgm_train_defaults *t)
{
    if (dgm_time_net_given_unet(given, sample_ndim)) return dgm_time_net_unet_run(t);
    const bool image = sample_ndim >= 2;
    dgm_model_steps_defaults(t, image ? 10000 : 30000, image ? 128 : 256, image ? DGM_OPTIM_ADAM : DGM_OPTIM_ADAMW,
                             image ? 5e-4f : 1e-3f, image ? 500 : 0, 500);
}

static void destroy(dgm_model *m)
{
    ddpm_state *s = m->state;
    if (!s) return;
    dgm_time_net_free(&s->net);
    free(s->beta);
    free(s->alpha_bar);
    free(s->host_t);
    free(s);
}

const dgm_model_ops dgm_ddpm_ops = {
    .kind = "ddpm",
    .summary = "DDPM: an MLP noise predictor with a sinusoidal time embedding, linear or "
               "cosine schedule; ancestral or DDIM sampling from moving-average weights",
    .options = options,
    .option_types = option_types,
    .metrics = "loss,w2,fisher",
    .sampling_options = " sampler sample-steps eta variance clip-x0 ",
    .default_metrics = "loss",
    .sample_metrics = "w2,fisher",
    .evaluate_samples = evaluate_samples,
    .build = build,
    .ready = ready,
    .after_step = after_step,
    .train_defaults = train_defaults,
    .legacy_options = dgm_time_net_legacy_options,
    .image_run_time = "23 min on 2 cores of a Xeon (Sapphire Rapids), the 64-image grid of all "
                      "1,000 ancestral steps included (measured 2026-12-07)",
    .train_step = train_step,
    .sample = sample,
    .sampler_passes = sampler_passes,
    .evaluate_batch = evaluate_batch,
    .destroy = destroy,
};
