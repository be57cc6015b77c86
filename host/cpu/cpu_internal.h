/* The CPU backend's entries, shared between its files. */
#ifndef DGM_CPU_INTERNAL_H
#define DGM_CPU_INTERNAL_H

#include <omp.h>

#include "backend.h"
#include "cpu/cpu_fpenv.h"

/* The hot elementwise entries are compiled twice on x86-64, for AVX2 + FMA and for the
 * baseline the build targets (SSE2), and the dynamic loader picks one for the CPU it runs
 * on (an ifunc): one binary for every x86-64 machine, with the wide vectors where they
 * exist (GCC only). Measured on a DDPM step (2-D, batch 256): GELU, the time embedding's sin/cos and
 * Adam run about twice as fast. The activations (DGM_CPU_CLONES_WIDE: polynomials, compute
 * bound) get a third clone for AVX-512 (x86-64-v4), kept only there because only there it
 * pays: on a Sapphire Rapids Xeon (bench_elementwise, [256, 128]) GELU, SiLU, tanh, sigmoid
 * and softplus ran in 0.53-0.66 of the AVX2 clone's time, their backward passes in 0.9,
 * while the memory-bound loops (add, mul, ReLU, Adam) ran the same and the row sums 1.2x
 * slower. Elsewhere (other CPUs, other compilers, -DDGM_NO_CLONES) the baseline only. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(DGM_NO_CLONES)
#define DGM_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#ifndef DGM_NO_AVX512_CLONES
#define DGM_CPU_CLONES_WIDE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DGM_CPU_CLONES_WIDE DGM_CPU_CLONES
#endif
#else /* clang's target_clones left the clones' symbols undefined in the libFuzzer build */
#define DGM_CPU_CLONES
#define DGM_CPU_CLONES_WIDE
#endif

/* Loops with fewer elements than this stay on one thread. With OpenBLAS built on OpenMP
 * (cmake/blas.cmake prefers it) the BLAS and these loops share libgomp's one pool, and
 * loops from 16k elements gain from both cores (measured on 2 cores: the VAE epoch 12 %
 * faster, the 2-D steps 2–10 %). With OpenBLAS's pthread build two pools spin against each
 * other: a VAE step on Fashion-MNIST ran 7x slower with 100k-element loops parallel, so
 * there only loops large enough to amortize that (4M) go parallel. Which build runs is
 * asked at run time (openblas_get_parallel: 2 is OpenMP), so a program that links libdgm.a
 * against either gets the right one. */
#define DGM_CPU_PARALLEL_MIN_SHARED_POOL ((size_t)1 << 14)
#define DGM_CPU_PARALLEL_MIN_OWN_POOL ((size_t)1 << 22)
int openblas_get_parallel(void); /* OpenBLAS: 0 sequential, 1 pthreads, 2 OpenMP */
static inline size_t dgm_cpu_parallel_min(void)
{
    return openblas_get_parallel() == 2 ? DGM_CPU_PARALLEL_MIN_SHARED_POOL
                                        : DGM_CPU_PARALLEL_MIN_OWN_POOL;
}

/* This thread's share [*lo, *hi) of n iterations in a parallel region: contiguous, cut at
 * multiples of 16 (a cache line of floats) so no two threads write one line. */
