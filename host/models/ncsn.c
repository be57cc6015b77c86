/* NCSN (Song & Ermon 2019, with NCSNv2's techniques, Song & Ermon 2020): a noise-conditional
 * score network s(x, σ) = net(x, log σ)/σ — the time-conditioned network of ddpm and fm
 * (time_net.c) with log σ as its time — trained by denoising score matching over L noise
 * levels σ_1 > … > σ_L in a geometric ladder (score_matching.c), each weighted by σ²:
 * ½·E|net(x + σz, log σ) + z|², the level uniform per row. σ_1 is the largest distance
 * between two of 2,000 data rows (NCSNv2's technique 1) unless given; the ladder is a
 * buffer of the parameter block ("sigmas"), so a checkpoint samples without the data.
 *
 * Sampling: annealed Langevin dynamics (langevin.c) from uniform noise on the data's
 * bounding box (buffer "box"), T steps per level of size ε·σ_i²/σ_L², then the denoising
 * step x + σ_L²·s(x, σ_L); on a moving average of the weights (--ema). The chains are not
 * kept in the box: at the large levels they must spread as far as the noised data do.
 *
 * Images (samples of 2 or more dims, values in [0, 1], clamped to [0, 1] at the end): an MLP
 * of the raw x̃ did not learn at all (loss flat at the level of predicting 0, samples pure
 * noise), so the network is preconditioned as EDM's (Karras et al. 2022), the input y =
 * x̃ − the data's mean scaled to unit variance and the output mixed with a skip term, so
 * its input and target have unit scale at every level; and the ladder stops at σ_L = 0.1,
 * below which the MLP's scores grew the chains again (measured: their RMS rose from 0.49
 * at σ = 0.2 to 0.71 at 0.01), with ε scaled to match (0.15·σ_L²). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/ema_weights.h"
#include "models/langevin.h"
#include "models/model_impl.h"
#include "models/ode.h"
#include "models/score_matching.h"
#include "models/time_net.h"

#define NCSN_MAX_LEVELS 10000

typedef struct ncsn_state {
    dgm_time_net net;
    int levels;
    double *sigmas; /* [levels], host copy of the buffer */
    double sigma_max_opt, sigma_min;
    float ema;
    bool ema_started, image, denoise, precondition, embedded;
    double data_scale; /* the data's RMS std (buffer "data_scale"), for --precondition */
    int64_t sample_steps;
    double eps;
    float *host; /* [3·cap] scratch: level draws, σ and log σ columns */
    int64_t host_cap;
} ncsn_state;

static const dgm_model_option options[] = {
    {"hidden", "auto", "hidden widths of the score network; auto: 128,128,128, on images "
                       "1024,1024,1024"},
    {"activation", "silu", "the network's activation: " DGM_MODEL_ACTIVATIONS},
    {"embedding", "auto", "width of a sinusoidal embedding of the noise level (its log σ mapped "
                          "to [0, 1000], σ_1 at 0: ddpm's embedding and range); 0 (auto): log σ "
                          "as one input column"},
    {"levels", "auto", "noise levels L; auto: 10, on images 50"},
    {"sigma-max", "auto", "the largest σ; auto: the largest distance between two of 2,000 data rows"},
    {"sigma-min", "auto", "the smallest σ; auto: 0.01, on images 0.1 (below it the MLP's scores "
                          "only add noise)"},
    {"ema", "0.999", "decay of the weights' moving average used for sampling (0: off)"},
    {"sample-steps", "auto", "annealed Langevin steps per level (T); auto: 100, on images 20"},
    {"step-lr", "auto", "ε: the step at level i is ε·σ_i²/σ_L²; auto: 1e-5, on images 1.5e-3 "
                        "(0.15·σ_L²)"},
    {"denoise", "true", "the final denoising step x + σ_L²·s(x, σ_L)"},
    {"precondition", "auto", "edm: σ·s(x, σ) = −y·σ/(σ² + s²) + F(y/√(σ² + s²), log σ)·s/√(σ² + s²), "
                             "y = x − the data's mean, s its RMS std (Karras et al. 2022: unit-scale "
                             "input and target for F at every level); none: σ·s = F(x, log σ); "
                             "auto: edm on images"},
    DGM_TIME_NET_OPTIONS,
    {NULL, NULL, NULL},
};
static const dgm_opt_type option_types[] = {DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_STRING,
                                            DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_STRING,
                                            DGM_OPT_FLOAT,  DGM_OPT_STRING, DGM_OPT_STRING,
                                            DGM_OPT_BOOL,   DGM_OPT_STRING,
    DGM_TIME_NET_OPTION_TYPES};

