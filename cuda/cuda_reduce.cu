/* Reductions of the CUDA backend: sums over rows, columns or everything, and the
 * row-wise logsumexp with its gradient.
 *
 * Row and column sums are cuBLAS gemv against a vector of ones, which applies alpha and
 * beta (beta 0 never reads y). The sum of everything is a cub::DeviceReduce in double
 * (as the CPU backend sums) into scratch memory, then one thread applies
 * y = beta·y + alpha·sum. All of these are deterministic from run to run (no atomics).
 */
#include <cub/block/block_reduce.cuh>
#include <cub/device/device_reduce.cuh>

#include "cuda_internal.h"

/* ---- growing workspaces (owned by the state, freed by shutdown) ---- */

/* Queued kernels may still read the old buffer, so wait for them before freeing it. */
static dgm_status dgm_cuda_regrow(dgm_ctx *ctx, dgm_cuda_state *st, void **buf, size_t bytes)
{
    DGM_CUDA_TRY(ctx, cudaStreamSynchronize(st->stream));
    if (*buf) {
        DGM_CUDA_TRY(ctx, cudaFree(*buf));
        *buf = NULL;
    }
    DGM_CUDA_TRY(ctx, cudaMalloc(buf, bytes));
    return DGM_STATUS_OK;
}

/* At least n ones. */
static dgm_status dgm_cuda_ones(dgm_ctx *ctx, dgm_cuda_state *st, size_t n, const float **out)
{
    if (st->ones_len < n) {
        size_t len = n < 1024 ? 1024 : n;
        st->ones_len = 0;
        dgm_status s = dgm_cuda_regrow(ctx, st, (void **)&st->ones, len * sizeof(float));
        if (s != DGM_STATUS_OK) return s;
        s = dgm_cuda_fill(ctx, st->ones, len, 1.0f);
        if (s != DGM_STATUS_OK) return s;
        st->ones_len = len;
    }
    *out = st->ones;
    return DGM_STATUS_OK;
}

/* At least `bytes` of scratch. */
static dgm_status dgm_cuda_scratch(dgm_ctx *ctx, dgm_cuda_state *st, size_t bytes, void **out)
{
    if (st->scratch_bytes < bytes) {
        size_t len = bytes < 4096 ? 4096 : bytes;
        st->scratch_bytes = 0;
        dgm_status s = dgm_cuda_regrow(ctx, st, &st->scratch, len);
        if (s != DGM_STATUS_OK) return s;
        st->scratch_bytes = len;
    }
    *out = st->scratch;
    return DGM_STATUS_OK;
}

/* ---- reduce_sum ---- */

/* y[i] = beta·y[i] + alpha·s[i] for i < n; s NULL is an empty sum (0). */
static __global__ void dgm_scale_add_kernel(size_t n, float alpha, const float *s, float beta,
                                            float *y)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)blockDim.x * gridDim.x)
        y[i] = dgm_axpby(beta, y[i], alpha * (s ? s[i] : 0.0f));
}

static void dgm_scale_add_launch(cudaStream_t stream, size_t n, float alpha, const float *s,
                                 float beta, float *y)
{
    dgm_scale_add_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(n, alpha, s, beta, y);
}

/* y[0] = beta·y[0] + alpha·(float)sum, the sum in double as the CPU backend's. */
static __global__ void dgm_finish_sum_kernel(float alpha, const double *sum, float beta, float *y)
{
    if (blockIdx.x == 0 && threadIdx.x == 0) y[0] = dgm_axpby(beta, y[0], alpha * (float)*sum);
}

static void dgm_finish_sum_launch(cudaStream_t stream, float alpha, const double *sum,
                                  float beta, float *y)
{
    dgm_finish_sum_kernel<<<1, 32, 0, stream>>>(alpha, sum, beta, y);
}

struct dgm_to_double_op {
    __device__ double operator()(float v) const { return (double)v; }
};
struct dgm_add_double_op {
    __device__ double operator()(double a, double b) const { return a + b; }
};

/* y[0] = beta·y[0] + alpha·sum of the n values of x. */
static dgm_status dgm_cuda_sum_all(dgm_ctx *ctx, dgm_cuda_state *st, size_t n, float alpha,
                                   const float *x, float beta, float *y)
{
    /* Scratch holds the sum in its first 256 bytes (cub's alignment), then cub's space. */
    const size_t head = 256;
    size_t temp_bytes = 0;
    DGM_CUDA_TRY(ctx, cub::DeviceReduce::TransformReduce(NULL, temp_bytes, x, (double *)NULL, n,
                                                         dgm_add_double_op(),
                                                         dgm_to_double_op(), 0.0, st->stream));
    void *scratch = NULL;
    dgm_status s = dgm_cuda_scratch(ctx, st, head + temp_bytes, &scratch);
    if (s != DGM_STATUS_OK) return s;
    double *sum = (double *)scratch;
    DGM_CUDA_TRY(ctx, cub::DeviceReduce::TransformReduce((char *)scratch + head, temp_bytes, x,
                                                         sum, n, dgm_add_double_op(),
                                                         dgm_to_double_op(), 0.0, st->stream));
    dgm_finish_sum_launch(st->stream, alpha, sum, beta, y);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_finish_sum_kernel");
    return DGM_STATUS_OK;
}

