/* The InfoGAN-style DCGAN pair of Lucic et al.'s GAN study (google/compare_gan,
 * architectures/infogan.py), the convolutional networks of the GAN family and, without
 * batch norm, of the convolutional VAE (dgm/nn.h says what they compute and how their
 * parameters are named). The first convolution of the discriminator and the last layer
 * of the generator carry no batch norm, as there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

struct dgm_dcgan_generator {
    dgm_dcgan_config cfg;
    dgm_linear fc1, fc2;
    dgm_conv2d_layer deconv1, deconv2;
    int bn1, bn2, bn3; /* indices of the batch norms' weights (-1: none) */
};

struct dgm_dcgan_discriminator {
    dgm_dcgan_config cfg;
    dgm_conv2d_layer conv1, conv2;
    dgm_linear fc1, fc2;
};

dgm_dcgan_config dgm_dcgan_config_default(void)
{
    dgm_dcgan_config c;
    memset(&c, 0, sizeof c);
    c.channels = 1;
    c.height = c.width = 28;
    c.latent = 64;
    c.hidden = 1024;
    c.base_channels = 64;
    c.batch_norm = true;
    c.output = DGM_ACT_TANH;
    c.out_features = 1;
    c.init = DGM_NN_INIT_PYTORCH;
    c.init_std = 0.02f;
    return c;
}

static dgm_status check(dgm_ctx *ctx, const char *fn, const dgm_dcgan_config *c)
{
    if (c->channels < 1 || c->latent < 1 || c->hidden < 1 || c->base_channels < 1 ||
        c->out_features < 1 || c->height < 4 || c->width < 4 || c->height % 4 || c->width % 4)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %lldx%lld images (sides must be multiples of 4), %lld "
                             "channels, latent %lld, hidden %lld, base channels %lld, %lld "
                             "outputs: every one >= 1", fn, (long long)c->height,
                             (long long)c->width, (long long)c->channels, (long long)c->latent,
                             (long long)c->hidden, (long long)c->base_channels,
                             (long long)c->out_features);
    return DGM_STATUS_OK;
}

static const dgm_conv2d_options k4s2 = {{2, 2}, {1, 1}, {0, 0}, {0, 0}, 0};

static dgm_status declare_bn(dgm_params *p, const char *prefix, const char *name, int64_t n,
                             bool on, int *index)
{
    *index = -1;
    if (!on) return DGM_STATUS_OK;
    char full[DGM_NN_NAME_MAX];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    *index = dgm_params_count(p);
    return dgm_params_add_batchnorm(p, full, n);
}

dgm_status dgm_dcgan_generator_create(dgm_params *p, const char *prefix,
                                      const dgm_dcgan_config *config, dgm_dcgan_generator **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_check_ctx(ctx));
    if (!config || !out || !prefix || strlen(prefix) > 64)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_dcgan_generator_create: config, out and a prefix of at most 64 bytes");
    DGM_TRY(check(ctx, "dgm_dcgan_generator_create", config));
    dgm_dcgan_generator *g = calloc(1, sizeof *g);
    if (!g) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_dcgan_generator_create: out of host memory");
    g->cfg = *config;
    const dgm_dcgan_config *c = config;
    const int64_t b = c->base_channels, plane = (c->height / 4) * (c->width / 4);
    const bool bn = c->batch_norm;
    char n[DGM_NN_NAME_MAX];
    dgm_status st = DGM_STATUS_OK;
#define NAME(s) (snprintf(n, sizeof n, "%s.%s", prefix, s), n)
    if (!st) st = dgm_linear_declare(p, NAME("fc1"), c->latent, c->hidden, !bn, c->init, c->init_std, &g->fc1);
    if (!st) st = declare_bn(p, prefix, "bn1", c->hidden, bn, &g->bn1);
    if (!st) st = dgm_linear_declare(p, NAME("fc2"), c->hidden, 2 * b * plane, !bn, c->init, c->init_std, &g->fc2);
    if (!st) st = declare_bn(p, prefix, "bn2", 2 * b * plane, bn, &g->bn2);
    if (!st) st = dgm_conv_transpose2d_layer_declare(p, NAME("deconv1"), 2 * b, b, 4, &k4s2, !bn,
                                                      c->init, c->init_std, &g->deconv1);
    if (!st) st = declare_bn(p, prefix, "bn3", b, bn, &g->bn3);
    if (!st) st = dgm_conv_transpose2d_layer_declare(p, NAME("deconv2"), b, c->channels, 4, &k4s2,
                                                      true, c->init, c->init_std, &g->deconv2);
#undef NAME
    if (st) {
        free(g);
        return st;
    }
    *out = g;
    return DGM_STATUS_OK;
}

void dgm_dcgan_generator_free(dgm_dcgan_generator *g) { free(g); }

/* Batch norm (index i: weight, bias, running_mean, running_var) then ReLU; 1-D or 2-D. */
static dgm_status bn_relu(dgm_ctx *ctx, dgm_params *p, int i, bool image, bool training,
                          dgm_tensor *x, dgm_tensor **out)
{
    if (i >= 0) {
        dgm_tensor *w = dgm_params_at(p, i), *b = dgm_params_at(p, i + 1);
        dgm_tensor *rm = dgm_params_at(p, i + 2), *rv = dgm_params_at(p, i + 3);
        if (image) DGM_TRY(dgm_batchnorm2d(ctx, x, w, b, rm, rv, training, 0.1f, 1e-5f, &x));
        else DGM_TRY(dgm_batchnorm(ctx, x, w, b, rm, rv, training, 0.1f, 1e-5f, &x));
    }
    return dgm_relu(ctx, x, out);
}