static dgm_status bad(dgm_model *m, const char *what)
{
    return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "ncsn option %s", what);
}

/* "auto" -> fallback; else a number in (lo, hi], or NAN. */
static double auto_number(const char *text, double fallback, double lo, double hi)
{
    if (!strcmp(text, "auto")) return fallback;
    char *end = NULL;
    const double v = strtod(text, &end);
    return end != text && !*end && v > lo && v <= hi ? v : NAN;
}

static dgm_status build(dgm_model *m)
{
    ncsn_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    m->state = s;
    s->image = m->sample_ndim >= 2;
    const char *ht = dgm_config_string(m, "hidden");
    if (!strcmp(ht, "auto")) ht = s->image ? "1024,1024,1024" : "128,128,128";
    int64_t hidden[DGM_TIME_NET_MAX_HIDDEN];
    const int nh = dgm_model_parse_widths(ht, hidden, DGM_TIME_NET_MAX_HIDDEN);
    if (nh < 1) return bad(m, "--hidden: auto, or 1 to 8 widths, e.g. 128,128,128");
    const int act = dgm_model_parse_activation(dgm_config_string(m, "activation"));
    if (act < 0) return bad(m, "--activation: expected " DGM_MODEL_ACTIVATIONS);
    const double emb = auto_number(dgm_config_string(m, "embedding"), 0, -1, 4096);
    if (isnan(emb) || emb == 1 || emb != floor(emb)) return bad(m, "--embedding: auto, 0 (log σ as a column) or 2 to 4096");
    s->embedded = emb > 0;
    const double levels = auto_number(dgm_config_string(m, "levels"), s->image ? 50 : 10, 0, NCSN_MAX_LEVELS);
    if (isnan(levels) || levels != floor(levels)) return bad(m, "--levels: auto or 1 to 10000");
    s->levels = (int)levels;
    s->sigma_max_opt = auto_number(dgm_config_string(m, "sigma-max"), 0.0, 0.0, 1e6);
    if (isnan(s->sigma_max_opt)) return bad(m, "--sigma-max: auto or a positive number");
    s->sigma_min = auto_number(dgm_config_string(m, "sigma-min"), s->image ? 0.1 : 0.01, 0.0, 1e6);
    if (isnan(s->sigma_min)) return bad(m, "--sigma-min: auto or a positive number");
    if (s->sigma_max_opt > 0.0 && !(s->sigma_max_opt > s->sigma_min))
        return bad(m, "--sigma-max: above --sigma-min");
    s->ema = (float)dgm_config_float(m, "ema");
    if (!(s->ema >= 0.0f && s->ema < 1.0f)) return bad(m, "--ema: in [0, 1)");
    const double steps = auto_number(dgm_config_string(m, "sample-steps"), s->image ? 20 : 100, 0, 100000);
    if (isnan(steps) || steps != floor(steps)) return bad(m, "--sample-steps: auto or 1 to 100000");
    s->sample_steps = (int64_t)steps;
    s->eps = auto_number(dgm_config_string(m, "step-lr"), s->image ? 1.5e-3 : 1e-5, 0.0, 1.0);
    if (isnan(s->eps)) return bad(m, "--step-lr: auto or in (0, 1]");
    s->denoise = dgm_config_bool(m, "denoise");
    const char *pre = dgm_config_string(m, "precondition");
    if (strcmp(pre, "auto") && strcmp(pre, "edm") && strcmp(pre, "none"))
        return bad(m, "--precondition: edm, none or auto");
    s->precondition = !strcmp(pre, "edm") || (!strcmp(pre, "auto") && s->image);
    s->sigmas = calloc((size_t)s->levels, sizeof *s->sigmas);
    if (!s->sigmas) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");

    DGM_TRY(dgm_time_net_create(m, "net", (int)emb, nh, hidden, (dgm_activation)act, &s->net));
    if (s->ema > 0.0f) DGM_TRY(dgm_ema_weights_declare(m->params));
    const int64_t ladder[1] = {s->levels}, box[2] = {2, m->dim}, one[1] = {1};
    DGM_TRY(dgm_params_add_buffer(m->params, "sigmas", 1, ladder, (dgm_init){DGM_INIT_ZEROS, 0.0f, 0.0f}));
    DGM_TRY(dgm_params_add_buffer(m->params, "data_scale", 1, one, (dgm_init){DGM_INIT_ONES, 0.0f, 0.0f}));
    const int64_t row[2] = {1, m->dim};
    DGM_TRY(dgm_params_add_buffer(m->params, "data_mean", 2, row, (dgm_init){DGM_INIT_ZEROS, 0.0f, 0.0f}));
    return dgm_params_add_buffer(m->params, "box", 2, box, (dgm_init){DGM_INIT_ZEROS, 0.0f, 0.0f});
}

