/* Optimizer kernels of the CUDA backend: SGD, Adam/AdamW, the sum of squares and the
 * scaling of gradient clipping, the EMA of weights and swap. Each optimizer step is one
 * kernel over the whole parameter block; every kernel calls the per-element functions of
 * optim_math.h, the same ones the CPU backend runs.
 *
 * The sum of squares is deterministic (no atomics): at most DGM_SUM_SQUARES_PARTIALS
 * blocks each reduce a grid-stride share in double into the caller's work buffer, then
 * one block adds the partial sums in a fixed order. The clip factor is computed by every
 * thread from the sum in device memory, so clipping never waits for the host.
 */
#include <cub/block/block_reduce.cuh>

#include "cuda_internal.h"
#include "optim_math.h"

#define DGM_GRID_STRIDE(i, n)                                                              \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (size_t)blockDim.x * gridDim.x)

/* ---- SGD ---- */

/* buf NULL: no momentum. */
static __global__ void dgm_sgd_kernel(size_t n, float *__restrict__ w,
                                      const float *__restrict__ g, float *__restrict__ buf,
                                      float lr, float momentum, float dampening, int nesterov,
                                      float weight_decay, int first_step)
{
    DGM_GRID_STRIDE(i, n)
    {
        w[i] = dgm_sgd_update(w[i], g[i], buf != NULL, buf ? &buf[i] : NULL, lr, momentum,
                              dampening, nesterov, weight_decay, first_step);
    }
}

static void dgm_sgd_launch(cudaStream_t stream, size_t n, float *w, const float *g, float *buf,
                           float lr, float momentum, float dampening, int nesterov,
                           float weight_decay, int first_step)
{
    dgm_sgd_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(
        n, w, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step);
}

extern "C" dgm_status dgm_cuda_sgd_step(dgm_ctx *ctx, size_t n, float *w, const float *g,
                                        float *momentum_buf, float lr, float momentum,
                                        float dampening, int nesterov, float weight_decay,
                                        int first_step)
{
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_sgd_launch(st->stream, n, w, g, momentum_buf, lr, momentum, dampening, nesterov,
                   weight_decay, first_step);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_sgd_kernel");
    return DGM_STATUS_OK;
}

/* ---- Adam / AdamW ---- */

static __global__ void dgm_adam_kernel(size_t n, float *__restrict__ w,
                                       const float *__restrict__ g, float *__restrict__ m,
                                       float *__restrict__ v, dgm_adam_scalars s)
{
    DGM_GRID_STRIDE(i, n) w[i] = dgm_adam_update(w[i], g[i], &m[i], &v[i], s);
}

static void dgm_adam_launch(cudaStream_t stream, size_t n, float *w, const float *g, float *m,
                            float *v, dgm_adam_scalars s)
{
    dgm_adam_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(n, w, g, m, v, s);
}

extern "C" dgm_status dgm_cuda_adam_step(dgm_ctx *ctx, size_t n, float *w, const float *g,
                                         float *m, float *v, float lr, float beta1, float beta2,
                                         float eps, float weight_decay, int decoupled,
                                         double bias_correction1, double bias_correction2)
{
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    const dgm_adam_scalars s = dgm_adam_prepare(lr, beta1, beta2, eps, weight_decay, decoupled,
                                                bias_correction1, bias_correction2);
    dgm_adam_launch(st->stream, n, w, g, m, v, s);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_adam_kernel");
    return DGM_STATUS_OK;
}

/* ---- sum of squares ---- */

