/* The time-conditioned UNet (dgm/nn.h says what it computes and how its parameters are
 * named). Channel concatenation of NCHW tensors is a column concatenation of their
 * [B, C·H·W] views, and a per-(image, channel) scale is a column vector of the
 * [B·C, H·W] view, so the whole network is made of existing ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

typedef struct res_block {
    dgm_group_norm_layer norm1, norm2;
    dgm_conv2d_layer conv1, conv2, skip;
    dgm_linear emb;
    bool has_skip;
    int64_t out_ch;
} res_block;

typedef struct attn_block {
    dgm_group_norm_layer norm;
    dgm_conv2d_layer qkv, proj;
    int64_t ch;
} attn_block;

#define MAX_BLOCKS 8

typedef struct level {
    res_block down[MAX_BLOCKS], up[MAX_BLOCKS + 1];
    attn_block down_attn[MAX_BLOCKS], up_attn[MAX_BLOCKS + 1];
    dgm_conv2d_layer downsample, upsample;
} level;

struct dgm_unet {
    dgm_unet_config cfg;
    dgm_linear time1, time2;
    dgm_conv2d_layer conv_in, conv_out;
    dgm_group_norm_layer norm_out;
    level lv[DGM_UNET_MAX_LEVELS];
    res_block mid1, mid2;
    attn_block mid_attn;
};

dgm_unet_config dgm_unet_config_default(void)
{
    dgm_unet_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = c.out_channels = 1;
    c.height = c.width = 28;
    c.embedding_dim = 32;
    c.levels = 3;
    c.channels[0] = 32;
    c.channels[1] = c.channels[2] = 64;
    c.attention[1] = c.attention[2] = true;
    c.blocks = 2;
    return c;
}

static int groups_of(int64_t ch) { return ch < 32 ? (int)ch : 32; }

static dgm_status conv3(dgm_params *p, const char *name, int64_t in, int64_t out, int stride,
                        bool zero, dgm_conv2d_layer *l)
{
    dgm_conv2d_options o;
    memset(&o, 0, sizeof o);
    o.stride[0] = o.stride[1] = stride;
    o.padding[0] = o.padding[1] = 1;
    return dgm_conv2d_layer_declare(p, name, in, out, 3, &o, true,
                                    zero ? DGM_NN_INIT_ZEROS : DGM_NN_INIT_PYTORCH, 0.0f, l);
}

static dgm_status declare_res(dgm_params *p, const char *name, int64_t in, int64_t out,
                              int64_t tdim, res_block *r)
{
    char n[DGM_NN_NAME_MAX];
    r->out_ch = out;
    snprintf(n, sizeof n, "%s.norm1", name);
    DGM_TRY(dgm_group_norm_layer_declare(p, n, groups_of(in), in, 1e-5f, &r->norm1));
    snprintf(n, sizeof n, "%s.conv1", name);
    DGM_TRY(conv3(p, n, in, out, 1, false, &r->conv1));
    snprintf(n, sizeof n, "%s.emb", name);
    DGM_TRY(dgm_linear_declare(p, n, tdim, 2 * out, true, DGM_NN_INIT_PYTORCH, 0.0f, &r->emb));
    snprintf(n, sizeof n, "%s.norm2", name);
    DGM_TRY(dgm_group_norm_layer_declare(p, n, groups_of(out), out, 1e-5f, &r->norm2));
    snprintf(n, sizeof n, "%s.conv2", name);
    DGM_TRY(conv3(p, n, out, out, 1, true, &r->conv2));
    r->has_skip = in != out;
    if (r->has_skip) {
        snprintf(n, sizeof n, "%s.skip", name);
        DGM_TRY(dgm_conv2d_layer_declare(p, n, in, out, 1, NULL, true, DGM_NN_INIT_PYTORCH, 0.0f,
                                         &r->skip));
    }
    return DGM_STATUS_OK;
}

static dgm_status declare_attn(dgm_params *p, const char *name, int64_t ch, attn_block *a)
{
    char n[DGM_NN_NAME_MAX];
    a->ch = ch;
    snprintf(n, sizeof n, "%s.norm", name);
    DGM_TRY(dgm_group_norm_layer_declare(p, n, groups_of(ch), ch, 1e-5f, &a->norm));
    snprintf(n, sizeof n, "%s.qkv", name);
    DGM_TRY(dgm_conv2d_layer_declare(p, n, ch, 3 * ch, 1, NULL, true, DGM_NN_INIT_PYTORCH, 0.0f, &a->qkv));
    snprintf(n, sizeof n, "%s.proj", name);
    return dgm_conv2d_layer_declare(p, n, ch, ch, 1, NULL, true, DGM_NN_INIT_ZEROS, 0.0f, &a->proj);
}

static dgm_status check_config(dgm_ctx *ctx, const dgm_unet_config *c)
{
    const char *fn = "dgm_unet_create";
    if (c->levels < 1 || c->levels > DGM_UNET_MAX_LEVELS || c->blocks < 1 || c->blocks > MAX_BLOCKS)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %d levels (1 to %d) of %d blocks (1 to %d)", fn, c->levels,
                             DGM_UNET_MAX_LEVELS, c->blocks, MAX_BLOCKS);
    if (c->in_channels < 1 || c->out_channels < 1 || c->embedding_dim < 1 ||
        !(c->dropout >= 0.0f && c->dropout < 1.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: channels in/out and the embedding width must be >= 1, dropout "
                             "in [0, 1)", fn);
    const int64_t f = (int64_t)1 << (c->levels - 1);
    if (c->height < f || c->width < f || c->height % f || c->width % f)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: a %lldx%lld image does not halve %d times", fn,
                             (long long)c->height, (long long)c->width, c->levels - 1);
    for (int l = 0; l < c->levels; l++)
        if (c->channels[l] < 1 || c->channels[l] % groups_of(c->channels[l]))
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: level %d has %lld channels (a multiple of 32, or fewer)",
                                 fn, l, (long long)c->channels[l]);
    return DGM_STATUS_OK;
}

static dgm_status declare_all(dgm_params *p, const char *prefix, dgm_unet *u)
{
    const dgm_unet_config *c = &u->cfg;
    const int64_t c0 = c->channels[0], tdim = 4 * c0;
    char n[DGM_NN_NAME_MAX];
#define NAME(...) (snprintf(n, sizeof n, __VA_ARGS__), n)
    DGM_TRY(dgm_linear_declare(p, NAME("%s.time_embed.0", prefix), c->embedding_dim, tdim, true,
                               DGM_NN_INIT_PYTORCH, 0.0f, &u->time1));
    DGM_TRY(dgm_linear_declare(p, NAME("%s.time_embed.2", prefix), tdim, tdim, true,
                               DGM_NN_INIT_PYTORCH, 0.0f, &u->time2));
    DGM_TRY(conv3(p, NAME("%s.conv_in", prefix), c->in_channels, c0, 1, false, &u->conv_in));
    int64_t skip_ch[DGM_UNET_MAX_LEVELS * (MAX_BLOCKS + 1) + 1];
    int ns = 0;
    skip_ch[ns++] = c0;
    int64_t ch = c0;
    for (int l = 0; l < c->levels; l++) {
        level *v = &u->lv[l];
        for (int i = 0; i < c->blocks; i++) {
            DGM_TRY(declare_res(p, NAME("%s.down.%d.res.%d", prefix, l, i), ch, c->channels[l], tdim, &v->down[i]));
            ch = c->channels[l];
            if (c->attention[l])
                DGM_TRY(declare_attn(p, NAME("%s.down.%d.attn.%d", prefix, l, i), ch, &v->down_attn[i]));
            skip_ch[ns++] = ch;
        }
        if (l + 1 < c->levels) {
            DGM_TRY(conv3(p, NAME("%s.down.%d.downsample", prefix, l), ch, ch, 2, false, &v->downsample));
            skip_ch[ns++] = ch;
        }
    }
    DGM_TRY(declare_res(p, NAME("%s.mid.res1", prefix), ch, ch, tdim, &u->mid1));
    DGM_TRY(declare_attn(p, NAME("%s.mid.attn", prefix), ch, &u->mid_attn));
    DGM_TRY(declare_res(p, NAME("%s.mid.res2", prefix), ch, ch, tdim, &u->mid2));
    for (int l = c->levels - 1; l >= 0; l--) {
        level *v = &u->lv[l];
        for (int i = 0; i <= c->blocks; i++) {
            const int64_t in = ch + skip_ch[--ns];
            DGM_TRY(declare_res(p, NAME("%s.up.%d.res.%d", prefix, l, i), in, c->channels[l], tdim, &v->up[i]));
            ch = c->channels[l];
            if (c->attention[l])
                DGM_TRY(declare_attn(p, NAME("%s.up.%d.attn.%d", prefix, l, i), ch, &v->up_attn[i]));
        }
        if (l > 0) DGM_TRY(conv3(p, NAME("%s.up.%d.upsample", prefix, l), ch, ch, 1, false, &v->upsample));
    }
    DGM_TRY(dgm_group_norm_layer_declare(p, NAME("%s.norm_out", prefix), groups_of(ch), ch, 1e-5f, &u->norm_out));
    return conv3(p, NAME("%s.conv_out", prefix), ch, c->out_channels, 1, true, &u->conv_out);
#undef NAME
}

dgm_status dgm_unet_create(dgm_params *p, const char *prefix, const dgm_unet_config *config,
                           dgm_unet **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_check_ctx(ctx));
    if (!out || !config || !prefix || strlen(prefix) > 40)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_unet_create: config, out and a prefix of at most 40 bytes");
    *out = NULL;
    DGM_TRY(check_config(ctx, config));
    dgm_unet *u = calloc(1, sizeof *u);
    if (!u) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_unet_create: out of host memory");
    u->cfg = *config;
    dgm_status st = declare_all(p, prefix, u);
    if (st != DGM_STATUS_OK) {
        free(u);
        return st;
    }
    *out = u;
    return DGM_STATUS_OK;
}

void dgm_unet_free(dgm_unet *unet) { free(unet); }

/* ---- forward ---- */

