/* dgm layers: Linear, a configurable MLP and the sinusoidal time embedding — the pieces
 * every model family (VAE, GAN, flows, DDPM, flow matching) is built from.
 *
 * Parameters. Layers never allocate parameter memory. A layer is *declared* into a
 * dgm_params block before dgm_params_alloc (which initializes it from the context's
 * generator, in declaration order) and afterwards *borrows* views into the block: the
 * block must outlive the layer, and forward calls before dgm_params_alloc fail with
 * DGM_STATUS_STATE_ERROR. Parameters get PyTorch's names and layouts, so a PyTorch module
 * of the same shape loads them with load_state_dict(strict=True) and the other way round.
 *
 * Gradients. Forward calls record on the context's tape like any op; dgm_backward
 * accumulates (+=) into the block's gradient buffer until dgm_params_zero_grad.
 *
 * Threads. Declaring changes the block: one thread at a time. Forward calls only read
 * the layer; one layer may be used from several threads with one context each, but one
 * context is never used from two threads at once. Batch norm in training mode updates
 * its running statistics in place: do not train one block from two threads.
 */
#ifndef DGM_NN_H
#define DGM_NN_H

#include "dgm/ops.h"
#include "dgm/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a Linear layer's weight and bias are initialized. */
typedef enum dgm_nn_init {
    /* PyTorch's nn.Linear.reset_parameters: weight kaiming_uniform(a=√5) and bias
     * U(±1/√fan_in), which are both U(−1/√in, 1/√in). */
    DGM_NN_INIT_PYTORCH = 0,
    /* weight N(0, σ²), bias 0 (DCGAN-style GAN initialization, σ = 0.02). */
    DGM_NN_INIT_NORMAL,
    /* weight and bias 0: the layer starts as the zero map (the last layer of a RealNVP
     * coupling network, so every coupling starts as the identity). */
    DGM_NN_INIT_ZEROS,
    /* weight orthogonal (nn.init.orthogonal_, gain 1), bias 0: pytorch-flows' MAF init. */
    DGM_NN_INIT_ORTHOGONAL
} dgm_nn_init;

/* ---- Linear: y = x·Wᵀ + b, PyTorch nn.Linear(in_features, out_features, bias) ---- */

/* A Linear layer. The caller owns the struct (copy it freely); it holds no memory, only
 * the positions of its views in `params`. Read-only for the caller. */
typedef struct dgm_linear {
    dgm_params *params;   /* borrowed: the block the views live in */
    int weight_index;     /* "<name>.weight" [out_features, in_features] in params */
    int bias_index;       /* "<name>.bias" [out_features] in params, or -1 (no bias) */
    int64_t in_features;
    int64_t out_features;
} dgm_linear;

/* Declares "<name>.weight" [out_features, in_features] and, when `bias`, "<name>.bias"
 * [out_features] into p (before dgm_params_alloc), initialized as `init` says (`std` is
 * σ of DGM_NN_INIT_NORMAL, ignored otherwise), and fills *layer. Names are unique in the
 * block and at most 127 bytes with the suffix. On failure *layer is unchanged; nothing is
 * declared unless the bias's name alone was taken. */
DGM_API dgm_status dgm_linear_declare(dgm_params *p, const char *name, int64_t in_features,
                                      int64_t out_features, bool bias, dgm_nn_init init,
                                      float std, dgm_linear *layer);

/* The layer's views: weight [out_features, in_features] and bias [out_features] (NULL
 * without bias). Their data is valid after dgm_params_alloc; owned by the block. */
DGM_API dgm_tensor *dgm_linear_weight(const dgm_linear *layer);
DGM_API dgm_tensor *dgm_linear_bias(const dgm_linear *layer);

/* *out = act(x·Wᵀ + b): x [B, in_features] -> *out [B, out_features] (a step tensor), the
 * activation fused into the matmul (`alpha` as in dgm_activate). */
