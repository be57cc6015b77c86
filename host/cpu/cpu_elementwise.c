/* CPU elementwise loops: each maps indices to elements and calls the shared math of
 * elementwise_math.h. */
#include "cpu/cpu_internal.h"

#define PAR_FOR _Pragma("omp parallel for if (n >= DGM_CPU_PARALLEL_MIN) schedule(static)")

dgm_status dgm_cpu_unary(dgm_ctx *ctx, int kind, float pa, float pb, size_t n, const float *x,
                         float *y)
{
    (void)ctx;
    PAR_FOR
    for (size_t i = 0; i < n; i++) y[i] = dgm_unary_forward(kind, x[i], pa, pb);
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_unary_backward(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                  const float *x, const float *y, const float *dy, float beta,
                                  float *dx)
{
    (void)ctx;
    PAR_FOR
    for (size_t i = 0; i < n; i++)
        dx[i] = dgm_axpby(beta, dx[i], dgm_unary_derivative(kind, x[i], y[i], pa, pb) * dy[i]);
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_binary(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols, const float *a,
                          int bcast_a, const float *b, int bcast_b, float *out)
{
    (void)ctx;
    const size_t n = (size_t)(rows * cols), c = (size_t)cols;
    PAR_FOR
    for (size_t i = 0; i < n; i++) {
        size_t r = i / c, j = i % c;
        out[i] = dgm_binary_forward(kind, a[dgm_bcast_index(bcast_a, r, j, c)],
                                    b[dgm_bcast_index(bcast_b, r, j, c)]);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_binary_backward(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols,
                                   const float *a, int bcast_a, const float *b, int bcast_b,
                                   const float *dy, float beta_a, float *da, float beta_b,
                                   float *db)
{
    (void)ctx;
    const size_t n = (size_t)(rows * cols), c = (size_t)cols;
    PAR_FOR
    for (size_t i = 0; i < n; i++) {
        size_t r = i / c, j = i % c;
        float av = a[dgm_bcast_index(bcast_a, r, j, c)], bv = b[dgm_bcast_index(bcast_b, r, j, c)];
        if (da) da[i] = dgm_axpby(beta_a, da[i], dgm_binary_derivative_a(kind, av, bv) * dy[i]);
        if (db) db[i] = dgm_axpby(beta_b, db[i], dgm_binary_derivative_b(kind, av, bv) * dy[i]);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_broadcast(dgm_ctx *ctx, int bcast, int64_t rows, int64_t cols, float alpha,
                             const float *src, float beta, float *dst)
{
    (void)ctx;
    const size_t n = (size_t)(rows * cols), c = (size_t)cols;
    PAR_FOR
    for (size_t i = 0; i < n; i++)
        dst[i] = dgm_axpby(beta, dst[i], alpha * src[dgm_bcast_index(bcast, i / c, i % c, c)]);
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_copy_cols(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *src,
                             int64_t src_ld, float beta, float *dst, int64_t dst_ld)
{
    (void)ctx;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[r * dst_ld + c] = dgm_axpby(beta, dst[r * dst_ld + c], src[r * src_ld + c]);
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_axpy(dgm_ctx *ctx, size_t n, float alpha, const float *x, float *y)
{
    (void)ctx;
    PAR_FOR
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
    return DGM_STATUS_OK;
}