static dgm_status norm_silu(dgm_ctx *ctx, const dgm_group_norm_layer *n, dgm_tensor *x,
                            dgm_tensor **out)
{
    DGM_TRY(dgm_group_norm_layer_forward(ctx, n, x, out));
    return dgm_silu(ctx, *out, out);
}

/* e_act: SiLU of the time embedding [B, 4·C0], shared by every block. */
static dgm_status res_forward(dgm_ctx *ctx, const res_block *r, dgm_tensor *x, dgm_tensor *e_act,
                              float dropout, bool training, dgm_tensor **out)
{
    const int64_t b = dgm_tensor_dim(x, 0), h = dgm_tensor_dim(x, 2), w = dgm_tensor_dim(x, 3);
    const int64_t c = r->out_ch, col[2] = {b * c, 1}, rows[2] = {b * c, h * w};
    const int64_t shape[4] = {b, c, h, w};
    dgm_tensor *t = NULL, *e = NULL, *scale = NULL, *shift = NULL, *skip = x;
    DGM_TRY(norm_silu(ctx, &r->norm1, x, &t));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &r->conv1, t, &t));
    DGM_TRY(dgm_linear_forward(ctx, &r->emb, e_act, DGM_ACT_NONE, 0.0f, &e));
    DGM_TRY(dgm_slice_cols(ctx, e, 0, c, &scale));
    DGM_TRY(dgm_slice_cols(ctx, e, c, c, &shift));
    DGM_TRY(dgm_scale(ctx, scale, 1.0f, 1.0f, &scale));
    DGM_TRY(dgm_reshape(ctx, scale, 2, col, &scale));
    DGM_TRY(dgm_reshape(ctx, shift, 2, col, &shift));
    DGM_TRY(dgm_group_norm_layer_forward(ctx, &r->norm2, t, &t));
    DGM_TRY(dgm_reshape(ctx, t, 2, rows, &t));
    DGM_TRY(dgm_mul(ctx, t, scale, &t));
    DGM_TRY(dgm_add(ctx, t, shift, &t));
    DGM_TRY(dgm_silu(ctx, t, &t));
    DGM_TRY(dgm_dropout(ctx, t, dropout, training, &t));
    DGM_TRY(dgm_reshape(ctx, t, 4, shape, &t));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &r->conv2, t, &t));
    if (r->has_skip) DGM_TRY(dgm_conv2d_layer_forward(ctx, &r->skip, x, &skip));
    return dgm_add(ctx, skip, t, out);
}