DGM_API dgm_status dgm_linear_forward(dgm_ctx *ctx, const dgm_linear *layer, dgm_tensor *x,
                                      dgm_activation act, float alpha, dgm_tensor **out);

/* ---- MLP: an nn.Sequential of Linear layers and what goes between them ----
 *
 * widths = [w_0, w_1, ..., w_L] gives L Linear layers w_{i-1} -> w_i. The modules, in the
 * order nn.Sequential numbers them (each takes the next index, parameters or not):
 *
 *   [Dropout(input_dropout)]                       if input_dropout > 0
 *   for each hidden layer i = 1 .. L-1:
 *     Linear(w_{i-1}, w_i·k)                       k = maxout_k (1 without maxout)
 *     [BatchNorm1d(w_i·k)]                         if batch_norm
 *     Maxout(k)  or  activation                    Maxout if k >= 2, else the activation
 *                                                  (none, and no index, for DGM_ACT_NONE)
 *     [Dropout(dropout)]                           if dropout > 0
 *   Linear(w_{L-1}, w_L)
 *   [output_activation]                            unless DGM_ACT_NONE
 *
 * With prefix "net", widths 2-64-64-1 and ReLU the parameters are net.0.weight [64, 2],
 * net.0.bias [64], net.2.weight [64, 64], net.2.bias, net.4.weight [1, 64], net.4.bias —
 * nn.Sequential(Linear, ReLU, Linear, ReLU, Linear) under the attribute `net`. An empty
 * or NULL prefix gives "0.weight", ... (a bare nn.Sequential's state_dict).
 *
 * BatchNorm1d declares weight (ones) and bias (zeros) and the buffers running_mean
 * (zeros) and running_var (ones). PyTorch's state_dict also has num_batches_tracked (an
 * int64 counter that only matters when momentum is None, i.e. a cumulative average); dgm
 * always uses a fixed momentum and does not keep it. PyTorch's load_state_dict fills it in
 * (with 0) for a state dict without version metadata, which is what a safetensors file
 * gives, so strict loading works; the other way, drop those keys before saving.
 *
 * Maxout (Goodfellow et al. 2013) has no PyTorch module: it is a parameter-free module of
 * its own index computing x.view(B, w, k).max(dim=2) — unit j is the max of the k
 * consecutive columns j·k .. j·k+k-1 of the preceding Linear's output. */

#define DGM_MLP_MAX_LAYERS 32 /* Linear layers of one MLP */

typedef struct dgm_mlp_config {
    dgm_activation activation;        /* after each hidden layer (default DGM_ACT_RELU) */
    float activation_alpha;           /* LEAKY_RELU slope or ELU alpha; 0 (default):
                                         PyTorch's default, 0.01 or 1 */
    dgm_activation output_activation; /* after the last Linear (default DGM_ACT_NONE) */
    float output_alpha;               /* as activation_alpha, for output_activation */
    bool batch_norm;                  /* BatchNorm1d after each hidden Linear (false) */
    float bn_momentum;                /* PyTorch's momentum (default 0.1) */
    float bn_eps;                     /* default 1e-5 */
    int maxout_k;                     /* pieces per maxout unit: 1 (default) = no maxout;
                                         >= 2 replaces the hidden activation */
    float dropout;                    /* p of a Dropout after each hidden layer (0: none) */
    float input_dropout;              /* p of a Dropout before the first Linear (0: none) */
    bool bias;                        /* Linear layers have biases (default true) */
    dgm_nn_init init;                 /* every Linear (default DGM_NN_INIT_PYTORCH) */
    float init_std;                   /* σ of DGM_NN_INIT_NORMAL (default 0.02) */
    bool zero_last;                   /* the last Linear starts at zero (default false) */
    /* NULL (default): the nn.Sequential numbering above under the prefix. Otherwise the
     * full name of each of the L Linear layers (e.g. pytorch/examples' VAE: "fc3",
     * "fc4"), for modules that are not an nn.Sequential; the prefix is then ignored and
     * a hidden layer's BatchNorm1d is "<its Linear's name>_bn". Read during
     * dgm_mlp_create only. */
    const char *const *linear_names;
} dgm_mlp_config;

