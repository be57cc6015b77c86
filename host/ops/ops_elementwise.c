/* Elementwise ops: unary math and activations, and binary arithmetic with broadcasting.
 * Backward: d/dx = f'(x)·dy, and for a broadcast operand the full-size gradient summed
 * back over the broadcast axis. Gradients accumulate into the inputs' grads. */
#include "ops/ops_common.h"

_Static_assert((int)DGM_UNARY_SOFTPLUS == (int)DGM_ACT_SOFTPLUS &&
                   (int)DGM_UNARY_COUNT > (int)DGM_ACT_COUNT &&
                   (int)DGM_UNARY_RELU == (int)DGM_ACT_RELU,
               "unary kinds start with the activations, in order");

/* ---- unary ---- */

static dgm_status unary_backward(dgm_ctx *ctx, dgm_node *n)
{
    float *g = NULL, beta = 0;
    DGM_TRY(dgm_grad_target(ctx, n->in[0], &g, &beta));
    if (!g) return DGM_STATUS_OK;
    return ctx->be->unary_backward(ctx, (int)n->i[0], n->f[0], n->f[1], (size_t)n->out->numel,
                                   n->in[0]->data, n->out->data, n->out->grad, beta, g);
}

/* Recorded: dx = f'(x)·dy as an activation_grad op (a scale for affine kinds). */
static dgm_status unary_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *x = n->in[0], *g = NULL;
    if (!dgm_autograd_wants(ctx, x)) return DGM_STATUS_OK;
    const int kind = (int)n->i[0];
    if (kind == DGM_UNARY_AFFINE)
        DGM_TRY(dgm_scale(ctx, gy, n->f[0], 0.0f, &g));
    else
        DGM_TRY(dgm_unary_grad_op(ctx, kind, n->f[0], n->f[1], x, n->out->data, gy, &g));
    return dgm_autograd_accumulate(ctx, x, g);
}

dgm_status dgm_unary_op(dgm_ctx *ctx, dgm_op op, int kind, float pa, float pb, dgm_tensor *x,
                        dgm_tensor **out)
{
    const char *name = dgm_op_name(op);
    DGM_TRY(dgm_op_begin(ctx, name, out));
    DGM_TRY(dgm_check_tensor(ctx, x, name, "x"));
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, x->ndim, x->shape, &y));
    DGM_TRY(ctx->be->unary(ctx, kind, pa, pb, (size_t)x->numel, x->data, y->data));
    if (dgm_tape_needed(ctx, &x, 1)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, op, unary_backward, unary_graph_backward, y, &x, 1, &n));
        n->i[0] = kind;
        n->f[0] = pa;
        n->f[1] = pb;
    }
    *out = y;
    return DGM_STATUS_OK;
}

static const dgm_op act_ops[DGM_ACT_COUNT] = {
    DGM_OP_SCALE, DGM_OP_RELU, DGM_OP_LEAKY_RELU, DGM_OP_ELU,     DGM_OP_SELU,
    DGM_OP_GELU,  DGM_OP_SILU, DGM_OP_TANH,       DGM_OP_SIGMOID, DGM_OP_SOFTPLUS,
};

dgm_status dgm_activate(dgm_ctx *ctx, dgm_tensor *x, dgm_activation act, float alpha,
                        dgm_tensor **out)
{
    if ((unsigned)act >= DGM_ACT_COUNT) {
        DGM_TRY(dgm_op_begin(ctx, "dgm_activate", out));
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_activate: unknown activation %d", (int)act);
    }
    if (act == DGM_ACT_NONE) return dgm_unary_op(ctx, DGM_OP_SCALE, DGM_UNARY_AFFINE, 1.0f, 0.0f, x, out);
    return dgm_unary_op(ctx, act_ops[act], (int)act, alpha, 0.0f, x, out);
}

