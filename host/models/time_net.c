/* The time-conditioned network (see time_net.h). */
#include <stdio.h>
#include <string.h>

#include "models/time_net.h"
#include "core/internal.h"

static dgm_status bad(dgm_model *m, const char *what)
{
    return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "%s option %s", m->ops->kind, what);
}

const dgm_model_option dgm_time_net_legacy_options[] = {
    {"net", "mlp", "checkpoints from before the UNet"},
    {NULL, NULL, NULL},
};

static bool is_image(const dgm_model *m) { return m->sample_ndim >= 2; }

/* --net auto: the UNet where its levels fit the image (each side halves exactly once per
 * level after the first), else the MLP, so that auto never refuses data. */
static bool unet_fits(const dgm_model *m)
{
    if (!is_image(m)) return false;
    int64_t widths[DGM_UNET_MAX_LEVELS];
    const int levels = dgm_config_int_list(m, "channels", widths, DGM_UNET_MAX_LEVELS);
    if (levels < 1 || levels > DGM_UNET_MAX_LEVELS) return true; /* create_unet names the error */
    const int64_t h = m->sample_shape[m->sample_ndim - 2], w = m->sample_shape[m->sample_ndim - 1];
    const int64_t step = (int64_t)1 << (levels - 1);
    return h % step == 0 && w % step == 0;
}

bool dgm_time_net_given_unet(const json_t *given, int sample_ndim)
{
    const char *net = json_string_value(json_object_get(given, "net"));
    if (net && !strcmp(net, "unet")) return true;
    if (net && strcmp(net, "auto")) return false;
    return sample_ndim >= 2;
}

bool dgm_time_net_unet_chosen(const dgm_model *m)
{
    const char *net = dgm_config_string(m, "net");
    return !strcmp(net, "unet") || (!strcmp(net, "auto") && unet_fits(m));
}

void dgm_time_net_unet_run(dgm_train_defaults *t)
{
    dgm_model_steps_defaults(t, DGM_TIME_NET_UNET_STEPS, 64, DGM_OPTIM_ADAM, 5e-4f, 500, 100);
}

/* The UNet over m's image shape, its embedding input out->emb's width (a raw t gets a
 * sinusoidal embedding of the first level's width). */
static dgm_status create_unet(dgm_model *m, const char *prefix, int emb_dim, dgm_time_net *out)
{
    if (!is_image(m))
        return bad(m, "--net unet: the data are not images (a UNet needs [H, W] or [C, H, W] samples)");
    dgm_unet_config c = dgm_unet_config_default();
    c.in_channels = m->sample_ndim == 3 ? m->sample_shape[0] : 1;
    c.height = m->sample_shape[m->sample_ndim - 2];
    c.width = m->sample_shape[m->sample_ndim - 1];
    c.out_channels = c.in_channels;
    c.levels = dgm_config_int_list(m, "channels", c.channels, DGM_UNET_MAX_LEVELS);
    if (c.levels < 1 || c.levels > DGM_UNET_MAX_LEVELS)
        return bad(m, "--channels: 1 to 6 widths, one per level, e.g. 32,64,64");
    c.blocks = (int)dgm_config_int(m, "blocks");
    c.dropout = (float)dgm_config_float(m, "dropout");
    const char *att = dgm_config_string(m, "attention");
    /* the option replaces the nn default's sides (a bug before: --attention none kept them) */
    memset(c.attention, 0, sizeof c.attention);
    if (!strcmp(att, "auto")) {
        for (int l = c.levels > 1 ? 1 : 0; l < c.levels; l++) c.attention[l] = true;
    } else if (strcmp(att, "none")) {
        int64_t sides[DGM_UNET_MAX_LEVELS];
        const int n = dgm_model_parse_widths(att, sides, DGM_UNET_MAX_LEVELS);
        if (n < 1) return bad(m, "--attention: image sides, e.g. 14,7, none or auto");
        for (int i = 0; i < n; i++) {
            int l = 0;
            while (l < c.levels && c.height >> l != sides[i]) l++;
            if (l == c.levels) {
                char msg[160];
                snprintf(msg, sizeof msg, "--attention: no level of the UNet has side %lld (they "
                         "are %lld halved %d times)", (long long)sides[i], (long long)c.height,
                         c.levels - 1);
                return bad(m, msg);
            }
            c.attention[l] = true;
        }
    }
    if (!out->emb) DGM_TRY(dgm_time_embedding_create(m->ctx, (int)c.channels[0], &out->emb));
    c.embedding_dim = dgm_time_embedding_dim(out->emb);
    (void)emb_dim;
    /* the UNet's activations are large: sampling 2,000 images at once did not fit in 24 GB */
    m->sample_chunk = 256;
    out->image[0] = c.in_channels;
    out->image[1] = c.height;
    out->image[2] = c.width;
    return dgm_unet_create(m->params, prefix, &c, &out->unet);
}

