/* Reductions of the CUDA backend: sums over rows, columns or everything, and the
 * row-wise logsumexp with its gradient.
 *
 * Every sum accumulates in double, as the CPU backend (the reference) does, so both round
 * the same double-precision sum to float and agree to a float ulp or so at any length: a
 * warp per row, a 32-column tile per block for columns (8 row groups combined in shared
 * memory), and cub::DeviceReduce for everything. (cuBLAS gemv with a ones vector, used
 * before, sums in float: its error grows with the length and differs from the CPU's.)
 * beta 0 never reads y. All of these are deterministic from run to run (no atomics).
 */
#include <cub/block/block_reduce.cuh>
#include <cub/device/device_reduce.cuh>
#include <cub/warp/warp_reduce.cuh>

#include "cuda_internal.h"
#include "dgm/ops.h"

/* ---- growing workspaces (owned by the state, freed by shutdown) ---- */

/* Queued kernels may still read the old buffer, so wait for them before freeing it. The
 * old pointer is forgotten before the result of cudaFree is checked: after a failed free
 * it must not be freed again (by the next regrow or by shutdown) nor used (leaking it is
 * the lesser harm). A failed cudaMalloc leaves *buf NULL as well. */
static dgm_status dgm_cuda_regrow(dgm_ctx *ctx, dgm_cuda_state *st, void **buf, size_t bytes)
{
    DGM_CUDA_TRY(ctx, cudaStreamSynchronize(st->stream));
    if (*buf) {
        void *old = *buf;
        *buf = NULL;
        DGM_CUDA_TRY(ctx, cudaFree(old));
    }
    cudaError_t err = cudaMalloc(buf, bytes);
    if (err != cudaSuccess) {
        *buf = NULL;
        return dgm_cuda_fail(ctx, err, "cudaMalloc of a reduction workspace");
    }
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

/* y[r] = beta·y[r] + alpha·sum of row r: one warp per row (grid-stride over rows). */
#define DGM_WARPS_PER_BLOCK (DGM_CUDA_BLOCK / 32)

static __global__ void dgm_row_sums_kernel(size_t rows, size_t cols, float alpha,
                                           const float *x, float beta, float *y)
{
    typedef cub::WarpReduce<double> warp_reduce;
    __shared__ typename warp_reduce::TempStorage temp[DGM_WARPS_PER_BLOCK];
    const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const size_t stride = (size_t)gridDim.x * DGM_WARPS_PER_BLOCK;
    /* r is the same for the 32 lanes of a warp, so the whole warp reduces together. */
    for (size_t r = (size_t)blockIdx.x * DGM_WARPS_PER_BLOCK + warp; r < rows; r += stride) {
        const float *row = x + r * cols;
        double s = 0.0;
        for (size_t c = lane; c < cols; c += 32) s += row[c];
        s = warp_reduce(temp[warp]).Sum(s);
        if (lane == 0) y[r] = dgm_axpby(beta, y[r], alpha * (float)s);
        __syncwarp(); /* temp[warp] is reused by the next row */
    }
}

static void dgm_row_sums_launch(cudaStream_t stream, size_t rows, size_t cols, float alpha,
                                const float *x, float beta, float *y)
{
    size_t blocks = (rows + DGM_WARPS_PER_BLOCK - 1) / DGM_WARPS_PER_BLOCK;
    unsigned grid = blocks > DGM_CUDA_MAX_GRID ? DGM_CUDA_MAX_GRID : (unsigned)blocks;
    dgm_row_sums_kernel<<<grid, DGM_CUDA_BLOCK, 0, stream>>>(rows, cols, alpha, x, beta, y);
}

/* y[c] = beta·y[c] + alpha·sum of column c: a block per tile of 32 columns (grid-stride
 * over tiles); its 8 row groups read coalesced rows of the tile, then thread row 0 adds
 * the 8 partial sums. */
#define DGM_COL_TILE 32
#define DGM_COL_GROUPS (DGM_CUDA_BLOCK / DGM_COL_TILE)

static __global__ void dgm_col_sums_kernel(size_t rows, size_t cols, float alpha,
                                           const float *x, float beta, float *y)
{
    __shared__ double part[DGM_COL_GROUPS][DGM_COL_TILE];
    const unsigned tx = threadIdx.x % DGM_COL_TILE, ty = threadIdx.x / DGM_COL_TILE;
    for (size_t c0 = (size_t)blockIdx.x * DGM_COL_TILE; c0 < cols;
         c0 += (size_t)gridDim.x * DGM_COL_TILE) {
        const size_t c = c0 + tx;
        double s = 0.0;
        if (c < cols)
            for (size_t r = ty; r < rows; r += DGM_COL_GROUPS) s += x[r * cols + c];
        part[ty][tx] = s;
        __syncthreads();
        if (ty == 0 && c < cols) {
            double t = 0.0;
            for (int g = 0; g < DGM_COL_GROUPS; g++) t += part[g][tx];
            y[c] = dgm_axpby(beta, y[c], alpha * (float)t);
        }
        __syncthreads(); /* part is reused by the next tile */
    }
}

static void dgm_col_sums_launch(cudaStream_t stream, size_t rows, size_t cols, float alpha,
                                const float *x, float beta, float *y)
{
    size_t tiles = (cols + DGM_COL_TILE - 1) / DGM_COL_TILE;
    unsigned grid = tiles > DGM_CUDA_MAX_GRID ? DGM_CUDA_MAX_GRID : (unsigned)tiles;
    dgm_col_sums_kernel<<<grid, DGM_CUDA_BLOCK, 0, stream>>>(rows, cols, alpha, x, beta, y);
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
    DGM_CUDA_CHECK_KIND(ctx, "reduce_sum", "axis", axis, DGM_AXIS_COLS + 1);
    size_t out_len = axis == DGM_AXIS_ROWS ? (size_t)rows : axis == DGM_AXIS_COLS ? (size_t)cols : 1;
    size_t sum_len = axis == DGM_AXIS_ROWS ? (size_t)cols : axis == DGM_AXIS_COLS ? (size_t)rows
                                                          : (size_t)rows * (size_t)cols;
    if (out_len == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    if (sum_len == 0) {
        /* Empty sums: y = beta·y (0 when beta is 0). */
        dgm_scale_add_launch(st->stream, out_len, alpha, NULL, beta, y);
        DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_scale_add_kernel");
        return DGM_STATUS_OK;
    }
    if (axis == DGM_AXIS_ALL) return dgm_cuda_sum_all(ctx, st, sum_len, alpha, x, beta, y);
    if (axis == DGM_AXIS_ROWS) {
        dgm_row_sums_launch(st->stream, (size_t)rows, (size_t)cols, alpha, x, beta, y);
        DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_row_sums_kernel");
    } else {
        dgm_col_sums_launch(st->stream, (size_t)rows, (size_t)cols, alpha, x, beta, y);
        DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_col_sums_kernel");
    }
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
