/* dgm autodiff: a define-by-run tape. Every op run in a step with grad mode on, and with
 * an input that requires a gradient, records its backward on the context's tape.
 * dgm_backward walks the tape in reverse once per step, into parameter gradient buffers;
 * dgm_autograd gives gradients as tensors, any number of times per step, and with
 * create_graph records them so that they can be differentiated again (gradient
 * penalties, Hessian-vector products, score matching). */
#ifndef DGM_AUTODIFF_H
#define DGM_AUTODIFF_H

#include "dgm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Back-propagates from `loss` (one element): parameter gradients accumulate (+=) into
 * their block's gradient buffer, and every tensor marked with
 * dgm_tensor_set_requires_grad gets its gradient (dgm_grad). Once per step:
 * STATE_ERROR on a second call before dgm_ctx_step_end. */
DGM_API dgm_status dgm_backward(dgm_ctx *ctx, dgm_tensor *loss);

/* Like dgm_backward, with d(objective)/d(output) given by `seed` (output's shape), for
 * outputs of more than one element. */
DGM_API dgm_status dgm_backward_from(dgm_ctx *ctx, dgm_tensor *output, dgm_tensor *seed);

/* The gradient of the last backward with respect to t, as a step tensor of t's shape (a
 * view of the parameter gradient for parameters). A tensor that required a gradient but
 * did not influence the loss gets zeros. */
DGM_API dgm_status dgm_grad(dgm_ctx *ctx, dgm_tensor *t, dgm_tensor **out);

/* Gradients of Σ seed ⊙ output (seed NULL for a one-element output) with respect to each
 * inputs[i], into grads[i] (step tensors of the inputs' shapes; zeros where an input does
 * not influence the output). Parameter gradient buffers are not touched. With
 * create_graph, the gradient computation is itself recorded on the tape, so a later
 * dgm_autograd or dgm_backward differentiates through it.
 *
 * Each input must require a gradient (a parameter, or a tensor marked with
 * dgm_tensor_set_requires_grad before the forward pass): INVALID_ARGUMENT otherwise. The
 * seed has output's number of elements (SHAPE_MISMATCH otherwise). Any number of calls per
 * step, before or instead of one dgm_backward. An op whose gradient cannot be recorded
 * (a third derivative of an activation) returns DGM_STATUS_UNSUPPORTED naming it. Not
 * thread-safe on one context (like every call on a context). */
DGM_API dgm_status dgm_autograd(dgm_ctx *ctx, dgm_tensor *output, dgm_tensor *seed, int n,
                                dgm_tensor *const *inputs, bool create_graph,
                                dgm_tensor **grads);

#ifdef __cplusplus
}
#endif
#endif
