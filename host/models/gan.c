/* Generative adversarial network (Goodfellow et al. 2014): a generator G maps z ~ N(0, I)
 * (or U(-1, 1)) to samples; a discriminator (critic) D maps a sample — or, with PacGAN
 * packing (Lin et al. 2018), `pack` samples side by side — to a raw score v.
 *
 * One training iteration: `d_steps` discriminator updates, each on a fresh data batch and
 * generated batch of the same size, minimizing dgm_gan_d_loss (the game's objective for the
 * chosen --loss, see gan_loss.c) plus λ·WGAN-GP penalty on interpolates (wgan-gp) or γ/2·R1
 * at the data (--r1 γ); then one generator update minimizing dgm_gan_g_loss. Each player
 * has its own optimizer over its own range of the one parameter block, so the checkpoint
 * holds both under PyTorch names: generator.net.* and discriminator.net.* (each an
 * nn.Sequential under `net`).
 *
 * With --ema d > 0 a third MLP, generator_ema.net.*, keeps the exponential moving average
 * of the generator's weights (ema = d·ema + (1 - d)·w after each generator update; its
 * batch-norm statistics copied from the generator's) and is what `sample` uses. It sits in
 * the block, so the checkpoint carries it; no optimizer covers it.
 *
 * Images (samples of 2 or more dims, e.g. Fashion-MNIST in [0, 1]) are trained in [-1, 1]
 * with a tanh output, and samples are mapped back to [0, 1]; other data is used as given.
 * Evaluation: "d_loss" on held-out data, and the mode coverage of 2,500 samples on the
 * mixture toys (see evaluate_samples). Training defaults depend on --loss (train_defaults).
 * --resume continues bit for bit: both optimizers' state is saved beside the checkpoint,
 * each under its player's prefix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/gan_loss.h"
#include "models/model_impl.h"
#include "ops/ops_common.h"

#define GAN_MAX_HIDDEN 8

typedef struct gan_state {
    int loss;
    int64_t latent;
    bool uniform_z;
    int d_steps;
    int pack;
    float gp, r1;
    float ema;
    float d_lr_mult;
    bool image;
    dgm_mlp *g, *d, *g_ema; /* g_ema: NULL without --ema */
    /* --net dcgan: the convolutional pair instead of the MLPs (dgm/nn.h) */
    dgm_dcgan_generator *cg, *cg_ema;
    dgm_dcgan_discriminator *cd;
    int64_t g_off, g_n, d_off, d_n, e_off, e_n;
    dgm_optim *g_opt, *d_opt; /* made on the first iteration, from its optimizer config */
    float last_d_loss;        /* D's loss at the last D step of the last iteration */
} gan_state;

/* The image runs of the DCGAN pair (non-saturating; wgan-gp with its 5 critic steps). */
#define GAN_DCGAN_STEPS 5000
#define GAN_DCGAN_WGAN_STEPS 2000

