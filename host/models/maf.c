/* Masked Autoregressive Flow (Papamakarios et al. 2017) on MADE (Germain et al. 2015): an
 * autoregressive model p(x) = Π_i p(x_i | x_<i) with Gaussian conditionals, stacked.
 * Block k, in the normalizing direction x -> u: a MADE affine layer u = (x − μ(x))·exp(−α(x))
 * (host/nn/made.c), then a flow batch norm (or ActNorm, or nothing), then the reversal of
 * the columns, so that the next block's order runs the other way. The exact likelihood is
 *     log p(x) = log N(u; 0, I) + Σ_layers log|det|,
 * one pass per layer; sampling inverts each MADE in D sequential passes. `--blocks 1
 * --norm none` is a single MADE: the plain Gaussian autoregressive model.
 *
 * Defaults on vectors: ikostrikov/pytorch-flows' MOONS setup — 5 blocks of MADE [D, 64,
 * 64, 2D] ReLU with orthogonal init, flow batch norm, reverse; Adam 1e-3 with weight decay
 * 1e-6, batch 256, 20,000 steps. The batch norms evaluate with the statistics of the
 * training set at the final weights (the `refresh` hook, before each checkpoint: as
 * pytorch-flows sets them before evaluating), their running averages otherwise. The raw
 * log-scale is bounded softly, α = 10·tanh(a/10) (pytorch-flows leaves it free: a bound
 * keeps a bad batch from overflowing exp; at 5 it cost 0.03 nats on checkerboard over five
 * seeds, at 10 nothing measurable). On images,
 * as realnvp: dequantization and the logit transform (flow_common.c), bits/dim; 5 blocks of
 * one hidden layer of 1,024 (the MAF paper's MNIST MADEs), random orders.
 * Parameters: made.<k>.net.{0,2,..}.{weight,bias}, bn.<k>.{log_gamma,beta,running_mean,
 * running_var} (or actnorm.<k>.{bias,logs}). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/flow_common.h"

#define MAF_MAX_BLOCKS 64
#define MAF_MAX_HIDDEN 8
#define IMAGE_STEPS 3000
#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f
#define REFRESH_ROWS 20000

typedef enum maf_norm { NORM_BATCH = 0, NORM_ACTNORM, NORM_NONE } maf_norm;

typedef struct maf_state {
    int n_blocks;
    bool image;
    maf_norm norm;
    dgm_made *made[MAF_MAX_BLOCKS];
    dgm_flow_batchnorm *bn[MAF_MAX_BLOCKS];
    dgm_actnorm *actnorm[MAF_MAX_BLOCKS];
    dgm_permutation *reverse; /* NULL for one column */
} maf_state;

static const dgm_model_option options[] = {
    {"blocks", "5", "MADE blocks (1: a single MADE, the plain autoregressive model)"},
    {"hidden", "auto", "hidden widths of each MADE; auto: 64,64, on images 1024"},
    {"activation", "relu", "the MADEs' activation: " DGM_MODEL_ACTIVATIONS},
    {"norm", "batch", "after each MADE: batch (a flow batch norm), actnorm or none"},
    {"order", "auto", "each MADE's column order: natural (reversed between blocks), random (a "
                      "shuffle per block) or auto (random on images)"},
    {"log-scale-bound", "10", "the log-scale's soft bound B, α = B·tanh(a/B) (0: unbounded)"},
    {"init", "orthogonal", "the MADEs' weights: orthogonal (pytorch-flows') or pytorch (nn.Linear's)"},
    {NULL, NULL, NULL},
};
static const dgm_opt_type option_types[] = {DGM_OPT_INT,    DGM_OPT_STRING, DGM_OPT_STRING, DGM_OPT_STRING,
                                            DGM_OPT_STRING, DGM_OPT_FLOAT,  DGM_OPT_STRING};

static dgm_status bad(dgm_model *m, const char *what)
{
    return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "maf option %s", what);
}

