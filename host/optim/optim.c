/* Optimizers over a parameter block's one contiguous buffer (PyTorch's semantics):
 *   SGD:   d = g + wd·w; buf = momentum·buf + (1 - dampening)·d (buf = d on the first
 *          update); d = nesterov ? d + momentum·buf : buf; w -= lr·d
 *   Adam:  g += wd·w; m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²;
 *          w -= lr/(1-b1^t) · m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   AdamW: w *= 1 - lr·wd, then Adam without the L2 term.
 * Each step is one backend call (one kernel) over all trainable parameters; the step
 * count and the bias corrections are kept on the host, in double. The state buffers
 * (momentum_buffer; exp_avg and exp_avg_sq) are device memory the size of the trainable
 * part, zero at start. Gradients are read, never cleared. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optim/optim_internal.h"

_Static_assert(DGM_OPTIM_COUNT == 3, "an optimizer was added: handle it in this file");

#define DGM_OPTIM_MAX_STATE 2

struct dgm_optim {
    dgm_ctx *ctx;
    dgm_params *params; /* borrowed */
    int64_t offset, count; /* the trainable floats it updates */
    dgm_optim_config cfg;
    int64_t steps;
    int nstate;
    float *state[DGM_OPTIM_MAX_STATE];
    const char *state_name[DGM_OPTIM_MAX_STATE];
};

static const char *const kind_names[DGM_OPTIM_COUNT] = {"sgd", "adam", "adamw"};

const char *dgm_optim_kind_name(dgm_optim_kind kind)
{
    return (unsigned)kind < DGM_OPTIM_COUNT ? kind_names[kind] : NULL;
}

dgm_optim_config dgm_optim_config_default(dgm_optim_kind kind)
{
    /* Out of range: the kind is kept, so dgm_optim_create reports it. */
    dgm_optim_config c = {0};
    c.kind = kind;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    switch (kind) {
    case DGM_OPTIM_SGD: c.lr = 1e-2f; break;
    case DGM_OPTIM_ADAM: c.lr = 1e-3f; break;
    case DGM_OPTIM_ADAMW:
        c.lr = 1e-3f;
        c.weight_decay = 1e-2f;
        break;
    default: break;
    }
    return c;
}

/* The learning rate must be finite and >= 0 (PyTorch: "Invalid learning rate"). */
static dgm_status check_lr(dgm_ctx *ctx, float lr, const char *fn)
{
    if (!(lr >= 0.0f) || isinf(lr))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: learning rate %g is not a finite value >= 0", fn, (double)lr);
    return DGM_STATUS_OK;
}

/* PyTorch's checks of the constructors, plus finiteness everywhere. */
static dgm_status check_config(dgm_ctx *ctx, const dgm_optim_config *c)
{
    static const char fn[] = "dgm_optim_create";
    if ((unsigned)c->kind >= DGM_OPTIM_COUNT)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: unknown optimizer kind %d (valid: DGM_OPTIM_SGD, "
                             "DGM_OPTIM_ADAM, DGM_OPTIM_ADAMW)",
                             fn, (int)c->kind);
    DGM_TRY(check_lr(ctx, c->lr, fn));
    if (!(c->weight_decay >= 0.0f) || isinf(c->weight_decay))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: weight_decay %g is not a finite value >= 0", fn,
                             (double)c->weight_decay);
    if (c->kind == DGM_OPTIM_SGD) {
        if (!(c->momentum >= 0.0f) || isinf(c->momentum))
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: momentum %g is not a finite value >= 0", fn,
                                 (double)c->momentum);
        if (!isfinite(c->dampening))
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: dampening is %g", fn,
                                 (double)c->dampening);
        if (c->nesterov && (c->momentum <= 0.0f || c->dampening != 0.0f))
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: Nesterov momentum needs momentum > 0 and dampening 0 "
                                 "(momentum %g, dampening %g)",
                                 fn, (double)c->momentum, (double)c->dampening);
        return DGM_STATUS_OK;
    }
    if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: betas (%g, %g) must lie in [0, 1)", fn, (double)c->beta1,
                             (double)c->beta2);
    if (!(c->eps >= 0.0f) || isinf(c->eps))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: eps %g is not a finite value >= 0", fn, (double)c->eps);
    return DGM_STATUS_OK;
}

dgm_status dgm_optim_create(dgm_params *p, const dgm_optim_config *config, dgm_optim **out)
{
    return dgm_optim_create_range(p, 0, dgm_params_numel(p), config, out);
}

