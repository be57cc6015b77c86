/* The CPU backend's spatial entries: im2col/col2im, the axis swap, resampling and batched
 * products. Each parallel loop runs over whole rows or planes, which no two threads
 * share, so the results do not depend on the thread count. */
#include <string.h>

#include "cpu/cpu_internal.h"

#define DGM_TRY_CPU(expr)                                                                     \
    do {                                                                                      \
        dgm_status s_ = (expr);                                                               \
        if (s_ != DGM_STATUS_OK) return s_;                                                   \
    } while (0)

/* One row (c, i, j) of col for image t: OH·OW values, zero where the tap reads padding. */
static void im2col_row(const dgm_conv_geom *g, const float *plane, int64_t i, int64_t j,
                       float *dst)
{
    for (int64_t oy = 0; oy < g->oh; oy++) {
        const int64_t y = oy * g->sh - g->ph + i * g->dh;
        float *d = dst + oy * g->ow;
        if (y < 0 || y >= g->h) {
            memset(d, 0, (size_t)g->ow * sizeof *d);
            continue;
        }
        const float *src = plane + y * g->w;
        const int64_t x0 = -g->pw + j * g->dw;
        if (g->sw == 1) { /* contiguous: zeros, a copy, zeros */
            int64_t a = x0 < 0 ? -x0 : 0, b = g->w - x0;
            if (b > g->ow) b = g->ow;
            if (b < a) b = a;
            memset(d, 0, (size_t)a * sizeof *d);
            if (b > a) memcpy(d + a, src + x0 + a, (size_t)(b - a) * sizeof *d);
            memset(d + b, 0, (size_t)(g->ow - b) * sizeof *d);
        } else {
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const int64_t x = x0 + ox * g->sw;
                d[ox] = x >= 0 && x < g->w ? src[x] : 0.0f;
            }
        }
    }
}

dgm_status dgm_cpu_im2col(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *x,
                          float *col)
{
    DGM_CPU_FP_SCOPE(ctx);
    const int64_t kk = g->kh * g->kw, rows = g->c * kk, ohw = g->oh * g->ow, hw = g->h * g->w;
    const int64_t cols = t * ohw;
    DGM_CPU_PARALLEL_FOR((size_t)(rows * cols) >= dgm_cpu_parallel_min() && rows > 1, r, rows, {
        const int64_t c = r / kk, i = (r % kk) / g->kw, j = r % g->kw;
        for (int64_t n = 0; n < t; n++)
            im2col_row(g, x + (n * g->c + c) * hw, i, j, col + r * cols + n * ohw);
    });
    return DGM_STATUS_OK;
}

/* Adds the KH·KW rows of channel c of image t back into its plane. */
static void col2im_plane(const dgm_conv_geom *g, const float *col, int64_t cols, int64_t c,
                         int64_t t, float *plane)
{
    const int64_t ohw = g->oh * g->ow;
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++) {
            const float *s = col + ((c * g->kh + i) * g->kw + j) * cols + t * ohw;
            for (int64_t oy = 0; oy < g->oh; oy++) {
                const int64_t y = oy * g->sh - g->ph + i * g->dh;
                if (y < 0 || y >= g->h) continue;
                float *d = plane + y * g->w;
                const float *sr = s + oy * g->ow;
                const int64_t x0 = -g->pw + j * g->dw;
                for (int64_t ox = 0; ox < g->ow; ox++) {
                    const int64_t x = x0 + ox * g->sw;
                    if (x >= 0 && x < g->w) d[x] += sr[ox];
                }
            }
        }
}

