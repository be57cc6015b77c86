/* Masked affine coupling with a convolutional conditioner (RealNVP's image couplings; see
 * dgm/flow.h): a fixed 0/1 mask picks the conditioning pixels, a small ResNet of the masked
 * image gives log-scale and shift, which act on the other pixels only. */
#include <stdio.h>
#include <stdlib.h>

#include "dgm/flow.h"
#include "nn/nn_internal.h"

#define CONV_COUPLING_MAX_BLOCKS 8

struct dgm_conv_coupling {
    dgm_params *params; /* borrowed */
    int64_t c, h, w, dim;
    int blocks;
    dgm_conv2d_layer in, out, res[CONV_COUPLING_MAX_BLOCKS][2];
    int scale_index;  /* "<prefix>.scale" [D] */
    dgm_tensor *mask; /* [1, D]: 1 on the conditioning pixels */
    dgm_tensor *free_mask; /* [1, D]: 1 − mask, the pixels the coupling transforms */
};

/* Pixel (ch, i, j) conditions when: checkerboard, (i + j) even (odd with flip); channel,
 * ch in the first half (the second with flip). */
static bool conditions(dgm_coupling_mask kind, bool flip, int64_t c, int64_t ch, int64_t i, int64_t j)
{
    const bool first = kind == DGM_COUPLING_CHECKERBOARD ? (i + j) % 2 == 0 : ch < c / 2;
    return first != flip;
}

static dgm_status mask_tensors(dgm_ctx *ctx, dgm_conv_coupling *l, dgm_coupling_mask kind, bool flip)
{
    const int64_t shape[2] = {1, l->dim};
    float *m = malloc((size_t)l->dim * 2 * sizeof *m);
    if (!m) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_conv_coupling_create: out of host memory");
    for (int64_t ch = 0, k = 0; ch < l->c; ch++)
        for (int64_t i = 0; i < l->h; i++)
            for (int64_t j = 0; j < l->w; j++, k++) {
                m[k] = conditions(kind, flip, l->c, ch, i, j) ? 1.0f : 0.0f;
                m[l->dim + k] = 1.0f - m[k];
            }
    /* persistent: the layer outlives every step */
    dgm_status st = dgm_tensor_create(ctx, 2, shape, &l->mask);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, l->mask, m);
    if (st == DGM_STATUS_OK) st = dgm_tensor_create(ctx, 2, shape, &l->free_mask);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, l->free_mask, m + l->dim);
    free(m);
    return st;
}

static dgm_status conv3(dgm_params *p, const char *prefix, const char *what, int64_t in, int64_t out,
                        bool zero, dgm_conv2d_layer *l)
{
    char name[DGM_NN_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, what);
    dgm_conv2d_options o = {0};
    o.padding[0] = o.padding[1] = 1;
    return dgm_conv2d_layer_declare(p, name, in, out, 3, &o, true, zero ? DGM_NN_INIT_ZEROS : DGM_NN_INIT_PYTORCH,
                                    0.0f, l);
}

dgm_status dgm_conv_coupling_create(dgm_params *p, const char *prefix, int64_t channels, int64_t height,
                                    int64_t width, dgm_coupling_mask mask, bool flip, int64_t features,
                                    int blocks, dgm_conv_coupling **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    const char *fn = "dgm_conv_coupling_create";
    if (!out || !prefix) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: prefix and out must not be NULL", fn);
    *out = NULL;
    if (channels < 1 || height < 1 || width < 1 || features < 1 || blocks < 0 || blocks > CONV_COUPLING_MAX_BLOCKS ||
        (mask == DGM_COUPLING_CHANNEL && channels < 2) || (mask == DGM_COUPLING_CHECKERBOARD && height * width < 2) ||
        (mask != DGM_COUPLING_CHANNEL && mask != DGM_COUPLING_CHECKERBOARD))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: [%lld, %lld, %lld] images, %lld features, %d blocks (0 to %d); a channel "
                             "mask needs 2 or more channels, a checkerboard 2 or more pixels",
                             fn, (long long)channels, (long long)height, (long long)width, (long long)features,
                             blocks, CONV_COUPLING_MAX_BLOCKS);
    dgm_conv_coupling *l = calloc(1, sizeof *l);
    if (!l) return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory", fn);
    l->params = p;
    l->c = channels;
    l->h = height;
    l->w = width;
    l->dim = channels * height * width;
    l->blocks = blocks;
    dgm_status st = mask_tensors(ctx, l, mask, flip);
    if (st == DGM_STATUS_OK) st = conv3(p, prefix, "in", channels, features, false, &l->in);
    for (int b = 0; st == DGM_STATUS_OK && b < blocks; b++)
        for (int k = 0; st == DGM_STATUS_OK && k < 2; k++) {
            char what[32];
            snprintf(what, sizeof what, "res.%d.conv%d", b, k + 1);
            st = conv3(p, prefix, what, features, features, false, &l->res[b][k]);
        }
    /* zero: a fresh coupling is the identity */
    if (st == DGM_STATUS_OK) st = conv3(p, prefix, "out", features, 2 * channels, true, &l->out);
    if (st == DGM_STATUS_OK) {
        char name[DGM_NN_NAME_MAX];
        snprintf(name, sizeof name, "%s.scale", prefix);
        l->scale_index = dgm_params_count(p);
        const int64_t shape[1] = {l->dim};
        st = dgm_params_add(p, name, 1, shape, (dgm_init){DGM_INIT_ONES, 0.0f, 0.0f});
    }
    if (st != DGM_STATUS_OK) {
        dgm_conv_coupling_free(l);
        return st;
    }
    *out = l;
    return DGM_STATUS_OK;
}

