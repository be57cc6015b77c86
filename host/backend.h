/* The private backend interface: one table of function pointers per device.
 *
 * The public op wrappers (host/ops/) validate shapes, devices and arguments once, then
 * call these entries, which may assume valid input. Pointers are device pointers of the
 * backend; matrices are row-major. "beta" arguments follow BLAS: dst = beta·dst + value,
 * and with beta 0 dst is never read. Every entry returns a status and reports failures
 * with dgm_set_error on the context. An optional entry left NULL makes the op return
 * DGM_STATUS_UNSUPPORTED.
 */
#ifndef DGM_BACKEND_H
#define DGM_BACKEND_H

#include <stdint.h>

#include "dgm/core.h"
#include "conv_math.h"
#include "elementwise_math.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dgm_copy_kind {
    DGM_COPY_HOST_TO_DEVICE = 0,
    DGM_COPY_DEVICE_TO_HOST,
    DGM_COPY_DEVICE_TO_DEVICE
} dgm_copy_kind;

typedef struct dgm_backend {
    const char *name;
    dgm_device device;

    /* Creates the backend's per-context state (handles, stream, generator). */
    dgm_status (*init)(dgm_ctx *ctx, int device_index, uint64_t seed, void **state);
    void (*shutdown)(void *state);

    /* Memory. alloc returns DGM_STATUS_OOM when memory is exhausted. */
    dgm_status (*alloc)(dgm_ctx *ctx, size_t bytes, void **ptr);
    void (*free)(dgm_ctx *ctx, void *ptr);
    dgm_status (*copy)(dgm_ctx *ctx, void *dst, const void *src, size_t bytes,
                       dgm_copy_kind kind);
    dgm_status (*fill)(dgm_ctx *ctx, float *dst, size_t n, float value);
    dgm_status (*synchronize)(dgm_ctx *ctx);

    /* Philox4_32_10 through cuRAND, LEGACY ordering on both backends: one sequence of
     * 32-bit words per seed. rng_seed places the generator at word `offset`; rng_words
     * writes the next n words (device memory). rng_transform turns words into values by
     * rng_math.h's rule: dst[i] = dgm_rng_value(normal, words, first + i), where words[0]
     * sits at an even stream position. */
    dgm_status (*rng_seed)(dgm_ctx *ctx, uint64_t seed, uint64_t offset);
    dgm_status (*rng_words)(dgm_ctx *ctx, uint32_t *dst, size_t n);
    dgm_status (*rng_transform)(dgm_ctx *ctx, int normal, const uint32_t *words, size_t first,
                                size_t n, float *dst);

    /* C[M,N] = alpha·op(A)·op(B) + beta·C; op(A) is [M,K], op(B) is [K,N]. */
    dgm_status (*gemm)(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float beta, float *c, int64_t ldc);

    /* y[i] = unary(kind, x[i], pa, pb); y may equal x. */
    dgm_status (*unary)(dgm_ctx *ctx, int kind, float pa, float pb, size_t n, const float *x,
                        float *y);
    /* dx[i] = beta·dx[i] + derivative(x[i], y[i])·dy[i]. */
    dgm_status (*unary_backward)(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                 const float *x, const float *y, const float *dy, float beta,
                                 float *dx);

    /* out[r,c] = binary(kind, a[bcast_a], b[bcast_b]) over [rows, cols]; out may equal a
     * full-size a. */
    dgm_status (*binary)(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols, const float *a,
                         int bcast_a, const float *b, int bcast_b, float *out);
    /* Full-size [rows, cols] gradients: da = beta_a·da + df/da·dy, same for db; either
     * may be NULL. The caller reduces them when an operand was broadcast. */
    dgm_status (*binary_backward)(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols,
                                  const float *a, int bcast_a, const float *b, int bcast_b,
                                  const float *dy, float beta_a, float *da, float beta_b,
                                  float *db);

    /* y = beta·y + alpha·sum of x [rows, cols] over axis (DGM_AXIS_ALL: y[0]; ROWS: y[r];
     * COLS: y[c]). */
    dgm_status (*reduce_sum)(dgm_ctx *ctx, int axis, int64_t rows, int64_t cols, float alpha,
                             const float *x, float beta, float *y);
    /* dst[r,c] = beta·dst[r,c] + alpha·src[bcast index]. */
    dgm_status (*broadcast)(dgm_ctx *ctx, int bcast, int64_t rows, int64_t cols, float alpha,
                            const float *src, float beta, float *dst);

    /* y[r] = log sum_c exp(x[r,c]);  dx = beta·dx + dy[r]·exp(x - y[r]). */
    dgm_status (*logsumexp_rows)(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *x,
                                 float *y);
    dgm_status (*logsumexp_rows_backward)(dgm_ctx *ctx, int64_t rows, int64_t cols,
                                          const float *x, const float *y, const float *dy,
                                          float beta, float *dx);

    /* dst[r*dst_ld + c] = beta·dst + src[r*src_ld + c] for c < cols. */
    dgm_status (*copy_cols)(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *src,
                            int64_t src_ld, float beta, float *dst, int64_t dst_ld);

    /* y[r,j] = max over x[r, j·k .. j·k+k-1]; argmax[r·cols+j] = its column within the
     * group (the first maximum). */
    dgm_status (*maxout)(dgm_ctx *ctx, int64_t rows, int64_t cols, int k, const float *x,
                         float *y, int32_t *argmax);
    /* dx [rows, cols·k] = beta·dx + dy at each group's argmax, 0 elsewhere. */
    dgm_status (*maxout_backward)(dgm_ctx *ctx, int64_t rows, int64_t cols, int k,
                                  const int32_t *argmax, const float *dy, float beta,
                                  float *dx);

    /* Batch norm over the rows of x [rows, cols]. training: batch statistics into
     * save_mean/save_invstd and, when running_* are not NULL, running = (1-m)·running +
     * m·batch (unbiased variance). eval: save_* from the running statistics. gamma/beta
     * NULL mean 1/0. */
    dgm_status (*batchnorm_forward)(dgm_ctx *ctx, int training, int64_t rows, int64_t cols,
                                    float eps, float momentum, const float *x,
                                    const float *gamma, const float *beta, float *running_mean,
                                    float *running_var, float *y, float *save_mean,
                                    float *save_invstd);
    /* dx = beta_dx·dx + ∂L/∂x (NULL to skip); dgamma += sum(dy·xhat), dbeta += sum(dy)
     * (NULL to skip). */
    dgm_status (*batchnorm_backward)(dgm_ctx *ctx, int training, int64_t rows, int64_t cols,
                                     const float *x, const float *gamma, const float *save_mean,
                                     const float *save_invstd, const float *dy, float beta_dx,
                                     float *dx, float *dgamma, float *dbeta);

    /* Group normalization of x [n, c, plane] in `groups` groups of c/groups channels:
     * statistics over each (image, group)'s L = c/groups·plane values (biased variance, in
     * double) into mean/invstd [n·groups], y = (x − mean)·invstd·gamma[c] + beta[c]
     * (gamma/beta NULL: 1/0). */
    dgm_status (*group_norm_forward)(dgm_ctx *ctx, int64_t n, int64_t c, int64_t plane,
                                     int64_t groups, float eps, const float *x,
                                     const float *gamma, const float *beta, float *y,
                                     float *mean, float *invstd);
    /* dx = beta_dx·dx + ∂L/∂x (NULL to skip); dgamma += Σ dy·xhat, dbeta += Σ dy per
     * channel (NULL to skip). */
    dgm_status (*group_norm_backward)(dgm_ctx *ctx, int64_t n, int64_t c, int64_t plane,
                                      int64_t groups, const float *x, const float *gamma,
                                      const float *mean, const float *invstd, const float *dy,
                                      float beta_dx, float *dx, float *dgamma, float *dbeta);

    /* y += alpha·x over n (SGD and gradient accumulation). */
    dgm_status (*axpy)(dgm_ctx *ctx, size_t n, float alpha, const float *x, float *y);

    /* dst[r, :] = src[idx[r], :] for r < rows; idx is device memory (batch gathers). */
    dgm_status (*gather_rows)(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *src,
                              const int32_t *idx, float *dst);

    /* ---- optimizers: one fused pass over a parameter block (math in optim_math.h) ---- */

    /* SGD on n weights w from gradients g (g is only read): PyTorch's momentum, dampening,
     * Nesterov and L2 weight decay. momentum_buf is NULL when momentum is 0; first_step
     * sets buf = d (PyTorch's first update, when the buffer does not exist yet). */
    dgm_status (*sgd_step)(dgm_ctx *ctx, size_t n, float *w, const float *g,
                           float *momentum_buf, float lr, float momentum, float dampening,
                           int nesterov, float weight_decay, int first_step);
    /* Adam (decoupled 0: L2 weight decay added to the gradient) or AdamW (decoupled 1:
     * w *= 1 - lr·wd first) on n weights; m and v are exp_avg and exp_avg_sq, updated in
     * place; bias_correction1/2 are 1 - beta1^t and 1 - beta2^t for update number t. */
    dgm_status (*adam_step)(dgm_ctx *ctx, size_t n, float *w, const float *g, float *m,
                            float *v, float lr, float beta1, float beta2, float eps,
                            float weight_decay, int decoupled, double bias_correction1,
                            double bias_correction2);
    /* out[0] = sum of x[i]^2 (accumulated in double) into device memory, without waiting
     * for the device. work is device memory of DGM_SUM_SQUARES_WORK_BYTES (optim_math.h)
     * that the backend may use (the CPU backend does not). n may be 0 (out[0] = 0). */
    dgm_status (*sum_squares)(dgm_ctx *ctx, size_t n, const float *x, void *work, float *out);
    /* x *= min(1, max_norm / (sqrt(sumsq[0]) + 1e-6)) with sumsq in device memory, read by
     * the device (no host synchronization). */
    dgm_status (*clip_scale)(dgm_ctx *ctx, size_t n, float *x, const float *sumsq,
                             float max_norm);
    /* ema = decay·ema + (1 - decay)·w over n elements. */
    dgm_status (*ema_update)(dgm_ctx *ctx, size_t n, float *ema, const float *w, float decay);
    /* Exchanges a[i] and b[i] for i < n (the buffers do not overlap). */
    dgm_status (*swap)(dgm_ctx *ctx, size_t n, float *a, float *b);

    /* ---- spatial ops (NCHW; the index math is conv_math.h's) ---- */

    /* col [C·KH·KW, t·OH·OW] = im2col of the t images x [t, C, H, W] (g's n unused). */
    dgm_status (*im2col)(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *x,
                         float *col);
    /* dx [t, C, H, W] += col2im(col): the adjoint of im2col. */
    dgm_status (*col2im)(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *col,
                         float *dx);
    /* y [b, c, r, inner] = beta·y + alpha·x [b, r, c, inner] with the middle axes swapped
     * (a batched transpose with inner = 1; a tile of images <-> channel-major with b = 1). */
    dgm_status (*swap_axes)(dgm_ctx *ctx, int64_t b, int64_t r, int64_t c, int64_t inner,
                            float alpha, const float *x, float beta, float *y);
    /* Per plane of `planes`: y = beta·y + alpha·resample(kind, x) (dgm_resample_kind;
     * h, w the low resolution, f the factor). */
    dgm_status (*resample2d)(dgm_ctx *ctx, int kind, int64_t planes, int64_t h, int64_t w,
                             int64_t f, float alpha, const float *x, float beta, float *y);
    /* Whole convolutions by a library (optional: NULL, or DGM_STATUS_UNSUPPORTED without an
     * error for a shape it does not take, runs host/ops/conv_exec.c's im2col method on the
     * entries above). Arguments as dgm_conv_exec_forward/_data/_weight, beta 0 or 1; the
     * data map takes no bias; the weight map also writes the bias gradient db (when not
     * NULL, with the same beta). */
    dgm_status (*conv_forward)(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                               const float *w, const float *bias, float beta, float *y);
    dgm_status (*conv_data)(dgm_ctx *ctx, const dgm_conv_geom *g, const float *dy,
                            const float *w, float beta, float *dx);
    dgm_status (*conv_weight)(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                              const float *dy, float beta, float *dw, float *db);
    /* Both gradients at once (dx = beta_x·dx + data(dy, w); dw, db as conv_weight), so a
     * library can share the work on dy; optional like the three above. */
    dgm_status (*conv_backward)(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                const float *w, const float *dy, float beta_x, float *dx,
                                float beta_w, float *dw, float *db);
    /* gemm on `batch` matrices: A_i = a + i·stride_a, and so on. */
    dgm_status (*gemm_batched)(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                               int64_t k, float alpha, const float *a, int64_t lda,
                               int64_t stride_a, const float *b, int64_t ldb, int64_t stride_b,
                               float beta, float *c, int64_t ldc, int64_t stride_c,
                               int64_t batch);

    /* ---- second order (gradients of gradients) ---- */

    /* dx[i] = beta·dx[i] + f''(x[i], y[i])·g[i]·dy[i] for the unary kind f: the gradient
     * w.r.t. x of the first-order gradient f'(x)·g (dgm_unary_second_derivative). */
    dgm_status (*unary_backward2)(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                  const float *x, const float *y, const float *g,
                                  const float *dy, float beta, float *dx);
    /* dx[i] = beta·dx[i] + f'''(x[i], y[i])·g[i]·dy[i] (dgm_unary_third_derivative): the
     * gradient w.r.t. x of a second-order gradient f''(x)·h, g = h (itself a product). */
    dgm_status (*unary_backward3)(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                  const float *x, const float *y, const float *g,
                                  const float *dy, float beta, float *dx);
} dgm_backend;

/* The CPU backend; always present. */
const dgm_backend *dgm_cpu_backend(void);

/* The CUDA backend, or NULL in a build without CUDA. */
const dgm_backend *dgm_cuda_backend(void);

/* Why CUDA cannot be used (no GPU, no driver, build without CUDA), or OK. Thread-safe. */
dgm_status dgm_cuda_probe(char *why, size_t why_len);

/* Backend state of a context (what init returned). */
void *dgm_ctx_backend_state(dgm_ctx *ctx);

/* Records a failure on the context: formats the message and returns `status`. */
dgm_status dgm_set_error(dgm_ctx *ctx, dgm_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Whether the context's CPU compute flushes subnormal floats (not keep_denormals in its
 * dgm_ctx_config; host/cpu/cpu_fpenv.h). */
bool dgm_ctx_flush_denormals(const dgm_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