static const dgm_model_option options[] = {
    {"loss", "ns", "minimax, ns, f:kl, f:rkl, f:js, f:tv, f:pearson, f:hellinger or wgan-gp"},
    {"latent", "0", "latent dimensions (0: 2 for 2-D data, 64 otherwise)"},
    {"z", "normal", "latent distribution: normal (N(0, I)) or uniform (U(-1, 1))"},
    {"g-hidden", "400,400,400,400", "generator hidden widths (wgan-gp on vectors: 256,256,256)"},
    {"g-bn", "true", "batch norm after each generator hidden layer (wgan-gp on vectors: false)"},
    {"d-hidden", "200,200,200", "discriminator hidden widths (wgan-gp on vectors: 256,256,256)"},
    {"d-maxout", "1", "maxout pieces per discriminator unit (1: --d-act instead)"},
    {"d-steps", "0", "discriminator steps per generator step (0: 5 for wgan-gp, else 1)"},
    {"pack", "1", "PacGAN: samples the discriminator sees at once"},
    {"gp", "10", "weight λ of the WGAN-GP gradient penalty (wgan-gp only)"},
    {"r1", "-1", "weight γ of the R1 penalty γ/2·E‖∇D(x)‖² at the data (0: off; -1: 1, "
           "or 0 for wgan-gp)"},
    {"ema", "0", "decay of the generator's moving average used for sampling (0: off)"},
    {"d-lr-mult", "0", "the discriminator's learning rate as a multiple of --lr (TTUR; 0: 4, "
                       "or 1 for wgan-gp and the dcgan pair)"},
    {"net", "auto", "the players: mlp (--g-hidden, --d-hidden), dcgan (images with sides "
                    "divisible by 4: compare_gan's InfoGAN-style pair, --g-bn), or auto: dcgan on "
                    "such images, else mlp"},
    {"d-act", "leaky-relu", "the MLP discriminator's activation: leaky-relu (slope 0.2) or relu "
                            "(wgan-gp's default)"},
    {NULL, NULL, NULL},
};
static const dgm_opt_type option_types[] = {
    DGM_OPT_STRING, DGM_OPT_INT,   DGM_OPT_STRING, DGM_OPT_INT_LIST, DGM_OPT_BOOL, DGM_OPT_INT_LIST,
    DGM_OPT_INT,    DGM_OPT_INT,   DGM_OPT_INT,    DGM_OPT_FLOAT,    DGM_OPT_FLOAT, DGM_OPT_FLOAT,
    DGM_OPT_FLOAT,  DGM_OPT_STRING, DGM_OPT_STRING};

static dgm_status bad(dgm_model *m, const char *what)
{
    return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "gan option %s", what);
}

/* --net auto: the DCGAN pair on images whose sides its two stride-2 layers halve exactly. */
static bool dcgan_fits(const dgm_model *m)
{
    return m->sample_ndim >= 2 && m->sample_shape[m->sample_ndim - 2] % 4 == 0 &&
           m->sample_shape[m->sample_ndim - 1] % 4 == 0;
}

/* The DCGAN pair over the model's images; a packed discriminator sees its pack images
 * stacked along the channels (PacGAN's image packing). */
static dgm_status build_dcgan(dgm_model *m, gan_state *s)
{
    if (!s->image) return bad(m, "--net dcgan: the data are not images");
    dgm_dcgan_config c = dgm_dcgan_config_default();
    c.channels = m->sample_ndim == 3 ? m->sample_shape[0] : 1;
    c.height = m->sample_shape[m->sample_ndim - 2];
    c.width = m->sample_shape[m->sample_ndim - 1];
    c.latent = s->latent;
    c.batch_norm = dgm_config_bool(m, "g-bn");
    DGM_TRY(dgm_dcgan_generator_create(m->params, "generator", &c, &s->cg));
    if (s->ema > 0.0f) DGM_TRY(dgm_dcgan_generator_create(m->params, "generator_ema", &c, &s->cg_ema));
    c.channels *= s->pack;
    return dgm_dcgan_discriminator_create(m->params, "discriminator", &c, &s->cd);
}

