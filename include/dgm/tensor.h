/* dgm tensors: float32, row-major, contiguous, 1 to 4 dimensions, on one context's
 * device.
 *
 * Two lifetimes:
 *  - step tensors, made by ops, dgm_tensor_new and dgm_tensor_from_host, live in the
 *    context's arena and die at dgm_ctx_step_end; never free them;
 *  - persistent tensors, made by dgm_tensor_create (and parameter views of a
 *    dgm_params block), live until freed (dgm_tensor_free) or until their block is.
 */
#ifndef DGM_TENSOR_H
#define DGM_TENSOR_H

#include "dgm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DGM_MAX_DIMS 4

typedef struct dgm_tensor dgm_tensor;

/* A new step tensor of the given shape, contents undefined. */
DGM_API dgm_status dgm_tensor_new(dgm_ctx *ctx, int ndim, const int64_t *shape,
                                  dgm_tensor **out);

/* A new step tensor holding a copy of `data` (numel floats on the host). */
DGM_API dgm_status dgm_tensor_from_host(dgm_ctx *ctx, int ndim, const int64_t *shape,
                                        const float *data, dgm_tensor **out);

/* A new persistent tensor, zero-filled; the caller owns it (dgm_tensor_free). */
DGM_API dgm_status dgm_tensor_create(dgm_ctx *ctx, int ndim, const int64_t *shape,
                                     dgm_tensor **out);

/* Frees a persistent tensor. NULL, step tensors and parameter views are no-ops. */
DGM_API void dgm_tensor_free(dgm_tensor *t);

DGM_API int dgm_tensor_ndim(const dgm_tensor *t);
/* Size of dimension `dim` (negative counts from the end); 0 when out of range. */
DGM_API int64_t dgm_tensor_dim(const dgm_tensor *t, int dim);
DGM_API int64_t dgm_tensor_numel(const dgm_tensor *t);

/* Copies the tensor's numel floats to / from host memory (blocks until done). */
DGM_API dgm_status dgm_tensor_to_host(dgm_ctx *ctx, const dgm_tensor *t, float *dst);
DGM_API dgm_status dgm_tensor_copy_from_host(dgm_ctx *ctx, dgm_tensor *t, const float *src);

/* Copies src's values into dst (same numel); not recorded on the tape. */
DGM_API dgm_status dgm_tensor_copy(dgm_ctx *ctx, dgm_tensor *dst, const dgm_tensor *src);

/* Sets every element to `value`; not recorded on the tape. */
DGM_API dgm_status dgm_tensor_fill(dgm_ctx *ctx, dgm_tensor *t, float value);

/* A step tensor sharing t's data with another shape of the same numel. Recorded on the
 * tape (gradients flow through it). */
DGM_API dgm_status dgm_reshape(dgm_ctx *ctx, dgm_tensor *t, int ndim, const int64_t *shape,
                               dgm_tensor **out);

/* Marks a tensor whose gradient dgm_backward should compute (the input of a score model,
 * say). Parameters require gradients already. Returns INVALID_ARGUMENT for NULL. */
DGM_API dgm_status dgm_tensor_set_requires_grad(dgm_tensor *t, bool requires_grad);
DGM_API bool dgm_tensor_requires_grad(const dgm_tensor *t);

/* Raw device pointer to the tensor's floats (device memory on CUDA). For embedding and
 * for kernels of the caller's own; the library keeps ownership. */
DGM_API float *dgm_tensor_data(dgm_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