static dgm_tensor *param(dgm_model *m, const char *name) { return dgm_params_get(m->params, name); }

/* The host copy of the ladder (after a load or prepare); a model never prepared on data
 * (made through the API to load weights into) gets σ_max 1 or the one given. */
static dgm_status read_sigmas(dgm_model *m)
{
    ncsn_state *s = m->state;
    float *v = malloc((size_t)s->levels * sizeof *v);
    if (!v) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    float scale = 1.0f;
    dgm_status st = dgm_tensor_to_host(m->ctx, param(m, "sigmas"), v);
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(m->ctx, param(m, "data_scale"), &scale);
    for (int i = 0; i < s->levels; i++) s->sigmas[i] = v[i];
    s->data_scale = scale > 0.0f ? scale : 1.0;
    free(v);
    if (st == DGM_STATUS_OK && !(s->sigmas[0] > 0.0))
        dgm_sigma_ladder(s->sigma_max_opt > 0.0 ? s->sigma_max_opt : 1.0, s->sigma_min, s->levels, s->sigmas);
    return st;
}

/* The EMA starts at the initial weights, once (ready runs again after a load). */
static dgm_status ready(dgm_model *m)
{
    ncsn_state *s = m->state;
    DGM_TRY(read_sigmas(m));
    if (s->ema <= 0.0f || s->ema_started) return DGM_STATUS_OK;
    s->ema_started = true;
    return dgm_ema_weights_reset(m->params);
}

/* A fresh model: σ_max from the data, the ladder, the box chains start on. */
static dgm_status prepare(dgm_model *m, const dgm_dataset *data, bool init_params)
{
    ncsn_state *s = m->state;
    if (!init_params) return DGM_STATUS_OK;
    dgm_ctx *ctx = m->ctx;
    const double sigma_max = s->sigma_max_opt > 0.0 ? s->sigma_max_opt : dgm_data_max_distance(data, 2000);
    if (!(sigma_max > s->sigma_min))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "ncsn: σ_max %g (the data's largest distance) is not above --sigma-min %g",
                             sigma_max, s->sigma_min);
    dgm_sigma_ladder(sigma_max, s->sigma_min, s->levels, s->sigmas);
    float *host = malloc((size_t)(s->levels + 2 * m->dim) * sizeof *host);
    if (!host) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    for (int i = 0; i < s->levels; i++) host[i] = (float)s->sigmas[i];
    float *box = host + s->levels;
    dgm_status st = dgm_tensor_copy_from_host(ctx, param(m, "sigmas"), host);
    if (st == DGM_STATUS_OK) st = dgm_data_box(ctx, data, s->image ? 0.0 : 0.25, box, box + m->dim);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, param(m, "box"), box);
    free(host);
    DGM_TRY(st);
    const float scale = (float)dgm_data_rms_std(data);
    s->data_scale = scale > 0.0f ? scale : 1.0;
    DGM_TRY(dgm_tensor_copy_from_host(ctx, param(m, "data_scale"), &scale));
    float *mean = calloc((size_t)m->dim, sizeof *mean);
    if (!mean) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    const int64_t n = dgm_dataset_count(data);
    const float *x = dgm_dataset_data(data);
    for (int64_t j = 0; j < m->dim; j++) {
        double sum = 0.0;
        for (int64_t r = 0; r < n; r++) sum += x[r * m->dim + j];
        mean[j] = (float)(sum / (double)n);
    }
    st = dgm_tensor_copy_from_host(ctx, param(m, "data_mean"), mean);
    free(mean);
    return st;
}