dgm_status dgm_dcgan_generator_forward(dgm_ctx *ctx, const dgm_dcgan_generator *g, dgm_tensor *z,
                                       bool training, dgm_tensor **out)
{
    const char *fn = "dgm_dcgan_generator_forward";
    if (!g) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: the generator is NULL", fn);
    dgm_params *p = g->fc1.params;
    DGM_TRY(dgm_nn_check_allocated(ctx, p, fn));
    const dgm_dcgan_config *c = &g->cfg;
    const int64_t bsz = dgm_tensor_dim(z, 0);
    const int64_t img[4] = {bsz, 2 * c->base_channels, c->height / 4, c->width / 4};
    dgm_tensor *h = NULL;
    DGM_TRY(dgm_linear_forward(ctx, &g->fc1, z, DGM_ACT_NONE, 0.0f, &h));
    DGM_TRY(bn_relu(ctx, p, g->bn1, false, training, h, &h));
    DGM_TRY(dgm_linear_forward(ctx, &g->fc2, h, DGM_ACT_NONE, 0.0f, &h));
    DGM_TRY(bn_relu(ctx, p, g->bn2, false, training, h, &h));
    DGM_TRY(dgm_reshape(ctx, h, 4, img, &h));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &g->deconv1, h, &h));
    DGM_TRY(bn_relu(ctx, p, g->bn3, true, training, h, &h));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &g->deconv2, h, &h));
    if (c->output == DGM_ACT_NONE) {
        *out = h;
        return DGM_STATUS_OK;
    }
    return dgm_activate(ctx, h, c->output, 0.0f, out);
}

dgm_status dgm_dcgan_discriminator_create(dgm_params *p, const char *prefix,
                                          const dgm_dcgan_config *config,
                                          dgm_dcgan_discriminator **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_check_ctx(ctx));
    if (!config || !out || !prefix || strlen(prefix) > 64)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_dcgan_discriminator_create: config, out and a prefix of at most 64 bytes");
    DGM_TRY(check(ctx, "dgm_dcgan_discriminator_create", config));
    dgm_dcgan_discriminator *d = calloc(1, sizeof *d);
    if (!d) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_dcgan_discriminator_create: out of host memory");
    d->cfg = *config;
    const dgm_dcgan_config *c = config;
    const int64_t b = c->base_channels, plane = (c->height / 4) * (c->width / 4);
    char n[DGM_NN_NAME_MAX];
    dgm_status st = DGM_STATUS_OK;
#define NAME(s) (snprintf(n, sizeof n, "%s.%s", prefix, s), n)
    if (!st) st = dgm_conv2d_layer_declare(p, NAME("conv1"), c->channels, b, 4, &k4s2, true, c->init,
                                           c->init_std, &d->conv1);
    if (!st) st = dgm_conv2d_layer_declare(p, NAME("conv2"), b, 2 * b, 4, &k4s2, true, c->init,
                                           c->init_std, &d->conv2);
    if (!st) st = dgm_linear_declare(p, NAME("fc1"), 2 * b * plane, c->hidden, true, c->init, c->init_std, &d->fc1);
    if (!st) st = dgm_linear_declare(p, NAME("fc2"), c->hidden, c->out_features, true, c->init, c->init_std, &d->fc2);
#undef NAME
    if (st) {
        free(d);
        return st;
    }
    *out = d;
    return DGM_STATUS_OK;
}

void dgm_dcgan_discriminator_free(dgm_dcgan_discriminator *d) { free(d); }

dgm_status dgm_dcgan_discriminator_forward(dgm_ctx *ctx, const dgm_dcgan_discriminator *d,
                                           dgm_tensor *x, dgm_tensor **out)
{
    const char *fn = "dgm_dcgan_discriminator_forward";
    if (!d) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: the discriminator is NULL", fn);
    DGM_TRY(dgm_nn_check_allocated(ctx, d->conv1.params, fn));
    const dgm_dcgan_config *c = &d->cfg;
    DGM_TRY(dgm_check_tensor(ctx, x, fn, "x"));
    const int64_t bsz = dgm_tensor_dim(x, 0);
    if (dgm_tensor_numel(x) != bsz * c->channels * c->height * c->width) {
        char s[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "%s: x %s is not %lld images [%lld, %lld, %lld]",
                             fn, dgm_shape_str(x, s, sizeof s), (long long)bsz, (long long)c->channels,
                             (long long)c->height, (long long)c->width);
    }
    const int64_t img[4] = {bsz, c->channels, c->height, c->width};
    const int64_t flat[2] = {bsz, 2 * c->base_channels * (c->height / 4) * (c->width / 4)};
    const float slope = 0.2f; /* compare_gan's lrelu */
    dgm_tensor *h = NULL;
    DGM_TRY(dgm_reshape(ctx, x, 4, img, &h));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &d->conv1, h, &h));
    DGM_TRY(dgm_leaky_relu(ctx, h, slope, &h));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &d->conv2, h, &h));
    DGM_TRY(dgm_leaky_relu(ctx, h, slope, &h));
    DGM_TRY(dgm_reshape(ctx, h, 2, flat, &h));
    DGM_TRY(dgm_linear_forward(ctx, &d->fc1, h, DGM_ACT_LEAKY_RELU, slope, &h));
    return dgm_linear_forward(ctx, &d->fc2, h, DGM_ACT_NONE, 0.0f, out);
}