static dgm_status attn_forward(dgm_ctx *ctx, const attn_block *a, dgm_tensor *x, dgm_tensor **out)
{
    const int64_t b = dgm_tensor_dim(x, 0), c = a->ch;
    const int64_t hw = dgm_tensor_dim(x, 2) * dgm_tensor_dim(x, 3);
    const int64_t flat[2] = {b, 3 * c * hw}, mat[3] = {b, c, hw};
    dgm_tensor *t = NULL, *q = NULL, *k = NULL, *v = NULL, *s = NULL;
    DGM_TRY(dgm_group_norm_layer_forward(ctx, &a->norm, x, &t));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &a->qkv, t, &t));
    DGM_TRY(dgm_reshape(ctx, t, 2, flat, &t));
    DGM_TRY(dgm_slice_cols(ctx, t, 0, c * hw, &q));
    DGM_TRY(dgm_slice_cols(ctx, t, c * hw, c * hw, &k));
    DGM_TRY(dgm_slice_cols(ctx, t, 2 * c * hw, c * hw, &v));
    DGM_TRY(dgm_reshape(ctx, q, 3, mat, &q));
    DGM_TRY(dgm_reshape(ctx, k, 3, mat, &k));
    DGM_TRY(dgm_reshape(ctx, v, 3, mat, &v));
    DGM_TRY(dgm_bmm(ctx, q, true, k, false, &s)); /* [B, HW, HW]: position i attends to j */
    DGM_TRY(dgm_scale(ctx, s, (float)(1.0 / sqrt((double)c)), 0.0f, &s));
    DGM_TRY(dgm_softmax_rows(ctx, s, &s));
    DGM_TRY(dgm_bmm(ctx, v, false, s, true, &t)); /* [B, C, HW] */
    DGM_TRY(dgm_reshape(ctx, t, 4, x->shape, &t));
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &a->proj, t, &t));
    return dgm_add(ctx, x, t, out);
}

