/* dgm flow layers: invertible maps with a tractable log-determinant, the pieces of a
 * normalizing flow (RealNVP; Glow's ActNorm and invertible linear layer; later MAF).
 * Each layer maps x -> y in the normalizing direction (data towards the base density)
 * with `forward`, returning per-row log|det ∂y/∂x| as [B, 1], and y -> x with `inverse`
 * (sampling; no log-determinant).
 * Layers hold positions of views in a dgm_params block, as dgm_linear does.
 *
 * For every layer below: `create` declares its parameters in the block p (before
 * dgm_params_alloc; a layer without parameters takes the context instead) and sets *out,
 * INVALID_ARGUMENT for NULL pointers or a bad size; `free` releases the layer (NULL is a
 * no-op; free layers before their block and context). `forward` takes x [B, D] and gives
 * step tensors y [B, D] and logdet [B, 1]; `inverse` takes y [B, D] and gives x [B, D].
 * Errors: INVALID_ARGUMENT for a NULL layer, STATE_ERROR when the block is not allocated,
 * WRONG_DEVICE for another context's layer, SHAPE_MISMATCH when x is not [B, D]. Like
 * every call on a context, not from two threads at once. */
#ifndef DGM_FLOW_H
#define DGM_FLOW_H

#include "dgm/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- affine coupling (Dinh et al. 2017, RealNVP) ----
 * x [B, D] splits into columns a = x[:, :d] and b = x[:, d:] with d = D/2 (rounded down);
 * with `flip` the roles swap (b conditions a). The conditioning part passes unchanged, the
 * other is y = x·exp(s) + t with s = scale·tanh(h_s), [h_s, t] = MLP(conditioning part):
 * the log-scale is bounded by the learned per-column `scale` (starts at 1). The MLP's last
 * Linear starts at zero, so a fresh coupling is the identity. log|det| = Σ s per row.
 * Parameters: "<prefix>.net.*" (an nn.Sequential MLP, widths [cond, hidden..., 2·other])
 * and "<prefix>.scale" [other]. */
typedef struct dgm_coupling dgm_coupling;

DGM_API dgm_status dgm_coupling_create(dgm_params *p, const char *prefix, int64_t dim, bool flip,
                                       int n_hidden, const int64_t *hidden,
                                       dgm_activation activation, dgm_coupling **out);
DGM_API void dgm_coupling_free(dgm_coupling *c);
DGM_API dgm_status dgm_coupling_forward(dgm_ctx *ctx, const dgm_coupling *c, dgm_tensor *x,
                                        dgm_tensor **y, dgm_tensor **logdet);
DGM_API dgm_status dgm_coupling_inverse(dgm_ctx *ctx, const dgm_coupling *c, dgm_tensor *y,
                                        dgm_tensor **x);

/* ---- masked affine coupling with a convolutional conditioner (RealNVP on images) ----
 * x [B, D], the columns a [C, H, W] image (D = C·H·W). A fixed mask m picks the
 * conditioning pixels: DGM_COUPLING_CHECKERBOARD, pixels with i + j even (odd with flip);
 * DGM_COUPLING_CHANNEL, the first C/2 channels (the others with flip). A ResNet of x·m —
 * a 3×3 convolution to `features` channels, `blocks` residual blocks (ReLU, 3×3, ReLU,
 * 3×3, added), ReLU and a 3×3 convolution to 2C channels, zero-initialized so that a fresh
 * coupling is the identity — gives [h_s, t]; s = scale·tanh(h_s)·(1 − m), t·(1 − m), and
 * y = x·exp(s) + t: the conditioning pixels pass unchanged. log|det| = Σ s per row.
 * Parameters "<prefix>.in", "<prefix>.res.<b>.conv1/conv2", "<prefix>.out" (Conv2d weight
 * and bias) and "<prefix>.scale" [D] (starts at 1). */
typedef enum dgm_coupling_mask { DGM_COUPLING_CHECKERBOARD = 0, DGM_COUPLING_CHANNEL = 1 } dgm_coupling_mask;
typedef struct dgm_conv_coupling dgm_conv_coupling;

DGM_API dgm_status dgm_conv_coupling_create(dgm_params *p, const char *prefix, int64_t channels,
                                            int64_t height, int64_t width, dgm_coupling_mask mask,
                                            bool flip, int64_t features, int blocks,
                                            dgm_conv_coupling **out);
DGM_API void dgm_conv_coupling_free(dgm_conv_coupling *l);
DGM_API dgm_status dgm_conv_coupling_forward(dgm_ctx *ctx, const dgm_conv_coupling *l,
                                             dgm_tensor *x, dgm_tensor **y, dgm_tensor **logdet);