dgm_status dgm_scale(dgm_ctx *ctx, dgm_tensor *x, float scale, float shift, dgm_tensor **out)
{
    return dgm_unary_op(ctx, DGM_OP_SCALE, DGM_UNARY_AFFINE, scale, shift, x, out);
}

#define DGM_UNARY_FN(fn, op, kind, pa)                                                        \
    dgm_status fn(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out)                              \
    {                                                                                         \
        return dgm_unary_op(ctx, op, kind, pa, 0.0f, x, out);                                 \
    }

DGM_UNARY_FN(dgm_relu, DGM_OP_RELU, DGM_UNARY_RELU, 0.0f)
DGM_UNARY_FN(dgm_selu, DGM_OP_SELU, DGM_UNARY_SELU, 0.0f)
DGM_UNARY_FN(dgm_gelu, DGM_OP_GELU, DGM_UNARY_GELU, 0.0f)
DGM_UNARY_FN(dgm_silu, DGM_OP_SILU, DGM_UNARY_SILU, 0.0f)
DGM_UNARY_FN(dgm_tanh, DGM_OP_TANH, DGM_UNARY_TANH, 0.0f)
DGM_UNARY_FN(dgm_sigmoid, DGM_OP_SIGMOID, DGM_UNARY_SIGMOID, 0.0f)
DGM_UNARY_FN(dgm_softplus, DGM_OP_SOFTPLUS, DGM_UNARY_SOFTPLUS, 0.0f)
DGM_UNARY_FN(dgm_exp, DGM_OP_EXP, DGM_UNARY_EXP, 0.0f)
DGM_UNARY_FN(dgm_log, DGM_OP_LOG, DGM_UNARY_LOG, 0.0f)
DGM_UNARY_FN(dgm_sqrt, DGM_OP_SQRT, DGM_UNARY_SQRT, 0.0f)
DGM_UNARY_FN(dgm_square, DGM_OP_SQUARE, DGM_UNARY_SQUARE, 0.0f)

dgm_status dgm_leaky_relu(dgm_ctx *ctx, dgm_tensor *x, float slope, dgm_tensor **out)
{
    return dgm_unary_op(ctx, DGM_OP_LEAKY_RELU, DGM_UNARY_LEAKY_RELU, slope, 0.0f, x, out);
}

dgm_status dgm_elu(dgm_ctx *ctx, dgm_tensor *x, float alpha, dgm_tensor **out)
{
    return dgm_unary_op(ctx, DGM_OP_ELU, DGM_UNARY_ELU, alpha, 0.0f, x, out);
}

/* ---- binary ---- */

/* Layout of operand t relative to the output's [rows, cols]; -1 if it does not fit. */
static int bcast_mode(const dgm_tensor *t, const dgm_tensor *big)
{
    int64_t rows = dgm_rows(big), cols = dgm_cols(big);
    if (t->numel == big->numel && dgm_cols(t) == cols) return DGM_BCAST_FULL;
    if (t->numel == 1) return DGM_BCAST_SCALAR;
    if (t->numel == cols && dgm_rows(t) == 1) return DGM_BCAST_ROW;
    if (dgm_cols(t) == 1 && dgm_rows(t) == rows) return DGM_BCAST_COL;
    return -1;
}

/* Adds a full-size gradient `full` [rows, cols] into operand t's gradient. */
static dgm_status reduce_into(dgm_ctx *ctx, int mode, int64_t rows, int64_t cols,
                              const float *full, float beta, float *g)
{
    static const int axis_of_mode[] = {0, DGM_AXIS_COLS, DGM_AXIS_ROWS, DGM_AXIS_ALL};
    return ctx->be->reduce_sum(ctx, axis_of_mode[mode], rows, cols, 1.0f, full, beta, g);
}

