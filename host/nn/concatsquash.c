/* ConcatSquash layers (see dgm/nn.h): the time enters every layer as a gate and a shift,
 * two products with a one-column t beside the layer's own. */
#include <stdio.h>
#include <stdlib.h>

#include "nn/nn_internal.h"

typedef struct cs_layer {
    dgm_linear layer, gate, shift;
} cs_layer;

struct dgm_concatsquash {
    dgm_params *params; /* borrowed */
    int n_layers;
    dgm_activation activation;
    int64_t in_features;
    cs_layer layers[DGM_MLP_MAX_LAYERS];
};

dgm_status dgm_concatsquash_create(dgm_params *p, const char *prefix, int n_widths, const int64_t *widths,
                                   dgm_activation activation, dgm_concatsquash **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (!out || !prefix || !widths)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_concatsquash_create: prefix, widths and out must not be NULL");
    *out = NULL;
    if (n_widths < 2 || n_widths > DGM_MLP_MAX_LAYERS + 1 || (unsigned)activation >= DGM_ACT_COUNT)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_concatsquash_create: %d widths (2 to %d), activation %d", n_widths,
                             DGM_MLP_MAX_LAYERS + 1, (int)activation);
    dgm_concatsquash *cs = calloc(1, sizeof *cs);
    if (!cs) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_concatsquash_create: out of host memory");
    cs->params = p;
    cs->n_layers = n_widths - 1;
    cs->activation = activation;
    cs->in_features = widths[0];
    dgm_status st = DGM_STATUS_OK;
    for (int i = 0; st == DGM_STATUS_OK && i < cs->n_layers; i++) {
        char name[DGM_NN_NAME_MAX];
        cs_layer *l = &cs->layers[i];
        snprintf(name, sizeof name, "%s.layers.%d._layer", prefix, i);
        st = dgm_linear_declare(p, name, widths[i], widths[i + 1], true, DGM_NN_INIT_PYTORCH, 0.0f, &l->layer);
        snprintf(name, sizeof name, "%s.layers.%d._hyper_bias", prefix, i);
        if (st == DGM_STATUS_OK)
            st = dgm_linear_declare(p, name, 1, widths[i + 1], false, DGM_NN_INIT_PYTORCH, 0.0f, &l->shift);
        snprintf(name, sizeof name, "%s.layers.%d._hyper_gate", prefix, i);
        if (st == DGM_STATUS_OK)
            st = dgm_linear_declare(p, name, 1, widths[i + 1], true, DGM_NN_INIT_PYTORCH, 0.0f, &l->gate);
    }
    if (st != DGM_STATUS_OK) {
        free(cs);
        return st;
    }
    *out = cs;
    return DGM_STATUS_OK;
}

void dgm_concatsquash_free(dgm_concatsquash *cs) { free(cs); }

dgm_status dgm_concatsquash_forward(dgm_ctx *ctx, const dgm_concatsquash *cs, dgm_tensor *x, dgm_tensor *t,
                                    dgm_tensor **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!cs || !out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_concatsquash_forward: cs and out must not be NULL");
    *out = NULL;
    DGM_TRY(dgm_nn_check_allocated(ctx, cs->params, "dgm_concatsquash_forward"));
    dgm_tensor *h = x;
    for (int i = 0; i < cs->n_layers; i++) {
        const cs_layer *l = &cs->layers[i];
        dgm_tensor *y = NULL, *g = NULL, *b = NULL;
        DGM_TRY(dgm_linear_forward(ctx, &l->layer, h, DGM_ACT_NONE, 0.0f, &y));
        DGM_TRY(dgm_linear_forward(ctx, &l->gate, t, DGM_ACT_SIGMOID, 0.0f, &g));
        DGM_TRY(dgm_linear_forward(ctx, &l->shift, t, DGM_ACT_NONE, 0.0f, &b));
        DGM_TRY(dgm_mul(ctx, y, g, &y));
        DGM_TRY(dgm_add(ctx, y, b, &h));
        if (i < cs->n_layers - 1 && cs->activation != DGM_ACT_NONE)
            DGM_TRY(dgm_activate(ctx, h, cs->activation, 0.0f, &h));
    }
    *out = h;
    return DGM_STATUS_OK;
}
