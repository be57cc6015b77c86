/* CPU optimizer loops: SGD, Adam/AdamW, the sum of squares and scaling of gradient
 * clipping, the EMA of weights and swap. Each is one pass over the block calling the
 * shared math of optim_math.h.
 *
 * As in cpu_elementwise.c, the flags that select a variant of the math (momentum or not,
 * first step, Nesterov) are constants in each instantiated loop, so the compiler folds
 * the math's branches away and vectorizes (with -fno-math-errno, so sqrtf needs no
 * per-element call). */
#include "cpu/cpu_internal.h"
#include "optim_math.h"


DGM_CPU_CLONES dgm_status dgm_cpu_sgd_step(dgm_ctx *ctx, size_t n, float *w_, const float *g_,
                            float *momentum_buf, float lr, float momentum, float dampening,
                            int nesterov, float weight_decay, int first_step)
{
    DGM_CPU_FP_SCOPE(ctx);
    float *restrict w = w_;
    const float *restrict g = g_;
    float *restrict buf = momentum_buf;
#define SGD_LOOP(MOMENTUM, BUF, NESTEROV, FIRST)                                              \
    do {                                                                                      \
        DGM_CPU_LOOP(n, i, n,                                                                 \
                     w[i] = dgm_sgd_update(w[i], g[i], MOMENTUM, BUF, lr, momentum, dampening, \
                                           NESTEROV, weight_decay, FIRST));                   \
    } while (0)
    if (!buf)
        SGD_LOOP(0, NULL, 0, 0);
    else if (nesterov && first_step)
        SGD_LOOP(1, &buf[i], 1, 1);
    else if (nesterov)
        SGD_LOOP(1, &buf[i], 1, 0);
    else if (first_step)
        SGD_LOOP(1, &buf[i], 0, 1);
    else
        SGD_LOOP(1, &buf[i], 0, 0);
#undef SGD_LOOP
    return DGM_STATUS_OK;
}

DGM_CPU_CLONES dgm_status dgm_cpu_adam_step(dgm_ctx *ctx, size_t n, float *w_, const float *g_, float *m_,
                             float *v_, float lr, float beta1, float beta2, float eps,
                             float weight_decay, int decoupled, double bias_correction1,
                             double bias_correction2)
{
    DGM_CPU_FP_SCOPE(ctx);
    float *restrict w = w_, *restrict m = m_, *restrict v = v_;
    const float *restrict g = g_;
    const dgm_adam_scalars s = dgm_adam_prepare(lr, beta1, beta2, eps, weight_decay, decoupled,
                                                bias_correction1, bias_correction2);
    DGM_CPU_LOOP(n, i, n, w[i] = dgm_adam_update(w[i], g[i], &m[i], &v[i], s));
    return DGM_STATUS_OK;
}

DGM_CPU_CLONES dgm_status dgm_cpu_sum_squares(dgm_ctx *ctx, size_t n, const float *x,
                                              void *work, float *out)
{
    DGM_CPU_FP_SCOPE(ctx);
    (void)work;
    /* One thread, one fixed order: the same sum for any thread count. */
    out[0] = (float)dgm_cpu_sum(x, (int64_t)n, 1);
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_clip_scale(dgm_ctx *ctx, size_t n, float *x_, const float *sumsq,
                              float max_norm)
{
    DGM_CPU_FP_SCOPE(ctx);
    float *restrict x = x_;
    const float coef = dgm_clip_coef(sumsq[0], max_norm);
    DGM_CPU_LOOP(n, i, n, x[i] *= coef);
    return DGM_STATUS_OK;
}

DGM_CPU_CLONES dgm_status dgm_cpu_ema_update(dgm_ctx *ctx, size_t n, float *ema_, const float *w_, float decay)
{
    DGM_CPU_FP_SCOPE(ctx);
    float *restrict ema = ema_;
    const float *restrict w = w_;
    DGM_CPU_LOOP(n, i, n, ema[i] = dgm_ema_value(ema[i], w[i], decay));
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_swap(dgm_ctx *ctx, size_t n, float *a_, float *b_)
{
    DGM_CPU_FP_SCOPE(ctx);
    float *restrict a = a_, *restrict b = b_;
    DGM_CPU_LOOP(n, i, n, const float t = a[i]; a[i] = b[i]; b[i] = t);
    return DGM_STATUS_OK;
}
