/* The define-by-run tape and dgm_backward. Nodes live in the context's host arena and are
 * linked backwards; backward walks them from the last. */
#include <string.h>

#include "core/internal.h"

bool dgm_tape_needed(dgm_ctx *ctx, dgm_tensor *const *inputs, int n)
{
    if (!ctx->grad_enabled) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

dgm_status dgm_tape_record(dgm_ctx *ctx, dgm_op op, dgm_backward_fn fn,
                           dgm_graph_backward_fn graph_fn, dgm_tensor *out,
                           dgm_tensor *const *inputs, int n, dgm_node **node)
{
    void *p = NULL;
    dgm_status st = dgm_arena_alloc(&ctx->host_arena, sizeof(dgm_node), &p);
    if (st != DGM_STATUS_OK)
        return dgm_set_error(ctx, st, "%s: out of host memory for the tape", dgm_op_name(op));
    dgm_node *nd = p;
    memset(nd, 0, sizeof *nd);
    nd->backward = fn;
    nd->graph_backward = graph_fn;
    nd->op = op;
    nd->out = out;
    for (int i = 0; i < n && i < 3; i++) nd->in[i] = inputs[i];
    nd->prev = ctx->tape;
    ctx->tape = nd;
    out->requires_grad = true;
    if (node) *node = nd;
    return DGM_STATUS_OK;
}

/* Whether t's grad buffer holds a value written in this step's backward. */
static bool grad_live(const dgm_ctx *ctx, const dgm_tensor *t)
{
    if (t->kind == DGM_TENSOR_PARAM) return true;
    return t->grad && t->grad_gen == ctx->gen && t->grad_written;
}

dgm_status dgm_grad_target(dgm_ctx *ctx, dgm_tensor *t, float **grad, float *beta)
{
    *grad = NULL;
    *beta = 0.0f;
    if (!t || !t->requires_grad || t->is_buffer) return DGM_STATUS_OK;
    if (t->kind == DGM_TENSOR_PARAM) {
        *grad = t->grad;
        *beta = 1.0f;
        return DGM_STATUS_OK;
    }
    if (!t->grad || t->grad_gen != ctx->gen) {
        void *p = NULL;
        dgm_status st = dgm_scratch(ctx, (size_t)t->numel * sizeof(float), &p);
        if (st != DGM_STATUS_OK) return st;
        t->grad = p;
        t->grad_gen = ctx->gen;
        t->grad_written = false;
    }
    *grad = t->grad;
    *beta = t->grad_written ? 1.0f : 0.0f;
    t->grad_written = true; /* the caller writes every element now */
    return DGM_STATUS_OK;
}

static dgm_status run_tape(dgm_ctx *ctx)
{
    for (dgm_node *n = ctx->tape; n; n = n->prev) {
        if (!grad_live(ctx, n->out)) continue; /* did not influence the loss */
        dgm_status st = n->backward(ctx, n);
        if (st != DGM_STATUS_OK) return st;
    }
    ctx->backward_done = true;
    return DGM_STATUS_OK;
}

static dgm_status begin(dgm_ctx *ctx, dgm_tensor *output, const char *fn)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if ((st = dgm_check_tensor(ctx, output, fn, "output")) != DGM_STATUS_OK) return st;
    if (ctx->backward_done)
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR,
                             "%s: backward already ran in this step (call dgm_ctx_step_end)", fn);
    if (!output->requires_grad)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: the output depends on nothing that requires a gradient "
                             "(was grad mode off?)", fn);
    if (output->kind == DGM_TENSOR_PARAM)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: output is a parameter", fn);
    return DGM_STATUS_OK;
}

dgm_status dgm_backward(dgm_ctx *ctx, dgm_tensor *loss)
{
    dgm_status st = begin(ctx, loss, "dgm_backward");
    if (st != DGM_STATUS_OK) return st;
    if (loss->numel != 1) {
        char b[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "dgm_backward: loss must have one element, it is %s "
                             "(use dgm_backward_from)", dgm_shape_str(loss, b, sizeof b));
    }
    float *g = NULL, beta = 0;
    if ((st = dgm_grad_target(ctx, loss, &g, &beta)) != DGM_STATUS_OK) return st;
    if ((st = ctx->be->fill(ctx, g, 1, 1.0f)) != DGM_STATUS_OK) return st;
    return run_tape(ctx);
}

dgm_status dgm_backward_from(dgm_ctx *ctx, dgm_tensor *output, dgm_tensor *seed)
{
    dgm_status st = begin(ctx, output, "dgm_backward_from");
    if (st != DGM_STATUS_OK) return st;
    if ((st = dgm_check_tensor(ctx, seed, "dgm_backward_from", "seed")) != DGM_STATUS_OK)
        return st;
    if (seed->numel != output->numel) {
        char a[96], b[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "dgm_backward_from: seed %s does not match output %s",
                             dgm_shape_str(seed, a, sizeof a), dgm_shape_str(output, b, sizeof b));
    }
    float *g = NULL, beta = 0;
    if ((st = dgm_grad_target(ctx, output, &g, &beta)) != DGM_STATUS_OK) return st;
    st = ctx->be->copy(ctx, g, seed->data, (size_t)seed->numel * sizeof(float),
                       DGM_COPY_DEVICE_TO_DEVICE);
    if (st != DGM_STATUS_OK) return st;
    return run_tape(ctx);
}

dgm_status dgm_grad(dgm_ctx *ctx, dgm_tensor *t, dgm_tensor **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if ((st = dgm_check_tensor(ctx, t, "dgm_grad", "t")) != DGM_STATUS_OK) return st;
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_grad: out is NULL");
    *out = NULL;
    if (!t->requires_grad || t->is_buffer)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_grad: the tensor does not require a gradient "
                             "(dgm_tensor_set_requires_grad before the forward pass)");
    dgm_tensor *g = NULL;
    if (t->kind == DGM_TENSOR_PARAM || grad_live(ctx, t)) {
        if ((st = dgm_tensor_alloc_step(ctx, t->ndim, t->shape, &g)) != DGM_STATUS_OK) return st;
        st = ctx->be->copy(ctx, g->data, t->grad, (size_t)t->numel * sizeof(float),
                           DGM_COPY_DEVICE_TO_DEVICE);
    } else {
        if ((st = dgm_tensor_alloc_step(ctx, t->ndim, t->shape, &g)) != DGM_STATUS_OK) return st;
        st = ctx->be->fill(ctx, g->data, (size_t)t->numel, 0.0f);
    }
    if (st != DGM_STATUS_OK) return st;
    *out = g;
    return DGM_STATUS_OK;
}
