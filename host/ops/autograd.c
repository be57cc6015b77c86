/* dgm_autograd: gradients of an output with respect to chosen inputs, as tensors.
 *
 * The nodes on the tape are walked in reverse, like dgm_backward, but each node runs its
 * backward written with recorded ops (node->graph_backward) and gradients are tensors
 * kept beside the tensors they belong to (ag_grad, tagged with the pass number). With
 * create_graph, grad mode stays on while they run, so the gradient computation itself is
 * recorded and a later dgm_autograd or dgm_backward differentiates through it (PyTorch's
 * create_graph=True). Only nodes on a path from an input to the output are visited: a
 * forward sweep first marks what depends on the inputs. Parameter gradient buffers and
 * dgm_backward's state are never touched. */
#include <stdio.h>
#include <string.h>

#include "ops/ops_common.h"

bool dgm_autograd_wants(const dgm_ctx *ctx, const dgm_tensor *t)
{
    return t && t->requires_grad && !t->is_buffer && t->dep_pass == ctx->autograd_pass;
}

static bool same_shape(const dgm_tensor *a, const dgm_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

dgm_status dgm_autograd_accumulate(dgm_ctx *ctx, dgm_tensor *t, dgm_tensor *g)
{
    if (!g || !dgm_autograd_wants(ctx, t)) return DGM_STATUS_OK;
    if (g->numel != t->numel) {
        char a[96], b[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "gradient %s does not fit its tensor %s (internal error)",
                             dgm_shape_str(g, a, sizeof a), dgm_shape_str(t, b, sizeof b));
    }
    if (!same_shape(g, t)) DGM_TRY(dgm_reshape(ctx, g, t->ndim, t->shape, &g));
    if (t->ag_pass == ctx->autograd_pass) {
        dgm_tensor *sum = NULL;
        DGM_TRY(dgm_add(ctx, t->ag_grad, g, &sum));
        t->ag_grad = sum;
    } else {
        t->ag_grad = g;
        t->ag_pass = ctx->autograd_pass;
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_autograd_accumulate_bcast(dgm_ctx *ctx, dgm_tensor *t, int mode,
                                         dgm_tensor *full)
{
    if (!dgm_autograd_wants(ctx, t)) return DGM_STATUS_OK;
    dgm_tensor *g = full;
    switch (mode) {
    case DGM_BCAST_ROW: DGM_TRY(dgm_sum(ctx, full, DGM_AXIS_COLS, &g)); break;
    case DGM_BCAST_COL: DGM_TRY(dgm_sum(ctx, full, DGM_AXIS_ROWS, &g)); break;
    case DGM_BCAST_SCALAR: DGM_TRY(dgm_sum(ctx, full, DGM_AXIS_ALL, &g)); break;
    default: break;
    }
    return dgm_autograd_accumulate(ctx, t, g);
}

static dgm_status check_args(dgm_ctx *ctx, dgm_tensor *output, dgm_tensor *seed, int n,
                             dgm_tensor *const *inputs, dgm_tensor **grads)
{
    const char *fn = "dgm_autograd";
    DGM_TRY(dgm_check_tensor(ctx, output, fn, "output"));
    if (n < 1 || !inputs || !grads)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: needs n >= 1 inputs and a grads array (n = %d, inputs %s, "
                             "grads %s)", fn, n, inputs ? "given" : "NULL",
                             grads ? "given" : "NULL");
    for (int i = 0; i < n; i++) grads[i] = NULL;
    for (int i = 0; i < n; i++) {
        char arg[32];
        snprintf(arg, sizeof arg, "inputs[%d]", i);
        DGM_TRY(dgm_check_tensor(ctx, inputs[i], fn, arg));
        if (!inputs[i]->requires_grad || inputs[i]->is_buffer)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: %s does not require a gradient "
                                 "(dgm_tensor_set_requires_grad before the forward pass)", fn,
                                 arg);
    }
    char a[96], b[96];
    if (seed) {
        DGM_TRY(dgm_check_tensor(ctx, seed, fn, "seed"));
        if (seed->numel != output->numel)
            return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                                 "%s: seed %s does not match output %s", fn,
                                 dgm_shape_str(seed, a, sizeof a),
                                 dgm_shape_str(output, b, sizeof b));
    } else if (output->numel != 1) {
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "%s: output %s has more than one element: give a seed", fn,
                             dgm_shape_str(output, a, sizeof a));
    }
    return DGM_STATUS_OK;
}

