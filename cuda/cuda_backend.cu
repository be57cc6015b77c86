/* The CUDA backend's table: per-context state (stream, cuBLAS handle, cuRAND Philox
 * generator), memory, copies, random numbers, gemm and axpy, and the probe that says
 * whether CUDA is usable at all. The kernels live in cuda_elementwise.cu, cuda_reduce.cu,
 * cuda_nn.cu and cuda_optim.cu.
 *
 * All work of a context is queued on its own stream; only copies to or from the host and
 * synchronize wait for it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <climits>

#include "cuda_internal.h"
#include "rng_math.h"

/* ---- probe ---- */

extern "C" dgm_status dgm_cuda_probe(char *why, size_t why_len)
{
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        (void)cudaGetLastError(); /* leave no error behind for this thread */
        if (why && why_len > 0) snprintf(why, why_len, "%s", cudaGetErrorString(err));
        return DGM_STATUS_NO_DEVICE;
    }
    if (count <= 0) {
        if (why && why_len > 0) snprintf(why, why_len, "no CUDA-capable GPU was found");
        return DGM_STATUS_NO_DEVICE;
    }
    if (why && why_len > 0) why[0] = '\0';
    return DGM_STATUS_OK;
}

/* ---- random numbers ---- */

static dgm_status dgm_cuda_seed_generator(dgm_ctx *ctx, curandGenerator_t rng, uint64_t seed,
                                          uint64_t offset)
{
    DGM_CURAND_TRY(ctx, curandSetPseudoRandomGeneratorSeed(rng, (unsigned long long)seed));
    DGM_CURAND_TRY(ctx, curandSetGeneratorOffset(rng, (unsigned long long)offset));
    return DGM_STATUS_OK;
}

static dgm_status dgm_cuda_rng_seed(dgm_ctx *ctx, uint64_t seed, uint64_t offset)
{
    DGM_CUDA_ENTER(ctx, st);
    return dgm_cuda_seed_generator(ctx, st->rng, seed, offset);
}

static dgm_status dgm_cuda_rng_words(dgm_ctx *ctx, uint32_t *dst, size_t n)
{
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    DGM_CURAND_TRY(ctx, curandGenerate(st->rng, (unsigned int *)dst, n));
    return DGM_STATUS_OK;
}

/* One thread per value; a normal's thread computes its whole Box–Muller pair and keeps
 * its half (the rule of rng_math.h, the same function as the CPU backend's). */
static __global__ void dgm_rng_transform_kernel(int normal, const uint32_t *words, size_t first,
                                                size_t n, float *dst)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)blockDim.x * gridDim.x)
        dst[i] = dgm_rng_value(normal, words, first + i);
}

static dgm_status dgm_cuda_rng_transform(dgm_ctx *ctx, int normal, const uint32_t *words,
                                         size_t first, size_t n, float *dst)
{
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    dgm_rng_transform_kernel<<<dgm_cuda_grid(n), DGM_CUDA_BLOCK, 0, st->stream>>>(
        normal, words, first, n, dst);
    DGM_CUDA_CHECK_LAUNCH(ctx, "dgm_rng_transform_kernel");
    return DGM_STATUS_OK;
}

/* ---- state ---- */

/* Frees whatever was created; errors are dropped (nothing can be reported here). */
static void dgm_cuda_destroy(dgm_cuda_state *st)
{
    if (st == NULL) return;
    if (cudaSetDevice(st->device) == cudaSuccess) {
        if (st->stream) (void)cudaStreamSynchronize(st->stream);
        if (st->rng) (void)curandDestroyGenerator(st->rng);
        if (st->cublas) (void)cublasDestroy(st->cublas);
        if (st->scratch) (void)cudaFree(st->scratch);
        if (st->stream) (void)cudaStreamDestroy(st->stream);
    }
    (void)cudaGetLastError();
    free(st);
}