static dgm_status build(dgm_model *m)
{
    maf_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    m->state = s;
    const int64_t blocks = dgm_config_int(m, "blocks");
    if (blocks < 1 || blocks > MAF_MAX_BLOCKS) return bad(m, "--blocks: 1 to 64");
    s->n_blocks = (int)blocks;
    s->image = m->sample_ndim >= 2;
    int64_t hidden[MAF_MAX_HIDDEN];
    const char *ht = dgm_config_string(m, "hidden");
    if (!strcmp(ht, "auto")) ht = s->image ? "1024" : "64,64";
    const int nh = dgm_model_parse_widths(ht, hidden, MAF_MAX_HIDDEN);
    if (nh < 1) return bad(m, "--hidden: auto, or 1 to 8 widths from 1 to 65536 (e.g. 64,64)");
    const int act = dgm_model_parse_activation(dgm_config_string(m, "activation"));
    if (act < 0) return bad(m, "--activation: expected " DGM_MODEL_ACTIVATIONS);
    const char *norm = dgm_config_string(m, "norm");
    if (!strcmp(norm, "batch")) s->norm = NORM_BATCH;
    else if (!strcmp(norm, "actnorm")) s->norm = NORM_ACTNORM;
    else if (!strcmp(norm, "none")) s->norm = NORM_NONE;
    else return bad(m, "--norm: expected batch, actnorm or none");
    const char *order = dgm_config_string(m, "order");
    if (strcmp(order, "auto") && strcmp(order, "natural") && strcmp(order, "random"))
        return bad(m, "--order: expected natural, random or auto");
    const bool random = !strcmp(order, "random") || (!strcmp(order, "auto") && s->image);
    const double bound = dgm_config_float(m, "log-scale-bound");
    if (!(bound >= 0.0 && bound <= 100.0)) return bad(m, "--log-scale-bound: 0 (none) to 100");
    const char *init = dgm_config_string(m, "init");
    if (strcmp(init, "orthogonal") && strcmp(init, "pytorch")) return bad(m, "--init: expected orthogonal or pytorch");
    const dgm_made_config made = {nh, hidden, (dgm_activation)act, 0, (float)bound,
                                  !strcmp(init, "orthogonal") ? DGM_NN_INIT_ORTHOGONAL : DGM_NN_INIT_PYTORCH};
    for (int k = 0; k < s->n_blocks; k++) {
        char name[64];
        dgm_made_config c = made;
        c.order_seed = random ? (uint64_t)k + 1 : 0;
        snprintf(name, sizeof name, "made.%d", k);
        DGM_TRY(dgm_made_create(m->params, name, m->dim, &c, &s->made[k]));
        if (s->norm == NORM_BATCH) {
            snprintf(name, sizeof name, "bn.%d", k);
            DGM_TRY(dgm_flow_batchnorm_create(m->params, name, m->dim, BN_MOMENTUM, BN_EPS, &s->bn[k]));
        } else if (s->norm == NORM_ACTNORM) {
            snprintf(name, sizeof name, "actnorm.%d", k);
            DGM_TRY(dgm_actnorm_create(m->params, name, m->dim, &s->actnorm[k]));
        }
    }
    if (m->dim > 1) DGM_TRY(dgm_permutation_create_reverse(m->ctx, m->dim, &s->reverse));
    return DGM_STATUS_OK;
}

static dgm_status add_logdet(dgm_ctx *ctx, dgm_tensor **total, dgm_tensor *ld)
{
    if (!*total) {
        *total = ld;
        return DGM_STATUS_OK;
    }
    return dgm_add(ctx, *total, ld, total);
}

/* Block k in the normalizing direction; its log-determinants added to *total. */
static dgm_status block_forward(dgm_model *m, int k, dgm_tensor *h, bool training, dgm_tensor **out,
                                dgm_tensor **total)
{
    maf_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *ld = NULL;
    DGM_TRY(dgm_made_forward(ctx, s->made[k], h, &h, &ld));
    DGM_TRY(add_logdet(ctx, total, ld));
    if (s->bn[k]) {
        DGM_TRY(dgm_flow_batchnorm_forward(ctx, s->bn[k], h, training, &h, &ld));
        DGM_TRY(add_logdet(ctx, total, ld));
    }
    if (s->actnorm[k]) {
        DGM_TRY(dgm_actnorm_forward(ctx, s->actnorm[k], h, &h, &ld));
        DGM_TRY(add_logdet(ctx, total, ld));
    }
    if (s->reverse) DGM_TRY(dgm_permutation_forward(ctx, s->reverse, h, &h));
    *out = h;
    return DGM_STATUS_OK;
}

