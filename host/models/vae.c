/* Variational autoencoder (Kingma & Welling 2014), the layout of pytorch/examples' VAE.
 *
 * Encoder: x -> ReLU MLP (fc1, ...) -> q(z|x) = N(μ, diag σ²), μ = fc21(h), log σ² = fc22(h).
 * Reparameterization: z = μ + σ·ε, ε ~ N(0, I) drawn by cuRAND.
 * Decoder: z -> ReLU MLP (fc3, ...) -> fc4 -> Bernoulli logits (images in [0, 1]) or the
 * mean of a Gaussian with a learned (per-dimension `dec_logvar`) or fixed variance.
 *
 * Loss = −ELBO = E_q[−log p(x|z)] + β·KL(q(z|x) ‖ N(0, I)), one sample of z per x,
 * averaged over the batch; β ramps linearly from 0 over `kl_warmup` steps when set.
 * Evaluation: "elbo" is pytorch/examples' test loss (reconstruction summed over the
 * dimensions + KL, per sample, one z each); "iwae" is the importance-weighted bound
 * −log (1/K) Σ_k p(x, z_k)/q(z_k|x) with K samples, a log-sum-exp in double on the host.
 *
 * Parameter names: with the default one hidden layer they are exactly pytorch/examples'
 * fc1, fc21, fc22, fc3, fc4. With more hidden layers (--hidden 512,256) the extra encoder
 * layers are fc1_1, fc1_2, ... and the extra decoder layers fc3_1, fc3_2, ... (the decoder
 * mirrors the encoder's widths). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_impl.h"
#include "ops/ops_common.h"

#define VAE_MAX_HIDDEN 8

typedef struct vae_state {
    int n_hidden;
    int64_t hidden[VAE_MAX_HIDDEN];
    int64_t latent;
    bool bernoulli;
    bool learned_var;
    float fixed_logvar;
    dgm_tensor *fixed_logvar_t; /* [1], made once: no host-device copy per step */
    float beta;
    int64_t kl_warmup;
    dgm_mlp *encoder;    /* x [B, dim] -> h [B, hidden[-1]]: fc1, fc1_1, ..., ReLU after each */
    dgm_linear fc21;     /* h -> μ [B, latent] */
    dgm_linear fc22;     /* h -> log σ² [B, latent] */
    dgm_mlp *decoder;    /* z [B, latent] -> [B, dim]: fc3, fc3_1, ..., fc4 */
    /* --net conv: a DCGAN-shaped encoder (to [μ, log σ²]) and decoder instead */
    dgm_dcgan_discriminator *conv_encoder;
    dgm_dcgan_generator *conv_decoder;
} vae_state;

static const dgm_model_option options[] = {
    {"hidden", "400", "hidden layer widths of the encoder (the decoder mirrors them)"},
    {"latent", "20", "latent dimensions"},
    {"decoder", "bernoulli", "bernoulli (logits, for data in [0, 1]) or gaussian"},
    {"decoder-var", "learned", "gaussian decoder variance: learned, or a fixed number"},
    {"beta", "1", "weight of the KL term (beta-VAE)"},
    {"kl-warmup", "0", "steps over which beta ramps up linearly from 0"},
    {"net", "mlp", "mlp, or conv (images with sides divisible by 4: the DCGAN pair's shapes, "
                   "32 base channels, --hidden's first width fully connected)"},
    {NULL, NULL, NULL},
};
static const dgm_opt_type option_types[] = {DGM_OPT_INT_LIST, DGM_OPT_INT, DGM_OPT_STRING,
                                            DGM_OPT_STRING, DGM_OPT_FLOAT, DGM_OPT_INT,
                                            DGM_OPT_STRING};

/* --net conv: encoder.* maps an image to [μ, log σ²] (2·latent outputs), decoder.* maps z
 * to the image's logits or Gaussian mean (no batch norm, no output activation). */