/* The tape's nodes, oldest first, in host-arena memory. */
static dgm_status tape_in_order(dgm_ctx *ctx, dgm_node ***nodes, size_t *count)
{
    size_t c = 0;
    for (dgm_node *nd = ctx->tape; nd; nd = nd->prev) c++;
    *count = c;
    *nodes = NULL;
    if (c == 0) return DGM_STATUS_OK;
    void *p = NULL;
    dgm_status st = dgm_arena_alloc(&ctx->host_arena, c * sizeof(dgm_node *), &p);
    if (st != DGM_STATUS_OK)
        return dgm_set_error(ctx, st, "dgm_autograd: out of host memory for %zu tape nodes", c);
    dgm_node **v = p;
    size_t i = c;
    for (dgm_node *nd = ctx->tape; nd; nd = nd->prev) v[--i] = nd;
    *nodes = v;
    return DGM_STATUS_OK;
}

/* Prefixes the context's message with the node being differentiated. */
static dgm_status blame(dgm_ctx *ctx, dgm_status st, const dgm_node *nd)
{
    char msg[sizeof ctx->err];
    snprintf(msg, sizeof msg, "%s", ctx->err);
    return dgm_set_error(ctx, st, "dgm_autograd: backward of %s: %s", dgm_op_name(nd->op), msg);
}

static dgm_status walk(dgm_ctx *ctx, dgm_node **nodes, size_t count)
{
    const uint64_t pass = ctx->autograd_pass;
    for (size_t k = count; k-- > 0;) {
        dgm_node *nd = nodes[k];
        dgm_tensor *out = nd->out;
        if (out->ag_pass != pass || out->dep_pass != pass) continue;
        if (!nd->graph_backward)
            return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED,
                                 "dgm_autograd: %s has no double backward (its gradient is not "
                                 "written in recorded ops)", dgm_op_name(nd->op));
        dgm_status st = nd->graph_backward(ctx, nd, out->ag_grad);
        if (st != DGM_STATUS_OK) return blame(ctx, st, nd);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_autograd(dgm_ctx *ctx, dgm_tensor *output, dgm_tensor *seed, int n,
                        dgm_tensor *const *inputs, bool create_graph, dgm_tensor **grads)
{
    DGM_TRY(dgm_check_ctx(ctx));
    ctx->op = "dgm_autograd";
    DGM_TRY(check_args(ctx, output, seed, n, inputs, grads));

    const uint64_t pass = ++ctx->autograd_pass;
    for (int i = 0; i < n; i++) inputs[i]->dep_pass = pass;
    dgm_node **nodes = NULL;
    size_t count = 0;
    DGM_TRY(tape_in_order(ctx, &nodes, &count));
    for (size_t k = 0; k < count; k++) {
        dgm_node *nd = nodes[k];
        for (int j = 0; j < 3; j++)
            if (nd->in[j] && nd->in[j]->dep_pass == pass) nd->out->dep_pass = pass;
    }

    if (output->dep_pass == pass) {
        dgm_tensor *g = seed;
        if (!g) {
            DGM_TRY(dgm_tensor_alloc_step(ctx, output->ndim, output->shape, &g));
            DGM_TRY(ctx->be->fill(ctx, g->data, 1, 1.0f));
        } else if (!same_shape(g, output)) {
            DGM_TRY(dgm_reshape(ctx, g, output->ndim, output->shape, &g));
        }
        output->ag_grad = g;
        output->ag_pass = pass;
    }
    const bool grad_mode = ctx->grad_enabled;
    ctx->grad_enabled = create_graph;
    dgm_status st = walk(ctx, nodes, count);
    ctx->grad_enabled = grad_mode;
    if (st != DGM_STATUS_OK) return st;

    for (int i = 0; i < n; i++) {
        dgm_tensor *t = inputs[i];
        if (t->ag_pass == pass) {
            dgm_tensor *g = t->ag_grad;
            if (!same_shape(g, t)) DGM_TRY(dgm_reshape(ctx, g, t->ndim, t->shape, &g));
            grads[i] = g;
        } else { /* the output does not depend on it */
            dgm_tensor *z = NULL;
            DGM_TRY(dgm_tensor_alloc_step(ctx, t->ndim, t->shape, &z));
            DGM_TRY(ctx->be->fill(ctx, z->data, (size_t)z->numel, 0.0f));
            grads[i] = z;
        }
    }
    return DGM_STATUS_OK;
}
