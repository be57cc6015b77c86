/* MLP: Linear layers with optional batch norm, activation or maxout, and dropout between
 * them, declared under the names nn.Sequential gives its modules (module order and
 * numbering in include/dgm/nn.h). Without batch norm or maxout a hidden layer's
 * activation is fused into its matmul, as a hand-written Linear + ReLU would be. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

typedef struct mlp_layer {
    dgm_linear linear;
    int bn_index; /* weight, bias, running_mean, running_var of its BatchNorm1d, or -1 */
} mlp_layer;

struct dgm_mlp {
    dgm_params *params; /* borrowed */
    dgm_mlp_config cfg; /* alphas resolved; linear_names cleared (not kept) */
    int n_layers;
    int64_t in_features, out_features;
    mlp_layer layers[DGM_MLP_MAX_LAYERS];
};

dgm_mlp_config dgm_mlp_config_default(void)
{
    dgm_mlp_config c;
    memset(&c, 0, sizeof c);
    c.activation = DGM_ACT_RELU;
    c.output_activation = DGM_ACT_NONE;
    c.bn_momentum = 0.1f;
    c.bn_eps = 1e-5f;
    c.maxout_k = 1;
    c.bias = true;
    c.init = DGM_NN_INIT_PYTORCH;
    c.init_std = 0.02f;
    return c;
}

/* PyTorch's default when alpha is 0: LeakyReLU's slope 0.01, ELU's alpha 1. */
static float resolve_alpha(dgm_activation act, float alpha)
{
    if (alpha != 0.0f) return alpha;
    if (act == DGM_ACT_LEAKY_RELU) return 0.01f;
    if (act == DGM_ACT_ELU) return 1.0f;
    return alpha;
}

static bool is_probability(float p) { return p >= 0.0f && p < 1.0f; }

