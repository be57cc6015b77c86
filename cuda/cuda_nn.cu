/* Layer kernels of the CUDA backend: maxout and batch normalization (PyTorch's
 * BatchNorm1d over the rows of [rows, cols]), forward and backward.
 *
 * Batch norm runs one block per column (grid-stride over columns) and reduces with
 * cub::BlockReduce; the per-element work is dgm_batchnorm_apply / dgm_batchnorm_dx of
 * elementwise_math.h, shared with the CPU backend. Statistics are two-pass (mean, then
 * the mean of squared deviations) in double, mirroring the CPU backend's rounding.
 */
#include <cub/block/block_reduce.cuh>

#include "cuda_internal.h"

/* Column statistics are summed in double, as the CPU backend sums them. */
typedef cub::BlockReduce<double, DGM_CUDA_BLOCK> dgm_block_reduce;

static unsigned dgm_blocks_for(size_t count)
{
    return count > DGM_CUDA_MAX_GRID ? DGM_CUDA_MAX_GRID : (unsigned)count;
}

/* ---- maxout ---- */

/* One thread per output: the first maximum of each group of k (a later equal value or
 * a NaN never replaces it). */
static __global__ void dgm_maxout_kernel(size_t n, int k, const float *x, float *y,
                                         int32_t *argmax)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)blockDim.x * gridDim.x) {
        /* Output (r, j) of [rows, cols] reads x[r, j·k + t]: flat index i·k + t. */
        const float *g = x + i * (size_t)k;
        float best = g[0];
        int32_t at = 0;
        for (int t = 1; t < k; t++) {
            if (g[t] > best) {
                best = g[t];
                at = t;
            }
        }
        y[i] = best;
        argmax[i] = at;
    }
}

static void dgm_maxout_launch(cudaStream_t stream, size_t n, int k, const float *x, float *y,
                              int32_t *argmax)
{
    dgm_maxout_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(n, k, x, y, argmax);
}

extern "C" dgm_status dgm_cuda_maxout(dgm_ctx *ctx, int64_t rows, int64_t cols, int k,
                                      const float *x, float *y, int32_t *argmax)
{
    size_t n = (size_t)rows * (size_t)cols;
    if (n == 0 || k <= 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_maxout_launch(st->stream, n, k, x, y, argmax);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_maxout_kernel");
    return DGM_STATUS_OK;
}

/* One thread per element of dx [rows, cols·k]: dy where it was the group's maximum. */
static __global__ void dgm_maxout_backward_kernel(size_t n, int k, const int32_t *argmax,
                                                  const float *dy, float beta, float *dx)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)blockDim.x * gridDim.x) {
        size_t group = i / (size_t)k; /* flat index of (r, j) in [rows, cols] */
        int t = (int)(i % (size_t)k);
        float v = argmax[group] == t ? dy[group] : 0.0f;
        dx[i] = dgm_axpby(beta, dx[i], v);
    }
}

static void dgm_maxout_backward_launch(cudaStream_t stream, size_t n, int k,
                                       const int32_t *argmax, const float *dy, float beta,
                                       float *dx)
{
    dgm_maxout_backward_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(n, k, argmax, dy,
                                                                                beta, dx);
}

extern "C" dgm_status dgm_cuda_maxout_backward(dgm_ctx *ctx, int64_t rows, int64_t cols, int k,
                                               const int32_t *argmax, const float *dy,
                                               float beta, float *dx)
{
    size_t n = (size_t)rows * (size_t)cols * (size_t)(k > 0 ? k : 0);
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_maxout_backward_launch(st->stream, n, k, argmax, dy, beta, dx);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_maxout_backward_kernel");
    return DGM_STATUS_OK;
}

/* ---- batch norm forward ---- */

/* Training: mean and biased variance over the rows normalize; the running statistics
 * (when not NULL) move towards the mean and the unbiased variance. Eval: the running
 * statistics normalize. save_mean/save_invstd receive what was used (when not NULL).
 * Statistics are computed in double, rounded as the CPU backend rounds them. */
static __global__ void dgm_batchnorm_forward_kernel(int training, size_t rows, size_t cols,
                                                    float eps, float momentum, const float *x,
                                                    const float *gamma, const float *beta,
                                                    float *running_mean, float *running_var,
                                                    float *y, float *save_mean,
                                                    float *save_invstd)
{
    __shared__ dgm_block_reduce::TempStorage temp;
    __shared__ double shared_mean;
    __shared__ float shared_stats[2]; /* mean, invstd */
    for (size_t c = blockIdx.x; c < cols; c += gridDim.x) {
        if (training) {
            double s = 0.0;
            for (size_t r = threadIdx.x; r < rows; r += blockDim.x) s += x[r * cols + c];
            s = dgm_block_reduce(temp).Sum(s);
            if (threadIdx.x == 0) shared_mean = s / (double)rows;
            __syncthreads(); /* publishes the mean; temp may be reused */
            const double m = shared_mean;
            double ss = 0.0;
            for (size_t r = threadIdx.x; r < rows; r += blockDim.x) {
                const double d = x[r * cols + c] - m;
                ss += d * d;
            }
            ss = dgm_block_reduce(temp).Sum(ss);
            if (threadIdx.x == 0) {
                const double var = ss / (double)rows;
                const float mean = (float)m;
                shared_stats[0] = mean;
                shared_stats[1] = (float)(1.0 / sqrt(var + (double)eps));
                if (running_mean)
                    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
                if (running_var)
                    running_var[c] = (1.0f - momentum) * running_var[c] +
                                     momentum * (float)(ss / (double)(rows - 1));
            }
        } else if (threadIdx.x == 0) {
            shared_stats[0] = running_mean[c];
            shared_stats[1] = 1.0f / sqrtf(running_var[c] + eps);
        }
        __syncthreads();
        const float mean = shared_stats[0], invstd = shared_stats[1];
        if (threadIdx.x == 0) {
            if (save_mean) save_mean[c] = mean;
            if (save_invstd) save_invstd[c] = invstd;
        }
        const float g = gamma ? gamma[c] : 1.0f;
        const float b = beta ? beta[c] : 0.0f;
        for (size_t r = threadIdx.x; r < rows; r += blockDim.x)
            y[r * cols + c] = dgm_batchnorm_apply(x[r * cols + c], mean, invstd, g, b);
        __syncthreads(); /* the next column overwrites the shared values */
    }
}