DGM_API dgm_status dgm_conv_coupling_inverse(dgm_ctx *ctx, const dgm_conv_coupling *l,
                                             dgm_tensor *y, dgm_tensor **x);

/* ---- ActNorm (Kingma & Dhariwal 2018, Glow) ----
 * y = (x + bias)·exp(logs) per column; log|det| = Σ logs (the same for every row).
 * Parameters "<prefix>.bias" and "<prefix>.logs" [D], zeros (the identity) until
 * dgm_actnorm_init_data sets them from a batch: bias = −mean, logs = −log(std + 1e-6),
 * so the batch comes out with zero mean and unit variance per column. */
typedef struct dgm_actnorm dgm_actnorm;

DGM_API dgm_status dgm_actnorm_create(dgm_params *p, const char *prefix, int64_t dim,
                                      dgm_actnorm **out);
DGM_API void dgm_actnorm_free(dgm_actnorm *a);
DGM_API dgm_status dgm_actnorm_init_data(dgm_ctx *ctx, const dgm_actnorm *a, dgm_tensor *x);
DGM_API dgm_status dgm_actnorm_forward(dgm_ctx *ctx, const dgm_actnorm *a, dgm_tensor *x,
                                       dgm_tensor **y, dgm_tensor **logdet);
DGM_API dgm_status dgm_actnorm_inverse(dgm_ctx *ctx, const dgm_actnorm *a, dgm_tensor *y,
                                       dgm_tensor **x);

/* ---- fixed permutation of the columns ----
 * y[:, i] = x[:, order[i]] with `order` a shuffle of 0..D-1 drawn from `seed` (Fisher-Yates
 * driven by splitmix64: the same on every machine), so couplings after it condition on
 * other columns (RealNVP's and MAF's permutations for data wider than 2). log|det| = 0
 * and no parameters, so no logdet output. Applied as a product with the permutation
 * matrix (a persistent [D, D] constant on ctx's device): runs on either backend and is
 * differentiable to any order, at a D×D GEMM per call. */
typedef struct dgm_permutation dgm_permutation;

DGM_API dgm_status dgm_permutation_create(dgm_ctx *ctx, int64_t dim, uint64_t seed,
                                          dgm_permutation **out);
/* RealNVP's squeeze of [C, H, W] images stored as D = C·H·W columns into [4C, H/2, W/2]:
 * each 2×2 patch becomes 4 channels, column (c·4 + 2·di + dj, i, j) ← (c, 2i + di, 2j + dj)
 * (PyTorch's pixel_unshuffle). H and W even. */
DGM_API dgm_status dgm_permutation_create_squeeze(dgm_ctx *ctx, int64_t channels, int64_t height,
                                                  int64_t width, dgm_permutation **out);
/* The reversal of the columns, y[:, i] = x[:, D-1-i] (MAF's permutation between blocks). */
DGM_API dgm_status dgm_permutation_create_reverse(dgm_ctx *ctx, int64_t dim, dgm_permutation **out);
DGM_API void dgm_permutation_free(dgm_permutation *p);
DGM_API dgm_status dgm_permutation_forward(dgm_ctx *ctx, const dgm_permutation *p,
                                           dgm_tensor *x, dgm_tensor **y);
DGM_API dgm_status dgm_permutation_inverse(dgm_ctx *ctx, const dgm_permutation *p,
                                           dgm_tensor *y, dgm_tensor **x);

/* ---- invertible linear layer, LU-parametrized (Glow) ----
 * y = x·Wᵀ with W = P·L·U: P a fixed permutation (a shuffle drawn from perm_seed; not a
 * parameter), L unit lower triangular ("<prefix>.lower", its strictly lower part used), U
 * upper triangular with diagonal exp(log_s) ("<prefix>.upper", strictly upper part used;
 * "<prefix>.log_s" [D]). All start at zero, so W starts as the permutation P. log|det| =
 * Σ log_s. The inverse solves with W⁻¹, computed on the host in double. */
typedef struct dgm_invlinear dgm_invlinear;

DGM_API dgm_status dgm_invlinear_create(dgm_params *p, const char *prefix, int64_t dim,
                                        uint64_t perm_seed, dgm_invlinear **out);
DGM_API void dgm_invlinear_free(dgm_invlinear *l);
DGM_API dgm_status dgm_invlinear_forward(dgm_ctx *ctx, const dgm_invlinear *l, dgm_tensor *x,
                                         dgm_tensor **y, dgm_tensor **logdet);
DGM_API dgm_status dgm_invlinear_inverse(dgm_ctx *ctx, const dgm_invlinear *l, dgm_tensor *y,
                                         dgm_tensor **x);