dgm_status dgm_cpu_col2im(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *col,
                          float *dx)
{
    DGM_CPU_FP_SCOPE(ctx);
    const int64_t planes = t * g->c, hw = g->h * g->w;
    const int64_t cols = t * g->oh * g->ow, work = g->c * g->kh * g->kw * cols;
    DGM_CPU_PARALLEL_FOR((size_t)work >= dgm_cpu_parallel_min() && planes > 1, p, planes,
                         col2im_plane(g, col, cols, p % g->c, p / g->c, dx + p * hw));
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_swap_axes(dgm_ctx *ctx, int64_t b, int64_t r, int64_t c, int64_t inner,
                             float alpha, const float *x, float beta, float *y)
{
    DGM_CPU_FP_SCOPE(ctx);
    const int64_t blocks = b * c; /* one output block [r, inner] each */
    DGM_CPU_PARALLEL_FOR((size_t)(blocks * r * inner) >= dgm_cpu_parallel_min() && blocks > 1,
                         q, blocks, {
        const int64_t bi = q / c, ci = q % c;
        float *dst = y + q * r * inner;
        const float *src = x + bi * r * c * inner + ci * inner;
        for (int64_t ri = 0; ri < r; ri++)
            for (int64_t k = 0; k < inner; k++)
                dst[ri * inner + k] = dgm_axpby(beta, dst[ri * inner + k],
                                                alpha * src[ri * c * inner + k]);
    });
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_resample2d(dgm_ctx *ctx, int kind, int64_t planes, int64_t h, int64_t w,
                              int64_t f, float alpha, const float *x, float beta, float *y)
{
    DGM_CPU_FP_SCOPE(ctx);
    if (kind < 0 || kind >= DGM_RESAMPLE_COUNT)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cpu resample2d: unknown kind %d",
                             kind);
    const int up = kind == DGM_RESAMPLE_NEAREST_UP || kind == DGM_RESAMPLE_BILINEAR_UP;
    const int64_t oh = up ? h * f : h, ow = up ? w * f : w, in = (up ? 1 : f * f) * h * w;
    DGM_CPU_PARALLEL_FOR((size_t)(planes * oh * ow) >= dgm_cpu_parallel_min() && planes > 1, p,
                         planes, {
        const float *src = x + p * in;
        float *dst = y + p * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++)
                dst[oy * ow + ox] = dgm_axpby(beta, dst[oy * ow + ox],
                                              alpha * dgm_resample_value(kind, src, h, w, f, oy, ox));
    });
    return DGM_STATUS_OK;
}

/* Small products (attention over 7×7 or 14×14 positions) run one matrix per thread, the
 * BLAS single-threaded inside the region; large ones one after another, each threaded by
 * the BLAS. */
#define GEMM_BATCH_PARALLEL_MAX ((int64_t)1 << 21)

dgm_status dgm_cpu_gemm_batched(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                                int64_t k, float alpha, const float *a, int64_t lda,
                                int64_t stride_a, const float *b, int64_t ldb, int64_t stride_b,
                                float beta, float *c, int64_t ldc, int64_t stride_c,
                                int64_t batch)
{
    if (batch < 1) return DGM_STATUS_OK;
    /* dgm_cpu_gemm's only failure (a dimension beyond the 32-bit BLAS), found before the
     * threads start: the same for every matrix. */
    DGM_TRY_CPU(dgm_cpu_gemm(ctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
    const int parallel = batch > 2 && m * n * k <= GEMM_BATCH_PARALLEL_MAX &&
                         (size_t)(batch * m * n * k) >= dgm_cpu_parallel_min();
    /* Serially outside any OpenMP region when not parallel: under `omp parallel if (0)` an
     * OpenMP OpenBLAS threads each product with a nested team, which libgomp does not
     * pool, so every product started and joined new threads (seen: 850 a second in a
     * UNet's attention backward, half the step's time in the kernel). */
    if (!parallel) {
        for (int64_t i = 1; i < batch; i++)
            (void)dgm_cpu_gemm(ctx, trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb,
                               beta, c + i * stride_c, ldc);
        return DGM_STATUS_OK;
    }
    DGM_CPU_PARALLEL_FOR(1, i, batch - 1,
                         (void)dgm_cpu_gemm(ctx, trans_a, trans_b, m, n, k, alpha,
                                            a + (i + 1) * stride_a, lda, b + (i + 1) * stride_b,
                                            ldb, beta, c + (i + 1) * stride_c, ldc));
    return DGM_STATUS_OK;
}