static dgm_status after_step(dgm_model *m, int64_t step)
{
    ncsn_state *s = m->state;
    return s->ema > 0.0f ? dgm_ema_weights_update(m->params, dgm_ema_weights_decay(s->ema, step))
                         : DGM_STATUS_OK;
}

/* --precondition edm at level σ: c[0] on F's input, c[1] on x̃ and c[2] on F's output in
 * σ·s = −c[1]·y + c[2]·F(c[0]·y), y = x̃ − the data's mean. */
static void precondition_at(const ncsn_state *s, double sigma, double c[3])
{
    const double sd = s->data_scale, v = sigma * sigma + sd * sd;
    c[0] = 1.0 / sqrt(v);
    c[1] = sigma / v;
    c[2] = sd / sqrt(v);
}

/* σ·s(x̃, σ) from the network: F(x̃, log σ), or preconditioned (coefficient columns or
 * scalars: c_in, c_skip, c_out; NULL tensors take the scalars). */
static dgm_status network(dgm_model *m, dgm_tensor *xt, dgm_tensor *log_sigma, dgm_tensor *const cols[3],
                          const double *c, dgm_tensor **out)
{
    ncsn_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    if (!s->precondition) return dgm_time_net_forward(ctx, &s->net, xt, log_sigma, out);
    dgm_tensor *in = NULL, *f = NULL, *skip = NULL;
    DGM_TRY(dgm_sub(ctx, xt, param(m, "data_mean"), &xt));
    if (cols) DGM_TRY(dgm_mul(ctx, xt, cols[0], &in));
    else DGM_TRY(dgm_scale(ctx, xt, (float)c[0], 0.0f, &in));
    DGM_TRY(dgm_time_net_forward(ctx, &s->net, in, log_sigma, &f));
    if (cols) {
        DGM_TRY(dgm_mul(ctx, f, cols[2], &f));
        DGM_TRY(dgm_mul(ctx, xt, cols[1], &skip));
    } else {
        DGM_TRY(dgm_scale(ctx, f, (float)c[2], 0.0f, &f));
        DGM_TRY(dgm_scale(ctx, xt, (float)c[1], 0.0f, &skip));
    }
    return dgm_sub(ctx, f, skip, out);
}

/* The network's time input at noise level σ: log σ, or with an embedding log σ mapped
 * linearly to [0, 1000] (σ_1 at 0, σ_L at 1000), the range ddpm's embedding is made for. */
static double time_of(const ncsn_state *s, double sigma)
{
    if (!s->embedded) return log(sigma);
    const double top = log(s->sigmas[0]), bottom = log(s->sigmas[s->levels - 1]);
    return s->levels > 1 && top > bottom ? 1000.0 * (top - log(sigma)) / (top - bottom) : 0.0;
}

/* Per row a level drawn uniformly: the columns σ and log σ, and with --precondition edm its
 * three coefficients (cols); the levels stay in s->host. */