/* The defaults above. */
DGM_API dgm_mlp_config dgm_mlp_config_default(void);

typedef struct dgm_mlp dgm_mlp;

/* Declares the MLP's parameters into p (before dgm_params_alloc) under `prefix` and makes
 * *out, which the caller frees with dgm_mlp_free (the parameters stay in p). n_widths is
 * 2 to DGM_MLP_MAX_LAYERS + 1; every width >= 1. `config` may be NULL for the defaults;
 * it and `widths` are copied. A bad config (zero width, maxout_k < 1, dropout outside
 * [0, 1), ...) returns DGM_STATUS_INVALID_ARGUMENT with a message and declares nothing;
 * a failure while declaring (a duplicate name) may leave some names declared. */
DGM_API dgm_status dgm_mlp_create(dgm_params *p, const char *prefix, int n_widths,
                                  const int64_t *widths, const dgm_mlp_config *config,
                                  dgm_mlp **out);
/* Frees the MLP (not its parameters). NULL is a no-op. */
DGM_API void dgm_mlp_free(dgm_mlp *mlp);

/* x [B, w_0] -> *out [B, w_L] (a step tensor). `training` selects batch statistics (and
 * updates the running ones in place) over running statistics, and turns dropout on (its
 * masks are drawn from the context's generator); with neither, it changes nothing.
 * Batch norm in training needs B >= 2. */
DGM_API dgm_status dgm_mlp_forward(dgm_ctx *ctx, const dgm_mlp *mlp, dgm_tensor *x,
                                   bool training, dgm_tensor **out);

/* The L Linear layers (i in [0, L)), NULL when out of range; owned by the MLP. */
DGM_API int dgm_mlp_layer_count(const dgm_mlp *mlp);
DGM_API const dgm_linear *dgm_mlp_layer(const dgm_mlp *mlp, int i);
DGM_API int64_t dgm_mlp_in_features(const dgm_mlp *mlp);  /* w_0 */
DGM_API int64_t dgm_mlp_out_features(const dgm_mlp *mlp); /* w_L */

/* ---- Conv2d, ConvTranspose2d, GroupNorm (NCHW) ----
 * PyTorch's modules' names and layouts: "<name>.weight" [out, in/groups, k, k] (a
 * transposed convolution's: [in, out/groups, k, k]) and "<name>.bias" [out]; GroupNorm's
 * "<name>.weight" and "<name>.bias" [channels]. init: DGM_NN_INIT_PYTORCH (U(±1/√fan_in)
 * for weight and bias, as PyTorch), _NORMAL (weight N(0, std²), bias 0: DCGAN) or _ZEROS. */
typedef struct dgm_conv2d_layer {
    dgm_params *params;
    int weight_index;
    int bias_index; /* -1: no bias */
    int64_t in_channels, out_channels;
    int kernel; /* square kernels */
    dgm_conv2d_options options;
    bool transposed;
} dgm_conv2d_layer;

DGM_API dgm_status dgm_conv2d_layer_declare(dgm_params *p, const char *name, int64_t in_channels,
                                            int64_t out_channels, int kernel,
                                            const dgm_conv2d_options *options, bool bias,
                                            dgm_nn_init init, float std, dgm_conv2d_layer *layer);
DGM_API dgm_status dgm_conv_transpose2d_layer_declare(dgm_params *p, const char *name,
                                                      int64_t in_channels, int64_t out_channels,
                                                      int kernel,
                                                      const dgm_conv2d_options *options,
                                                      bool bias, dgm_nn_init init, float std,
                                                      dgm_conv2d_layer *layer);
