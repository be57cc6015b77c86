/* Private to cuda/: the CUDA backend's per-context state, the checks that turn a failed
 * CUDA, cuBLAS or cuRAND call into a status on the context, and the entry points each
 * .cu file gives the backend table in cuda_backend.cu.
 *
 * Every kernel runs on the context's own stream; nothing here is process-wide. A check
 * that fails records the call and the library's error string with dgm_set_error and
 * returns from the calling function; the library never prints, exits or aborts.
 */
#ifndef DGM_CUDA_INTERNAL_H
#define DGM_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

#include "backend.h"

typedef struct dgm_cuda_state {
    int device;              /* GPU ordinal, made current by every entry */
    cudaStream_t stream;     /* all work of the context, in order */
    cublasHandle_t cublas;   /* bound to stream */
    curandGenerator_t rng;   /* device Philox4_32_10, bound to stream */
    void *scratch;           /* temporary device memory of reductions; grows */
    size_t scratch_bytes;
} dgm_cuda_state;

/* Threads per block of every kernel; a multiple of the warp size. */
#define DGM_CUDA_BLOCK 256
/* At most this many blocks; grid-stride loops cover the rest. */
#define DGM_CUDA_MAX_GRID 65536u

static inline unsigned dgm_cuda_grid(size_t n)
{
    size_t g = (n + DGM_CUDA_BLOCK - 1) / DGM_CUDA_BLOCK;
    return g > DGM_CUDA_MAX_GRID ? DGM_CUDA_MAX_GRID : (unsigned)g;
}

/* ---- error checks ---- */

static inline dgm_status dgm_cuda_fail(dgm_ctx *ctx, cudaError_t err, const char *what)
{
    /* Clear the (non-sticky) error so that a later launch check does not report it. */
    (void)cudaGetLastError();
    dgm_status status =
        err == cudaErrorMemoryAllocation ? DGM_STATUS_OOM : DGM_STATUS_BACKEND_ERROR;
    return dgm_set_error(ctx, status, "CUDA: %s failed: %s (%s)", what, cudaGetErrorString(err),
                         cudaGetErrorName(err));
}

static inline dgm_status dgm_cublas_fail(dgm_ctx *ctx, cublasStatus_t err, const char *what)
{
    /* A cuBLAS kernel that failed to launch or run leaves a CUDA error behind; clear it,
     * or the next launch check of another kernel would report it as its own. */
    (void)cudaGetLastError();
    dgm_status status =
        err == CUBLAS_STATUS_ALLOC_FAILED ? DGM_STATUS_OOM : DGM_STATUS_BACKEND_ERROR;
    return dgm_set_error(ctx, status, "cuBLAS: %s failed: %s", what,
                         cublasGetStatusString(err));
}

/* cuRAND has no error-string function. */
static inline const char *dgm_curand_status_string(curandStatus_t err)
{
    switch (err) {
    case CURAND_STATUS_SUCCESS: return "CURAND_STATUS_SUCCESS";
    case CURAND_STATUS_VERSION_MISMATCH: return "CURAND_STATUS_VERSION_MISMATCH";
    case CURAND_STATUS_NOT_INITIALIZED: return "CURAND_STATUS_NOT_INITIALIZED";
    case CURAND_STATUS_ALLOCATION_FAILED: return "CURAND_STATUS_ALLOCATION_FAILED";
    case CURAND_STATUS_TYPE_ERROR: return "CURAND_STATUS_TYPE_ERROR";
    case CURAND_STATUS_OUT_OF_RANGE: return "CURAND_STATUS_OUT_OF_RANGE";
    case CURAND_STATUS_LENGTH_NOT_MULTIPLE: return "CURAND_STATUS_LENGTH_NOT_MULTIPLE";
    case CURAND_STATUS_DOUBLE_PRECISION_REQUIRED:
        return "CURAND_STATUS_DOUBLE_PRECISION_REQUIRED";
    case CURAND_STATUS_LAUNCH_FAILURE: return "CURAND_STATUS_LAUNCH_FAILURE";
    case CURAND_STATUS_PREEXISTING_FAILURE: return "CURAND_STATUS_PREEXISTING_FAILURE";
    case CURAND_STATUS_INITIALIZATION_FAILED: return "CURAND_STATUS_INITIALIZATION_FAILED";
    case CURAND_STATUS_ARCH_MISMATCH: return "CURAND_STATUS_ARCH_MISMATCH";
    case CURAND_STATUS_INTERNAL_ERROR: return "CURAND_STATUS_INTERNAL_ERROR";
    default: return "unknown cuRAND status";
    }
}

static inline dgm_status dgm_curand_fail(dgm_ctx *ctx, curandStatus_t err, const char *what)
{
    /* A failed generator kernel leaves a CUDA error behind as well. */
    (void)cudaGetLastError();
    dgm_status status =
        err == CURAND_STATUS_ALLOCATION_FAILED ? DGM_STATUS_OOM : DGM_STATUS_BACKEND_ERROR;
    return dgm_set_error(ctx, status, "cuRAND: %s failed: %s", what,
                         dgm_curand_status_string(err));
}

