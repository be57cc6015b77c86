/* A moving average of a model's trainable weights, for sampling (DDPM, flow matching):
 * buffers "ema.<name>", one per trainable tensor, declared in the same block after every
 * trainable tensor and before any other buffer, so that the averages are one contiguous
 * twin of the weights (saved in checkpoints; no optimizer covers buffers). */
#ifndef DGM_MODELS_EMA_WEIGHTS_H
#define DGM_MODELS_EMA_WEIGHTS_H

#include "dgm/params.h"

/* Declares the twins (before dgm_params_alloc, after every trainable tensor). */
dgm_status dgm_ema_weights_declare(dgm_params *p);
/* After dgm_params_alloc: checks the twins lie right after the weights; ema = w. */
dgm_status dgm_ema_weights_reset(dgm_params *p);
/* The decay to use after optimizer step `step` (from 1): min(decay, (1 + step)/(10 +
 * step)), the usual warm-up, so that on a short run the average is not dominated by the
 * untrained weights it started from (with 0.999 they would still weigh e⁻² after 2,000
 * steps). */
float dgm_ema_weights_decay(float decay, int64_t step);
/* ema = decay·ema + (1 − decay)·w. */
dgm_status dgm_ema_weights_update(dgm_params *p, float decay);
/* Exchanges the weights and their averages (twice: back as before), so a forward pass
 * runs on the averages; uses step memory for the exchange. */
dgm_status dgm_ema_weights_swap(dgm_params *p);
/* fn(user) on the averaged weights when `use` (swapped in, then back, whatever fn
 * returns), else on the weights; the first failure is returned. */
dgm_status dgm_ema_weights_call(dgm_params *p, bool use, dgm_status (*fn)(void *user), void *user);

#endif
