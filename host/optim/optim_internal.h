/* Private to host/optim/: the checks every optimizer entry makes on its parameter block. */
#ifndef DGM_OPTIM_INTERNAL_H
#define DGM_OPTIM_INTERNAL_H

#include "core/internal.h"
#include "dgm/optim.h"
#include "ops/ops_common.h"
#include "optim_math.h"

/* The context of p (through its first view; a block with no tensors has none), or NULL. */
static inline dgm_ctx *dgm_optim_params_ctx(dgm_params *p)
{
    dgm_tensor *t = dgm_params_at(p, 0);
    return t ? t->ctx : NULL;
}

/* p is not NULL, has a usable context and is allocated; *ctx_out is its context.
 * INVALID_ARGUMENT for NULL (no message: there is no context to hold one), STATE_ERROR
 * (with a message naming fn) before dgm_params_alloc. */
static inline dgm_status dgm_optim_check_params(dgm_params *p, const char *fn,
                                                dgm_ctx **ctx_out)
{
    if (!p) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = dgm_optim_params_ctx(p);
    if (!ctx) return DGM_STATUS_STATE_ERROR; /* no tensors declared: never allocated */
    DGM_TRY(dgm_check_ctx(ctx));
    if (!dgm_params_values(p))
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR,
                             "%s: the parameters are not allocated (call dgm_params_alloc first)",
                             fn);
    *ctx_out = ctx;
    return DGM_STATUS_OK;
}

/* [offset, offset + count) lies inside p's trainable floats, else INVALID_ARGUMENT. */
static inline dgm_status dgm_optim_check_range(dgm_ctx *ctx, dgm_params *p, int64_t offset,
                                               int64_t count, const char *fn)
{
    const int64_t n = dgm_params_numel(p);
    if (offset < 0 || count < 0 || offset > n || count > n - offset)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: range [%lld, %lld) is not inside the %lld trainable floats", fn,
                             (long long)offset, (long long)(offset + count), (long long)n);
    return DGM_STATUS_OK;
}

/* A backend entry this module needs, or UNSUPPORTED naming it. */
#define DGM_OPTIM_NEED(ctx, entry, fn)                                                        \
    do {                                                                                      \
        if (!(ctx)->be->entry)                                                                \
            return dgm_set_error((ctx), DGM_STATUS_UNSUPPORTED,                               \
                                 "%s: the %s backend has no " #entry " entry", (fn),         \
                                 (ctx)->be->name);                                            \
    } while (0)

#endif