/* ---- MADE and MAF's autoregressive affine layer (Germain et al. 2015, MADE;
 * Papamakarios et al. 2017, MAF) ----
 * An MLP of masked Linear layers, widths [D, hidden..., 2D], whose output columns j and
 * D + j (the mean μ_j and raw log-scale of column j) depend only on the inputs that come
 * before column j in the autoregressive order. MADE's degrees: input column i has degree
 * order[i] (0 .. D-1: the natural order, or a shuffle drawn from order_seed), hidden unit
 * k of every hidden layer degree k mod (D − 1), and output j degree order[j] − 1; a weight
 * is kept where the receiving unit's degree is >= the sending one's (the outputs: where it
 * is >= it, as the output degrees are already lowered by one). The masks are constants on
 * ctx's device, made by the layer's first forward call (so the first call on a layer is
 * not to be made from two threads at once), applied to the weights in the forward pass,
 * so the backward pass leaves the masked weights' gradients zero.
 * As a flow layer (the normalizing direction): u = (x − μ)·exp(−α), log|det| = −Σα, with
 * α = B·tanh(a/B) the raw log-scale a softly bounded by B = log_scale_bound (0: α = a).
 * The inverse runs D passes: after pass k every column of order <= k is exact.
 * Parameters "<prefix>.net.<2i>.weight/bias" (an nn.Sequential of Linear and activation;
 * the weights stored unmasked). */
typedef struct dgm_made dgm_made;

typedef struct dgm_made_config {
    int n_hidden;             /* hidden layers, 1 to 8 */
    const int64_t *hidden;    /* their widths */
    dgm_activation activation;
    uint64_t order_seed;      /* 0: natural order; else a shuffle of the columns' order */
    float log_scale_bound;    /* B above; 0: unbounded */
    dgm_nn_init init;         /* the Linear layers' init (pytorch-flows: orthogonal) */
} dgm_made_config;

DGM_API dgm_status dgm_made_create(dgm_params *p, const char *prefix, int64_t dim,
                                   const dgm_made_config *config, dgm_made **out);
DGM_API void dgm_made_free(dgm_made *m);
/* The position of input column i in the autoregressive order (0 .. D-1), -1 out of range. */
DGM_API int64_t dgm_made_order(const dgm_made *m, int64_t i);
/* The conditionals' parameters of x [B, D]: μ [B, D] and the bounded log-scale α [B, D]. */
DGM_API dgm_status dgm_made_params(dgm_ctx *ctx, const dgm_made *m, dgm_tensor *x,
                                   dgm_tensor **mu, dgm_tensor **log_scale);
DGM_API dgm_status dgm_made_forward(dgm_ctx *ctx, const dgm_made *m, dgm_tensor *x,
                                    dgm_tensor **u, dgm_tensor **logdet);
DGM_API dgm_status dgm_made_inverse(dgm_ctx *ctx, const dgm_made *m, dgm_tensor *u,
                                    dgm_tensor **x);

/* ---- batch normalization as a flow layer (Dinh et al. 2017; MAF) ----
 * y = exp(log_gamma)·(x − mean)/sqrt(var + eps) + beta per column, log|det| =
 * Σ (log_gamma − ½·log(var + eps)). In training the batch's mean and biased variance
 * (gradients flow through them), and the running ones move towards them by `momentum`
 * (PyTorch's convention: new = (1 − momentum)·old + momentum·batch); otherwise, and in the
 * inverse, the running ones. Parameters "<prefix>.log_gamma", "<prefix>.beta" [D] (zeros)
 * and buffers "<prefix>.running_mean" (zeros), "<prefix>.running_var" (ones). */
typedef struct dgm_flow_batchnorm dgm_flow_batchnorm;

DGM_API dgm_status dgm_flow_batchnorm_create(dgm_params *p, const char *prefix, int64_t dim,
                                             float momentum, float eps,
                                             dgm_flow_batchnorm **out);
DGM_API void dgm_flow_batchnorm_free(dgm_flow_batchnorm *b);
/* training needs B >= 2. */
DGM_API dgm_status dgm_flow_batchnorm_forward(dgm_ctx *ctx, const dgm_flow_batchnorm *b,
                                              dgm_tensor *x, bool training, dgm_tensor **y,
                                              dgm_tensor **logdet);
/* Sets the running statistics to those of x [N, D] (N >= 2): pytorch-flows' pass over the
 * training set before evaluating. Records nothing. */
DGM_API dgm_status dgm_flow_batchnorm_set_statistics(dgm_ctx *ctx, const dgm_flow_batchnorm *b,
                                                     dgm_tensor *x);
DGM_API dgm_status dgm_flow_batchnorm_inverse(dgm_ctx *ctx, const dgm_flow_batchnorm *b,
                                              dgm_tensor *y, dgm_tensor **x);

#ifdef __cplusplus
}
#endif

#endif
