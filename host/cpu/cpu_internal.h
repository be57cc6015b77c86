/* The CPU backend's entries, shared between its files. */
#ifndef DGM_CPU_INTERNAL_H
#define DGM_CPU_INTERNAL_H

#include "backend.h"

/* Loops shorter than this stay on one thread: OpenMP's fork costs more than they do,
 * and idle OpenMP threads would compete with OpenBLAS's own. */
#define DGM_CPU_PARALLEL_MIN 65536

dgm_status dgm_cpu_gemm(dgm_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc);
dgm_status dgm_cpu_unary(dgm_ctx *ctx, int kind, float pa, float pb, size_t n, const float *x,
                         float *y);
dgm_status dgm_cpu_unary_backward(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                  const float *x, const float *y, const float *dy, float beta,
                                  float *dx);
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

#endif