static dgm_status build_conv(dgm_model *m, vae_state *s)
{
    if (m->sample_ndim < 2)
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "vae option --net conv: the data are not images");
    dgm_dcgan_config c = dgm_dcgan_config_default();
    c.channels = m->sample_ndim == 3 ? m->sample_shape[0] : 1;
    c.height = m->sample_shape[m->sample_ndim - 2];
    c.width = m->sample_shape[m->sample_ndim - 1];
    c.latent = s->latent;
    c.hidden = s->hidden[0];
    c.base_channels = 32;
    c.batch_norm = false;
    c.output = DGM_ACT_NONE;
    c.out_features = 2 * s->latent;
    DGM_TRY(dgm_dcgan_discriminator_create(m->params, "encoder", &c, &s->conv_encoder));
    return dgm_dcgan_generator_create(m->params, "decoder", &c, &s->conv_decoder);
}

static dgm_status build(dgm_model *m)
{
    dgm_ctx *ctx = m->ctx;
    vae_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    m->state = s;
    s->n_hidden = dgm_config_int_list(m, "hidden", s->hidden, VAE_MAX_HIDDEN);
    s->latent = dgm_config_int(m, "latent");
    const char *dec = dgm_config_string(m, "decoder"), *var = dgm_config_string(m, "decoder-var");
    s->beta = (float)dgm_config_float(m, "beta");
    s->kl_warmup = dgm_config_int(m, "kl-warmup");
    if (s->n_hidden < 1 || s->n_hidden > VAE_MAX_HIDDEN)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "vae option --hidden: 1 to %d layers",
                             VAE_MAX_HIDDEN);
    if (s->latent < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "vae option --latent: must be >= 1");
    if (strcmp(dec, "bernoulli") && strcmp(dec, "gaussian"))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "vae option --decoder %s: expected bernoulli or gaussian", dec);
    if (!(s->beta >= 0.0f) || s->kl_warmup < 0)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "vae options --beta and --kl-warmup must be >= 0");
    s->bernoulli = !strcmp(dec, "bernoulli");
    s->learned_var = !strcmp(var, "learned");
    if (!s->learned_var) {
        char *end = NULL;
        double v = strtod(var, &end);
        if (end == var || *end || !(v > 0) || !isfinite(v))
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "vae option --decoder-var %s: expected learned or a variance > 0", var);
        s->fixed_logvar = (float)log(v);
        const int64_t one = 1;
        DGM_TRY(dgm_tensor_create(ctx, 1, &one, &s->fixed_logvar_t));
        DGM_TRY(dgm_tensor_fill(ctx, s->fixed_logvar_t, s->fixed_logvar));
    }
    const char *net = dgm_config_string(m, "net");
    if (strcmp(net, "mlp") && strcmp(net, "conv"))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "vae option --net %s: mlp or conv", net);
    if (!strcmp(net, "conv")) {
        DGM_TRY(build_conv(m, s));
    } else {
    /* Declaration order = pytorch/examples' module order (and so the order of the
     * initialization draws): fc1..., fc21, fc22, fc3..., fc4. */
    char names[2][VAE_MAX_HIDDEN + 1][16];
    const char *enc_names[VAE_MAX_HIDDEN], *dec_names[VAE_MAX_HIDDEN + 1];
    int64_t enc_widths[VAE_MAX_HIDDEN + 1], dec_widths[VAE_MAX_HIDDEN + 2];
    enc_widths[0] = m->dim;
    dec_widths[0] = s->latent;
    for (int i = 0; i < s->n_hidden; i++) {
        if (i == 0) {
            snprintf(names[0][i], sizeof names[0][i], "fc1");
            snprintf(names[1][i], sizeof names[1][i], "fc3");
        } else {
            snprintf(names[0][i], sizeof names[0][i], "fc1_%d", i);
            snprintf(names[1][i], sizeof names[1][i], "fc3_%d", i);
        }
        enc_names[i] = names[0][i];
        dec_names[i] = names[1][i];
        enc_widths[i + 1] = s->hidden[i];
        dec_widths[i + 1] = s->hidden[s->n_hidden - 1 - i];
    }
    dec_names[s->n_hidden] = "fc4";
    dec_widths[s->n_hidden + 1] = m->dim;
    dgm_mlp_config enc_cfg = dgm_mlp_config_default(); /* ReLU between layers, PyTorch init */
    enc_cfg.output_activation = DGM_ACT_RELU;        /* h = relu(fc1(x)) feeds both heads */
    enc_cfg.linear_names = enc_names;
    DGM_TRY(dgm_mlp_create(m->params, NULL, s->n_hidden + 1, enc_widths, &enc_cfg, &s->encoder));
    const int64_t h = s->hidden[s->n_hidden - 1];
    DGM_TRY(dgm_linear_declare(m->params, "fc21", h, s->latent, true, DGM_NN_INIT_PYTORCH, 0.0f,
                               &s->fc21));
    DGM_TRY(dgm_linear_declare(m->params, "fc22", h, s->latent, true, DGM_NN_INIT_PYTORCH, 0.0f,
                               &s->fc22));
    dgm_mlp_config dec_cfg = dgm_mlp_config_default();
    dec_cfg.linear_names = dec_names;
    DGM_TRY(dgm_mlp_create(m->params, NULL, s->n_hidden + 2, dec_widths, &dec_cfg, &s->decoder));
    }
    if (!s->bernoulli && s->learned_var) {
        const dgm_init zeros = {DGM_INIT_ZEROS, 0, 0};
        DGM_TRY(dgm_params_add(m->params, "dec_logvar", 1, &m->dim, zeros));
    }
    return DGM_STATUS_OK;
}