/* x [B, in, H, W] -> *out [B, out, OH, OW]. */
DGM_API dgm_status dgm_conv2d_layer_forward(dgm_ctx *ctx, const dgm_conv2d_layer *layer,
                                            dgm_tensor *x, dgm_tensor **out);

typedef struct dgm_group_norm_layer {
    dgm_params *params;
    int weight_index, bias_index;
    int64_t channels;
    int groups;
    float eps;
} dgm_group_norm_layer;

DGM_API dgm_status dgm_group_norm_layer_declare(dgm_params *p, const char *name, int groups,
                                                int64_t channels, float eps,
                                                dgm_group_norm_layer *layer);
DGM_API dgm_status dgm_group_norm_layer_forward(dgm_ctx *ctx, const dgm_group_norm_layer *layer,
                                                dgm_tensor *x, dgm_tensor **out);

/* ---- UNet: the time-conditioned image network of DDPM (Ho et al. 2020) as
 * improved-diffusion and torchcfm write it ----
 *
 * conv_in (3×3) -> per level l: `blocks` residual blocks of channels[l] (each followed by
 * self-attention where attention[l]), then a 3×3 stride-2 convolution (not after the last
 * level) -> middle: residual block, attention, residual block -> per level from the last:
 * blocks + 1 residual blocks, each taking the matching down-path activation concatenated
 * to its input (channels), attention where attention[l], then (not at level 0) nearest ×2
 * upsampling and a 3×3 convolution -> GroupNorm, SiLU, conv_out (3×3, zero-initialized).
 *
 * A residual block: h = conv1(SiLU(norm1(x))); [scale, shift] = emb(SiLU(e));
 * h = norm2(h)·(1 + scale) + shift; h = conv2(dropout(SiLU(h))) (conv2 starts at zero);
 * out = skip(x) + h, skip a 1×1 convolution when the channels change. Attention is one
 * head over the H·W positions: qkv = 1×1 conv of norm(x), softmax(qᵀk/√C), proj (zero at
 * the start), added to x. The embedding input e [B, E] (a sinusoidal embedding of t, or
 * raw t with E = 1) goes through time_embed = Linear(E, 4·C0), SiLU, Linear(4·C0, 4·C0).
 * GroupNorm has min(32, C) groups, eps 1e-5.
 *
 * Parameters under "<prefix>.": time_embed.{0,2}, conv_in, down.<l>.res.<i>.{norm1, conv1,
 * emb, norm2, conv2, skip}, down.<l>.attn.<i>.{norm, qkv, proj}, down.<l>.downsample,
 * mid.res1, mid.attn, mid.res2, up.<l>.res.<i>, up.<l>.attn.<i>, up.<l>.upsample,
 * norm_out, conv_out — benchmarks/peers/torch_unet.py builds the same module tree. */
#define DGM_UNET_MAX_LEVELS 6

typedef struct dgm_unet_config {
    int64_t in_channels, out_channels, height, width;
    int64_t embedding_dim;                   /* E, the width of the embedding input */
    int levels;
    int64_t channels[DGM_UNET_MAX_LEVELS];
    bool attention[DGM_UNET_MAX_LEVELS];
    int blocks;                              /* residual blocks per level (down path) */
    float dropout;
} dgm_unet_config;

/* 28×28×1, E = 32, channels 32/64/64, 2 blocks per level, attention at 14×14 and 7×7,
 * no dropout: the Hugging Face diffusion course's and torchcfm's MNIST size. */
DGM_API dgm_unet_config dgm_unet_config_default(void);

typedef struct dgm_unet dgm_unet;

/* Declares the UNet into p (before dgm_params_alloc). height and width must be divisible
 * by 2^(levels-1); every channel count by its GroupNorm's groups. */
DGM_API dgm_status dgm_unet_create(dgm_params *p, const char *prefix, const dgm_unet_config *config,
                                   dgm_unet **out);