static dgm_status binary_backward(dgm_ctx *ctx, dgm_node *n)
{
    dgm_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    int ma = (int)n->i[0], mb = (int)n->i[1], kind = (int)n->i[2];
    int64_t rows = dgm_rows(y), cols = dgm_cols(y);
    float *ga = NULL, *gb = NULL, beta_a = 0, beta_b = 0;
    DGM_TRY(dgm_grad_target(ctx, a, &ga, &beta_a));
    DGM_TRY(dgm_grad_target(ctx, b, &gb, &beta_b));
    if (!ga && !gb) return DGM_STATUS_OK;
    size_t full = (size_t)y->numel * sizeof(float);
    /* Broadcast operands get a full-size scratch gradient, reduced afterwards. */
    float *da = ga, *db = gb, bda = beta_a, bdb = beta_b;
    if (ga && ma != DGM_BCAST_FULL) {
        DGM_TRY(dgm_scratch(ctx, full, (void **)&da));
        bda = 0.0f;
    }
    if (gb && mb != DGM_BCAST_FULL) {
        DGM_TRY(dgm_scratch(ctx, full, (void **)&db));
        bdb = 0.0f;
    }
    DGM_TRY(ctx->be->binary_backward(ctx, kind, rows, cols, a->data, ma, b->data, mb, y->grad,
                                     bda, da, bdb, db));
    if (ga && ma != DGM_BCAST_FULL) DGM_TRY(reduce_into(ctx, ma, rows, cols, da, beta_a, ga));
    if (gb && mb != DGM_BCAST_FULL) DGM_TRY(reduce_into(ctx, mb, rows, cols, db, beta_b, gb));
    return DGM_STATUS_OK;
}

/* Recorded: the full-size gradient of each operand as ops of a, b and dy (the formulas
 * of elementwise_math.h's derivatives), then summed over a broadcast operand's axis. */
static dgm_status binary_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    dgm_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    const int ma = (int)n->i[0], mb = (int)n->i[1], kind = (int)n->i[2];
    const bool wa = dgm_autograd_wants(ctx, a), wb = dgm_autograd_wants(ctx, b);
    if (!wa && !wb) return DGM_STATUS_OK;
    dgm_tensor *da = NULL, *db = NULL, *t = NULL, *u = NULL;
    switch (kind) {
    case DGM_BINARY_ADD: da = db = gy; break;
    case DGM_BINARY_SUB:
        da = gy;
        if (wb) DGM_TRY(dgm_scale(ctx, gy, -1.0f, 0.0f, &db));
        break;
    case DGM_BINARY_MUL:
        if (wa) DGM_TRY(dgm_mul(ctx, gy, b, &da));
        if (wb) DGM_TRY(dgm_mul(ctx, gy, a, &db));
        break;
    case DGM_BINARY_DIV: /* da = dy / b, db = -dy·a/b² = -da·y */
        DGM_TRY(dgm_div(ctx, gy, b, &da));
        if (wb) {
            DGM_TRY(dgm_mul(ctx, da, y, &t));
            DGM_TRY(dgm_scale(ctx, t, -1.0f, 0.0f, &db));
        }
        break;
    case DGM_BINARY_BCE_LOGITS: /* a logit, b target: da = (σ(a) - b)·dy, db = -a·dy */
        if (wa) {
            DGM_TRY(dgm_sigmoid(ctx, a, &t));
            DGM_TRY(dgm_sub(ctx, t, b, &u));
            DGM_TRY(dgm_mul(ctx, u, gy, &da));
        }
        if (wb) {
            DGM_TRY(dgm_mul(ctx, a, gy, &t));
            DGM_TRY(dgm_scale(ctx, t, -1.0f, 0.0f, &db));
        }
        break;
    case DGM_BINARY_KL_NORMAL: /* a mu, b logvar: da = a·dy, db = (e^b - 1)/2·dy */
        if (wa) DGM_TRY(dgm_mul(ctx, a, gy, &da));
        if (wb) {
            DGM_TRY(dgm_exp(ctx, b, &t));
            DGM_TRY(dgm_scale(ctx, t, 0.5f, -0.5f, &u));
            DGM_TRY(dgm_mul(ctx, u, gy, &db));
        }
        break;
    case DGM_BINARY_GAUSS_LOGPDF: /* a = x - mu, b logvar: da = -a·e^-b·dy,
                                   * db = (a²·e^-b - 1)/2·dy */
        DGM_TRY(dgm_scale(ctx, b, -1.0f, 0.0f, &t));
        DGM_TRY(dgm_exp(ctx, t, &t));
        if (wa) {
            DGM_TRY(dgm_mul(ctx, a, t, &u));
            DGM_TRY(dgm_scale(ctx, u, -1.0f, 0.0f, &u));
            DGM_TRY(dgm_mul(ctx, u, gy, &da));
        }
        if (wb) {
            DGM_TRY(dgm_square(ctx, a, &u));
            DGM_TRY(dgm_mul(ctx, u, t, &u));
            DGM_TRY(dgm_scale(ctx, u, 0.5f, -0.5f, &u));
            DGM_TRY(dgm_mul(ctx, u, gy, &db));
        }
        break;
    default:
        return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED,
                             "%s: binary kind %d has no double backward", dgm_op_name(n->op),
                             kind);
    }
    if (wa) DGM_TRY(dgm_autograd_accumulate_bcast(ctx, a, ma, da));
    if (wb) DGM_TRY(dgm_autograd_accumulate_bcast(ctx, b, mb, db));
    return DGM_STATUS_OK;
}