static dgm_status dgm_cuda_create(dgm_ctx *ctx, dgm_cuda_state *st, uint64_t seed)
{
    cudaError_t err = cudaSetDevice(st->device);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        bool no_device = err == cudaErrorInvalidDevice || err == cudaErrorNoDevice ||
                         err == cudaErrorInsufficientDriver ||
                         err == cudaErrorDevicesUnavailable || err == cudaErrorStubLibrary;
        return dgm_set_error(ctx, no_device ? DGM_STATUS_NO_DEVICE : DGM_STATUS_BACKEND_ERROR,
                             "CUDA: cannot use GPU %d: %s (%s)", st->device,
                             cudaGetErrorString(err), cudaGetErrorName(err));
    }
    /* Non-blocking: no implicit synchronization with the legacy default stream. */
    DGM_CUDA_TRY(ctx, cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking));
    DGM_CUBLAS_TRY(ctx, cublasCreate(&st->cublas));
    DGM_CUBLAS_TRY(ctx, cublasSetStream(st->cublas, st->stream));
    /* Full FP32 (no TF32 tensor cores), so gemm matches the CPU backend. */
    DGM_CUBLAS_TRY(ctx, cublasSetMathMode(st->cublas, CUBLAS_DEFAULT_MATH));
    DGM_CURAND_TRY(ctx, curandCreateGenerator(&st->rng, CURAND_RNG_PSEUDO_PHILOX4_32_10));
    /* The CPU backend's host generator must give the same numbers for the same seed and
     * offset. The ordering is pinned, not left at DEFAULT: curand.h documents LEGACY as
     * "guaranteed to remain the same for all cuRAND release[s]", while DEFAULT is "same as
     * BEST" (free to change between releases) and DYNAMIC is "adjusted to the device"; the
     * host generator accepts only DEFAULT, BEST and LEGACY for Philox (DYNAMIC and SEEDED
     * give CURAND_STATUS_OUT_OF_RANGE there, checked with cuRAND 13). So LEGACY on both. */
    DGM_CURAND_TRY(ctx, curandSetGeneratorOrdering(st->rng, CURAND_ORDERING_PSEUDO_LEGACY));
    DGM_CURAND_TRY(ctx, curandSetStream(st->rng, st->stream));
    return dgm_cuda_seed_generator(ctx, st->rng, seed, 0);
}

static dgm_status dgm_cuda_init(dgm_ctx *ctx, int device_index, uint64_t seed, void **state)
{
    *state = NULL;
    dgm_cuda_state *st = (dgm_cuda_state *)calloc(1, sizeof *st);
    if (st == NULL)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "CUDA: out of host memory for the backend state");
    st->device = device_index;
    dgm_status s = dgm_cuda_create(ctx, st, seed);
    if (s != DGM_STATUS_OK) {
        dgm_cuda_destroy(st);
        return s;
    }
    *state = st;
    return DGM_STATUS_OK;
}

static void dgm_cuda_shutdown(void *state)
{
    dgm_cuda_destroy((dgm_cuda_state *)state);
}

/* ---- memory ---- */

static dgm_status dgm_cuda_alloc(dgm_ctx *ctx, size_t bytes, void **ptr)
{
    *ptr = NULL;
    DGM_CUDA_ENTER(ctx, st);
    (void)st;
    /* 0 bytes still gives a distinct pointer, as the CPU backend's alloc does. */
    cudaError_t err = cudaMalloc(ptr, bytes ? bytes : 1);
    if (err != cudaSuccess) {
        *ptr = NULL;
        (void)cudaGetLastError(); /* clear it, or the next launch check reports it */
        if (err == cudaErrorMemoryAllocation)
            return dgm_set_error(ctx, DGM_STATUS_OOM,
                                 "CUDA: cudaMalloc of %zu bytes failed: out of device memory",
                                 bytes);
        return dgm_cuda_fail(ctx, err, "cudaMalloc");
    }
    return DGM_STATUS_OK;
}

/* The caller drops its pointer whatever happens (every caller forgets the buffer after
 * free), so a failure cannot leave it dangling; a failure is recorded as the context's
 * last error, since free returns nothing, and cleared so the next launch is not blamed. */
static void dgm_cuda_free(dgm_ctx *ctx, void *ptr)
{
    if (ptr == NULL) return;
    dgm_cuda_state *st = (dgm_cuda_state *)dgm_ctx_backend_state(ctx);
    const char *what = "cudaSetDevice";
    cudaError_t err = cudaSetDevice(st->device);
    if (err == cudaSuccess) {
        /* Kernels queued on the stream may still use the memory. */
        what = "cudaStreamSynchronize before cudaFree";
        err = cudaStreamSynchronize(st->stream);
        const cudaError_t free_err = cudaFree(ptr);
        if (err == cudaSuccess) {
            what = "cudaFree";
            err = free_err;
        }
    }
    if (err != cudaSuccess) (void)dgm_cuda_fail(ctx, err, what);
    (void)cudaGetLastError();
}

static dgm_status dgm_cuda_copy(dgm_ctx *ctx, void *dst, const void *src, size_t bytes,
                                dgm_copy_kind kind)
{
    if (bytes == 0 || dst == src) return DGM_STATUS_OK; /* cudaMemcpy forbids overlap */
    DGM_CUDA_ENTER(ctx, st);
    cudaMemcpyKind k = kind == DGM_COPY_HOST_TO_DEVICE   ? cudaMemcpyHostToDevice
                       : kind == DGM_COPY_DEVICE_TO_HOST ? cudaMemcpyDeviceToHost
                                                         : cudaMemcpyDeviceToDevice;
    DGM_CUDA_TRY(ctx, cudaMemcpyAsync(dst, src, bytes, k, st->stream));
    /* The host buffer belongs to the caller again when copy returns. */
    if (kind != DGM_COPY_DEVICE_TO_DEVICE) DGM_CUDA_TRY(ctx, cudaStreamSynchronize(st->stream));
    return DGM_STATUS_OK;
}

static dgm_status dgm_cuda_synchronize(dgm_ctx *ctx)
{
    DGM_CUDA_ENTER(ctx, st);
    DGM_CUDA_TRY(ctx, cudaStreamSynchronize(st->stream));
    return DGM_STATUS_OK;
}