DGM_API void dgm_unet_free(dgm_unet *unet);
/* x [B, in_channels, height, width], e [B, E] -> *out [B, out_channels, height, width].
 * `training` turns dropout on. */
DGM_API dgm_status dgm_unet_forward(dgm_ctx *ctx, const dgm_unet *unet, dgm_tensor *x,
                                    dgm_tensor *e, bool training, dgm_tensor **out);

/* ---- DCGAN: the InfoGAN-style generator and discriminator of Lucic et al.'s GAN study
 * (google/compare_gan architectures/infogan.py), for images whose sides are multiples of 4
 * (28×28: 7×7 at the bottom), B = base_channels ----
 *
 * generator:     fc1 Linear(latent, hidden), bn1 BatchNorm1d, ReLU,
 *                fc2 Linear(hidden, 2B·H/4·W/4), bn2 BatchNorm1d, ReLU, view [2B, H/4, W/4],
 *                deconv1 ConvTranspose2d(2B, B, 4, stride 2, padding 1), bn3 BatchNorm2d, ReLU,
 *                deconv2 ConvTranspose2d(B, channels, 4, 2, 1), then `output` (tanh)
 *                (without batch_norm: no bn*, and the layers before them get biases)
 * discriminator: conv1 Conv2d(channels, B, 4, 2, 1), LeakyReLU(0.2), conv2 Conv2d(B, 2B, 4, 2,
 *                1), LeakyReLU(0.2), flatten, fc1 Linear(2B·H/4·W/4, hidden), LeakyReLU(0.2),
 *                fc2 Linear(hidden, out_features) — no normalization, so gradient penalties
 *                and per-sample scores hold.
 * Parameters "<prefix>.fc1.weight", ... as the names above. */
typedef struct dgm_dcgan_config {
    int64_t channels, height, width;
    int64_t latent;        /* the generator's input width */
    int64_t hidden;        /* the fully connected width (1024) */
    int64_t base_channels; /* B (64) */
    bool batch_norm;       /* the generator's (true) */
    dgm_activation output; /* the generator's output activation (DGM_ACT_TANH; NONE: logits) */
    int64_t out_features;  /* the discriminator's outputs (1) */
    dgm_nn_init init;      /* every layer (DGM_NN_INIT_PYTORCH; NORMAL with init_std: DCGAN's) */
    float init_std;
} dgm_dcgan_config;

/* 28×28×1, latent 64, hidden 1024, B = 64, batch norm, tanh, one output, PyTorch init. */
DGM_API dgm_dcgan_config dgm_dcgan_config_default(void);

typedef struct dgm_dcgan_generator dgm_dcgan_generator;
typedef struct dgm_dcgan_discriminator dgm_dcgan_discriminator;

DGM_API dgm_status dgm_dcgan_generator_create(dgm_params *p, const char *prefix,
                                              const dgm_dcgan_config *config,
                                              dgm_dcgan_generator **out);
DGM_API void dgm_dcgan_generator_free(dgm_dcgan_generator *g);
/* z [B, latent] -> *out [B, channels, height, width]; `training`: batch statistics. */
DGM_API dgm_status dgm_dcgan_generator_forward(dgm_ctx *ctx, const dgm_dcgan_generator *g,
                                               dgm_tensor *z, bool training, dgm_tensor **out);
DGM_API dgm_status dgm_dcgan_discriminator_create(dgm_params *p, const char *prefix,
                                                  const dgm_dcgan_config *config,
                                                  dgm_dcgan_discriminator **out);
DGM_API void dgm_dcgan_discriminator_free(dgm_dcgan_discriminator *d);
/* x [B, channels·height·width] (any shape of that size) -> *out [B, out_features]. */
DGM_API dgm_status dgm_dcgan_discriminator_forward(dgm_ctx *ctx, const dgm_dcgan_discriminator *d,
                                                   dgm_tensor *x, dgm_tensor **out);