void dgm_conv_coupling_free(dgm_conv_coupling *l)
{
    if (!l) return;
    dgm_tensor_free(l->mask);
    dgm_tensor_free(l->free_mask);
    free(l);
}

/* s = scale·tanh(h_s) and t on the transformed pixels (0 on the conditioning ones), from
 * the ResNet of the conditioning pixels x·mask. */
static dgm_status scale_shift(dgm_ctx *ctx, const dgm_conv_coupling *l, dgm_tensor *x, dgm_tensor **s,
                              dgm_tensor **t)
{
    const int64_t b = dgm_tensor_dim(x, 0);
    const int64_t img[4] = {b, l->c, l->h, l->w}, flat[2] = {b, 2 * l->dim};
    dgm_tensor *h = NULL, *r = NULL, *hs = NULL;
    DGM_TRY(dgm_mul(ctx, x, l->mask, &h));
    DGM_TRY(dgm_reshape(ctx, h, 4, img, &h));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &l->in, h, &h));
    for (int k = 0; k < l->blocks; k++) {
        DGM_TRY(dgm_relu(ctx, h, &r));
        DGM_TRY(dgm_conv2d_layer_forward(ctx, &l->res[k][0], r, &r));
        DGM_TRY(dgm_relu(ctx, r, &r));
        DGM_TRY(dgm_conv2d_layer_forward(ctx, &l->res[k][1], r, &r));
        DGM_TRY(dgm_add(ctx, h, r, &h));
    }
    DGM_TRY(dgm_relu(ctx, h, &h));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &l->out, h, &h));
    DGM_TRY(dgm_reshape(ctx, h, 2, flat, &h));
    DGM_TRY(dgm_slice_cols(ctx, h, 0, l->dim, &hs));
    DGM_TRY(dgm_slice_cols(ctx, h, l->dim, l->dim, t));
    DGM_TRY(dgm_mul(ctx, *t, l->free_mask, t));
    DGM_TRY(dgm_tanh(ctx, hs, &hs));
    DGM_TRY(dgm_mul(ctx, hs, dgm_params_at(l->params, l->scale_index), &hs));
    return dgm_mul(ctx, hs, l->free_mask, s);
}

static dgm_status check_input(dgm_ctx *ctx, const dgm_conv_coupling *l, dgm_tensor *x, const char *fn)
{
    return dgm_nn_check_flow_input(ctx, l, l ? l->params : NULL, l ? l->dim : 0, x, fn);
}

dgm_status dgm_conv_coupling_forward(dgm_ctx *ctx, const dgm_conv_coupling *l, dgm_tensor *x, dgm_tensor **y,
                                     dgm_tensor **logdet)
{
    DGM_TRY(check_input(ctx, l, x, "dgm_conv_coupling_forward"));
    dgm_tensor *s = NULL, *t = NULL, *e = NULL, *h = NULL;
    DGM_TRY(scale_shift(ctx, l, x, &s, &t));
    DGM_TRY(dgm_exp(ctx, s, &e)); /* 1 on the conditioning pixels: they pass unchanged */
    DGM_TRY(dgm_mul(ctx, x, e, &h));
    DGM_TRY(dgm_add(ctx, h, t, y));
    return dgm_sum(ctx, s, DGM_AXIS_ROWS, logdet);
}

dgm_status dgm_conv_coupling_inverse(dgm_ctx *ctx, const dgm_conv_coupling *l, dgm_tensor *y, dgm_tensor **x)
{
    DGM_TRY(check_input(ctx, l, y, "dgm_conv_coupling_inverse"));
    dgm_tensor *s = NULL, *t = NULL, *e = NULL, *h = NULL;
    DGM_TRY(scale_shift(ctx, l, y, &s, &t)); /* y·mask = x·mask */
    DGM_TRY(dgm_scale(ctx, s, -1.0f, 0.0f, &s));
    DGM_TRY(dgm_exp(ctx, s, &e));
    DGM_TRY(dgm_sub(ctx, y, t, &h));
    return dgm_mul(ctx, h, e, x);
}
