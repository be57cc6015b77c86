/* Per-element optimizer math shared by the CPU and CUDA backends, written once: SGD with
 * momentum, dampening, Nesterov and L2 weight decay; Adam and AdamW; gradient clipping by
 * global norm; the exponential moving average of weights. PyTorch's single-tensor
 * formulas (torch.optim.SGD, Adam, AdamW; torch.nn.utils.clip_grad_norm_), operation for
 * operation in float, with the per-step scalars (Adam's step size and bias corrections,
 * AdamW's decay factor) computed once per step in double and rounded to float as PyTorch
 * does with its Python-float hyper-parameters.
 *
 * Backends map threads (or loop indices) to elements and call these functions; the CPU
 * tests therefore check exactly the code the GPU kernels run.
 */
#ifndef DGM_OPTIM_MATH_H
#define DGM_OPTIM_MATH_H

#include <math.h>

#include "elementwise_math.h" /* DGM_HD */

/* The sum of squares of the CUDA backend is two passes: at most this many blocks each
 * write a partial sum (double) into the caller's work buffer, then one block adds them. */
#define DGM_SUM_SQUARES_PARTIALS 1024
/* Bytes of the work buffer that the backend's sum_squares entry takes. */
#define DGM_SUM_SQUARES_WORK_BYTES (DGM_SUM_SQUARES_PARTIALS * sizeof(double))
/* torch.nn.utils.clip_grad_norm_'s epsilon: coef = max_norm / (norm + eps). */
#define DGM_CLIP_EPS 1e-6f

/* ---- SGD ---- */

/* The updated weight of one element (torch.optim.SGD):
 *   d = g + wd·w                              (only when wd != 0)
 *   buf = first_step ? d : momentum·buf + (1 - dampening)·d     (when has_momentum)
 *   d = nesterov ? d + momentum·buf : buf                        (when has_momentum)
 *   w - lr·d
 * buf is the element's momentum buffer; without momentum (momentum 0) it may be NULL and
 * the momentum, dampening, nesterov and first_step arguments are not used. The flag is
 * separate from buf so that CPU loops instantiated with a constant flag fold it away. */
DGM_HD static inline float dgm_sgd_update(float w, float g, int has_momentum, float *buf,
                                          float lr, float momentum, float dampening,
                                          int nesterov, float weight_decay, int first_step)
{
    /* Selects rather than branches, so that CPU loops vectorize (an infinite w with wd 0
     * still leaves g alone, as PyTorch skips the term). */
    float d = weight_decay != 0.0f ? g + weight_decay * w : g;
    if (has_momentum) {
        const float b = first_step ? d : momentum * *buf + (1.0f - dampening) * d;
        *buf = b;
        d = nesterov ? d + momentum * b : b;
    }
    return w - lr * d;
}

/* ---- Adam / AdamW ---- */

/* The scalars of one Adam step, the same for every element. */
typedef struct dgm_adam_scalars {
    float beta1, beta2, eps;
    float weight_decay; /* Adam: L2, added to the gradient (0: none) */
    float decay;        /* AdamW: w *= decay = 1 - lr·wd before the update; Adam: 1 */
    float step_size;    /* lr / bias_correction1 */
    float bc2_sqrt;     /* sqrt(bias_correction2) */
    int decoupled;      /* AdamW */
} dgm_adam_scalars;

/* Per-step scalars, in double as PyTorch computes them from Python floats; the bias
 * corrections are 1 - beta^t for update number t (1-based). */
DGM_HD static inline dgm_adam_scalars dgm_adam_prepare(float lr, float beta1, float beta2,
                                                       float eps, float weight_decay,
                                                       int decoupled, double bias_correction1,
                                                       double bias_correction2)
{
    dgm_adam_scalars s;
    s.beta1 = beta1;
    s.beta2 = beta2;
    s.eps = eps;
    s.decoupled = decoupled != 0;
    s.weight_decay = decoupled ? 0.0f : weight_decay;
    s.decay = decoupled ? (float)(1.0 - (double)lr * (double)weight_decay) : 1.0f;
    s.step_size = (float)((double)lr / bias_correction1);
    s.bc2_sqrt = (float)sqrt(bias_correction2);
    return s;
}

/* The updated weight of one element (torch.optim.Adam / AdamW, single-tensor):
 *   AdamW: w = w·(1 - lr·wd);  Adam: g = g + wd·w          (only when wd != 0)
 *   m = beta1·m + (1 - beta1)·g;  v = beta2·v + (1 - beta2)·g·g
 *   w - step_size · m / (sqrt(v) / sqrt(bc2) + eps)
 * m and v are the element's exp_avg and exp_avg_sq, updated in place. */
DGM_HD static inline float dgm_adam_update(float w, float g, float *m, float *v,
                                           dgm_adam_scalars s)
{
    /* Selects rather than branches (CPU loops vectorize). s.decay is 1 for Adam, where
     * w·1 is w exactly; s.weight_decay is 0 for AdamW. */
    w = w * s.decay;
    g = s.weight_decay != 0.0f ? g + s.weight_decay * w : g;
    const float mi = s.beta1 * *m + (1.0f - s.beta1) * g;
    const float vi = s.beta2 * *v + (1.0f - s.beta2) * g * g;
    *m = mi;
    *v = vi;
    const float denom = sqrtf(vi) / s.bc2_sqrt + s.eps;
    return w - s.step_size * (mi / denom);
}

/* ---- gradient clipping ---- */

/* One term of the global sum of squares, accumulated in double by both backends. */
DGM_HD static inline double dgm_square_term(float x)
{
    return (double)x * (double)x;
}

/* The factor the gradients are multiplied by: min(1, max_norm / (sqrt(sumsq) + 1e-6)), in
 * float as torch's clip_coef.clamp(max=1). A NaN norm gives NaN (as in PyTorch, which
 * clamps with NaN propagation), so a non-finite gradient is not hidden; an infinite norm
 * gives 0. */
DGM_HD static inline float dgm_clip_coef(float sumsq, float max_norm)
{
    const float coef = max_norm / (sqrtf(sumsq) + DGM_CLIP_EPS);
    return coef > 1.0f ? 1.0f : coef;
}

/* ---- exponential moving average ---- */

/* The new average of one element: decay·ema + (1 - decay)·w. */
DGM_HD static inline float dgm_ema_value(float ema, float w, float decay)
{
    return decay * ema + (1.0f - decay) * w;
}

#endif