static dgm_status check_config(dgm_ctx *ctx, int n_widths, const int64_t *widths,
                               const dgm_mlp_config *c)
{
    const char *fn = "dgm_mlp_create";
    if (n_widths < 2 || n_widths > DGM_MLP_MAX_LAYERS + 1 || !widths)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %d widths (need 2 to %d: input, hidden..., output)", fn,
                             n_widths, DGM_MLP_MAX_LAYERS + 1);
    if (c->maxout_k < 1 || c->maxout_k > 4096)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: maxout_k is %d (1 for no maxout, or 2 to 4096 pieces)", fn,
                             c->maxout_k);
    for (int i = 0; i < n_widths; i++)
        if (widths[i] < 1 || widths[i] > INT64_MAX / 4 / c->maxout_k)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: width %d is %lld (must be >= 1)", fn, i,
                                 (long long)widths[i]);
    if ((unsigned)c->activation >= DGM_ACT_COUNT || (unsigned)c->output_activation >= DGM_ACT_COUNT)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: unknown activation %d or output_activation %d", fn,
                             (int)c->activation, (int)c->output_activation);
    if (!is_probability(c->dropout) || !is_probability(c->input_dropout))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: dropout %g and input_dropout %g must be in [0, 1)", fn,
                             (double)c->dropout, (double)c->input_dropout);
    if (c->batch_norm && (!(c->bn_eps > 0.0f) || !(c->bn_momentum >= 0.0f && c->bn_momentum <= 1.0f)))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: bn_eps %g must be > 0 and bn_momentum %g in [0, 1]", fn,
                             (double)c->bn_eps, (double)c->bn_momentum);
    if ((unsigned)c->init > DGM_NN_INIT_ORTHOGONAL)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: unknown init %d", fn,
                             (int)c->init);
    if (c->init == DGM_NN_INIT_NORMAL && !(c->init_std >= 0.0f && c->init_std < 1e30f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: init_std %g must be finite and >= 0", fn, (double)c->init_std);
    for (int i = 0; c->linear_names && i < n_widths - 1; i++)
        if (!c->linear_names[i] || !*c->linear_names[i])
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: linear_names[%d] is NULL or empty", fn, i);
    return DGM_STATUS_OK;
}

/* "<prefix>.<index>", or "<index>" without a prefix. */
static void module_name(char *buf, size_t len, const char *prefix, int index)
{
    if (prefix && *prefix) snprintf(buf, len, "%s.%d", prefix, index);
    else snprintf(buf, len, "%d", index);
}

/* Declares every module in nn.Sequential order (see nn.h); `next` is the next index. */
static dgm_status declare(dgm_mlp *m, const char *prefix, const int64_t *widths,
                          const char *const *names)
{
    const dgm_mlp_config *c = &m->cfg;
    const int k = c->maxout_k;
    char name[DGM_NN_NAME_MAX + 32];
    int next = 0;
    if (c->input_dropout > 0.0f) next++;
    for (int i = 0; i < m->n_layers; i++) {
        const bool last = i == m->n_layers - 1;
        const int64_t out = last ? widths[i + 1] : widths[i + 1] * k;
        if (names) snprintf(name, sizeof name, "%s", names[i]);
        else module_name(name, sizeof name, prefix, next);
        next++;
        const dgm_nn_init init = last && c->zero_last ? DGM_NN_INIT_ZEROS : c->init;
        DGM_TRY(dgm_linear_declare(m->params, name, widths[i], out, c->bias, init, c->init_std,
                                   &m->layers[i].linear));
        m->layers[i].bn_index = -1;
        if (last) break;
        if (c->batch_norm) {
            /* Named after its own index, or "<linear name>_bn" beside explicitly named
             * Linear layers. */
            if (names) snprintf(name, sizeof name, "%s_bn", names[i]);
            else module_name(name, sizeof name, prefix, next);
            next++;
            m->layers[i].bn_index = dgm_params_count(m->params);
            DGM_TRY(dgm_params_add_batchnorm(m->params, name, out));
        }
        if (k >= 2 || c->activation != DGM_ACT_NONE) next++;
        if (c->dropout > 0.0f) next++;
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_mlp_create(dgm_params *p, const char *prefix, int n_widths, const int64_t *widths,
                          const dgm_mlp_config *config, dgm_mlp **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_check_ctx(ctx));
    if (!out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_mlp_create: out is NULL");
    *out = NULL;
    const dgm_mlp_config defaults = dgm_mlp_config_default();
    const dgm_mlp_config *c = config ? config : &defaults;
    DGM_TRY(check_config(ctx, n_widths, widths, c));
    if (dgm_params_values(p))
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR,
                             "dgm_mlp_create: the block is already allocated");
    dgm_mlp *m = calloc(1, sizeof *m);
    if (!m) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_mlp_create: out of host memory");
    m->params = p;
    m->cfg = *c;
    m->cfg.linear_names = NULL;
    m->cfg.activation_alpha = resolve_alpha(c->activation, c->activation_alpha);
    m->cfg.output_alpha = resolve_alpha(c->output_activation, c->output_alpha);
    m->n_layers = n_widths - 1;
    m->in_features = widths[0];
    m->out_features = widths[n_widths - 1];
    dgm_status st = declare(m, prefix, widths, c->linear_names);
    if (st != DGM_STATUS_OK) {
        free(m);
        return st;
    }
    *out = m;
    return DGM_STATUS_OK;
}

void dgm_mlp_free(dgm_mlp *mlp) { free(mlp); }

dgm_status dgm_mlp_forward(dgm_ctx *ctx, const dgm_mlp *mlp, dgm_tensor *x, bool training,
                           dgm_tensor **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!mlp || !out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_mlp_forward: mlp and out must not be NULL");
    *out = NULL;
    DGM_TRY(dgm_nn_check_allocated(ctx, mlp->params, "dgm_mlp_forward"));
    const dgm_mlp_config *c = &mlp->cfg;
    const int k = c->maxout_k;
    dgm_tensor *h = x;
    if (c->input_dropout > 0.0f) DGM_TRY(dgm_dropout(ctx, h, c->input_dropout, training, &h));
    for (int i = 0; i < mlp->n_layers; i++) {
        const mlp_layer *l = &mlp->layers[i];
        if (i == mlp->n_layers - 1)
            return dgm_linear_forward(ctx, &l->linear, h, c->output_activation, c->output_alpha,
                                      out);
        const bool fuse = l->bn_index < 0 && k == 1;
        DGM_TRY(dgm_linear_forward(ctx, &l->linear, h, fuse ? c->activation : DGM_ACT_NONE,
                                   c->activation_alpha, &h));
        if (l->bn_index >= 0) {
            dgm_params *p = mlp->params;
            const int b = l->bn_index;
            DGM_TRY(dgm_batchnorm(ctx, h, dgm_params_at(p, b), dgm_params_at(p, b + 1),
                                  dgm_params_at(p, b + 2), dgm_params_at(p, b + 3), training,
                                  c->bn_momentum, c->bn_eps, &h));
        }
        if (k >= 2) DGM_TRY(dgm_maxout(ctx, h, k, &h));
        else if (!fuse && c->activation != DGM_ACT_NONE)
            DGM_TRY(dgm_activate(ctx, h, c->activation, c->activation_alpha, &h));
        if (c->dropout > 0.0f) DGM_TRY(dgm_dropout(ctx, h, c->dropout, training, &h));
    }
    return DGM_STATUS_INVALID_ARGUMENT; /* unreachable: an MLP has at least one layer */
}

int dgm_mlp_layer_count(const dgm_mlp *mlp) { return mlp ? mlp->n_layers : 0; }

const dgm_linear *dgm_mlp_layer(const dgm_mlp *mlp, int i)
{
    return mlp && i >= 0 && i < mlp->n_layers ? &mlp->layers[i].linear : NULL;
}

int64_t dgm_mlp_in_features(const dgm_mlp *mlp) { return mlp ? mlp->in_features : 0; }
int64_t dgm_mlp_out_features(const dgm_mlp *mlp) { return mlp ? mlp->out_features : 0; }

