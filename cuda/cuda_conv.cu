/* The CUDA backend's spatial entries: im2col/col2im, the axis swap, resampling (each one
 * thread per output element, the index math of conv_math.h shared with the CPU backend)
 * and batched products (cublasSgemmStridedBatched). col2im gathers: each input pixel
 * sums the column entries that read it, so no two threads write one value. */
#include <limits.h>

#include "cuda_internal.h"

#define DGM_GRID_STRIDE(i, n)                                                                  \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                   \
         i += (size_t)blockDim.x * gridDim.x)

static __global__ void dgm_im2col_kernel(dgm_conv_geom g, int64_t t, const float *x, float *col)
{
    const int64_t ohw = g.oh * g.ow, cols = t * ohw, kk = g.kh * g.kw;
    const size_t n = (size_t)(g.c * kk * cols);
    DGM_GRID_STRIDE(e, n) {
        const int64_t r = (int64_t)e / cols, q = (int64_t)e % cols;
        const int64_t c = r / kk, i = (r % kk) / g.kw, j = r % g.kw;
        const int64_t img = q / ohw, p = q % ohw;
        const int64_t src = dgm_conv_source(&g, p / g.ow, p % g.ow, i, j);
        col[e] = src < 0 ? 0.0f : x[(img * g.c + c) * g.h * g.w + src];
    }
}

extern "C" dgm_status dgm_cuda_im2col(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t,
                                      const float *x, float *col)
{
    const size_t n = (size_t)(g->c * g->kh * g->kw * t * g->oh * g->ow);
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_im2col_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, st->stream>>>(*g, t, x, col);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_im2col_kernel");
    return DGM_STATUS_OK;
}

/* One thread per pixel (img, c, y, x): the taps (i, j) whose output position lands on a
 * whole stride step read it. */
static __global__ void dgm_col2im_kernel(dgm_conv_geom g, int64_t t, const float *col, float *dx)
{
    const int64_t hw = g.h * g.w, ohw = g.oh * g.ow, cols = t * ohw;
    const size_t n = (size_t)(t * g.c * hw);
    DGM_GRID_STRIDE(e, n) {
        const int64_t img = (int64_t)e / (g.c * hw), c = ((int64_t)e / hw) % g.c;
        const int64_t y = ((int64_t)e % hw) / g.w, xx = (int64_t)e % g.w;
        float s = 0.0f;
        for (int64_t i = 0; i < g.kh; i++) {
            const int64_t ty = y + g.ph - i * g.dh;
            if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.oh) continue;
            for (int64_t j = 0; j < g.kw; j++) {
                const int64_t tx = xx + g.pw - j * g.dw;
                if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.ow) continue;
                const int64_t r = (c * g.kh + i) * g.kw + j;
                s += col[r * cols + img * ohw + (ty / g.sh) * g.ow + tx / g.sw];
            }
        }
        dx[e] += s;
    }
}

extern "C" dgm_status dgm_cuda_col2im(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t,
                                      const float *col, float *dx)
{
    const size_t n = (size_t)(t * g->c * g->h * g->w);
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_col2im_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, st->stream>>>(*g, t, col, dx);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_col2im_kernel");
    return DGM_STATUS_OK;
}

/* One thread per element of y [b, c, r, inner]. */
static __global__ void dgm_swap_axes_kernel(int64_t b, int64_t r, int64_t c, int64_t inner,
                                            float alpha, const float *x, float beta, float *y)
{
    const size_t n = (size_t)(b * r * c * inner);
    DGM_GRID_STRIDE(e, n) {
        const int64_t k = (int64_t)e % inner, ri = ((int64_t)e / inner) % r;
        const int64_t ci = ((int64_t)e / (inner * r)) % c, bi = (int64_t)e / (inner * r * c);
        const float v = x[((bi * r + ri) * c + ci) * inner + k];
        y[e] = dgm_axpby(beta, y[e], alpha * v);
    }
}

extern "C" dgm_status dgm_cuda_swap_axes(dgm_ctx *ctx, int64_t b, int64_t r, int64_t c,
                                         int64_t inner, float alpha, const float *x, float beta,
                                         float *y)
{
    const size_t n = (size_t)(b * r * c * inner);
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_swap_axes_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, st->stream>>>(b, r, c, inner,
                                                                              alpha, x, beta, y);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_swap_axes_kernel");
    return DGM_STATUS_OK;
}

static __global__ void dgm_resample_kernel(int kind, int64_t planes, int64_t h, int64_t w,
                                           int64_t f, int64_t oh, int64_t ow, int64_t in,
                                           float alpha, const float *x, float beta, float *y)
{
    const size_t n = (size_t)(planes * oh * ow);
    DGM_GRID_STRIDE(e, n) {
        const int64_t p = (int64_t)e / (oh * ow), oy = ((int64_t)e / ow) % oh, ox = (int64_t)e % ow;
        const float v = dgm_resample_value(kind, x + p * in, h, w, f, oy, ox);
        y[e] = dgm_axpby(beta, y[e], alpha * v);
    }
}

extern "C" dgm_status dgm_cuda_resample2d(dgm_ctx *ctx, int kind, int64_t planes, int64_t h,
                                          int64_t w, int64_t f, float alpha, const float *x,
                                          float beta, float *y)
{
    DGM_CUDA_CHECK_KIND(ctx, "resample2d", "kind", kind, DGM_RESAMPLE_COUNT);
    const bool up = kind == DGM_RESAMPLE_NEAREST_UP || kind == DGM_RESAMPLE_BILINEAR_UP;
    const int64_t oh = up ? h * f : h, ow = up ? w * f : w, in = (up ? 1 : f * f) * h * w;
    const size_t n = (size_t)(planes * oh * ow);
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_resample_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, st->stream>>>(
        kind, planes, h, w, f, oh, ow, in, alpha, x, beta, y);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_resample_kernel");
    return DGM_STATUS_OK;
}

/* Row-major products as column-major ones of the transposes (as dgm_cuda_gemm). */
extern "C" dgm_status dgm_cuda_gemm_batched(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m,
                                            int64_t n, int64_t k, float alpha, const float *a,
                                            int64_t lda, int64_t stride_a, const float *b,
                                            int64_t ldb, int64_t stride_b, float beta, float *c,
                                            int64_t ldc, int64_t stride_c, int64_t batch)
{
    if (m == 0 || n == 0 || batch == 0) return DGM_STATUS_OK;
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX || batch > INT_MAX)
        return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED,
                             "cuda gemm_batched: dimensions beyond cuBLAS's 32-bit interface");
    if (k == 0) {
        for (int64_t i = 0; i < batch; i++) {
            const dgm_status s = dgm_cuda_scale_cols(ctx, m, n, beta, c + i * stride_c, ldc);
            if (s != DGM_STATUS_OK) return s;
        }
        return DGM_STATUS_OK;
    }
    DGM_CUDA_ENTER(ctx, st);
    const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    DGM_CUBLAS_TRY(ctx, cublasSgemmStridedBatched(st->cublas, op_b, op_a, (int)n, (int)m, (int)k,
                                                  &alpha, b, (int)ldb, stride_b, a, (int)lda,
                                                  stride_a, &beta, c, (int)ldc, stride_c,
                                                  (int)batch));
    return DGM_STATUS_OK;
}