static dgm_status build(dgm_model *m)
{
    dgm_ctx *ctx = m->ctx;
    gan_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    m->state = s;
    s->loss = dgm_gan_loss_parse(dgm_config_string(m, "loss"));
    if (s->loss < 0) return bad(m, "--loss: expected minimax, ns, f:kl, f:rkl, f:js, f:tv, "
                                   "f:pearson, f:hellinger or wgan-gp");
    const char *z = dgm_config_string(m, "z");
    if (strcmp(z, "normal") && strcmp(z, "uniform")) return bad(m, "--z: expected normal or uniform");
    s->uniform_z = !strcmp(z, "uniform");
    s->latent = dgm_config_int(m, "latent");
    if (s->latent < 0) return bad(m, "--latent: must be >= 0");
    if (s->latent == 0) s->latent = m->dim <= 2 ? 2 : 64;
    const int64_t d_steps = dgm_config_int(m, "d-steps"), pack = dgm_config_int(m, "pack");
    const int64_t maxout = dgm_config_int(m, "d-maxout");
    if (d_steps < 0 || d_steps > 100) return bad(m, "--d-steps: 0 to 100");
    if (pack < 1 || pack > 64) return bad(m, "--pack: 1 to 64");
    if (maxout < 1 || maxout > 16) return bad(m, "--d-maxout: 1 to 16");
    s->d_steps = d_steps ? (int)d_steps : s->loss == DGM_GAN_WGAN_GP ? 5 : 1;
    s->pack = (int)pack;
    s->gp = (float)dgm_config_float(m, "gp");
    const bool wgan = s->loss == DGM_GAN_WGAN_GP;
    s->r1 = (float)dgm_config_float(m, "r1");
    if (s->r1 == -1.0f) s->r1 = wgan ? 0.0f : 1.0f;
    if (!(s->gp >= 0.0f) || !(s->r1 >= 0.0f)) return bad(m, "--gp and --r1: must be >= 0 (--r1 -1: the default)");
    s->ema = (float)dgm_config_float(m, "ema");
    if (!(s->ema >= 0.0f && s->ema < 1.0f)) return bad(m, "--ema: must be in [0, 1)");
    s->image = m->sample_ndim >= 2;
    const char *net = dgm_config_string(m, "net");
    if (strcmp(net, "mlp") && strcmp(net, "dcgan") && strcmp(net, "auto")) return bad(m, "--net: mlp, dcgan or auto");
    const bool dcgan = !strcmp(net, "dcgan") || (!strcmp(net, "auto") && dcgan_fits(m));
    s->d_lr_mult = (float)dgm_config_float(m, "d-lr-mult");
    if (s->d_lr_mult == 0.0f) s->d_lr_mult = wgan || dcgan ? 1.0f : 4.0f;
    if (!(s->d_lr_mult > 0.0f && s->d_lr_mult <= 1000.0f)) return bad(m, "--d-lr-mult: in (0, 1000]");
    const char *d_act = dgm_config_string(m, "d-act");
    if (strcmp(d_act, "leaky-relu") && strcmp(d_act, "relu")) return bad(m, "--d-act: leaky-relu or relu");
    const bool relu_d = !strcmp(d_act, "relu");
    if (dcgan) return build_dcgan(m, s);

    int64_t gw[GAN_MAX_HIDDEN + 2], dw[GAN_MAX_HIDDEN + 2];
    const int ng = dgm_config_int_list(m, "g-hidden", gw + 1, GAN_MAX_HIDDEN);
    const int nd = dgm_config_int_list(m, "d-hidden", dw + 1, GAN_MAX_HIDDEN);
    if (ng < 1 || ng > GAN_MAX_HIDDEN || nd < 1 || nd > GAN_MAX_HIDDEN)
        return bad(m, "--g-hidden and --d-hidden: 1 to 8 layers");
    gw[0] = s->latent;
    gw[ng + 1] = m->dim;
    dw[0] = m->dim * s->pack;
    dw[nd + 1] = 1;
    dgm_mlp_config gc = dgm_mlp_config_default();
    gc.batch_norm = dgm_config_bool(m, "g-bn");
    gc.output_activation = s->image ? DGM_ACT_TANH : DGM_ACT_NONE;
    DGM_TRY(dgm_mlp_create(m->params, "generator.net", ng + 2, gw, &gc, &s->g));
    if (s->ema > 0.0f)
        DGM_TRY(dgm_mlp_create(m->params, "generator_ema.net", ng + 2, gw, &gc, &s->g_ema));
    dgm_mlp_config dc = dgm_mlp_config_default();
    dc.activation = relu_d ? DGM_ACT_RELU : DGM_ACT_LEAKY_RELU;
    dc.activation_alpha = 0.2f;
    dc.maxout_k = (int)maxout;
    return dgm_mlp_create(m->params, "discriminator.net", nd + 2, dw, &dc, &s->d);
}

static dgm_status ready(dgm_model *m)
{
    gan_state *s = m->state;
    DGM_TRY(dgm_params_prefix_range(m->params, "generator.", &s->g_off, &s->g_n));
    if (s->g_ema || s->cg_ema)
        DGM_TRY(dgm_params_prefix_range(m->params, "generator_ema.", &s->e_off, &s->e_n));
    return dgm_params_prefix_range(m->params, "discriminator.", &s->d_off, &s->d_n);
}