/* ---- BLAS ---- */

static bool dgm_fits_int(int64_t v)
{
    return v >= 0 && v <= INT_MAX;
}

/* Row-major C = alpha·op(A)·op(B) + beta·C is column-major C^T = op(B)^T·op(A)^T: the
 * same buffers, operands swapped, m and n swapped. */
static dgm_status dgm_cuda_gemm(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                                int64_t k, float alpha, const float *a, int64_t lda,
                                const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (m == 0 || n == 0) return DGM_STATUS_OK;
    if (k == 0) return dgm_cuda_scale_cols(ctx, m, n, beta, c, ldc);
    DGM_CUDA_ENTER(ctx, st);
    cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (dgm_fits_int(m) && dgm_fits_int(n) && dgm_fits_int(k) && dgm_fits_int(lda) &&
        dgm_fits_int(ldb) && dgm_fits_int(ldc)) {
        DGM_CUBLAS_TRY(ctx, cublasSgemm(st->cublas, op_b, op_a, (int)n, (int)m, (int)k, &alpha,
                                        b, (int)ldb, a, (int)lda, &beta, c, (int)ldc));
    } else {
        DGM_CUBLAS_TRY(ctx, cublasSgemm_64(st->cublas, op_b, op_a, n, m, k, &alpha, b, ldb, a,
                                           lda, &beta, c, ldc));
    }
    return DGM_STATUS_OK;
}

static dgm_status dgm_cuda_axpy(dgm_ctx *ctx, size_t n, float alpha, const float *x, float *y)
{
    if (n == 0) return DGM_STATUS_OK;
    DGM_CUDA_ENTER(ctx, st);
    DGM_CUBLAS_TRY(ctx, cublasSaxpy_64(st->cublas, (int64_t)n, &alpha, x, 1, y, 1));
    return DGM_STATUS_OK;
}

/* ---- the table ---- */

static const dgm_backend dgm_cuda_table = {
    "cuda",                               /* name */
    DGM_DEVICE_CUDA,                      /* device */
    dgm_cuda_init,                        /* init */
    dgm_cuda_shutdown,                    /* shutdown */
    dgm_cuda_alloc,                       /* alloc */
    dgm_cuda_free,                        /* free */
    dgm_cuda_copy,                        /* copy */
    dgm_cuda_fill,                        /* fill */
    dgm_cuda_synchronize,                 /* synchronize */
    dgm_cuda_rng_seed,                    /* rng_seed */
    dgm_cuda_rng_words,                   /* rng_words */
    dgm_cuda_rng_transform,               /* rng_transform */
    dgm_cuda_gemm,                        /* gemm */
    dgm_cuda_unary,                       /* unary */
    dgm_cuda_unary_backward,              /* unary_backward */
    dgm_cuda_binary,                      /* binary */
    dgm_cuda_binary_backward,             /* binary_backward */
    dgm_cuda_reduce_sum,                  /* reduce_sum */
    dgm_cuda_broadcast,                   /* broadcast */
    dgm_cuda_logsumexp_rows,              /* logsumexp_rows */
    dgm_cuda_logsumexp_rows_backward,     /* logsumexp_rows_backward */
    dgm_cuda_copy_cols,                   /* copy_cols */
    dgm_cuda_maxout,                      /* maxout */
    dgm_cuda_maxout_backward,             /* maxout_backward */
    dgm_cuda_batchnorm_forward,           /* batchnorm_forward */
    dgm_cuda_batchnorm_backward,          /* batchnorm_backward */
    dgm_cuda_group_norm_forward,          /* group_norm_forward */
    dgm_cuda_group_norm_backward,         /* group_norm_backward */
    dgm_cuda_axpy,                        /* axpy */
    dgm_cuda_gather_rows,                 /* gather_rows */
    dgm_cuda_sgd_step,                    /* sgd_step */
    dgm_cuda_adam_step,                   /* adam_step */
    dgm_cuda_sum_squares,                 /* sum_squares */
    dgm_cuda_clip_scale,                  /* clip_scale */
    dgm_cuda_ema_update,                  /* ema_update */
    dgm_cuda_swap,                        /* swap */
    dgm_cuda_im2col,                      /* im2col */
    dgm_cuda_col2im,                      /* col2im */
    dgm_cuda_swap_axes,                   /* swap_axes */
    dgm_cuda_resample2d,                  /* resample2d */
    NULL,                                 /* conv_forward: the im2col method */
    NULL,                                 /* conv_data */
    NULL,                                 /* conv_weight */
    NULL,                                 /* conv_backward */
    dgm_cuda_gemm_batched,                /* gemm_batched */
    dgm_cuda_unary_backward2,             /* unary_backward2 */
    dgm_cuda_unary_backward3,             /* unary_backward3 */
};

extern "C" const dgm_backend *dgm_cuda_backend(void)
{
    return &dgm_cuda_table;
}
