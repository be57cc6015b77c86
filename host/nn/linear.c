/* Linear layer: y = act(x·Wᵀ + b) with PyTorch nn.Linear's names, layout and init. The
 * layer keeps the positions of its views in the block, not pointers: the block's table
 * moves while tensors are being declared, and is fixed from dgm_params_alloc on. */
#include <stdio.h>
#include <string.h>

#include "nn/nn_internal.h"

dgm_status dgm_linear_declare(dgm_params *p, const char *name, int64_t in_features,
                              int64_t out_features, bool bias, dgm_nn_init init, float std,
                              dgm_linear *layer)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_check_ctx(ctx));
    if (!layer || !name || !*name)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_linear_declare: name and layer must not be NULL or empty");
    if (in_features < 1 || out_features < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_linear_declare: '%s' has in_features %lld, out_features %lld "
                             "(both must be >= 1)",
                             name, (long long)in_features, (long long)out_features);
    if ((unsigned)init > DGM_NN_INIT_ORTHOGONAL)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_linear_declare: '%s' has unknown init %d", name, (int)init);
    if (init == DGM_NN_INIT_NORMAL && !(std >= 0.0f && std < 1e30f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_linear_declare: '%s' has init std %g (must be finite, >= 0)",
                             name, (double)std);
    dgm_linear l = {p, dgm_params_count(p), bias ? dgm_params_count(p) + 1 : -1, in_features,
                    out_features};
    if (init == DGM_NN_INIT_PYTORCH) {
        DGM_TRY(dgm_params_add_linear(p, name, in_features, out_features, bias));
    } else {
        const dgm_init zeros = {DGM_INIT_ZEROS, 0.0f, 0.0f};
        const dgm_init w = init == DGM_NN_INIT_NORMAL       ? (dgm_init){DGM_INIT_NORMAL, 0.0f, std}
                           : init == DGM_NN_INIT_ORTHOGONAL ? (dgm_init){DGM_INIT_ORTHOGONAL, 0.0f, 1.0f}
                                                            : zeros;
        char full[2 * DGM_NN_NAME_MAX];
        const int64_t wshape[2] = {out_features, in_features};
        snprintf(full, sizeof full, "%s.weight", name);
        DGM_TRY(dgm_params_add(p, full, 2, wshape, w));
        snprintf(full, sizeof full, "%s.bias", name);
        if (bias) DGM_TRY(dgm_params_add(p, full, 1, &out_features, zeros));
    }
    *layer = l;
    return DGM_STATUS_OK;
}

dgm_tensor *dgm_linear_weight(const dgm_linear *layer)
{
    return layer ? dgm_params_at(layer->params, layer->weight_index) : NULL;
}

dgm_tensor *dgm_linear_bias(const dgm_linear *layer)
{
    return layer && layer->bias_index >= 0 ? dgm_params_at(layer->params, layer->bias_index)
                                           : NULL;
}

dgm_status dgm_linear_forward(dgm_ctx *ctx, const dgm_linear *layer, dgm_tensor *x,
                              dgm_activation act, float alpha, dgm_tensor **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!layer || !out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_linear_forward: layer and out must not be NULL");
    *out = NULL;
    DGM_TRY(dgm_nn_check_allocated(ctx, layer->params, "dgm_linear_forward"));
    dgm_tensor *w = dgm_linear_weight(layer);
    if (!w)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_linear_forward: the layer was not declared");
    /* dgm_matmul checks x against the weight and names both shapes if they disagree. */
    return dgm_matmul(ctx, x, false, w, true, dgm_linear_bias(layer), act, alpha, out);
}
