/* Helpers shared by the op wrappers in host/ops/. */
#ifndef DGM_OPS_COMMON_H
#define DGM_OPS_COMMON_H

#include "core/internal.h"

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

/* ---- second order: dgm_autograd's bookkeeping (host/ops/autograd.c) ---- */

/* Whether the running dgm_autograd pass needs t's gradient (t requires one and depends on
 * one of the pass's inputs). */
bool dgm_autograd_wants(const dgm_ctx *ctx, const dgm_tensor *t);
/* Adds g (t's number of elements; reshaped to t's shape) to t's gradient of this pass;
 * with grad mode on, the sum is recorded. No-op when the pass does not want t. */
dgm_status dgm_autograd_accumulate(dgm_ctx *ctx, dgm_tensor *t, dgm_tensor *g);
/* Same for an operand broadcast as `mode` (dgm_bcast) into the full-size gradient `full`:
 * sums it over the broadcast axis first. */
dgm_status dgm_autograd_accumulate_bcast(dgm_ctx *ctx, dgm_tensor *t, int mode,
                                         dgm_tensor *full);

/* ---- derivative ops (host/ops/ops_grad.c), recorded so that they can be differentiated ---- */

/* out = f'(x)·g for unary kind f with parameters pa, pb; y = f(x) (device data of x's
 * size, used by the derivative's formula). */
dgm_status dgm_unary_grad_op(dgm_ctx *ctx, int kind, float pa, float pb, dgm_tensor *x,
                             const float *y, dgm_tensor *g, dgm_tensor **out);
/* out = alpha · x broadcast as `mode` to `shape` (ndim dims, [rows, cols] as a matrix). */
dgm_status dgm_broadcast_op(dgm_ctx *ctx, dgm_tensor *x, int mode, int ndim,
                            const int64_t *shape, float alpha, dgm_tensor **out);

/* dgm_grad_target for a backend entry that accumulates (+=) into the gradient: a
 * first-time target (beta 0) is zeroed first. */
dgm_status dgm_grad_target_zeroed(dgm_ctx *ctx, dgm_tensor *t, float **grad);

/* ---- per-channel pieces of NCHW tensors, as recorded ops (host/ops/ops_composite.c) ---- */

/* x viewed as [N, C·plane] times (add: plus) v [C] repeated over each plane. */
dgm_status dgm_channel_affine_op(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *v, bool add,
                                 int64_t c, int64_t plane, dgm_tensor **out);
/* y [n, c, ...] summed over n and the plane: [1, c] (a bias's gradient). */
dgm_status dgm_channel_sum_op(dgm_ctx *ctx, dgm_tensor *y, int64_t n, int64_t c, dgm_tensor **out);

#endif
