/* dgm parameter blocks: a model's parameters in ONE contiguous buffer, their gradients in
 * another, with a table of named views ("fc1.weight"), PyTorch's names and layouts (a
 * Linear weight is [out, in]). Buffers (batch-norm running statistics) sit after the
 * trainable parameters in the same value buffer and have no gradient.
 *
 * Use: dgm_params_create, dgm_params_add* for each tensor, dgm_params_alloc (allocates
 * and initializes from the context's generator), then dgm_params_get for the views.
 * Gradients accumulate (+=) over backward calls; clear them with dgm_params_zero_grad.
 */
#ifndef DGM_PARAMS_H
#define DGM_PARAMS_H

#include "dgm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dgm_params dgm_params;

typedef enum dgm_init_kind {
    DGM_INIT_ZEROS = 0,
    DGM_INIT_ONES,
    DGM_INIT_UNIFORM, /* U(a, b) */
    DGM_INIT_NORMAL,  /* N(a, b^2): mean a, std b */
    /* PyTorch's nn.init.orthogonal_ with gain b: the tensor as a [shape[0], rest] matrix
     * with orthonormal rows (wide) or columns (tall), from the QR of a Gaussian draw with
     * R's diagonal made positive (MAF's init in ikostrikov/pytorch-flows). */
    DGM_INIT_ORTHOGONAL
} dgm_init_kind;

typedef struct dgm_init {
    dgm_init_kind kind;
    float a, b;
} dgm_init;

DGM_API dgm_status dgm_params_create(dgm_ctx *ctx, dgm_params **out);
/* Frees the block and its views. NULL is a no-op. */
DGM_API void dgm_params_free(dgm_params *p);

/* The context the block was created on (NULL for NULL). */
DGM_API dgm_ctx *dgm_params_ctx(const dgm_params *p);

/* Declares a trainable parameter. Names are unique, at most 127 bytes. */
DGM_API dgm_status dgm_params_add(dgm_params *p, const char *name, int ndim,
                                  const int64_t *shape, dgm_init init);
/* Declares a buffer: saved with the parameters, no gradient, not optimized. */
DGM_API dgm_status dgm_params_add_buffer(dgm_params *p, const char *name, int ndim,
                                         const int64_t *shape, dgm_init init);

/* PyTorch nn.Linear(in, out): "<prefix>.weight" [out, in] and "<prefix>.bias" [out] (if
 * bias), both U(-1/sqrt(in), 1/sqrt(in)), as PyTorch's default initialization. */
DGM_API dgm_status dgm_params_add_linear(dgm_params *p, const char *prefix, int64_t in,
                                         int64_t out, bool bias);
/* PyTorch nn.BatchNorm1d(features): weight (ones), bias (zeros), and buffers running_mean
 * (zeros) and running_var (ones). */
DGM_API dgm_status dgm_params_add_batchnorm(dgm_params *p, const char *prefix,
                                            int64_t features);

/* Allocates the value and gradient buffers on the context's device and initializes every
 * tensor from the context's generator, in declaration order. Gradients start at zero. */
DGM_API dgm_status dgm_params_alloc(dgm_params *p);

/* The view named `name`, or NULL (with the error set on the context) if none. */
DGM_API dgm_tensor *dgm_params_get(dgm_params *p, const char *name);

DGM_API int dgm_params_count(const dgm_params *p);            /* tensors, buffers included */
DGM_API const char *dgm_params_name(const dgm_params *p, int i);
DGM_API dgm_tensor *dgm_params_at(dgm_params *p, int i);
DGM_API bool dgm_params_is_buffer(const dgm_params *p, int i);
DGM_API int64_t dgm_params_numel(const dgm_params *p);        /* trainable floats */
/* The trainable parameters whose names start with `prefix` (a GAN's "generator."), as a
 * range of the block's trainable floats: [*offset, *offset + *count). They must be
 * contiguous — declared one after the other, as a module's are — else INVALID_ARGUMENT;
 * also when none matches. After dgm_params_alloc (STATE_ERROR before). For optimizers and
 * averages of one part of a block (dgm_optim_create_range, dgm_ema_create_range). */
DGM_API dgm_status dgm_params_prefix_range(dgm_params *p, const char *prefix, int64_t *offset,
                                           int64_t *count);
DGM_API int64_t dgm_params_total_numel(const dgm_params *p);  /* buffers included */

/* The contiguous buffers: values (trainable first, then buffers) and gradients (trainable
 * only). Device pointers on CUDA. NULL before dgm_params_alloc. */
DGM_API float *dgm_params_values(dgm_params *p);
DGM_API float *dgm_params_grads(dgm_params *p);

DGM_API dgm_status dgm_params_zero_grad(dgm_params *p);

/* Plain SGD on the whole block: w -= lr * g (one kernel). Optimizers with state live in
 * the optimizer module. */
DGM_API dgm_status dgm_params_sgd_step(dgm_params *p, float lr);

#ifdef __cplusplus
}
#endif
#endif