static dgm_status draw_levels(dgm_model *m, int64_t rows, dgm_tensor **sigma, dgm_tensor **log_sigma,
                              dgm_tensor *cols[3])
{
    ncsn_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    if (rows > s->host_cap) {
        float *p = realloc(s->host, (size_t)(6 * rows) * sizeof *p);
        if (!p) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
        s->host = p;
        s->host_cap = rows;
    }
    const int64_t shape[2] = {rows, 1};
    dgm_tensor *u = NULL;
    DGM_TRY(dgm_rand_uniform(ctx, 2, shape, 0.0f, 1.0f, &u));
    float *lv = s->host, *sg = lv + rows, *ls = sg + rows, *cc = ls + rows;
    DGM_TRY(dgm_tensor_to_host(ctx, u, lv));
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = (int64_t)(lv[r] * (float)s->levels);
        i = i < 0 ? 0 : i >= s->levels ? s->levels - 1 : i;
        lv[r] = (float)i;
        sg[r] = (float)s->sigmas[i];
        ls[r] = (float)time_of(s, s->sigmas[i]);
        double c[3];
        precondition_at(s, s->sigmas[i], c);
        for (int k = 0; k < 3; k++) cc[k * rows + r] = (float)c[k];
    }
    DGM_TRY(dgm_tensor_from_host(ctx, 2, shape, sg, sigma));
    for (int k = 0; s->precondition && k < 3; k++) DGM_TRY(dgm_tensor_from_host(ctx, 2, shape, cc + k * rows, &cols[k]));
    return dgm_tensor_from_host(ctx, 2, shape, ls, log_sigma);
}

/* x̃ = x + σ·z at a level per row, and net(x̃, log σ) = σ·s(x̃, σ). */
static dgm_status noise_and_predict(dgm_model *m, dgm_tensor *x, dgm_tensor **z, dgm_tensor **xt,
                                    dgm_tensor **pred)
{
    dgm_ctx *ctx = m->ctx;
    const int64_t shape[2] = {dgm_tensor_dim(x, 0), m->dim};
    dgm_tensor *sigma = NULL, *log_sigma = NULL, *cols[3] = {NULL, NULL, NULL};
    DGM_TRY(draw_levels(m, shape[0], &sigma, &log_sigma, cols));
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, z));
    DGM_TRY(dgm_mul(ctx, *z, sigma, xt));
    DGM_TRY(dgm_add(ctx, x, *xt, xt));
    return network(m, *xt, log_sigma, cols, NULL, pred);
}

static dgm_status dsm(dgm_model *m, dgm_tensor *batch, dgm_tensor **loss)
{
    dgm_tensor *z = NULL, *xt = NULL, *pred = NULL;
    DGM_TRY(noise_and_predict(m, batch, &z, &xt, &pred));
    return dgm_dsm_loss(m->ctx, pred, z, loss);
}

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    (void)step;
    return dsm(m, batch, loss);
}

/* "loss": the training loss on held-out rows (one level and z per row), summed. */
static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    (void)metric;
    dgm_tensor *l = NULL;
    DGM_TRY(dsm(m, batch, &l));
    DGM_TRY(dgm_read_scalar(m->ctx, l, sum));
    *sum *= (double)dgm_tensor_dim(batch, 0);
    return DGM_STATUS_OK;
}

/* s(x, σ_i) = net(x, log σ_i)/σ_i. */
static dgm_status score_at(void *user, dgm_tensor *x, int level, dgm_tensor **out)
{
    dgm_model *m = user;
    ncsn_state *s = m->state;
    dgm_tensor *t = NULL, *pred = NULL;
    double c[3];
    precondition_at(s, s->sigmas[level], c);
    DGM_TRY(dgm_column_of(m->ctx, dgm_tensor_dim(x, 0), (float)time_of(s, s->sigmas[level]), &t));
    DGM_TRY(network(m, x, t, NULL, c, &pred));
    return dgm_scale(m->ctx, pred, (float)(1.0 / s->sigmas[level]), 0.0f, out);
}

typedef struct chain {
    dgm_model *m;
    dgm_tensor *x;
} chain;