/* The generator's batch-norm statistics into the average's (same module numbering). */
static dgm_status copy_bn_stats(dgm_model *m)
{
    dgm_params *p = m->params;
    const size_t len = strlen("generator.");
    for (int i = 0; i < dgm_params_count(p); i++) {
        const char *name = dgm_params_name(p, i);
        if (!dgm_params_is_buffer(p, i) || strncmp(name, "generator.", len)) continue;
        char twin[160];
        snprintf(twin, sizeof twin, "generator_ema.%s", name + len);
        dgm_tensor *to = dgm_params_get(p, twin);
        if (!to) return DGM_STATUS_STATE_ERROR; /* dgm_params_get set the message */
        DGM_TRY(dgm_tensor_copy(m->ctx, to, dgm_params_at(p, i)));
    }
    return DGM_STATUS_OK;
}

/* ema = d·ema + (1 - d)·w over the generator's range (d = 0 on the first call: a copy). */
static dgm_status update_ema(dgm_model *m, float decay)
{
    gan_state *s = m->state;
    if (!s->g_ema && !s->cg_ema) return DGM_STATUS_OK;
    float *v = dgm_params_values(m->params);
    DGM_TRY(m->ctx->be->ema_update(m->ctx, (size_t)s->g_n, v + s->e_off, v + s->g_off, decay));
    return copy_bn_stats(m);
}

/* n generated samples [n, dim], in the model's working range ([-1, 1] for images). */
static dgm_status generate(dgm_model *m, int64_t n, bool training, dgm_tensor **out)
{
    gan_state *s = m->state;
    const int64_t shape[2] = {n, s->latent};
    dgm_tensor *z = NULL;
    if (s->uniform_z) DGM_TRY(dgm_rand_uniform(m->ctx, 2, shape, -1.0f, 1.0f, &z));
    else DGM_TRY(dgm_rand_normal(m->ctx, 2, shape, 0.0f, 1.0f, &z));
    if (!s->cg) return dgm_mlp_forward(m->ctx, s->g, z, training, out);
    const int64_t flat[2] = {n, m->dim};
    DGM_TRY(dgm_dcgan_generator_forward(m->ctx, s->cg, z, training, out));
    return dgm_reshape(m->ctx, *out, 2, flat, out);
}

/* D's scores of rows [R, dim·pack]: [R, 1]. */
static dgm_status d_forward(dgm_model *m, dgm_tensor *x, dgm_tensor **v)
{
    gan_state *s = m->state;
    if (s->cd) return dgm_dcgan_discriminator_forward(m->ctx, s->cd, x, v);
    return dgm_mlp_forward(m->ctx, s->d, x, true, v);
}

/* x [B, dim] as D's input rows [B/pack, dim·pack]: consecutive rows side by side. */
static dgm_status packed(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    gan_state *s = m->state;
    *out = x;
    if (s->pack == 1) return DGM_STATUS_OK;
    const int64_t shape[2] = {dgm_rows(x) / s->pack, m->dim * s->pack};
    return dgm_reshape(m->ctx, x, 2, shape, out);
}

/* D's raw scores [B/pack, 1] of x [B, dim] (B a multiple of pack). */
static dgm_status discriminate(dgm_model *m, dgm_tensor *x, dgm_tensor **v)
{
    DGM_TRY(packed(m, x, &x));
    return d_forward(m, x, v);
}

/* D's scores of a data and a generated batch of the same size in one pass over both (D
 * has no batch norm, so each row's score is what a pass of its own gives; one pass of
 * 2B rows makes half the matrix products, each twice as large). */
static dgm_status discriminate_pair(dgm_model *m, dgm_tensor *real, dgm_tensor *fake,
                                    dgm_tensor **vr, dgm_tensor **vf)
{
    gan_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *pr = NULL, *pf = NULL, *both = NULL, *v = NULL;
    DGM_TRY(packed(m, real, &pr));
    DGM_TRY(packed(m, fake, &pf));
    const int64_t rows = dgm_rows(pr), width = m->dim * s->pack;
    DGM_TRY(dgm_concat_cols(ctx, pr, pf, &both)); /* [rows, 2·width]: row i = real i, fake i */
    const int64_t interleaved[2] = {2 * rows, width};
    DGM_TRY(dgm_reshape(ctx, both, 2, interleaved, &both));
    DGM_TRY(d_forward(m, both, &v));
    const int64_t pairs[2] = {rows, 2};
    DGM_TRY(dgm_reshape(ctx, v, 2, pairs, &v));
    DGM_TRY(dgm_slice_cols(ctx, v, 0, 1, vr));
    return dgm_slice_cols(ctx, v, 1, 1, vf);
}