static inline void dgm_cpu_thread_range(size_t n, size_t *lo, size_t *hi)
{
    const size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
    const size_t lines = (n + 15) / 16;
    const size_t a = lines * t / nt * 16, b = lines * (t + 1) / nt * 16;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

/* for (size_t i = 0; i < n; i++) stmt — parallel when `work` (the element count that
 * decides) is large enough, else a plain loop. Each thread runs a plain loop over its own
 * range: GCC left the body of an `omp parallel for` unvectorized (Adam's update ran
 * scalar), while a plain loop inside `omp parallel` vectorizes, AVX2 clone included. The
 * statement is the variadic rest (it may contain commas). The threads compute in the
 * calling thread's floating-point mode (cpu_fpenv.h). */
#define DGM_CPU_LOOP(work, i, n, ...)                                                        \
    do {                                                                                      \
        if ((size_t)(work) >= dgm_cpu_parallel_min()) {                                       \
            const dgm_fp_mode dgm_fp_caller_ = dgm_fp_get();                                  \
            _Pragma("omp parallel")                                                           \
            {                                                                                 \
                DGM_CPU_FP_ADOPT(dgm_fp_caller_);                                             \
                size_t dgm_lo_, dgm_hi_;                                                      \
                dgm_cpu_thread_range((n), &dgm_lo_, &dgm_hi_);                                \
                for (size_t i = dgm_lo_; i < dgm_hi_; i++) {                                  \
                    __VA_ARGS__;                                                              \
                }                                                                             \
                DGM_CPU_FP_RESTORE();                                                         \
            }                                                                                 \
        } else {                                                                              \
            for (size_t i = 0; i < (n); i++) {                                                \
                __VA_ARGS__;                                                                  \
            }                                                                                 \
        }                                                                                     \
    } while (0)

/* for (int64_t i = 0; i < n; i++) stmt, shared out by `omp for` (static) when `cond`,
 * each thread in the calling thread's floating-point mode (cpu_fpenv.h). For loops whose
 * iterations are whole blocks of work (rows, column blocks); the statement is the
 * variadic rest and may `continue`. */
#define DGM_CPU_PARALLEL_FOR(cond, i, n, ...)                                                \
    do {                                                                                      \
        const int dgm_par_ = (cond);                                                          \
        const dgm_fp_mode dgm_fp_caller_ = dgm_fp_get();                                      \
        _Pragma("omp parallel if (dgm_par_)")                                                 \
        {                                                                                     \
            DGM_CPU_FP_ADOPT(dgm_fp_caller_);                                                 \
            _Pragma("omp for schedule(static)")                                               \
            for (int64_t i = 0; i < (n); i++) {                                               \
                __VA_ARGS__;                                                                  \
            }                                                                                 \
            DGM_CPU_FP_RESTORE();                                                             \
        }                                                                                     \
    } while (0)

/* x[0] + ... + x[n-1] (squares: of x[i]²) in double, in eight interleaved partial sums
 * (lane k takes i ≡ k mod 8) added pairwise at the end: one chain of dependent additions
 * ran at a quarter of the adder's speed; eight vectorize. One fixed order, so the same
 * sum for any thread count. */
static inline double dgm_cpu_sum(const float *x, int64_t n, int squares)
{
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            const double v = x[i + k];
            lane[k] += squares ? v * v : v;
        }
    for (int k = 0; i + k < n; k++) {
        const double v = x[i + k];
        lane[k] += squares ? v * v : v;
    }
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* cpu_small_gemm.c: C[m,n] = alpha·op(A)·op(B) + beta·C (dgm_cpu_gemm's arguments) by
 * dgm's own loops when a side is at most DGM_CPU_SMALL_DIM and the layout suits one of
 * them; returns 0 (C untouched) when OpenBLAS should take it. */
#define DGM_CPU_SMALL_DIM 4
int dgm_cpu_small_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc);
/* Whether dgm_cpu_small_gemm leaves an m x k A (k > DGM_CPU_SMALL_DIM) to OpenBLAS because
 * OpenBLAS runs AVX-512 kernels here, which beat the loops at those shapes. */
int dgm_cpu_small_gemm_defers(int64_t m, int64_t k);
dgm_status dgm_cpu_gemm(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc);
dgm_status dgm_cpu_unary(dgm_ctx *ctx, int kind, float pa, float pb, size_t n, const float *x,
                         float *y);
dgm_status dgm_cpu_unary_backward(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                  const float *x, const float *y, const float *dy, float beta,
                                  float *dx);
dgm_status dgm_cpu_unary_backward2(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                   const float *x, const float *y, const float *g,
                                   const float *dy, float beta, float *dx);
dgm_status dgm_cpu_unary_backward3(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                   const float *x, const float *y, const float *g,
                                   const float *dy, float beta, float *dx);
dgm_status dgm_cpu_binary(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols, const float *a,
                          int bcast_a, const float *b, int bcast_b, float *out);
dgm_status dgm_cpu_binary_backward(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols,
                                   const float *a, int bcast_a, const float *b, int bcast_b,
                                   const float *dy, float beta_a, float *da, float beta_b,
                                   float *db);
dgm_status dgm_cpu_reduce_sum(dgm_ctx *ctx, int axis, int64_t rows, int64_t cols, float alpha,
                              const float *x, float beta, float *y);
dgm_status dgm_cpu_broadcast(dgm_ctx *ctx, int bcast, int64_t rows, int64_t cols, float alpha,
                             const float *src, float beta, float *dst);
dgm_status dgm_cpu_logsumexp_rows(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *x,
                                  float *y);
dgm_status dgm_cpu_logsumexp_rows_backward(dgm_ctx *ctx, int64_t rows, int64_t cols,
                                           const float *x, const float *y, const float *dy,
                                           float beta, float *dx);
dgm_status dgm_cpu_copy_cols(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *src,
                             int64_t src_ld, float beta, float *dst, int64_t dst_ld);
/* cpu_dnnl.c: convolutions through oneDNN (built with DGM_HAVE_DNNL) and its per-context
 * state, made at the first convolution; the slot is in the backend's state, NULL when the
 * context was made with DGM_CPU_CONV=im2col in the environment (then the entries return
 * DGM_STATUS_UNSUPPORTED and the im2col method runs). */
struct dgm_dnnl_state;
struct dgm_dnnl_state **dgm_cpu_dnnl_slot(dgm_ctx *ctx);
void dgm_dnnl_release(struct dgm_dnnl_state *s);
dgm_status dgm_cpu_conv_forward(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                const float *w, const float *bias, float beta, float *y);
dgm_status dgm_cpu_conv_data(dgm_ctx *ctx, const dgm_conv_geom *g, const float *dy,
                             const float *w, float beta, float *dx);
dgm_status dgm_cpu_conv_weight(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                               const float *dy, float beta, float *dw, float *db);
dgm_status dgm_cpu_conv_backward(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                 const float *w, const float *dy, float beta_x, float *dx,
                                 float beta_w, float *dw, float *db);
/* cpu_group_norm.c */
dgm_status dgm_cpu_group_norm_forward(dgm_ctx *ctx, int64_t n, int64_t c, int64_t plane,
                                      int64_t groups, float eps, const float *x,
                                      const float *gamma, const float *beta, float *y,
                                      float *mean, float *invstd);
dgm_status dgm_cpu_group_norm_backward(dgm_ctx *ctx, int64_t n, int64_t c, int64_t plane,
                                       int64_t groups, const float *x, const float *gamma,
                                       const float *mean, const float *invstd, const float *dy,
                                       float beta_dx, float *dx, float *dgamma, float *dbeta);
/* cpu_conv.c: the spatial entries (backend.h) */
dgm_status dgm_cpu_im2col(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *x,
                          float *col);
dgm_status dgm_cpu_col2im(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *col,
                          float *dx);
dgm_status dgm_cpu_swap_axes(dgm_ctx *ctx, int64_t b, int64_t r, int64_t c, int64_t inner,
                             float alpha, const float *x, float beta, float *y);
dgm_status dgm_cpu_resample2d(dgm_ctx *ctx, int kind, int64_t planes, int64_t h, int64_t w,
                              int64_t f, float alpha, const float *x, float beta, float *y);
dgm_status dgm_cpu_gemm_batched(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                                int64_t k, float alpha, const float *a, int64_t lda,
                                int64_t stride_a, const float *b, int64_t ldb, int64_t stride_b,
                                float beta, float *c, int64_t ldc, int64_t stride_c,
                                int64_t batch);
dgm_status dgm_cpu_gather_rows(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *src,
                               const int32_t *idx, float *dst);
dgm_status dgm_cpu_axpy(dgm_ctx *ctx, size_t n, float alpha, const float *x, float *y);
dgm_status dgm_cpu_maxout(dgm_ctx *ctx, int64_t rows, int64_t cols, int k, const float *x,
                          float *y, int32_t *argmax);
dgm_status dgm_cpu_maxout_backward(dgm_ctx *ctx, int64_t rows, int64_t cols, int k,
                                   const int32_t *argmax, const float *dy, float beta,
                                   float *dx);
dgm_status dgm_cpu_batchnorm_forward(dgm_ctx *ctx, int training, int64_t rows, int64_t cols,
                                     float eps, float momentum, const float *x,
                                     const float *gamma, const float *beta,
                                     float *running_mean, float *running_var, float *y,
                                     float *save_mean, float *save_invstd);
dgm_status dgm_cpu_batchnorm_backward(dgm_ctx *ctx, int training, int64_t rows, int64_t cols,
                                      const float *x, const float *gamma,
                                      const float *save_mean, const float *save_invstd,
                                      const float *dy, float beta_dx, float *dx, float *dgamma,
                                      float *dbeta);

/* cpu_optim.c */
dgm_status dgm_cpu_sgd_step(dgm_ctx *ctx, size_t n, float *w, const float *g,
                            float *momentum_buf, float lr, float momentum, float dampening,
                            int nesterov, float weight_decay, int first_step);
dgm_status dgm_cpu_adam_step(dgm_ctx *ctx, size_t n, float *w, const float *g, float *m,
                             float *v, float lr, float beta1, float beta2, float eps,
                             float weight_decay, int decoupled, double bias_correction1,
                             double bias_correction2);
dgm_status dgm_cpu_sum_squares(dgm_ctx *ctx, size_t n, const float *x, void *work, float *out);
dgm_status dgm_cpu_clip_scale(dgm_ctx *ctx, size_t n, float *x, const float *sumsq,
                              float max_norm);
dgm_status dgm_cpu_ema_update(dgm_ctx *ctx, size_t n, float *ema, const float *w, float decay);
dgm_status dgm_cpu_swap(dgm_ctx *ctx, size_t n, float *a, float *b);

#endif