dgm_status dgm_binary_op(dgm_ctx *ctx, dgm_op op, int kind, dgm_tensor *a, dgm_tensor *b,
                         dgm_tensor **out)
{
    const char *name = dgm_op_name(op);
    DGM_TRY(dgm_op_begin(ctx, name, out));
    DGM_TRY(dgm_check_tensor(ctx, a, name, "a"));
    DGM_TRY(dgm_check_tensor(ctx, b, name, "b"));
    const dgm_tensor *big = b->numel > a->numel ? b : a;
    int ma = bcast_mode(a, big), mb = bcast_mode(b, big);
    if (ma < 0 || mb < 0) {
        char sa[96], sb[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "%s: shapes %s and %s do not broadcast (same shape, a row [C], "
                             "a column [R, 1] or a scalar)",
                             name, dgm_shape_str(a, sa, sizeof sa), dgm_shape_str(b, sb, sizeof sb));
    }
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, big->ndim, big->shape, &y));
    DGM_TRY(ctx->be->binary(ctx, kind, dgm_rows(y), dgm_cols(y), a->data, ma, b->data, mb, y->data));
    dgm_tensor *in[2] = {a, b};
    if (kind != DGM_BINARY_LESS && dgm_tape_needed(ctx, in, 2)) {
        dgm_node *n = NULL;
        DGM_TRY(dgm_tape_record(ctx, op, binary_backward, binary_graph_backward, y, in, 2, &n));
        n->i[0] = ma;
        n->i[1] = mb;
        n->i[2] = kind;
    }
    *out = y;
    return DGM_STATUS_OK;
}

dgm_status dgm_add(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out)
{
    return dgm_binary_op(ctx, DGM_OP_ADD, DGM_BINARY_ADD, a, b, out);
}

dgm_status dgm_sub(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out)
{
    return dgm_binary_op(ctx, DGM_OP_SUB, DGM_BINARY_SUB, a, b, out);
}

dgm_status dgm_mul(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out)
{
    return dgm_binary_op(ctx, DGM_OP_MUL, DGM_BINARY_MUL, a, b, out);
}

dgm_status dgm_div(dgm_ctx *ctx, dgm_tensor *a, dgm_tensor *b, dgm_tensor **out)
{
    return dgm_binary_op(ctx, DGM_OP_DIV, DGM_BINARY_DIV, a, b, out);
}