static void destroy(dgm_model *m)
{
    vae_state *s = m->state;
    if (s) {
        dgm_tensor_free(s->fixed_logvar_t);
        dgm_mlp_free(s->encoder);
        dgm_mlp_free(s->decoder);
        dgm_dcgan_discriminator_free(s->conv_encoder);
        dgm_dcgan_generator_free(s->conv_decoder);
    }
    free(s);
}

/* q(z|x): μ and log σ², each [B, latent]. */
static dgm_status encode(dgm_model *m, dgm_tensor *x, dgm_tensor **mu, dgm_tensor **logvar)
{
    vae_state *s = m->state;
    dgm_tensor *h;
    if (s->conv_encoder) {
        DGM_TRY(dgm_dcgan_discriminator_forward(m->ctx, s->conv_encoder, x, &h));
        DGM_TRY(dgm_slice_cols(m->ctx, h, 0, s->latent, mu));
        return dgm_slice_cols(m->ctx, h, s->latent, s->latent, logvar);
    }
    /* No batch norm or dropout: the MLPs' `training` flag changes nothing here. */
    DGM_TRY(dgm_mlp_forward(m->ctx, s->encoder, x, false, &h));
    DGM_TRY(dgm_linear_forward(m->ctx, &s->fc21, h, DGM_ACT_NONE, 0.0f, mu));
    return dgm_linear_forward(m->ctx, &s->fc22, h, DGM_ACT_NONE, 0.0f, logvar);
}

/* Decoder output: Bernoulli logits or the Gaussian mean, [B, dim]. */
static dgm_status decode(dgm_model *m, dgm_tensor *z, dgm_tensor **out)
{
    vae_state *s = m->state;
    if (!s->conv_decoder) return dgm_mlp_forward(m->ctx, s->decoder, z, false, out);
    const int64_t flat[2] = {dgm_rows(z), m->dim};
    DGM_TRY(dgm_dcgan_generator_forward(m->ctx, s->conv_decoder, z, false, out));
    return dgm_reshape(m->ctx, *out, 2, flat, out);
}

/* z = μ + exp(½ log σ²)·ε. */
static dgm_status reparameterize(dgm_model *m, dgm_tensor *mu, dgm_tensor *logvar, dgm_tensor **z)
{
    dgm_ctx *ctx = m->ctx;
    const int64_t shape[2] = {dgm_rows(mu), dgm_cols(mu)};
    dgm_tensor *half, *std, *eps, *noise;
    DGM_TRY(dgm_scale(ctx, logvar, 0.5f, 0.0f, &half));
    DGM_TRY(dgm_exp(ctx, half, &std));
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, &eps));
    DGM_TRY(dgm_mul(ctx, std, eps, &noise));
    return dgm_add(ctx, mu, noise, z);
}

