/* Helpers shared by the op wrappers in host/ops/. */
#ifndef DGM_OPS_COMMON_H
#define DGM_OPS_COMMON_H

#include "core/internal.h"

#define DGM_TRY(expr)                                                                         \
    do {                                                                                      \
        dgm_status dgm_try_status_ = (expr);                                                  \
        if (dgm_try_status_ != DGM_STATUS_OK) return dgm_try_status_;                         \
    } while (0)

/* Checks the context and `out`, and clears *out. */
dgm_status dgm_op_begin(dgm_ctx *ctx, const char *op, dgm_tensor **out);

/* Elementwise f(a, b) with broadcasting (the shared engine of add/sub/mul/div and the
 * losses); records its backward. */
dgm_status dgm_binary_op(dgm_ctx *ctx, dgm_op op, int kind, dgm_tensor *a, dgm_tensor *b,
                         dgm_tensor **out);
/* Elementwise unary op of dgm_unary_kind `kind` with parameters pa, pb. */
dgm_status dgm_unary_op(dgm_ctx *ctx, dgm_op op, int kind, float pa, float pb, dgm_tensor *x,
                        dgm_tensor **out);
/* Applies a loss reduction to an elementwise term. */
dgm_status dgm_reduce_loss(dgm_ctx *ctx, dgm_tensor *term, dgm_reduction reduction,
                           const char *op, dgm_tensor **out);
/* Draws n values (uniform in (0,1] or N(0,1)) into dst from the context's generator,
 * keeping the recorded offset in step with cuRAND's. */
dgm_status dgm_rng_draw(dgm_ctx *ctx, bool normal, float *dst, size_t n);

#endif