/* The body of m's --net after out->emb is made: the MLP [dim + (emb_dim or 1)] -> hidden...
 * -> [dim], or the UNet. */
static dgm_status create_body(dgm_model *m, const char *prefix, int emb_dim, int n_hidden,
                              const int64_t *hidden, dgm_activation act, dgm_time_net *out)
{
    const char *net = dgm_config_string(m, "net");
    if (strcmp(net, "mlp") && strcmp(net, "unet") && strcmp(net, "auto")) return bad(m, "--net: mlp, unet or auto");
    if (dgm_time_net_unet_chosen(m)) return create_unet(m, prefix, emb_dim, out);
    dgm_params *p = m->params;
    const int64_t dim = m->dim;
    int64_t widths[DGM_TIME_NET_MAX_HIDDEN + 2];
    widths[0] = dim + (emb_dim > 0 ? emb_dim : 1);
    for (int i = 0; i < n_hidden; i++) widths[i + 1] = hidden[i];
    widths[n_hidden + 1] = dim;
    dgm_mlp_config cfg = dgm_mlp_config_default();
    cfg.activation = act;
    return dgm_mlp_create(p, prefix, n_hidden + 2, widths, &cfg, &out->mlp);
}

dgm_status dgm_time_net_create(dgm_model *m, const char *prefix, int emb_dim, int n_hidden,
                               const int64_t *hidden, dgm_activation act, dgm_time_net *out)
{
    memset(out, 0, sizeof *out);
    if (n_hidden < 1 || n_hidden > DGM_TIME_NET_MAX_HIDDEN) return DGM_STATUS_INVALID_ARGUMENT;
    if (emb_dim > 0) DGM_TRY(dgm_time_embedding_create(m->ctx, emb_dim, &out->emb));
    return create_body(m, prefix, emb_dim, n_hidden, hidden, act, out);
}

dgm_status dgm_time_net_create_fourier(dgm_model *m, const char *prefix, int emb_dim, double scale,
                                       uint64_t seed, int n_hidden, const int64_t *hidden,
                                       dgm_activation act, dgm_time_net *out)
{
    memset(out, 0, sizeof *out);
    if (n_hidden < 1 || n_hidden > DGM_TIME_NET_MAX_HIDDEN || emb_dim < 2) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_time_embedding_create_fourier(m->ctx, emb_dim, scale, seed, &out->emb));
    return create_body(m, prefix, emb_dim, n_hidden, hidden, act, out);
}

dgm_status dgm_time_net_create_concatsquash(dgm_params *p, const char *prefix, int64_t dim, int n_hidden,
                                            const int64_t *hidden, dgm_activation act, dgm_time_net *out)
{
    memset(out, 0, sizeof *out);
    if (n_hidden < 0 || n_hidden > DGM_TIME_NET_MAX_HIDDEN) return DGM_STATUS_INVALID_ARGUMENT;
    int64_t widths[DGM_TIME_NET_MAX_HIDDEN + 2];
    widths[0] = dim;
    for (int i = 0; i < n_hidden; i++) widths[i + 1] = hidden[i];
    widths[n_hidden + 1] = dim;
    return dgm_concatsquash_create(p, prefix, n_hidden + 2, widths, act, &out->cs);
}

void dgm_time_net_free(dgm_time_net *net)
{
    dgm_mlp_free(net->mlp);
    dgm_unet_free(net->unet);
    dgm_concatsquash_free(net->cs);
    dgm_time_embedding_free(net->emb);
    memset(net, 0, sizeof *net);
}

dgm_status dgm_time_net_forward(dgm_ctx *ctx, const dgm_time_net *net, dgm_tensor *x,
                                dgm_tensor *t, dgm_tensor **out)
{
    if (net->cs) return dgm_concatsquash_forward(ctx, net->cs, x, t, out);
    dgm_tensor *e = t, *h = NULL;
    if (net->emb) DGM_TRY(dgm_time_embedding_forward(ctx, net->emb, t, &e));
    if (net->unet) {
        const int64_t b = dgm_tensor_dim(x, 0);
        const int64_t img[4] = {b, net->image[0], net->image[1], net->image[2]};
        const int64_t flat[2] = {b, dgm_tensor_numel(x) / b};
        DGM_TRY(dgm_reshape(ctx, x, 4, img, &h));
        DGM_TRY(dgm_unet_forward(ctx, net->unet, h, e, dgm_ctx_grad_enabled(ctx), &h));
        return dgm_reshape(ctx, h, 2, flat, out);
    }
    DGM_TRY(dgm_concat_cols(ctx, x, e, &h));
    return dgm_mlp_forward(ctx, net->mlp, h, true, out);
}
