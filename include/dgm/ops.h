/* dgm ops: the differentiable operations. Each takes step or persistent tensors of the
 * context and returns a new step tensor in *out; when grad mode is on and an input
 * requires a gradient, the op records its backward on the tape.
 *
 * Matrices: a tensor of 1 to 4 dims is seen as [rows, cols] with cols its last dimension
 * and rows the product of the others (a 1-D tensor of n is [1, n]).
 *
 * Broadcasting (add, sub, mul, div and the losses): each operand either has the output's
 * shape, or is a row vector ([C] or [1, C], repeated down the rows), a column vector
 * ([R, 1], repeated across the columns) or a scalar (one element).
 */
#ifndef DGM_OPS_H
#define DGM_OPS_H

#include "dgm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every op, for names, tests and statistics. Ends with DGM_OP_COUNT. */
typedef enum dgm_op {
    DGM_OP_MATMUL = 0,
    DGM_OP_ADD,
    DGM_OP_SUB,
    DGM_OP_MUL,
    DGM_OP_DIV,
    DGM_OP_SCALE,
    DGM_OP_RELU,
    DGM_OP_LEAKY_RELU,
    DGM_OP_ELU,
    DGM_OP_SELU,
    DGM_OP_GELU,
    DGM_OP_SILU,
    DGM_OP_TANH,
    DGM_OP_SIGMOID,
    DGM_OP_SOFTPLUS,
    DGM_OP_EXP,
    DGM_OP_LOG,
    DGM_OP_SQRT,
    DGM_OP_SQUARE,
    DGM_OP_SUM,
    DGM_OP_MEAN,
    DGM_OP_LOGSUMEXP,
    DGM_OP_CONCAT,
    DGM_OP_SLICE,
    DGM_OP_RESHAPE,
    DGM_OP_MAXOUT,
    DGM_OP_BATCHNORM,
    DGM_OP_DROPOUT,
    DGM_OP_BCE_WITH_LOGITS,
    DGM_OP_MSE,
    DGM_OP_KL_NORMAL,
    DGM_OP_GAUSSIAN_LOG_DENSITY,
    DGM_OP_RAND_NORMAL,
    DGM_OP_RAND_UNIFORM,
    DGM_OP_BERNOULLI,
    DGM_OP_BROADCAST,
    DGM_OP_ACTIVATION_GRAD,  /* f'(x)·g: the backward of an activation, as an op */
    DGM_OP_ACTIVATION_GRAD2, /* f''(x)·g·dy: its backward (not differentiable again) */
    DGM_OP_CONV2D,
    DGM_OP_CONV_TRANSPOSE2D,
    DGM_OP_CONV2D_WEIGHT_GRAD, /* a convolution's weight gradient, as an op (second order) */
    DGM_OP_UPSAMPLE_NEAREST,
    DGM_OP_AVG_POOL,
    DGM_OP_UPSAMPLE_BILINEAR,
    DGM_OP_UPSAMPLE_BILINEAR_GRAD, /* its adjoint, as an op (second order) */
    DGM_OP_BMM,
    DGM_OP_TRANSPOSE,
    DGM_OP_GROUP_NORM,
    DGM_OP_COUNT
} dgm_op;

/* "matmul", "add", ...; NULL for a value out of range. */
DGM_API const char *dgm_op_name(dgm_op op);

/* Activations, standalone or fused into dgm_matmul. `alpha` is the slope of LEAKY_RELU
 * (PyTorch default 0.01) and the alpha of ELU (default 1); others ignore it. GELU is the
 * exact (erf) form, SELU uses PyTorch's constants, SOFTPLUS has beta 1. */
typedef enum dgm_activation {
    DGM_ACT_NONE = 0,
    DGM_ACT_RELU,
    DGM_ACT_LEAKY_RELU,
    DGM_ACT_ELU,
    DGM_ACT_SELU,
    DGM_ACT_GELU,
    DGM_ACT_SILU,
    DGM_ACT_TANH,
    DGM_ACT_SIGMOID,
    DGM_ACT_SOFTPLUS,
    DGM_ACT_COUNT
} dgm_activation;

typedef enum dgm_axis {
    DGM_AXIS_ALL = 0, /* one value, shape [1] */
    DGM_AXIS_ROWS,    /* one value per row, shape [R, 1] */
    DGM_AXIS_COLS     /* one value per column, shape [1, C] */
} dgm_axis;

typedef enum dgm_reduction {
    DGM_REDUCTION_NONE = 0, /* elementwise, the broadcast shape */
    DGM_REDUCTION_PER_ROW,  /* summed over each row: [R, 1] (per-sample losses) */
    DGM_REDUCTION_SUM,      /* summed over everything: [1] */
    DGM_REDUCTION_MEAN      /* mean over everything: [1] */
} dgm_reduction;

/* out = act(op(a) · op(b) + bias), op(m) = m or m^T. op(a) is [M, K], op(b) is [K, N],
 * bias is [N] (or NULL). A Linear layer is dgm_matmul(x, false, weight, true, bias). */
