/* The time-conditioned MLP (see time_net.h). */
#include <string.h>

#include "models/time_net.h"
#include "core/internal.h"

/* The MLP [dim + (emb_dim or 1)] -> hidden... -> [dim] after out->emb is made. */
static dgm_status create_mlp(dgm_params *p, const char *prefix, int64_t dim, int emb_dim, int n_hidden,
                             const int64_t *hidden, dgm_activation act, dgm_time_net *out)
{
    int64_t widths[DGM_TIME_NET_MAX_HIDDEN + 2];
    widths[0] = dim + (emb_dim > 0 ? emb_dim : 1);
    for (int i = 0; i < n_hidden; i++) widths[i + 1] = hidden[i];
    widths[n_hidden + 1] = dim;
    dgm_mlp_config cfg = dgm_mlp_config_default();
    cfg.activation = act;
    return dgm_mlp_create(p, prefix, n_hidden + 2, widths, &cfg, &out->mlp);
}

dgm_status dgm_time_net_create(dgm_params *p, const char *prefix, int64_t dim, int emb_dim,
                               int n_hidden, const int64_t *hidden, dgm_activation act,
                               dgm_time_net *out)
{
    memset(out, 0, sizeof *out);
    if (n_hidden < 1 || n_hidden > DGM_TIME_NET_MAX_HIDDEN) return DGM_STATUS_INVALID_ARGUMENT;
    if (emb_dim > 0) DGM_TRY(dgm_time_embedding_create(dgm_params_ctx(p), emb_dim, &out->emb));
    return create_mlp(p, prefix, dim, emb_dim, n_hidden, hidden, act, out);
}

dgm_status dgm_time_net_create_fourier(dgm_params *p, const char *prefix, int64_t dim, int emb_dim,
                                       double scale, uint64_t seed, int n_hidden, const int64_t *hidden,
                                       dgm_activation act, dgm_time_net *out)
{
    memset(out, 0, sizeof *out);
    if (n_hidden < 1 || n_hidden > DGM_TIME_NET_MAX_HIDDEN || emb_dim < 2) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_time_embedding_create_fourier(dgm_params_ctx(p), emb_dim, scale, seed, &out->emb));
    return create_mlp(p, prefix, dim, emb_dim, n_hidden, hidden, act, out);
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
    DGM_TRY(dgm_concat_cols(ctx, x, e, &h));
    return dgm_mlp_forward(ctx, net->mlp, h, true, out);
}