/* ---- sinusoidal time embedding (DDPM, flow matching) ----
 *
 * For dim = 2·half (+1 when odd), times t_b, and frequencies
 *     f_i = exp(−ln(10000) · i / (half − 1)),  i = 0 .. half−1   (f_0 = 1 when half = 1),
 * row b of the embedding is
 *     [sin(t_b·f_0) .. sin(t_b·f_{half−1}), cos(t_b·f_0) .. cos(t_b·f_{half−1}) (, 0)].
 * This is get_timestep_embedding of the DDPM reference implementation (Ho et al. 2020,
 * github.com/hojonathanho/diffusion, diffusion_tf/nn.py, from fairseq/tensor2tensor):
 * sines first, the zero column last for odd dim. (guided-diffusion divides by half instead
 * and puts the cosines first.) Times are used as given: a DDPM step index 0 .. T−1, or a
 * flow-matching t in [0, 1] (which then varies slowly in the low frequencies; scale it
 * first with dgm_scale if wanted).
 *
 * The frequencies are computed once, in double, by dgm_time_embedding_create and kept on
 * the device, so a forward call copies nothing from the host. No parameters; no gradient
 * flows back to t (nothing is recorded on the tape). */
typedef struct dgm_time_embedding dgm_time_embedding;

/* A time embedding of `dim` >= 2 columns on ctx's device; free with
 * dgm_time_embedding_free (before the context). */
DGM_API dgm_status dgm_time_embedding_create(dgm_ctx *ctx, int dim, dgm_time_embedding **out);
/* Gaussian random Fourier features (Tancik et al. 2020; the score SDE's embedding, Song et
 * al. 2021): the same [sin(t·f), cos(t·f)] with f_i = 2π·w_i, w_i ~ N(0, scale²) fixed,
 * drawn from `seed` on the host (the same seed gives the same frequencies on every
 * machine, so a checkpoint needs only the seed). dim even, 2 to 2^24. */
DGM_API dgm_status dgm_time_embedding_create_fourier(dgm_ctx *ctx, int dim, double scale, uint64_t seed,
                                                     dgm_time_embedding **out);
/* NULL is a no-op. */
DGM_API void dgm_time_embedding_free(dgm_time_embedding *emb);
DGM_API int dgm_time_embedding_dim(const dgm_time_embedding *emb);

/* t [B] or [B, 1] -> *out [B, dim] (a step tensor). */
DGM_API dgm_status dgm_time_embedding_forward(dgm_ctx *ctx, const dgm_time_embedding *emb,
                                              dgm_tensor *t, dgm_tensor **out);

/* ---- ConcatSquash layers (Grathwohl et al. 2019, FFJORD's dynamics) ----
 * A stack of ConcatSquashLinear layers with widths [w_0, ..., w_L] and an activation
 * between them (none after the last): each layer is
 *     y = (x·Wᵀ + b) ⊙ sigmoid(t·w_gᵀ + b_g) + t·w_bᵀ,
 * its output gated and shifted by functions of the time t. Parameters follow FFJORD's
 * ODEnet: "<prefix>.layers.<i>._layer.weight/bias" [w_{i+1}, w_i], "._hyper_gate.weight"
 * [w_{i+1}, 1] and ".bias", "._hyper_bias.weight" [w_{i+1}, 1] (no bias), PyTorch's init. */
typedef struct dgm_concatsquash dgm_concatsquash;

DGM_API dgm_status dgm_concatsquash_create(dgm_params *p, const char *prefix, int n_widths,
                                           const int64_t *widths, dgm_activation activation,
                                           dgm_concatsquash **out);
DGM_API void dgm_concatsquash_free(dgm_concatsquash *cs);
/* x [B, w_0], t [B, 1] (each row's time; gradients flow to t too) -> *out [B, w_L]. */
DGM_API dgm_status dgm_concatsquash_forward(dgm_ctx *ctx, const dgm_concatsquash *cs,
                                            dgm_tensor *x, dgm_tensor *t, dgm_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
