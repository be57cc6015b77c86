/* Names of the ops, kept in step with enum dgm_op by a static assert. */
#include "ops/ops_common.h"

#include <stdio.h>

static const char *const op_names[] = {
    "matmul", "add",     "sub",        "mul",       "div",      "scale",   "relu",
    "leaky_relu", "elu", "selu",       "gelu",      "silu",     "tanh",    "sigmoid",
    "softplus", "exp",   "log",        "sqrt",      "square",   "sum",     "mean",
    "logsumexp", "concat", "slice",    "reshape",   "maxout",   "batchnorm", "dropout",
    "bce_with_logits", "mse", "kl_normal", "gaussian_log_density", "rand_normal",
    "rand_uniform", "bernoulli",
};
_Static_assert(sizeof op_names / sizeof op_names[0] == DGM_OP_COUNT, "one name per op");

const char *dgm_op_name(dgm_op op)
{
    if ((unsigned)op >= DGM_OP_COUNT) return NULL;
    return op_names[op];
}

dgm_status dgm_op_begin(dgm_ctx *ctx, const char *op, dgm_tensor **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    ctx->op = op;
    return DGM_STATUS_OK;
}
