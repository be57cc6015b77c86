/* Elementwise kernels of the CUDA backend: fill, unary (activations, exp/log, dropout
 * mask) and its derivative, binary ops with broadcasting and their derivatives,
 * broadcast, column copies and scaling.
 *
 * Each kernel maps one thread to elements with a grid-stride loop over size_t indices
 * and calls the per-element functions of elementwise_math.h, the same ones the CPU
 * backend runs. Accumulating outputs go through dgm_axpby, so beta 0 never reads dst.
 */
#include "cuda_internal.h"

/* The broadcast layouts of elementwise_math.h: FULL, ROW, COL, SCALAR. */
#define DGM_CUDA_BCAST_COUNT (DGM_BCAST_SCALAR + 1)

#define DGM_GRID_STRIDE(i, n)                                                              \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (size_t)blockDim.x * gridDim.x)

/* ---- fill ---- */

static __global__ void dgm_fill_kernel(float *dst, size_t n, float value)
{
    DGM_GRID_STRIDE(i, n) dst[i] = value;
}

static void dgm_fill_launch(cudaStream_t stream, float *dst, size_t n, float value)
{
    dgm_fill_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(dst, n, value);
}

extern "C" dgm_status dgm_cuda_fill(dgm_ctx *ctx, float *dst, size_t n, float value)
{
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    if (value == 0.0f && !signbit(value)) {
        /* +0.0f is all zero bits: memset is the fastest way to clear gradients. */
        DGM_CUDA_TRY(ctx, cudaMemsetAsync(dst, 0, n * sizeof(float), st->stream));
        return DGM_STATUS_OK;
    }
    dgm_fill_launch(st->stream, dst, n, value);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_fill_kernel");
    return DGM_STATUS_OK;
}

/* ---- unary ---- */

static __global__ void dgm_unary_kernel(int kind, float pa, float pb, size_t n, const float *x,
                                        float *y)
{
    DGM_GRID_STRIDE(i, n) y[i] = dgm_unary_forward(kind, x[i], pa, pb);
}

static void dgm_unary_launch(cudaStream_t stream, int kind, float pa, float pb, size_t n,
                             const float *x, float *y)
{
    dgm_unary_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(kind, pa, pb, n, x, y);
}

extern "C" dgm_status dgm_cuda_unary(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                     const float *x, float *y)
{
    DGM_CUDA_CHECK_KIND(ctx, "unary", "kind", kind, DGM_UNARY_COUNT);
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_unary_launch(st->stream, kind, pa, pb, n, x, y);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_unary_kernel");
    return DGM_STATUS_OK;
}

/* x or y may be NULL when the kind's derivative does not use it (0 is passed instead). */
static __global__ void dgm_unary_backward_kernel(int kind, float pa, float pb, size_t n,
                                                 const float *x, const float *y,
                                                 const float *dy, float beta, float *dx)
{
    DGM_GRID_STRIDE(i, n)
    {
        float xi = x ? x[i] : 0.0f;
        float yi = y ? y[i] : 0.0f;
        dx[i] = dgm_axpby(beta, dx[i], dgm_unary_derivative(kind, xi, yi, pa, pb) * dy[i]);
    }
}

static void dgm_unary_backward_launch(cudaStream_t stream, int kind, float pa, float pb,
                                      size_t n, const float *x, const float *y,
                                      const float *dy, float beta, float *dx)
{
    dgm_unary_backward_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(
        kind, pa, pb, n, x, y, dy, beta, dx);
}

extern "C" dgm_status dgm_cuda_unary_backward(dgm_ctx *ctx, int kind, float pa, float pb,
                                              size_t n, const float *x, const float *y,
                                              const float *dy, float beta, float *dx)
{
    DGM_CUDA_CHECK_KIND(ctx, "unary backward", "kind", kind, DGM_UNARY_COUNT);
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_unary_backward_launch(st->stream, kind, pa, pb, n, x, y, dy, beta, dx);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_unary_backward_kernel");
    return DGM_STATUS_OK;
}

/* dx = beta·dx + f⁽ᵏ⁾(x)·g·dy, k = order (2 or 3). */
static __global__ void dgm_unary_higher_kernel(int order, int kind, float pa, float pb, size_t n,
                                               const float *x, const float *y, const float *g,
                                               const float *dy, float beta, float *dx)
{
    DGM_GRID_STRIDE(i, n)
    {
        const float d = order == 2 ? dgm_unary_second_derivative(kind, x[i], y[i], pa, pb)
                                   : dgm_unary_third_derivative(kind, x[i], y[i], pa, pb);
        dx[i] = dgm_axpby(beta, dx[i], d * g[i] * dy[i]);
    }
}

