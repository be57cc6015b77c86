/* Conv2d, ConvTranspose2d and GroupNorm layers with PyTorch's names, layouts and
 * initialization: a convolution's weight and bias U(±1/√fan_in) (kaiming_uniform with
 * a = √5 gives that bound), fan_in = weight.shape[1]·KH·KW — for a transposed convolution
 * that is out_channels/groups, as PyTorch computes it; GroupNorm's weight 1, bias 0. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn_internal.h"

static dgm_status declare_conv(dgm_params *p, const char *name, int64_t in_ch, int64_t out_ch,
                               int kernel, const dgm_conv2d_options *opt, bool bias,
                               dgm_nn_init init, float std, bool transposed,
                               dgm_conv2d_layer *layer)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_check_ctx(ctx));
    const char *fn = transposed ? "dgm_conv_transpose2d_layer_declare" : "dgm_conv2d_layer_declare";
    if (!layer || !name || !*name)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: name and layer must be given", fn);
    const int groups = opt && opt->groups > 0 ? opt->groups : 1;
    if (in_ch < 1 || out_ch < 1 || kernel < 1 || in_ch % groups || out_ch % groups)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: '%s' has %lld -> %lld channels, kernel %d, %d groups", fn, name,
                             (long long)in_ch, (long long)out_ch, kernel, groups);
    if ((unsigned)init > DGM_NN_INIT_ZEROS)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: '%s' takes the pytorch, normal or zeros init", fn, name);
    const int64_t shape[4] = {transposed ? in_ch : out_ch, (transposed ? out_ch : in_ch) / groups,
                              kernel, kernel};
    const double bound = 1.0 / sqrt((double)(shape[1] * kernel * kernel));
    const dgm_init zeros = {DGM_INIT_ZEROS, 0.0f, 0.0f};
    const dgm_init uniform = {DGM_INIT_UNIFORM, (float)-bound, (float)bound};
    const dgm_init w = init == DGM_NN_INIT_PYTORCH ? uniform
                       : init == DGM_NN_INIT_NORMAL ? (dgm_init){DGM_INIT_NORMAL, 0.0f, std}
                                                    : zeros;
    dgm_conv2d_layer l;
    memset(&l, 0, sizeof l);
    l.params = p;
    l.weight_index = dgm_params_count(p);
    l.bias_index = bias ? l.weight_index + 1 : -1;
    l.in_channels = in_ch;
    l.out_channels = out_ch;
    l.kernel = kernel;
    if (opt) l.options = *opt;
    l.transposed = transposed;
    char full[2 * DGM_NN_NAME_MAX];
    snprintf(full, sizeof full, "%s.weight", name);
    DGM_TRY(dgm_params_add(p, full, 4, shape, w));
    snprintf(full, sizeof full, "%s.bias", name);
    if (bias) DGM_TRY(dgm_params_add(p, full, 1, &out_ch, init == DGM_NN_INIT_PYTORCH ? uniform : zeros));
    *layer = l;
    return DGM_STATUS_OK;
}

dgm_status dgm_conv2d_layer_declare(dgm_params *p, const char *name, int64_t in_channels,
                                    int64_t out_channels, int kernel,
                                    const dgm_conv2d_options *options, bool bias,
                                    dgm_nn_init init, float std, dgm_conv2d_layer *layer)
{
    return declare_conv(p, name, in_channels, out_channels, kernel, options, bias, init, std,
                        false, layer);
}

dgm_status dgm_conv_transpose2d_layer_declare(dgm_params *p, const char *name,
                                              int64_t in_channels, int64_t out_channels,
                                              int kernel, const dgm_conv2d_options *options,
                                              bool bias, dgm_nn_init init, float std,
                                              dgm_conv2d_layer *layer)
{
    return declare_conv(p, name, in_channels, out_channels, kernel, options, bias, init, std,
                        true, layer);
}

dgm_status dgm_conv2d_layer_forward(dgm_ctx *ctx, const dgm_conv2d_layer *layer, dgm_tensor *x,
                                    dgm_tensor **out)
{
    const char *fn = "dgm_conv2d_layer_forward";
    if (!layer) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: the layer is NULL", fn);
    DGM_TRY(dgm_nn_check_allocated(ctx, layer->params, fn));
    dgm_tensor *w = dgm_params_at(layer->params, layer->weight_index);
    dgm_tensor *b = layer->bias_index >= 0 ? dgm_params_at(layer->params, layer->bias_index) : NULL;
    return layer->transposed ? dgm_conv_transpose2d(ctx, x, w, b, &layer->options, out)
                             : dgm_conv2d(ctx, x, w, b, &layer->options, out);
}

dgm_status dgm_group_norm_layer_declare(dgm_params *p, const char *name, int groups,
                                        int64_t channels, float eps, dgm_group_norm_layer *layer)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_check_ctx(ctx));
    if (!layer || !name || !*name || groups < 1 || channels < 1 || channels % groups || !(eps > 0.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_group_norm_layer_declare: '%s': %lld channels in %d groups, "
                             "eps %g", name ? name : "(null)", (long long)channels, groups,
                             (double)eps);
    dgm_group_norm_layer l = {p, dgm_params_count(p), dgm_params_count(p) + 1, channels, groups, eps};
    char full[2 * DGM_NN_NAME_MAX];
    snprintf(full, sizeof full, "%s.weight", name);
    DGM_TRY(dgm_params_add(p, full, 1, &channels, (dgm_init){DGM_INIT_ONES, 0.0f, 0.0f}));
    snprintf(full, sizeof full, "%s.bias", name);
    DGM_TRY(dgm_params_add(p, full, 1, &channels, (dgm_init){DGM_INIT_ZEROS, 0.0f, 0.0f}));
    *layer = l;
    return DGM_STATUS_OK;
}

dgm_status dgm_group_norm_layer_forward(dgm_ctx *ctx, const dgm_group_norm_layer *layer,
                                        dgm_tensor *x, dgm_tensor **out)
{
    const char *fn = "dgm_group_norm_layer_forward";
    if (!layer) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: the layer is NULL", fn);
    DGM_TRY(dgm_nn_check_allocated(ctx, layer->params, fn));
    return dgm_group_norm(ctx, x, layer->groups, dgm_params_at(layer->params, layer->weight_index),
                          dgm_params_at(layer->params, layer->bias_index), layer->eps, out);
}
