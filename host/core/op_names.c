/* Names of the ops, kept in step with enum dgm_op by a static assert. */
#include "core/internal.h"

static const char *const op_names[] = {
    "matmul", "add",     "sub",        "mul",       "div",      "scale",   "relu",
    "leaky_relu", "elu", "selu",       "gelu",      "silu",     "tanh",    "sigmoid",
    "softplus", "exp",   "log",        "sqrt",      "square",   "sum",     "mean",
    "logsumexp", "concat", "slice",    "reshape",   "maxout",   "batchnorm", "dropout",
    "bce_with_logits", "mse", "kl_normal", "gaussian_log_density", "rand_normal",
    "rand_uniform", "bernoulli", "broadcast", "activation_grad", "activation_grad2",
    "conv2d", "conv_transpose2d", "conv2d_weight_grad", "upsample_nearest", "avg_pool",
    "upsample_bilinear", "upsample_bilinear_grad", "bmm", "transpose", "group_norm",
};
_Static_assert(sizeof op_names / sizeof op_names[0] == DGM_OP_COUNT, "one name per op");

const char *dgm_op_name(dgm_op op)
{
    if ((unsigned)op >= DGM_OP_COUNT) return NULL;
    return op_names[op];
}
