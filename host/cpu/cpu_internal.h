/* The CPU backend's entries, shared between its files. */
#ifndef DGM_CPU_INTERNAL_H
#define DGM_CPU_INTERNAL_H

#include "backend.h"

/* The hot elementwise entries are compiled twice on x86-64, for AVX2 + FMA and for the
 * baseline the build targets (SSE2), and the dynamic loader picks one for the CPU it runs
 * on (an ifunc): one binary for every x86-64 machine, with the wide vectors where they
 * exist (GCC only). Measured on a DDPM step (2-D, batch 256): GELU, the time embedding's sin/cos and
 * Adam run about twice as fast. Elsewhere (other CPUs, other compilers, -DDGM_NO_CLONES)
 * the baseline only. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(DGM_NO_CLONES)
#define DGM_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else /* clang's target_clones left the clones' symbols undefined in the libFuzzer build */
#define DGM_CPU_CLONES
#endif

/* Loops shorter than this stay on one thread. OpenMP's workers spin after each parallel
 * region and fight OpenBLAS's own thread pool for the cores: measured on 2 cores, a VAE
 * step on Fashion-MNIST ran 7x slower with 100k-element loops parallel than serial. Only
 * loops large enough to amortize that go parallel. */
#ifndef DGM_CPU_PARALLEL_MIN
#define DGM_CPU_PARALLEL_MIN (1 << 22)
#endif

/* for (size_t i = 0; i < n; i++) stmt — parallel when n is large enough, else a plain
 * loop: GCC leaves loops inside an OpenMP region unvectorized (measured: Adam's update ran
 * scalar), so the common small case must not enter one. `work` is the element count that
 * decides; the statement is the variadic rest (it may contain commas). */
#define DGM_CPU_LOOP(work, i, n, ...)                                                        \
    do {                                                                                      \
        if ((work) >= DGM_CPU_PARALLEL_MIN) {                                                 \
            _Pragma("omp parallel for schedule(static)") for (size_t i = 0; i < (n); i++)     \
            {                                                                                 \
                __VA_ARGS__;                                                                  \
            }                                                                                 \
        } else {                                                                              \
            for (size_t i = 0; i < (n); i++) {                                                \
                __VA_ARGS__;                                                                  \
            }                                                                                 \
        }                                                                                     \
    } while (0)

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
