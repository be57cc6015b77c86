/* MADE: an MLP of masked Linear layers (degrees and masks in dgm/flow.h), and MAF's affine
 * autoregressive flow layer on it. The mask multiplies the weight on the tape, so the
 * forward sees W⊙M and the backward gives W's gradient times M: masked weights never move. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dgm/flow.h"
#include "nn/nn_internal.h"

#define MADE_MAX_HIDDEN 8
#define MADE_MAX_DIM 65536

typedef struct masked_linear {
    dgm_linear linear;
    dgm_tensor *mask; /* [out, in], persistent on ctx's device; NULL until the first forward */
} masked_linear;

struct dgm_made {
    dgm_params *params; /* borrowed */
    int64_t dim;
    int n_layers;
    dgm_activation activation;
    float bound;
    int64_t *order; /* [dim] */
    masked_linear layers[MADE_MAX_HIDDEN + 1];
};

/* Degree of unit k of a layer: the inputs' order, hidden k mod (D − 1), the outputs'
 * order − 1 (output k is column k mod D's μ or log-scale). */
static int64_t degree(const dgm_made *m, int layer, int64_t k)
{
    if (layer == 0) return m->order[k];
    if (layer == m->n_layers) return m->order[k % m->dim] - 1;
    return m->dim > 1 ? k % (m->dim - 1) : 0;
}

/* The [out, in] mask of Linear layer l (from layer l's units to layer l + 1's). */
static dgm_status make_mask(dgm_ctx *ctx, dgm_made *m, int l, int64_t in, int64_t out, dgm_tensor **mask)
{
    float *h = malloc((size_t)(in * out) * sizeof *h);
    if (!h) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_made_create: out of host memory");
    for (int64_t o = 0; o < out; o++)
        for (int64_t i = 0; i < in; i++) h[o * in + i] = degree(m, l + 1, o) >= degree(m, l, i) ? 1.0f : 0.0f;
    const int64_t shape[2] = {out, in};
    dgm_status st = dgm_tensor_create(ctx, 2, shape, mask);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, *mask, h);
    free(h);
    return st;
}

dgm_status dgm_made_create(dgm_params *p, const char *prefix, int64_t dim, const dgm_made_config *config,
                           dgm_made **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (!out || !prefix || !config || !config->hidden)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_made_create: prefix, config, its hidden widths and out must not be NULL");
    *out = NULL;
    const dgm_made_config *c = config;
    if (dim < 1 || dim > MADE_MAX_DIM || c->n_hidden < 1 || c->n_hidden > MADE_MAX_HIDDEN ||
        (unsigned)c->activation >= DGM_ACT_COUNT || !(c->log_scale_bound >= 0.0f && c->log_scale_bound < 1e30f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_made_create: dim %lld (1 to %d), %d hidden layers (1 to %d), activation %d, "
                             "log-scale bound %g (>= 0)", (long long)dim, MADE_MAX_DIM, c->n_hidden,
                             MADE_MAX_HIDDEN, (int)c->activation, (double)c->log_scale_bound);
    for (int i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] < 1)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_made_create: hidden width %d is %lld", i,
                                 (long long)c->hidden[i]);
    dgm_made *m = calloc(1, sizeof *m);
    if (m) m->order = malloc((size_t)dim * sizeof *m->order);
    if (!m || !m->order) {
        free(m);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_made_create: out of host memory");
    }
    m->params = p;
    m->dim = dim;
    m->n_layers = c->n_hidden + 1;
    m->activation = c->activation;
    m->bound = c->log_scale_bound;
    if (c->order_seed == 0)
        for (int64_t i = 0; i < dim; i++) m->order[i] = i;
    else
        dgm_nn_shuffle(dim, c->order_seed, m->order);
    dgm_status st = DGM_STATUS_OK;
    int64_t in = dim;
    for (int l = 0; st == DGM_STATUS_OK && l < m->n_layers; l++) {
        const int64_t o = l == m->n_layers - 1 ? 2 * dim : c->hidden[l];
        char name[DGM_NN_NAME_MAX];
        snprintf(name, sizeof name, "%s.net.%d", prefix, 2 * l);
        st = dgm_linear_declare(p, name, in, o, true, c->init, 0.0f, &m->layers[l].linear);
        in = o;
    }
    if (st != DGM_STATUS_OK) {
        dgm_made_free(m);
        return st;
    }
    *out = m;
    return DGM_STATUS_OK;
}

