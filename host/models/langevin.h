/* Langevin samplers shared by the score-based families (ebm, ncsn; the score SDE's
 * corrector next): unadjusted Langevin dynamics on a score s(x) = ∇ₓ log p(x), the
 * annealed version over a ladder of noise levels (Song & Ermon 2019), and the box that
 * chains start in and are kept in. */
#ifndef DGM_MODELS_LANGEVIN_H
#define DGM_MODELS_LANGEVIN_H

#include "dgm/dgm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The score of x [n, d] at noise level `level` (the index into the family's ladder; -1
 * for a family without levels) as a step tensor [n, d]. */
typedef dgm_status (*dgm_score_fn)(void *user, dgm_tensor *x, int level, dgm_tensor **score);

/* One Langevin step x' = x + step·s + noise·ξ, ξ ~ N(0, I) (true Langevin: noise =
 * √(2·step)). grad_clip > 0 clips each value of s to [−grad_clip, grad_clip] first; box
 * (a [2, d] tensor: lows, then highs; NULL: none) clamps x' into it. */
typedef struct dgm_langevin {
    float step, noise, grad_clip;
    dgm_tensor *box;
} dgm_langevin;

dgm_status dgm_langevin_step(dgm_ctx *ctx, const dgm_langevin *cfg, dgm_tensor *x,
                             dgm_tensor *score, dgm_tensor **out);

/* `steps` Langevin steps on the persistent x at one level, ending the context's step
 * after each (memory stays that of one step). */
dgm_status dgm_langevin_run(dgm_ctx *ctx, const dgm_langevin *cfg, dgm_score_fn score,
                            void *user, int level, dgm_tensor *x, int64_t steps);

/* Annealed Langevin dynamics on the persistent x: for each level i of sigmas (largest
 * first, n_levels of them), steps_per_level steps of size α_i = eps·σ_i²/σ_L² with noise
 * √(2α_i); then, with denoise, x + σ_L²·s(x, L−1) (Tweedie's denoising step, NCSNv2). box:
 * as dgm_langevin's (NULL: none). Ends the step after each step. */
dgm_status dgm_langevin_annealed(dgm_ctx *ctx, dgm_score_fn score, void *user,
                                 const double *sigmas, int n_levels, int64_t steps_per_level,
                                 double eps, bool denoise, dgm_tensor *box, dgm_tensor *x);

/* The data's bounding box widened by margin·(max − min) on each side: lo, hi (host, dim
 * values each). */
dgm_status dgm_data_box(dgm_ctx *ctx, const dgm_dataset *data, double margin, float *lo,
                        float *hi);
/* √(mean over coordinates of the data's variance): the scale the families' "auto" step
 * sizes are multiples of. */
double dgm_data_rms_std(const dgm_dataset *data);
/* [n, d] uniform on box [2, d]. */
dgm_status dgm_box_uniform(dgm_ctx *ctx, dgm_tensor *box, int64_t n, dgm_tensor **out);
/* x [n, d] clamped into box [2, d]. */
dgm_status dgm_box_clamp(dgm_ctx *ctx, dgm_tensor *box, dgm_tensor *x, dgm_tensor **out);

#ifdef __cplusplus
}
#endif

#endif
