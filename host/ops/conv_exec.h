/* Convolutions on any backend as column buffers and matrix products (host/ops/conv_exec.c):
 * the three linear maps of a convolution, each the adjoint of another in one argument, so
 * that the ops of ops_conv.c close under differentiation. Tensors are device data of the
 * context's backend, NCHW; beta is 0 (overwrite) or 1 (accumulate). */
#ifndef DGM_CONV_EXEC_H
#define DGM_CONV_EXEC_H

#include "core/internal.h"

/* y [n, o, oh, ow] = beta·y + conv(x, w) + bias[o] (bias may be NULL). */
dgm_status dgm_conv_exec_forward(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                 const float *w, const float *bias, float beta, float *y);
/* dx [n, c, h, w] = beta·dx + conv^T(dy, w) + bias[c]: the gradient of conv with respect
 * to x, and the transposed convolution (bias may be NULL). */
dgm_status dgm_conv_exec_data(dgm_ctx *ctx, const dgm_conv_geom *g, const float *dy,
                              const float *w, const float *bias, float beta, float *dx);
/* dw [o, c/groups, kh, kw] = beta·dw + the gradient of conv with respect to w, and, when
 * db is not NULL, db = beta·db + the bias's (the channel sums of dy). */
dgm_status dgm_conv_exec_weight(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                const float *dy, float beta, float *dw, float *db);
/* dgm_conv_exec_data (no bias) and dgm_conv_exec_weight in one call, with their betas. */
dgm_status dgm_conv_exec_backward(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                  const float *w, const float *dy, float beta_x, float *dx,
                                  float beta_w, float *dw, float *db);
/* db[c] = beta·db + sum over n and the plane of y [n, c, plane]: a bias's gradient. */
dgm_status dgm_channel_sum(dgm_ctx *ctx, int64_t n, int64_t c, int64_t plane, const float *y,
                           float beta, float *db);

#endif