static dgm_status check_batch_size(dgm_model *m, int64_t batch)
{
    const gan_state *s = m->state;
    if (batch >= 2 && batch % s->pack == 0) return DGM_STATUS_OK;
    char pack[64] = "";
    if (s->pack > 1) snprintf(pack, sizeof pack, ", a multiple of --pack %d", s->pack);
    return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                         "batch %lld: a gan trains on batches of at least 2 samples%s", (long long)batch, pack);
}

/* A data batch in the working range, with a number of rows divisible by the pack (the
 * short last batch of an epoch is skipped when it is not). */
static dgm_status real_batch(dgm_model *m, dgm_loader *loader, dgm_tensor **x)
{
    gan_state *s = m->state;
    for (int tries = 0; tries < 2; tries++) {
        bool epoch_end = false;
        DGM_TRY(dgm_loader_next(loader, x, &epoch_end));
        if (dgm_rows(*x) % s->pack == 0 && dgm_rows(*x) >= 2) break;
        *x = NULL;
    }
    if (!*x)
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "gan: the batch size must be a multiple of --pack %d (and >= 2)",
                             s->pack);
    return s->image ? dgm_scale(m->ctx, *x, 2.0f, -1.0f, x) : DGM_STATUS_OK;
}

/* x̂ = ε·real + (1 - ε)·fake with ε ~ U(0, 1) per sample. */
static dgm_status interpolate(dgm_model *m, dgm_tensor *real, dgm_tensor *fake, dgm_tensor **out)
{
    const int64_t shape[2] = {dgm_rows(real), 1};
    dgm_tensor *e = NULL, *d = NULL, *t = NULL;
    DGM_TRY(dgm_rand_uniform(m->ctx, 2, shape, 0.0f, 1.0f, &e));
    DGM_TRY(dgm_sub(m->ctx, real, fake, &d));
    DGM_TRY(dgm_mul(m->ctx, d, e, &t));
    return dgm_add(m->ctx, fake, t, out);
}

/* D's loss of an iteration's last step, kept for the metrics line; a NaN or infinite one
 * stops the run before D's update spreads it (NOT_FINITE, which the trainer reports with
 * the step and the last checkpoint). One read a G step: the loss is in host memory on
 * the CPU, a 4-byte copy on a GPU. */
static dgm_status check_d_loss(dgm_model *m, dgm_tensor *loss)
{
    gan_state *s = m->state;
    float v = 0.0f;
    DGM_TRY(dgm_tensor_to_host(m->ctx, loss, &v));
    s->last_d_loss = v;
    if (isfinite(v)) return DGM_STATUS_OK;
    return dgm_set_error(m->ctx, DGM_STATUS_NOT_FINITE, "the discriminator's loss is %s",
                         isnan(v) ? "NaN" : "infinite");
}