/* Rejects a kind, axis or broadcast layout outside [0, count) with INVALID_ARGUMENT, as
 * the CPU backend does: a kernel would otherwise compute something else silently. */
static inline dgm_status dgm_cuda_check_kind(dgm_ctx *ctx, const char *entry, const char *what,
                                             int value, int count)
{
    if (value >= 0 && value < count) return DGM_STATUS_OK;
    return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cuda %s: unknown %s %d", entry, what,
                         value);
}

/* Returns from the enclosing function when the kind is unknown. */
#define DGM_CUDA_CHECK_KIND(ctx, entry, what, value, count)                                \
    do {                                                                                   \
        dgm_status dgm_kind_ = dgm_cuda_check_kind((ctx), (entry), (what), (value), (count)); \
        if (dgm_kind_ != DGM_STATUS_OK) return dgm_kind_;                                  \
    } while (0)

/* Each evaluates `call` once and returns the failure status from the enclosing function. */
#define DGM_CUDA_TRY(ctx, call)                                                            \
    do {                                                                                   \
        cudaError_t dgm_err_ = (call);                                                     \
        if (dgm_err_ != cudaSuccess) return dgm_cuda_fail((ctx), dgm_err_, #call);         \
    } while (0)

#define DGM_CUBLAS_TRY(ctx, call)                                                          \
    do {                                                                                   \
        cublasStatus_t dgm_err_ = (call);                                                  \
        if (dgm_err_ != CUBLAS_STATUS_SUCCESS) return dgm_cublas_fail((ctx), dgm_err_, #call); \
    } while (0)

#define DGM_CURAND_TRY(ctx, call)                                                          \
    do {                                                                                   \
        curandStatus_t dgm_err_ = (call);                                                  \
        if (dgm_err_ != CURAND_STATUS_SUCCESS) return dgm_curand_fail((ctx), dgm_err_, #call); \
    } while (0)

/* After every kernel launch: a bad configuration or a missing kernel image shows here. */
#define DGM_CUDA_CHECK_LAUNCH(ctx, kernel_name)                                            \
    do {                                                                                   \
        cudaError_t dgm_err_ = cudaGetLastError();                                         \
        if (dgm_err_ != cudaSuccess)                                                       \
            return dgm_cuda_fail((ctx), dgm_err_, "launch of " kernel_name);               \
    } while (0)

/* The context's state, with its GPU made current for this thread: a context may be used
 * from another thread than the one that created it, and a launch on another device's
 * stream fails. */
static inline dgm_status dgm_cuda_enter(dgm_ctx *ctx, dgm_cuda_state **out)
{
    dgm_cuda_state *st = (dgm_cuda_state *)dgm_ctx_backend_state(ctx);
    int current = -1;
    DGM_CUDA_TRY(ctx, cudaGetDevice(&current));
    if (current != st->device) DGM_CUDA_TRY(ctx, cudaSetDevice(st->device));
    *out = st;
    return DGM_STATUS_OK;
}

/* Declares `st` and enters; returns the failure from the enclosing function. */
#define DGM_CUDA_ENTER(ctx, st)                                                            \
    dgm_cuda_state *st = NULL;                                                             \
    do {                                                                                   \
        dgm_status dgm_enter_ = dgm_cuda_enter((ctx), &st);                                \
        if (dgm_enter_ != DGM_STATUS_OK) return dgm_enter_;                                \
    } while (0)

/* ---- entries of the backend table defined outside cuda_backend.cu ---- */

#ifdef __cplusplus
extern "C" {
#endif

/* cuda_elementwise.cu */
dgm_status dgm_cuda_fill(dgm_ctx *ctx, float *dst, size_t n, float value);
dgm_status dgm_cuda_unary(dgm_ctx *ctx, int kind, float pa, float pb, size_t n, const float *x,
                          float *y);
dgm_status dgm_cuda_unary_backward(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                   const float *x, const float *y, const float *dy, float beta,
                                   float *dx);
dgm_status dgm_cuda_unary_backward2(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                    const float *x, const float *y, const float *g,
                                    const float *dy, float beta, float *dx);
dgm_status dgm_cuda_unary_backward3(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                    const float *x, const float *y, const float *g,
                                    const float *dy, float beta, float *dx);
dgm_status dgm_cuda_binary(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols, const float *a,
                           int bcast_a, const float *b, int bcast_b, float *out);
dgm_status dgm_cuda_binary_backward(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols,
                                    const float *a, int bcast_a, const float *b, int bcast_b,
                                    const float *dy, float beta_a, float *da, float beta_b,
                                    float *db);
dgm_status dgm_cuda_broadcast(dgm_ctx *ctx, int bcast, int64_t rows, int64_t cols, float alpha,
                              const float *src, float beta, float *dst);
dgm_status dgm_cuda_gather_rows(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *src,
                                const int32_t *idx, float *dst);
dgm_status dgm_cuda_copy_cols(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *src,
                              int64_t src_ld, float beta, float *dst, int64_t dst_ld);
/* dst[r*ld + c] = beta·dst for c < cols (0 when beta is 0, without reading dst): what
 * gemm with k = 0 leaves, done here rather than trusting cuBLAS with an empty product. */
dgm_status dgm_cuda_scale_cols(dgm_ctx *ctx, int64_t rows, int64_t cols, float beta,
                               float *dst, int64_t ld);

/* cuda_reduce.cu */
dgm_status dgm_cuda_reduce_sum(dgm_ctx *ctx, int axis, int64_t rows, int64_t cols, float alpha,
                               const float *x, float beta, float *y);
dgm_status dgm_cuda_logsumexp_rows(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *x,
                                   float *y);
dgm_status dgm_cuda_logsumexp_rows_backward(dgm_ctx *ctx, int64_t rows, int64_t cols,
                                            const float *x, const float *y, const float *dy,
                                            float beta, float *dx);

/* cuda_nn.cu */
dgm_status dgm_cuda_maxout(dgm_ctx *ctx, int64_t rows, int64_t cols, int k, const float *x,
                           float *y, int32_t *argmax);
dgm_status dgm_cuda_maxout_backward(dgm_ctx *ctx, int64_t rows, int64_t cols, int k,
                                    const int32_t *argmax, const float *dy, float beta,
                                    float *dx);
dgm_status dgm_cuda_batchnorm_forward(dgm_ctx *ctx, int training, int64_t rows, int64_t cols,
                                      float eps, float momentum, const float *x,
                                      const float *gamma, const float *beta,
                                      float *running_mean, float *running_var, float *y,
                                      float *save_mean, float *save_invstd);
dgm_status dgm_cuda_batchnorm_backward(dgm_ctx *ctx, int training, int64_t rows, int64_t cols,
                                       const float *x, const float *gamma,
                                       const float *save_mean, const float *save_invstd,
                                       const float *dy, float beta_dx, float *dx,
                                       float *dgamma, float *dbeta);

/* cuda_group_norm.cu */
dgm_status dgm_cuda_group_norm_forward(dgm_ctx *ctx, int64_t n, int64_t c, int64_t plane,
                                       int64_t groups, float eps, const float *x,
                                       const float *gamma, const float *beta, float *y,
                                       float *mean, float *invstd);
dgm_status dgm_cuda_group_norm_backward(dgm_ctx *ctx, int64_t n, int64_t c, int64_t plane,
                                        int64_t groups, const float *x, const float *gamma,
                                        const float *mean, const float *invstd, const float *dy,
                                        float beta_dx, float *dx, float *dgamma, float *dbeta);

/* cuda_conv.cu */
dgm_status dgm_cuda_im2col(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *x,
                           float *col);
dgm_status dgm_cuda_col2im(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *col,
                           float *dx);
dgm_status dgm_cuda_swap_axes(dgm_ctx *ctx, int64_t b, int64_t r, int64_t c, int64_t inner,
                              float alpha, const float *x, float beta, float *y);
dgm_status dgm_cuda_resample2d(dgm_ctx *ctx, int kind, int64_t planes, int64_t h, int64_t w,
                               int64_t f, float alpha, const float *x, float beta, float *y);
dgm_status dgm_cuda_gemm_batched(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                                 int64_t k, float alpha, const float *a, int64_t lda,
                                 int64_t stride_a, const float *b, int64_t ldb,
                                 int64_t stride_b, float beta, float *c, int64_t ldc,
                                 int64_t stride_c, int64_t batch);

/* cuda_optim.cu */
dgm_status dgm_cuda_sgd_step(dgm_ctx *ctx, size_t n, float *w, const float *g,
                             float *momentum_buf, float lr, float momentum, float dampening,
                             int nesterov, float weight_decay, int first_step);
dgm_status dgm_cuda_adam_step(dgm_ctx *ctx, size_t n, float *w, const float *g, float *m,
                              float *v, float lr, float beta1, float beta2, float eps,
                              float weight_decay, int decoupled, double bias_correction1,
                              double bias_correction2);
dgm_status dgm_cuda_sum_squares(dgm_ctx *ctx, size_t n, const float *x, void *work,
                                float *out);
dgm_status dgm_cuda_clip_scale(dgm_ctx *ctx, size_t n, float *x, const float *sumsq,
                               float max_norm);
dgm_status dgm_cuda_ema_update(dgm_ctx *ctx, size_t n, float *ema, const float *w,
                               float decay);
dgm_status dgm_cuda_swap(dgm_ctx *ctx, size_t n, float *a, float *b);

#ifdef __cplusplus
}
#endif
#endif
