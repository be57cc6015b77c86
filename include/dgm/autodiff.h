/* dgm autodiff: a define-by-run tape. Every op run in a step with grad mode on, and with
 * an input that requires a gradient, records its backward on the context's tape.
 * dgm_backward walks the tape in reverse once per step. */
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

#ifdef __cplusplus
}
#endif
#endif