static dgm_status d_step(dgm_model *m, dgm_loader *loader, bool last)
{
    gan_state *s = m->state;
    dgm_ctx *ctx = m->ctx;
    dgm_tensor *real = NULL, *fake = NULL, *vr = NULL, *vf = NULL, *loss = NULL, *pen = NULL;
    DGM_TRY(real_batch(m, loader, &real));
    dgm_ctx_set_grad_enabled(ctx, false); /* the generator is fixed in this step */
    dgm_status st = generate(m, dgm_rows(real), true, &fake);
    dgm_ctx_set_grad_enabled(ctx, true);
    DGM_TRY(st);
    if (s->r1 > 0.0f) DGM_TRY(dgm_tensor_set_requires_grad(real, true));
    DGM_TRY(discriminate_pair(m, real, fake, &vr, &vf));
    DGM_TRY(dgm_gan_d_loss(ctx, s->loss, vr, vf, &loss));
    if (s->loss == DGM_GAN_WGAN_GP && s->gp > 0.0f) {
        dgm_tensor *xhat = NULL, *vh = NULL;
        DGM_TRY(interpolate(m, real, fake, &xhat));
        DGM_TRY(dgm_tensor_set_requires_grad(xhat, true));
        DGM_TRY(discriminate(m, xhat, &vh));
        DGM_TRY(dgm_gan_gradient_penalty(ctx, vh, xhat, &pen));
        DGM_TRY(dgm_scale(ctx, pen, s->gp, 0.0f, &pen));
        DGM_TRY(dgm_add(ctx, loss, pen, &loss));
    }
    if (s->r1 > 0.0f) {
        DGM_TRY(dgm_gan_r1_penalty(ctx, vr, real, &pen));
        DGM_TRY(dgm_scale(ctx, pen, 0.5f * s->r1, 0.0f, &pen));
        DGM_TRY(dgm_add(ctx, loss, pen, &loss));
    }
    DGM_TRY(dgm_params_zero_grad(m->params));
    DGM_TRY(dgm_backward(ctx, loss));
    if (last) DGM_TRY(check_d_loss(m, loss));
    if (m->grad_clip > 0.0f) DGM_TRY(dgm_clip_grad_norm_range(m->params, s->d_off, s->d_n, m->grad_clip, NULL));
    DGM_TRY(dgm_optim_step(s->d_opt));
    return dgm_ctx_step_end(ctx); /* one backward per step */
}

static dgm_status g_step(dgm_model *m, int64_t rows, dgm_tensor **loss)
{
    gan_state *s = m->state;
    dgm_tensor *fake = NULL, *vf = NULL;
    DGM_TRY(generate(m, rows, true, &fake));
    DGM_TRY(discriminate(m, fake, &vf));
    DGM_TRY(dgm_gan_g_loss(m->ctx, s->loss, vf, loss));
    DGM_TRY(dgm_params_zero_grad(m->params));
    DGM_TRY(dgm_backward(m->ctx, *loss));
    if (m->grad_clip > 0.0f) DGM_TRY(dgm_clip_grad_norm_range(m->params, s->g_off, s->g_n, m->grad_clip, NULL));
    return dgm_optim_step(s->g_opt);
}

/* The players' optimizers, and the average's start at the generator (a resumed run loads
 * both over what this makes). */
static dgm_status make_optimizers(dgm_model *m, const dgm_optim_config *optim)
{
    gan_state *s = m->state;
    DGM_TRY(dgm_optim_create_range(m->params, s->d_off, s->d_n, optim, &s->d_opt));
    DGM_TRY(dgm_optim_create_range(m->params, s->g_off, s->g_n, optim, &s->g_opt));
    return update_ema(m, 0.0f);
}

static dgm_status own_optimizers(dgm_model *m, const dgm_optim_config *make, int *n, dgm_optim **out,
                                 const char **prefix)
{
    gan_state *s = m->state;
    *n = 0;
    if (make && !s->d_opt) DGM_TRY(make_optimizers(m, make));
    if (!s->d_opt) return DGM_STATUS_OK;
    out[0] = s->d_opt, prefix[0] = "discriminator.";
    out[1] = s->g_opt, prefix[1] = "generator.";
    *n = 2;
    return DGM_STATUS_OK;
}

static dgm_status train_iteration(dgm_model *m, dgm_loader *loader,
                                  const dgm_optim_config *optim, int64_t step, dgm_tensor **loss)
{
    (void)step;
    gan_state *s = m->state;
    if (!s->d_opt) DGM_TRY(make_optimizers(m, optim));
    dgm_optim_set_lr(s->d_opt, optim->lr * s->d_lr_mult); /* this iteration's rates */
    dgm_optim_set_lr(s->g_opt, optim->lr);
    for (int k = 0; k < s->d_steps; k++) DGM_TRY(d_step(m, loader, k == s->d_steps - 1));
    /* The generator's batch: as many samples as a data batch (a multiple of the pack). */
    const int64_t rows = dgm_loader_batch_size(loader) / s->pack * s->pack;
    DGM_TRY(g_step(m, rows < s->pack ? s->pack : rows, loss));
    return update_ema(m, s->ema);
}

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    (void)batch;
    (void)step;
    (void)loss;
    return dgm_set_error(m->ctx, DGM_STATUS_UNSUPPORTED,
                         "gan: two players train with their own optimizers: use "
                         "dgm_model_train_iteration, not dgm_model_train_step");
}