static void dgm_batchnorm_forward_launch(cudaStream_t stream, int training, size_t rows,
                                         size_t cols, float eps, float momentum, const float *x,
                                         const float *gamma, const float *beta,
                                         float *running_mean, float *running_var, float *y,
                                         float *save_mean, float *save_invstd)
{
    dgm_batchnorm_forward_kernel<<<dgm_blocks_for(cols), DGM_CUDA_BLOCK, 0, stream>>>(
        training, rows, cols, eps, momentum, x, gamma, beta, running_mean, running_var, y,
        save_mean, save_invstd);
}

extern "C" dgm_status dgm_cuda_batchnorm_forward(dgm_ctx *ctx, int training, int64_t rows,
                                                 int64_t cols, float eps, float momentum,
                                                 const float *x, const float *gamma,
                                                 const float *beta, float *running_mean,
                                                 float *running_var, float *y,
                                                 float *save_mean, float *save_invstd)
{
    if (cols == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_batchnorm_forward_launch(st->stream, training, (size_t)rows, (size_t)cols, eps,
                                 momentum, x, gamma, beta, running_mean, running_var, y,
                                 save_mean, save_invstd);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_batchnorm_forward_kernel");
    return DGM_STATUS_OK;
}

/* ---- batch norm backward ---- */

/* Column sums of dy and dy·xhat (in double, as the CPU backend) feed dgamma/dbeta
 * (accumulated, +=) and, in training, the batch terms of dx; eval passes n = 0 to
 * dgm_batchnorm_dx (statistics are constants). dx, dgamma and dbeta may each be NULL. */
static __global__ void dgm_batchnorm_backward_kernel(int training, size_t rows, size_t cols,
                                                     const float *x, const float *gamma,
                                                     const float *save_mean,
                                                     const float *save_invstd, const float *dy,
                                                     float beta_dx, float *dx, float *dgamma,
                                                     float *dbeta)
{
    __shared__ dgm_block_reduce::TempStorage temp;
    __shared__ float shared_sums[2]; /* sum(dy), sum(dy·xhat) */
    const bool need_sums = dgamma || dbeta || (dx && training);
    const float n = training ? (float)rows : 0.0f;
    for (size_t c = blockIdx.x; c < cols; c += gridDim.x) {
        const float mean = save_mean[c], invstd = save_invstd[c];
        float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
        if (need_sums) { /* uniform across the block, so the barriers are safe */
            double sdy = 0.0, sdyx = 0.0;
            for (size_t r = threadIdx.x; r < rows; r += blockDim.x) {
                const size_t i = r * cols + c;
                sdy += dy[i];
                sdyx += dy[i] * (x[i] - mean) * invstd;
            }
            sdy = dgm_block_reduce(temp).Sum(sdy);
            __syncthreads(); /* temp is reused */
            sdyx = dgm_block_reduce(temp).Sum(sdyx);
            if (threadIdx.x == 0) {
                shared_sums[0] = (float)sdy;
                shared_sums[1] = (float)sdyx;
                if (dgamma) dgamma[c] += (float)sdyx;
                if (dbeta) dbeta[c] += (float)sdy;
            }
            __syncthreads();
            sum_dy = shared_sums[0];
            sum_dy_xhat = shared_sums[1];
        }
        if (dx) {
            const float g = gamma ? gamma[c] : 1.0f;
            for (size_t r = threadIdx.x; r < rows; r += blockDim.x) {
                const size_t i = r * cols + c;
                const float xhat = (x[i] - mean) * invstd;
                const float v =
                    dgm_batchnorm_dx(dy[i], xhat, g, invstd, sum_dy, sum_dy_xhat, n);
                dx[i] = dgm_axpby(beta_dx, dx[i], v);
            }
        }
        __syncthreads(); /* the next column overwrites the shared values */
    }
}

static void dgm_batchnorm_backward_launch(cudaStream_t stream, int training, size_t rows,
                                          size_t cols, const float *x, const float *gamma,
                                          const float *save_mean, const float *save_invstd,
                                          const float *dy, float beta_dx, float *dx,
                                          float *dgamma, float *dbeta)
{
    dgm_batchnorm_backward_kernel<<<dgm_blocks_for(cols), DGM_CUDA_BLOCK, 0, stream>>>(
        training, rows, cols, x, gamma, save_mean, save_invstd, dy, beta_dx, dx, dgamma, dbeta);
}

extern "C" dgm_status dgm_cuda_batchnorm_backward(dgm_ctx *ctx, int training, int64_t rows,
                                                  int64_t cols, const float *x,
                                                  const float *gamma, const float *save_mean,
                                                  const float *save_invstd, const float *dy,
                                                  float beta_dx, float *dx, float *dgamma,
                                                  float *dbeta)
{
    if (cols == 0 || (dx == NULL && dgamma == NULL && dbeta == NULL)) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_batchnorm_backward_launch(st->stream, training, (size_t)rows, (size_t)cols, x, gamma,
                                  save_mean, save_invstd, dy, beta_dx, dx, dgamma, dbeta);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_batchnorm_backward_kernel");
    return DGM_STATUS_OK;
}