/* −log p(x|z) per sample [B, 1]. */
static dgm_status reconstruction_nll(dgm_model *m, dgm_tensor *x, dgm_tensor *dec, dgm_tensor **out)
{
    vae_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    if (s->bernoulli) return dgm_bce_with_logits(ctx, dec, x, DGM_REDUCTION_PER_ROW, out);
    dgm_tensor *logp = NULL;
    dgm_tensor *logvar = s->learned_var ? dgm_params_get(m->params, "dec_logvar") : s->fixed_logvar_t;
    DGM_TRY(dgm_gaussian_log_density(ctx, x, dec, logvar, DGM_REDUCTION_PER_ROW, &logp));
    return dgm_scale(ctx, logp, -1.0f, 0.0f, out);
}

/* Per-sample reconstruction term and KL, [B, 1] each, with one z per x. */
static dgm_status elbo_terms(dgm_model *m, dgm_tensor *x, dgm_tensor **rec, dgm_tensor **kl)
{
    dgm_tensor *mu, *logvar, *z, *dec;
    DGM_TRY(encode(m, x, &mu, &logvar));
    DGM_TRY(reparameterize(m, mu, logvar, &z));
    DGM_TRY(decode(m, z, &dec));
    DGM_TRY(reconstruction_nll(m, x, dec, rec));
    return dgm_kl_normal(m->ctx, mu, logvar, DGM_REDUCTION_PER_ROW, kl);
}

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    vae_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *rec, *kl, *wkl, *total;
    DGM_TRY(elbo_terms(m, batch, &rec, &kl));
    float beta = s->beta;
    if (s->kl_warmup > 0 && step < s->kl_warmup) beta *= (float)(step + 1) / (float)s->kl_warmup;
    DGM_TRY(dgm_scale(ctx, kl, beta, 0.0f, &wkl));
    DGM_TRY(dgm_add(ctx, rec, wkl, &total));
    return dgm_mean(ctx, total, DGM_AXIS_ALL, loss);
}

/* log p(x, z) − log q(z|x) per sample [B, 1] for one fresh z ~ q. */
static dgm_status log_weight(dgm_model *m, dgm_tensor *x, dgm_tensor *mu, dgm_tensor *logvar,
                             dgm_tensor *zero, dgm_tensor **out)
{
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *z, *dec, *nll, *logpz, *logqz, *a, *b;
    DGM_TRY(reparameterize(m, mu, logvar, &z));
    DGM_TRY(decode(m, z, &dec));
    DGM_TRY(reconstruction_nll(m, x, dec, &nll));
    DGM_TRY(dgm_gaussian_log_density(ctx, z, zero, zero, DGM_REDUCTION_PER_ROW, &logpz));
    DGM_TRY(dgm_gaussian_log_density(ctx, z, mu, logvar, DGM_REDUCTION_PER_ROW, &logqz));
    DGM_TRY(dgm_sub(ctx, logpz, nll, &a));
    DGM_TRY(dgm_sub(ctx, a, logqz, &b));
    *out = b;
    return DGM_STATUS_OK;
}