void dgm_made_free(dgm_made *m)
{
    if (!m) return;
    for (int l = 0; l < m->n_layers; l++) dgm_tensor_free(m->layers[l].mask);
    free(m->order);
    free(m);
}

int64_t dgm_made_order(const dgm_made *m, int64_t i)
{
    return m && i >= 0 && i < m->dim ? m->order[i] : -1;
}

/* The masks, made by the first forward call rather than at declaration: they are as large
 * as the weights, and a checkpoint's load compares the declared weights with the file's
 * before anything that size is allocated. */
static dgm_status ensure_masks(dgm_ctx *ctx, dgm_made *m)
{
    for (int l = 0; l < m->n_layers; l++) {
        if (m->layers[l].mask) continue;
        const dgm_linear *lin = &m->layers[l].linear;
        DGM_TRY(make_mask(ctx, m, l, lin->in_features, lin->out_features, &m->layers[l].mask));
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_made_params(dgm_ctx *ctx, const dgm_made *m, dgm_tensor *x, dgm_tensor **mu,
                           dgm_tensor **log_scale)
{
    DGM_TRY(dgm_nn_check_flow_input(ctx, m, m ? m->params : NULL, m ? m->dim : 0, x, "dgm_made_params"));
    DGM_TRY(ensure_masks(ctx, (dgm_made *)m)); /* a cache: the layer's meaning does not change */
    if (!mu || !log_scale)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_made_params: mu and log_scale must not be NULL");
    dgm_tensor *h = x, *a = NULL;
    for (int l = 0; l < m->n_layers; l++) {
        const masked_linear *ml = &m->layers[l];
        dgm_tensor *w = NULL;
        DGM_TRY(dgm_mul(ctx, dgm_linear_weight(&ml->linear), ml->mask, &w));
        const dgm_activation act = l == m->n_layers - 1 ? DGM_ACT_NONE : m->activation;
        DGM_TRY(dgm_matmul(ctx, h, false, w, true, dgm_linear_bias(&ml->linear), act, 0.0f, &h));
    }
    DGM_TRY(dgm_slice_cols(ctx, h, 0, m->dim, mu));
    DGM_TRY(dgm_slice_cols(ctx, h, m->dim, m->dim, &a));
    if (m->bound > 0.0f) { /* B·tanh(a/B) */
        DGM_TRY(dgm_scale(ctx, a, 1.0f / m->bound, 0.0f, &a));
        DGM_TRY(dgm_tanh(ctx, a, &a));
        DGM_TRY(dgm_scale(ctx, a, m->bound, 0.0f, &a));
    }
    *log_scale = a;
    return DGM_STATUS_OK;
}

dgm_status dgm_made_forward(dgm_ctx *ctx, const dgm_made *m, dgm_tensor *x, dgm_tensor **u, dgm_tensor **logdet)
{
    if (!u || !logdet)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_made_forward: u and logdet must not be NULL");
    dgm_tensor *mu = NULL, *a = NULL, *e = NULL, *d = NULL, *s = NULL;
    DGM_TRY(dgm_made_params(ctx, m, x, &mu, &a));
    DGM_TRY(dgm_scale(ctx, a, -1.0f, 0.0f, &e));
    DGM_TRY(dgm_exp(ctx, e, &e));
    DGM_TRY(dgm_sub(ctx, x, mu, &d));
    DGM_TRY(dgm_mul(ctx, d, e, u));
    DGM_TRY(dgm_sum(ctx, a, DGM_AXIS_ROWS, &s));
    return dgm_scale(ctx, s, -1.0f, 0.0f, logdet);
}

dgm_status dgm_made_inverse(dgm_ctx *ctx, const dgm_made *m, dgm_tensor *u, dgm_tensor **x)
{
    DGM_TRY(dgm_nn_check_flow_input(ctx, m, m ? m->params : NULL, m ? m->dim : 0, u, "dgm_made_inverse"));
    if (!x) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_made_inverse: x must not be NULL");
    /* x = u·exp(α(x)) + μ(x), one order position more exact per pass, starting from u. */
    dgm_tensor *h = u;
    for (int64_t pass = 0; pass < m->dim; pass++) {
        dgm_tensor *mu = NULL, *a = NULL, *e = NULL, *y = NULL;
        DGM_TRY(dgm_made_params(ctx, m, h, &mu, &a));
        DGM_TRY(dgm_exp(ctx, a, &e));
        DGM_TRY(dgm_mul(ctx, u, e, &y));
        DGM_TRY(dgm_add(ctx, y, mu, &h));
    }
    *x = h;
    return DGM_STATUS_OK;
}