/* −log p(x) per row [B, 1] (images: of the discrete pixels, a bound). training: batch
 * statistics (and the running ones updated) in the batch norms. */
static dgm_status nll_rows(dgm_model *m, dgm_tensor *x, bool dequantize, bool training, dgm_tensor **out)
{
    maf_state *s = m->state;
    dgm_tensor *h = x, *total = NULL;
    if (s->image) DGM_TRY(dgm_flow_to_logit(m->ctx, x, dequantize, &h, &total));
    for (int k = 0; k < s->n_blocks; k++) DGM_TRY(block_forward(m, k, h, training, &h, &total));
    return dgm_flow_nll_from_base(m->ctx, h, total, s->image, out);
}

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    (void)step;
    dgm_tensor *rows = NULL;
    DGM_TRY(nll_rows(m, batch, true, true, &rows));
    return dgm_mean(m->ctx, rows, DGM_AXIS_ALL, loss);
}

/* A fresh model's ActNorms standardize their input on the first (up to) 1,000 rows. */
static dgm_status prepare(dgm_model *m, const dgm_dataset *data, bool init_params)
{
    maf_state *s = m->state;
    if (!init_params || s->norm != NORM_ACTNORM) return DGM_STATUS_OK;
    dgm_ctx *ctx = m->ctx;
    int64_t n = dgm_dataset_count(data);
    if (n > 1000) n = 1000;
    if (n < 2) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "maf: ActNorm needs 2 or more samples");
    const int64_t shape[2] = {n, m->dim};
    dgm_tensor *h = NULL, *total = NULL;
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    dgm_status st = dgm_tensor_from_host(ctx, 2, shape, dgm_dataset_data(data), &h);
    if (st == DGM_STATUS_OK && s->image) st = dgm_flow_to_logit(ctx, h, true, &h, &total);
    for (int k = 0; st == DGM_STATUS_OK && k < s->n_blocks; k++) {
        if (s->actnorm[k]) {
            dgm_tensor *u = NULL, *ld = NULL;
            st = dgm_made_forward(ctx, s->made[k], h, &u, &ld);
            if (st == DGM_STATUS_OK) st = dgm_actnorm_init_data(ctx, s->actnorm[k], u);
        }
        if (st == DGM_STATUS_OK) st = block_forward(m, k, h, false, &h, &total);
    }
    dgm_ctx_set_grad_enabled(ctx, grad);
    DGM_TRY(st);
    return dgm_ctx_step_end(ctx);
}

/* The batch norms' statistics from the first REFRESH_ROWS training rows at the current
 * weights (pytorch-flows' pass before it evaluates), block by block: each batch norm's
 * input made with the statistics just set before it. Images at their bins' centres (no
 * draw from the generator). */
static dgm_status refresh(dgm_model *m, const dgm_dataset *data)
{
    maf_state *s = m->state;
    if (s->norm != NORM_BATCH) return DGM_STATUS_OK;
    dgm_ctx *ctx = m->ctx;
    int64_t n = dgm_dataset_count(data);
    if (n > REFRESH_ROWS) n = REFRESH_ROWS;
    if (n < 2) return DGM_STATUS_OK;
    const int64_t shape[2] = {n, m->dim};
    dgm_tensor *h = NULL, *ld = NULL;
    dgm_status st = dgm_tensor_from_host(ctx, 2, shape, dgm_dataset_data(data), &h);
    if (st == DGM_STATUS_OK && s->image) st = dgm_flow_to_logit(ctx, h, false, &h, &ld);
    for (int k = 0; st == DGM_STATUS_OK && k < s->n_blocks; k++) {
        st = dgm_made_forward(ctx, s->made[k], h, &h, &ld);
        if (st == DGM_STATUS_OK) st = dgm_flow_batchnorm_set_statistics(ctx, s->bn[k], h);
        if (st == DGM_STATUS_OK) st = dgm_flow_batchnorm_forward(ctx, s->bn[k], h, false, &h, &ld);
        if (st == DGM_STATUS_OK && s->reverse) st = dgm_permutation_forward(ctx, s->reverse, h, &h);
    }
    const dgm_status end = dgm_ctx_step_end(ctx);
    DGM_TRY(st);
    return end;
}