static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    dgm_ctx *ctx = m->ctx;
    const int64_t rows = dgm_rows(batch);
    if (!strcmp(metric, "elbo")) {
        dgm_tensor *rec, *kl, *t, *s;
        DGM_TRY(elbo_terms(m, batch, &rec, &kl));
        DGM_TRY(dgm_add(ctx, rec, kl, &t));
        DGM_TRY(dgm_sum(ctx, t, DGM_AXIS_ALL, &s));
        return dgm_read_scalar(ctx, s, sum);
    }
    /* iwae: K log-weights per sample gathered on the host, then a stable log-sum-exp. */
    const int64_t k = m->eval_samples > 0 ? m->eval_samples : 1;
    double *lw = malloc((size_t)(rows * k) * sizeof *lw);
    float *col = malloc((size_t)rows * sizeof *col);
    dgm_status st = lw && col ? DGM_STATUS_OK : dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    dgm_tensor *mu = NULL, *logvar = NULL, *zero = NULL;
    const int64_t one = 1;
    const float zf = 0.0f;
    if (st == DGM_STATUS_OK) st = encode(m, batch, &mu, &logvar);
    if (st == DGM_STATUS_OK) st = dgm_tensor_from_host(ctx, 1, &one, &zf, &zero);
    for (int64_t j = 0; j < k && st == DGM_STATUS_OK; j++) {
        dgm_tensor *w = NULL;
        st = log_weight(m, batch, mu, logvar, zero, &w);
        if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(ctx, w, col);
        for (int64_t r = 0; st == DGM_STATUS_OK && r < rows; r++) lw[r * k + j] = col[r];
    }
    double total = 0.0;
    for (int64_t r = 0; st == DGM_STATUS_OK && r < rows; r++) {
        double mx = -INFINITY, acc = 0.0;
        for (int64_t j = 0; j < k; j++) mx = fmax(mx, lw[r * k + j]);
        for (int64_t j = 0; j < k; j++) acc += exp(lw[r * k + j] - mx);
        total += -(mx + log(acc) - log((double)k)); /* −bound, a NLL estimate */
    }
    free(lw);
    free(col);
    *sum = total;
    return st;
}

static dgm_status sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    vae_state *s = m->state;
    const int64_t shape[2] = {n, s->latent};
    dgm_tensor *z, *dec;
    DGM_TRY(dgm_rand_normal(m->ctx, 2, shape, 0.0f, 1.0f, &z));
    DGM_TRY(decode(m, z, &dec));
    /* Show the decoder's mean: Bernoulli probabilities, or the Gaussian mean. */
    return s->bernoulli ? dgm_sigmoid(m->ctx, dec, out) : (*out = dec, DGM_STATUS_OK);
}

static dgm_status check_data(dgm_model *m, const dgm_dataset *data)
{
    vae_state *s = m->state;
    if (!s->bernoulli) return DGM_STATUS_OK;
    const float *x = dgm_dataset_data(data);
    const int64_t n = dgm_dataset_count(data) * dgm_dataset_dim(data);
    for (int64_t i = 0; i < n; i++)
        if (!(x[i] >= 0.0f && x[i] <= 1.0f))
            return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "the vae's bernoulli decoder needs data in [0, 1], and value %lld "
                                 "is %g: use --decoder gaussian for continuous data",
                                 (long long)i, (double)x[i]);
    return DGM_STATUS_OK;
}

static dgm_status encode_mean(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    dgm_tensor *logvar;
    return encode(m, x, out, &logvar);
}

static dgm_status reconstruct(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    vae_state *s = m->state;
    dgm_tensor *mu, *dec;
    DGM_TRY(encode_mean(m, x, &mu));
    DGM_TRY(decode(m, mu, &dec));
    return s->bernoulli ? dgm_sigmoid(m->ctx, dec, out) : (*out = dec, DGM_STATUS_OK);
}

/* pytorch/examples' VAE setup: Adam 1e-3, batch 128, 10 epochs (the README's numbers). */
static void train_defaults(const json_t *given, int sample_ndim, dgm_train_defaults *t)
{
    (void)sample_ndim;
    (void)given;
    memset(t, 0, sizeof *t);
    t->run = DGM_RUN_EPOCHS;
    t->length = 10;
    t->batch = 128;
    t->optim = dgm_optim_config_default(DGM_OPTIM_ADAM);
    t->schedule = (dgm_lr_schedule){.kind = DGM_LR_CONSTANT, .base_lr = t->optim.lr};
    t->log_every = 100;
}

const dgm_model_ops dgm_vae_ops = {
    .kind = "vae",
    .summary = "variational autoencoder: MLP encoder/decoder, ELBO with the reparameterization trick",
    .options = options,
    .option_types = option_types,
    .metrics = "elbo,iwae",
    .default_metrics = "elbo",
    .build = build,
    .ready = NULL,
    .train_defaults = train_defaults,
    .train_step = train_step,
    .sample = sample,
    .evaluate_batch = evaluate_batch,
    .check_data = check_data,
    .encode = encode_mean,
    .reconstruct = reconstruct,
    .destroy = destroy,
};