static dgm_status dgm_unary_higher(dgm_ctx *ctx, int order, int kind, float pa, float pb, size_t n,
                                   const float *x, const float *y, const float *g,
                                   const float *dy, float beta, float *dx)
{
    if (n == 0) return DGM_STATUS_OK;
    if (kind < 0 || kind >= DGM_UNARY_COUNT)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "cuda unary derivative of order %d: unknown kind %d", order, kind);
    DGM_CUDA_ENTER(ctx, st);
    dgm_unary_higher_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, st->stream>>>(
        order, kind, pa, pb, n, x, y, g, dy, beta, dx);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_unary_higher_kernel");
    return DGM_STATUS_OK;
}

extern "C" dgm_status dgm_cuda_unary_backward2(dgm_ctx *ctx, int kind, float pa, float pb,
                                               size_t n, const float *x, const float *y,
                                               const float *g, const float *dy, float beta,
                                               float *dx)
{
    return dgm_unary_higher(ctx, 2, kind, pa, pb, n, x, y, g, dy, beta, dx);
}

extern "C" dgm_status dgm_cuda_unary_backward3(dgm_ctx *ctx, int kind, float pa, float pb,
                                               size_t n, const float *x, const float *y,
                                               const float *g, const float *dy, float beta,
                                               float *dx)
{
    return dgm_unary_higher(ctx, 3, kind, pa, pb, n, x, y, g, dy, beta, dx);
}

/* ---- binary ---- */

static __global__ void dgm_binary_kernel(int kind, size_t n, size_t cols, const float *a,
                                         int bcast_a, const float *b, int bcast_b, float *out)
{
    DGM_GRID_STRIDE(i, n)
    {
        size_t r = i / cols, c = i % cols;
        out[i] = dgm_binary_forward(kind, a[dgm_bcast_index(bcast_a, r, c, cols)],
                                    b[dgm_bcast_index(bcast_b, r, c, cols)]);
    }
}

static void dgm_binary_launch(cudaStream_t stream, int kind, size_t n, size_t cols,
                              const float *a, int bcast_a, const float *b, int bcast_b,
                              float *out)
{
    dgm_binary_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(kind, n, cols, a,
                                                                       bcast_a, b, bcast_b, out);
}

extern "C" dgm_status dgm_cuda_binary(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols,
                                      const float *a, int bcast_a, const float *b, int bcast_b,
                                      float *out)
{
    DGM_CUDA_CHECK_KIND(ctx, "binary", "kind", kind, DGM_BINARY_COUNT);
    DGM_CUDA_CHECK_KIND(ctx, "binary", "broadcast layout", bcast_a, DGM_CUDA_BCAST_COUNT);
    DGM_CUDA_CHECK_KIND(ctx, "binary", "broadcast layout", bcast_b, DGM_CUDA_BCAST_COUNT);
    size_t n = (size_t)rows * (size_t)cols;
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_binary_launch(st->stream, kind, n, (size_t)cols, a, bcast_a, b, bcast_b, out);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_binary_kernel");
    return DGM_STATUS_OK;
}

/* da and db are full-size; either may be NULL. */
static __global__ void dgm_binary_backward_kernel(int kind, size_t n, size_t cols,
                                                  const float *a, int bcast_a, const float *b,
                                                  int bcast_b, const float *dy, float beta_a,
                                                  float *da, float beta_b, float *db)
{
    DGM_GRID_STRIDE(i, n)
    {
        size_t r = i / cols, c = i % cols;
        float av = a[dgm_bcast_index(bcast_a, r, c, cols)];
        float bv = b[dgm_bcast_index(bcast_b, r, c, cols)];
        float g = dy[i];
        if (da) da[i] = dgm_axpby(beta_a, da[i], dgm_binary_derivative_a(kind, av, bv) * g);
        if (db) db[i] = dgm_axpby(beta_b, db[i], dgm_binary_derivative_b(kind, av, bv) * g);
    }
}

static void dgm_binary_backward_launch(cudaStream_t stream, int kind, size_t n, size_t cols,
                                       const float *a, int bcast_a, const float *b,
                                       int bcast_b, const float *dy, float beta_a, float *da,
                                       float beta_b, float *db)
{
    dgm_binary_backward_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(
        kind, n, cols, a, bcast_a, b, bcast_b, dy, beta_a, da, beta_b, db);
}

extern "C" dgm_status dgm_cuda_binary_backward(dgm_ctx *ctx, int kind, int64_t rows,
                                               int64_t cols, const float *a, int bcast_a,
                                               const float *b, int bcast_b, const float *dy,
                                               float beta_a, float *da, float beta_b, float *db)
{
    DGM_CUDA_CHECK_KIND(ctx, "binary backward", "kind", kind, DGM_BINARY_COUNT);
    DGM_CUDA_CHECK_KIND(ctx, "binary backward", "broadcast layout", bcast_a, DGM_CUDA_BCAST_COUNT);
    DGM_CUDA_CHECK_KIND(ctx, "binary backward", "broadcast layout", bcast_b, DGM_CUDA_BCAST_COUNT);
    size_t n = (size_t)rows * (size_t)cols;
    if (n == 0 || (da == NULL && db == NULL)) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_binary_backward_launch(st->stream, kind, n, (size_t)cols, a, bcast_a, b, bcast_b, dy,
                               beta_a, da, beta_b, db);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_binary_backward_kernel");
    return DGM_STATUS_OK;
}