/* partials[b] = sum of x[i]^2 over block b's grid-stride share. */
static __global__ void dgm_sum_squares_partial_kernel(size_t n, const float *__restrict__ x,
                                                      double *__restrict__ partials)
{
    typedef cub::BlockReduce<double, DGM_CUDA_BLOCK> reduce_t;
    __shared__ typename reduce_t::TempStorage temp;
    double acc = 0.0;
    DGM_GRID_STRIDE(i, n) acc += dgm_square_term(x[i]);
    const double total = reduce_t(temp).Sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

/* out[0] = (float) sum of the `count` partial sums; one block. */
static __global__ void dgm_sum_squares_final_kernel(unsigned count,
                                                    const double *__restrict__ partials,
                                                    float *__restrict__ out)
{
    typedef cub::BlockReduce<double, DGM_CUDA_BLOCK> reduce_t;
    __shared__ typename reduce_t::TempStorage temp;
    double acc = 0.0;
    for (unsigned i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    const double total = reduce_t(temp).Sum(acc);
    if (threadIdx.x == 0) out[0] = (float)total;
}

static unsigned dgm_sum_squares_blocks(size_t n)
{
    const unsigned g = dgm_cuda_grid(n);
    return g > DGM_SUM_SQUARES_PARTIALS ? DGM_SUM_SQUARES_PARTIALS : g;
}

static void dgm_sum_squares_partial_launch(cudaStream_t stream, size_t n, const float *x,
                                           double *partials)
{
    dgm_sum_squares_partial_kernel<<<dgm_sum_squares_blocks(n), DGM_CUDA_BLOCK, 0, stream>>>(
        n, x, partials);
}

static void dgm_sum_squares_final_launch(cudaStream_t stream, unsigned count,
                                         const double *partials, float *out)
{
    dgm_sum_squares_final_kernel<<<1, DGM_CUDA_BLOCK, 0, stream>>>(count, partials, out);
}

extern "C" dgm_status dgm_cuda_sum_squares(dgm_ctx *ctx, size_t n, const float *x, void *work,
                                           float *out)
{
    DGM_CUDA_ENTER(ctx, st);
    if (n == 0) {
        DGM_CUDA_TRY(ctx, cudaMemsetAsync(out, 0, sizeof(float), st->stream));
        return DGM_STATUS_OK;
    }
    double *partials = (double *)work;
    dgm_sum_squares_partial_launch(st->stream, n, x, partials);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_sum_squares_partial_kernel");
    dgm_sum_squares_final_launch(st->stream, dgm_sum_squares_blocks(n), partials, out);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_sum_squares_final_kernel");
    return DGM_STATUS_OK;
}

/* ---- clip scale ---- */

static __global__ void dgm_clip_scale_kernel(size_t n, float *__restrict__ x,
                                             const float *__restrict__ sumsq, float max_norm)
{
    const float coef = dgm_clip_coef(sumsq[0], max_norm);
    DGM_GRID_STRIDE(i, n) x[i] *= coef;
}

static void dgm_clip_scale_launch(cudaStream_t stream, size_t n, float *x, const float *sumsq,
                                  float max_norm)
{
    dgm_clip_scale_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(n, x, sumsq,
                                                                           max_norm);
}

extern "C" dgm_status dgm_cuda_clip_scale(dgm_ctx *ctx, size_t n, float *x, const float *sumsq,
                                          float max_norm)
{
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_clip_scale_launch(st->stream, n, x, sumsq, max_norm);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_clip_scale_kernel");
    return DGM_STATUS_OK;
}

/* ---- EMA ---- */

static __global__ void dgm_ema_update_kernel(size_t n, float *__restrict__ ema,
                                             const float *__restrict__ w, float decay)
{
    DGM_GRID_STRIDE(i, n) ema[i] = dgm_ema_value(ema[i], w[i], decay);
}

static void dgm_ema_update_launch(cudaStream_t stream, size_t n, float *ema, const float *w,
                                  float decay)
{
    dgm_ema_update_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(n, ema, w, decay);
}

extern "C" dgm_status dgm_cuda_ema_update(dgm_ctx *ctx, size_t n, float *ema, const float *w,
                                          float decay)
{
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_ema_update_launch(st->stream, n, ema, w, decay);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_ema_update_kernel");
    return DGM_STATUS_OK;
}

/* ---- swap ---- */

static __global__ void dgm_swap_kernel(size_t n, float *__restrict__ a, float *__restrict__ b)
{
    DGM_GRID_STRIDE(i, n)
    {
        const float t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

static void dgm_swap_launch(cudaStream_t stream, size_t n, float *a, float *b)
{
    dgm_swap_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(n, a, b);
}

extern "C" dgm_status dgm_cuda_swap(dgm_ctx *ctx, size_t n, float *a, float *b)
{
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_swap_launch(st->stream, n, a, b);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_swap_kernel");
    return DGM_STATUS_OK;
}
