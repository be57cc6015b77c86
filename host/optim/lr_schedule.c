/* Learning-rate schedules, for update number `step` (0-based):
 *   warm-up (step < warmup_steps):  base_lr · (step + 1) / warmup_steps
 *       (the first update already moves, and update warmup_steps - 1 runs at base_lr);
 *   then DGM_LR_CONSTANT:           base_lr
 *   or   DGM_LR_COSINE:             min_lr + (base_lr - min_lr)·(1 + cos(pi·t))/2,
 *       t = (step - warmup_steps) / (total_steps - warmup_steps) clamped to [0, 1]: base_lr
 *       right after the warm-up, min_lr from total_steps on (and for every step after
 *       the warm-up when total_steps <= warmup_steps).
 * Computed in double. A negative step counts as step 0. NULL, an unknown kind or a
 * negative warmup_steps give NaN, which dgm_optim_step rejects as a learning rate. */
#include <math.h>

#include "dgm/optim.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

float dgm_lr_at(const dgm_lr_schedule *s, int64_t step)
{
    if (!s || s->warmup_steps < 0 || (s->kind != DGM_LR_CONSTANT && s->kind != DGM_LR_COSINE))
        return NAN;
    if (step < 0) step = 0;
    const double base = s->base_lr;
    if (step < s->warmup_steps) return (float)(base * (double)(step + 1) / (double)s->warmup_steps);
    if (s->kind == DGM_LR_CONSTANT) return s->base_lr;
    const double min = s->min_lr;
    const int64_t span = s->total_steps - s->warmup_steps;
    double t = span > 0 ? (double)(step - s->warmup_steps) / (double)span : 1.0;
    if (t > 1.0) t = 1.0;
    return (float)(min + 0.5 * (base - min) * (1.0 + cos(M_PI * t)));
}