/* [B, Ca, H, W] and [B, Cb, H, W] -> [B, Ca + Cb, H, W]. */
static dgm_status concat_channels(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out)
{
    const int64_t n = dgm_tensor_dim(a, 0);
    const int64_t sa[2] = {n, dgm_tensor_numel(a) / n}, sb[2] = {n, dgm_tensor_numel(b) / n};
    const int64_t shape[4] = {n, dgm_tensor_dim(a, 1) + dgm_tensor_dim(b, 1), dgm_tensor_dim(a, 2),
                              dgm_tensor_dim(a, 3)};
    dgm_tensor *fa = NULL, *fb = NULL, *c = NULL;
    DGM_TRY(dgm_reshape(ctx, a, 2, sa, &fa));
    DGM_TRY(dgm_reshape(ctx, b, 2, sb, &fb));
    DGM_TRY(dgm_concat_cols(ctx, fa, fb, &c));
    return dgm_reshape(ctx, c, 4, shape, out);
}

dgm_status dgm_unet_forward(dgm_ctx *ctx, const dgm_unet *u, dgm_tensor *x, dgm_tensor *e,
                            bool training, dgm_tensor **out)
{
    const char *fn = "dgm_unet_forward";
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    if (!u) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: the UNet is NULL", fn);
    const dgm_unet_config *c = &u->cfg;
    DGM_TRY(dgm_check_tensor(ctx, x, fn, "x"));
    DGM_TRY(dgm_check_tensor(ctx, e, fn, "e"));
    if (dgm_tensor_ndim(x) != 4 || dgm_tensor_dim(x, 1) != c->in_channels ||
        dgm_tensor_dim(x, 2) != c->height || dgm_tensor_dim(x, 3) != c->width ||
        dgm_tensor_numel(e) != dgm_tensor_dim(x, 0) * c->embedding_dim) {
        char sx[96], se[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "%s: x %s must be [B, %lld, %lld, %lld] and e %s [B, %lld]", fn,
                             dgm_shape_str(x, sx, sizeof sx), (long long)c->in_channels,
                             (long long)c->height, (long long)c->width,
                             dgm_shape_str(e, se, sizeof se), (long long)c->embedding_dim);
    }
    const int64_t es[2] = {dgm_tensor_dim(x, 0), c->embedding_dim};
    dgm_tensor *t = NULL, *h = NULL;
    DGM_TRY(dgm_reshape(ctx, e, 2, es, &t));
    DGM_TRY(dgm_linear_forward(ctx, &u->time1, t, DGM_ACT_SILU, 0.0f, &t));
    DGM_TRY(dgm_linear_forward(ctx, &u->time2, t, DGM_ACT_NONE, 0.0f, &t));
    DGM_TRY(dgm_silu(ctx, t, &t)); /* every block's emb layer starts with SiLU */

    dgm_tensor *skips[DGM_UNET_MAX_LEVELS * (MAX_BLOCKS + 1) + 1];
    int ns = 0;
    DGM_TRY(dgm_conv2d_layer_forward(ctx, &u->conv_in, x, &h));
    skips[ns++] = h;
    for (int l = 0; l < c->levels; l++) {
        const level *v = &u->lv[l];
        for (int i = 0; i < c->blocks; i++) {
            DGM_TRY(res_forward(ctx, &v->down[i], h, t, c->dropout, training, &h));
            if (c->attention[l]) DGM_TRY(attn_forward(ctx, &v->down_attn[i], h, &h));
            skips[ns++] = h;
        }
        if (l + 1 < c->levels) {
            DGM_TRY(dgm_conv2d_layer_forward(ctx, &v->downsample, h, &h));
            skips[ns++] = h;
        }
    }
    DGM_TRY(res_forward(ctx, &u->mid1, h, t, c->dropout, training, &h));
    DGM_TRY(attn_forward(ctx, &u->mid_attn, h, &h));
    DGM_TRY(res_forward(ctx, &u->mid2, h, t, c->dropout, training, &h));
    for (int l = c->levels - 1; l >= 0; l--) {
        const level *v = &u->lv[l];
        for (int i = 0; i <= c->blocks; i++) {
            DGM_TRY(concat_channels(ctx, h, skips[--ns], &h));
            DGM_TRY(res_forward(ctx, &v->up[i], h, t, c->dropout, training, &h));
            if (c->attention[l]) DGM_TRY(attn_forward(ctx, &v->up_attn[i], h, &h));
        }
        if (l > 0) {
            DGM_TRY(dgm_upsample_nearest2d(ctx, h, 2, &h));
            DGM_TRY(dgm_conv2d_layer_forward(ctx, &v->upsample, h, &h));
        }
    }
    DGM_TRY(norm_silu(ctx, &u->norm_out, h, &h));
    return dgm_conv2d_layer_forward(ctx, &u->conv_out, h, out);
}