/* ---- broadcast ---- */

static __global__ void dgm_broadcast_kernel(int bcast, size_t n, size_t cols, float alpha,
                                            const float *src, float beta, float *dst)
{
    DGM_GRID_STRIDE(i, n)
    {
        size_t r = i / cols, c = i % cols;
        dst[i] = dgm_axpby(beta, dst[i], alpha * src[dgm_bcast_index(bcast, r, c, cols)]);
    }
}

static void dgm_broadcast_launch(cudaStream_t stream, int bcast, size_t n, size_t cols,
                                 float alpha, const float *src, float beta, float *dst)
{
    dgm_broadcast_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(bcast, n, cols, alpha,
                                                                          src, beta, dst);
}

extern "C" dgm_status dgm_cuda_broadcast(dgm_ctx *ctx, int bcast, int64_t rows, int64_t cols,
                                         float alpha, const float *src, float beta, float *dst)
{
    DGM_CUDA_CHECK_KIND(ctx, "broadcast", "broadcast layout", bcast, DGM_CUDA_BCAST_COUNT);
    size_t n = (size_t)rows * (size_t)cols;
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_broadcast_launch(st->stream, bcast, n, (size_t)cols, alpha, src, beta, dst);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_broadcast_kernel");
    return DGM_STATUS_OK;
}

/* ---- column copies (concat, slice) ---- */

static __global__ void dgm_copy_cols_kernel(size_t n, size_t cols, const float *src,
                                            size_t src_ld, float beta, float *dst,
                                            size_t dst_ld)
{
    DGM_GRID_STRIDE(i, n)
    {
        size_t r = i / cols, c = i % cols;
        float *d = dst + r * dst_ld + c;
        *d = dgm_axpby(beta, *d, src[r * src_ld + c]);
    }
}

static void dgm_copy_cols_launch(cudaStream_t stream, size_t n, size_t cols, const float *src,
                                 size_t src_ld, float beta, float *dst, size_t dst_ld)
{
    dgm_copy_cols_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(n, cols, src, src_ld,
                                                                          beta, dst, dst_ld);
}

extern "C" dgm_status dgm_cuda_copy_cols(dgm_ctx *ctx, int64_t rows, int64_t cols,
                                         const float *src, int64_t src_ld, float beta,
                                         float *dst, int64_t dst_ld)
{
    size_t n = (size_t)rows * (size_t)cols;
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_copy_cols_launch(st->stream, n, (size_t)cols, src, (size_t)src_ld, beta, dst,
                         (size_t)dst_ld);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_copy_cols_kernel");
    return DGM_STATUS_OK;
}

/* ---- row gathers (batches drawn from a device-resident dataset) ---- */

static __global__ void dgm_gather_rows_kernel(size_t n, size_t cols, const float *src,
                                              const int32_t *idx, float *dst)
{
    DGM_GRID_STRIDE(i, n)
    {
        size_t r = i / cols, c = i % cols;
        dst[i] = src[(size_t)idx[r] * cols + c];
    }
}

extern "C" dgm_status dgm_cuda_gather_rows(dgm_ctx *ctx, int64_t rows, int64_t cols,
                                           const float *src, const int32_t *idx, float *dst)
{
    size_t n = (size_t)rows * (size_t)cols;
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_gather_rows_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, st->stream>>>(n, (size_t)cols,
                                                                                 src, idx, dst);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_gather_rows_kernel");
    return DGM_STATUS_OK;
}

/* ---- scaling of a strided matrix (gemm with an empty inner dimension) ---- */

static __global__ void dgm_scale_cols_kernel(size_t n, size_t cols, float beta, float *dst,
                                             size_t ld)
{
    DGM_GRID_STRIDE(i, n)
    {
        float *d = dst + (i / cols) * ld + i % cols;
        *d = dgm_axpby(beta, *d, 0.0f);
    }
}

static void dgm_scale_cols_launch(cudaStream_t stream, size_t n, size_t cols, float beta,
                                  float *dst, size_t ld)
{
    dgm_scale_cols_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(n, cols, beta, dst,
                                                                           ld);
}

extern "C" dgm_status dgm_cuda_scale_cols(dgm_ctx *ctx, int64_t rows, int64_t cols, float beta,
                                          float *dst, int64_t ld)
{
    size_t n = (size_t)rows * (size_t)cols;
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_scale_cols_launch(st->stream, n, (size_t)cols, beta, dst, (size_t)ld);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_scale_cols_kernel");
    return DGM_STATUS_OK;
}