static dgm_status sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    gan_state *s = m->state;
    dgm_tensor *x = NULL;
    dgm_mlp *live = s->g;
    dgm_dcgan_generator *clive = s->cg;
    if (s->g_ema) s->g = s->g_ema; /* sample with the average */
    if (s->cg_ema) s->cg = s->cg_ema;
    dgm_status st = generate(m, n, false, &x);
    s->g = live;
    s->cg = clive;
    DGM_TRY(st);
    return s->image ? dgm_scale(m->ctx, x, 0.5f, 0.5f, out) : (*out = x, DGM_STATUS_OK);
}

/* "d_loss": the discriminator's loss (without penalties) on each data batch against as
 * many generated samples, summed per sample — how well D separates, on held-out data. */
static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    (void)metric;
    gan_state *s = m->state;
    const int64_t rows = dgm_rows(batch) / s->pack * s->pack;
    if (rows < s->pack) {
        *sum = 0.0;
        return DGM_STATUS_OK;
    }
    dgm_tensor *x = batch, *fake = NULL, *vr = NULL, *vf = NULL, *l = NULL;
    if (rows != dgm_rows(batch)) {
        const int64_t shape[2] = {rows, m->dim};
        DGM_TRY(dgm_tensor_wrap_step(m->ctx, 2, shape, batch->data, &x)); /* the first rows */
    }
    if (s->image) DGM_TRY(dgm_scale(m->ctx, x, 2.0f, -1.0f, &x));
    DGM_TRY(generate(m, rows, false, &fake));
    DGM_TRY(discriminate(m, x, &vr));
    DGM_TRY(discriminate(m, fake, &vf));
    DGM_TRY(dgm_gan_d_loss(m->ctx, s->loss, vr, vf, &l));
    DGM_TRY(dgm_read_scalar(m->ctx, l, sum));
    *sum *= (double)rows;
    return DGM_STATUS_OK;
}

/* The metrics line's "d_loss": D's loss at the last iteration's last D step (penalties
 * included), beside the generator's, which is the line's "loss". */
static dgm_status log_fields(dgm_model *m, int64_t step, char *buf, size_t len)
{
    (void)step;
    const gan_state *s = m->state;
    snprintf(buf, len, "\"d_loss\": %.7g", (double)s->last_d_loss);
    return DGM_STATUS_OK;
}

/* Mode coverage on a Gaussian-mixture toy (dgm_model_sample_metric). */
static dgm_status evaluate_samples(dgm_model *m, const dgm_dataset *data, const char *metric,
                                   double *value)
{
    return dgm_model_sample_metric(m, data, metric, value);
}

/* PacGAN's 2-D setup (Adam 1e-4, betas (0.8, 0.999), batch 100); with --loss wgan-gp the
 * WGAN-GP paper's toy run (Adam 1e-4, betas (0.5, 0.9), batch 256; its 5 critic steps are
 * --d-steps 0). */