static dgm_status run_chain(void *user)
{
    chain *c = user;
    ncsn_state *s = c->m->state;
    return dgm_langevin_annealed(c->m->ctx, score_at, c->m, s->sigmas, s->levels, s->sample_steps, s->eps,
                                 s->denoise, NULL, c->x);
}

static int64_t sampler_passes(const dgm_model *m)
{
    const ncsn_state *s = m->state;
    return s->levels * s->sample_steps + (s->denoise ? 1 : 0);
}

static dgm_status sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    ncsn_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *x0 = NULL, *x = NULL;
    DGM_TRY(dgm_box_uniform(ctx, param(m, "box"), n, &x0));
    DGM_TRY(dgm_persist(ctx, x0, &x));
    chain c = {m, x};
    dgm_status st = dgm_ema_weights_call(m->params, s->ema > 0.0f, run_chain, &c);
    if (st == DGM_STATUS_OK) st = dgm_unpersist(ctx, x, out);
    dgm_tensor_free(x);
    DGM_TRY(st);
    if (!s->image) return DGM_STATUS_OK;
    return dgm_clamp_values(ctx, *out, 0.0f, 1.0f, out);
}

/* For the "fisher" metric (dgm_mixture_fisher), weighted as the loss weights it:
 * E_i E_{x̃ ~ q_σi} σ_i²·|s(x̃, σ_i) − ∇log q_σi(x̃)|², one level per row, q_σ the mixture
 * with its variance raised by σ². */
static dgm_status noised_output(void *user, dgm_tensor *x, dgm_tensor **xt, dgm_tensor **out, double *coef)
{
    dgm_model *m = user;
    ncsn_state *s = m->state;
    dgm_tensor *z = NULL;
    DGM_TRY(noise_and_predict(m, x, &z, xt, out));
    for (int64_t r = 0; r < dgm_tensor_dim(x, 0); r++) {
        const double sigma = s->sigmas[(int64_t)s->host[r]];
        coef[4 * r] = 1.0;
        coef[4 * r + 1] = sigma * sigma;
        coef[4 * r + 2] = 1.0 / sigma;
        coef[4 * r + 3] = sigma * sigma;
    }
    return DGM_STATUS_OK;
}

static dgm_status evaluate_samples(dgm_model *m, const dgm_dataset *data, const char *metric,
                                   double *value)
{
    if (strcmp(metric, "fisher")) return dgm_model_sample_metric(m, data, metric, value);
    const ncsn_state *s = m->state;
    return dgm_model_fisher(m, data, noised_output, s->ema > 0.0f, value);
}

/* 2-D: the peers' setup (Adam 1e-3, batch 256, 60,000 steps). Images: batch 128, 10,000
 * steps, Adam 5e-4 after a 500-step warm-up, as ddpm's. */
static void train_defaults(const json_t *given, int sample_ndim, dgm_train_defaults *t)
{
    if (dgm_time_net_given_unet(given, sample_ndim)) return dgm_time_net_unet_run(t);
    const bool image = sample_ndim >= 2;
    dgm_model_steps_defaults(t, image ? 10000 : 60000, image ? 128 : 256, DGM_OPTIM_ADAM, image ? 5e-4f : 1e-3f,
                             image ? 500 : 0, 500);
}

static void destroy(dgm_model *m)
{
    ncsn_state *s = m->state;
    if (!s) return;
    dgm_time_net_free(&s->net);
    free(s->sigmas);
    free(s->host);
    free(s);
}

const dgm_model_ops dgm_ncsn_ops = {
    .kind = "ncsn",
    .summary = "NCSN: a noise-conditional score network (MLP of [x, log σ]) trained by "
               "denoising score matching over a geometric ladder of noise levels; annealed "
               "Langevin sampling from moving-average weights",
    .options = options,
    .option_types = option_types,
    .metrics = "loss,w2,modes,high_quality,reverse_kl,fisher",
    .sampling_options = " sample-steps step-lr denoise ",
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