static dgm_status sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    maf_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    const int64_t shape[2] = {n, m->dim};
    dgm_tensor *h = NULL;
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, &h));
    for (int k = s->n_blocks - 1; k >= 0; k--) {
        if (s->reverse) DGM_TRY(dgm_permutation_inverse(ctx, s->reverse, h, &h));
        if (s->actnorm[k]) DGM_TRY(dgm_actnorm_inverse(ctx, s->actnorm[k], h, &h));
        if (s->bn[k]) DGM_TRY(dgm_flow_batchnorm_inverse(ctx, s->bn[k], h, &h));
        DGM_TRY(dgm_made_inverse(ctx, s->made[k], h, &h));
    }
    if (!s->image) {
        *out = h;
        return DGM_STATUS_OK;
    }
    return dgm_flow_from_logit(ctx, h, out);
}

/* Sampling runs D network passes per MADE. */
static int64_t sampler_passes(const dgm_model *m)
{
    const maf_state *s = m->state;
    return (int64_t)s->n_blocks * m->dim;
}

static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    dgm_tensor *rows = NULL;
    DGM_TRY(nll_rows(m, batch, true, false, &rows));
    return dgm_flow_metric_sum(m, rows, metric, sum);
}

static dgm_status log_density(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    maf_state *s = m->state;
    if (s->image)
        return dgm_set_error(m->ctx, DGM_STATUS_UNSUPPORTED,
                             "maf: the density of dequantized images is a bound (use dgm eval)");
    dgm_tensor *nll = NULL;
    DGM_TRY(nll_rows(m, x, false, false, &nll));
    return dgm_scale(m->ctx, nll, -1.0f, 0.0f, out);
}

static dgm_status check_data(dgm_model *m, const dgm_dataset *data)
{
    maf_state *s = m->state;
    return s->image ? dgm_flow_check_pixels(m, data, "maf") : DGM_STATUS_OK;
}

static dgm_status check_batch_size(dgm_model *m, int64_t batch)
{
    maf_state *s = m->state;
    if (s->norm == NORM_BATCH && batch < 2)
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "batch %lld: maf's batch norm needs 2 or more rows "
                             "(or --set norm=actnorm)", (long long)batch);
    return DGM_STATUS_OK;
}

/* Vectors: pytorch-flows' MOONS run (Adam 1e-3, weight decay 1e-6, batch 256, 20,000
 * steps). Images: batch 64, IMAGE_STEPS steps, Adam 1e-3 after a 200-step warm-up. */
static void train_defaults(const json_t *given, int sample_ndim, dgm_train_defaults *t)
{
    (void)given;
    const bool image = sample_ndim >= 2;
    dgm_model_steps_defaults(t, image ? IMAGE_STEPS : 20000, image ? 64 : 256, DGM_OPTIM_ADAM, 1e-3f,
                             image ? 200 : 0, image ? 100 : 500);
    t->optim.weight_decay = 1e-6f;
}

static void destroy(dgm_model *m)
{
    maf_state *s = m->state;
    if (!s) return;
    for (int k = 0; k < MAF_MAX_BLOCKS; k++) {
        dgm_made_free(s->made[k]);
        dgm_flow_batchnorm_free(s->bn[k]);
        dgm_actnorm_free(s->actnorm[k]);
    }
    dgm_permutation_free(s->reverse);
    free(s);
}

const dgm_model_ops dgm_maf_ops = {
    .kind = "maf",
    .summary = "masked autoregressive flow: MADE blocks with batch norm, exact likelihood, "
               "sampling in D passes per block; images dequantized and logit-transformed",
    .options = options,
    .option_types = option_types,
    .metrics = "nll,bpd",
    .default_metrics = "nll",
    .build = build,
    .prepare = prepare,
    .refresh = refresh,
    .train_defaults = train_defaults,
    .train_step = train_step,
    .sample = sample,
    .sampler_passes = sampler_passes,
    .evaluate_batch = evaluate_batch,
    .log_density = log_density,
    .check_batch_size = check_batch_size,
    .check_data = check_data,
    .destroy = destroy,
};