extern "C" dgm_status dgm_cuda_reduce_sum(dgm_ctx *ctx, int axis, int64_t rows, int64_t cols,
                                          float alpha, const float *x, float beta, float *y)
{
    /* Row-major x [rows, cols] is, to column-major cuBLAS, X [cols, rows] with ld cols. */
    size_t out_len = axis == 1 ? (size_t)rows : axis == 2 ? (size_t)cols : 1;
    size_t sum_len = axis == 1 ? (size_t)cols : axis == 2 ? (size_t)rows
                                                          : (size_t)rows * (size_t)cols;
    if (out_len == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    if (sum_len == 0) {
        /* Empty sums: gemv would return without scaling y. */
        dgm_scale_add_launch(st->stream, out_len, alpha, NULL, beta, y);
        DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_scale_add_kernel");
        return DGM_STATUS_OK;
    }
    if (axis != 1 && axis != 2) return dgm_cuda_sum_all(ctx, st, sum_len, alpha, x, beta, y);

    const float *ones = NULL;
    dgm_status s = dgm_cuda_ones(ctx, st, sum_len, &ones);
    if (s != DGM_STATUS_OK) return s;
    /* ROWS: y[rows] = X^T·1; COLS: y[cols] = X·1. */
    cublasOperation_t op = axis == 1 ? CUBLAS_OP_T : CUBLAS_OP_N;
    DGM_CUBLAS_TRY(ctx, cublasSgemv_64(st->cublas, op, cols, rows, &alpha, x, cols, ones, 1,
                                       &beta, y, 1));
    return DGM_STATUS_OK;
}

/* ---- logsumexp over rows ---- */

/* fmaxf skips a NaN operand, as the CPU backend's running fmaxf does. */
struct dgm_fmax_op {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/* One block per row (grid-stride over rows): the maximum, then the sum of exp(x - max),
 * in double like the CPU backend. */
static __global__ void dgm_logsumexp_rows_kernel(size_t rows, size_t cols, const float *x,
                                                 float *y)
{
    __shared__ union {
        cub::BlockReduce<float, DGM_CUDA_BLOCK>::TempStorage max;
        cub::BlockReduce<double, DGM_CUDA_BLOCK>::TempStorage sum;
    } temp;
    __shared__ float shared_max;
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *row = x + r * cols;
        float m = -INFINITY;
        for (size_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, row[c]);
        m = cub::BlockReduce<float, DGM_CUDA_BLOCK>(temp.max).Reduce(m, dgm_fmax_op());
        if (threadIdx.x == 0) shared_max = m;
        __syncthreads(); /* publishes the maximum; temp may be reused */
        m = shared_max;
        /* All -inf, or a +inf: the answer is the maximum itself (x - max would be NaN). */
        if (!isinf(m)) {
            double s = 0.0;
            for (size_t c = threadIdx.x; c < cols; c += blockDim.x)
                s += exp((double)(row[c] - m));
            s = cub::BlockReduce<double, DGM_CUDA_BLOCK>(temp.sum).Sum(s);
            if (threadIdx.x == 0) y[r] = m + (float)log(s);
        } else if (threadIdx.x == 0) {
            y[r] = m;
        }
        /* temp and shared_max are reused by the next row. */
        __syncthreads();
    }
}

static void dgm_logsumexp_rows_launch(cudaStream_t stream, size_t rows, size_t cols,
                                      const float *x, float *y)
{
    unsigned grid = rows > DGM_CUDA_MAX_GRID ? DGM_CUDA_MAX_GRID : (unsigned)rows;
    dgm_logsumexp_rows_kernel<<<grid, DGM_CUDA_BLOCK, 0, stream>>>(rows, cols, x, y);
}

extern "C" dgm_status dgm_cuda_logsumexp_rows(dgm_ctx *ctx, int64_t rows, int64_t cols,
                                              const float *x, float *y)
{
    if (rows == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_logsumexp_rows_launch(st->stream, (size_t)rows, (size_t)cols, x, y);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_logsumexp_rows_kernel");
    return DGM_STATUS_OK;
}

/* dx[r,c] = beta·dx[r,c] + dy[r]·exp(x[r,c] - y[r]). */
static __global__ void dgm_logsumexp_rows_backward_kernel(size_t n, size_t cols,
                                                          const float *x, const float *y,
                                                          const float *dy, float beta,
                                                          float *dx)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)blockDim.x * gridDim.x) {
        size_t r = i / cols;
        dx[i] = dgm_axpby(beta, dx[i], dy[r] * expf(x[i] - y[r]));
    }
}

static void dgm_logsumexp_rows_backward_launch(cudaStream_t stream, size_t n, size_t cols,
                                               const float *x, const float *y, const float *dy,
                                               float beta, float *dx)
{
    dgm_logsumexp_rows_backward_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, stream>>>(
        n, cols, x, y, dy, beta, dx);
}

extern "C" dgm_status dgm_cuda_logsumexp_rows_backward(dgm_ctx *ctx, int64_t rows,
                                                       int64_t cols, const float *x,
                                                       const float *y, const float *dy,
                                                       float beta, float *dx)
{
    size_t n = (size_t)rows * (size_t)cols;
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_logsumexp_rows_backward_launch(st->stream, n, (size_t)cols, x, y, dy, beta, dx);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_logsumexp_rows_backward_kernel");
    return DGM_STATUS_OK;
}