static void train_defaults(const json_t *given, int sample_ndim, dgm_train_defaults *t)
{
    const bool wgan = dgm_gan_loss_parse(dgm_given_option(given, options, "loss")) == DGM_GAN_WGAN_GP;
    const char *net = dgm_given_option(given, options, "net");
    const bool dcgan = !strcmp(net, "dcgan") || (!strcmp(net, "auto") && sample_ndim >= 2);
    memset(t, 0, sizeof *t);
    t->run = DGM_RUN_STEPS;
    t->length = wgan ? 10000 : 20000;
    t->batch = wgan ? 256 : 100;
    t->optim = dgm_optim_config_default(DGM_OPTIM_ADAM);
    t->optim.lr = 1e-4f;
    t->optim.beta1 = wgan ? 0.5f : 0.8f;
    t->optim.beta2 = wgan ? 0.9f : 0.999f;
    if (dcgan) { /* DCGAN's (Radford et al.) Adam, sized to end within 30 min on 2 CPU cores */
        t->length = wgan ? GAN_DCGAN_WGAN_STEPS : GAN_DCGAN_STEPS;
        t->batch = 64;
        if (!wgan) t->optim.lr = 2e-4f, t->optim.beta1 = 0.5f;
    }
    /* Constant, as PacGAN. A cosine decay to 0 was tried once on grid25: 25/25 modes and
     * reverse KL 0.19 (constant: 24, 0.64) but 47.6 % high-quality (constant: 55.8 %). */
    t->schedule = (dgm_lr_schedule){.kind = DGM_LR_CONSTANT, .base_lr = t->optim.lr};
    t->log_every = 500;
}

/* --loss wgan-gp's MLP pair: the WGAN-GP paper's toy networks (Gulrajani et al. 2017, its
 * gan_toy.py: ReLU MLPs of three hidden layers, no batch norm; its PyTorch run at width
 * 256 reaches 8/8 modes and 97 % high-quality on gauss8). The DCGAN pair on images keeps
 * its batch norm (the paper's image generators have it too). */
static const char *option_default(const json_t *given, int sample_ndim, const char *name)
{
    if (dgm_gan_loss_parse(dgm_given_option(given, options, "loss")) != DGM_GAN_WGAN_GP) return NULL;
    const char *net = dgm_given_option(given, options, "net");
    if (!strcmp(net, "dcgan") || (!strcmp(net, "auto") && sample_ndim >= 2)) return NULL;
    if (!strcmp(name, "g-hidden") || !strcmp(name, "d-hidden")) return "256,256,256";
    if (!strcmp(name, "g-bn")) return "false";
    if (!strcmp(name, "d-act")) return "relu";
    return NULL;
}

/* Checkpoints from before --net were the MLP pair; from before --d-act, LeakyReLU's. */
static const dgm_model_option legacy_options[] = {
    {"net", "mlp", "checkpoints from before the DCGAN pair"},
    {"d-act", "leaky-relu", "checkpoints from before --d-act"},
    {NULL, NULL, NULL},
};

static const dgm_model_option defaults_variants[] = {
    {"loss", "wgan-gp", "the WGAN-GP paper's toy setup"},
    {NULL, NULL, NULL},
};

static void destroy(dgm_model *m)
{
    gan_state *s = m->state;
    if (!s) return;
    dgm_optim_free(s->g_opt);
    dgm_optim_free(s->d_opt);
    dgm_mlp_free(s->g);
    dgm_mlp_free(s->g_ema);
    dgm_mlp_free(s->d);
    dgm_dcgan_generator_free(s->cg);
    dgm_dcgan_generator_free(s->cg_ema);
    dgm_dcgan_discriminator_free(s->cd);
    free(s);
}

const dgm_model_ops dgm_gan_ops = {
    .kind = "gan",
    .summary = "generative adversarial network: MLP generator and discriminator, minimax / "
               "non-saturating / f-GAN / WGAN-GP objectives, PacGAN packing",
    .options = options,
    .option_types = option_types,
    .metrics = "d_loss,modes,high_quality,reverse_kl",
    .default_metrics = "d_loss",
    .build = build,
    .ready = ready,
    .train_defaults = train_defaults,
    .option_default = option_default,
    .legacy_options = legacy_options,
    .image_run_time = "16 min on 2 cores of a Sapphire Rapids Xeon, 27 min on an Ice Lake one: the "
                      "DCGAN pair at 0.19 and 0.32 s an iteration (measured alone, 2026-12-07)",
    .defaults_variants = defaults_variants,
    .train_step = train_step,
    .log_fields = log_fields,
    .train_iteration = train_iteration,
    .own_optimizers = own_optimizers,
    .check_batch_size = check_batch_size,
    .sample = sample,
    .evaluate_batch = evaluate_batch,
    .sample_metrics = "modes,high_quality,reverse_kl",
    .evaluate_samples = evaluate_samples,
    .destroy = destroy,
};