DGM_API dgm_status dgm_matmul(dgm_ctx *ctx, dgm_tensor *a, bool transpose_a, dgm_tensor *b,
                              bool transpose_b, dgm_tensor *bias, dgm_activation act,
                              float alpha, dgm_tensor **out);

/* Elementwise arithmetic with broadcasting (see above). */
DGM_API dgm_status dgm_add(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out);
DGM_API dgm_status dgm_sub(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out);
DGM_API dgm_status dgm_mul(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out);
DGM_API dgm_status dgm_div(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out);

/* out = scale * x + shift. */
DGM_API dgm_status dgm_scale(dgm_ctx *ctx, dgm_tensor *x, float scale, float shift,
                             dgm_tensor **out);

/* out = act(x). */
DGM_API dgm_status dgm_activate(dgm_ctx *ctx, dgm_tensor *x, dgm_activation act, float alpha,
                                dgm_tensor **out);
DGM_API dgm_status dgm_relu(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
DGM_API dgm_status dgm_leaky_relu(dgm_ctx *ctx, dgm_tensor *x, float slope, dgm_tensor **out);
DGM_API dgm_status dgm_elu(dgm_ctx *ctx, dgm_tensor *x, float alpha, dgm_tensor **out);
DGM_API dgm_status dgm_selu(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
DGM_API dgm_status dgm_gelu(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
DGM_API dgm_status dgm_silu(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
DGM_API dgm_status dgm_tanh(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
DGM_API dgm_status dgm_sigmoid(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
DGM_API dgm_status dgm_softplus(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);

/* Elementwise math. log and sqrt of values <= 0 give -inf/NaN as in C. */
DGM_API dgm_status dgm_exp(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
DGM_API dgm_status dgm_log(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
DGM_API dgm_status dgm_sqrt(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
DGM_API dgm_status dgm_square(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);

/* Sums and means over everything, each row or each column (see dgm_axis). */
DGM_API dgm_status dgm_sum(dgm_ctx *ctx, dgm_tensor *x, dgm_axis axis, dgm_tensor **out);
DGM_API dgm_status dgm_mean(dgm_ctx *ctx, dgm_tensor *x, dgm_axis axis, dgm_tensor **out);

/* log(sum(exp(x))) of each row, computed stably: [R, 1]. */
DGM_API dgm_status dgm_logsumexp_rows(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);

/* x repeated to `shape` (ndim dims, seen as [rows, cols]): x is a row ([cols] or
 * [1, cols]), a column ([rows, 1]), a scalar, or already of the target's size. */
DGM_API dgm_status dgm_broadcast_to(dgm_ctx *ctx, dgm_tensor *x, int ndim, const int64_t *shape,
                                    dgm_tensor **out);

/* [R, Ca] and [R, Cb] side by side: [R, Ca + Cb]. */
DGM_API dgm_status dgm_concat_cols(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b,
                                   dgm_tensor **out);
/* Columns [start, start + count) of x: [R, count]. */
DGM_API dgm_status dgm_slice_cols(dgm_ctx *ctx, dgm_tensor *x, int64_t start, int64_t count,
                                  dgm_tensor **out);

/* Maxout (Goodfellow et al. 2013): [R, C·k] -> [R, C], the max over each group of k
 * consecutive columns. The gradient goes to the first maximum of each group. */
DGM_API dgm_status dgm_maxout(dgm_ctx *ctx, dgm_tensor *x, int k, dgm_tensor **out);

/* Batch normalization over the rows of x [R, C] (PyTorch BatchNorm1d). training: batch
 * statistics (biased variance to normalize), running_mean/var updated in place with
 * `momentum` (unbiased variance); eval: running statistics. weight and bias [C] may be
 * NULL (no affine); running_mean/var [C] may be NULL only when training. */
DGM_API dgm_status dgm_batchnorm(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *weight,
                                 dgm_tensor *bias, dgm_tensor *running_mean,
                                 dgm_tensor *running_var, bool training, float momentum,
                                 float eps, dgm_tensor **out);

/* ---- images: NCHW tensors [N, C, H, W] ---- */

/* The arguments of PyTorch's Conv2d / ConvTranspose2d, as {height, width} pairs. A field
 * left 0 takes PyTorch's default (stride 1, dilation 1, groups 1; padding and output
 * padding 0); NULL options are all defaults. */
typedef struct dgm_conv2d_options {
    int stride[2];
    int padding[2];
    int dilation[2];
    int output_padding[2]; /* conv_transpose2d only: added to one side of the output */
    int groups;
} dgm_conv2d_options;

/* 2-D cross-correlation (PyTorch's conv2d): x [N, C, H, W], weight [O, C/groups, KH, KW],
 * bias [O] or NULL -> [N, O, OH, OW], OH = (H + 2·pad - dil·(KH-1) - 1)/stride + 1.
 * Differentiable twice and more in x, weight and bias. */
DGM_API dgm_status dgm_conv2d(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *weight, dgm_tensor *bias,
                              const dgm_conv2d_options *options, dgm_tensor **out);
/* The transposed convolution (PyTorch's conv_transpose2d): x [N, C, H, W], weight
 * [C, O/groups, KH, KW], bias [O] or NULL -> [N, O, OH, OW],
 * OH = (H-1)·stride - 2·pad + dil·(KH-1) + output_padding + 1. */
DGM_API dgm_status dgm_conv_transpose2d(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *weight,
                                        dgm_tensor *bias, const dgm_conv2d_options *options,
                                        dgm_tensor **out);
/* Nearest-neighbour upsampling by an integer factor: [N, C, H·f, W·f]. */
DGM_API dgm_status dgm_upsample_nearest2d(dgm_ctx *ctx, dgm_tensor *x, int factor,
                                          dgm_tensor **out);
/* ×2 bilinear upsampling, PyTorch's align_corners=False: [N, C, 2H, 2W]. */
DGM_API dgm_status dgm_upsample_bilinear2x(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
/* Average pooling over kernel×kernel blocks with stride kernel (PyTorch's AvgPool2d(k)):
 * H and W must be multiples of the kernel. */
DGM_API dgm_status dgm_avg_pool2d(dgm_ctx *ctx, dgm_tensor *x, int kernel, dgm_tensor **out);
/* Group normalization (PyTorch's group_norm) of x [N, C, ...] in `groups` groups of
 * channels, biased variance, then weight/bias [C] per channel (either may be NULL). */
DGM_API dgm_status dgm_group_norm(dgm_ctx *ctx, dgm_tensor *x, int groups, dgm_tensor *weight,
                                  dgm_tensor *bias, float eps, dgm_tensor **out);
/* Batch normalization of images over N·H·W per channel (PyTorch's BatchNorm2d); the
 * arguments as dgm_batchnorm's. */
DGM_API dgm_status dgm_batchnorm2d(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *weight,
                                   dgm_tensor *bias, dgm_tensor *running_mean,
                                   dgm_tensor *running_var, bool training, float momentum,
                                   float eps, dgm_tensor **out);

/* ---- batched matrices: the last two dims, over the product of the others ---- */

/* out[i] = op(a[i])·op(b[i]): [B, M, K]·[B, K, N] -> [B, M, N]. */
DGM_API dgm_status dgm_bmm(dgm_ctx *ctx, dgm_tensor *a, bool transpose_a, dgm_tensor *b,
                           bool transpose_b, dgm_tensor **out);
/* Each matrix transposed: [B, R, C] -> [B, C, R] (a 2-D tensor is one matrix). */
DGM_API dgm_status dgm_transpose(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
/* Class indices [B, 1] (floats holding integers, as dgm_loader_next_labeled serves them) as
 * one-hot rows [B, classes]; an index outside 0..classes-1 (-1: no class) gives a row of
 * zeros, the unconditional input of classifier-free guidance. */
DGM_API dgm_status dgm_one_hot(dgm_ctx *ctx, dgm_tensor *labels, int64_t classes, dgm_tensor **out);
/* exp(x - logsumexp) of each row, x's shape. */
DGM_API dgm_status dgm_softmax_rows(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);

/* Inverted dropout: when training, zeroes each element with probability p (drawn from the
 * context's generator) and scales the rest by 1/(1-p); otherwise returns x itself. */
DGM_API dgm_status dgm_dropout(dgm_ctx *ctx, dgm_tensor *x, float p, bool training,
                               dgm_tensor **out);

/* Losses. Each elementwise term is reduced as `reduction` says. */
/* max(x, 0) - x·t + log(1 + exp(-|x|)) of logits x and targets t in [0, 1]. */
DGM_API dgm_status dgm_bce_with_logits(dgm_ctx *ctx, dgm_tensor *logits, dgm_tensor *target,
                                       dgm_reduction reduction, dgm_tensor **out);
/* (a - b)^2. */
DGM_API dgm_status dgm_mse(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b,
                           dgm_reduction reduction, dgm_tensor **out);
/* KL(N(mu, exp(logvar)) || N(0, 1)) per element: 0.5·(exp(logvar) + mu^2 - 1 - logvar). */
DGM_API dgm_status dgm_kl_normal(dgm_ctx *ctx, dgm_tensor *mu, dgm_tensor *logvar,
                                 dgm_reduction reduction, dgm_tensor **out);
/* log N(x; mu, exp(logvar)) per element: -0.5·(log 2π + logvar + (x-mu)^2 / exp(logvar)). */
DGM_API dgm_status dgm_gaussian_log_density(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *mu,
                                            dgm_tensor *logvar, dgm_reduction reduction,
                                            dgm_tensor **out);

/* Random draws from the context's Philox4_32_10 generator (cuRAND on both backends: the
 * same seed gives the same numbers on CPU and CUDA). Not differentiable. */
DGM_API dgm_status dgm_rand_normal(dgm_ctx *ctx, int ndim, const int64_t *shape, float mean,
                                   float std, dgm_tensor **out);
DGM_API dgm_status dgm_rand_uniform(dgm_ctx *ctx, int ndim, const int64_t *shape, float low,
                                    float high, dgm_tensor **out);
/* 1 with probability probs[i], else 0. */
DGM_API dgm_status dgm_bernoulli(dgm_ctx *ctx, dgm_tensor *probs, dgm_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
