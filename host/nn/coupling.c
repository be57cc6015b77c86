/* Affine coupling layer (RealNVP): the conditioning half of the columns passes unchanged
 * and gives, through an MLP, the log-scale and shift of the other half (see dgm/flow.h). */
#include <stdio.h>
#include <stdlib.h>

#include "dgm/flow.h"
#include "nn/nn_internal.h"

#define COUPLING_MAX_HIDDEN 8

struct dgm_coupling {
    dgm_params *params; /* borrowed */
    dgm_mlp *net;
    int scale_index;             /* "<prefix>.scale" [other] */
    int64_t dim, cond_start, cond_n, other_start, other_n;
};

dgm_status dgm_coupling_create(dgm_params *p, const char *prefix, int64_t dim, bool flip,
                               int n_hidden, const int64_t *hidden, dgm_activation activation,
                               dgm_coupling **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (!out || !prefix || (n_hidden > 0 && !hidden))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_coupling_create: prefix, hidden and out must not be NULL");
    if (dim < 2 || n_hidden < 0 || n_hidden > COUPLING_MAX_HIDDEN)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_coupling_create: dim %lld (must be >= 2), %d hidden layers "
                             "(0 to %d)", (long long)dim, n_hidden, COUPLING_MAX_HIDDEN);
    *out = NULL;
    dgm_coupling *c = calloc(1, sizeof *c);
    if (!c) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_coupling_create: out of host memory");
    c->params = p;
    c->dim = dim;
    const int64_t first = dim / 2;
    c->cond_start = flip ? first : 0;
    c->cond_n = flip ? dim - first : first;
    c->other_start = flip ? 0 : first;
    c->other_n = dim - c->cond_n;
    int64_t widths[COUPLING_MAX_HIDDEN + 2];
    widths[0] = c->cond_n;
    for (int i = 0; i < n_hidden; i++) widths[i + 1] = hidden[i];
    widths[n_hidden + 1] = 2 * c->other_n;
    dgm_mlp_config cfg = dgm_mlp_config_default();
    cfg.activation = activation;
    cfg.zero_last = true; /* the identity at the start */
    char name[DGM_NN_NAME_MAX];
    snprintf(name, sizeof name, "%s.net", prefix);
    dgm_status st = dgm_mlp_create(p, name, n_hidden + 2, widths, &cfg, &c->net);
    if (st == DGM_STATUS_OK) {
        snprintf(name, sizeof name, "%s.scale", prefix);
        c->scale_index = dgm_params_count(p);
        const int64_t shape[1] = {c->other_n};
        st = dgm_params_add(p, name, 1, shape, (dgm_init){DGM_INIT_ONES, 0.0f, 0.0f});
    }
    if (st != DGM_STATUS_OK) {
        dgm_coupling_free(c);
        return st;
    }
    *out = c;
    return DGM_STATUS_OK;
}

void dgm_coupling_free(dgm_coupling *c)
{
    if (!c) return;
    dgm_mlp_free(c->net);
    free(c);
}

/* s = scale·tanh(h_s) and t of the conditioning columns. */
static dgm_status scale_shift(dgm_ctx *ctx, const dgm_coupling *c, dgm_tensor *cond,
                              dgm_tensor **s, dgm_tensor **t)
{
    dgm_tensor *h = NULL, *hs = NULL;
    DGM_TRY(dgm_mlp_forward(ctx, c->net, cond, true, &h));
    DGM_TRY(dgm_slice_cols(ctx, h, 0, c->other_n, &hs));
    DGM_TRY(dgm_slice_cols(ctx, h, c->other_n, c->other_n, t));
    DGM_TRY(dgm_tanh(ctx, hs, &hs));
    return dgm_mul(ctx, hs, dgm_params_at(c->params, c->scale_index), s);
}

/* The columns back in their order: [cond, other] or [other, cond]. */
static dgm_status join(dgm_ctx *ctx, const dgm_coupling *c, dgm_tensor *cond, dgm_tensor *other,
                       dgm_tensor **out)
{
    return c->cond_start == 0 ? dgm_concat_cols(ctx, cond, other, out)
                              : dgm_concat_cols(ctx, other, cond, out);
}

static dgm_status check_input(dgm_ctx *ctx, const dgm_coupling *c, dgm_tensor *x, const char *fn)
{
    return dgm_nn_check_flow_input(ctx, c, c ? c->params : NULL, c ? c->dim : 0, x, fn);
}

dgm_status dgm_coupling_forward(dgm_ctx *ctx, const dgm_coupling *c, dgm_tensor *x,
                                dgm_tensor **y, dgm_tensor **logdet)
{
    DGM_TRY(check_input(ctx, c, x, "dgm_coupling_forward"));
    dgm_tensor *cond = NULL, *other = NULL, *s = NULL, *t = NULL, *e = NULL;
    DGM_TRY(dgm_slice_cols(ctx, x, c->cond_start, c->cond_n, &cond));
    DGM_TRY(dgm_slice_cols(ctx, x, c->other_start, c->other_n, &other));
    DGM_TRY(scale_shift(ctx, c, cond, &s, &t));
    DGM_TRY(dgm_exp(ctx, s, &e));
    DGM_TRY(dgm_mul(ctx, other, e, &other));
    DGM_TRY(dgm_add(ctx, other, t, &other));
    DGM_TRY(join(ctx, c, cond, other, y));
    return dgm_sum(ctx, s, DGM_AXIS_ROWS, logdet);
}

dgm_status dgm_coupling_inverse(dgm_ctx *ctx, const dgm_coupling *c, dgm_tensor *y, dgm_tensor **x)
{
    DGM_TRY(check_input(ctx, c, y, "dgm_coupling_inverse"));
    dgm_tensor *cond = NULL, *other = NULL, *s = NULL, *t = NULL, *e = NULL;
    DGM_TRY(dgm_slice_cols(ctx, y, c->cond_start, c->cond_n, &cond));
    DGM_TRY(dgm_slice_cols(ctx, y, c->other_start, c->other_n, &other));
    DGM_TRY(scale_shift(ctx, c, cond, &s, &t));
    DGM_TRY(dgm_scale(ctx, s, -1.0f, 0.0f, &s));
    DGM_TRY(dgm_exp(ctx, s, &e));
    DGM_TRY(dgm_sub(ctx, other, t, &other));
    DGM_TRY(dgm_mul(ctx, other, e, &other));
    return join(ctx, c, cond, other, x);
}