dgm_status dgm_optim_create_range(dgm_params *p, int64_t offset, int64_t count,
                                  const dgm_optim_config *config, dgm_optim **out)
{
    static const char fn[] = "dgm_optim_create";
    if (out) *out = NULL;
    dgm_ctx *ctx = NULL;
    DGM_TRY(dgm_optim_check_params(p, fn, &ctx));
    DGM_TRY(dgm_optim_check_range(ctx, p, offset, count, fn));
    if (!config) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: config is NULL", fn);
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: out is NULL", fn);
    DGM_TRY(check_config(ctx, config));

    dgm_optim *o = calloc(1, sizeof *o);
    if (!o) return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory", fn);
    o->ctx = ctx;
    o->params = p;
    o->offset = offset;
    o->count = count;
    o->cfg = *config;
    if (config->kind == DGM_OPTIM_SGD) {
        if (config->momentum != 0.0f) o->state_name[o->nstate++] = "momentum_buffer";
    } else {
        o->state_name[o->nstate++] = "exp_avg";
        o->state_name[o->nstate++] = "exp_avg_sq";
    }
    const size_t n = (size_t)count;
    for (int i = 0; i < o->nstate && n > 0; i++) {
        void *buf = NULL;
        dgm_status st = ctx->be->alloc(ctx, n * sizeof(float), &buf);
        if (st == DGM_STATUS_OK) {
            o->state[i] = buf;
            st = ctx->be->fill(ctx, o->state[i], n, 0.0f);
        }
        if (st != DGM_STATUS_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", dgm_last_error(ctx));
            const char *name = o->state_name[i]; /* a string literal */
            dgm_optim_free(o);
            return dgm_set_error(ctx, st, "%s: cannot allocate %s's %s (%zu floats): %s", fn,
                                 kind_names[config->kind], name, n, why);
        }
    }
    *out = o;
    return DGM_STATUS_OK;
}

void dgm_optim_free(dgm_optim *o)
{
    if (!o) return;
    for (int i = 0; i < DGM_OPTIM_MAX_STATE; i++)
        if (o->state[i]) o->ctx->be->free(o->ctx, o->state[i]);
    free(o);
}

dgm_status dgm_optim_step(dgm_optim *o)
{
    static const char fn[] = "dgm_optim_step";
    if (!o) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = o->ctx;
    DGM_TRY(dgm_check_ctx(ctx));
    DGM_TRY(check_lr(ctx, o->cfg.lr, fn));
    const dgm_optim_config *c = &o->cfg;
    const int64_t t = o->steps + 1; /* this update's number, 1-based (Adam's t) */
    const size_t n = (size_t)o->count;
    float *w = dgm_params_values(o->params) + o->offset;
    const float *g = dgm_params_grads(o->params) + o->offset;
    if (n > 0) {
        dgm_status st;
        if (c->kind == DGM_OPTIM_SGD) {
            DGM_OPTIM_NEED(ctx, sgd_step, fn);
            st = ctx->be->sgd_step(ctx, n, w, g, o->nstate ? o->state[0] : NULL, c->lr,
                                   c->momentum, c->dampening, c->nesterov, c->weight_decay,
                                   o->steps == 0);
        } else {
            DGM_OPTIM_NEED(ctx, adam_step, fn);
            const double bc1 = 1.0 - pow((double)c->beta1, (double)t);
            const double bc2 = 1.0 - pow((double)c->beta2, (double)t);
            st = ctx->be->adam_step(ctx, n, w, g, o->state[0], o->state[1], c->lr, c->beta1,
                                    c->beta2, c->eps, c->weight_decay,
                                    c->kind == DGM_OPTIM_ADAMW, bc1, bc2);
        }
        if (st != DGM_STATUS_OK) return st;
    }
    o->steps = t;
    return DGM_STATUS_OK;
}

void dgm_optim_set_lr(dgm_optim *o, float lr)
{
    if (o) o->cfg.lr = lr; /* checked by the next dgm_optim_step */
}

float dgm_optim_lr(const dgm_optim *o) { return o ? o->cfg.lr : 0.0f; }

int64_t dgm_optim_steps(const dgm_optim *o) { return o ? o->steps : 0; }

int64_t dgm_optim_numel(const dgm_optim *o) { return o ? o->count : 0; }

void dgm_optim_set_steps(dgm_optim *o, int64_t steps)
{
    if (o && steps >= 0) o->steps = steps;
}

int dgm_optim_state_count(const dgm_optim *o) { return o ? o->nstate : 0; }

const char *dgm_optim_state_name(const dgm_optim *o, int i)
{
    return o && i >= 0 && i < o->nstate ? o->state_name[i] : NULL;
}

float *dgm_optim_state_data(dgm_optim *o, int i)
{
    return o && i >= 0 && i < o->nstate ? o->state[i] : NULL;
}
