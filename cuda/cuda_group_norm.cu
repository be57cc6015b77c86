/* Group normalization on the GPU: one block per (image, group) for the statistics, the
 * output and the input gradient; one block per channel for the weight and bias gradients
 * (over the images and the plane). Sums in double with cub::BlockReduce, the per-element
 * math of elementwise_math.h shared with the CPU backend. */
#include <cub/block/block_reduce.cuh>

#include "cuda_internal.h"

typedef cub::BlockReduce<double, DGM_CUDA_BLOCK> dgm_gn_reduce;

static unsigned dgm_gn_blocks(size_t count)
{
    return count > DGM_CUDA_MAX_GRID ? DGM_CUDA_MAX_GRID : (unsigned)count;
}

static __global__ void dgm_group_norm_forward_kernel(size_t rows, size_t groups, size_t cg,
                                                     size_t plane, float eps, const float *x,
                                                     const float *gamma, const float *beta,
                                                     float *y, float *mean, float *invstd)
{
    __shared__ dgm_gn_reduce::TempStorage temp;
    __shared__ double shared_mean;
    __shared__ float shared_is;
    const size_t len = cg * plane;
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * len;
        double s = 0.0;
        for (size_t i = threadIdx.x; i < len; i += blockDim.x) s += xr[i];
        s = dgm_gn_reduce(temp).Sum(s);
        if (threadIdx.x == 0) shared_mean = s / (double)len;
        __syncthreads();
        const double m = shared_mean;
        double ss = 0.0;
        for (size_t i = threadIdx.x; i < len; i += blockDim.x) ss += (xr[i] - m) * (xr[i] - m);
        ss = dgm_gn_reduce(temp).Sum(ss);
        if (threadIdx.x == 0) {
            shared_is = (float)(1.0 / sqrt(ss / (double)len + (double)eps));
            mean[r] = (float)m;
            invstd[r] = shared_is;
        }
        __syncthreads();
        const float mf = (float)m, is = shared_is;
        const size_t c0 = (r % groups) * cg;
        for (size_t i = threadIdx.x; i < len; i += blockDim.x) {
            const size_t ch = c0 + i / plane;
            y[r * len + i] = dgm_batchnorm_apply(xr[i], mf, is, gamma ? gamma[ch] : 1.0f,
                                                 beta ? beta[ch] : 0.0f);
        }
        __syncthreads();
    }
}

extern "C" dgm_status dgm_cuda_group_norm_forward(dgm_ctx *ctx, int64_t n, int64_t c,
                                                  int64_t plane, int64_t groups, float eps,
                                                  const float *x, const float *gamma,
                                                  const float *beta, float *y, float *mean,
                                                  float *invstd)
{
    const size_t rows = (size_t)(n * groups);
    if (rows == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_group_norm_forward_kernel<<<dgm_gn_blocks(rows), DGM_CUDA_BLOCK, 0, st->stream>>>(
        rows, (size_t)groups, (size_t)(c / groups), (size_t)plane, eps, x, gamma, beta, y, mean,
        invstd);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_group_norm_forward_kernel");
    return DGM_STATUS_OK;
}

/* dx of each (image, group): the group's sums of dy·gamma and dy·gamma·xhat, then the
 * elements. */
static __global__ void dgm_group_norm_dx_kernel(size_t rows, size_t groups, size_t cg,
                                                size_t plane, const float *x, const float *gamma,
                                                const float *mean, const float *invstd,
                                                const float *dy, float beta_dx, float *dx)
{
    __shared__ dgm_gn_reduce::TempStorage temp;
    __shared__ float shared_sums[2];
    const size_t len = cg * plane;
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float m = mean[r], is = invstd[r];
        const size_t c0 = (r % groups) * cg;
        double s1 = 0.0, s2 = 0.0;
        for (size_t i = threadIdx.x; i < len; i += blockDim.x) {
            const float g = gamma ? gamma[c0 + i / plane] : 1.0f;
            const float d = dy[r * len + i] * g;
            s1 += d;
            s2 += (double)d * ((x[r * len + i] - m) * is);
        }
        s1 = dgm_gn_reduce(temp).Sum(s1);
        __syncthreads();
        s2 = dgm_gn_reduce(temp).Sum(s2);
        if (threadIdx.x == 0) {
            shared_sums[0] = (float)s1;
            shared_sums[1] = (float)s2;
        }
        __syncthreads();
        for (size_t i = threadIdx.x; i < len; i += blockDim.x) {
            const size_t k = r * len + i;
            const float g = gamma ? gamma[c0 + i / plane] : 1.0f;
            const float v = dgm_group_norm_dx(dy[k] * g, (x[k] - m) * is, is, shared_sums[0],
                                              shared_sums[1], (float)len);
            dx[k] = dgm_axpby(beta_dx, dx[k], v);
        }
        __syncthreads();
    }
}

/* dgamma[c] += Σ dy·xhat, dbeta[c] += Σ dy over the images and the plane. */
static __global__ void dgm_group_norm_dparams_kernel(size_t n, size_t c, size_t groups,
                                                     size_t plane, const float *x,
                                                     const float *mean, const float *invstd,
                                                     const float *dy, float *dgamma,
                                                     float *dbeta)
{
    __shared__ dgm_gn_reduce::TempStorage temp;
    const size_t cg = c / groups;
    for (size_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
        double a = 0.0, b = 0.0;
        for (size_t i = threadIdx.x; i < n * plane; i += blockDim.x) {
            const size_t img = i / plane, p = i % plane, r = img * groups + ch / cg;
            const size_t k = (img * c + ch) * plane + p;
            a += (double)dy[k] * ((x[k] - mean[r]) * invstd[r]);
            b += dy[k];
        }
        a = dgm_gn_reduce(temp).Sum(a);
        __syncthreads();
        b = dgm_gn_reduce(temp).Sum(b);
        if (threadIdx.x == 0) {
            if (dgamma) dgamma[ch] += (float)a;
            if (dbeta) dbeta[ch] += (float)b;
        }
        __syncthreads();
    }
}

extern "C" dgm_status dgm_cuda_group_norm_backward(dgm_ctx *ctx, int64_t n, int64_t c,
                                                   int64_t plane, int64_t groups, const float *x,
                                                   const float *gamma, const float *mean,
                                                   const float *invstd, const float *dy,
                                                   float beta_dx, float *dx, float *dgamma,
                                                   float *dbeta)
{
    const size_t rows = (size_t)(n * groups);
    if (rows == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    if (dx) {
        dgm_group_norm_dx_kernel<<<dgm_gn_blocks(rows), DGM_CUDA_BLOCK, 0, st->stream>>>(
            rows, (size_t)groups, (size_t)(c / groups), (size_t)plane, x, gamma, mean, invstd, dy,
            beta_dx, dx);
        DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_group_norm_dx_kernel");
    }
    if (dgamma || dbeta) {
        dgm_group_norm_dparams_kernel<<<dgm_gn_blocks((size_t)c), DGM_CUDA_BLOCK, 0, st->stream>>>(
            (size_t)n, (size_t)c, (size_t)groups, (size_t)plane, x, mean, invstd, dy, dgamma, dbeta);
        DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_group_norm_dparams_kernel");
    }
    return DGM_STATUS_OK;
}
